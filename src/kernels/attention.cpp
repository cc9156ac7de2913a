// Causal grouped-query attention of one sequence over its KV cache.
//
// attention(): one (token, head) pair at a time, keys in blocks of kKeyBlock with an online softmax
// (running max and sum, the accumulator rescaled when the max grows), so the only scratch is two
// small stack arrays: nothing is allocated and any context length works. Its inner loops are the
// active table's dot/axpy/exp_sum kernels, so every ISA gets a vectorized attention for free.
// attention_ref(): the textbook full softmax(q·K^T)·V in double, for tests.
#include <cmath>
#include <limits>
#include <vector>

#include "core/check.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"

namespace cartlm {

namespace {

constexpr size_t kKeyBlock = 64;
constexpr size_t kMaxHeadDim = 1024;

void check_shape(const AttentionShape& s) {
  CARTLM_CHECK(s.n_head > 0 && s.n_kv > 0 && s.n_head % s.n_kv == 0);
  CARTLM_CHECK(s.head_dim > 0 && s.head_dim <= kMaxHeadDim);
  CARTLM_CHECK(s.kv_type == DType::F32 || s.kv_type == DType::F16);
}

// Visible keys of query t: [begin, end).
inline void key_range(const AttentionShape& s, size_t t, size_t* begin, size_t* end) {
  *begin = s.kv_start;
  *end = s.causal ? s.pos0 + t + 1 : s.pos0 + s.T;
}

}  // namespace

void attention(const KernelTable& k, const AttentionShape& s, const float* q, const void* k_cache,
               const void* v_cache, float* out, ThreadPool* pool) {
  check_shape(s);
  const size_t hd = s.head_dim;
  const size_t group = s.n_head / s.n_kv;
  const size_t row = s.n_kv * hd;  // cache elements per position
  const float scale = s.scale > 0.0f ? s.scale : 1.0f / std::sqrt((float)hd);
  const bool f16 = s.kv_type == DType::F16;
  const size_t units = s.T * s.n_head;

  auto body = [&](size_t ub, size_t ue) {
    float acc[kMaxHeadDim];
    float sc[kKeyBlock];
    for (size_t u = ub; u < ue; ++u) {
      const size_t t = u / s.n_head, h = u % s.n_head, kvh = h / group;
      const float* qv = q + u * hd;
      float* o = out + u * hd;
      size_t kb, ke;
      key_range(s, t, &kb, &ke);
      if (kb >= ke) {
        for (size_t d = 0; d < hd; ++d) o[d] = 0.0f;
        continue;
      }
      for (size_t d = 0; d < hd; ++d) acc[d] = 0.0f;
      float m = -std::numeric_limits<float>::infinity();
      float l = 0.0f;
      for (size_t j0 = kb; j0 < ke; j0 += kKeyBlock) {
        const size_t nb = ke - j0 < kKeyBlock ? ke - j0 : kKeyBlock;
        float bm = -std::numeric_limits<float>::infinity();
        for (size_t j = 0; j < nb; ++j) {
          const size_t off = (j0 + j) * row + kvh * hd;
          float d = f16 ? k.dot_f16.fn(qv, static_cast<const uint16_t*>(k_cache) + off, hd)
                        : k.dot_f32.fn(qv, static_cast<const float*>(k_cache) + off, hd);
          sc[j] = d * scale;
          bm = sc[j] > bm ? sc[j] : bm;
        }
        if (bm > m) {
          if (l > 0.0f) {
            float alpha = std::exp(m - bm);
            k.scale.fn(acc, alpha, hd);
            l *= alpha;
          }
          m = bm;
        }
        l += k.exp_sum.fn(sc, nb, m);
        for (size_t j = 0; j < nb; ++j) {
          const size_t off = (j0 + j) * row + kvh * hd;
          if (f16)
            k.axpy_f16.fn(sc[j], static_cast<const uint16_t*>(v_cache) + off, acc, hd);
          else
            k.axpy_f32.fn(sc[j], static_cast<const float*>(v_cache) + off, acc, hd);
        }
      }
      const float inv = 1.0f / l;
      for (size_t d = 0; d < hd; ++d) o[d] = acc[d] * inv;
    }
  };
  // Work: every query sees at most pos0 + T - kv_start keys, q·k and p·v cost head_dim each.
  const size_t keys = s.pos0 + s.T > s.kv_start ? s.pos0 + s.T - s.kv_start : 0;
  if (pool && units * keys * hd * 2 >= kMinParallelMacs)
    pool->parallel_for(units, body);
  else
    body(0, units);
}

void attention(const AttentionShape& s, const float* q, const void* k_cache, const void* v_cache,
               float* out, ThreadPool* pool) {
  attention(kernels(), s, q, k_cache, v_cache, out, pool);
}

void attention_ref(const AttentionShape& s, const float* q, const void* k_cache,
                   const void* v_cache, float* out) {
  check_shape(s);
  const size_t hd = s.head_dim;
  const size_t group = s.n_head / s.n_kv;
  const size_t row = s.n_kv * hd;
  const double scale = s.scale > 0.0f ? (double)s.scale : 1.0 / std::sqrt((double)hd);
  auto cache_at = [&](const void* c, size_t i) -> double {
    return s.kv_type == DType::F16 ? (double)fp16_to_fp32(static_cast<const uint16_t*>(c)[i])
                                   : (double)static_cast<const float*>(c)[i];
  };
  std::vector<double> p;
  for (size_t t = 0; t < s.T; ++t) {
    for (size_t h = 0; h < s.n_head; ++h) {
      const size_t kvh = h / group;
      const float* qv = q + (t * s.n_head + h) * hd;
      float* o = out + (t * s.n_head + h) * hd;
      size_t kb, ke;
      key_range(s, t, &kb, &ke);
      if (kb >= ke) {
        for (size_t d = 0; d < hd; ++d) o[d] = 0.0f;
        continue;
      }
      p.assign(ke - kb, 0.0);
      double mx = -std::numeric_limits<double>::infinity();
      for (size_t j = kb; j < ke; ++j) {
        double d = 0.0;
        for (size_t i = 0; i < hd; ++i) d += (double)qv[i] * cache_at(k_cache, j * row + kvh * hd + i);
        p[j - kb] = d * scale;
        mx = p[j - kb] > mx ? p[j - kb] : mx;
      }
      double sum = 0.0;
      for (double& v : p) {
        v = std::exp(v - mx);
        sum += v;
      }
      for (size_t i = 0; i < hd; ++i) {
        double a = 0.0;
        for (size_t j = kb; j < ke; ++j) a += p[j - kb] * cache_at(v_cache, j * row + kvh * hd + i);
        o[i] = (float)(a / sum);
      }
    }
  }
}

}  // namespace cartlm
