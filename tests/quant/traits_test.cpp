// The traits table and the tensor-level API: no empty slot, geometry agrees with dtype_info and
// REFERENCE.md §1.4, the documented dot-product pairing, and the errors of quantize_tensor.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant_test_util.h"

namespace cartlm {
namespace {

using test::all_formats;
using test::Data;
using test::make_data;

TEST(QuantTraits, EveryListedFormatHasAFullRow) {
  std::set<DType> seen;
  for (const test::FormatSpec& s : all_formats()) {
    const QuantTraits* tr = quant_traits(s.type);
    ASSERT_NE(tr, nullptr) << dtype_name(s.type);
    EXPECT_EQ(tr->type, s.type);
    EXPECT_STREQ(tr->name, dtype_name(s.type));
    EXPECT_NE(tr->quantize_row_ref, nullptr) << tr->name;
    EXPECT_NE(tr->quantize_row_importance, nullptr) << tr->name;
    EXPECT_NE(tr->dequantize_row, nullptr) << tr->name;
    EXPECT_NE(tr->vec_dot_ref, nullptr) << tr->name;
    ASSERT_NE(tr->vec_dot_name, nullptr) << tr->name;
    EXPECT_NE(std::string(tr->vec_dot_name).find("_ref"), std::string::npos);
    // The activation format has its own row, so a caller can always quantize activations.
    EXPECT_NE(quant_traits(tr->act_type), nullptr) << tr->name;
    seen.insert(s.type);
  }
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_EQ(all_quant_traits().size(), 12u);
}

TEST(QuantTraits, GeometryMatchesDtypeTableAndReference) {
  // REFERENCE.md §1.4: elements and bytes per block.
  const struct {
    DType t;
    int block, bytes;
  } kRef[] = {{DType::Q4_0, 32, 18}, {DType::Q4_1, 32, 20},  {DType::Q5_0, 32, 22},
              {DType::Q5_1, 32, 24}, {DType::Q8_0, 32, 34},  {DType::Q8_1, 32, 36},
              {DType::Q2_K, 256, 84}, {DType::Q3_K, 256, 110}, {DType::Q4_K, 256, 144},
              {DType::Q5_K, 256, 176}, {DType::Q6_K, 256, 210}, {DType::Q8_K, 256, 292}};
  for (const auto& r : kRef) {
    const QuantTraits* tr = quant_traits(r.t);
    ASSERT_NE(tr, nullptr);
    EXPECT_EQ(tr->block_size, r.block) << tr->name;
    EXPECT_EQ(tr->block_bytes, r.bytes) << tr->name;
    EXPECT_EQ(dtype_info(r.t)->block_size, (uint32_t)r.block) << tr->name;
    EXPECT_EQ(dtype_info(r.t)->block_bytes, (uint32_t)r.bytes) << tr->name;
  }
  EXPECT_EQ(sizeof(BlockQ4_K), 144u);
  EXPECT_EQ(sizeof(BlockQ8_K), 292u);
}

TEST(QuantTraits, DotProductPairingIsLlamaCpps) {
  // REFERENCE.md §2.2: Q4_0/Q5_0/Q8_0 · Q8_0, Q4_1/Q5_1 · Q8_1, K-quants · Q8_K.
  EXPECT_EQ(quant_traits(DType::Q4_0)->act_type, DType::Q8_0);
  EXPECT_EQ(quant_traits(DType::Q5_0)->act_type, DType::Q8_0);
  EXPECT_EQ(quant_traits(DType::Q8_0)->act_type, DType::Q8_0);
  EXPECT_EQ(quant_traits(DType::Q4_1)->act_type, DType::Q8_1);
  EXPECT_EQ(quant_traits(DType::Q5_1)->act_type, DType::Q8_1);
  for (DType t : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K})
    EXPECT_EQ(quant_traits(t)->act_type, DType::Q8_K) << dtype_name(t);
  EXPECT_FALSE(quant_traits(DType::Q8_1)->weight_format);
  EXPECT_FALSE(quant_traits(DType::Q8_K)->weight_format);
  EXPECT_TRUE(quant_traits(DType::Q4_K)->weight_format);
}

// One copy of the dot products: a weight format's row uses the kernels' scalar reference (what the
// scalar matmul table runs), paired with the activation type matmul() quantizes to.
TEST(QuantTraits, WeightFormatsUseTheKernelsScalarDots) {
  for (const QuantTraits& tr : all_quant_traits()) {
    if (!tr.weight_format) continue;
    EXPECT_EQ(tr.act_type, qdot_act_type(tr.type)) << tr.name;
    EXPECT_EQ(tr.vec_dot_ref, qdot_fn(scalar_kernels(), tr.type)) << tr.name;
  }
}

TEST(QuantTraits, PlainTypesHaveNoRow) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::I8, DType::NF4})
    EXPECT_EQ(quant_traits(t), nullptr) << dtype_name(t);
  EXPECT_TRUE(is_block_quantized(DType::Q6_K));
  EXPECT_FALSE(is_block_quantized(DType::F16));
}

