// Row-wise and dense ops of the training pass: embedding, RMSNorm, matmul, SwiGLU, residual and
// masked cross-entropy, each as a forward/backward pair (shapes and conventions in train/ops.h).
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/check.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "train/ops.h"
#include "train/ops_internal.h"

namespace cartlm {

namespace td = train_detail;

// ---------------------------------------------------------------------------------------------
// Embedding
// ---------------------------------------------------------------------------------------------

template <class Real>
void embedding_forward(Real* out, const int32_t* tokens, const Real* wte, size_t BT, size_t C,
                       size_t V) {
  // out (BT, C), tokens (BT), wte (V, C)
  for (size_t i = 0; i < BT; ++i) {
    CARTLM_CHECK(tokens[i] >= 0 && (size_t)tokens[i] < V);
    std::memcpy(out + i * C, wte + (size_t)tokens[i] * C, C * sizeof(Real));
  }
}

template <class Real>
void embedding_backward(Real* dwte, const Real* dout, const int32_t* tokens, size_t BT, size_t C,
                        ThreadPool* pool) {
  // dwte (V, C) +=, dout (BT, C). A token may repeat, so threads own column ranges (not rows)
  // and every one walks the rows in order: no races, and the sum order is fixed.
  td::parallel_rows(pool, C, [&](size_t c0, size_t c1) {
    for (size_t i = 0; i < BT; ++i) {
      Real* row = dwte + (size_t)tokens[i] * C;
      const Real* d = dout + i * C;
      for (size_t c = c0; c < c1; ++c) row[c] += d[c];
    }
  });
}

// ---------------------------------------------------------------------------------------------
// RMSNorm
// ---------------------------------------------------------------------------------------------

template <class Real>
void rmsnorm_forward(Real* out, Real* rstd, const Real* inp, const Real* weight, size_t BT,
                     size_t C, float eps, ThreadPool* pool) {
  // out (BT, C), rstd (BT), inp (BT, C), weight (C)
  td::parallel_rows(pool, BT, [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const Real* x = inp + r * C;
      double ss = 0.0;  // sum of squares in double: C can be 8192 and the terms are all positive
      for (size_t i = 0; i < C; ++i) ss += (double)x[i] * (double)x[i];
      const Real s = (Real)(1.0 / std::sqrt(ss / (double)C + (double)eps));
      rstd[r] = s;
      Real* y = out + r * C;
      for (size_t i = 0; i < C; ++i) y[i] = x[i] * s * weight[i];
    }
  });
}

