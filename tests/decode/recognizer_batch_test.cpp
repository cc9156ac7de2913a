// The batched recognizer gives every text exactly what recognize() gives it alone: for 1..8 texts
// at once, texts of very different lengths (so some finish many steps before others), prompts
// split over several passes, texts joining a running batch, bad texts among good ones, jump-forward
// off, and block-quantized GGUF weights.
#include "decode/recognizer_batch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/thread_pool.h"
#include "data/catalog.h"
#include "decode/random_intent_model.h"
#include "model/gguf_export.h"
#include "model/init.h"

namespace cartlm {
namespace {

class RecognizerBatchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto m = make_random_intent_model("recognizer_batch_test", 11);
    ASSERT_TRUE(m.ok()) << m.message();
    fx_ = m->release();
  }
  static void TearDownTestSuite() {
    delete fx_;
  }

  static std::unique_ptr<Recognizer> make(const LoadedModel& m, const RecognizerOptions& opt = {}) {
    auto r = recognizer_create(m, opt);
    EXPECT_TRUE(r.ok()) << r.message();
    return r.ok() ? std::move(*r) : nullptr;
  }
  static std::unique_ptr<RecognizerBatch> batch(const Recognizer& r, size_t slots, size_t rows = 0) {
    auto b = recognizer_batch(r, slots, rows);
    EXPECT_TRUE(b.ok()) << b.message();
    return b.ok() ? std::move(*b) : nullptr;
  }

  // Short and long texts in three languages; the long ones have prompts several times longer.
  static std::vector<std::string> texts() {
    std::string long_en = "Hello! I am planning a big party this weekend and my shopping list keeps "
                          "growing, so before I forget anything else, could you please";
    std::string long_hr = "Dobar dan, pišem vam jer mi za vikend dolazi cijela obitelj i trebam "
                          "se dobro pripremiti, pa vas molim";
    std::string very_long;
    for (int i = 0; i < 12; ++i) very_long += "really, truly, honestly ";
    return {"x",
            long_en + " add 12 lip balms for me?",
            "Dodaj 3 jabuke",
            long_hr + " da izbacite 7 čaša iz košarice.",
            "quita cinco toallas",
            very_long + "I need 999 pencils",
            "remove the soap",
            "añade 40 velas por favor, gracias"};
  }

  // Reference: each text alone in a fresh session (no prefix cache carried over).
  static std::vector<Result<IntentResult>> alone(const Recognizer& r, const std::vector<std::string>& ts) {
    std::vector<Result<IntentResult>> out;
    for (const std::string& t : ts) {
      auto s = recognizer_session(r);
      EXPECT_TRUE(s.ok());
      out.push_back(recognize(r, **s, t));
    }
    return out;
  }

  static void expect_same(const std::vector<Result<IntentResult>>& want,
                          const std::vector<Result<IntentResult>>& got, const std::string& what) {
    ASSERT_EQ(want.size(), got.size()) << what;
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(want[i].ok(), got[i].ok()) << what << " text " << i;
      if (!want[i].ok()) {
        EXPECT_EQ(want[i].message(), got[i].message()) << what << " text " << i;
        continue;
      }
      EXPECT_EQ(want[i]->output_text, got[i]->output_text) << what << " text " << i;
      EXPECT_EQ(want[i]->valid, got[i]->valid) << what << " text " << i;
      EXPECT_EQ(want[i]->label, got[i]->label) << what << " text " << i;
      EXPECT_EQ(want[i]->error, got[i]->error) << what << " text " << i;
      EXPECT_EQ(want[i]->prompt_tokens, got[i]->prompt_tokens) << what << " text " << i;
      EXPECT_EQ(want[i]->generated_tokens, got[i]->generated_tokens) << what << " text " << i;
    }
  }

  static RandomIntentModel* fx_;
};
RandomIntentModel* RecognizerBatchTest::fx_ = nullptr;

TEST_F(RecognizerBatchTest, OneToEightTextsAtOnceEqualTheSingleTextRecognizer) {
  auto r = make(*fx_->model);
  std::vector<std::string> all = texts();
  std::vector<Result<IntentResult>> ref = alone(*r, all);
  for (const auto& x : ref) {
    ASSERT_TRUE(x.ok()) << x.message();
    EXPECT_TRUE(x->valid);
  }
  // The texts differ in prompt length and in output length (product names), so slots finish at
  // different steps while others keep decoding.
  std::set<size_t> lengths;
  for (const auto& x : ref) lengths.insert(x->prompt_tokens);
  EXPECT_GE(*lengths.rbegin(), 3 * *lengths.begin());
  for (size_t n = 1; n <= all.size(); ++n) {
    std::vector<std::string> ts(all.begin(), all.begin() + (std::ptrdiff_t)n);
    std::vector<Result<IntentResult>> want(ref.begin(), ref.begin() + (std::ptrdiff_t)n);
    auto b = batch(*r, n);
    ASSERT_TRUE(b);
    auto got = recognize_batch(*b, ts);
    expect_same(want, got, "n=" + std::to_string(n));
    // Every text of a batch shares its first pass with all the others.
    for (const auto& g : got) EXPECT_GE(g->forward_passes, 1u);
  }
}

