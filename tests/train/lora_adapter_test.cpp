// PEFT adapter files (names, shapes, config JSON, round trip, errors) and merge (merged-model
// logits through the inference forward == base+adapter logits of the training forward).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "core/thread_pool.h"
#include "model/llama.h"
#include "model/weights.h"
#include "train/adapter.h"
#include "train/lora_model.h"
#include "train/lora_test_util.h"
#include "train/merge.h"

namespace cartlm {
namespace {

using json = nlohmann::json;

constexpr size_t kB = 1, kT = 10;

// A base checkpoint in dir/base and a frozen LoRA model over it with random nonzero adapters.
TrainModel<float> lora_over_base(const std::string& base_dir, DType dtype, uint32_t sites,
                                 bool tied = true) {
  Config c = test::lora_test_config(tied);
  TrainModel<float> full = test::random_full_model(c, 17, kB, kT);
  test::write_test_checkpoint(base_dir, full, dtype);
  EXPECT_TRUE(write_file_atomic(join_path(base_dir, "tokenizer.json"), "{\"fake\": true}\n").ok());
  TrainOptions opt;
  opt.max_batch = kB;
  opt.max_seq = kT;
  opt.lora.rank = 4;
  opt.lora.alpha = 12;
  opt.lora.dropout = 0.05;
  opt.lora.sites = sites;
  Rng rng(2);
  Result<TrainModel<float>> r = train_model_for_adapter(base_dir, false, opt, rng);
  EXPECT_TRUE(r.ok()) << r.message();
  TrainModel<float> m = std::move(*r);
  Rng rb(6);
  for (size_t i = 0; i < m.num_lora_parameters; ++i)
    if (m.lora_memory.data()[i] == 0.0f) m.lora_memory.data()[i] = (float)(0.1 * rb.normal());
  return m;
}

TEST(PeftAdapter, SaveWritesPeftLayout) {
  const std::string dir = test::lora_temp_dir("save");
  const std::string base = join_path(dir, "base"), out = join_path(dir, "adapter");
  ASSERT_TRUE(ensure_dir(base).ok());
  TrainModel<float> m = lora_over_base(base, DType::F32, (1u << kLoraQ) | (1u << kLoraDown));
  ASSERT_TRUE(save_peft_adapter(out, m, "meta-llama/Llama-3.2-1B").ok());
  Result<std::string> text = read_file(join_path(out, "adapter_config.json"));
  ASSERT_TRUE(text.ok());
  const json j = json::parse(*text, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["peft_type"], "LORA");
  EXPECT_EQ(j["task_type"], "CAUSAL_LM");
  EXPECT_EQ(j["r"], 4);
  EXPECT_EQ(j["lora_alpha"], 12);
  EXPECT_TRUE(j["lora_alpha"].is_number_integer());
  EXPECT_DOUBLE_EQ(j["lora_dropout"].get<double>(), 0.05);
  EXPECT_EQ(j["target_modules"], json::array({"q_proj", "down_proj"}));
  EXPECT_EQ(j["base_model_name_or_path"], "meta-llama/Llama-3.2-1B");
  EXPECT_EQ(j["bias"], "none");
  Result<SafetensorsFile> st = open_safetensors(join_path(out, "adapter_model.safetensors"));
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(st->tensors.size(), 2u * 2u * 2u);  // 2 layers x 2 sites x (A, B)
  const SafetensorsTensor* a =
      st->find("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->view.shape, (std::vector<int64_t>{4, 64}));
  const SafetensorsTensor* b =
      st->find("base_model.model.model.layers.0.mlp.down_proj.lora_B.weight");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->view.shape, (std::vector<int64_t>{64, 4}));
  // Layer 1's q A is the slice of the stacked (L, R, in) tensor.
  const float* want = m.lora.t[2 * kLoraQ] + 1 * 4 * 64;
  EXPECT_TRUE(std::equal(want, want + 4 * 64, a->view.as<float>()));
}

TEST(PeftAdapter, LoadRoundTripAndMismatches) {
  const std::string dir = test::lora_temp_dir("load");
  const std::string base = join_path(dir, "base"), out = join_path(dir, "adapter");
  ASSERT_TRUE(ensure_dir(base).ok());
  TrainModel<float> m = lora_over_base(base, DType::BF16, kLoraAllSites);
  m.opt.lora.use_rslora = true;
  ASSERT_TRUE(save_peft_adapter(out, m, base).ok());
  TrainOptions opt;
  opt.max_seq = kT;
  opt.lora.rank = 4;
  opt.lora.alpha = 1;
  Rng rng(99);
  Result<TrainModel<float>> r = train_model_for_adapter(base, true, opt, rng);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_TRUE(load_peft_adapter(out, *r).ok());
  EXPECT_TRUE(std::equal(m.lora_memory.data(), m.lora_memory.data() + m.num_lora_parameters,
                         r->lora_memory.data()));
  EXPECT_EQ(r->opt.lora.alpha, 12.0);
  EXPECT_TRUE(r->opt.lora.use_rslora);
  // Rank mismatch.
  opt.lora.rank = 8;
  Result<TrainModel<float>> r8 = train_model_for_adapter(base, false, opt, rng);
  ASSERT_TRUE(r8.ok());
  Status st = load_peft_adapter(out, *r8);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("r is 4"), std::string::npos) << st.message();
  // Different targets.
  opt.lora.rank = 4;
  opt.lora.sites = 1u << kLoraQ;
  Result<TrainModel<float>> rq = train_model_for_adapter(base, false, opt, rng);
  ASSERT_TRUE(rq.ok());
  st = load_peft_adapter(out, *rq);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("target_modules"), std::string::npos) << st.message();
}

