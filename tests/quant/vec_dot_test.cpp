// vec_dot_ref of every format (for the weight formats the kernels' qdot_*_ref, the one reference
// implementation, which the AVX2/AVX-512 tables are tested against) against an independent
// computation: dequantize the weight row with the format's dequantizer and the activation row with
// the Q8 format's, then dot in double. The tolerance is derived from the f32 operations the dot
// product performs (about 1e-6 relative), so a wrong scale, offset, min term or sign fails it.
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

// Byte ranges holding the quants (not the factors) of a block, per REFERENCE.md §2.2-2.3, for the
// formats with an offset term. Zeroing them leaves only the offset part of each element.
struct QuantBytes {
  DType t;
  int begin, end;
};
const QuantBytes kOffsetFormats[] = {{DType::Q4_1, 4, 20},  {DType::Q5_1, 4, 24},
                                     {DType::Q2_K, 16, 80}, {DType::Q4_K, 16, 144},
                                     {DType::Q5_K, 16, 176}};

// |offset part| of each element (0 for the symmetric formats): the dequantized value of the block
// with its quants zeroed (m for Q4_1/Q5_1, -dmin·m for the K-quants).
std::vector<double> offset_magnitudes(DType t, std::vector<uint8_t> q, size_t n) {
  for (const QuantBytes& qb : kOffsetFormats) {
    if (qb.t != t) continue;
    const int bb = block_bytes_of(t);
    for (size_t b = 0; b < q.size() / bb; ++b)
      std::memset(q.data() + b * bb + qb.begin, 0, qb.end - qb.begin);
    std::vector<float> y = dequantize(t, q, n);
    return std::vector<double>(y.begin(), y.end());
  }
  return std::vector<double>(n, 0.0);
}

struct DotCase {
  double expected, tol, actual;
};

// w quantized as t, a quantized as t's activation format. The dot product computes exact integer
// sums per block and then, per block, a few f32 products and one accumulation into the running
// sum; the double reference uses the dequantized values, each of which carries up to 3 f32
// roundings ((d·sc)·q - dmin·m) of the scale part and the offset part. So the difference is at
// most u·(blocks + 8)·Σ(|scale part| + |offset part|)·|a|, and |scale part| <= |w| + |offset|.
// Q4_1/Q5_1 add llama.cpp's Q8_1 shortcut: the offset multiplies s = fp16(d_a·Σq_a), rounded to
// fp16 from the unrounded d_a, which differs from Σ(fp16(d_a)·q_a) by up to 2·2^-11 relative.
DotCase run_dot(DType t, const std::vector<float>& w, const std::vector<float>& a) {
  const QuantTraits* tr = quant_traits(t);
  const size_t n = w.size();
  std::vector<uint8_t> qw = quantize(t, w), qa = quantize(tr->act_type, a);
  std::vector<float> dw = dequantize(t, qw, n), da = dequantize(tr->act_type, qa, n);
  std::vector<double> off = offset_magnitudes(t, qw, n);
  double expected = 0, mag = 0, q81 = 0;
  for (size_t i = 0; i < n; ++i) {
    expected += (double)dw[i] * da[i];
    mag += (std::fabs((double)dw[i]) + 2 * std::fabs(off[i])) * std::fabs((double)da[i]);
    if (tr->act_type == DType::Q8_1) q81 += std::fabs(off[i]) * std::fabs((double)da[i]);
  }
  const double blocks = (double)n / block_size_of(t);
  DotCase c;
  c.expected = expected;
  c.tol = test::kF32RoundOff * (blocks + 8) * mag + 2 * 0x1p-11 * q81 * 1.01 + 1e-30;
  c.actual = tr->vec_dot_ref(qw.data(), qa.data(), (int64_t)n);
  return c;
}

