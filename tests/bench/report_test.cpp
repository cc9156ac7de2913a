// The trade-off analysis and the report, fed with synthetic benchmark numbers: the Pareto sets and
// the recommendations must follow the numbers, and the report files must show them.
#include "bench/report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "core/file_io.h"

namespace cartlm {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

BenchRun run(const std::string& name, size_t correct, double rss_mib, double ips, double jitter = 0) {
  BenchRun r;
  r.variant = name;
  r.path = "models/" + name + ".gguf";
  r.weight_type = name;
  r.decode = "constrained";
  r.threads = 2;
  r.load_s = 0.05 + jitter;
  r.model_bytes = rss_mib * 0.8 * kMiB;
  r.weight_bytes = rss_mib * 0.7 * kMiB;
  r.peak_rss_bytes = rss_mib * kMiB;
  r.prefill_tps = 2000 + 100 * jitter;
  r.decode_tps = 300 + jitter;
  r.latency_p50_ms = 1000 / ips;
  r.latency_p95_ms = 1500 / ips;
  r.intents_per_s = ips + jitter;
  r.energy_note = "not available (test)";
  r.eval_n = 1000;
  r.eval_correct = correct;
  r.eval_valid = 1000;
  return r;
}

BenchFile bench(const std::vector<BenchRun>& runs) {
  BenchFile b;
  b.data = "eval.jsonl";
  b.reps = 1;
  for (const BenchRun& r : runs) b.variants.push_back(summarize_variant({r}));
  return b;
}

std::vector<std::string> names(const std::vector<TradeoffPoint>& pts, const std::vector<int>& idx) {
  std::vector<std::string> out;
  for (int i : idx) out.push_back(pts[i].name);
  return out;
}

TEST(Pareto, FrontierAndDominance) {
  // x lower is better: (acc, x) = A(0.9, 10) B(0.8, 5) C(0.8, 8) D(0.95, 20) E(nan, 1)
  std::vector<double> acc = {0.9, 0.8, 0.8, 0.95, NAN}, x = {10, 5, 8, 20, 1};
  ParetoResult r = pareto_frontier(acc, x, false);
  EXPECT_EQ(r.frontier, (std::vector<int>{1, 0, 3}));  // cheapest first
  EXPECT_EQ(r.dominated, (std::vector<int>{2}));
  EXPECT_EQ(r.dominated_by[2], 1);  // B: as accurate and cheaper (A costs more than C)
  EXPECT_EQ(r.dominated_by[4], -1);  // unusable, neither
  // Higher-is-better x: frontier sorted from the highest x down.
  std::vector<double> speed = {10, 5, 8, 20};
  acc.pop_back();
  r = pareto_frontier(acc, speed, true);
  EXPECT_EQ(r.frontier, (std::vector<int>{3}));  // D is most accurate and fastest
  EXPECT_EQ(r.dominated.size(), 3u);
  // Several dominators: the most accurate one is named.
  r = pareto_frontier({0.5, 0.7, 0.9}, {10, 5, 6}, false);
  EXPECT_EQ(r.dominated_by[0], 2);
  // Exact ties dominate nobody.
  r = pareto_frontier({0.5, 0.5}, {1, 1}, false);
  EXPECT_EQ(r.frontier.size(), 2u);
}

TEST(Recommend, FollowsTheNumbers) {
  BenchFile b = bench({run("F16", 960, 300, 50), run("Q8_0", 958, 200, 70),
                       run("Q5_K_M", 952, 160, 80), run("Q4_K_M", 930, 140, 90),
                       run("Q3_K_M", 900, 150, 60)});
  ReportInput in;
  in.bench = b;
  std::vector<TradeoffPoint> pts = tradeoff_points(in);
  Recommendation rec = recommend(pts);
  EXPECT_EQ(pts[rec.best_accuracy].name, "F16");
  // Within one point of 96.0%: F16, Q8_0 (95.8), Q5_K_M (95.2).
  EXPECT_EQ(names(pts, rec.within), (std::vector<std::string>{"F16", "Q8_0", "Q5_K_M"}));
  EXPECT_EQ(pts[rec.fastest_within].name, "Q5_K_M");
  EXPECT_EQ(pts[rec.smallest_within].name, "Q5_K_M");
  // Q3_K_M: less accurate than Q4_K_M, more memory, slower: dominated on both.
  EXPECT_EQ(names(pts, rec.memory_front.dominated), (std::vector<std::string>{"Q3_K_M"}));
  EXPECT_EQ(names(pts, rec.dominated_both), (std::vector<std::string>{"Q3_K_M"}));
  EXPECT_EQ(names(pts, rec.memory_front.frontier),
            (std::vector<std::string>{"Q4_K_M", "Q5_K_M", "Q8_0", "F16"}));

  // Change the numbers: Q3_K_M becomes the smallest and fastest, Q8_0 loses accuracy.
  BenchFile b2 = bench({run("F16", 960, 300, 50), run("Q8_0", 940, 200, 70),
                        run("Q5_K_M", 952, 160, 80), run("Q4_K_M", 930, 140, 90),
                        run("Q3_K_M", 951, 100, 120)});
  in.bench = b2;
  pts = tradeoff_points(in);
  Recommendation rec2 = recommend(pts);
  EXPECT_EQ(names(pts, rec2.within), (std::vector<std::string>{"F16", "Q5_K_M", "Q3_K_M"}));
  EXPECT_EQ(pts[rec2.fastest_within].name, "Q3_K_M");
  EXPECT_EQ(pts[rec2.smallest_within].name, "Q3_K_M");
  EXPECT_EQ(names(pts, rec2.memory_front.frontier), (std::vector<std::string>{"Q3_K_M", "Q5_K_M", "F16"}));
  EXPECT_EQ(names(pts, rec2.memory_front.dominated), (std::vector<std::string>{"Q8_0", "Q4_K_M"}));
  EXPECT_EQ(names(pts, rec2.dominated_both), (std::vector<std::string>{"Q8_0", "Q4_K_M"}));

  // The text follows: the recommendation lines name the new winners.
  std::vector<std::string> lines = recommendation_lines(pts, rec2);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_NE(lines[0].find("F16"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("Q3_K_M"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("Q3_K_M"), std::string::npos) << lines[2];
  EXPECT_NE(lines.back().find("Q8_0, Q4_K_M"), std::string::npos) << lines.back();
}

TEST(Recommend, ToleranceIsOnePointByDefault) {
  BenchFile b = bench({run("A", 900, 100, 10), run("B", 890, 50, 20), run("C", 889, 40, 30)});
  ReportInput in;
  in.bench = b;
  auto pts = tradeoff_points(in);
  Recommendation rec = recommend(pts);
  EXPECT_EQ(pts[rec.fastest_within].name, "B");  // exactly one point lower counts; C (1.1) not
  rec = recommend(pts, 0.02);
  EXPECT_EQ(pts[rec.fastest_within].name, "C");
}

TEST(Recommend, NoAccuracyMeansNoRecommendation) {
  BenchRun r = run("A", 0, 100, 10);
  r.eval_n = 0;
  ReportInput in;
  in.bench = bench({r});
  auto pts = tradeoff_points(in);
  Recommendation rec = recommend(pts);
  EXPECT_EQ(rec.best_accuracy, -1);
  EXPECT_NE(recommendation_lines(pts, rec)[0].find("nothing to recommend"), std::string::npos);
  // An eval report fills the gap.
  EvalEntry e;
  e.variant = "A";
  e.mode = "constrained";
  e.n = 10;
  e.correct = 9;
  e.accuracy = 0.9;
  in.evals.push_back(e);
  pts = tradeoff_points(in);
  EXPECT_DOUBLE_EQ(pts[0].accuracy, 0.9);
}

TEST(Stats, MedianQuartilesRange) {
  Stat s = summarize({5, 1, 3, 2, 4});
  EXPECT_DOUBLE_EQ(s.median, 3);
  EXPECT_DOUBLE_EQ(s.q1, 2);
  EXPECT_DOUBLE_EQ(s.q3, 4);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 5);
  s = summarize({1, 2});
  EXPECT_DOUBLE_EQ(s.median, 1.5);
  EXPECT_TRUE(std::isnan(summarize({}).median));
  EXPECT_TRUE(std::isnan(summarize({1, NAN}).median));
  EXPECT_DOUBLE_EQ(percentile({10, 20, 30, 40}, 95), 38.5);
}

TEST(BenchFiles, JsonRoundTripAndCsv) {
  BenchRun a = run("Q4_K_M", 930, 140, 90), a2 = run("Q4_K_M", 930, 142, 92, 1.0);
  a2.energy_j_per_token = 0.5;
  BenchFile b;
  b.data = "eval.jsonl";
  b.reps = 2;
  b.variants.push_back(summarize_variant({a, a2}));
  json j = bench_to_json(b);
  Result<BenchFile> back = bench_from_json_text(j.dump(), "bench.json");
  ASSERT_TRUE(back.ok()) << back.message();
  ASSERT_EQ(back->variants.size(), 1u);
  const VariantResult& v = back->variants[0];
  EXPECT_EQ(v.runs.size(), 2u);
  EXPECT_DOUBLE_EQ(v.median("peak_rss_bytes"), 141 * kMiB);
  EXPECT_DOUBLE_EQ(v.stat("intents_per_s").min, 90);
  EXPECT_DOUBLE_EQ(v.stat("intents_per_s").max, 93);
  EXPECT_TRUE(std::isnan(v.median("energy_j_per_token")));  // one rep lacks it
  EXPECT_NEAR(v.accuracy, 0.93, 1e-12);
  EXPECT_LT(v.ci95.lo, 0.93);
  EXPECT_GT(v.ci95.hi, 0.93);
  std::string csv = bench_to_csv(*back);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2);
  EXPECT_NE(csv.find("Q4_K_M,Q4_K_M,constrained,2,1000,930,0.93,"), std::string::npos) << csv;

  EXPECT_FALSE(bench_from_json_text("{", "x").ok());
  Result<BenchFile> bad = bench_from_json_text(R"({"variants": [{"runs": [{"variant": "A", "load_s": "slow"}]}]})", "b.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("load_s"), std::string::npos) << bad.message();
}

TEST(Energy, WrapAroundAwareAndNotAvailable) {
  namespace fs = std::filesystem;
  std::string root = ::testing::TempDir() + "rapl_" + std::to_string(::getpid());
  fs::create_directories(root + "/intel-rapl:0");
  fs::create_directories(root + "/intel-rapl:0:0");  // sub-zone: must not be counted twice
  auto put = [&](const std::string& f, const std::string& v) {
    ASSERT_TRUE(write_file_atomic(root + "/" + f, v + "\n").ok());
  };
  put("intel-rapl:0/max_energy_range_uj", "1000000");
  put("intel-rapl:0/energy_uj", "999000");
  put("intel-rapl:0:0/energy_uj", "5");
  EnergyMeter m = energy_meter_open(root);
  ASSERT_TRUE(m.available());
  EXPECT_EQ(m.zones.size(), 1u);
  put("intel-rapl:0/energy_uj", "3000");  // wrapped: 1000 to the top + 3000
  energy_meter_sample(m);
  EXPECT_NEAR(energy_meter_joules(m), 0.004, 1e-12);
  put("intel-rapl:0/energy_uj", "5000");
  energy_meter_sample(m);
  EXPECT_NEAR(energy_meter_joules(m), 0.006, 1e-12);
  EnergyMeter none = energy_meter_open(root + "/nothing-here");
  EXPECT_FALSE(none.available());
  EXPECT_NE(none.note.find("not available"), std::string::npos);
  fs::remove_all(root);
}

TEST(Report, WritesMarkdownHtmlAndCharts) {
  std::string dir = ::testing::TempDir() + "report_" + std::to_string(::getpid());
  ReportInput in;
  in.bench = bench({run("F16", 960, 300, 50), run("Q4_K_M", 930, 140, 90), run("Q3_K_M", 900, 150, 60)});
  EvalEntry e;
  e.variant = "F16";
  e.mode = "free";
  e.n = 1000;
  e.correct = 955;
  e.accuracy = 0.955;
  e.ci95 = wilson_interval(955, 1000);
  e.valid_rate = 0.99;
  in.evals.push_back(e);
  Result<ReportFiles> f = write_report(dir, in);
  ASSERT_TRUE(f.ok()) << f.message();
  std::string md = read_file(f->markdown).value();
  std::string html = read_file(f->html).value();
  EXPECT_NE(md.find("Best accuracy: **F16**"), std::string::npos) << md;
  EXPECT_NE(md.find("dominated: Q3_K_M (by Q4_K_M)"), std::string::npos) << md;
  EXPECT_NE(md.find("95.5% [94.0, 96.6]"), std::string::npos) << md;  // eval table with Wilson CI
  EXPECT_NE(md.find("not available"), std::string::npos);              // energy never invented
  EXPECT_NE(md.find("charts/pareto_memory.png"), std::string::npos);
  EXPECT_NE(html.find("data:image/png;base64,iVBORw0KGgo"), std::string::npos);
  EXPECT_EQ(html.find("src=\"charts/"), std::string::npos) << "the HTML must stand alone";
  EXPECT_NE(html.find("<b>F16</b>"), std::string::npos);
  for (const char* c : {"fig1_accuracy_free", "memory", "decode_speed", "load_time", "pareto_memory",
                        "pareto_speed"})
    EXPECT_TRUE(file_exists(dir + "/charts/" + c + ".png")) << c;
  EXPECT_FALSE(file_exists(dir + "/charts/energy.png")) << "no energy chart without energy numbers";
  std::filesystem::remove_all(dir);
}

TEST(Report, EvalEntriesFromDirectories) {
  namespace fs = std::filesystem;
  std::string dir = ::testing::TempDir() + "evals_" + std::to_string(::getpid());
  fs::create_directories(dir + "/Q4_K_M-free");
  fs::create_directories(dir + "/GPTQ-4-constrained");
  fs::create_directories(dir + "/stray");
  ASSERT_TRUE(write_file_atomic(dir + "/Q4_K_M-free/report.json",
                                R"({"n": 200, "correct": 180, "valid_rate": 0.97})").ok());
  ASSERT_TRUE(write_file_atomic(dir + "/GPTQ-4-constrained/report.json",
                                R"({"n": 200, "correct": 190})").ok());
  auto ev = collect_eval_entries(dir);
  ASSERT_TRUE(ev.ok()) << ev.message();
  ASSERT_EQ(ev->size(), 2u);
  EXPECT_EQ((*ev)[0].variant, "GPTQ-4");
  EXPECT_EQ((*ev)[0].mode, "constrained");
  EXPECT_DOUBLE_EQ((*ev)[1].accuracy, 0.9);
  EXPECT_DOUBLE_EQ((*ev)[1].valid_rate, 0.97);
  ASSERT_TRUE(write_file_atomic(dir + "/Q4_K_M-free/report.json", R"({"n": 2, "correct": 3})").ok());
  ev = collect_eval_entries(dir);
  ASSERT_FALSE(ev.ok());
  EXPECT_NE(ev.message().find("Q4_K_M-free/report.json"), std::string::npos) << ev.message();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cartlm
