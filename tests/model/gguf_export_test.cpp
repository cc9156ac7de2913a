// GGUF export and import: names, the q/k permutation, and that an exported model loads back with
// the same config, tokenizer, metadata and (up to rope rounding) the same logits, for llama (q/k
// permuted, NORM rope) and qwen2 (not permuted, q/k/v bias). Quantizing an exported GGUF gives the
// same bytes as quantizing straight from the checkpoint.
#include "model/gguf_export.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

#include "core/rng.h"
#include "formats/hf_config.h"
#include "formats/intent_meta.h"
#include "formats/safetensors.h"
#include "model/init.h"
#include "model/load.h"
#include "quant/mix.h"
#include "quant/quant.h"
#include "temp_dir.h"

namespace cartlm {
namespace {

// DIR/name (not created) under one directory per test process, removed at exit.
std::string tmp_dir(const std::string& name) {
  static ScopedTempDir root("cartlm_gguf_export_test");
  return root.file(name);
}

std::string make_model(const std::string& preset);

// A qwen2 checkpoint: the tiny llama one with model_type qwen2 and random q/k/v biases (init's
// qwen2 preset keeps token ids beyond a small vocabulary).
std::string make_qwen2() {
  const std::string dir = tmp_dir("qwen2");
  if (std::filesystem::exists(dir + "/config.json")) return dir;
  const std::string src = make_model("tiny");
  std::filesystem::create_directories(dir);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "cartlm.json"})
    std::filesystem::copy_file(src + "/" + f, dir + "/" + f,
                               std::filesystem::copy_options::overwrite_existing);
  auto cfg = load_hf_config(src);
  EXPECT_TRUE(cfg.ok()) << cfg.message();
  Config c = *cfg;
  c.arch = Arch::Qwen2;
  c.attention_bias = true;
  EXPECT_TRUE(save_hf_config(dir + "/config.json", c).ok());
  auto ck = load_checkpoint_tensors(src);
  EXPECT_TRUE(ck.ok()) << ck.message();
  std::vector<TensorView> views;
  for (const auto& [name, v] : ck->tensors) views.push_back(v);
  std::vector<std::vector<float>> biases;
  Rng rng(5);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    for (const char* b : {"q", "k", "v"}) {
      const int64_t n = std::string(b) == "q" ? c.q_dim() : c.kv_dim();
      auto& buf = biases.emplace_back((size_t)n);
      for (float& x : buf) x = (float)(rng.uniform_double() - 0.5);
      views.push_back({hf_layer_prefix(i) + "self_attn." + b + "_proj.bias", DType::F32, {n},
                       buf.data(), buf.size() * sizeof(float)});
    }
  }
  EXPECT_TRUE(write_safetensors(dir + "/model.safetensors", views).ok());
  return dir;
}

// A small random checkpoint (init with shape overrides); created once per preset.
std::string make_model(const std::string& preset) {
  if (preset == "qwen2") return make_qwen2();
  const std::string dir = tmp_dir(preset);
  if (std::filesystem::exists(dir + "/config.json")) return dir;
  InitOptions o;
  o.preset = preset;
  o.out_dir = dir;
  o.dtype = "f32";
  o.seed = 7;
  o.force = true;
  o.hidden = 64;
  o.layers = 2;
  o.heads = 4;
  o.kv_heads = 2;
  o.ffn = 256;
  o.vocab = 384;
  o.progress = false;
  auto r = init_checkpoint(o);
  EXPECT_TRUE(r.ok()) << r.message();
  IntentMeta meta;
  meta.products = {"Lip Balm", "Green Tea"};
  meta.text_normalization = TextNormalization::fold;  // as the tiny model is trained
  EXPECT_TRUE(save_intent_meta(dir, meta).ok());
  return dir;
}

std::vector<float> last_logits(const LoadedModel& m, const std::vector<int32_t>& toks) {
  auto s = llama_session(m.model, LlamaSessionOptions{64});
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(llama_forward(m.model, *s, toks).ok());
  const float* l = llama_logits(*s);
  return std::vector<float>(l, l + s->vocab);
}

