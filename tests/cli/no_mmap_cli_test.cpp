// End-to-end: --no-mmap (weights read into memory instead of mapped) is accepted by the verbs that
// load a model and gives the same results; `bench` passes it on to its worker processes.
#include <gtest/gtest.h>

#include "cli/cli_test_util.h"

namespace cartlm {
namespace {

class NoMmapCli : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    RunResult init = run("init --preset tiny --hidden 64 --layers 2 --heads 4 --kv-heads 2 "
                         "--ffn 128 --out " + path("model"));
    ASSERT_EQ(init.code, 0) << init.err;
  }
  std::string model() const { return path("model"); }
};

TEST_F(NoMmapCli, RunAndGenerateGiveTheSameOutput) {
  for (const std::string& args : {"run --model " + model() + " --decode free 'add 2 lamps'",
                                 "generate --model " + model() +
                                     " --prompt 'add 2' --max-tokens 8 --temperature 0"}) {
    RunResult a = run(args);
    ASSERT_EQ(a.code, 0) << args << "\n" << a.err;
    RunResult b = run(args + " --no-mmap");
    ASSERT_EQ(b.code, 0) << args << " --no-mmap\n" << b.err;
    EXPECT_EQ(a.out, b.out) << args;
    EXPECT_FALSE(a.out.empty()) << args;
  }
}

TEST_F(NoMmapCli, BenchModelAndBenchWorkersAcceptIt) {
  RunResult bm = run("bench-model --model " + model() +
                     " --no-mmap --reps 1 --prompt-tokens 4 --gen-tokens 2 --threads 1"
                     " --no-bandwidth --no-progress");
  ASSERT_EQ(bm.code, 0) << bm.err;
  EXPECT_NE(bm.out.find("decode "), std::string::npos) << bm.out;
  // A worker that did not know the flag would exit non-zero and the variant would fail.
  RunResult b = run("bench --models " + model() + " --no-mmap --reps 1 --prompt-tokens 4"
                    " --gen-tokens 2 --threads 1 --no-report --out " + path("bench"));
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_TRUE(file_exists(path("bench/bench.json"))) << b.err;
}

}  // namespace
}  // namespace cartlm
