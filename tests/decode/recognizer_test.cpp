#include "decode/recognizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "data/catalog.h"
#include "decode/random_intent_model.h"
#include "data/generator.h"
#include "decode/eval_run.h"
#include "eval/score.h"
#include "model/init.h"

namespace cartlm {
namespace {

// A random-weight tiny model (small shape so every test runs in well under a second) with the
// built-in catalog in its cartlm.json.
class RecognizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto m = make_random_intent_model("recognizer_test", 5);
    ASSERT_TRUE(m.ok()) << m.message();
    fx_ = m->release();
  }
  static void TearDownTestSuite() {
    delete fx_;
  }

  static std::unique_ptr<Recognizer> make(const RecognizerOptions& opt = {}) {
    auto r = recognizer_create(*fx_->model, opt);
    EXPECT_TRUE(r.ok()) << r.message();
    return std::move(*r);
  }
  static std::unique_ptr<RecognizerSession> session(const Recognizer& r) {
    auto s = recognizer_session(r);
    EXPECT_TRUE(s.ok()) << s.message();
    return std::move(*s);
  }

  static std::vector<std::string> texts() {
    return {"Can you delet 12 lip balms for me?", "add two bananas", "Dodaj 3 jabuke u košaricu",
            "quita cinco toallas por favor", "remove the soap", "I need 999 pencils",
            "put a lamp in my cart", "x", "Molim te makni 7 čaša", "añade 40 velas"};
  }

  static RandomIntentModel* fx_;
};
RandomIntentModel* RecognizerTest::fx_ = nullptr;

TEST_F(RecognizerTest, ConstrainedOutputIsAlwaysAValidCatalogIntent) {
  auto r = make();
  EXPECT_FALSE(r->catalog_fallback);
  auto s = session(*r);
  for (const std::string& t : texts()) {
    auto res = recognize(*r, *s, t);
    ASSERT_TRUE(res.ok()) << res.message();
    EXPECT_TRUE(res->valid) << res->output_text << ": " << res->error;
    OutputCheck c = check_output(res->output_text);
    ASSERT_TRUE(c.schema_ok) << res->output_text;
    EXPECT_EQ(*c.parsed, res->label);
    EXPECT_NE(default_catalog().find(res->label.product), -1);
    EXPECT_GE(res->label.quantity, 1);
    EXPECT_LE(res->label.quantity, 999);
    EXPECT_GT(res->forward_passes, 0u);
    EXPECT_GE(res->generated_tokens, res->forward_passes - 1);
  }
}

TEST_F(RecognizerTest, FreeDecodingOnARandomModelNeedNotBeValid) {
  RecognizerOptions o;
  o.mode = DecodeMode::Free;
  o.max_new_tokens = 24;
  auto r = make(o);
  auto s = session(*r);
  size_t invalid = 0;
  for (const std::string& t : texts()) {
    auto res = recognize(*r, *s, t);
    ASSERT_TRUE(res.ok()) << res.message();
    EXPECT_EQ(res->valid, check_output(res->output_text).schema_ok);
    if (!res->valid) {
      ++invalid;
      EXPECT_FALSE(res->error.empty());
    }
    EXPECT_LE(res->generated_tokens, 24u);
    // Free decoding runs one forward pass per generated token (plus the prompt).
    EXPECT_GE(res->forward_passes, res->generated_tokens);
  }
  EXPECT_GT(invalid, 0u);  // random weights: the raw output is mostly garbage
}

TEST_F(RecognizerTest, JumpForwardGivesTheSameOutputWithFewerForwardPasses) {
  auto fast = make();
  RecognizerOptions o;
  o.jump_forward = false;
  auto slow = make(o);
  auto sf = session(*fast), ss = session(*slow);
  size_t passes_fast = 0, passes_slow = 0;
  for (const std::string& t : texts()) {
    auto a = recognize(*fast, *sf, t);
    auto b = recognize(*slow, *ss, t);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->output_text, b->output_text);
    EXPECT_EQ(a->generated_tokens, b->generated_tokens);
    EXPECT_LT(a->forward_passes, b->forward_passes) << t;
    // Without jump-forward every completion token but the last costs one pass.
    EXPECT_LE(b->forward_passes, b->generated_tokens) << t;
    passes_fast += a->forward_passes;
    passes_slow += b->forward_passes;
  }
  EXPECT_GE(passes_slow, 2 * passes_fast);
}

TEST_F(RecognizerTest, PrefixCacheReusesThePromptPrefixAndChangesNothing) {
  auto cached = make();
  RecognizerOptions o;
  o.prefix_cache = false;
  auto plain = make(o);
  ASSERT_FALSE(cached->prefix_tokens.empty());
  EXPECT_EQ(cached->prefix_tokens[0], fx_->model->tokenizer.bos_id);
  auto sc = session(*cached), sp = session(*plain);
  bool first = true;
  for (const std::string& t : texts()) {
    auto a = recognize(*cached, *sc, t);
    auto b = recognize(*plain, *sp, t);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->output_text, b->output_text);
    EXPECT_EQ(b->cached_tokens, 0u);
    if (!first) {
      EXPECT_GE(a->cached_tokens, cached->prefix_tokens.size()) << t;
    }
    EXPECT_EQ(a->prompt_tokens, b->prompt_tokens);
    first = false;
  }
  // The same text twice: everything but the last prompt token is reused.
  auto again = recognize(*cached, *sc, texts().back());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->cached_tokens, again->prompt_tokens - 1);
}

