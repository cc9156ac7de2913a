// End-to-end: `cartlm pipeline` stage selection / resume / force on the verbs that exist cheaply
// (data generate), and `cartlm bench` + `cartlm report` on a random-weight tiny model.
#include <filesystem>

#include "cli/cli_test_util.h"
#include "formats/jsonl.h"

namespace cartlm {
namespace {

class PipelineCli : public CliTest {};

TEST_F(PipelineCli, DataStageRunsSkipsAndForces) {
  std::string rd = path("run");
  RunResult r = run("pipeline --quick --stages data --run '" + rd + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(file_exists(rd + "/data/eval.jsonl"));
  EXPECT_TRUE(file_exists(rd + "/.done/data.json"));
  EXPECT_FALSE(file_exists(rd + "/.done/train.json"));
  EXPECT_NE(r.err.find("data"), std::string::npos);
  EXPECT_NE(r.err.find("done in"), std::string::npos) << r.err;
  // The log starts with the command that a user can rerun by hand.
  std::string log = read_file(rd + "/logs/data.log").value();
  EXPECT_NE(log.find(" data generate --out "), std::string::npos) << log;

  r = run("pipeline --quick --stages data --run '" + rd + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("skipped"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("done in"), std::string::npos) << r.err;

  r = run("pipeline --quick --stages data --force --run '" + rd + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("done in"), std::string::npos) << r.err;

  // Different settings (not --quick) change the command, so the stage is not "done" any more.
  r = run("pipeline --stages data --run '" + rd + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("done in"), std::string::npos) << r.err;
}

TEST_F(PipelineCli, UnknownStageIsOneErrorLine) {
  RunResult r = run("pipeline --stages nonsense --run '" + path("run") + "'");
  expect_one_error_line(r, "unknown stage 'nonsense'");
}

TEST_F(PipelineCli, NewRunGetsTimestampAndLatestLink) {
  RunResult r = run("pipeline --quick --stages data --runs-root '" + path("runs") + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  std::error_code ec;
  std::string target = std::filesystem::read_symlink(path("runs/latest"), ec).string();
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(target.size(), 15u) << target;  // YYYYMMDD-HHMMSS
  EXPECT_TRUE(file_exists(path("runs/latest/data/train.jsonl")));
}

TEST_F(PipelineCli, BenchAndReportOnTinyModel) {
  RunResult r = run("init --preset tiny --out '" + path("m") + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("data generate --size 40 --eval-size 20 --out '" + path("d") + "' --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("bench --models '" + path("m") + "' --names tiny --data '" + path("d/eval.jsonl") +
          "' --limit 5 --reps 2 --threads 1 --out '" + path("b") + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  std::string text = read_file(path("b/bench.json")).value();
  json j = json::parse(text, nullptr, false);
  ASSERT_TRUE(j.is_object()) << text;
  ASSERT_EQ(j["variants"].size(), 1u);
  const json& v = j["variants"][0];
  EXPECT_EQ(v["name"], "tiny");
  EXPECT_EQ(v["runs"].size(), 2u);
  EXPECT_EQ(v["eval"]["n"], 5);
  for (const char* k : {"peak_rss_bytes", "load_s", "prefill_tps", "decode_tps", "intents_per_s",
                        "latency_p50_ms"}) {
    ASSERT_TRUE(v["stats"][k]["median"].is_number()) << k;
    EXPECT_GT(v["stats"][k]["median"].get<double>(), 0) << k;
  }
  EXPECT_TRUE(file_exists(path("b/bench.csv")));
  EXPECT_TRUE(file_exists(path("b/report.html")));
  EXPECT_NE(r.out.find("tiny"), std::string::npos) << r.out;

  r = run("report --bench '" + path("b/bench.json") + "' --out '" + path("r") + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(file_exists(path("r/report.md")));
  EXPECT_TRUE(file_exists(path("r/charts/pareto_speed.png")));
  EXPECT_NE(r.out.find("Best accuracy: tiny"), std::string::npos) << r.out;

  // A model that does not exist: the variant fails with a warning; alone, that is an error.
  r = run("bench --models '" + path("nope") + "' --reps 1 --out '" + path("b2") + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cartlm: error: every variant failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/nope"), std::string::npos) << r.err;  // the worker names the path
}

}  // namespace
}  // namespace cartlm
