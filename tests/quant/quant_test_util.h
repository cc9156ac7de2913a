// Shared helpers of the quant tests: the list of formats with their documented geometry, data
// generators, and the derived error estimates the round-trip and dot-product tests compare with.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "quant/quant.h"

namespace cartlm::test {

// Unit roundoff of f32.
constexpr double kF32RoundOff = 0x1p-24;

// Geometry of a format as REFERENCE.md §2 documents it, written independently of src/quant so
// the tests can derive what a plain uniform quantizer with the same resolution would achieve.
struct FormatSpec {
  DType type;
  int bits;          // bits per quant
  int sub;           // elements sharing one scale (sub-block)
  bool symmetric;    // y = s·q (true) or y = s·q + offset (false)
  double steps;      // symmetric: amax / step; asymmetric: range / step
  bool min_clamped;  // asymmetric K-quants: the offset is <= 0 (range = max - min(0, min))
};

inline const std::vector<FormatSpec>& all_formats() {
  static const std::vector<FormatSpec> kSpecs = {
      {DType::Q4_0, 4, 32, true, 8, false},    {DType::Q4_1, 4, 32, false, 15, false},
      {DType::Q5_0, 5, 32, true, 16, false},   {DType::Q5_1, 5, 32, false, 31, false},
      {DType::Q8_0, 8, 32, true, 127, false},  {DType::Q8_1, 8, 32, true, 127, false},
      {DType::Q2_K, 2, 16, false, 3, true},    {DType::Q3_K, 3, 16, true, 4, false},
      {DType::Q4_K, 4, 32, false, 15, true},   {DType::Q5_K, 5, 32, false, 31, true},
      {DType::Q6_K, 6, 16, true, 32, false},   {DType::Q8_K, 8, 256, true, 127, false},
  };
  return kSpecs;
}

inline std::vector<FormatSpec> weight_formats() {
  std::vector<FormatSpec> out;
  for (const FormatSpec& s : all_formats())
    if (s.type != DType::Q8_1 && s.type != DType::Q8_K) out.push_back(s);
  return out;
}

inline int block_size_of(DType t) { return (int)dtype_info(t)->block_size; }
inline int block_bytes_of(DType t) { return (int)dtype_info(t)->block_bytes; }

inline std::vector<uint8_t> quantize(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(x.size() / block_size_of(t) * block_bytes_of(t));
  quant_traits(t)->quantize_row_ref(x.data(), q.data(), (int64_t)x.size());
  return q;
}
inline std::vector<float> dequantize(DType t, const std::vector<uint8_t>& q, size_t n) {
  std::vector<float> y(n);
  quant_traits(t)->dequantize_row(q.data(), y.data(), (int64_t)n);
  return y;
}

// The data sets: ggml's test-quantize-fns pattern, standard normal, and a shifted uniform (all
// positive mostly, which exercises the offset of the asymmetric formats).
enum class Data { Cosine, Normal, ShiftedUniform };
inline const char* data_name(Data d) {
  return d == Data::Cosine ? "0.1+2cos(i)" : d == Data::Normal ? "normal" : "uniform[-0.5,2.5)";
}
inline std::vector<float> make_data(Data d, size_t n, uint64_t seed) {
  std::vector<float> x(n);
  Rng rng(seed);
  for (size_t i = 0; i < n; ++i) {
    switch (d) {
      case Data::Cosine: x[i] = 0.1f + 2 * std::cos((float)i + (float)seed); break;
      case Data::Normal: x[i] = (float)rng.normal(); break;
      case Data::ShiftedUniform: x[i] = (float)(rng.uniform_double() * 3 - 0.5); break;
    }
  }
  return x;
}

// RMS error of a plain uniform quantizer with the format's resolution on the same data: the step
// of each sub-block is amax/steps (symmetric) or range/steps (asymmetric), and rounding to a grid
// of step Δ leaves an error of RMS Δ/sqrt(12).
inline double uniform_rmse_estimate(const FormatSpec& s, const std::vector<float>& x) {
  double acc = 0;
  for (size_t b = 0; b + s.sub <= x.size(); b += s.sub) {
    double mx = -1e300, mn = 1e300, am = 0;
    for (int i = 0; i < s.sub; ++i) {
      const double v = x[b + i];
      mx = std::max(mx, v);
      mn = std::min(mn, v);
      am = std::max(am, std::fabs(v));
    }
    const double lo = s.min_clamped ? std::min(mn, 0.0) : mn;
    const double step = s.symmetric ? am / s.steps : (mx - lo) / s.steps;
    acc += step * step / 12 * s.sub;
  }
  return std::sqrt(acc / (double)x.size());
}

inline double rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double se = 0;
  for (size_t i = 0; i < a.size(); ++i) se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
  return std::sqrt(se / (double)a.size());
}

}  // namespace cartlm::test
