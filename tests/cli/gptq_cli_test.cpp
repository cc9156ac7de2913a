// End-to-end tests of `cartlm gptq` (AutoGPTQ directory, GPTQ-rounded GGUFs) and `cartlm imatrix`
// on a tiny random-weight model.
#include <gtest/gtest.h>

#include "cli/cli_test_util.h"
#include "formats/gguf.h"
#include "formats/jsonl.h"
#include "model/load.h"
#include "quant/imatrix_file.h"

namespace cartlm {
namespace {

class GptqCli : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    // hidden 256 / ffn 768: rows Q4_K can hold.
    RunResult init = run("init --preset tiny --layers 2 --out " + path("model"));
    ASSERT_EQ(init.code, 0) << init.err;
    std::string data;
    const char* texts[] = {"Can you delet 12 lip balms for me?", "Dodaj 3 jabuke", "quita una vela",
                           "add two candles please", "remove 5 apples", "stavi 7 svijeća"};
    for (int i = 0; i < 12; ++i)
      data += strformat("{\"id\": \"%d\", \"lang\": \"en\", \"text\": \"%s\", \"label\": "
                        "{\"action\": \"%s\", \"product\": \"Lip Balm\", \"quantity\": %d}}\n",
                        i, texts[i % 6], i % 2 ? "add" : "remove", i + 1);
    write("train.jsonl", data);
  }
  std::string base() const {
    return "--model " + path("model") + " --data " + path("train.jsonl") + " --quiet ";
  }
};