TEST(QuantizedRowBytes, SizesAndErrors) {
  EXPECT_EQ(*quantized_row_bytes(DType::Q4_K, 2048), 8u * 144);
  EXPECT_EQ(*quantized_row_bytes(DType::Q8_0, 896), 28u * 34);
  EXPECT_EQ(*quantized_row_bytes(DType::F16, 7), 14u);
  EXPECT_EQ(*quantized_row_bytes(DType::F32, 3), 12u);
  Result<uint64_t> bad = quantized_row_bytes(DType::Q4_K, 896);  // Qwen2.5-0.5B hidden size
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("896"), std::string::npos) << bad.message();
  EXPECT_NE(bad.message().find("256"), std::string::npos) << bad.message();
  EXPECT_FALSE(quantized_row_bytes(DType::Q8_0, 0).ok());
  EXPECT_FALSE(quantized_row_bytes(DType::Q8_0, -32).ok());
  EXPECT_FALSE(quantized_row_bytes(DType::I32, 32).ok());
  EXPECT_FALSE(quantized_row_bytes(DType::NF4, 64).ok());
}

TEST(QuantizeTensor, RejectsBadShapesAndValues) {
  std::vector<float> x = make_data(Data::Normal, 512, 1);
  std::vector<uint8_t> out(4096);
  Status s = quantize_tensor(DType::Q4_K, x.data(), 2, 250, out.data());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("250"), std::string::npos) << s.message();
  EXPECT_FALSE(quantize_tensor(DType::Q4_0, x.data(), -1, 32, out.data()).ok());
  EXPECT_FALSE(quantize_tensor(DType::I8, x.data(), 1, 32, out.data()).ok());

  std::vector<float> imp(256, 1.0f);
  imp[17] = -1.0f;
  s = quantize_tensor(DType::Q4_K, x.data(), 2, 256, out.data(), imp.data());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("importance[17]"), std::string::npos) << s.message();
  imp[17] = NAN;
  EXPECT_FALSE(quantize_tensor(DType::Q4_K, x.data(), 2, 256, out.data(), imp.data()).ok());
  imp[17] = 1.0f;
  s = quantize_tensor(DType::Q8_K, x.data(), 2, 256, out.data(), imp.data());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("activation"), std::string::npos) << s.message();

  x[300] = INFINITY;  // row 1, column 44
  s = quantize_tensor(DType::Q8_0, x.data(), 2, 256, out.data());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("row 1 column 44"), std::string::npos) << s.message();
}

TEST(QuantizeTensor, ZeroRowsIsANoOp) {
  std::vector<uint8_t> out(8, 0xAB);
  ASSERT_TRUE(quantize_tensor(DType::Q6_K, nullptr, 0, 256, out.data()).ok());
  EXPECT_EQ(out[0], 0xAB);
}

