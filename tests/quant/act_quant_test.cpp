// The Q8_0 / Q8_1 activation quantizers (the kernels' quantize_act_q8_*_ref, which quant's traits
// use too, so they also write the Q8_0 weights of a GGUF file) against llama.cpp's
// quantize_row_q8_0_ref formula written out here: d = absmax / 127, q = roundf(x / d), i.e. ties
// rounded half away from zero. The kernels round without libm, and a tie rounded to even would
// change bytes. Random rows are pinned to llama.cpp's own bytes by llama_cpp_digest_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/kernels.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace cartlm {
namespace {

// Blocks of 32 whose largest magnitude is 127, so d = 1 and id = 1 exactly: every x * id is the
// value itself, and the k + 0.5 values are true ties.
std::vector<float> tie_rows(size_t n) {
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    const size_t j = i % 32;
    if (j == 0) {
      x[i] = (i / 32) % 2 ? -127.0f : 127.0f;
    } else {
      const float k = (float)((int)((i * 37) % 253) - 126);  // -126 .. 126
      x[i] = k + (j % 2 ? 0.5f : -0.5f);
    }
  }
  return x;
}

// llama.cpp's quantize_row_q8_0_ref for one block: quants into q, returns the unrounded d.
float llama_q8_block(const float* x, int8_t* q) {
  float amax = 0;
  for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127;
  const float id = d ? 1.0f / d : 0.0f;
  for (int j = 0; j < 32; ++j) q[j] = (int8_t)std::round(x[j] * id);
  return d;
}

TEST(ActivationQuant, Q8_0AndQ8_1FollowLlamaCppAtTies) {
  const size_t n = 512;
  const std::vector<float> x = tie_rows(n);
  std::vector<BlockQ8_0> want0(n / 32);
  std::vector<BlockQ8_1> want1(n / 32);
  for (size_t b = 0; b < n / 32; ++b) {
    const float d = llama_q8_block(x.data() + 32 * b, want0[b].qs);
    want0[b].d = fp32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      want1[b].qs[j] = want0[b].qs[j];
      sum += want0[b].qs[j];
    }
    want1[b].d = want0[b].d;
    want1[b].s = fp32_to_fp16((float)sum * d);
  }
  for (const KernelTable* k : supported_kernel_tables()) {
    std::vector<BlockQ8_0> got0(n / 32);
    std::vector<BlockQ8_1> got1(n / 32);
    quantize_act_fn(*k, DType::Q8_0)(x.data(), got0.data(), n);
    quantize_act_fn(*k, DType::Q8_1)(x.data(), got1.data(), n);
    for (size_t b = 0; b < n / 32; ++b) {
      ASSERT_EQ(got0[b].d, want0[b].d) << k->isa << " block " << b;
      ASSERT_EQ(got1[b].d, want1[b].d) << k->isa << " block " << b;
      ASSERT_EQ(got1[b].s, want1[b].s) << k->isa << " block " << b;
      for (int j = 0; j < 32; ++j) {
        ASSERT_EQ(got0[b].qs[j], want0[b].qs[j]) << k->isa << " Q8_0 element " << 32 * b + j;
        ASSERT_EQ(got1[b].qs[j], want1[b].qs[j]) << k->isa << " Q8_1 element " << 32 * b + j;
      }
    }
  }
  // Spot values: 2.5 -> 3 and -2.5 -> -3 (away from zero; to-even would give 2 and -2).
  std::vector<float> y(32, 0.0f);
  y[0] = 127.0f, y[1] = 2.5f, y[2] = -2.5f, y[3] = 0.5f, y[4] = -0.5f, y[5] = 126.5f;
  BlockQ8_0 b;
  quantize_act_q8_0_ref(y.data(), &b, 32);
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], 3);
  EXPECT_EQ(b.qs[2], -3);
  EXPECT_EQ(b.qs[3], 1);
  EXPECT_EQ(b.qs[4], -1);
  EXPECT_EQ(b.qs[5], 127);
  EXPECT_EQ(b.qs[6], 0);
}

// A block whose largest magnitude is below ~3.7e-37 has 1/d = inf. llama.cpp (and quant's Q8_0
// quantizer before the kernels' became the only one) store zeros there: (int8_t)roundf(+-inf or
// NaN) is 0 on x86. Quantizing weights through quantize_tensor must keep those bytes.
TEST(ActivationQuant, BlocksTooSmallForTheScaleStoreZeros) {
  std::vector<float> x(64);
  for (int i = 0; i < 32; ++i) x[i] = (float)(i - 10) * 1e-40f;  // d = 1.7e-41, 1/d overflows
  for (int i = 32; i < 64; ++i) x[i] = (float)(i - 40);           // an ordinary block after it
  std::vector<BlockQ8_0> q(2);
  ASSERT_TRUE(quantize_tensor(DType::Q8_0, x.data(), 1, 64, q.data()).ok());
  EXPECT_EQ(q[0].d, 0);  // fp16 of 1.7e-41
  for (int j = 0; j < 32; ++j) ASSERT_EQ(q[0].qs[j], 0) << "element " << j;
  EXPECT_EQ(q[1].qs[31], 127);  // x = 23 is the block maximum
  EXPECT_EQ(q[1].qs[0], -44);   // -8 / (23 / 127) = -44.17
  BlockQ8_1 a[2];
  quantize_act_q8_1_ref(x.data(), a, 64);
  EXPECT_EQ(a[0].s, 0);
  for (int j = 0; j < 32; ++j) ASSERT_EQ(a[0].qs[j], 0) << "element " << j;
}

}  // namespace
}  // namespace cartlm
