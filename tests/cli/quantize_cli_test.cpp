// End-to-end tests of `cartlm quantize` with the built binary: export a small random checkpoint to
// F16 GGUF, quantize that to Q4_K_M (with and without an imatrix), load and generate from the
// results, and one-line errors on bad input.
#include <gtest/gtest.h>

#include "cli/cli_test_util.h"
#include "formats/gguf.h"
#include "quant/imatrix_file.h"

namespace cartlm {
namespace {

class QuantizeCli : public CliTest {
 protected:
  void make_model() {
    auto r = run("init --preset tiny --hidden 64 --layers 2 --heads 4 --kv-heads 2 --ffn 256 "
                 "--vocab 384 --out " + path("m"));
    ASSERT_EQ(r.code, 0) << r.err;
  }
};

TEST_F(QuantizeCli, ExportQuantizeAndGenerate) {
  make_model();
  auto e = run("quantize --quiet --model " + path("m") + " --type F16 --out " + path("m.gguf"));
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NE(e.err.find("F16"), std::string::npos) << e.err;
  auto f16 = open_gguf(path("m.gguf"));
  ASSERT_TRUE(f16.ok()) << f16.message();
  EXPECT_EQ(*f16->get_u32("general.file_type"), 1u);

  auto q = run("quantize --model " + path("m.gguf") + " --type q4_k_m --threads 2 --out " +
               path("q.gguf"));
  ASSERT_EQ(q.code, 0) << q.err;
  auto qf = open_gguf(path("q.gguf"));
  ASSERT_TRUE(qf.ok()) << qf.message();
  EXPECT_EQ(*qf->get_u32("general.file_type"), 15u);
  EXPECT_EQ(qf->find_tensor("blk.0.ffn_gate.weight")->view.dtype, DType::Q5_0);  // 64 % 256: fallback
  // use_more_bits(i, 2) holds for layer 1 only (i >= 7 * 2 / 8).
  EXPECT_EQ(qf->find_tensor("blk.0.ffn_down.weight")->view.dtype, DType::Q4_K);
  EXPECT_EQ(qf->find_tensor("blk.1.ffn_down.weight")->view.dtype, DType::Q6_K);

  // Greedy generation gives the same text from the HF directory and its F32 export (F16 rounding
  // could change a token of a random model).
  auto f32 = run("quantize --quiet --model " + path("m") + " --type F32 --out " + path("f32.gguf"));
  ASSERT_EQ(f32.code, 0) << f32.err;
  auto a = run("generate --model " + path("m") + " --prompt 'add 3 lip balms' --max-tokens 8 "
               "--temperature 0");
  auto b = run("generate --model " + path("f32.gguf") + " --prompt 'add 3 lip balms' "
               "--max-tokens 8 --temperature 0");
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
  auto c = run("generate --model " + path("q.gguf") + " --prompt 'add 3 lip balms' "
               "--max-tokens 4 --temperature 0");
  EXPECT_EQ(c.code, 0) << c.err;
}

TEST_F(QuantizeCli, Imatrix) {
  make_model();
  Imatrix im;
  im.datasets = {"x.jsonl"};
  im.chunk_count = 1;
  im.chunk_size = 16;
  for (int l = 0; l < 2; ++l)
    im.entries["blk." + std::to_string(l) + ".attn_q.weight"] = {std::vector<float>(64, 2.0f), {4}};
  ASSERT_TRUE(write_imatrix_gguf(path("im.gguf"), im).ok());
  auto r = run("quantize --quiet --model " + path("m") + " --type Q4_0 --imatrix " +
               path("im.gguf") + " --out " + path("q.gguf"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("imatrix: 2 tensors weighted"), std::string::npos) << r.err;
}

TEST_F(QuantizeCli, Errors) {
  make_model();
  expect_one_error_line(run("quantize --model " + path("m") + " --type Q9_K --out " + path("x.gguf")),
                        "Q9_K");
  expect_one_error_line(run("quantize --model " + path("nope") + " --out " + path("x.gguf")),
                        "nope");
  write("bad.gguf", "GGUF\x03");
  expect_one_error_line(run("quantize --model " + path("bad.gguf") + " --out " + path("x.gguf")),
                        "bad.gguf");
  write("im.dat", "xx");
  expect_one_error_line(run("quantize --model " + path("m") + " --imatrix " + path("im.dat") +
                            " --out " + path("x.gguf")),
                        "im.dat");
  EXPECT_FALSE(std::filesystem::exists(path("x.gguf")));
}

}  // namespace
}  // namespace cartlm