// Multi-row output equals row-by-row quantization (the reference quantizers of llama.cpp run over
// the whole tensor at once; rows are independent because every block is), with or without a pool.
TEST(QuantizeTensor, MultiRowEqualsPerRowAndPoolDoesNotChangeBytes) {
  ThreadPool pool(3);
  const int64_t rows = 7;
  for (const test::FormatSpec& spec : all_formats()) {
    const DType t = spec.type;
    const int64_t cols = 3 * test::block_size_of(t);
    std::vector<float> x = make_data(Data::Normal, (size_t)(rows * cols), 7);
    const uint64_t rb = *quantized_row_bytes(t, cols);
    std::vector<uint8_t> whole(rows * rb), pooled(rows * rb), single(rb);
    ASSERT_TRUE(quantize_tensor(t, x.data(), rows, cols, whole.data()).ok());
    ASSERT_TRUE(quantize_tensor(t, x.data(), rows, cols, pooled.data(), nullptr, &pool).ok());
    EXPECT_EQ(whole, pooled) << dtype_name(t);
    for (int64_t r = 0; r < rows; ++r) {
      quant_traits(t)->quantize_row_ref(x.data() + r * cols, single.data(), cols);
      EXPECT_EQ(0, std::memcmp(single.data(), whole.data() + r * rb, rb)) << dtype_name(t) << " row " << r;
    }
    std::vector<float> back(rows * cols), back_pooled(rows * cols);
    ASSERT_TRUE(dequantize_tensor(t, whole.data(), rows, cols, back.data()).ok());
    ASSERT_TRUE(dequantize_tensor(t, whole.data(), rows, cols, back_pooled.data(), &pool).ok());
    EXPECT_EQ(back, back_pooled) << dtype_name(t);
    std::vector<float> row(cols);
    quant_traits(t)->dequantize_row(whole.data() + 4 * rb, row.data(), cols);
    EXPECT_EQ(0, std::memcmp(row.data(), back.data() + 4 * cols, cols * sizeof(float)));
  }
}

TEST(QuantizeTensor, ImportanceRowsUseTheSharedColumnWeights) {
  const int64_t rows = 3, cols = 512;
  std::vector<float> x = make_data(Data::Normal, rows * cols, 9);
  std::vector<float> imp = make_data(Data::ShiftedUniform, cols, 10);
  for (float& v : imp) v = std::fabs(v) + 0.01f;
  for (DType t : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q4_0,
                  DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0}) {
    const uint64_t rb = *quantized_row_bytes(t, cols);
    std::vector<uint8_t> whole(rows * rb), single(rb);
    ASSERT_TRUE(quantize_tensor(t, x.data(), rows, cols, whole.data(), imp.data()).ok());
    for (int64_t r = 0; r < rows; ++r) {
      quant_traits(t)->quantize_row_importance(x.data() + r * cols, single.data(), cols, imp.data());
      EXPECT_EQ(0, std::memcmp(single.data(), whole.data() + r * rb, rb)) << dtype_name(t);
    }
  }
}

TEST(QuantizeTensor, PlainFloatTargets) {
  std::vector<float> x = {1.0f, -2.5f, 65504.0f, 1e-8f, 3.14159f, 70000.0f};
  std::vector<uint16_t> h(6);
  ASSERT_TRUE(quantize_tensor(DType::F16, x.data(), 2, 3, h.data()).ok());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(h[i], fp32_to_fp16(x[i])) << i;
  ASSERT_TRUE(quantize_tensor(DType::BF16, x.data(), 1, 6, h.data()).ok());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(h[i], fp32_to_bf16(x[i])) << i;
  std::vector<float> back(6);
  ASSERT_TRUE(dequantize_tensor(DType::BF16, h.data(), 3, 2, back.data()).ok());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(back[i], bf16_to_fp32(h[i])) << i;
  std::vector<float> copy(6);
  ASSERT_TRUE(quantize_tensor(DType::F32, x.data(), 6, 1, copy.data()).ok());
  EXPECT_EQ(copy, x);
}

}  // namespace
}  // namespace cartlm