TEST_F(RecognizerTest, BadInputIsAnErrorNamingTheProblem) {
  RecognizerOptions o;
  o.max_text_tokens = 20;
  auto r = make(o);
  auto s = session(*r);
  auto msg = [&](std::string_view t) {
    auto res = recognize(*r, *s, t);
    return res.ok() ? std::string("ok") : res.message();
  };
  EXPECT_EQ(msg(""), "text is empty");
  EXPECT_EQ(msg(" \t\n"), "text is empty");
  EXPECT_EQ(msg(std::string(2001, 'a')), "text is 2001 bytes, the limit is 2000");
  EXPECT_EQ(msg("add \xff 2"), "text is not valid UTF-8 (byte 4)");
  EXPECT_NE(msg(std::string(400, 'q') + " 7 z x").find("tokens, the limit is 20"), std::string::npos);
  // The session still works afterwards.
  auto ok = recognize(*r, *s, "add 2 lamps");
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->valid);
}

TEST_F(RecognizerTest, ModelWithoutCatalogFallsBackToTheBuiltInOneWithAWarning) {
  std::vector<std::string> saved = fx_->model->meta.products;
  fx_->model->meta.products.clear();
  auto r = recognizer_create(*fx_->model, {});
  fx_->model->meta.products = saved;
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE((*r)->catalog_fallback);
  ASSERT_EQ((*r)->warnings.size(), 1u);
  EXPECT_NE((*r)->warnings[0].find("built-in catalog"), std::string::npos);
  EXPECT_EQ((*r)->grammar.products, default_catalog().names());
}

TEST_F(RecognizerTest, SmallCatalogAndQuantityLimitBoundTheOutput) {
  std::vector<std::string> saved = fx_->model->meta.products;
  fx_->model->meta.products = {"Lip Balm", "Soap"};
  RecognizerOptions o;
  o.max_quantity = 9;
  auto r = recognizer_create(*fx_->model, o);
  fx_->model->meta.products = saved;
  ASSERT_TRUE(r.ok()) << r.message();
  auto s = session(**r);
  for (const std::string& t : texts()) {
    auto res = recognize(**r, *s, t);
    ASSERT_TRUE(res.ok());
    ASSERT_TRUE(res->valid);
    EXPECT_TRUE(res->label.product == "Lip Balm" || res->label.product == "Soap");
    EXPECT_LE(res->label.quantity, 9);
  }
}

TEST_F(RecognizerTest, FewShotPromptHoldsTheExamplesAndIsCached) {
  std::string file = fx_->dir + "/shots.jsonl";
  std::vector<Example> shots;
  for (int i = 0; i < 6; ++i) {
    Example ex;
    ex.id = "s" + std::to_string(i);
    ex.lang = "en";
    ex.text = "add " + std::to_string(i + 1) + " lip balms";
    ex.label = {"add", "Lip Balm", i + 1};
    shots.push_back(ex);
  }
  ASSERT_TRUE(write_dataset(file, shots).ok());
  RecognizerOptions o;
  o.few_shot = 2;
  o.few_shot_file = file;
  // The instruction lists the catalog; keep it short for the tiny model's 256-token context.
  std::vector<std::string> saved = fx_->model->meta.products;
  fx_->model->meta.products = {"Lip Balm", "Soap", "Lamp"};
  auto r = make(o);
  fx_->model->meta.products = saved;
  ASSERT_TRUE(r);
  // With the whole catalog the prompt does not fit, which is an error naming both sizes.
  auto too_long = recognizer_create(*fx_->model, o);
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.message().find("the model's context is 256"), std::string::npos);
  EXPECT_EQ(r->chat, ChatStyle::None);  // the tiny tokenizer has no chat template
  ASSERT_EQ(r->shots.size(), 2u);  // spread over the file: every n/k-th
  EXPECT_EQ(r->shots[0].id, "s0");
  EXPECT_EQ(r->shots[1].id, "s3");
  PromptParts p = recognizer_prompt(*r, "remove 4 soaps");
  EXPECT_NE(p.body.find(label_to_json_text(shots[3].label)), std::string::npos);
  EXPECT_EQ(p.body.find(label_to_json_text(shots[2].label)), std::string::npos);
  EXPECT_TRUE(p.body.ends_with(render_prompt(r->meta, "remove 4 soaps")));
  EXPECT_GT(r->prefix_tokens.size(), 20u);
  auto s = session(*r);
  auto a = recognize(*r, *s, "remove 4 soaps");
  auto b = recognize(*r, *s, "add 1 lamp");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->valid && b->valid);
  EXPECT_GE(b->cached_tokens, r->prefix_tokens.size());

  RecognizerOptions bad;
  bad.few_shot = 2;
  EXPECT_FALSE(recognizer_create(*fx_->model, bad).ok());  // no file
  bad.few_shot_file = fx_->dir + "/missing.jsonl";
  EXPECT_FALSE(recognizer_create(*fx_->model, bad).ok());
}

