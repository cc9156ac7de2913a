// Quantization mixes: per-tensor types derived by hand from llama.cpp's llama_tensor_get_type
// rules (src/llama-quant.cpp) for small llama shapes.
#include "quant/mix.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace cartlm {
namespace {

// A dense llama model's tensors in GGUF naming, deliberately not in llama.cpp's order.
std::vector<MixTensor> llama_tensors(int64_t layers, int64_t hidden, int64_t ffn, int64_t q,
                                     int64_t kv, int64_t vocab, bool tied) {
  std::vector<MixTensor> t;
  t.push_back({"token_embd.weight", DType::F16, {hidden, vocab}});
  for (int64_t i = layers - 1; i >= 0; --i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    t.push_back({p + "attn_norm.weight", DType::F32, {hidden}});
    t.push_back({p + "attn_q.weight", DType::F16, {hidden, q}});
    t.push_back({p + "attn_k.weight", DType::F16, {hidden, kv}});
    t.push_back({p + "attn_v.weight", DType::F16, {hidden, kv}});
    t.push_back({p + "attn_output.weight", DType::F16, {q, hidden}});
    t.push_back({p + "ffn_norm.weight", DType::F32, {hidden}});
    t.push_back({p + "ffn_gate.weight", DType::F16, {hidden, ffn}});
    t.push_back({p + "ffn_up.weight", DType::F16, {hidden, ffn}});
    t.push_back({p + "ffn_down.weight", DType::F16, {ffn, hidden}});
  }
  t.push_back({"output_norm.weight", DType::F32, {hidden}});
  if (!tied) t.push_back({"output.weight", DType::F16, {hidden, vocab}});
  return t;
}

std::map<std::string, DType> plan(const std::string& mix, const std::vector<MixTensor>& t,
                                  MixModel m, bool imatrix = false) {
  auto qm = quant_mix_from_name(mix);
  EXPECT_TRUE(qm.ok()) << qm.message();
  auto p = plan_quant_mix(*qm, m, t, imatrix);
  EXPECT_TRUE(p.ok()) << p.message();
  std::map<std::string, DType> out;
  for (size_t i = 0; i < t.size(); ++i) out[t[i].name] = p->types[i];
  return out;
}

// The tiny preset: 6 layers, hidden 256, ffn 768, 8 heads / 4 kv heads of 32, tied embeddings.
const MixModel kTiny{6, 8, 4};
std::vector<MixTensor> tiny() { return llama_tensors(6, 256, 768, 256, 128, 2048, true); }

TEST(QuantMix, Q4KMBumpsAttnVAndFfnDownWhereUseMoreBits) {
  auto p = plan("Q4_K_M", tiny(), kTiny);
  // use_more_bits(i, 6): i < 0 || i >= 5 || i % 3 == 2 -> layers 2 and 5.
  for (int i = 0; i < 6; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    const DType bumped = (i == 2 || i == 5) ? DType::Q6_K : DType::Q4_K;
    EXPECT_EQ(p[b + "attn_v.weight"], bumped) << i;
    EXPECT_EQ(p[b + "ffn_down.weight"], bumped) << i;
    EXPECT_EQ(p[b + "attn_q.weight"], DType::Q4_K);
    EXPECT_EQ(p[b + "attn_k.weight"], DType::Q4_K);
    EXPECT_EQ(p[b + "attn_output.weight"], DType::Q4_K);
    EXPECT_EQ(p[b + "ffn_gate.weight"], DType::Q4_K);
    EXPECT_EQ(p[b + "attn_norm.weight"], DType::F32);
  }
  // Tied: the embedding follows the output rule.
  EXPECT_EQ(p["token_embd.weight"], DType::Q6_K);
  EXPECT_EQ(p["output_norm.weight"], DType::F32);
}

TEST(QuantMix, UntiedEmbeddingKeepsDefaultAndOutputGetsQ6K) {
  auto t = llama_tensors(6, 256, 768, 256, 128, 2048, false);
  auto p = plan("Q4_K_S", t, kTiny);
  EXPECT_EQ(p["token_embd.weight"], DType::Q4_K);
  EXPECT_EQ(p["output.weight"], DType::Q6_K);
  // Q4_K_S: attn_v of the first 4 layers Q5_K; ffn_down below n/8 = 0: none.
  for (int i = 0; i < 6; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    EXPECT_EQ(p[b + "attn_v.weight"], i < 4 ? DType::Q5_K : DType::Q4_K) << i;
    EXPECT_EQ(p[b + "ffn_down.weight"], DType::Q4_K) << i;
  }
  auto q8 = plan("Q8_0", t, kTiny);
  EXPECT_EQ(q8["output.weight"], DType::Q8_0);
  EXPECT_EQ(q8["blk.3.attn_v.weight"], DType::Q8_0);
}

TEST(QuantMix, Q3KMixes) {
  // 32 layers so that n/16 = 2 and n/8 = 4 select something.
  auto t = llama_tensors(32, 256, 768, 256, 128, 2048, false);
  const MixModel m{32, 8, 4};
  auto s = plan("Q3_K_S", t, m);
  auto mm = plan("Q3_K_M", t, m);
  auto l = plan("Q3_K_L", t, m);
  for (int i = 0; i < 32; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    EXPECT_EQ(s[b + "attn_v.weight"], DType::Q3_K);
    EXPECT_EQ(s[b + "ffn_down.weight"], DType::Q3_K);
    EXPECT_EQ(mm[b + "attn_v.weight"], i < 2 ? DType::Q5_K : DType::Q4_K) << i;
    EXPECT_EQ(mm[b + "ffn_down.weight"], i < 2 ? DType::Q5_K : DType::Q4_K) << i;
    EXPECT_EQ(mm[b + "attn_output.weight"], DType::Q4_K);
    EXPECT_EQ(mm[b + "attn_q.weight"], DType::Q3_K);
    EXPECT_EQ(l[b + "attn_v.weight"], DType::Q5_K);
    EXPECT_EQ(l[b + "ffn_down.weight"], DType::Q5_K);
    EXPECT_EQ(l[b + "attn_output.weight"], DType::Q5_K);
  }
  EXPECT_EQ(mm["output.weight"], DType::Q6_K);
}

TEST(QuantMix, Q2KDependsOnGqa) {
  auto t = tiny();
  // n_head / n_head_kv = 2 < 4: attn_v Q3_K; with 8 / 2 = 4: Q4_K.
  auto a = plan("Q2_K", t, kTiny);
  EXPECT_EQ(a["blk.0.attn_v.weight"], DType::Q3_K);
  EXPECT_EQ(a["blk.0.ffn_down.weight"], DType::Q3_K);
  EXPECT_EQ(a["blk.0.attn_output.weight"], DType::Q3_K);
  EXPECT_EQ(a["blk.0.attn_q.weight"], DType::Q2_K);
  auto b = plan("Q2_K", t, MixModel{6, 8, 2});
  EXPECT_EQ(b["blk.0.attn_v.weight"], DType::Q4_K);
}

TEST(QuantMix, ImatrixChangesOnlyQ4_0AndQ5_0FfnDown) {
  auto t = llama_tensors(16, 256, 768, 256, 128, 2048, false);
  const MixModel m{16, 8, 4};
  auto without = plan("Q4_0", t, m, false);
  auto with = plan("Q4_0", t, m, true);
  EXPECT_EQ(without["blk.0.ffn_down.weight"], DType::Q4_0);
  EXPECT_EQ(with["blk.0.ffn_down.weight"], DType::Q4_1);
  EXPECT_EQ(with["blk.1.ffn_down.weight"], DType::Q4_1);
  EXPECT_EQ(with["blk.2.ffn_down.weight"], DType::Q4_0);
  EXPECT_EQ(plan("Q5_0", t, m, true)["blk.0.ffn_down.weight"], DType::Q5_1);
}

TEST(QuantMix, FallbacksWhenRowsAreNotMultiplesOf256) {
  // SmolLM2-135M: hidden 576 = 2.25 x 256, ffn 1536 = 6 x 256, 9 / 3 heads, tied.
  auto t = llama_tensors(30, 576, 1536, 576, 192, 49152, true);
  auto qm = quant_mix_from_name("Q4_K_M");
  auto p = plan_quant_mix(*qm, MixModel{30, 9, 3}, t, false);
  ASSERT_TRUE(p.ok());
  std::map<std::string, DType> m;
  for (size_t i = 0; i < t.size(); ++i) m[t[i].name] = p->types[i];
  // Tied embedding with 576 % 256 != 0: Q8_0 directly (the output rule, not a fallback).
  EXPECT_EQ(m["token_embd.weight"], DType::Q8_0);
  EXPECT_EQ(m["blk.4.attn_q.weight"], DType::Q5_0);    // Q4_K -> Q5_0
  EXPECT_EQ(m["blk.0.attn_v.weight"], DType::Q8_0);    // Q6_K -> Q8_0 (use_more_bits)
  EXPECT_EQ(m["blk.4.attn_v.weight"], DType::Q5_0);
  EXPECT_EQ(m["blk.4.ffn_down.weight"], DType::Q4_K);  // 1536 fits
  EXPECT_EQ(m["blk.0.ffn_down.weight"], DType::Q6_K);
  EXPECT_EQ(m["blk.0.attn_output.weight"], DType::Q5_0);
  // 30 layers x 6 matrices with 576 columns (q, k, v, gate, up) ... all but ffn_down fall back.
  EXPECT_EQ(p->n_fallback, 30 * 6);
  auto q5 = plan("Q5_K_S", t, MixModel{30, 9, 3});
  EXPECT_EQ(q5["blk.4.attn_q.weight"], DType::Q5_1);
  auto q3 = plan("Q3_K_S", t, MixModel{30, 9, 3});
  EXPECT_EQ(q3["blk.4.attn_q.weight"], DType::Q4_0);
  auto q6 = plan("Q6_K", t, MixModel{30, 9, 3});
  EXPECT_EQ(q6["blk.4.attn_q.weight"], DType::Q8_0);
}

TEST(QuantMix, FloatMixesConvertMatricesOnly) {
  auto p = plan("F32", tiny(), kTiny);
  EXPECT_EQ(p["token_embd.weight"], DType::F32);
  EXPECT_EQ(p["blk.0.attn_v.weight"], DType::F32);
  auto b = plan("BF16", tiny(), kTiny);
  EXPECT_EQ(b["blk.0.attn_v.weight"], DType::BF16);
  EXPECT_EQ(b["blk.0.attn_norm.weight"], DType::F32);
  // A [n, 1] tensor counts as 1-D (ggml_n_dims), and biases are never converted.
  EXPECT_FALSE(mix_converts_tensor("blk.0.attn_q.weight", {256, 1}));
  EXPECT_FALSE(mix_converts_tensor("blk.0.attn_q.bias", {256, 4}));
  EXPECT_TRUE(mix_converts_tensor("blk.0.attn_q.weight", {256, 4}));
}

TEST(QuantMix, OrderIsLayerThenName) {
  auto order = quant_mix_order({"blk.10.attn_q.weight", "token_embd.weight", "blk.2.ffn_up.weight",
                                "blk.2.attn_k.weight", "output_norm.weight"});
  EXPECT_EQ(order, (std::vector<size_t>{4, 1, 3, 2, 0}));
}

TEST(QuantMix, NamesAndFileTypes) {
  auto m = quant_mix_from_name("q4_k_m");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((uint32_t)m->file_type, 15u);
  EXPECT_EQ(m->default_type, DType::Q4_K);
  auto bad = quant_mix_from_name("Q4_K_X");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("Q5_K_M"), std::string::npos);
  EXPECT_EQ(file_type_name(7), "Q8_0");
  EXPECT_EQ(file_type_name(32), "BF16");
  EXPECT_EQ(file_type_name(19), "ftype 19");
  EXPECT_EQ(all_quant_mixes().size(), 17u);
}

}  // namespace
}  // namespace cartlm
