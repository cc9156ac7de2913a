#include "model/weights.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "formats/safetensors.h"
#include "model/config.h"

using namespace cartlm;

namespace {

// A small GQA config (2 layers) so tests build every tensor quickly.
Config small_config(bool bias = false, bool tied = true) {
  Config c = *preset_config("tiny");
  c.num_hidden_layers = 2;
  c.vocab_size = 64;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.attention_bias = bias;
  c.tie_word_embeddings = tied;
  return c;
}

// Owns F32 storage for every expected tensor (filled with its index, so views are traceable).
struct Store {
  std::vector<std::vector<float>> buffers;
  TensorMap map;
  explicit Store(const Config& c) {
    auto expected = expected_tensors(c);
    for (const auto& e : expected) add(e.name, e.shape, (float)buffers.size());
  }
  void add(const std::string& name, std::vector<int64_t> shape, float fill = 0) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    buffers.emplace_back((size_t)n, fill);
    map[name] = TensorView{name, DType::F32, shape, buffers.back().data(), (uint64_t)n * 4};
  }
};

void expect_error(const Config& c, const TensorMap& m, const std::string& needle) {
  auto r = bind_weights(c, m);
  ASSERT_FALSE(r.ok()) << "expected: " << needle;
  EXPECT_EQ(r.message(), needle);
}

}  // namespace


