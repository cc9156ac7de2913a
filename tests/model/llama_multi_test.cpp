// llama_forward_multi (several sessions stacked into one forward pass) against llama_forward on
// each session alone: same logits bit for bit, for prefills of different lengths, for decode steps
// mixed with prefills, with f16 caches and all_logits, and with a thread pool; plus its errors.
// (tests/model/llama_test.cpp checks a stacked pass against the double reference and that it
// allocates nothing.)
#include "model/llama_multi.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>

#include "core/thread_pool.h"
#include "model/init.h"
#include "model/load.h"

namespace cartlm {
namespace {

class LlamaMultiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/cartlm_llama_multi_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = new std::string(tmpl);
    InitOptions io;
    io.out_dir = *dir_ + "/model";
    io.hidden = 64;
    io.layers = 2;
    io.heads = 4;
    io.kv_heads = 2;
    io.ffn = 128;
    io.seed = 11;
    io.progress = false;
    auto rep = init_checkpoint(io);
    ASSERT_TRUE(rep.ok()) << rep.message();
    auto lm = load_model(io.out_dir);
    ASSERT_TRUE(lm.ok()) << lm.message();
    model_ = lm->release();
  }
  static void TearDownTestSuite() {
    delete model_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static LlamaSession session(DType kv = DType::F32, bool all_logits = false) {
    LlamaSessionOptions o;
    o.max_seq = 128;
    o.max_batch = 16;
    o.kv_type = kv;
    o.all_logits = all_logits;
    auto s = llama_session(model_->model, o);
    EXPECT_TRUE(s.ok()) << s.message();
    return std::move(*s);
  }
  static std::vector<int32_t> toks(size_t n, int32_t seed) {
    std::vector<int32_t> t;
    for (size_t i = 0; i < n; ++i) {
      t.push_back((seed * 131 + (int32_t)i * 17) % (int32_t)model_->model.config.vocab_size);
    }
    return t;
  }
  static void expect_same_logits(const LlamaSession& a, const LlamaSession& b, const char* what) {
    ASSERT_EQ(a.n_past, b.n_past) << what;
    ASSERT_EQ(a.n_logits, b.n_logits) << what;
    size_t n = a.n_logits * a.vocab;
    size_t diff = 0;
    for (size_t i = 0; i < n; ++i) diff += a.logits[i] != b.logits[i];
    EXPECT_EQ(diff, 0u) << what << ": " << diff << " of " << n << " logits differ";
  }

  static std::string* dir_;
  static LoadedModel* model_;
};

std::string* LlamaMultiTest::dir_ = nullptr;
LoadedModel* LlamaMultiTest::model_ = nullptr;

TEST_F(LlamaMultiTest, EqualsPerSessionForward) {
  const LlamaModel& m = model_->model;
  for (DType kv : {DType::F32, DType::F16}) {
    for (bool all : {false, true}) {
      for (int threads : {1, 3}) {
        ThreadPool pool(threads);
        ThreadPool* p = threads > 1 ? &pool : nullptr;
        // Three sessions: separate reference ones and stacked ones.
        std::vector<LlamaSession> ref, multi;
        for (int i = 0; i < 3; ++i) {
          ref.push_back(session(kv, all));
          multi.push_back(session(kv, all));
        }
        auto scratch = llama_multi_scratch(m, 40);
        ASSERT_TRUE(scratch.ok());
        // Step 1: prefills of 5, 9, 1 tokens. Step 2: one decode token each. Step 3: a decode
        // token for two sessions and a 4-token continuation for the third.
        std::vector<std::vector<std::vector<int32_t>>> steps = {
            {toks(5, 1), toks(9, 2), toks(1, 3)},
            {toks(1, 4), toks(1, 5), toks(1, 6)},
            {toks(1, 7), toks(4, 8), toks(1, 9)}};
        for (size_t st = 0; st < steps.size(); ++st) {
          std::vector<LlamaSession*> ss;
          std::vector<std::span<const int32_t>> spans;
          for (int i = 0; i < 3; ++i) {
            ASSERT_TRUE(llama_forward(m, ref[i], steps[st][i], p).ok());
            ss.push_back(&multi[i]);
            spans.push_back(steps[st][i]);
          }
          Status s = llama_forward_multi(m, ss, spans, *scratch, p);
          ASSERT_TRUE(s.ok()) << s.message();
          for (int i = 0; i < 3; ++i) {
            std::string what = std::string("kv ") + dtype_name(kv) + (all ? " all_logits" : "") +
                               " threads " + std::to_string(threads) + " step " +
                               std::to_string(st) + " session " + std::to_string(i);
            expect_same_logits(ref[i], multi[i], what.c_str());
          }
        }
      }
    }
  }
}

TEST_F(LlamaMultiTest, SubsetOfSessionsAndErrors) {
  const LlamaModel& m = model_->model;
  LlamaSession a = session(), b = session(), ra = session();
  auto scratch = llama_multi_scratch(m, 8);
  ASSERT_TRUE(scratch.ok());
  std::vector<int32_t> t5 = toks(5, 3), t4 = toks(4, 4), bad = {-1};
  {
    std::vector<LlamaSession*> ss = {&a, &b};
    std::vector<std::span<const int32_t>> sp = {t5, t4};
    Status s = llama_forward_multi(m, ss, sp, *scratch);  // 9 rows > 8
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("exceed the scratch's 8 rows"), std::string::npos) << s.message();
    EXPECT_EQ(a.n_past, 0u);
    sp = {t5, bad};
    s = llama_forward_multi(m, ss, sp, *scratch);
    EXPECT_NE(s.message().find("session 1: token id -1 at index 0 is outside the vocabulary"),
              std::string::npos) << s.message();
    EXPECT_EQ(b.n_past, 0u);
    sp = {t5, {}};
    s = llama_forward_multi(m, ss, sp, *scratch);
    EXPECT_NE(s.message().find("session 1: no tokens"), std::string::npos) << s.message();
    std::vector<LlamaSession*> twice = {&a, &a};
    sp = {t5, t4};
    EXPECT_NE(llama_forward_multi(m, twice, sp, *scratch).message().find("repeats"),
              std::string::npos);
  }
  // One session alone through the multi path equals llama_forward.
  std::vector<LlamaSession*> ss = {&a};
  std::vector<std::span<const int32_t>> sp = {t5};
  ASSERT_TRUE(llama_forward_multi(m, ss, sp, *scratch).ok());
  ASSERT_TRUE(llama_forward(m, ra, t5).ok());
  expect_same_logits(ra, a, "single session");
}

}  // namespace
}  // namespace cartlm
