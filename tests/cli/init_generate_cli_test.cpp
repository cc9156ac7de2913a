// End-to-end tests of `cartlm init` and `cartlm generate` with the built binary (CARTLM_BIN), on
// the tiny preset only so they stay fast.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/file_io.h"
#include "core/strings.h"
#include "formats/hf_config.h"
#include "tokenizer/tokenizer.h"

namespace cartlm {
namespace {

struct RunResult {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class InitGenerateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cartlm_initgen_cli_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  RunResult run(const std::string& args) {
    std::string out = dir_ + "/stdout.txt", err = dir_ + "/stderr.txt";
    std::string cmd = std::string(CARTLM_BIN) + " " + args + " >" + out + " 2>" + err;
    int st = std::system(cmd.c_str());
    RunResult r;
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  std::string dir_;
};

TEST_F(InitGenerateCli, TinyInitThenGreedyGenerateIsDeterministic) {
  std::string model = dir_ + "/model";
  RunResult init = run("init --preset tiny --out " + model);
  ASSERT_EQ(init.code, 0) << init.err;
  for (const char* f : {"config.json", "model.safetensors", "generation_config.json",
                        "tokenizer.json", "tokenizer_config.json"})
    EXPECT_TRUE(file_exists(model + "/" + f)) << f;

  // config.json's special ids agree with the tokenizer's, and the vocabularies have one size.
  auto cfg = load_hf_config(model);
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  auto tok = load_tokenizer(model);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  EXPECT_EQ(tok->size(), cfg->vocab_size);
  ASSERT_TRUE(cfg->bos_token_id.has_value());
  EXPECT_EQ(*cfg->bos_token_id, tok->bos_id);
  ASSERT_EQ(cfg->eos_token_ids.size(), 1u);
  EXPECT_EQ(cfg->eos_token_ids[0], tok->eos_id);

  std::string gen = "generate --model " + model +
                    " --prompt \"Add 2 soaps to my cart\" --max-tokens 8 --temperature 0 --threads 1";
  RunResult a = run(gen);
  ASSERT_EQ(a.code, 0) << a.err;
  RunResult b = run(gen);
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_FALSE(a.out.empty());
  EXPECT_NE(a.err.find("tokens/s"), std::string::npos) << a.err;
}

TEST_F(InitGenerateCli, SameSeedGivesSameWeights) {
  ASSERT_EQ(run("init --preset tiny --layers 1 --out " + dir_ + "/a").code, 0);
  ASSERT_EQ(run("init --preset tiny --layers 1 --out " + dir_ + "/b").code, 0);
  ASSERT_EQ(run("init --preset tiny --layers 1 --seed 7 --out " + dir_ + "/c").code, 0);
  std::string a = slurp(dir_ + "/a/model.safetensors");
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, slurp(dir_ + "/b/model.safetensors"));
  EXPECT_NE(a, slurp(dir_ + "/c/model.safetensors"));
}

TEST_F(InitGenerateCli, GenerateOnMissingDirFailsWithOneLine) {
  RunResult r = run("generate --model " + dir_ + "/nope --prompt hi --max-tokens 2");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err.rfind("cartlm: error:", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(InitGenerateCli, InitRefusesNonEmptyDirWithoutForce) {
  std::string model = dir_ + "/model";
  std::filesystem::create_directories(model);
  ASSERT_TRUE(write_file_atomic(model + "/keep.txt", "x").ok());
  RunResult r = run("init --preset tiny --layers 1 --out " + model);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_FALSE(file_exists(model + "/model.safetensors"));
  RunResult f = run("init --preset tiny --layers 1 --force --out " + model);
  EXPECT_EQ(f.code, 0) << f.err;
  EXPECT_TRUE(file_exists(model + "/model.safetensors"));
}

TEST_F(InitGenerateCli, TokenizerTrainKeepsUserTokensWhole) {
  std::string corpus;
  for (int i = 0; i < 200; ++i)
    corpus += "Shopper: add " + std::to_string(i % 17 + 1) + " lip balms please Cart: done\n";
  ASSERT_TRUE(write_file_atomic(dir_ + "/corpus.txt", corpus).ok());
  const std::string tok = dir_ + "/tok/tokenizer.json";
  RunResult t = run("tokenizer train --input " + dir_ + "/corpus.txt --vocab-size 300 --user-token Shopper: "
                    "--user-token 'Cart: ' --out " + tok);
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_TRUE(file_exists(dir_ + "/tok/tokenizer_config.json"));
  RunResult e = run("tokenizer encode --pieces --tokenizer " + tok + " --text 'Shopper: x Cart: y'");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NE(e.out.find(":'Shopper:' "), std::string::npos) << e.out;
  EXPECT_NE(e.out.find(":'Cart: '"), std::string::npos) << e.out;
  RunResult bad = run("tokenizer train --input " + dir_ + "/corpus.txt --vocab-size 300 --user-token a --out " + tok);
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("user token \"a\""), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace cartlm
