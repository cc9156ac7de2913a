// Scalar twins of every dispatched kernel: plain loops, compiled for baseline x86-64. They are the
// scalar table's entries (so any CPU runs cartlm) and the reference the tests hold the SIMD
// versions to. Reductions accumulate in double so that the reference is closer to the exact
// result than any f32 SIMD order; the tests' tolerances then measure the SIMD error alone.
#include <cmath>
#include <limits>

#include "core/dtype.h"
#include "kernels/kernels.h"

namespace cartlm {

namespace {

inline float load_f32(const float* p, size_t i) { return p[i]; }
inline float load_f16(const uint16_t* p, size_t i) { return fp16_to_fp32(p[i]); }
inline float load_bf16(const uint16_t* p, size_t i) { return bf16_to_fp32(p[i]); }

template <class W, float (*Load)(const W*, size_t)>
void matmul_ref_impl(const float* x, size_t ldx, size_t T, const void* wv, size_t in, size_t r0,
                     size_t r1, const float* bias, float* y, size_t ldy) {
  const W* w = static_cast<const W*>(wv);
  for (size_t t = 0; t < T; ++t) {
    const float* xt = x + t * ldx;
    for (size_t r = r0; r < r1; ++r) {
      const W* wr = w + r * in;
      double acc = 0.0;
      for (size_t i = 0; i < in; ++i) acc += (double)xt[i] * (double)Load(wr, i);
      float v = (float)acc;
      if (bias) v += bias[r];
      y[t * ldy + r] = v;
    }
  }
}

template <class W, float (*Load)(const W*, size_t)>
float dot_ref_impl(const float* a, const W* b, size_t n) {
  double acc = 0.0;
  for (size_t i = 0; i < n; ++i) acc += (double)a[i] * (double)Load(b, i);
  return (float)acc;
}

}  // namespace

void matmul_f32_ref(const float* x, size_t ldx, size_t T, const void* w, size_t in, size_t r0,
                    size_t r1, const float* bias, float* y, size_t ldy) {
  matmul_ref_impl<float, load_f32>(x, ldx, T, w, in, r0, r1, bias, y, ldy);
}
void matmul_f16_ref(const float* x, size_t ldx, size_t T, const void* w, size_t in, size_t r0,
                    size_t r1, const float* bias, float* y, size_t ldy) {
  matmul_ref_impl<uint16_t, load_f16>(x, ldx, T, w, in, r0, r1, bias, y, ldy);
}
void matmul_bf16_ref(const float* x, size_t ldx, size_t T, const void* w, size_t in, size_t r0,
                     size_t r1, const float* bias, float* y, size_t ldy) {
  matmul_ref_impl<uint16_t, load_bf16>(x, ldx, T, w, in, r0, r1, bias, y, ldy);
}

float dot_f32_ref(const float* a, const float* b, size_t n) {
  return dot_ref_impl<float, load_f32>(a, b, n);
}
float dot_f16_ref(const float* a, const uint16_t* b, size_t n) {
  return dot_ref_impl<uint16_t, load_f16>(a, b, n);
}
float dot_bf16_ref(const float* a, const uint16_t* b, size_t n) {
  return dot_ref_impl<uint16_t, load_bf16>(a, b, n);
}

// Backward tile: plain loops in the axpy order (k ascending, acc += a*b, starting from d).
void matmul_bwd_f32_ref(const float* a, size_t sj, size_t sk, size_t nj, size_t K, const void* b,
                        size_t ldb, size_t c0, size_t len, float* d, size_t ldd) {
  const float* w = static_cast<const float*>(b);
  for (size_t j = 0; j < nj; ++j)
    for (size_t i = c0; i < c0 + len; ++i) {
      float acc = d[j * ldd + i];
      for (size_t k = 0; k < K; ++k) acc += a[j * sj + k * sk] * w[k * ldb + i];
      d[j * ldd + i] = acc;
    }
}
void axpy_f32_ref(float a, const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += a * x[i];
}
void axpy_f16_ref(float a, const uint16_t* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += a * fp16_to_fp32(x[i]);
}
void scale_ref(float* x, float s, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] *= s;
}

void f16_to_f32_ref(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(src[i]);
}
void bf16_to_f32_ref(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(src[i]);
}
void f32_to_f16_ref(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}
void f32_to_bf16_ref(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = fp32_to_bf16(src[i]);
}

void rmsnorm_ref(const float* x, const float* w, float eps, size_t n, float* y) {
  double ss = 0.0;
  for (size_t i = 0; i < n; ++i) ss += (double)x[i] * (double)x[i];
  // HF order: normalize in f32, then multiply by the weight.
  float mean = n ? (float)(ss / (double)n) : 0.0f;
  float r = 1.0f / std::sqrt(mean + eps);
  for (size_t i = 0; i < n; ++i) y[i] = w[i] * (x[i] * r);
}

float exp_sum_ref(float* x, size_t n, float shift) {
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - shift);
    sum += x[i];
  }
  return (float)sum;
}

void softmax_ref(float* x, size_t n) {
  if (n == 0) return;
  float m = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  if (m == -std::numeric_limits<float>::infinity()) m = 0.0f;  // all -inf: avoid inf - inf
  float sum = exp_sum_ref(x, n, m);
  float inv = 1.0f / sum;
  for (size_t i = 0; i < n; ++i) x[i] *= inv;
}

void silu_ref(const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = x[i] / (1.0f + std::exp(-x[i]));
}
void swiglu_ref(const float* a, const float* b, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = a[i] / (1.0f + std::exp(-a[i])) * b[i];
}
void add_ref(const float* a, const float* b, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
void mul_ref(const float* a, const float* b, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}

}  // namespace cartlm
