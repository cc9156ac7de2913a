// `cartlm train` end to end on a very small model: output directory layout, bad flags, and a run
// that is SIGKILLed mid-way and resumed, whose final weights must equal an uninterrupted run's.
#include <nlohmann/json.hpp>

#include "cli/cli_test_util.h"

namespace cartlm {
namespace {

class TrainCli : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    RunResult g = run("data generate --size 60 --eval-size 10 --out " + path("data"));
    ASSERT_EQ(g.code, 0) << g.err;
  }
  // A 2-layer, 32-wide model so that each run takes a second or two.
  std::string train_args(const std::string& out) const {
    return "train --base tiny --data " + path("data") + " --out " + path(out) +
           " --epochs 2 --batch 8 --lr 3e-3 --hidden 32 --layers 2 --heads 4 --kv-heads 2 "
           "--ffn 64 --vocab 300 --threads 2 --checkpoint-every 3 --accuracy-limit 4 --quiet";
  }
};

TEST_F(TrainCli, WritesALoadableModelDirectoryWithLogs) {
  RunResult r = run(train_args("out"));
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "cartlm.json",
                        "generation_config.json", "loss.csv", "loss.png", "train_log.json",
                        "checkpoints/state.bin"})
    EXPECT_TRUE(file_exists(path(std::string("out/") + f))) << f;
  auto log = nlohmann::json::parse(read_file(path("out/train_log.json")).value(), nullptr, false);
  ASSERT_FALSE(log.is_discarded());
  // 54 train examples, batch 8 -> 7 steps per epoch.
  EXPECT_EQ(log["steps"], 14);
  EXPECT_EQ(log["val_examples"], 6);
  EXPECT_EQ(log["val_judged"], 4);
  EXPECT_TRUE(log["val_exact_match"].is_number());
  EXPECT_EQ(log["val_loss"].size(), 2u);
  // The tiny model folds case and diacritics by default; --text-norm none turns it off.
  auto meta = nlohmann::json::parse(read_file(path("out/cartlm.json")).value(), nullptr, false);
  EXPECT_EQ(meta["text_normalization"], "fold");
  RunResult plain = run(train_args("plain") + " --text-norm none --max-steps 1");
  ASSERT_EQ(plain.code, 0) << plain.err;
  meta = nlohmann::json::parse(read_file(path("plain/cartlm.json")).value(), nullptr, false);
  EXPECT_EQ(meta["text_normalization"], "none");
  EXPECT_NE(run(train_args("bad") + " --text-norm upper").code, 0);
  RunResult g = run("generate --model " + path("out") + " --prompt 'Shopper: add soap\nCart: '");
  EXPECT_EQ(g.code, 0) << g.err;
}

TEST_F(TrainCli, KilledRunResumesToTheSameBytes) {
  RunResult ref = run(train_args("ref"));
  ASSERT_EQ(ref.code, 0) << ref.err;
  // SIGKILL right after step 5: the newest checkpoint is step 3, so steps 4-5 are redone.
  RunResult crashed = run(train_args("run") + " --debug-kill-at-step 5");
  EXPECT_TRUE(crashed.code == 137 || crashed.code == -1) << crashed.code << crashed.err;
  EXPECT_FALSE(file_exists(path("run/model.safetensors")));
  ASSERT_TRUE(file_exists(path("run/checkpoints/state.bin")));
  RunResult resumed = run(train_args("run") + " --resume");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  auto a = read_file(path("ref/model.safetensors"));
  auto b = read_file(path("run/model.safetensors"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(*a == *b) << "final weights differ after resume";
  EXPECT_EQ(read_file(path("ref/loss.csv")).value(), read_file(path("run/loss.csv")).value());
  auto log = nlohmann::json::parse(read_file(path("run/train_log.json")).value(), nullptr, false);
  EXPECT_EQ(log["resumed_at_step"], 3);
  // Resuming with other settings is refused.
  RunResult other = run(train_args("run") + " --resume --seed 7");
  expect_one_error_line(other, "written with different settings");
}

TEST_F(TrainCli, ForcedLossShareLeavesGrammarForcedTokensOutOfTheLoss) {
  auto settings = [&](const std::string& out) {
    auto log = nlohmann::json::parse(read_file(path(out + "/train_log.json")).value(), nullptr,
                                     false);
    return log.is_discarded() ? nlohmann::json() : log["settings"];
  };
  RunResult all = run(train_args("all") + " --max-steps 2 --forced-loss-share 1");
  ASSERT_EQ(all.code, 0) << all.err;
  RunResult dflt = run(train_args("dflt") + " --max-steps 2");
  ASSERT_EQ(dflt.code, 0) << dflt.err;
  RunResult none = run(train_args("none") + " --max-steps 2 --forced-loss-share 0");
  ASSERT_EQ(none.code, 0) << none.err;
  RunResult some = run(train_args("some") + " --max-steps 2 --forced-loss-share 0.5");
  ASSERT_EQ(some.code, 0) << some.err;
  const nlohmann::json a = settings("all"), n = settings("none"), s = settings("some"),
                       d = settings("dflt");
  // Share 1: every completion token and the eos.
  EXPECT_EQ(a["loss_tokens"], a["completion_tokens"]);
  ASSERT_GT(a["completion_tokens"].get<int>(), 54 * 10);
  // Share 0: the action, the product's branch points and the quantity only, the JSON skeleton
  // and the eos left out (a completion is about 20 tokens; its choices about 5).
  EXPECT_EQ(n["completion_tokens"], a["completion_tokens"]);
  EXPECT_GE(n["loss_tokens"].get<int>(), 54 * 3);
  EXPECT_LT(n["loss_tokens"].get<int>(), a["loss_tokens"].get<int>() / 2);
  EXPECT_GT(s["loss_tokens"].get<int>(), n["loss_tokens"].get<int>());
  EXPECT_LT(s["loss_tokens"].get<int>(), a["loss_tokens"].get<int>());
  // The tiny preset's default keeps the forced tokens for an eighth of the examples.
  EXPECT_EQ(d["forced_loss_share"], 0.125);
  EXPECT_GT(d["loss_tokens"].get<int>(), n["loss_tokens"].get<int>());
  EXPECT_LT(d["loss_tokens"].get<int>(), s["loss_tokens"].get<int>());
  expect_one_error_line(run(train_args("x") + " --forced-loss-share 1.5"), "--forced-loss-share");
}

TEST_F(TrainCli, BadFlagsAreOneLineErrors) {
  expect_one_error_line(run(train_args("x") + " --mode bogus"), "--mode 'bogus'");
  expect_one_error_line(run(train_args("x") + " --schedule step"), "--schedule 'step'");
  expect_one_error_line(run(train_args("x") + " --mode lora"), "needs --base DIR");
  expect_one_error_line(run("train --base " + path("nope") + " --data " + path("data") +
                            " --out " + path("x")),
                        "--base");
  RunResult help = run("train --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--resume"), std::string::npos);
}

}  // namespace
}  // namespace cartlm