TEST(Weights, BindsEveryTensorOfACompleteMap) {
  Config c = small_config();
  Store s(c);
  s.add("model.rotary_emb.inv_freq", {4});  // present in some old checkpoints; ignored
  auto r = bind_weights(c, s.map);
  ASSERT_TRUE(r.ok()) << r.message();
  const ModelWeights& w = *r;
  ASSERT_EQ(w.layers.size(), 2u);
  EXPECT_EQ(w.embed.data, s.map.at("model.embed_tokens.weight").data);
  EXPECT_EQ(w.lm_head.data, w.embed.data) << "tied: lm_head reuses the embedding";
  EXPECT_EQ(w.final_norm.shape, (std::vector<int64_t>{32}));
  const LayerWeights& l1 = w.layers[1];
  EXPECT_EQ(l1.wq.name, "model.layers.1.self_attn.q_proj.weight");
  EXPECT_EQ(l1.wq.shape, (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(l1.wk.shape, (std::vector<int64_t>{16, 32}));
  EXPECT_EQ(l1.wo.shape, (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(l1.w_down.shape, (std::vector<int64_t>{32, 48}));
  EXPECT_EQ(l1.w_up.data, s.map.at("model.layers.1.mlp.up_proj.weight").data);
  EXPECT_EQ(l1.ffn_norm.data, s.map.at("model.layers.1.post_attention_layernorm.weight").data);
  EXPECT_FALSE(l1.bq.present());
  EXPECT_EQ(w.unused, std::vector<std::string>{"model.rotary_emb.inv_freq"});
  EXPECT_EQ(expected_tensors(c).size(), 1 + 2 * 9 + 1u);
}

TEST(Weights, BiasAndUntiedHeadAreRequiredWhenConfigured) {
  Config c = small_config(/*bias=*/true, /*tied=*/false);
  Store s(c);
  auto r = bind_weights(c, s.map);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE(r->layers[0].bq.present());
  EXPECT_EQ(r->layers[0].bk.shape, (std::vector<int64_t>{16}));
  EXPECT_EQ(r->lm_head.data, s.map.at("lm_head.weight").data);
  EXPECT_NE(r->lm_head.data, r->embed.data);

  TensorMap m = s.map;
  m.erase("model.layers.1.self_attn.v_proj.bias");
  expect_error(c, m, "missing tensor model.layers.1.self_attn.v_proj.bias");
  m = s.map;
  m.erase("lm_head.weight");
  expect_error(c, m, "missing tensor lm_head.weight");
}

TEST(Weights, ReportsTheFirstProblemWithNameAndShapes) {
  Config c = small_config();
  Store s(c);
  TensorMap m = s.map;
  m.erase("model.layers.1.mlp.up_proj.weight");
  expect_error(c, m, "missing tensor model.layers.1.mlp.up_proj.weight");

  m = s.map;
  m["model.layers.0.self_attn.k_proj.weight"].shape = {32, 32};
  expect_error(c, m, "tensor model.layers.0.self_attn.k_proj.weight has shape [32, 32], "
                     "expected [16, 32]");

  m = s.map;
  m["model.norm.weight"].dtype = DType::I32;
  expect_error(c, m, "tensor model.norm.weight has dtype I32, expected F32, F16 or BF16");

  m = s.map;
  m["model.layers.0.input_layernorm.weight"].dtype = DType::Q8_0;
  expect_error(c, m, "tensor model.layers.0.input_layernorm.weight has dtype Q8_0, expected "
                     "F32, F16 or BF16");

  m = s.map;
  m["model.layers.0.mlp.gate_proj.weight"].nbytes -= 4;
  expect_error(c, m, "tensor model.layers.0.mlp.gate_proj.weight holds 6140 bytes, expected "
                     "6144 for F32 [48, 32]");

  // A tied model may carry lm_head.weight, but it has to fit.
  m = s.map;
  s.add("lm_head.weight", {64, 16});
  m["lm_head.weight"] = s.map.at("lm_head.weight");
  expect_error(c, m, "tensor lm_head.weight has shape [64, 16], expected [64, 32]");
}

TEST(Weights, AcceptsBlockQuantizedMatrices) {
  Config c = small_config();
  Store s(c);
  TensorMap m = s.map;
  // Q8_0: blocks of 32 elements in 34 bytes. gate_proj is [48, 32]: 48 rows of one block.
  std::vector<uint8_t> q(48 * 34);
  TensorView& g = m["model.layers.0.mlp.gate_proj.weight"];
  g.dtype = DType::Q8_0;
  g.data = q.data();
  g.nbytes = q.size();
  auto r = bind_weights(c, m);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->layers[0].w_gate.dtype, DType::Q8_0);
  // down_proj rows are 48 long: not a multiple of 32.
  TensorView& d = m["model.layers.0.mlp.down_proj.weight"];
  d.dtype = DType::Q8_0;
  expect_error(c, m, "tensor model.layers.0.mlp.down_proj.weight: row length 48 is not a "
                     "multiple of the Q8_0 block size 32");
}

TEST(Weights, BindsACheckpointWrittenAndReadBack) {
  Config c = small_config(/*bias=*/true, /*tied=*/true);
  Store s(c);
  std::vector<TensorView> views;
  for (const auto& e : expected_tensors(c)) views.push_back(s.map.at(e.name));
  auto dir = std::filesystem::temp_directory_path() /
             ("cartlm_weights_" + std::to_string(::getpid()));
  std::vector<std::vector<TensorView>> shards(2);
  for (size_t i = 0; i < views.size(); ++i)
    shards[i < views.size() / 2 ? 0 : 1].push_back(views[i]);
  ASSERT_TRUE(write_sharded_checkpoint(dir.string(), shards).ok());
  ASSERT_TRUE(save_hf_config((dir / "config.json").string(), c).ok());

  auto cfg = load_hf_config(dir.string());
  ASSERT_TRUE(cfg.ok()) << cfg.message();
  auto ck = load_checkpoint_tensors(dir.string());
  ASSERT_TRUE(ck.ok()) << ck.message();
  auto w = bind_weights(*cfg, ck->tensors);
  ASSERT_TRUE(w.ok()) << w.message();
  EXPECT_TRUE(w->unused.empty());
  // The values are the fill index of each tensor, so a mix-up of views would show.
  const float* bv = w->layers[1].bv.as<float>();
  EXPECT_EQ(bv[0], s.map.at("model.layers.1.self_attn.v_proj.bias").as<float>()[0]);
  EXPECT_NE(bv[0], s.map.at("model.layers.1.self_attn.k_proj.bias").as<float>()[0]);
  EXPECT_EQ(w->layers[1].w_down.as<float>()[5],
            s.map.at("model.layers.1.mlp.down_proj.weight").as<float>()[5]);
  std::filesystem::remove_all(dir);
}
