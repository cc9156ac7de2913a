// NF4 (QLoRA): levels, thresholds, packing order, double quantization, round-trip error and
// memory per parameter.
#include "quant/nf4.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/rng.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"

namespace cartlm {
namespace {

TEST(Nf4, LevelsAreBitsandbytes) {
  EXPECT_EQ(kNf4Levels[0], -1.0f);
  EXPECT_EQ(kNf4Levels[7], 0.0f);
  EXPECT_EQ(kNf4Levels[15], 1.0f);
  EXPECT_EQ(kNf4Levels[1], -0.6961928009986877f);
  EXPECT_EQ(kNf4Levels[8], 0.07958029955625534f);
  EXPECT_EQ(kNf4Levels[14], 0.7229568362236023f);
  for (int i = 0; i + 1 < 16; ++i) EXPECT_LT(kNf4Levels[i], kNf4Levels[i + 1]);
}

TEST(Nf4, CodeIsNearestLevelWithBnbThresholds) {
  for (int i = 0; i < 16; ++i) EXPECT_EQ(nf4_code(kNf4Levels[i]), i);
  // bnb: x > 0.8614784181118011 -> 15; the midpoint itself goes down.
  EXPECT_EQ(nf4_code(0.8614785f), 15);
  EXPECT_EQ(nf4_code(0.8614784f), 14);
  EXPECT_EQ(nf4_code(0.03979015f), 7);  // just below the 0 / 0.0796 midpoint (0.0397901...)
  EXPECT_EQ(nf4_code(0.0398f), 8);
  EXPECT_EQ(nf4_code(-0.99f), 0);
  EXPECT_EQ(nf4_code(-0.1f), 6);
  // Exhaustively: the code's level is a nearest level.
  for (int k = -1000; k <= 1000; ++k) {
    const float x = (float)k / 1000.0f;
    const float best = std::fabs(x - kNf4Levels[nf4_code(x)]);
    for (float l : kNf4Levels) EXPECT_LE(best, std::fabs(x - l) + 1e-7f) << x;
  }
}

TEST(Nf4, DynamicMapIsBnbSigned8Bit) {
  const float* m = nf4_dynamic_map();
  EXPECT_TRUE(std::is_sorted(m, m + 256));
  EXPECT_EQ(m[255], 1.0f);
  // Largest fraction mean at exponent 0: midpoint of the last step of linspace(0.1, 1, 65).
  EXPECT_NEAR(m[254], 0.99296875, 1e-6);
  EXPECT_NEAR(m[0], -0.99296875, 1e-6);
  EXPECT_EQ(std::count(m, m + 256, 0.0f), 1);
  // Smallest magnitude: 0.55 · 1e-6 (exponent -6, one fraction value).
  const float* z = std::find(m, m + 256, 0.0f);
  EXPECT_NEAR(z[1], 0.55e-6, 1e-12);
  EXPECT_NEAR(z[-1], -0.55e-6, 1e-12);
}

TEST(Nf4, PackingHighNibbleFirst) {
  // One block whose absmax is 1: element values equal to levels give their codes.
  std::vector<float> w(64, 0.0f);
  w[0] = 1.0f;           // code 15
  w[1] = kNf4Levels[3];  // code 3
  w[2] = -1.0f;          // code 0
  w[3] = kNf4Levels[9];  // code 9
  const Nf4Tensor t = nf4_quantize(DType::F32, w.data(), 1, 64, false);
  ASSERT_EQ(t.codes.size(), 32u);
  EXPECT_EQ(t.codes[0], 0xF3);
  EXPECT_EQ(t.codes[1], 0x09);
  EXPECT_EQ(t.codes[2], 0x77);  // zeros are code 7
  ASSERT_EQ(t.absmax.size(), 1u);
  EXPECT_EQ(t.absmax[0], 1.0f);
  std::vector<float> back(64);
  nf4_dequantize(t, 0, 64, back.data());
  for (size_t i = 0; i < 64; ++i) EXPECT_EQ(back[i], w[i]) << i;  // levels are exact
}

// Round trip of a normal(0, s) tensor: each element is off by at most half the widest gap
// between adjacent levels (0.5·(−0.6961928 − (−1)) ≈ 0.152) times its block's absmax, plus the
// double-quant error of that absmax (times |level| <= 1).
void check_round_trip(DType dt, bool dq) {
  const size_t rows = 96, cols = 320;  // 480 blocks: two nested groups, the second partial
  Rng rng(dq ? 5 : 6);
  std::vector<float> w(rows * cols);
  for (float& v : w) v = (float)(0.02 * rng.normal());
  w[12345] = 0.5f;  // one outlier block
  std::vector<uint16_t> h(w.size());
  const void* src = w.data();
  if (dt != DType::F32) {
    if (dt == DType::F16)
      f32_to_f16(w.data(), h.data(), w.size());
    else
      f32_to_bf16(w.data(), h.data(), w.size());
    convert_to_f32(dt, h.data(), w.data(), w.size());
    src = h.data();
  }
  ThreadPool pool(2);
  const Nf4Tensor t = nf4_quantize(dt, src, rows, cols, dq, &pool);
  const Nf4Tensor t1 = nf4_quantize(dt, src, rows, cols, dq, nullptr);
  EXPECT_EQ(t.codes, t1.codes);  // thread count does not matter
  EXPECT_EQ(t.absmax_q, t1.absmax_q);
  std::vector<float> back(w.size());
  nf4_dequantize(t, 0, w.size(), back.data());
  double se = 0.0, sw = 0.0;
  double half_gap = 0.0;
  for (int k = 0; k + 1 < 16; ++k)
    half_gap = std::max(half_gap, 0.5 * ((double)kNf4Levels[k + 1] - kNf4Levels[k]));
  EXPECT_NEAR(half_gap, 0.5 * (1.0 - 0.6961928009986877), 1e-7);
  for (size_t b = 0; b < t.num_blocks(); ++b) {
    float amax = 0.0f;
    for (size_t i = b * 64; i < b * 64 + 64; ++i) amax = std::max(amax, std::fabs(w[i]));
    const float got = t.block_absmax(b);
    // 8-bit dynamic code of (absmax − mean) relative to the group's largest |absmax − mean|:
    // the coarsest step near 1 is 1/64, i.e. 1/128 half-step of the group scale.
    const double dq_err = dq ? t.absmax2[b / 256] / 128.0 + 1e-7 : 0.0;
    EXPECT_NEAR(got, amax, dq_err) << b;
    for (size_t i = b * 64; i < b * 64 + 64; ++i) {
      const double err = std::fabs((double)back[i] - w[i]);
      EXPECT_LE(err, half_gap * amax + dq_err + 1e-6) << i;
      se += err * err;
      sw += (double)w[i] * w[i];
    }
  }
  // NF4 on normal data: relative RMS error around 10%.
  EXPECT_LT(std::sqrt(se / sw), 0.15);
  // Partial ranges decode the same values (odd start and end).
  std::vector<float> part(1001);
  nf4_dequantize(t, 77, 1078, part.data());
  for (size_t i = 0; i < part.size(); ++i) EXPECT_EQ(part[i], back[77 + i]);
}

TEST(Nf4, RoundTripF32DoubleQuant) { check_round_trip(DType::F32, true); }
TEST(Nf4, RoundTripBf16DoubleQuant) { check_round_trip(DType::BF16, true); }
TEST(Nf4, RoundTripF16NoDoubleQuant) { check_round_trip(DType::F16, false); }

TEST(Nf4, MemoryPerParameter) {
  const size_t rows = 2048, cols = 2048;         // a Llama-3.2-1B q_proj
  std::vector<uint16_t> w(rows * cols, 0x3c00);  // f16 1.0
  const Nf4Tensor dq = nf4_quantize(DType::F16, w.data(), rows, cols, true);
  const Nf4Tensor plain = nf4_quantize(DType::F16, w.data(), rows, cols, false);
  const double n = (double)(rows * cols);
  // 0.5 (codes) + 1/64 (8-bit absmax) + 4/(64·256) (fp32 second-level scale) + the offset.
  EXPECT_NEAR(dq.bytes() / n, 0.5 + 1.0 / 64 + 4.0 / (64 * 256), 1e-6);
  EXPECT_NEAR(plain.bytes() / n, 0.5 + 4.0 / 64, 1e-6);
  // A constant tensor survives exactly: absmax 1, all codes 15.
  std::vector<float> back(128);
  nf4_dequantize(dq, 1000, 1128, back.data());
  for (float v : back) EXPECT_EQ(v, 1.0f);
}

}  // namespace
}  // namespace cartlm