TEST(VecDot, MatchesDequantizedDotWithinDerivedTolerance) {
  for (const FormatSpec& s : all_formats()) {
    const int bs = block_size_of(s.type);
    for (int blocks : {1, 2, 3, 5, 16}) {
      for (Data d : {Data::Normal, Data::ShiftedUniform, Data::Cosine}) {
        const size_t n = (size_t)blocks * bs;
        std::vector<float> w = make_data(d, n, 31 + blocks), a = make_data(Data::Normal, n, 77);
        DotCase c = run_dot(s.type, w, a);
        EXPECT_NEAR(c.actual, c.expected, c.tol)
            << quant_traits(s.type)->vec_dot_name << " n " << n << " on " << test::data_name(d);
      }
    }
  }
}

// A realistic row (Llama-3.2-1B ffn_down: 8192 inputs) for every weight format.
TEST(VecDot, LongRows) {
  for (const FormatSpec& s : all_formats()) {
    const size_t n = 8192;
    std::vector<float> w = make_data(Data::Normal, n, 41), a = make_data(Data::Normal, n, 42);
    for (float& v : w) v *= 0.02f;  // weight-like magnitudes
    DotCase c = run_dot(s.type, w, a);
    EXPECT_NEAR(c.actual, c.expected, c.tol) << quant_traits(s.type)->vec_dot_name;
  }
}

// The quantized dot approximates the float dot as well as the round trips allow: relative to
// |w|·|a| the error is below the combined quantization error of both rows.
TEST(VecDot, ApproximatesTheFloatDot) {
  for (const FormatSpec& s : all_formats()) {
    const size_t n = 4096;
    std::vector<float> w = make_data(Data::Normal, n, 51), a = make_data(Data::Normal, n, 52);
    const QuantTraits* tr = quant_traits(s.type);
    std::vector<uint8_t> qw = quantize(s.type, w), qa = quantize(tr->act_type, a);
    double exact = 0, nw = 0, na = 0;
    for (size_t i = 0; i < n; ++i) {
      exact += (double)w[i] * a[i];
      nw += (double)w[i] * w[i];
      na += (double)a[i] * a[i];
    }
    const double ew = test::rmse(w, dequantize(s.type, qw, n)) * std::sqrt((double)n);
    const double ea = test::rmse(a, dequantize(tr->act_type, qa, n)) * std::sqrt((double)n);
    // |Δ(w·a)| <= |Δw|·|a| + |w|·|Δa| + |Δw|·|Δa| (Cauchy-Schwarz), plus the f32 tolerance.
    const double bound = ew * std::sqrt(na) + std::sqrt(nw) * ea + ew * ea + 1e-3;
    const float got = tr->vec_dot_ref(qw.data(), qa.data(), (int64_t)n);
    EXPECT_NEAR(got, exact, bound) << tr->vec_dot_name;
  }
}

TEST(VecDot, ZeroRowsGiveZero) {
  for (const FormatSpec& s : all_formats()) {
    const size_t n = block_size_of(s.type) * 2;
    std::vector<float> zero(n, 0.0f), a = make_data(Data::Normal, n, 3);
    const QuantTraits* tr = quant_traits(s.type);
    std::vector<uint8_t> qw = quantize(s.type, zero), qa = quantize(tr->act_type, a);
    EXPECT_EQ(tr->vec_dot_ref(qw.data(), qa.data(), (int64_t)n), 0.0f) << tr->vec_dot_name;
  }
}

// Q8_K keeps bsums consistent with its quants (the min-term shortcut of Q2_K/Q4_K/Q5_K relies on
// them): each is the int16 sum of its 16 quants.
TEST(VecDot, Q8_KBsumsAreGroupSums) {
  std::vector<float> a = make_data(Data::Normal, 1024, 61);
  std::vector<uint8_t> q = quantize(DType::Q8_K, a);
  for (size_t b = 0; b < 4; ++b) {
    const uint8_t* blk = q.data() + b * 292;
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += (int8_t)blk[4 + 16 * g + l];
      int16_t stored;
      std::memcpy(&stored, blk + 4 + 256 + 2 * g, 2);
      ASSERT_EQ(stored, sum) << "block " << b << " group " << g;
    }
  }
}

}  // namespace
}  // namespace cartlm