template <class Real>
void rmsnorm_backward(Real* dinp, Real* dweight, const Real* dout, const Real* inp,
                      const Real* weight, const Real* rstd, size_t BT, size_t C, ThreadPool* pool) {
  // With n = x·r (r = rstd) and y = n ⊙ w:
  //   dx_j = r · (dy_j w_j − n_j · mean_i(dy_i w_i n_i)),   dw_j += Σ_rows dy_j n_j.
  if (dinp) {
    td::parallel_rows(pool, BT, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r) {
        const Real* x = inp + r * C;
        const Real* dy = dout + r * C;
        const Real s = rstd[r];
        double acc = 0.0;
        for (size_t i = 0; i < C; ++i) acc += (double)(dy[i] * weight[i]) * (double)(x[i] * s);
        const Real m = (Real)(acc / (double)C);
        Real* dx = dinp + r * C;
        for (size_t i = 0; i < C; ++i) dx[i] += s * (dy[i] * weight[i] - x[i] * s * m);
      }
    });
  }
  if (dweight) {
    // Threads own column ranges so the reduction over rows keeps one order.
    td::parallel_rows(pool, C, [&](size_t c0, size_t c1) {
      for (size_t r = 0; r < BT; ++r) {
        const Real* x = inp + r * C;
        const Real* dy = dout + r * C;
        const Real s = rstd[r];
        for (size_t i = c0; i < c1; ++i) dweight[i] += dy[i] * (x[i] * s);
      }
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Matmul
// ---------------------------------------------------------------------------------------------

template <class Real>
void matmul_forward(Real* out, const Real* inp, const Real* weight, const Real* bias, size_t BT,
                    size_t C, size_t OC, ThreadPool* pool) {
  // out (BT, OC), inp (BT, C), weight (OC, C), bias (OC)
  if constexpr (std::is_same_v<Real, float>) {
    // A training batch has hundreds of rows: the outer-product tiles of the backward kernels
    // beat the dot-product tiles of matmul() there (no horizontal sum per output); few rows
    // (decode-like calls) keep matmul().
    if (BT >= 16)
      matmul_xwt(inp, BT, C, weight, OC, bias, out, pool);
    else
      matmul(inp, BT, C, DType::F32, weight, OC, bias, out, pool);
  } else {
    td::parallel_rows(pool, BT, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r)
        for (size_t o = 0; o < OC; ++o)
          out[r * OC + o] = (bias ? bias[o] : Real(0)) + td::dot(inp + r * C, weight + o * C, C);
    });
  }
}

template <class Real>
void matmul_backward(Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp,
                     const Real* weight, size_t BT, size_t C, size_t OC, ThreadPool* pool) {
  // dinp (BT, C) += dout (BT, OC) · weight (OC, C)
  // dweight (OC, C) += doutᵀ · inp (BT, C);  dbias (OC) += Σ_rows dout
  if constexpr (std::is_same_v<Real, float>) {
    if (dinp) matmul_backward_x(dout, BT, OC, DType::F32, weight, C, dinp, true, pool);
    if (dweight) matmul_backward_w(dout, BT, OC, inp, C, dweight, true, pool);
  } else {
    if (dinp) {
      td::parallel_rows(pool, BT, [&](size_t r0, size_t r1) {
        for (size_t r = r0; r < r1; ++r)
          for (size_t o = 0; o < OC; ++o)
            td::axpy(dout[r * OC + o], weight + o * C, dinp + r * C, C);
      });
    }
    if (dweight) {
      td::parallel_rows(pool, OC, [&](size_t o0, size_t o1) {
        for (size_t o = o0; o < o1; ++o)
          for (size_t r = 0; r < BT; ++r)
            td::axpy(dout[r * OC + o], inp + r * C, dweight + o * C, C);
      });
    }
  }
  if (dbias) {
    td::parallel_rows(pool, OC, [&](size_t o0, size_t o1) {
      for (size_t r = 0; r < BT; ++r)
        for (size_t o = o0; o < o1; ++o) dbias[o] += dout[r * OC + o];
    });
  }
}

void matmul_forward_frozen(float* out, const float* inp, DType wtype, const void* weight,
                           const float* bias, size_t BT, size_t C, size_t OC, ThreadPool* pool) {
  // out (BT, OC), inp (BT, C), weight (OC, C) of wtype, bias (OC)
  matmul(inp, BT, C, wtype, weight, OC, bias, out, pool);
}

void matmul_backward_frozen(float* dinp, const float* dout, DType wtype, const void* weight,
                            size_t BT, size_t C, size_t OC, ThreadPool* pool) {
  // dinp (BT, C) += dout (BT, OC) · weight (OC, C)
  matmul_backward_x(dout, BT, OC, wtype, weight, C, dinp, true, pool);
}

// ---------------------------------------------------------------------------------------------
// SwiGLU and residual
// ---------------------------------------------------------------------------------------------

template <class Real>
void swiglu_forward(Real* out, const Real* gate, const Real* up, size_t N, ThreadPool* pool) {
  // out, gate, up (N)
  td::parallel_span(pool, N, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const Real g = gate[i];
      out[i] = g / (Real(1) + std::exp(-g)) * up[i];
    }
  });
}

template <class Real>
void swiglu_backward(Real* dgate, Real* dup, const Real* dout, const Real* gate, const Real* up,
                     size_t N, ThreadPool* pool) {
  // silu(g) = g·σ(g);  silu'(g) = σ(g)·(1 + g·(1 − σ(g)))
  td::parallel_span(pool, N, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const Real g = gate[i];
      const Real sig = Real(1) / (Real(1) + std::exp(-g));
      dgate[i] += dout[i] * up[i] * sig * (Real(1) + g * (Real(1) - sig));
      dup[i] += dout[i] * g * sig;
    }
  });
}

template <class Real>
void residual_forward(Real* out, const Real* inp1, const Real* inp2, size_t N) {
  for (size_t i = 0; i < N; ++i) out[i] = inp1[i] + inp2[i];
}

template <class Real>
void residual_backward(Real* dinp1, Real* dinp2, const Real* dout, size_t N) {
  for (size_t i = 0; i < N; ++i) {
    dinp1[i] += dout[i];
    dinp2[i] += dout[i];
  }
}

// ---------------------------------------------------------------------------------------------
// Cross-entropy
// ---------------------------------------------------------------------------------------------