TEST(PeftAdapter, ConfigParsingErrors) {
  EXPECT_EQ(*parse_lora_targets("q,k,v,o,gate,up,down"), kLoraAllSites);
  EXPECT_EQ(*parse_lora_targets("all"), kLoraAllSites);
  EXPECT_EQ(*parse_lora_targets("q_proj, v"), (1u << kLoraQ) | (1u << kLoraV));
  Result<uint32_t> bad = parse_lora_targets("q,lm_head");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("lm_head"), std::string::npos);
  EXPECT_EQ(*parse_target_modules({"model.layers.0.mlp.up_proj"}), 1u << kLoraUp);

  const std::string dir = test::lora_temp_dir("cfg");
  auto write = [&](const std::string& text) {
    EXPECT_TRUE(write_file_atomic(join_path(dir, "adapter_config.json"), text).ok());
    return load_peft_adapter_config(dir);
  };
  Result<PeftAdapterConfig> ok = write(
      R"({"peft_type":"LORA","r":16,"lora_alpha":32,"lora_dropout":0.05,"target_modules":["q_proj","v_proj"],"bias":"none","use_dora":false,"modules_to_save":null,"rank_pattern":{}})");
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ(ok->lora.rank, 16);
  EXPECT_DOUBLE_EQ(ok->lora.scale(), 2.0);
  EXPECT_EQ(ok->lora.sites, (1u << kLoraQ) | (1u << kLoraV));
  Result<PeftAdapterConfig> e =
      write(R"({"peft_type":"LORA","r":8,"lora_alpha":16,"target_modules":".*q_proj"})");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.message().find("regex"), std::string::npos) << e.message();
  e = write(
      R"({"peft_type":"LORA","r":8,"lora_alpha":16,"target_modules":["q_proj"],"use_dora":true})");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.message().find("use_dora"), std::string::npos) << e.message();
  e = write(R"({"peft_type":"IA3","r":8})");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.message().find("peft_type"), std::string::npos) << e.message();
  e = write("{not json");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.message().find("adapter_config.json"), std::string::npos) << e.message();
}

