#include "formats/hf_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <type_traits>

#include "core/file_io.h"
#include "formats/config.h"

using namespace cartlm;

namespace {

// meta-llama/Llama-3.2-1B config.json as published.
const char* kLlama32_1B = R"({
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": 128001,
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 16,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 32.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
})";

// HuggingFaceTB/SmolLM2-135M config.json.
const char* kSmolLM2 = R"({
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 0,
  "eos_token_id": 0,
  "hidden_act": "silu",
  "hidden_size": 576,
  "initializer_range": 0.041666666666666664,
  "intermediate_size": 1536,
  "is_llama_config": true,
  "max_position_embeddings": 8192,
  "model_type": "llama",
  "num_attention_heads": 9,
  "num_hidden_layers": 30,
  "num_key_value_heads": 3,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_interleaved": false,
  "rope_scaling": null,
  "rope_theta": 100000,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.42.3",
  "use_cache": true,
  "vocab_size": 49152
})";

// Qwen/Qwen2.5-0.5B config.json (no attention_bias key: Qwen2 always has q/k/v bias).
const char* kQwen25 = R"({
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151643,
  "hidden_act": "silu",
  "hidden_size": 896,
  "initializer_range": 0.02,
  "intermediate_size": 4864,
  "max_position_embeddings": 32768,
  "max_window_layers": 24,
  "model_type": "qwen2",
  "num_attention_heads": 14,
  "num_hidden_layers": 24,
  "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 32768,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.40.1",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
})";

json base_json() { return json::parse(kLlama32_1B); }

void expect_error(const json& j, const std::string& needle) {
  auto r = parse_hf_config(j);
  ASSERT_FALSE(r.ok()) << "expected error containing: " << needle;
  EXPECT_NE(r.message().find(needle), std::string::npos) << r.message();
  EXPECT_EQ(r.message().find('\n'), std::string::npos) << r.message();
}

Config preset(const std::string& name) {
  auto r = preset_config(name);
  EXPECT_TRUE(r.ok()) << r.message();
  return *r;
}

}  // namespace

TEST(HfConfig, ParsesLlama32_1B) {
  auto r = parse_hf_config_text(kLlama32_1B);
  ASSERT_TRUE(r.ok()) << r.message();
  const Config& c = *r;
  EXPECT_EQ(c.arch, Arch::Llama);
  EXPECT_EQ(c.vocab_size, 128256);
  EXPECT_EQ(c.hidden_size, 2048);
  EXPECT_EQ(c.intermediate_size, 8192);
  EXPECT_EQ(c.num_hidden_layers, 16);
  EXPECT_EQ(c.num_attention_heads, 32);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.gqa_group(), 4);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.kv_dim(), 512);
  EXPECT_EQ(c.max_position_embeddings, 131072);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::Llama3);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 32.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.bos_token_id, 128000);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{128001});
  EXPECT_FALSE(c.pad_token_id.has_value());
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_TRUE(c == preset("llama-3.2-1b")) << describe_config(c);
}

TEST(HfConfig, ParsesSmolLM2AndQwen25) {
  auto s = parse_hf_config_text(kSmolLM2);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->head_dim, 64) << "derived from hidden_size / heads";
  EXPECT_EQ(s->rope_scaling.type, RopeScalingType::None);
  EXPECT_DOUBLE_EQ(s->rope_theta, 100000.0) << "integer JSON value for a float key";
  EXPECT_TRUE(*s == preset("smollm2-135m")) << describe_config(*s);

  auto q = parse_hf_config_text(kQwen25);
  ASSERT_TRUE(q.ok()) << q.message();
  EXPECT_EQ(q->arch, Arch::Qwen2);
  EXPECT_TRUE(q->attention_bias) << "qwen2 has q/k/v bias without saying so";
  EXPECT_EQ(q->num_key_value_heads, 2);
  EXPECT_EQ(q->head_dim, 64);
  EXPECT_DOUBLE_EQ(q->rms_norm_eps, 1e-6);
  EXPECT_TRUE(*q == preset("qwen2.5-0.5b")) << describe_config(*q);
}