TEST_F(RecognizerBatchTest, StepsShareOnePassAndFinishedTextsLeaveEarly) {
  auto r = make(*fx_->model);
  std::vector<std::string> ts = texts();
  std::vector<Result<IntentResult>> ref = alone(*r, ts);
  // Rows enough for every prompt at once, so every busy text is in every pass.
  auto b = batch(*r, ts.size(), 4096);
  ASSERT_TRUE(b);
  for (size_t i = 0; i < ts.size(); ++i) ASSERT_TRUE(batch_start(*b, i, ts[i]).ok());
  std::vector<BatchFinished> done;
  std::vector<size_t> finished_at(ts.size(), 0);
  size_t step = 0, max_rows_in_pass = 0;
  while (batch_active(*b) > 0) {
    size_t active = batch_active(*b);
    size_t before = done.size();
    size_t in_pass = batch_step(*b, nullptr, &done);
    ++step;
    EXPECT_EQ(in_pass, active);
    max_rows_in_pass = std::max(max_rows_in_pass, in_pass);
    for (size_t k = before; k < done.size(); ++k) finished_at[done[k].slot] = step;
    ASSERT_LT(step, 200u);
  }
  EXPECT_EQ(max_rows_in_pass, ts.size());
  ASSERT_EQ(done.size(), ts.size());
  std::set<size_t> steps(finished_at.begin(), finished_at.end());
  EXPECT_GT(steps.size(), 1u) << "all texts finished at the same step";
  for (const BatchFinished& f : done) {
    EXPECT_EQ(f.result.output_text, ref[f.slot]->output_text) << ts[f.slot];
    EXPECT_EQ(f.result.forward_passes, finished_at[f.slot]) << ts[f.slot];
    EXPECT_EQ(f.result.forward_passes, ref[f.slot]->forward_passes) << ts[f.slot];
  }
}

TEST_F(RecognizerBatchTest, PromptsSplitOverPassesAndTextsJoiningARunningBatch) {
  auto r = make(*fx_->model);
  std::vector<std::string> ts = texts();
  for (const std::string& t : texts()) ts.push_back("please " + t);  // 16 texts
  std::vector<Result<IntentResult>> ref = alone(*r, ts);
  ThreadPool pool(2);
  // 3 slots for 16 texts: a text joins as soon as one leaves. 16 rows per pass: the long prompts
  // take several passes, while other slots keep stepping.
  for (size_t rows : {16, 0}) {
    auto b = batch(*r, 3, rows);
    ASSERT_TRUE(b);
    auto got = recognize_batch(*b, ts, &pool);
    expect_same(ref, got, "rows=" + std::to_string(rows));
    // Every slot starts with the fixed prompt prefix in its KV cache (copied from the slot that
    // computed it), so even the first text of each slot reuses it.
    ASSERT_FALSE(r->prefix_tokens.empty());
    for (const auto& g : got) EXPECT_GE(g->cached_tokens, r->prefix_tokens.size());
  }
}

TEST_F(RecognizerBatchTest, BadTextsFailAloneWithTheSingleTextError) {
  RecognizerOptions o;
  o.max_text_tokens = 20;
  auto r = make(*fx_->model, o);
  std::vector<std::string> ts = {"add 2 lamps", "", std::string(400, 'q') + " 7 z x", "add \xff 2",
                                 "remove 3 soaps", " \t"};
  std::vector<Result<IntentResult>> ref = alone(*r, ts);
  EXPECT_TRUE(ref[0].ok());
  EXPECT_FALSE(ref[1].ok());
  EXPECT_FALSE(ref[2].ok());
  auto b = batch(*r, 4);
  ASSERT_TRUE(b);
  expect_same(ref, recognize_batch(*b, ts), "bad texts");
  // A failed start leaves the slot free.
  EXPECT_EQ(batch_active(*b), 0u);
  EXPECT_FALSE(batch_start(*b, 0, "").ok());
  EXPECT_EQ(batch_active(*b), 0u);
  EXPECT_EQ(batch_free_slot(*b), 0u);
}

TEST_F(RecognizerBatchTest, WithoutJumpForwardTheSameTokensOnePerPass) {
  RecognizerOptions o;
  o.jump_forward = false;
  auto r = make(*fx_->model, o);
  std::vector<std::string> ts = texts();
  std::vector<Result<IntentResult>> ref = alone(*r, ts);
  // Rows for all prompts at once (a prompt split over passes would cost a pass more).
  auto b = batch(*r, 5, 4096);
  ASSERT_TRUE(b);
  auto got = recognize_batch(*b, ts);
  expect_same(ref, got, "no jump-forward");
  for (size_t i = 0; i < ts.size(); ++i) EXPECT_EQ(got[i]->forward_passes, ref[i]->forward_passes);
}

TEST_F(RecognizerBatchTest, QuantizedGgufWeightsBatchToo) {
  for (const char* type : {"Q8_0", "Q4_K_M"}) {
    std::string path = fx_->dir + "/" + type + ".gguf";
    GgufExportOptions eo;
    eo.type = type;
    eo.threads = 1;
    auto st = export_gguf(*fx_->model, path, eo);
    ASSERT_TRUE(st.ok()) << st.message();
    auto lm = load_model(path);
    ASSERT_TRUE(lm.ok()) << lm.message();
    auto r = make(**lm);
    ASSERT_TRUE(r);
    std::vector<std::string> ts = texts();
    auto b = batch(*r, 4);
    ASSERT_TRUE(b);
    expect_same(alone(*r, ts), recognize_batch(*b, ts), type);
  }
}

TEST_F(RecognizerBatchTest, FreeDecodingAndZeroSlotsAreRefused) {
  RecognizerOptions o;
  o.mode = DecodeMode::Free;
  auto free_r = make(*fx_->model, o);
  auto b = recognizer_batch(*free_r, 4);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.message().find("constrained"), std::string::npos) << b.message();
  auto r = make(*fx_->model);
  auto z = recognizer_batch(*r, 0);
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.message().find("at least one slot"), std::string::npos) << z.message();
}

}  // namespace
}  // namespace cartlm