TEST(GgufNames, MapBothWays) {
  EXPECT_EQ(gguf_tensor_name("model.layers.12.self_attn.q_proj.weight"), "blk.12.attn_q.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.0.mlp.down_proj.weight"), "blk.0.ffn_down.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.3.self_attn.k_proj.bias"), "blk.3.attn_k.bias");
  EXPECT_EQ(gguf_tensor_name("model.embed_tokens.weight"), "token_embd.weight");
  EXPECT_EQ(gguf_tensor_name("lm_head.weight"), "output.weight");
  EXPECT_EQ(gguf_tensor_name("model.norm.weight"), "output_norm.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.x.mlp.up_proj.weight"), "");
  EXPECT_EQ(gguf_tensor_name("model.rotary_emb.inv_freq"), "");
  EXPECT_EQ(hf_tensor_name("blk.5.ffn_norm.weight"), "model.layers.5.post_attention_layernorm.weight");
  EXPECT_EQ(hf_tensor_name("output.weight"), "lm_head.weight");
  EXPECT_EQ(hf_tensor_name("rope_freqs.weight"), "");
  EXPECT_EQ(hf_tensor_name("blk.1.attn_qkv.weight"), "");
}

TEST(GgufNames, PermutationInterleavesHalves) {
  // 2 heads of head_dim 4, one byte per row: rows 0..7.
  const uint8_t src[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  uint8_t dst[8], back[8];
  permute_qk_rows(src, dst, 2, 4, 1);
  // new 2i = old i, new 2i+1 = old i + 2 within each head.
  const uint8_t want[8] = {0, 2, 1, 3, 4, 6, 5, 7};
  EXPECT_EQ(0, std::memcmp(dst, want, 8));
  unpermute_qk_rows(dst, back, 2, 4, 1);
  EXPECT_EQ(0, std::memcmp(back, src, 8));
}

void round_trip(const std::string& preset) {
  const std::string dir = make_model(preset);
  auto hf = load_model(dir);
  ASSERT_TRUE(hf.ok()) << hf.message();
  const std::string path = tmp_dir(preset + "-f32.gguf");
  GgufExportOptions opt;
  opt.type = "F32";
  opt.threads = 2;
  auto st = export_gguf(**hf, path, opt);
  ASSERT_TRUE(st.ok()) << st.message();

  auto gg = load_model(path);
  ASSERT_TRUE(gg.ok()) << gg.message();
  EXPECT_EQ((*gg)->format, ModelFormat::Gguf);
  EXPECT_EQ((*gg)->weight_type, "F32");
  // Everything GGUF stores; torch_dtype and initializer_range are HF-only.
  Config want = (*hf)->model.config;
  Config got = (*gg)->model.config;
  got.torch_dtype = want.torch_dtype;
  got.initializer_range = want.initializer_range;
  EXPECT_TRUE(got == want) << describe_config(got) << "vs\n" << describe_config(want);
  EXPECT_EQ((*gg)->model.rope_mode,
            (*hf)->model.config.arch == Arch::Llama ? RopeMode::Norm : RopeMode::Neox);
  EXPECT_EQ((*gg)->tokenizer.tokens, (*hf)->tokenizer.tokens);
  EXPECT_EQ((*gg)->tokenizer.merges, (*hf)->tokenizer.merges);
  EXPECT_TRUE((*gg)->has_meta);
  EXPECT_EQ((*gg)->meta.products, (std::vector<std::string>{"Lip Balm", "Green Tea"}));
  EXPECT_EQ((*gg)->meta, (*hf)->meta);  // prompt template, products and text normalization

  // Same logits: the permuted q/k with NORM rope compute the same attention as HF order with NEOX.
  const std::vector<int32_t> toks = {1, 17, 200, 33, 5, 99, 250};
  auto a = last_logits(**hf, toks);
  auto b = last_logits(**gg, toks);
  ASSERT_EQ(a.size(), b.size());
  double max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_diff = std::max(max_diff, (double)std::fabs(a[i] - b[i]));
    max_abs = std::max(max_abs, (double)std::fabs(a[i]));
  }
  EXPECT_LT(max_diff, 1e-4 * std::max(1.0, max_abs)) << preset;

  // The GGUF written from the GGUF (F32 -> F32) keeps every tensor byte.
  const std::string again = tmp_dir(preset + "-f32-again.gguf");
  auto st2 = export_gguf(**gg, again, opt);
  ASSERT_TRUE(st2.ok()) << st2.message();
  auto f1 = open_gguf(path);
  auto f2 = open_gguf(again);
  ASSERT_TRUE(f1.ok() && f2.ok());
  ASSERT_EQ(f1->tensors.size(), f2->tensors.size());
  for (size_t i = 0; i < f1->tensors.size(); ++i) {
    const TensorView& x = f1->tensors[i].view;
    const TensorView& y = f2->tensors[i].view;
    EXPECT_EQ(x.name, y.name);
    ASSERT_EQ(x.nbytes, y.nbytes);
    EXPECT_EQ(0, std::memcmp(x.data, y.data, x.nbytes)) << x.name;
  }
}

