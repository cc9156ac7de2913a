// `cartlm merge` end to end: init a tiny base, write an adapter in-process, merge with the binary,
// load the merged dir with load_model, and the one-line errors.
#include <gtest/gtest.h>

#include <cmath>

#include "cli/cli_test_util.h"
#include "core/rng.h"
#include "model/load.h"
#include "train/lora_model.h"

namespace cartlm {
namespace {

class MergeCli : public CliTest {
 protected:
  // base/ from `cartlm init --preset tiny`, adapter/ with nonzero q,v adapters over it.
  void make_base_and_adapter() {
    RunResult init = run("init --preset tiny --out " + path("base"));
    ASSERT_EQ(init.code, 0) << init.err;
    TrainOptions opt;
    opt.max_seq = 16;
    opt.lora.rank = 4;
    opt.lora.alpha = 8;
    opt.lora.sites = (1u << kLoraQ) | (1u << kLoraV);
    Rng rng(1);
    Result<TrainModel<float>> m = train_model_for_adapter(path("base"), false, opt, rng);
    ASSERT_TRUE(m.ok()) << m.message();
    Rng rb(2);
    for (size_t i = 0; i < m->num_lora_parameters; ++i)
      if (m->lora_memory.data()[i] == 0.0f) m->lora_memory.data()[i] = (float)(0.1 * rb.normal());
    ASSERT_TRUE(save_peft_adapter(path("adapter"), *m, path("base")).ok());
  }
};

TEST_F(MergeCli, MergesIntoALoadableF16Checkpoint) {
  make_base_and_adapter();
  RunResult r = run("merge --base " + path("base") + " --adapter " + path("adapter") + " --out " +
                    path("merged") + " --dtype f16 --threads 2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("merged 12 matrices (LoRA r=4, scale 2)"), std::string::npos) << r.out;
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json",
                        "tokenizer_config.json", "generation_config.json"})
    EXPECT_TRUE(file_exists(path("merged/") + f)) << f;
  Result<std::unique_ptr<LoadedModel>> lm = load_model(path("merged"));
  ASSERT_TRUE(lm.ok()) << lm.message();
  EXPECT_EQ((*lm)->weight_type, "F16");
  EXPECT_EQ((*lm)->model.config.torch_dtype, "float16");
  // The merged q_proj differs from the base's (the adapter was folded in), k_proj does not.
  Result<std::unique_ptr<LoadedModel>> base = load_model(path("base"));
  ASSERT_TRUE(base.ok()) << base.message();
  const TensorView& mq = (*lm)->model.weights.layers[0].wq;
  const TensorView& bq = (*base)->model.weights.layers[0].wq;
  const TensorView& mk = (*lm)->model.weights.layers[0].wk;
  const TensorView& bk = (*base)->model.weights.layers[0].wk;
  ASSERT_EQ(bq.dtype, DType::F32);  // the tiny preset is f32
  double dq = 0.0, dk = 0.0;
  for (int64_t i = 0; i < mq.numel(); ++i)
    dq = std::max(dq, (double)std::fabs(fp16_to_fp32(mq.as<uint16_t>()[i]) - bq.as<float>()[i]));
  for (int64_t i = 0; i < mk.numel(); ++i)
    dk = std::max(dk, (double)std::fabs(fp16_to_fp32(mk.as<uint16_t>()[i]) - bk.as<float>()[i]));
  EXPECT_GT(dq, 1e-2);
  EXPECT_LT(dk, 1e-3);  // f16 rounding only
}

TEST_F(MergeCli, ErrorsAreOneLine) {
  RunResult r = run("merge --base " + path("nope") + " --out " + path("o"));
  expect_one_error_line(r, "--adapter is required");
  r = run("merge --base x --adapter y --out z --dtype q4");
  expect_one_error_line(r, "--dtype 'q4'");
  make_base_and_adapter();
  std::filesystem::create_directories(path("full"));
  write("full/keep.txt", "x");
  r = run("merge --base " + path("base") + " --adapter " + path("adapter") + " --out " +
          path("full"));
  expect_one_error_line(r, "not empty");
  r = run("merge --base " + path("base") + " --adapter " + path("base") + " --out " + path("o2"));
  expect_one_error_line(r, "adapter_config.json");
}

}  // namespace
}  // namespace cartlm
