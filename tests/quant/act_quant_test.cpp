// The kernels' activation quantizers (what matmul() runs on every activation row) against the
// quant module's llama.cpp references at exact rounding ties: the kernels round without libm, and
// a tie rounded to even instead of away from zero would change bytes (llama.cpp's
// quantize_row_q8_0_ref uses roundf). tests/model/llama_quant_test.cpp covers random rows.
#include <gtest/gtest.h>

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

TEST(ActivationQuant, Q8_0AndQ8_1TiesRoundAwayFromZeroLikeTheReference) {
  const size_t n = 512;
  std::vector<float> x = tie_rows(n);
  {
    std::vector<uint8_t> ref(quantized_act_bytes(DType::Q8_0, n)), got(ref.size(), 0xAB);
    quantize_q8_0_ref(x.data(), ref.data(), (int64_t)n);
    for (const KernelTable* k : supported_kernel_tables()) {
      quantize_act_fn(*k, DType::Q8_0)(x.data(), got.data(), n);
      EXPECT_EQ(ref, got) << k->isa;
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
  {
    std::vector<uint8_t> ref(quantized_act_bytes(DType::Q8_1, n)), got(ref.size(), 0xAB);
    quantize_q8_1_ref(x.data(), ref.data(), (int64_t)n);
    for (const KernelTable* k : supported_kernel_tables()) {
      quantize_act_fn(*k, DType::Q8_1)(x.data(), got.data(), n);
      EXPECT_EQ(ref, got) << k->isa;
    }
  }
}

}  // namespace
}  // namespace cartlm
