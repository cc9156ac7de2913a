// AutoGPTQ checkpoints: write one for a tiny random model, load it with load_model_gptq, and run
// the forward pass (Q4_1 repack, Q8_0 repack and F16 paths).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "core/file_io.h"
#include "core/rng.h"
#include "model/gptq_checkpoint.h"
#include "model/init.h"
#include "model/llama.h"
#include "model/load.h"
#include "quant/gptq.h"
#include "quant/gptq_pack.h"

namespace cartlm {
namespace {

class GptqLoad : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/cartlm_gptq_load_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    InitOptions o;
    o.preset = "tiny";
    o.out_dir = root_ + "/hf";
    o.layers = 2;
    o.progress = false;
    auto r = init_checkpoint(o);
    ASSERT_TRUE(r.ok()) << r.status().message();
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(root_); }

  // Quantizes every linear of the HF model with `opt` (GPTQ on the Hessian of white-noise inputs),
  // writes the AutoGPTQ directory, and also returns the dequantized weights by HF name.
  static std::string write_gptq(const LoadedModel& hf, const GptqOptions& opt, const std::string& name,
                                std::map<std::string, std::vector<float>>* w_hat) {
    const Config& c = hf.model.config;
    GptqCheckpointTensors t;
    Rng rng(5);
    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
      const auto modules = gptq_layer_modules(l);
      for (const std::string& m : modules) {
        const TensorView* v = hf.checkpoint.find(m + ".weight");
        EXPECT_TRUE(v && v->dtype == DType::F32);
        const int64_t out = v->shape[0], in = v->shape[1];
        GptqHessian h = gptq_hessian(in);
        std::vector<float> x((size_t)(64 * in));
        for (size_t i = 0; i < x.size(); ++i) x[i] = (float)rng.normal();
        gptq_hessian_add(h, x.data(), 64, 4);
        auto r = gptq_quantize(v->as<float>(), out, in, h, opt);
        EXPECT_TRUE(r.ok()) << r.status().message();
        auto packed = autogptq_pack(*r, opt.bits);
        EXPECT_TRUE(packed.ok()) << packed.status().message();
        gptq_checkpoint_add_linear(t, m, *packed);
        (*w_hat)[m + ".weight"] = r->w_hat;
      }
    }
    for (const auto& [n, v] : hf.checkpoint.tensors) {
      if (!w_hat->count(n)) {
        EXPECT_TRUE(gptq_checkpoint_add_f16(t, v).ok());
      }
    }
    GptqQuantizeConfig q;
    q.bits = opt.bits;
    q.group_size = opt.group_size;
    q.desc_act = opt.act_order;
    q.sym = opt.sym;
    const std::string dir = root_ + "/" + name;
    Status st = save_gptq_checkpoint(dir, t, c, hf.tokenizer, &hf.meta, q);
    EXPECT_TRUE(st.ok()) << st.message();
    return dir;
  }

  static std::vector<float> logits(const LlamaModel& m, const std::vector<int32_t>& tokens) {
    LlamaSessionOptions so;
    so.max_seq = 64;
    so.all_logits = true;
    auto s = llama_session(m, so);
    EXPECT_TRUE(s.ok());
    EXPECT_TRUE(llama_forward(m, *s, tokens).ok());
    return std::vector<float>(llama_logits(*s, 0), llama_logits(*s, 0) + tokens.size() * s->vocab);
  }

  static double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
    double e = 0, n = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      e += (double)(a[i] - b[i]) * (a[i] - b[i]);
      n += (double)b[i] * b[i];
    }
    return std::sqrt(e / n);
  }

  static void check(const GptqOptions& opt, const std::string& name, const std::string& want_type,
                    double tol_vs_what, double tol_vs_ref) {
    auto hf = load_model(root_ + "/hf");
    ASSERT_TRUE(hf.ok()) << hf.status().message();
    std::map<std::string, std::vector<float>> w_hat;
    const std::string dir = write_gptq(**hf, opt, name, &w_hat);
    auto g = load_model(dir);  // dispatches on quantize_config.json
    ASSERT_TRUE(g.ok()) << g.status().message();
    EXPECT_EQ((*g)->format, ModelFormat::Gptq);
    EXPECT_EQ((*g)->weight_type, want_type);
    EXPECT_EQ((*g)->tokenizer.size(), (*hf)->tokenizer.size());

    // The exact dequantized weights in f32, for reference.
    TensorMap map = (*hf)->checkpoint.tensors;
    for (auto& [n, w] : w_hat) map[n].data = w.data();
    auto wm = bind_weights((*hf)->model.config, map);
    ASSERT_TRUE(wm.ok());
    auto what_model = llama_model((*hf)->model.config, *wm);
    ASSERT_TRUE(what_model.ok());

    const std::vector<int32_t> tokens = {1, 17, 300, 42, 999, 5, 77, 1500, 3, 250};
    const auto l_ref = logits((*hf)->model, tokens);
    const auto l_what = logits(*what_model, tokens);
    const auto l_gptq = logits((*g)->model, tokens);
    const double e_what = rel_err(l_gptq, l_what), e_ref = rel_err(l_gptq, l_ref);
    std::printf("%s (%s): logits rel. error vs dequantized f32 %.2e, vs unquantized %.2e\n",
                name.c_str(), (*g)->weight_type.c_str(), e_what, e_ref);
    EXPECT_LT(e_what, tol_vs_what);
    // As close to the original as the exact dequantized weights are. (Logits of a random tiny
    // model are small, so 4 bits cost a large relative error: the tolerance is per bit width.)
    EXPECT_LT(e_ref, tol_vs_ref);
    EXPECT_NEAR(e_ref, rel_err(l_what, l_ref), tol_vs_what);
    EXPECT_GT(e_ref, e_what);
  }

  static std::string root_;
};
std::string GptqLoad::root_;