TEST_F(RecognizerTest, EvalRunIsTheSameWithOneOrTwoThreads) {
  auto r = make();
  std::vector<Example> exs;
  for (const std::string& t : texts()) {
    Example ex;
    ex.id = "e" + std::to_string(exs.size());
    ex.text = t;
    ex.label = {"add", "Lip Balm", 1};
    exs.push_back(ex);
  }
  exs.push_back(exs[0]);
  exs.back().id = "empty";
  exs.back().text = "";
  EvalRunOptions one, two;
  one.threads = 1;
  two.threads = 2;
  one.progress = two.progress = false;
  auto a = eval_run(*r, exs, one);
  auto b = eval_run(*r, exs, two);
  ASSERT_TRUE(a.ok() && b.ok()) << a.message();
  ASSERT_EQ(a->predictions.size(), exs.size());
  for (size_t i = 0; i < exs.size(); ++i) {
    EXPECT_EQ(a->predictions[i].id, exs[i].id);
    EXPECT_EQ(a->predictions[i].output, b->predictions[i].output);
  }
  EXPECT_EQ(a->throughput.input_errors, 1u);
  EXPECT_EQ(a->results.back().error, "text is empty");
  EXPECT_EQ(a->throughput.valid, exs.size() - 1);
  EXPECT_EQ(b->throughput.workers, 2);
  EXPECT_GT(a->throughput.mean_forward_passes, 0);

}

// A perfectly trained model writes the tokenizer's own encoding of the label. Simulating it
// through the grammar: every token it would choose is in the mask, every jump-forward batch is
// exactly the canonical tokens of its span (the forced text is tokenized the way the model
// learned it), and the forward passes are far fewer than free decoding's (one per token + 1).
TEST_F(RecognizerTest, OracleModelPathIsCanonicalAndNeedsAThirdOfTheForwardPasses) {
  auto r = make();
  const Tokenizer& tok = fx_->model->tokenizer;
  MaskCache masks;
  GeneratorOptions go;
  go.size = 10;
  go.eval_size = 300;
  go.seed = 9;
  auto ds = generate_dataset(default_catalog(), go);
  ASSERT_TRUE(ds.ok()) << ds.message();
  size_t passes = 0, free_passes = 0, jumped = 0, chosen = 0;
  for (const Example& ex : ds->eval) {
    std::string target = label_to_json_text(ex.label);
    std::vector<int32_t> canon = encode(tok, target, false, false);
    std::vector<size_t> start;  // byte offset where each canonical token starts
    size_t off = 0;
    for (int32_t id : canon) {
      start.push_back(off);
      off += token_to_piece(tok, id).size();
    }
    auto index_at = [&](size_t o) {
      auto it = std::lower_bound(start.begin(), start.end(), o);
      return it != start.end() && *it == o ? (size_t)(it - start.begin()) : SIZE_MAX;
    };
    std::string out;
    int32_t state = 0;
    std::vector<int32_t> jt;
    free_passes += canon.size() + 1;
    while (true) {
      size_t n = jump_forward_tokens(*r, out, state, &jt);
      if (n > 0) {
        size_t i = index_at(out.size());
        ASSERT_NE(i, SIZE_MAX) << target << " @" << out.size();
        ASSERT_LE(i + jt.size(), canon.size());
        EXPECT_EQ(jt, std::vector<int32_t>(canon.begin() + (long)i, canon.begin() + (long)(i + jt.size())))
            << target << " @" << out.size();
        out += target.substr(out.size(), n);
        state = grammar_walk(r->grammar, state, target.substr(out.size() - n, n));
        jumped += jt.size();
      }
      ASSERT_GE(state, 0);
      if (grammar_accepting(r->grammar, state)) break;
      ++passes;  // the forward pass that yields the next choice
      size_t i = index_at(out.size());
      ASSERT_NE(i, SIZE_MAX) << target << " @" << out.size();
      const std::vector<int32_t>& allowed = cached_allowed_tokens(r->grammar, r->vocab, masks, state);
      ASSERT_TRUE(std::binary_search(allowed.begin(), allowed.end(), canon[i])) << target;
      out += token_to_piece(tok, canon[i]);
      state = grammar_walk(r->grammar, state, token_to_piece(tok, canon[i]));
      ++chosen;
      if (grammar_accepting(r->grammar, state)) break;
    }
    EXPECT_EQ(out, target);
  }
  double n = (double)ds->eval.size();
  std::printf("oracle over %zu eval labels: %.2f forward passes/intent constrained (%.2f chosen + "
              "%.2f jumped tokens), %.2f free; ratio %.2f\n",
              ds->eval.size(), passes / n, chosen / n, jumped / n, free_passes / n,
              (double)free_passes / (double)passes);
  EXPECT_GE((double)free_passes, 3.0 * (double)passes);
}

}  // namespace
}  // namespace cartlm
