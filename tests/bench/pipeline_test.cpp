// Orchestration of `cartlm pipeline` with fake verbs: every stage runs /bin/sh -c "<script>", so
// skip / force / resume / stage selection / failure handling are tested without training models.
#include "bench/pipeline.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/file_io.h"
#include "core/strings.h"

namespace cartlm {
namespace {

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cartlm_pipeline_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    write("input.txt", "v1");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string p(const std::string& name) const { return dir_ + "/" + name; }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(p(name), std::ios::binary) << text;
  }
  // Lines of the counter file a stage appends its name to each time it runs.
  std::vector<std::string> ran() const {
    Result<std::string> t = read_file(p("ran.log"));
    if (!t.ok()) return {};
    std::vector<std::string> out;
    for (const std::string& l : split(*t, '\n'))
      if (!l.empty()) out.push_back(l);
    return out;
  }
  // a: input.txt -> a.out; b: a.out -> b.out; c: b.out -> c.out
  std::vector<Stage> stages() const {
    auto sh = [&](const std::string& name, const std::string& in, const std::string& out) {
      return Stage{name, "g" + name, "stage " + name,
                   {"-c", "echo " + name + " >> '" + p("ran.log") + "' && cat '" + p(in) +
                              "' > '" + p(out) + "' && echo " + name + " >> '" + p(out) + "'"},
                   {p(in)}, {p(out)}};
    };
    return {sh("a", "input.txt", "a.out"), sh("b", "a.out", "b.out"), sh("c", "b.out", "c.out")};
  }
  PipelineOptions opts() const {
    PipelineOptions o;
    o.exe = "/bin/sh";
    o.run_dir = dir_;
    o.on_line = [this](const std::string& l) { lines_.push_back(l); };
    return o;
  }
  static std::vector<StageOutcome::Kind> kinds(const PipelineRun& r) {
    std::vector<StageOutcome::Kind> k;
    for (const auto& o : r.outcomes) k.push_back(o.kind);
    return k;
  }
  std::string dir_;
  mutable std::vector<std::string> lines_;
};

using K = StageOutcome::Kind;