TEST_F(GptqCli, AutoGptqDirectoryLoadsAndRuns) {
  RunResult r = run("gptq " + base() + "--group 64 --samples 8 --out " + path("gq"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("14 linears quantized with GPTQ"), std::string::npos) << r.err;
  auto qc = read_file(path("gq/quantize_config.json"));
  ASSERT_TRUE(qc.ok());
  json q = json::parse(*qc, nullptr, false);
  EXPECT_EQ(q["bits"], 4);
  EXPECT_EQ(q["group_size"], 64);
  EXPECT_EQ(q["desc_act"], false);
  EXPECT_EQ(q["sym"], true);
  EXPECT_EQ(q["checkpoint_format"], "gptq");
  json cfg = json::parse(read_file(path("gq/config.json")).value(), nullptr, false);
  EXPECT_EQ(cfg["quantization_config"]["quant_method"], "gptq");
  auto ck = load_checkpoint_tensors(path("gq"));
  ASSERT_TRUE(ck.ok()) << ck.status().message();
  const TensorView* qw = ck->find("model.layers.1.mlp.down_proj.qweight");
  ASSERT_NE(qw, nullptr);
  EXPECT_EQ(qw->dtype, DType::I32);
  EXPECT_EQ(qw->shape, (std::vector<int64_t>{768 / 8, 256}));
  EXPECT_EQ(ck->find("model.layers.1.mlp.down_proj.scales")->shape, (std::vector<int64_t>{12, 256}));
  EXPECT_EQ(ck->find("model.layers.0.self_attn.q_proj.weight"), nullptr);
  auto lm = load_model(path("gq"));
  ASSERT_TRUE(lm.ok()) << lm.status().message();
  EXPECT_EQ((*lm)->weight_type, "GPTQ-4 (Q4_1)");
  RunResult run_r = run("run --model " + path("gq") + " 'add 3 candles'");
  EXPECT_EQ(run_r.code, 0) << run_r.err;

  // act-order, 3 bits, asymmetric: dequantized to F16 at load.
  r = run("gptq " + base() + "--bits 3 --group 32 --asym --act-order --samples 6 --out " + path("gq3"));
  ASSERT_EQ(r.code, 0) << r.err;
  lm = load_model(path("gq3"));
  ASSERT_TRUE(lm.ok()) << lm.status().message();
  EXPECT_EQ((*lm)->weight_type, "GPTQ-3 (F16)");
}

TEST_F(GptqCli, GgufFormatsHoldGptqRoundedBlocks) {
  RunResult r = run("gptq " + base() + "--format gguf-q4_0 --samples 8 --out " + path("q4_0.gguf"));
  ASSERT_EQ(r.code, 0) << r.err;
  auto f = open_gguf(path("q4_0.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().message();
  for (const char* n : {"blk.0.attn_q.weight", "blk.1.ffn_down.weight", "blk.1.attn_v.weight"}) {
    ASSERT_NE(f->find_tensor(n), nullptr) << n;
    EXPECT_EQ(f->find_tensor(n)->view.dtype, DType::Q4_0) << n;
  }
  EXPECT_EQ(f->get_string("cartlm.prompt_template").ok(), f->has("cartlm.prompt_template"));

  r = run("gptq " + base() + "--format gguf-q4_k --samples 8 --out " + path("q4_k.gguf"));
  ASSERT_EQ(r.code, 0) << r.err;
  f = open_gguf(path("q4_k.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->view.dtype, DType::Q4_K);
  // Q4_K_M gives attn_v / ffn_down of "more bits" layers (here layer 1 of 2) Q6_K: those are
  // quantized by the exporter, not by GPTQ.
  EXPECT_EQ(f->find_tensor("blk.0.ffn_down.weight")->view.dtype, DType::Q4_K);
  EXPECT_EQ(f->find_tensor("blk.1.ffn_down.weight")->view.dtype, DType::Q6_K);
  EXPECT_NE(r.err.find("12 linears quantized with GPTQ"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("linears quantized with GPTQ"), std::string::npos) << r.err;
  auto lm = load_model(path("q4_k.gguf"));
  EXPECT_TRUE(lm.ok()) << lm.status().message();
}

TEST_F(GptqCli, ImatrixWritesBothFormats) {
  RunResult r = run("imatrix " + base() + "--out " + path("im.gguf"));
  ASSERT_EQ(r.code, 0) << r.err;
  auto im = read_imatrix(path("im.gguf"));
  ASSERT_TRUE(im.ok()) << im.status().message();
  EXPECT_EQ(im->entries.size(), 14u);
  const ImatrixEntry& q = im->entries.at("blk.1.attn_q.weight");
  EXPECT_EQ(q.sums.size(), 256u);
  EXPECT_EQ(q.sums, im->entries.at("blk.1.attn_k.weight").sums);  // shared input
  EXPECT_EQ(im->entries.at("blk.0.ffn_down.weight").sums.size(), 768u);
  EXPECT_GT(q.counts.at(0), 12);
  for (float v : q.sums) EXPECT_GT(v, 0.0f);

  r = run("imatrix " + base() + "--chunks 1 --chunk-size 16 --out " + path("im.dat"));
  ASSERT_EQ(r.code, 0) << r.err;
  auto dat = read_imatrix(path("im.dat"));
  ASSERT_TRUE(dat.ok()) << dat.status().message();
  EXPECT_TRUE(dat->is_legacy);
  EXPECT_EQ(dat->entries.size(), 14u);

  // And it feeds gptq's Q4_K grid.
  r = run("gptq " + base() + "--format gguf-q4_k --imatrix " + path("im.gguf") + " --samples 4 --out " +
          path("imq4k.gguf"));
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(GptqCli, BadFlagsGiveOneErrorLine) {
  expect_one_error_line(run("gptq " + base() + "--format q5 --out " + path("x")), "--format");
  expect_one_error_line(run("gptq " + base() + "--format gguf-q4_0 --bits 3 --out " + path("x")),
                        "--bits 3");
  expect_one_error_line(run("gptq " + base() + "--bits 5 --out " + path("x")), "--bits 5");
  write("bad.jsonl", "{\"id\": 1}\n");
  expect_one_error_line(run("imatrix --model " + path("model") + " --data " + path("bad.jsonl") +
                            " --out " + path("i.gguf")),
                        "bad.jsonl");
}

}  // namespace
}  // namespace cartlm
