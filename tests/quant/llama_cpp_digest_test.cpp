// Byte identity with llama.cpp, as a regression guard. The expected digests were NOT produced by
// cartlm: they are FNV-1a hashes of the bytes that llama.cpp's own quantizers (ggml-quants.c at
// unslothai/llama.cpp d32676d7, compiled for x86-64 like llama.cpp's ggml-base: no FMA) wrote
// for digest_input(): quantize_qX(src, dst, rows, cols, NULL) for the reference column (what
// llama-quantize writes without --imatrix), the same with the importance vector for the second
// column, and quantize_row_q8_1_ref / quantize_row_q8_K_ref for the activation formats.
// The full comparison (thousands of rows, dequantized values too) is done out of tree; see the
// quant section of the project report.
#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "digest_input.h"
#include "quant/quant.h"

namespace cartlm {
namespace {

struct Expected {
  DType type;
  uint64_t ref, importance;  // importance: 0 for the activation-only formats
};

const Expected kLlamaCpp[] = {
    {DType::Q4_0, 0x2432ef4b9e0875bcull, 0x7af088a957dc9b3full},
    {DType::Q4_1, 0x81c0691155fb2af1ull, 0x79c1e4c2c7e20127ull},
    {DType::Q5_0, 0x99dc8048762a793full, 0x76668b31f6f32d68ull},
    {DType::Q5_1, 0x405a97df88d35c4full, 0x22caa7a7dffcb1bcull},
    {DType::Q8_0, 0xc16a187cc7987045ull, 0xc16a187cc7987045ull},
    {DType::Q8_1, 0x9f9b36c912fc6180ull, 0},
    {DType::Q2_K, 0xd79da39f76e855deull, 0xd4d7abd57e02921full},
    {DType::Q3_K, 0x2cf533126c9e09d6ull, 0x4c50c59062ff7751ull},
    {DType::Q4_K, 0xbc0881e0cd1e35a5ull, 0x88ee8cc0dc5f66c8ull},
    {DType::Q5_K, 0x979237d575f9a644ull, 0x8202bae68e02dbacull},
    {DType::Q6_K, 0xb62721f9d07c12b4ull, 0x9fcbea5846d1e53cull},
    {DType::Q8_K, 0x01ba81ef3f6d68fdull, 0},
};

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%016llx", (unsigned long long)v);
  return buf;
}

TEST(LlamaCppDigest, ReferenceQuantizersMatch) {
  const std::vector<float> x = test::digest_input();
  for (const Expected& e : kLlamaCpp) {
    std::vector<uint8_t> q(*quantized_row_bytes(e.type, test::kDigestCols) * test::kDigestRows);
    ASSERT_TRUE(quantize_tensor(e.type, x.data(), test::kDigestRows, test::kDigestCols, q.data()).ok());
    EXPECT_EQ(hex(test::fnv1a64(q.data(), q.size())), hex(e.ref)) << dtype_name(e.type);
  }
}

TEST(LlamaCppDigest, ImportanceQuantizersMatch) {
  const std::vector<float> x = test::digest_input(), w = test::digest_importance();
  for (const Expected& e : kLlamaCpp) {
    if (!e.importance) continue;
    std::vector<uint8_t> q(*quantized_row_bytes(e.type, test::kDigestCols) * test::kDigestRows);
    ASSERT_TRUE(
        quantize_tensor(e.type, x.data(), test::kDigestRows, test::kDigestCols, q.data(), w.data()).ok());
    EXPECT_EQ(hex(test::fnv1a64(q.data(), q.size())), hex(e.importance)) << dtype_name(e.type);
  }
}

}  // namespace
}  // namespace cartlm