template <class Real>
double cross_entropy_forward(Real* losses, Real* lse, const Real* logits, const int32_t* targets,
                             const uint8_t* mask, size_t BT, size_t V, ThreadPool* pool) {
  // losses (BT), lse (BT), logits (BT, V), targets (BT), mask (BT)
  td::parallel_rows(pool, BT, [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      if (mask && !mask[r]) {
        losses[r] = Real(0);
        lse[r] = Real(0);
        continue;
      }
      CARTLM_CHECK(targets[r] >= 0 && (size_t)targets[r] < V);
      const Real* x = logits + r * V;
      Real mx = x[0];
      for (size_t v = 1; v < V; ++v) mx = x[v] > mx ? x[v] : mx;
      double sum = 0.0;
      if constexpr (std::is_same_v<Real, float>) {
        // The float path (training) uses the table's vectorized exp on a copy of the row: the
        // scalar double exp over the vocabulary was 7% of a tiny-model training step.
        thread_local std::vector<float> row;
        row.assign(x, x + V);
        sum = (double)kernels().exp_sum.fn(row.data(), V, mx);
      } else {
        for (size_t v = 0; v < V; ++v) sum += std::exp((double)(x[v] - mx));
      }
      const double l = (double)mx + std::log(sum);
      lse[r] = (Real)l;
      losses[r] = (Real)(l - (double)x[targets[r]]);
    }
  });
  double total = 0.0;
  size_t n = 0;
  for (size_t r = 0; r < BT; ++r) {
    if (mask && !mask[r]) continue;
    total += (double)losses[r];
    ++n;
  }
  return n ? total / (double)n : 0.0;
}

template <class Real>
void cross_entropy_backward(Real* dlogits, const Real* logits, const Real* lse,
                            const int32_t* targets, const uint8_t* mask, size_t BT, size_t V,
                            double dloss, ThreadPool* pool) {
  // dlogits (BT, V) may alias logits (BT, V): each element is read before it is written.
  size_t n = 0;
  for (size_t r = 0; r < BT; ++r) n += (!mask || mask[r]) ? 1 : 0;
  const double g = n ? dloss / (double)n : 0.0;
  td::parallel_rows(pool, BT, [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      Real* d = dlogits + r * V;
      if (mask && !mask[r]) {
        td::zero(d, V);
        continue;
      }
      const Real* x = logits + r * V;
      const double l = (double)lse[r];
      if constexpr (std::is_same_v<Real, float>) {
        if (d != x) std::memcpy(d, x, V * sizeof(float));
        kernels().exp_sum.fn(d, V, (float)l);  // d = exp(x - lse), in place
        scale(d, (float)g, V);
      } else {
        for (size_t v = 0; v < V; ++v) d[v] = (Real)(std::exp((double)x[v] - l) * g);
      }
      d[targets[r]] -= (Real)g;
    }
  });
}

// ---------------------------------------------------------------------------------------------

#define CARTLM_INSTANTIATE(Real)                                                                   \
  template void embedding_forward<Real>(Real*, const int32_t*, const Real*, size_t, size_t,        \
                                        size_t);                                                   \
  template void embedding_backward<Real>(Real*, const Real*, const int32_t*, size_t, size_t,       \
                                         ThreadPool*);                                             \
  template void rmsnorm_forward<Real>(Real*, Real*, const Real*, const Real*, size_t, size_t,      \
                                      float, ThreadPool*);                                         \
  template void rmsnorm_backward<Real>(Real*, Real*, const Real*, const Real*, const Real*,        \
                                       const Real*, size_t, size_t, ThreadPool*);                  \
  template void matmul_forward<Real>(Real*, const Real*, const Real*, const Real*, size_t, size_t, \
                                     size_t, ThreadPool*);                                         \
  template void matmul_backward<Real>(Real*, Real*, Real*, const Real*, const Real*, const Real*,  \
                                      size_t, size_t, size_t, ThreadPool*);                        \
  template void swiglu_forward<Real>(Real*, const Real*, const Real*, size_t, ThreadPool*);        \
  template void swiglu_backward<Real>(Real*, Real*, const Real*, const Real*, const Real*, size_t, \
                                      ThreadPool*);                                                \
  template void residual_forward<Real>(Real*, const Real*, const Real*, size_t);                   \
  template void residual_backward<Real>(Real*, Real*, const Real*, size_t);                        \
  template double cross_entropy_forward<Real>(Real*, Real*, const Real*, const int32_t*,           \
                                              const uint8_t*, size_t, size_t, ThreadPool*);        \
  template void cross_entropy_backward<Real>(Real*, const Real*, const Real*, const int32_t*,      \
                                             const uint8_t*, size_t, size_t, double, ThreadPool*);
CARTLM_INSTANTIATE(float)
CARTLM_INSTANTIATE(double)
#undef CARTLM_INSTANTIATE

}  // namespace cartlm