// Logits of the merged checkpoint through the inference forward vs. the training forward of base
// + adapter (no dropout) on the same tokens.
void check_merge(DType base_dtype, DType out_dtype, bool tied, double rel_tol) {
  const std::string dir = test::lora_temp_dir("merge");
  const std::string base = join_path(dir, "base"), ad = join_path(dir, "adapter"),
                    out = join_path(dir, "merged");
  ASSERT_TRUE(ensure_dir(base).ok());
  TrainModel<float> m = lora_over_base(base, base_dtype, kLoraAllSites, tied);
  ASSERT_TRUE(save_peft_adapter(ad, m, base).ok());
  MergeOptions mo;
  mo.base_dir = base;
  mo.adapter_dir = ad;
  mo.out_dir = out;
  mo.dtype = out_dtype;
  ThreadPool pool(2);
  Result<MergeReport> rep = merge_adapter(mo, &pool);
  ASSERT_TRUE(rep.ok()) << rep.message();
  EXPECT_EQ(rep->merged_matrices, 2 * 7);
  EXPECT_EQ(rep->copied_files, 1);
  EXPECT_TRUE(file_exists(join_path(out, "tokenizer.json")));
  // A second merge into the same dir needs force.
  Result<MergeReport> again = merge_adapter(mo, &pool);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.message().find("not empty"), std::string::npos) << again.message();

  std::vector<int32_t> tokens = {1, 17, 5, 80, 33, 33, 2, 64, 9, 50};
  std::vector<int32_t> targets(tokens.begin() + 1, tokens.end());
  targets.push_back(0);
  train_model_forward(m, tokens.data(), targets.data(), nullptr, nullptr, 1, kT, nullptr, &pool);
  const size_t V = (size_t)m.config.vocab_size;

  Result<Config> c = load_hf_config(out);
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->torch_dtype, out_dtype == DType::F32   ? "float32"
                            : out_dtype == DType::F16 ? "float16"
                                                      : "bfloat16");
  Result<Checkpoint> ck = load_checkpoint_tensors(out);
  ASSERT_TRUE(ck.ok()) << ck.message();
  for (const auto& [name, v] : ck->tensors) EXPECT_EQ(v.dtype, out_dtype) << name;
  Result<ModelWeights> w = bind_weights(*c, ck->tensors);
  ASSERT_TRUE(w.ok()) << w.message();
  Result<LlamaModel> lm = llama_model(*c, *w);
  ASSERT_TRUE(lm.ok()) << lm.message();
  LlamaSessionOptions so;
  so.max_seq = kT;
  so.max_batch = kT;
  so.all_logits = true;
  Result<LlamaSession> s = llama_session(*lm, so);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(llama_forward(*lm, *s, tokens, &pool).ok());
  double maxdiff = 0.0, maxref = 0.0, maxdelta = 0.0;
  for (size_t t = 0; t < kT; ++t) {
    const float* got = llama_logits(*s, t);
    const float* want = m.acts.logits + t * V;
    for (size_t v = 0; v < V; ++v) {
      maxdiff = std::max(maxdiff, (double)std::fabs(got[v] - want[v]));
      maxref = std::max(maxref, (double)std::fabs(want[v]));
    }
  }
  // The adapters must change the logits (else the comparison proves nothing): the base alone.
  TrainModel<float> base_only = std::move(m);
  std::fill(base_only.lora_memory.data(),
            base_only.lora_memory.data() + base_only.num_lora_parameters, 0.0f);
  train_model_forward(base_only, tokens.data(), targets.data(), nullptr, nullptr, 1, kT, nullptr,
                      &pool);
  for (size_t t = 0; t < kT; ++t)
    for (size_t v = 0; v < V; ++v)
      maxdelta = std::max(
          maxdelta, (double)std::fabs(llama_logits(*s, t)[v] - base_only.acts.logits[t * V + v]));
  std::printf("merge %s -> %s: max |logit diff| %.3g (max |logit| %.3g, adapter effect %.3g)\n",
              dtype_name(base_dtype), dtype_name(out_dtype), maxdiff, maxref, maxdelta);
  EXPECT_LT(maxdiff, rel_tol * maxref);
  EXPECT_GT(maxdelta, 20 * maxdiff);
}

// f32 out: only summation order differs (merge folds B·A into W in f32 and the training forward
// adds the two products), a few f32 roundings of the logits.
TEST(Merge, F32MergedLogitsEqualBasePlusAdapter) {
  check_merge(DType::F32, DType::F32, true, 1e-4);
}
TEST(Merge, Bf16BaseUntiedToF32) { check_merge(DType::BF16, DType::F32, false, 1e-4); }
// f16 / bf16 out round every merged weight once (2^-11 / 2^-8 relative): the logits move by a
// few times that.
TEST(Merge, F16Output) { check_merge(DType::F32, DType::F16, true, 5e-3); }
TEST(Merge, Bf16Output) { check_merge(DType::BF16, DType::BF16, true, 1e-2); }

TEST(Merge, Errors) {
  MergeOptions mo;
  mo.base_dir = "/nonexistent/base";
  mo.adapter_dir = "/nonexistent/adapter";
  mo.out_dir = test::lora_temp_dir("merge_err");
  Result<MergeReport> r = merge_adapter(mo);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("/nonexistent/base"), std::string::npos) << r.message();
  EXPECT_FALSE(parse_merge_dtype("q4").ok());
  EXPECT_EQ(*parse_merge_dtype("bf16"), DType::BF16);
  // An adapter for another shape.
  const std::string dir = test::lora_temp_dir("merge_shape");
  const std::string base = join_path(dir, "base"), ad = join_path(dir, "adapter");
  ASSERT_TRUE(ensure_dir(base).ok());
  TrainModel<float> m = lora_over_base(base, DType::F32, 1u << kLoraQ);
  ASSERT_TRUE(save_peft_adapter(ad, m, base).ok());
  Config c = m.config;
  c.hidden_size = 128;
  c.head_dim = 32;
  Result<PeftAdapter> a = open_peft_adapter(ad, c);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.message().find("has shape [4, 64], expected [4, 128]"), std::string::npos)
      << a.message();
}

}  // namespace
}  // namespace cartlm
