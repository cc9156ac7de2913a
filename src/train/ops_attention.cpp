// Rope (NEOX order) and causal GQA attention with a padding mask, forward and backward.
// Attention keeps the full softmax matrix P (B, NH, T, T) for backward, as llm.c does: the
// training sequences here are short (prompt + JSON answer), so P is small next to the weights.
#include <cmath>
#include <type_traits>

#include "core/check.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "train/ops.h"
#include "train/ops_internal.h"

namespace cartlm {

namespace td = train_detail;

namespace {

// Rotates every head of every row by +angle (sign 1) or -angle (sign -1). The angle is the f32
// product pos·inv_freq (as HF and the inference kernel compute it); cos/sin are taken in double.
template <class Real>
void rope_rotate(Real* x, const int32_t* positions, const float* inv_freq, size_t BT, size_t NHx,
                 size_t HD, bool inverse) {
  CARTLM_CHECK(HD % 2 == 0 && HD <= 1024);
  if constexpr (std::is_same_v<Real, float>) {
    // The kernels' rope is this exact rotation for f32 rows.
    rope(x, BT, NHx, HD, 0, positions, inv_freq, RopeMode::Neox, inverse);
  } else {
    const size_t half = HD / 2;
    Real cs[512], sn[512];
    for (size_t r = 0; r < BT; ++r) {
      const float pos = (float)positions[r];
      for (size_t i = 0; i < half; ++i) {
        const float angle = pos * inv_freq[i];
        cs[i] = (Real)std::cos((double)angle);
        sn[i] = (Real)std::sin((double)angle);
        if (inverse) sn[i] = -sn[i];
      }
      for (size_t h = 0; h < NHx; ++h) {
        Real* v = x + (r * NHx + h) * HD;
        for (size_t i = 0; i < half; ++i) {
          const Real a = v[i], b = v[i + half];
          v[i] = a * cs[i] - b * sn[i];
          v[i + half] = b * cs[i] + a * sn[i];
        }
      }
    }
  }
}

size_t valid_len(const int32_t* lens, size_t b, size_t T) {
  if (!lens) return T;
  CARTLM_CHECK(lens[b] >= 0 && (size_t)lens[b] <= T);
  return (size_t)lens[b];
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Rope
// ---------------------------------------------------------------------------------------------

template <class Real>
void rope_forward(Real* x, const int32_t* positions, const float* inv_freq, size_t BT, size_t NHx,
                  size_t HD) {
  // x (BT, NHx, HD) in place, positions (BT), inv_freq (HD/2)
  rope_rotate(x, positions, inv_freq, BT, NHx, HD, false);
}

template <class Real>
void rope_backward(Real* dx, const int32_t* positions, const float* inv_freq, size_t BT, size_t NHx,
                   size_t HD) {
  // y = R(θ)·x with R orthogonal, so dx = R(θ)ᵀ·dy = R(−θ)·dy, in place.
  rope_rotate(dx, positions, inv_freq, BT, NHx, HD, true);
}

// ---------------------------------------------------------------------------------------------
// Attention
// ---------------------------------------------------------------------------------------------

template <class Real>
void attention_forward(Real* out, Real* att, const Real* q, const Real* k, const Real* v,
                       const int32_t* lens, size_t B, size_t T, size_t NH, size_t KVH, size_t HD,
                       ThreadPool* pool) {
  // out (B, T, NH, HD), att (B, NH, T, T), q (B, T, NH, HD), k, v (B, T, KVH, HD)
  CARTLM_CHECK(KVH > 0 && NH % KVH == 0);
  const size_t group = NH / KVH;
  const Real scale = (Real)(1.0 / std::sqrt((double)HD));
  td::parallel_rows(pool, B * NH, [&](size_t i0, size_t i1) {
    for (size_t bh = i0; bh < i1; ++bh) {
      const size_t b = bh / NH, h = bh % NH, g = h / group;
      const size_t len = valid_len(lens, b, T);
      for (size_t t = 0; t < T; ++t) {
        Real* p = att + (bh * T + t) * T;
        Real* o = out + ((b * T + t) * NH + h) * HD;
        td::zero(o, HD);
        // Causal and padding: query t sees keys [0, n). Padded queries (t >= len) see none.
        const size_t n = t < len ? t + 1 : 0;
        if (n == 0) {
          td::zero(p, T);
          continue;
        }
        const Real* qt = q + ((b * T + t) * NH + h) * HD;
        Real mx = -INFINITY;
        for (size_t j = 0; j < n; ++j) {
          const Real s = td::dot(qt, k + ((b * T + j) * KVH + g) * HD, HD) * scale;
          p[j] = s;
          mx = s > mx ? s : mx;
        }
        double sum = 0.0;
        for (size_t j = 0; j < n; ++j) {
          p[j] = std::exp(p[j] - mx);
          sum += (double)p[j];
        }
        const Real inv = (Real)(1.0 / sum);
        for (size_t j = 0; j < n; ++j) p[j] *= inv;
        td::zero(p + n, T - n);
        for (size_t j = 0; j < n; ++j) td::axpy(p[j], v + ((b * T + j) * KVH + g) * HD, o, HD);
      }
    }
  });
}

template <class Real>
void attention_backward(Real* dq, Real* dk, Real* dv, const Real* dout, const Real* q,
                        const Real* k, const Real* v, const Real* att, const Real* out,
                        const int32_t* lens, size_t B, size_t T, size_t NH, size_t KVH, size_t HD,
                        ThreadPool* pool) {
  // With S = scale·q·kᵀ, P = softmax(S), o = P·v:
  //   dv_j += P_j·do,  dP_j = do·v_j,  dS_j = P_j·(dP_j − Σ_i P_i dP_i),  Σ_i P_i dP_i = do·o,
  //   dq += scale·Σ_j dS_j k_j,  dk_j += scale·dS_j q.
  // One task per (sequence, kv head): it owns dk/dv of that head and dq of the query heads that
  // read it, so nothing is shared between threads.
  CARTLM_CHECK(KVH > 0 && NH % KVH == 0);
  const size_t group = NH / KVH;
  const Real scale = (Real)(1.0 / std::sqrt((double)HD));
  td::parallel_rows(pool, B * KVH, [&](size_t i0, size_t i1) {
    for (size_t bg = i0; bg < i1; ++bg) {
      const size_t b = bg / KVH, g = bg % KVH;
      const size_t len = valid_len(lens, b, T);
      for (size_t h = g * group; h < (g + 1) * group; ++h) {
        for (size_t t = 0; t < len; ++t) {
          const size_t n = t + 1;
          const size_t qi = ((b * T + t) * NH + h) * HD;
          const Real* p = att + ((b * NH + h) * T + t) * T;
          const Real* dot_ = dout + qi;
          const Real D = td::dot(dot_, out + qi, HD);
          for (size_t j = 0; j < n; ++j) {
            const size_t kj = ((b * T + j) * KVH + g) * HD;
            const Real dp = td::dot(dot_, v + kj, HD);
            const Real ds = p[j] * (dp - D) * scale;
            td::axpy(ds, k + kj, dq + qi, HD);
            td::axpy(ds, q + qi, dk + kj, HD);
            td::axpy(p[j], dot_, dv + kj, HD);
          }
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------

#define CARTLM_INSTANTIATE(Real)                                                                  \
  template void rope_forward<Real>(Real*, const int32_t*, const float*, size_t, size_t, size_t);  \
  template void rope_backward<Real>(Real*, const int32_t*, const float*, size_t, size_t, size_t); \
  template void attention_forward<Real>(Real*, Real*, const Real*, const Real*, const Real*,      \
                                        const int32_t*, size_t, size_t, size_t, size_t, size_t,   \
                                        ThreadPool*);                                             \
  template void attention_backward<Real>(                                                         \
      Real*, Real*, Real*, const Real*, const Real*, const Real*, const Real*, const Real*,       \
      const Real*, const int32_t*, size_t, size_t, size_t, size_t, size_t, ThreadPool*);
CARTLM_INSTANTIATE(float)
CARTLM_INSTANTIATE(double)
#undef CARTLM_INSTANTIATE

}  // namespace cartlm