TEST(HfConfig, AcceptsVariantsTransformersWrites) {
  // Instruct models list several eos ids and set a pad id.
  json j = base_json();
  j["eos_token_id"] = {128001, 128008, 128009};
  j["pad_token_id"] = 128004;
  auto r = parse_hf_config(j);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(r->pad_token_id, 128004);

  // transformers >= 4.56: rope_parameters instead of rope_theta + rope_scaling, "dtype".
  j = base_json();
  j.erase("rope_theta");
  j.erase("rope_scaling");
  j.erase("torch_dtype");
  j["dtype"] = "bfloat16";
  j["rope_parameters"] = {{"rope_type", "llama3"},      {"rope_theta", 500000.0},
                          {"factor", 32.0},             {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0},    {"original_max_position_embeddings", 8192}};
  r = parse_hf_config(j);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE(*r == preset("llama-3.2-1b")) << describe_config(*r);

  // Old-style "type" key, linear scaling; architectures instead of model_type.
  j = base_json();
  j.erase("model_type");
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  r = parse_hf_config(j);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->rope_scaling.type, RopeScalingType::Linear);
  EXPECT_DOUBLE_EQ(r->rope_scaling.factor, 2.0);

  // Optional keys absent: GQA defaults to MHA, head_dim to hidden / heads.
  j = base_json();
  j.erase("num_key_value_heads");
  j.erase("head_dim");
  j["eos_token_id"] = nullptr;
  r = parse_hf_config(j);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->num_key_value_heads, 32);
  EXPECT_EQ(r->head_dim, 64);
  EXPECT_TRUE(r->eos_token_ids.empty());
}