TEST(GgufExport, LlamaRoundTrip) { round_trip("tiny"); }
TEST(GgufExport, Qwen2RoundTripWithBias) { round_trip("qwen2"); }

TEST(GgufExport, ArchitectureKeysAndLayout) {
  const std::string dir = make_model("tiny");
  auto hf = load_model(dir);
  ASSERT_TRUE(hf.ok()) << hf.message();
  const std::string path = tmp_dir("tiny-f16.gguf");
  GgufExportOptions opt;
  opt.type = "F16";
  ASSERT_TRUE(export_gguf(**hf, path, opt).ok());
  auto f = open_gguf(path);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(*f->get_string("general.architecture"), "llama");
  EXPECT_EQ(*f->get_u32("general.file_type"), 1u);
  EXPECT_EQ(*f->get_u32("llama.block_count"), 2u);
  EXPECT_EQ(*f->get_u32("llama.embedding_length"), 64u);
  EXPECT_EQ(*f->get_u32("llama.feed_forward_length"), 256u);
  EXPECT_EQ(*f->get_u32("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(*f->get_u32("llama.rope.dimension_count"), 16u);
  EXPECT_EQ(*f->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f->get_array_strings("tokenizer.ggml.tokens")->size(), 384u);
  EXPECT_TRUE(f->has("cartlm.prompt_template"));
  // Matrices F16, norms F32, tied: no output.weight; llama-quantize's order (layer, then name).
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->view.dtype, DType::F16);
  EXPECT_EQ(f->find_tensor("blk.0.attn_norm.weight")->view.dtype, DType::F32);
  EXPECT_EQ(f->find_tensor("output.weight"), nullptr);
  EXPECT_EQ(f->tensors.front().view.name, "output_norm.weight");
  EXPECT_EQ(f->tensors.back().view.name, "blk.1.ffn_up.weight");
  // q is stored permuted: row 1 of head 0 in the file is row head_dim/2 of the checkpoint.
  const TensorView& q_hf = (*hf)->model.weights.layers[0].wq;
  const TensorView& q_gg = f->find_tensor("blk.0.attn_q.weight")->view;
  const int64_t cols = 64, half = 8;
  for (int64_t c = 0; c < cols; ++c) {
    EXPECT_EQ(((const uint16_t*)q_gg.data)[cols + c], fp32_to_fp16(q_hf.as<float>()[half * cols + c]));
  }
}

TEST(GgufExport, QuantizingTheExportEqualsQuantizingTheCheckpoint) {
  const std::string dir = make_model("tiny");
  auto hf = load_model(dir);
  ASSERT_TRUE(hf.ok()) << hf.message();
  GgufExportOptions f32;
  f32.type = "F32";
  const std::string base = tmp_dir("tiny-base.gguf");
  ASSERT_TRUE(export_gguf(**hf, base, f32).ok());
  auto gg = load_model(base);
  ASSERT_TRUE(gg.ok()) << gg.message();
  for (const char* type : {"Q8_0", "Q4_K_M", "Q3_K_L", "Q5_1"}) {
    GgufExportOptions q;
    q.type = type;
    const std::string a = tmp_dir(std::string("tiny-direct-") + type + ".gguf");
    const std::string b = tmp_dir(std::string("tiny-via-") + type + ".gguf");
    auto sa = export_gguf(**hf, a, q);
    auto sb = export_gguf(**gg, b, q);
    ASSERT_TRUE(sa.ok() && sb.ok()) << type;
    auto fa = open_gguf(a);
    auto fb = open_gguf(b);
    ASSERT_TRUE(fa.ok() && fb.ok());
    ASSERT_EQ(fa->tensors.size(), fb->tensors.size());
    for (size_t i = 0; i < fa->tensors.size(); ++i) {
      const TensorView& x = fa->tensors[i].view;
      const TensorView& y = fb->tensors[i].view;
      ASSERT_EQ(x.name, y.name);
      EXPECT_EQ(x.dtype, y.dtype) << x.name;
      ASSERT_EQ(x.nbytes, y.nbytes) << x.name;
      EXPECT_EQ(0, std::memcmp(x.data, y.data, x.nbytes)) << type << " " << x.name;
    }
    EXPECT_EQ(*fa->get_u32("general.file_type"), (uint32_t)quant_mix_from_name(type)->file_type);
    // And the quantized file loads and runs.
    auto qm = load_model(a);
    ASSERT_TRUE(qm.ok()) << type << ": " << qm.message();
    EXPECT_EQ((*qm)->weight_type, type);
  }
}

TEST(GgufExport, ImatrixWeightsTheQuantizer) {
  const std::string dir = make_model("tiny");
  auto hf = load_model(dir);
  ASSERT_TRUE(hf.ok()) << hf.message();
  Imatrix im;
  im.chunk_count = 1;
  im.chunk_size = 8;
  std::vector<float> sums(64);
  for (size_t i = 0; i < sums.size(); ++i) sums[i] = (float)(i % 7) + 0.5f;
  im.entries["blk.0.attn_q.weight"] = {sums, {8}};
  GgufExportOptions opt;
  opt.type = "Q4_0";
  opt.imatrix = &im;
  const std::string path = tmp_dir("tiny-imatrix.gguf");
  auto st = export_gguf(**hf, path, opt);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(st->imatrix_used, 1);
  EXPECT_FALSE(st->imatrix_missing.empty());
  auto f = open_gguf(path);
  ASSERT_TRUE(f.ok());
  const TensorView& q = f->find_tensor("blk.0.attn_q.weight")->view;
  // Expected: the permuted f32 rows quantized with importance sums / count.
  const TensorView& src = (*hf)->model.weights.layers[0].wq;
  std::vector<float> perm(64 * 64);
  permute_qk_rows((const uint8_t*)src.data, (uint8_t*)perm.data(), 4, 16, 64 * sizeof(float));
  std::vector<float> imp = imatrix_importance(im.entries["blk.0.attn_q.weight"], false);
  std::vector<uint8_t> want(q.nbytes), plain(q.nbytes);
  ASSERT_TRUE(quantize_tensor(DType::Q4_0, perm.data(), 64, 64, want.data(), imp.data()).ok());
  ASSERT_TRUE(quantize_tensor(DType::Q4_0, perm.data(), 64, 64, plain.data()).ok());
  EXPECT_EQ(0, std::memcmp(q.data, want.data(), q.nbytes));
  EXPECT_NE(0, std::memcmp(want.data(), plain.data(), q.nbytes));  // the weights mattered
  // Q4_0 with an imatrix bumps the first n/8 ffn_down: 2 layers -> n/8 = 0, none here.
  EXPECT_EQ(f->find_tensor("blk.0.ffn_down.weight")->view.dtype, DType::Q4_0);

  // A wrong-size entry is an error naming the tensor.
  im.entries["blk.0.attn_k.weight"] = {std::vector<float>(10, 1.0f), {1}};
  auto bad = export_gguf(**hf, tmp_dir("tiny-bad-imatrix.gguf"), opt);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("blk.0.attn_k.weight"), std::string::npos) << bad.message();
}

TEST(GgufExport, BadTypeAndBadFiles) {
  const std::string dir = make_model("tiny");
  auto hf = load_model(dir);
  ASSERT_TRUE(hf.ok());
  GgufExportOptions opt;
  opt.type = "Q4_K_X";
  auto r = export_gguf(**hf, tmp_dir("never.gguf"), opt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("Q4_K_X"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(tmp_dir("never.gguf")));
  // A GGUF without model keys is refused with the key named.
  const std::string empty = tmp_dir("empty.gguf");
  ASSERT_TRUE(write_gguf(empty, {{"general.architecture", GgufValue::string("llama")}}, {}).ok());
  auto e = load_model(empty);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.message().find("llama.embedding_length"), std::string::npos) << e.message();
  const std::string gpt = tmp_dir("gpt.gguf");
  ASSERT_TRUE(write_gguf(gpt, {{"general.architecture", GgufValue::string("gptneox")}}, {}).ok());
  auto g = load_model(gpt);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.message().find("gptneox"), std::string::npos) << g.message();
}

}  // namespace
}  // namespace cartlm
