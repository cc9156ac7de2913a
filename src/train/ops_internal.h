// Helpers shared by the src/train/ops_*.cpp files (not part of the public API): row splits over the
// pool, and dot/axpy that use the kernels' SIMD versions for f32 and plain loops for double.
#pragma once
#include <cstddef>
#include <cstring>

#include "core/thread_pool.h"
#include "kernels/kernels.h"

namespace cartlm::train_detail {

// fn(begin, end) over [0, n), split into contiguous chunks across the pool (or inline).
template <class F>
void parallel_rows(ThreadPool* pool, size_t n, F&& fn) {
  if (n == 0) return;
  if (pool && pool->size() > 1 && n > 1)
    pool->parallel_for(n, [&](size_t b, size_t e) { fn(b, e); });
  else
    fn(0, n);
}

// Elementwise work is only worth splitting when there is a lot of it.
template <class F>
void parallel_span(ThreadPool* pool, size_t n, F&& fn) {
  if (pool && pool->size() > 1 && n >= 16384)
    pool->parallel_for(n, 16, [&](size_t b, size_t e) { fn(b, e); });
  else if (n)
    fn(0, n);
}

inline float dot(const float* a, const float* b, size_t n) { return kernels().dot_f32.fn(a, b, n); }
inline double dot(const double* a, const double* b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}
// y += a * x
inline void axpy(float a, const float* x, float* y, size_t n) { kernels().axpy_f32.fn(a, x, y, n); }
inline void axpy(double a, const double* x, double* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

template <class Real>
void zero(Real* p, size_t n) {
  if (n) std::memset(static_cast<void*>(p), 0, n * sizeof(Real));
}

}  // namespace cartlm::train_detail