TEST_F(GptqLoad, FourBitGroupsRepackToQ41) {
  GptqOptions o;
  o.group_size = 64;
  // Q4_1 rounds m = -scale*zero to fp16, and the forward quantizes activations to Q8_1.
  check(o, "g64", "GPTQ-4 (Q4_1)", 2e-2, 0.5);
}

TEST_F(GptqLoad, ActOrderDequantizesToF16) {
  GptqOptions o;
  o.group_size = 32;
  o.act_order = true;
  o.sym = false;
  check(o, "actorder", "GPTQ-4 (F16)", 5e-3, 0.5);
}

TEST_F(GptqLoad, EightBitSymmetricRepacksToQ80) {
  GptqOptions o;
  o.bits = 8;
  o.group_size = 32;
  check(o, "8bit", "GPTQ-8 (Q8_0)", 2e-2, 0.05);
}

TEST_F(GptqLoad, BadCheckpointsGiveOneLineErrors) {
  auto hf = load_model(root_ + "/hf");
  ASSERT_TRUE(hf.ok());
  GptqOptions o;
  std::map<std::string, std::vector<float>> w_hat;
  const std::string dir = write_gptq(**hf, o, "bad", &w_hat);
  ASSERT_TRUE(write_file_atomic(dir + "/quantize_config.json", "{\"bits\": 5, \"group_size\": 128}").ok());
  auto r = load_model(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bits must be 2, 3, 4 or 8"), std::string::npos) << r.status().message();
  ASSERT_TRUE(write_file_atomic(dir + "/quantize_config.json", "{\"bits\": 4, \"group_size\": 64}").ok());
  r = load_model(dir);  // stored with group 128: qzeros/scales have the wrong shape
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("qzeros has shape"), std::string::npos) << r.status().message();
  ASSERT_TRUE(write_file_atomic(dir + "/quantize_config.json", "{bits").ok());
  EXPECT_FALSE(load_model(dir).ok());
}

}  // namespace
}  // namespace cartlm