TEST(HfConfig, ErrorsNameTheKey) {
  json j = base_json();
  j.erase("hidden_size");
  expect_error(j, "config.json: missing key hidden_size");
  j = base_json();
  j["num_key_value_heads"] = 5;
  expect_error(j, "config.json: num_key_value_heads (5) must divide num_attention_heads (32)");
  j = base_json();
  j["hidden_size"] = "2048";
  expect_error(j, "config.json: hidden_size must be an integer, got \"2048\"");
  j = base_json();
  j["num_hidden_layers"] = 16.5;
  expect_error(j, "num_hidden_layers must be an integer");
  j = base_json();
  j["vocab_size"] = 0;
  expect_error(j, "vocab_size must be positive, got 0");
  j = base_json();
  j["intermediate_size"] = 1ull << 40;
  expect_error(j, "intermediate_size (1099511627776) is implausibly large");
  j = base_json();
  j["intermediate_size"] = 1 << 23;
  j["num_hidden_layers"] = 1 << 20;
  expect_error(j, "implausibly large");
  j = base_json();
  j["rms_norm_eps"] = "1e-5";
  expect_error(j, "rms_norm_eps must be a number");
  j = base_json();
  j["tie_word_embeddings"] = 1;
  expect_error(j, "tie_word_embeddings must be true or false");
  j = base_json();
  j["eos_token_id"] = {128001, "x"};
  expect_error(j, "eos_token_id must be an integer or a list of integers");
  j = base_json();
  j["eos_token_id"] = 999999;
  expect_error(j, "eos_token_id (999999) is outside the vocabulary [0, 128256)");
  j = base_json();
  j["model_type"] = "gemma";
  expect_error(j, "model_type \"gemma\" is not supported");
  j = base_json();
  j.erase("model_type");
  j.erase("architectures");
  expect_error(j, "missing key model_type");
  j = base_json();
  j["rope_scaling"]["rope_type"] = "yarn";
  expect_error(j, "rope_scaling.rope_type \"yarn\" is not supported");
  j = base_json();
  j["rope_scaling"].erase("low_freq_factor");
  expect_error(j, "rope_scaling: missing key low_freq_factor for rope_type llama3");
  j = base_json();
  j["rope_scaling"]["high_freq_factor"] = 0.5;
  expect_error(j, "low_freq_factor (1) < high_freq_factor (0.5)");
  j = base_json();
  j["hidden_act"] = "gelu";
  expect_error(j, "hidden_act \"gelu\" is not supported");
  j = base_json();
  j.erase("head_dim");
  j["num_attention_heads"] = 24;
  j["num_key_value_heads"] = 8;
  expect_error(j, "hidden_size (2048) must be a multiple of num_attention_heads (24)");
  j = base_json();
  j["head_dim"] = 63;
  expect_error(j, "head_dim (63) must be even");
  j = base_json();
  j["mlp_bias"] = true;
  expect_error(j, "mlp_bias true is not supported");
  json q = json::parse(kQwen25);
  q["use_sliding_window"] = true;
  expect_error(q, "use_sliding_window true is not supported");
  q = json::parse(kQwen25);
  q["attention_bias"] = false;
  expect_error(q, "attention_bias false is not supported for qwen2");
  expect_error(json::array({1, 2}), "expected a JSON object");
  auto bad = parse_hf_config_text("{\"hidden_size\": ", "x/config.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.message(), "x/config.json: not valid JSON");
}

TEST(HfConfig, WriteThenReadIsIdentityForEveryPreset) {
  auto dir = std::filesystem::temp_directory_path() /
             ("cartlm_cfg_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (const std::string& name : preset_names()) {
    Config c = preset(name);
    json j = hf_config_to_json(c);
    EXPECT_EQ(j["architectures"][0], c.arch == Arch::Qwen2 ? "Qwen2ForCausalLM"
                                                           : "LlamaForCausalLM");
    EXPECT_EQ(j["model_type"], arch_name(c.arch));
    EXPECT_EQ(j["hidden_act"], "silu");
    auto back = parse_hf_config(j);
    ASSERT_TRUE(back.ok()) << name << ": " << back.message();
    EXPECT_TRUE(*back == c) << name << "\n" << describe_config(*back) << describe_config(c);
    // Through a file and a directory path.
    ASSERT_TRUE(save_hf_config((dir / "config.json").string(), c).ok());
    auto loaded = load_hf_config(dir.string());
    ASSERT_TRUE(loaded.ok()) << loaded.message();
    EXPECT_TRUE(*loaded == c) << name;
  }
  Config multi = preset("llama-3.2-1b");
  multi.eos_token_ids = {1, 2, 3};
  multi.pad_token_id = 7;
  multi.rope_scaling = {RopeScalingType::Linear, 4.0};
  auto back = parse_hf_config(hf_config_to_json(multi));
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_TRUE(*back == multi) << describe_config(*back);
  auto missing = load_hf_config((dir / "nope").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("nope"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Config, EqualityAndPrintingCoverEveryField) {
  const Config base = preset("llama-3.2-1b");
  int n_fields = 0;
  visit_fields([&](const FieldInfo&, const auto&) { ++n_fields; }, base);
  EXPECT_EQ(n_fields, 20);
  for (int k = 0; k < n_fields; ++k) {
    Config c = base;
    int i = 0;
    std::string key;
    visit_fields(
        [&](const FieldInfo& f, auto& v) {
          if (i++ != k) return;
          key = f.hf_key;
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, Arch>) v = Arch::Qwen2;
          else if constexpr (std::is_same_v<T, int64_t>) v += 1;
          else if constexpr (std::is_same_v<T, double>) v = v * 2 + 1;
          else if constexpr (std::is_same_v<T, bool>) v = !v;
          else if constexpr (std::is_same_v<T, std::string>) v += "x";
          else if constexpr (std::is_same_v<T, std::optional<int64_t>>) v = v.value_or(0) + 1;
          else if constexpr (std::is_same_v<T, std::vector<int64_t>>) v.push_back(5);
          else if constexpr (std::is_same_v<T, RopeScaling>) v.high_freq_factor += 1;
        },
        c);
    EXPECT_FALSE(c == base) << "changing " << key << " went unnoticed";
    EXPECT_NE(describe_config(c), describe_config(base)) << key;
  }
  EXPECT_TRUE(base == preset("llama-3.2-1b"));
  std::string d = describe_config(base);
  EXPECT_NE(d.find("num_key_value_heads      = 8\n"), std::string::npos) << d;
  EXPECT_NE(d.find("rope_scaling             = llama3 factor=32"), std::string::npos) << d;
}

TEST(Config, GgufKeysFollowTheArchitecture) {
  std::vector<std::string> keys;
  const Config tiny = preset("tiny");
  visit_fields([&](const FieldInfo& f, const auto&) { keys.push_back(gguf_key(f, Arch::Qwen2)); },
               tiny);
  EXPECT_EQ(keys[4], "qwen2.block_count");
  EXPECT_EQ(keys[9], "qwen2.attention.layer_norm_rms_epsilon");
  EXPECT_EQ(keys[15], "tokenizer.ggml.bos_token_id");
}

TEST(Presets, ShapesAndParameterCounts) {
  Config tiny = preset("tiny");
  EXPECT_EQ(tiny.hidden_size, 256);
  EXPECT_EQ(tiny.num_attention_heads / tiny.num_key_value_heads, 2) << "GQA exercised";
  EXPECT_EQ(tiny.q_dim(), 256);
  EXPECT_EQ(tiny.kv_dim(), 128);
  // Hand count: embed 2048*256; per layer 2*256 norms + q,o 2*256*256 + k,v 2*256*128
  // + mlp 3*256*768; final norm 256.
  EXPECT_EQ(count_parameters(tiny).per_layer, 512 + 2 * 65536 + 2 * 32768 + 3 * 196608);
  EXPECT_EQ(count_parameters(tiny).total, 2048 * 256 + 6 * 786944 + 256);
  EXPECT_EQ(count_parameters(tiny).total, 5246208);

  ParamCounts l = count_parameters(preset("llama-3.2-1b"));
  EXPECT_EQ(l.embedding, 128256LL * 2048);
  EXPECT_EQ(l.lm_head, 0) << "tied";
  EXPECT_EQ(l.total, 1235814400);  // the published 1.24B
  ParamCounts s = count_parameters(preset("smollm2-135m"));
  EXPECT_EQ(s.total, 134515008);  // 134.5M
  Config q = preset("qwen2.5-0.5b");
  ParamCounts qc = count_parameters(q);
  EXPECT_EQ(qc.total, 494032768);  // 0.49B, includes the q/k/v biases
  q.attention_bias = false;
  q.arch = Arch::Llama;
  EXPECT_EQ(qc.total - count_parameters(q).total, 24 * (896 + 2 * 128));
  Config untied = preset("llama-3.2-1b");
  untied.tie_word_embeddings = false;
  EXPECT_EQ(count_parameters(untied).total, l.total + 128256LL * 2048);

  auto bad = preset_config("llama-70b");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("unknown model preset 'llama-70b'"), std::string::npos);
  EXPECT_NE(bad.message().find("tiny"), std::string::npos) << "lists the choices";
}

TEST(Rope, Llama3InvFreqMatchesTheFormula) {
  // Written from the GGUF formulation (REFERENCE §1.8: a divisor f per frequency), which must
  // agree with HF's adjusted inv_freq (§3.4) that rope_inv_freq implements.
  Config c = preset("llama-3.2-1b");
  std::vector<float> inv = rope_inv_freq(c);
  ASSERT_EQ(inv.size(), 32u);
  const double base = 500000.0, d = 64, factor = 32, lo_f = 1, hi_f = 4, orig = 8192;
  const double pi = 3.14159265358979323846;
  auto expected = [&](int i) {
    double freq = std::pow(base, -2.0 * i / d);
    double wavelen = 2 * pi / freq;
    double f;
    if (wavelen < orig / hi_f) f = 1;
    else if (wavelen > orig / lo_f) f = factor;
    else {
      double s = (orig / wavelen - lo_f) / (hi_f - lo_f);
      f = 1 / ((1 - s) / factor + s);
    }
    return freq / f;
  };
  // i=0..14 keep their frequency, 15..17 are blended, 18..31 are divided by 32.
  for (int i : {0, 1, 10, 14, 15, 16, 17, 18, 25, 31}) {
    double want = expected(i);
    EXPECT_NEAR(inv[(size_t)i], want, std::abs(want) * 6e-8) << "i=" << i;
  }
  EXPECT_FLOAT_EQ(inv[0], 1.0f);
  EXPECT_FLOAT_EQ(inv[14], (float)std::pow(base, -28.0 / 64)) << "last unscaled frequency";
  EXPECT_FLOAT_EQ(inv[18], (float)(std::pow(base, -36.0 / 64) / 32)) << "first fully scaled";
  EXPECT_NEAR(inv[31], std::pow(base, -62.0 / 64) / 32, 1e-14);
  // The blended band really lies strictly between the two neighbours' rules.
  double raw16 = std::pow(base, -32.0 / 64);
  EXPECT_LT(inv[16], raw16);
  EXPECT_GT(inv[16], raw16 / 32);
}

TEST(Rope, DefaultAndLinearInvFreq) {
  Config c = preset("tiny");
  std::vector<float> inv = rope_inv_freq(c);
  ASSERT_EQ(inv.size(), 16u);
  for (int i = 0; i < 16; ++i)
    EXPECT_NEAR(inv[(size_t)i], std::pow(10000.0, -2.0 * i / 32), 1e-7 * inv[(size_t)i]);
  c.rope_scaling = {RopeScalingType::Linear, 4.0};
  std::vector<float> lin = rope_inv_freq(c);
  for (int i = 0; i < 16; ++i) EXPECT_FLOAT_EQ(lin[(size_t)i], inv[(size_t)i] / 4);
}
