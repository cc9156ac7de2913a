// Quantize -> dequantize round trips: error against a derived bound, odd row lengths, special
// blocks (zeros, constants, one huge outlier, tiny values), and the importance (imatrix) paths.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "quant/quant.h"
#include "quant_test_util.h"

namespace cartlm {
namespace {

using test::all_formats;
using test::block_bytes_of;
using test::block_size_of;
using test::Data;
using test::dequantize;
using test::FormatSpec;
using test::make_data;
using test::quantize;
using test::rmse;
using test::uniform_rmse_estimate;
using test::weight_formats;

// A format must come within 15% of a plain uniform quantizer with its resolution (same sub-block
// size and number of steps; RMS error step/sqrt(12)). The 15% covers what the formats pay on top
// of that: fp16 block factors, 4/6-bit sub-block scales, and clipping of the extreme level of the
// symmetric formats (Q4_0 maps +amax to 7·d, not 8·d). The search-based K-quants usually beat the
// estimate (Q4_K by ~15%), the one-pass legacy formats land at 0.95-1.0.
constexpr double kUniformSlack = 1.15;

const Data kAllData[] = {Data::Cosine, Data::Normal, Data::ShiftedUniform};

TEST(RoundTrip, RmseWithinUniformQuantizerBound) {
  for (const FormatSpec& s : all_formats()) {
    for (Data d : kAllData) {
      const size_t n = 64 * 256;
      std::vector<float> x = make_data(d, n, 11);
      std::vector<float> y = dequantize(s.type, quantize(s.type, x), n);
      const double err = rmse(x, y), bound = kUniformSlack * uniform_rmse_estimate(s, x);
      EXPECT_LE(err, bound) << dtype_name(s.type) << " on " << test::data_name(d) << ": rmse " << err
                            << " vs uniform estimate " << bound / kUniformSlack;
    }
  }
}

// Fewer bits, more error: the estimate ordering must show up in the measured errors too.
TEST(RoundTrip, ErrorShrinksWithBits) {
  const size_t n = 64 * 256;
  std::vector<float> x = make_data(Data::Normal, n, 12);
  auto err = [&](DType t) { return rmse(x, dequantize(t, quantize(t, x), n)); };
  EXPECT_GT(err(DType::Q2_K), err(DType::Q3_K));
  EXPECT_GT(err(DType::Q3_K), err(DType::Q4_K));
  EXPECT_GT(err(DType::Q4_K), err(DType::Q5_K));
  EXPECT_GT(err(DType::Q5_K), err(DType::Q6_K));
  EXPECT_GT(err(DType::Q6_K), err(DType::Q8_0));
  EXPECT_GT(err(DType::Q4_0), err(DType::Q5_0));
  EXPECT_GT(err(DType::Q4_1), err(DType::Q5_1));
}

// The reference quantizers are block-local: a row of k blocks is the k single-block results side
// by side, for every k (odd counts included).
TEST(RoundTrip, RowIsConcatenationOfBlocksForOddLengths) {
  for (const FormatSpec& s : all_formats()) {
    const int bs = block_size_of(s.type), bb = block_bytes_of(s.type);
    for (int k : {1, 2, 3, 5, 7, 9}) {
      std::vector<float> x = make_data(Data::Normal, (size_t)k * bs, 100 + k);
      std::vector<uint8_t> row = quantize(s.type, x);
      ASSERT_EQ(row.size(), (size_t)k * bb);
      for (int b = 0; b < k; ++b) {
        std::vector<float> xb(x.begin() + b * bs, x.begin() + (b + 1) * bs);
        std::vector<uint8_t> one = quantize(s.type, xb);
        EXPECT_EQ(0, std::memcmp(one.data(), row.data() + b * bb, bb))
            << dtype_name(s.type) << " k " << k << " block " << b;
      }
      std::vector<float> y = dequantize(s.type, row, x.size());
      for (float v : y) ASSERT_TRUE(std::isfinite(v)) << dtype_name(s.type);
    }
  }
}

// Input at any float offset and blocks at any block boundary give the same bytes (the block
// structs need only 2-byte alignment, 4 for Q8_K, which every block boundary of a row keeps).
TEST(RoundTrip, OffsetBuffersGiveSameBytes) {
  for (const FormatSpec& s : all_formats()) {
    const int bs = block_size_of(s.type), bb = block_bytes_of(s.type);
    std::vector<float> x = make_data(Data::Normal, 3 * bs, 13);
    std::vector<uint8_t> expect = quantize(s.type, x);
    for (int off : {1, 3}) {
      std::vector<float> xs(x.size() + off);
      std::copy(x.begin(), x.end(), xs.begin() + off);
      std::vector<uint8_t> out(expect.size() + 2 * bb);
      quant_traits(s.type)->quantize_row_ref(xs.data() + off, out.data() + bb, (int64_t)x.size());
      EXPECT_EQ(0, std::memcmp(out.data() + bb, expect.data(), expect.size())) << dtype_name(s.type);
      std::vector<float> y(x.size() + off);
      quant_traits(s.type)->dequantize_row(out.data() + bb, y.data() + off, (int64_t)x.size());
      std::vector<float> ref = dequantize(s.type, expect, x.size());
      EXPECT_EQ(0, std::memcmp(y.data() + off, ref.data(), ref.size() * sizeof(float)));
    }
  }
}

TEST(RoundTrip, ZeroBlocksDecodeToZero) {
  for (const FormatSpec& s : all_formats()) {
    const size_t n = 2 * block_size_of(s.type);
    std::vector<float> y = dequantize(s.type, quantize(s.type, std::vector<float>(n, 0.0f)), n);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(y[i], 0.0f) << dtype_name(s.type) << " at " << i;
  }
}

// The largest integer an fp16 factor of the format is multiplied by (sub-block scale times quant,
// plus the min's multiplier): an absolute error of the factor grows by this much in the output.
double max_factor_multiplier(DType t) {
  switch (t) {
    case DType::Q4_0: return 8;
    case DType::Q5_0: return 16;
    case DType::Q8_0: case DType::Q8_1: return 127;
    case DType::Q4_1: return 15 + 1;
    case DType::Q5_1: return 31 + 1;
    case DType::Q2_K: return 15 * 3 + 15;
    case DType::Q3_K: return 32 * 4;
    case DType::Q4_K: return 63 * 15 + 63;
    case DType::Q5_K: return 63 * 31 + 63;
    case DType::Q6_K: return 128 * 32;
    default: return 0;  // Q8_K: f32 factor
  }
}

// A constant block is represented by the extreme level times the fp16 factor(s): the only error
// is the fp16 rounding of the factor (2^-11 relative, or 2^-25 absolute once the factor is an fp16
// subnormal, below 2^-14) times the integer it multiplies, plus a few f32 roundings.
TEST(RoundTrip, ConstantBlocksKeepTheirValue) {
  for (const FormatSpec& s : all_formats()) {
    for (float c : {1.0f, -3.7f, 1e-3f, 250.0f, -0.0123f}) {
      const size_t n = block_size_of(s.type);
      std::vector<float> y = dequantize(s.type, quantize(s.type, std::vector<float>(n, c)), n);
      const double tol = std::fabs(c) * (0x1p-11 + 16 * test::kF32RoundOff) +
                         max_factor_multiplier(s.type) * 0x1p-25;
      for (size_t i = 0; i < n; ++i)
        ASSERT_NEAR(y[i], c, tol) << dtype_name(s.type) << " constant " << c << " at " << i;
    }
  }
}

// One element 1000x the rest: it sets the block's (or sub-block's) range, so it must come back
// within half a step of that range (plus fp16 rounding), and nothing may overflow to inf/NaN.
TEST(RoundTrip, HugeOutlierIsKeptAndNothingOverflows) {
  for (const FormatSpec& s : all_formats()) {
    const size_t n = 2 * block_size_of(s.type);
    for (size_t pos : {(size_t)0, (size_t)5, n - 1}) {
      for (float big : {1000.0f, -1000.0f}) {
        std::vector<float> x = make_data(Data::Normal, n, 7 + pos);
        x[pos] = big;
        std::vector<float> y = dequantize(s.type, quantize(s.type, x), n);
        for (size_t i = 0; i < n; ++i) ASSERT_TRUE(std::isfinite(y[i])) << dtype_name(s.type);
        // Range of the outlier's sub-block as the format sees it.
        const size_t b0 = pos / s.sub * s.sub;
        double mx = -1e30, mn = 1e30, am = 0;
        for (size_t i = b0; i < b0 + s.sub; ++i) {
          mx = std::max(mx, (double)x[i]);
          mn = std::min(mn, (double)x[i]);
          am = std::max(am, std::fabs((double)x[i]));
        }
        if (s.min_clamped) mn = std::min(mn, 0.0);
        const double step = s.symmetric ? am / s.steps : (mx - mn) / s.steps;
        // Symmetric formats clip the side opposite the signed absmax by one step (REFERENCE.md:
        // "the extreme value maps to q=0"); the outlier *is* that extreme, so half a step holds.
        const double tol = step / 2 + std::fabs(big) * 0x1p-10;
        EXPECT_NEAR(y[pos], big, tol) << dtype_name(s.type) << " outlier at " << pos;
      }
    }
  }
}

TEST(RoundTrip, TinyAndSubnormalInputsStayFinite) {
  for (const FormatSpec& s : all_formats()) {
    const size_t n = block_size_of(s.type);
    for (float scale : {1e-30f, 1e-40f, 1e-8f}) {
      std::vector<float> x = make_data(Data::Normal, n, 5);
      for (float& v : x) v *= scale;
      std::vector<float> y = dequantize(s.type, quantize(s.type, x), n);
      double amax = 0;
      for (float v : x) amax = std::max(amax, (double)std::fabs(v));
      for (size_t i = 0; i < n; ++i) {
        ASSERT_TRUE(std::isfinite(y[i])) << dtype_name(s.type) << " scale " << scale;
        // fp16 factors flush such scales to zero or the smallest subnormals: the output can never
        // exceed the input's magnitude by more than one fp16 subnormal step per level.
        ASSERT_LE(std::fabs(y[i]), amax * 2 + 0x1p-24 * 256) << dtype_name(s.type);
      }
    }
  }
}

// Alternating signs, all negative, one nonzero element: patterns that stress the signed-absmax
// choice and the min handling. Here many elements can sit on the side a symmetric format clips
// (error one full step instead of at most half a step), so the bound is twice the uniform
// estimate: an error of at most one step everywhere has RMS step/sqrt(3) = 2·step/sqrt(12).
TEST(RoundTrip, AdversarialPatternsWithinBound) {
  constexpr double kWorstCaseSlack = 2.0 * 1.01;  // 1% for fp16 factor rounding
  for (const FormatSpec& s : weight_formats()) {
    const size_t n = 8 * 256;
    std::vector<std::vector<float>> cases(3, std::vector<float>(n));
    for (size_t i = 0; i < n; ++i) {
      cases[0][i] = (i % 2 ? 1.0f : -1.0f) * (1.0f + (float)(i % 7) / 7);
      cases[1][i] = -1.0f - (float)((i * 37) % 101) / 50;
      cases[2][i] = i % 97 == 3 ? 5.0f : 0.0f;
    }
    for (const std::vector<float>& x : cases) {
      std::vector<float> y = dequantize(s.type, quantize(s.type, x), n);
      EXPECT_LE(rmse(x, y), kWorstCaseSlack * uniform_rmse_estimate(s, x)) << dtype_name(s.type);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Importance (imatrix) paths
// ---------------------------------------------------------------------------------------------

const DType kImportanceFormats[] = {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K,
                                    DType::Q6_K, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                                    DType::Q5_1};

const FormatSpec& spec_of(DType t) {
  for (const FormatSpec& s : all_formats())
    if (s.type == t) return s;
  ADD_FAILURE() << "no spec";
  return all_formats()[0];
}

// With uniform importance the imatrix path still quantizes as well as a uniform quantizer.
TEST(Importance, UniformImportanceWithinBound) {
  const int64_t rows = 16, cols = 1024;
  std::vector<float> x = make_data(Data::Normal, rows * cols, 21);
  std::vector<float> imp(cols, 1.0f);
  for (DType t : kImportanceFormats) {
    const uint64_t rb = *quantized_row_bytes(t, cols);
    std::vector<uint8_t> q(rows * rb);
    ASSERT_TRUE(quantize_tensor(t, x.data(), rows, cols, q.data(), imp.data()).ok());
    std::vector<float> y(rows * cols);
    ASSERT_TRUE(dequantize_tensor(t, q.data(), rows, cols, y.data()).ok());
    EXPECT_LE(rmse(x, y), kUniformSlack * uniform_rmse_estimate(spec_of(t), x)) << dtype_name(t);
  }
}

// Columns with high importance must come out better than the reference quantizer (which ignores
// importance) leaves them, measured by the importance-weighted squared error over many rows.
TEST(Importance, SkewedImportanceLowersWeightedError) {
  const int64_t rows = 64, cols = 512;
  std::vector<float> x = make_data(Data::Normal, rows * cols, 22);
  std::vector<float> imp(cols);
  Rng rng(23);
  for (float& v : imp) v = rng.bernoulli(0.25) ? 50.0f : 1.0f;
  for (DType t : kImportanceFormats) {
    const uint64_t rb = *quantized_row_bytes(t, cols);
    std::vector<uint8_t> q_ref(rows * rb), q_imp(rows * rb);
    ASSERT_TRUE(quantize_tensor(t, x.data(), rows, cols, q_ref.data()).ok());
    ASSERT_TRUE(quantize_tensor(t, x.data(), rows, cols, q_imp.data(), imp.data()).ok());
    std::vector<float> y_ref(rows * cols), y_imp(rows * cols);
    ASSERT_TRUE(dequantize_tensor(t, q_ref.data(), rows, cols, y_ref.data()).ok());
    ASSERT_TRUE(dequantize_tensor(t, q_imp.data(), rows, cols, y_imp.data()).ok());
    double e_ref = 0, e_imp = 0;
    for (int64_t i = 0; i < rows * cols; ++i) {
      const double w = imp[i % cols];
      e_ref += w * (x[i] - y_ref[i]) * (x[i] - y_ref[i]);
      e_imp += w * (x[i] - y_imp[i]) * (x[i] - y_imp[i]);
    }
    EXPECT_LT(e_imp, e_ref) << dtype_name(t);
  }
}

TEST(Importance, Q8_0IgnoresImportanceAsLlamaCppDoes) {
  const int64_t rows = 4, cols = 256;
  std::vector<float> x = make_data(Data::Normal, rows * cols, 24);
  std::vector<float> imp = make_data(Data::ShiftedUniform, cols, 25);
  for (float& v : imp) v = std::fabs(v);
  const uint64_t rb = *quantized_row_bytes(DType::Q8_0, cols);
  std::vector<uint8_t> a(rows * rb), b(rows * rb);
  ASSERT_TRUE(quantize_tensor(DType::Q8_0, x.data(), rows, cols, a.data()).ok());
  ASSERT_TRUE(quantize_tensor(DType::Q8_0, x.data(), rows, cols, b.data(), imp.data()).ok());
  EXPECT_EQ(a, b);
}

// Zero importance everywhere is legal (an imatrix column that never fired): output stays finite.
TEST(Importance, ZeroImportanceStaysFinite) {
  const int64_t cols = 256;
  std::vector<float> x = make_data(Data::Normal, cols, 26);
  std::vector<float> imp(cols, 0.0f);
  for (DType t : kImportanceFormats) {
    std::vector<uint8_t> q(*quantized_row_bytes(t, cols));
    ASSERT_TRUE(quantize_tensor(t, x.data(), 1, cols, q.data(), imp.data()).ok());
    std::vector<float> y(cols);
    ASSERT_TRUE(dequantize_tensor(t, q.data(), 1, cols, y.data()).ok());
    for (float v : y) ASSERT_TRUE(std::isfinite(v)) << dtype_name(t);
  }
}

}  // namespace
}  // namespace cartlm
