// End-to-end tests of `cartlm eval` and `cartlm run` on a small random-weight model.
#include <gtest/gtest.h>

#include "cli/cli_test_util.h"
#include "data/catalog.h"
#include "formats/intent_meta.h"
#include "eval/score.h"
#include "formats/jsonl.h"

namespace cartlm {
namespace {

class EvalRunCli : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    RunResult init = run("init --preset tiny --hidden 64 --layers 2 --heads 4 --kv-heads 2 --ffn 128 "
                         "--out " + path("model"));
    ASSERT_EQ(init.code, 0) << init.err;
    IntentMeta meta;
    meta.products = default_catalog().names();
    ASSERT_TRUE(save_intent_meta(model(), meta).ok());
  }
  std::string model() const { return path("model"); }
  void write_eval() const {
    write("eval.jsonl",
          "{\"id\": \"a\", \"lang\": \"en\", \"text\": \"Can you delet 12 lip balms for me?\", "
          "\"label\": {\"action\": \"remove\", \"product\": \"Lip Balm\", \"quantity\": 12}}\n"
          "{\"id\": \"b\", \"lang\": \"hr\", \"text\": \"Dodaj 3 jabuke\", "
          "\"label\": {\"action\": \"add\", \"product\": \"Apple\", \"quantity\": 3}}\n"
          "{\"id\": \"c\", \"lang\": \"es\", \"text\": \"quita una vela\", "
          "\"label\": {\"action\": \"remove\", \"product\": \"Candle\", \"quantity\": 1}}\n");
  }
};

TEST_F(EvalRunCli, RunPrintsAValidIntentAndWarnsAboutTheBuiltInCatalog) {
  RunResult r = run("run --model " + model() + " 'Can you delet 12 lip balms for me?'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(check_output(r.out).schema_ok) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
  std::filesystem::remove(path("model/cartlm.json"));
  RunResult w = run("run --model " + model() + " add 2 lamps");
  ASSERT_EQ(w.code, 0) << w.err;
  EXPECT_TRUE(check_output(w.out).schema_ok) << w.out;
  EXPECT_NE(w.err.find("built-in catalog"), std::string::npos) << w.err;
}

TEST_F(EvalRunCli, EvalWritesPredictionsAndReportsWithThroughput) {
  write_eval();
  RunResult r = run("eval --model " + model() + " --data " + path("eval.jsonl") + " --out " +
                    path("ev") + " --threads 2 --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Throughput:"), std::string::npos) << r.out;
  auto preds = read_predictions(path("ev/predictions.jsonl"));
  ASSERT_TRUE(preds.ok()) << preds.message();
  ASSERT_EQ(preds->size(), 3u);
  for (const Prediction& p : *preds) EXPECT_TRUE(check_output(p.output).schema_ok) << p.output;
  auto rep = read_file(path("ev/report.json"));
  ASSERT_TRUE(rep.ok());
  json j = json::parse(*rep, nullptr, false);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["n"], 3);
  EXPECT_EQ(j["valid"], 3);  // constrained decoding: always valid
  EXPECT_EQ(j["decode"], "constrained");
  EXPECT_GT(j["throughput"]["mean_forward_passes"].get<double>(), 0.0);
  EXPECT_TRUE(file_exists(path("ev/report.txt")));
  // The predictions score the same with `cartlm score`.
  RunResult s = run("score --gold " + path("eval.jsonl") + " --pred " + path("ev/predictions.jsonl") + " --json");
  ASSERT_EQ(s.code, 0) << s.err;
  json sj = json::parse(s.out, nullptr, false);
  EXPECT_EQ(sj["correct"], j["correct"]);

  RunResult f = run("eval --model " + model() + " --data " + path("eval.jsonl") +
                    " --decode free --max-new-tokens 8 --limit 2 --quiet");
  ASSERT_EQ(f.code, 0) << f.err;
  EXPECT_NE(f.out.find("decode free"), std::string::npos) << f.out;
}

TEST_F(EvalRunCli, BulkRunReportsBadLinesAndShards) {
  write("in.txt", "add 2 lamps\n\nadd \xff soap\n" + std::string(2500, 'a') + "\nremove 1 candle\n");
  RunResult r = run("run --model " + model() + " --input " + path("in.txt") + " --output " +
                    path("out.jsonl") + " --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  auto lines = read_jsonl(path("out.jsonl"));
  ASSERT_TRUE(lines.ok()) << lines.message();
  ASSERT_EQ(lines->size(), 5u);
  EXPECT_EQ((*lines)[0]["id"], "line-1");
  EXPECT_TRUE((*lines)[0]["error"].is_null());
  EXPECT_TRUE(check_output((*lines)[0]["output"].get<std::string>()).schema_ok);
  EXPECT_EQ((*lines)[1]["error"], "text is empty");
  EXPECT_EQ((*lines)[2]["error"], "text is not valid UTF-8 (byte 4)");
  EXPECT_EQ((*lines)[3]["error"], "text is 2500 bytes, the limit is 2000");
  EXPECT_TRUE((*lines)[4]["error"].is_null());

  // Contiguous shards 0/2 and 1/2 concatenate back to the whole run.
  RunResult s0 = run("run --model " + model() + " --input " + path("in.txt") + " --shard 0/2 --quiet");
  RunResult s1 = run("run --model " + model() + " --input " + path("in.txt") + " --shard 1/2 --quiet");
  ASSERT_EQ(s0.code, 0) << s0.err;
  ASSERT_EQ(s1.code, 0) << s1.err;
  EXPECT_EQ(std::count(s0.out.begin(), s0.out.end(), '\n'), 2);
  EXPECT_EQ(std::count(s1.out.begin(), s1.out.end(), '\n'), 3);
  RunResult st = run("run --model " + model() + " --input " + path("in.txt") +
                     " --shard 1/2 --shard-mode strided --quiet");
  ASSERT_EQ(st.code, 0) << st.err;
  EXPECT_NE(st.out.find("\"line-2\""), std::string::npos);
  EXPECT_NE(st.out.find("\"line-4\""), std::string::npos);
  EXPECT_EQ(st.out.find("\"line-1\""), std::string::npos);

  // stdin, one record per line.
  RunResult in = run("run --model " + model() + " --quiet < " + path("in.txt"));
  ASSERT_EQ(in.code, 0) << in.err;
  EXPECT_EQ(std::count(in.out.begin(), in.out.end(), '\n'), 5);
}

TEST_F(EvalRunCli, BadFlagsAreOneErrorLine) {
  expect_one_error_line(run("run --model " + model() + " --decode bogus hi"), "--decode");
  write("in.txt", "add 2 lamps\n");
  expect_one_error_line(run("run --model " + model() + " --input " + path("in.txt") + " --shard 2/2"),
                        "--shard");
  expect_one_error_line(run("run --model " + model() + " ''"), "text is empty");
  expect_one_error_line(run("eval --model " + model() + " --data " + path("missing.jsonl")),
                        "missing.jsonl");
}

}  // namespace
}  // namespace cartlm
