// End-to-end tests of `cartlm data generate`: the built binary (CARTLM_BIN) writing to temp dirs.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "cli/cli_test_util.h"
#include "core/file_io.h"
#include "core/strings.h"
#include "formats/dataset.h"

namespace cartlm {
namespace {

size_t count_lines(const std::string& path) {
  auto text = read_file(path);
  if (!text.ok()) return 0;
  size_t n = 0;
  for (char c : *text) n += c == '\n';
  return n;
}

class DataGenerateCli : public CliTest {};

TEST_F(DataGenerateCli, DefaultRunWritesTheStudySplits) {
  RunResult r = run("data generate --out '" + path("d") + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(count_lines(path("d/train.jsonl")), 2700u);
  EXPECT_EQ(count_lines(path("d/val.jsonl")), 300u);
  EXPECT_EQ(count_lines(path("d/eval.jsonl")), 1000u);
  EXPECT_NE(r.out.find("eval texts also in train/val: 0 (0.0%)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("distinct texts (normalized): 4000 of 4000"), std::string::npos) << r.out;
  auto eval = read_dataset(path("d/eval.jsonl"));
  ASSERT_TRUE(eval.ok()) << eval.message();
  EXPECT_EQ(eval->front().id, "eval-000001");
  EXPECT_TRUE(eval->front().meta.contains("template"));
}

TEST_F(DataGenerateCli, SameSeedSameBytesAndOverwriteNeedsForce) {
  ASSERT_EQ(run("data generate --quiet --size 600 --eval-size 100 --out '" + path("a") + "'").code, 0);
  ASSERT_EQ(run("data generate --quiet --size 600 --eval-size 100 --out '" + path("b") + "'").code, 0);
  for (const char* f : {"train.jsonl", "val.jsonl", "eval.jsonl"})
    EXPECT_EQ(read_file(path("a/") + f).value(), read_file(path("b/") + f).value()) << f;

  std::string before = read_file(path("a/train.jsonl")).value();
  RunResult again = run("data generate --quiet --size 600 --eval-size 100 --seed 5 --out '" + path("a") + "'");
  expect_one_error_line(again, "--force");
  EXPECT_EQ(read_file(path("a/train.jsonl")).value(), before);  // untouched

  RunResult forced =
      run("data generate --quiet --size 600 --eval-size 100 --seed 5 --force --out '" + path("a") + "'");
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_NE(read_file(path("a/train.jsonl")).value(), before);
  EXPECT_EQ(count_lines(path("a/train.jsonl")), 540u);
}

TEST_F(DataGenerateCli, EvalSize100) {
  RunResult r = run("data generate --quiet --eval-size 100 --out '" + path("d") + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(count_lines(path("d/eval.jsonl")), 100u);
  EXPECT_EQ(count_lines(path("d/train.jsonl")), 2700u);
}

TEST_F(DataGenerateCli, UnwritableOut) {
  RunResult r = run("data generate --out /proc/x");
  expect_one_error_line(r, "/proc/x");
}

TEST_F(DataGenerateCli, MissingOrInvalidCatalog) {
  RunResult missing = run("data generate --out '" + path("d") + "' --catalog '" + path("nope.tsv") + "'");
  expect_one_error_line(missing, "nope.tsv");
  EXPECT_FALSE(file_exists(path("d/train.jsonl")));

  write("bad.tsv", "# header\nLip Balm\ten\tmain\t-\tlip balm | lip balms\nShampoo\txx\tmain\t-\tshampoo | shampoos\n");
  RunResult bad = run("data generate --out '" + path("d") + "' --catalog '" + path("bad.tsv") + "'");
  expect_one_error_line(bad, "bad.tsv:3");

  write("names.txt", "Lip Balm\nShampoo\nTowel\nCandle\n");
  RunResult names = run("data generate --quiet --size 300 --eval-size 50 --out '" + path("n") +
                        "' --catalog '" + path("names.txt") + "'");
  ASSERT_EQ(names.code, 0) << names.err;
  EXPECT_EQ(count_lines(path("n/eval.jsonl")), 50u);
}

TEST_F(DataGenerateCli, BadFlagsAndValues) {
  RunResult unknown = run("data generate --bogus-flag 3 --out '" + path("d") + "'");
  EXPECT_NE(unknown.code, 0);
  EXPECT_TRUE(starts_with(unknown.err, "cartlm: error: ")) << unknown.err;
  EXPECT_NE(unknown.err.find("bogus"), std::string::npos) << unknown.err;

  expect_one_error_line(run("data generate --langs en,fr --out '" + path("d") + "'"), "fr");
  expect_one_error_line(run("data generate --size 0 --out '" + path("d") + "'"), "--size");
  expect_one_error_line(run("data generate --typo-rate 2 --out '" + path("d") + "'"), "--typo-rate");
  expect_one_error_line(run("data generate --val-fraction 1 --out '" + path("d") + "'"), "--val-fraction");
  expect_one_error_line(run("data generate --train-rate typo=2 --out '" + path("d") + "'"), "typo");
  expect_one_error_line(run("data generate --train-rate tpyo=0.3 --out '" + path("d") + "'"),
                        "unknown noise kind 'tpyo'");
  RunResult not_a_number = run("data generate --size abc --out '" + path("d") + "'");
  EXPECT_NE(not_a_number.code, 0);
  EXPECT_TRUE(starts_with(not_a_number.err, "cartlm: error: ")) << not_a_number.err;
  EXPECT_FALSE(file_exists(path("d/train.jsonl")));
}

TEST_F(DataGenerateCli, HelpExplainsFlags) {
  RunResult r = run("data generate --help");
  EXPECT_EQ(r.code, 0);
  for (const char* flag : {"--out", "--seed", "--size", "--val-fraction", "--eval-size", "--eval-seed",
                           "--langs", "--catalog", "--heldout-share", "--noise-scale", "--typo-rate",
                           "--diacritics-rate", "--slang-rate", "--greeting-rate", "--signoff-rate",
                           "--emoji-rate", "--brand-rate", "--codeswitch-rate", "--casing-rate",
                           "--punct-rate", "--distractor-rate", "--force"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  EXPECT_NE(r.out.find("overwritten"), std::string::npos);
}

TEST_F(DataGenerateCli, NoiseScaleZeroAndLanguages) {
  RunResult r = run("data generate --quiet --size 300 --eval-size 30 --noise-scale 0 --langs hr,es --out '" +
                    path("d") + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  auto train = read_dataset(path("d/train.jsonl"));
  ASSERT_TRUE(train.ok()) << train.message();
  for (const Example& ex : *train) {
    EXPECT_TRUE(ex.lang == "hr" || ex.lang == "es") << ex.lang;
    EXPECT_TRUE(ex.meta.at("noise").empty()) << ex.text;
  }
}

}  // namespace
}  // namespace cartlm