TEST_F(PipelineTest, RunsThenSkipsFinishedStages) {
  PipelineRun r = run_pipeline(stages(), opts());
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(kinds(r), (std::vector<K>{K::Ran, K::Ran, K::Ran}));
  EXPECT_EQ(ran(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(read_file(p("c.out")).value(), "v1a\nb\nc\n");
  EXPECT_TRUE(file_exists(p(".done/a.json")));
  // The log starts with the exact command, so the stage can be rerun by hand.
  EXPECT_TRUE(starts_with(read_file(p("logs/b.log")).value(), "$ /bin/sh -c "));

  r = run_pipeline(stages(), opts());
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(kinds(r), (std::vector<K>{K::Skipped, K::Skipped, K::Skipped}));
  EXPECT_EQ(ran().size(), 3u);
  EXPECT_NE(lines_.back().find("skipped"), std::string::npos) << lines_.back();
}

TEST_F(PipelineTest, ChangedInputRerunsThatStageAndWhatDependsOnIt) {
  ASSERT_TRUE(run_pipeline(stages(), opts()).status.ok());
  // A different size changes the fingerprint even within the same mtime tick.
  write("a.out", "something else entirely\n");
  PipelineRun r = run_pipeline(stages(), opts());
  ASSERT_TRUE(r.status.ok());
  // a's input did not change and its output exists: skipped (its output is not its input).
  EXPECT_EQ(kinds(r), (std::vector<K>{K::Skipped, K::Ran, K::Ran}));
  EXPECT_EQ(ran(), (std::vector<std::string>{"a", "b", "c", "b", "c"}));
}

TEST_F(PipelineTest, MissingOutputReruns) {
  ASSERT_TRUE(run_pipeline(stages(), opts()).status.ok());
  std::filesystem::remove(p("c.out"));
  PipelineRun r = run_pipeline(stages(), opts());
  EXPECT_EQ(kinds(r), (std::vector<K>{K::Skipped, K::Skipped, K::Ran}));
}

TEST_F(PipelineTest, StageSelectionAndForce) {
  PipelineOptions o = opts();
  o.only_groups = {"ga", "b"};  // a group name and a stage name
  PipelineRun r = run_pipeline(stages(), o);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(kinds(r), (std::vector<K>{K::Ran, K::Ran, K::NotSelected}));
  EXPECT_FALSE(file_exists(p("c.out")));
  r = run_pipeline(stages(), o);
  EXPECT_EQ(kinds(r), (std::vector<K>{K::Skipped, K::Skipped, K::NotSelected}));
  o.force = true;
  o.only_groups = {"b"};
  r = run_pipeline(stages(), o);
  EXPECT_EQ(kinds(r), (std::vector<K>{K::NotSelected, K::Ran, K::NotSelected}));
  EXPECT_EQ(ran(), (std::vector<std::string>{"a", "b", "b"}));
  o.only_groups = {"nope"};
  r = run_pipeline(stages(), o);
  ASSERT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("unknown stage 'nope'"), std::string::npos) << r.status.message();
  EXPECT_TRUE(r.outcomes.empty());
}

TEST_F(PipelineTest, FailureStopsOrKeepsGoing) {
  std::vector<Stage> st = stages();
  st[1].args = {"-c", "echo 'bad things happened' >&2; exit 3"};
  PipelineRun r = run_pipeline(st, opts());
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(kinds(r), (std::vector<K>{K::Ran, K::Failed}));
  const std::string& m = r.status.message();
  EXPECT_NE(m.find("stage 'b'"), std::string::npos) << m;
  EXPECT_NE(m.find("exit code 3"), std::string::npos) << m;
  EXPECT_NE(m.find("bad things happened"), std::string::npos) << m;
  EXPECT_NE(m.find("logs/b.log"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << "one line";
  EXPECT_FALSE(file_exists(p(".done/b.json")));

  PipelineOptions o = opts();
  o.keep_going = true;
  r = run_pipeline(st, o);
  ASSERT_FALSE(r.status.ok());
  // a is done; b fails again; c runs and fails because b.out is missing.
  EXPECT_EQ(kinds(r), (std::vector<K>{K::Skipped, K::Failed, K::Failed}));
  EXPECT_NE(r.status.message().find("2 stages failed"), std::string::npos) << r.status.message();
}

TEST_F(PipelineTest, SuccessWithoutOutputIsAFailure) {
  std::vector<Stage> st = stages();
  st[0].args = {"-c", "true"};
  PipelineRun r = run_pipeline(st, opts());
  ASSERT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("did not write"), std::string::npos) << r.status.message();
}

TEST_F(PipelineTest, FingerprintDependsOnCommandAndInputs) {
  Stage s = stages()[0];
  std::string f0 = stage_fingerprint(s);
  EXPECT_EQ(f0, stage_fingerprint(s));
  Stage s2 = s;
  s2.args.push_back("--more");
  EXPECT_NE(f0, stage_fingerprint(s2));
  write("input.txt", "v2 longer");
  EXPECT_NE(f0, stage_fingerprint(s));
}

// The study's table: every stage reads only what the stages before it wrote (or the user's
// --base), and the variants are the ones the study compares.
TEST(PipelineStages, EachInputIsProducedEarlier) {
  for (bool quick : {false, true}) {
    for (std::string base : {std::string(), std::string("/models/llama")}) {
      PipelineSettings s;
      s.run_dir = "/r";
      s.quick = quick;
      s.base = base;
      std::vector<Stage> st = build_stages(s);
      std::vector<std::string> produced;
      std::vector<std::string> names;
      for (const Stage& x : st) {
        EXPECT_FALSE(std::count(names.begin(), names.end(), x.name)) << "duplicate " << x.name;
        names.push_back(x.name);
        EXPECT_TRUE(std::count(stage_groups().begin(), stage_groups().end(), x.group)) << x.group;
        for (const std::string& in : x.inputs) {
          bool ok = in == base;
          for (const std::string& out : produced) ok = ok || out == in || starts_with(out, in + "/");
          EXPECT_TRUE(ok) << x.name << " reads " << in << " which no earlier stage writes";
        }
        EXPECT_FALSE(x.outputs.empty()) << x.name;
        produced.insert(produced.end(), x.outputs.begin(), x.outputs.end());
      }
      EXPECT_EQ(names.front(), "data");
      EXPECT_EQ(names.back(), "report");
      for (const char* v : {"quantize-Q8_0", "quantize-Q5_K_M", "quantize-Q4_K_M", "quantize-Q3_K_M",
                            "gptq-4", "eval-GPTQ-4-free", "eval-Q4_K_M-constrained", "bench"})
        EXPECT_TRUE(std::count(names.begin(), names.end(), v)) << v;
      EXPECT_EQ(std::count(names.begin(), names.end(), "merge"), base.empty() ? 0 : 1);
    }
  }
}

}  // namespace
}  // namespace cartlm
