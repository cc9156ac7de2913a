// Shared helpers of the kernel tests: random data, misaligned buffers, derived tolerances, and a
// comparison that prints index, expected, actual and tolerance of the worst elements.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "kernels/kernels.h"

namespace cartlm::test {

// Unit roundoff of f32 (half an ulp of 1.0): one correctly rounded f32 operation has relative
// error at most this.
constexpr double kF32RoundOff = 0x1p-24;
// The vectorized exp (Cody-Waite + degree-6 polynomial) stays within a few ulp; we allow 8.
constexpr double kExpRoundOffs = 8.0;

// Widest vector of any table we test, in f32 lanes; sizes 0 .. 2*kMaxLanes+3 cover every tail.
constexpr size_t kMaxLanes = 16;

inline size_t lanes_of(const KernelTable& k) {
  std::string isa = k.isa;
  return isa == "avx512" ? 16 : isa == "avx2" ? 8 : 1;
}

// Reduction depth of an f32 sum of n products computed by a kernel with `lanes` lanes: each lane
// adds n/lanes terms, then a log2(lanes)-deep tree and a few block/bias additions. Error bound of
// the result: depth * u * sum|x_i * w_i| (Higham, recursive summation bound).
inline double reduction_depth(size_t n, size_t lanes) {
  return (double)(n / lanes) + 8.0 + std::log2((double)lanes);
}
inline double dot_tolerance(size_t n, size_t lanes, double abs_dot) {
  return kF32RoundOff * reduction_depth(n, lanes) * abs_dot;
}

// A float buffer whose data() starts `misalign` floats past a 64-byte boundary.
template <class T>
struct Buf {
  std::vector<T> storage;
  size_t offset = 0;
  size_t n = 0;
  Buf(size_t count, size_t misalign) : n(count) {
    storage.resize(count + misalign + 64 / sizeof(T) + 1);
    uintptr_t base = reinterpret_cast<uintptr_t>(storage.data());
    size_t to_align = ((64 - base % 64) % 64) / sizeof(T);
    offset = to_align + misalign;
  }
  T* data() { return storage.data() + offset; }
  const T* data() const { return storage.data() + offset; }
  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
};

inline void fill_uniform(Rng& rng, float* p, size_t n, float lo = -1.0f, float hi = 1.0f) {
  for (size_t i = 0; i < n; ++i) p[i] = lo + (hi - lo) * rng.uniform_float();
}
// Small integers: every sum of up to 2^18 products of them is exact in f32, in any order.
inline void fill_small_ints(Rng& rng, float* p, size_t n, int max_abs = 4) {
  for (size_t i = 0; i < n; ++i) p[i] = (float)rng.range(-max_abs, max_abs);
}

// Stores f32 values as a weight of `t` (F32 copies; F16/BF16 round).
inline std::vector<uint8_t> encode_weights(DType t, const float* src, size_t n) {
  std::vector<uint8_t> out(n * (t == DType::F32 ? 4 : 2) + 64);
  if (t == DType::F32) {
    std::memcpy(out.data(), src, n * 4);
  } else {
    uint16_t* d = reinterpret_cast<uint16_t*>(out.data());
    for (size_t i = 0; i < n; ++i) d[i] = t == DType::F16 ? fp32_to_fp16(src[i]) : fp32_to_bf16(src[i]);
  }
  return out;
}
inline float weight_at(DType t, const void* w, size_t i) {
  if (t == DType::F32) return static_cast<const float*>(w)[i];
  uint16_t h = static_cast<const uint16_t*>(w)[i];
  return t == DType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
}

// Compares element by element; tol[i] is the allowed |expected - actual|. On failure prints the
// first few offenders and the worst one (index, expected, actual, tolerance).
inline ::testing::AssertionResult all_close(const std::string& what, const float* expected,
                                            const float* actual, const std::vector<double>& tol,
                                            size_t n) {
  size_t bad = 0, worst = 0;
  double worst_ratio = -1.0;
  std::string msg;
  for (size_t i = 0; i < n; ++i) {
    double e = expected[i], a = actual[i];
    double diff = std::fabs(e - a);
    bool same_nan = std::isnan(e) && std::isnan(a);
    bool same_inf = std::isinf(e) && e == a;
    bool ok = same_nan || same_inf || diff <= tol[i];
    double ratio = tol[i] > 0 ? diff / tol[i] : (diff > 0 ? 1e300 : 0);
    if (!same_nan && !same_inf && ratio > worst_ratio) {
      worst_ratio = ratio;
      worst = i;
    }
    if (!ok) {
      if (bad < 5)
        msg += "\n  [" + std::to_string(i) + "] expected " + std::to_string(e) + " actual " +
               std::to_string(a) + " |diff| " + std::to_string(diff) + " tol " + std::to_string(tol[i]);
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  char worst_line[256];
  std::snprintf(worst_line, sizeof worst_line,
                "\n  worst [%zu]: expected %.9g actual %.9g tol %.3g", worst,
                (double)expected[worst], (double)actual[worst], tol[worst]);
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << n
                                       << " elements out of tolerance" << msg << worst_line;
}

inline ::testing::AssertionResult all_equal(const std::string& what, const float* expected,
                                            const float* actual, size_t n) {
  return all_close(what, expected, actual, std::vector<double>(n, 0.0), n);
}

}  // namespace cartlm::test
