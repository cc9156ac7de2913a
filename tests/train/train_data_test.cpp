#include "train/train_data.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace cartlm {
namespace {

Tokenizer small_tokenizer() {
  std::vector<std::string> texts = {"add two lip balms", "remove the soap please",
                                    "{\"action\": \"add\", \"product\": \"Lip Balm\", \"quantity\": 2}"};
  BpeTrainOptions bo;
  bo.vocab_size = 300;
  bo.special_tokens = {"<|pad|>", "<|begin_of_text|>", "<|end_of_text|>"};
  bo.pad_token = "<|pad|>";
  bo.bos_token = "<|begin_of_text|>";
  bo.eos_token = "<|end_of_text|>";
  bo.specials_first = true;
  auto t = train_bpe(texts, bo);
  EXPECT_TRUE(t.ok()) << t.message();
  return *t;
}

Example example(const std::string& id, const std::string& text, int qty) {
  Example ex;
  ex.id = id;
  ex.lang = "en";
  ex.text = text;
  ex.label = {"add", "Lip Balm", qty};
  return ex;
}

TEST(TrainData, SequenceIsBosPromptCompletionEosWithTheBoundaryExact) {
  Tokenizer tok = small_tokenizer();
  IntentMeta meta;
  auto r = tokenize_examples({example("a", "add two lip balms", 2)}, tok, meta, 256, "train");
  ASSERT_TRUE(r.ok()) << r.message();
  const TokenizedExample& t = (*r)[0];
  EXPECT_EQ(t.tokens.front(), tok.bos_id);
  EXPECT_EQ(t.tokens.back(), tok.eos_id);
  std::vector<int32_t> prompt(t.tokens.begin() + 1, t.tokens.begin() + t.prompt_len);
  std::vector<int32_t> completion(t.tokens.begin() + t.prompt_len, t.tokens.end() - 1);
  EXPECT_EQ(decode(tok, prompt), render_prompt(meta, "add two lip balms"));
  EXPECT_EQ(decode(tok, completion), label_to_json_text({"add", "Lip Balm", 2}));
  EXPECT_EQ(prompt_tokens(tok, meta, "add two lip balms"),
            std::vector<int32_t>(t.tokens.begin(), t.tokens.begin() + t.prompt_len));
}

TEST(TrainData, BpeDropoutSplitsOnlyThePromptAndIsSeeded) {
  Tokenizer tok = small_tokenizer();
  IntentMeta meta;
  std::vector<Example> exs;
  for (int i = 0; i < 20; ++i) exs.push_back(example("e" + std::to_string(i), "add two lip balms", 2));
  auto plain = tokenize_examples(exs, tok, meta, 256, "train");
  auto drop = tokenize_examples(exs, tok, meta, 256, "train", 0.5, 7);
  auto again = tokenize_examples(exs, tok, meta, 256, "train", 0.5, 7);
  auto other = tokenize_examples(exs, tok, meta, 256, "train", 0.5, 8);
  ASSERT_TRUE(plain.ok() && drop.ok() && again.ok() && other.ok());
  size_t longer = 0, differ = 0;
  for (size_t i = 0; i < exs.size(); ++i) {
    const TokenizedExample &p = (*plain)[i], &d = (*drop)[i];
    EXPECT_EQ(d.tokens, (*again)[i].tokens);
    differ += d.tokens != (*other)[i].tokens;
    longer += d.prompt_len > p.prompt_len;
    EXPECT_EQ(d.tokens.front(), tok.bos_id);
    std::vector<int32_t> prompt(d.tokens.begin() + 1, d.tokens.begin() + d.prompt_len);
    EXPECT_EQ(decode(tok, prompt), render_prompt(meta, exs[i].text));
    // The completion (and eos) is never split: decoding must see the tokens inference sees.
    EXPECT_TRUE(std::equal(d.tokens.begin() + d.prompt_len, d.tokens.end(),
                           p.tokens.begin() + p.prompt_len, p.tokens.end()));
  }
  EXPECT_GT(longer, 10u);  // every example draws its own split
  EXPECT_GT(differ, 5u);
}

TEST(TrainData, TooLongExampleIsAnErrorNamingIt) {
  Tokenizer tok = small_tokenizer();
  auto r = tokenize_examples({example("long-one", "add two lip balms", 2)}, tok, IntentMeta{}, 8,
                             "train.jsonl");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("train.jsonl: example 'long-one' needs"), std::string::npos)
      << r.message();
}

TEST(TrainData, BatchIsRightPaddedWithCompletionOnlyMask) {
  std::vector<TokenizedExample> ex(2);
  ex[0].tokens = {1, 10, 11, 12, 20, 21, 2};  // prompt 1 10 11 12, completion 20 21, eos 2
  ex[0].prompt_len = 4;
  ex[1].tokens = {1, 13, 22, 2};
  ex[1].prompt_len = 2;
  Batch b;
  fill_batch(b, ex, {1, 0}, 0);
  ASSERT_EQ(b.B, 2u);
  ASSERT_EQ(b.T, 6u);
  EXPECT_EQ(b.lens, (std::vector<int32_t>{3, 6}));
  EXPECT_EQ(std::vector<int32_t>(b.tokens.begin(), b.tokens.begin() + 6),
            (std::vector<int32_t>{1, 13, 22, 0, 0, 0}));
  EXPECT_EQ(std::vector<int32_t>(b.targets.begin(), b.targets.begin() + 6),
            (std::vector<int32_t>{13, 22, 2, 0, 0, 0}));
  // Row 0 (example 1): targets 22 and eos count, the prompt token 13 does not.
  EXPECT_EQ(std::vector<uint8_t>(b.mask.begin(), b.mask.begin() + 6),
            (std::vector<uint8_t>{0, 1, 1, 0, 0, 0}));
  // Row 1 (example 0): targets 20, 21, eos.
  EXPECT_EQ(std::vector<uint8_t>(b.mask.begin() + 6, b.mask.end()),
            (std::vector<uint8_t>{0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(b.loss_tokens, 5u);
  EXPECT_EQ(b.real_tokens, 9u);
}

TEST(TrainData, LossTargetsNarrowTheCompletionMask) {
  std::vector<TokenizedExample> ex(1);
  ex[0].tokens = {1, 10, 11, 20, 21, 22, 2};  // prompt 1 10 11, completion 20 21 22, eos 2
  ex[0].prompt_len = 3;
  ex[0].loss_targets = {0, 0, 0, 0, 1, 0, 0};  // only target 21 counts
  Batch b;
  fill_batch(b, ex, {0}, 0);
  EXPECT_EQ(b.mask, (std::vector<uint8_t>{0, 0, 0, 1, 0, 0}));
  EXPECT_EQ(b.loss_tokens, 1u);
  EXPECT_EQ(b.real_tokens, 6u);
}

TEST(TrainData, BatchesCoverEveryExampleOnceBucketedAndSeedDependent) {
  std::vector<size_t> lengths;
  Rng lr(7);
  for (int i = 0; i < 103; ++i) lengths.push_back(5 + lr.uniform(60));
  Rng a(1), b(1), c(2);
  auto ba = make_batches(lengths, 8, 4, a);
  auto bb = make_batches(lengths, 8, 4, b);
  auto bc = make_batches(lengths, 8, 4, c);
  EXPECT_EQ(ba, bb);
  EXPECT_NE(ba, bc);
  EXPECT_EQ(ba.size(), 13u);  // windows 32, 32, 32, 7: 4 + 4 + 4 + 1 batches
  std::multiset<uint32_t> seen;
  for (const auto& batch : ba) {
    EXPECT_LE(batch.size(), 8u);
    seen.insert(batch.begin(), batch.end());
  }
  EXPECT_EQ(seen.size(), 103u);
  EXPECT_EQ(std::set<uint32_t>(seen.begin(), seen.end()).size(), 103u);
  // Bucketing: padding waste is far below plain shuffled batches.
  auto waste = [&](const std::vector<std::vector<uint32_t>>& bs) {
    size_t w = 0;
    for (const auto& batch : bs) {
      size_t mx = 0;
      for (uint32_t i : batch) mx = std::max(mx, lengths[i]);
      for (uint32_t i : batch) w += mx - lengths[i];
    }
    return w;
  };
  Rng p(1);
  auto plain = make_batches(lengths, 8, 1, p);
  EXPECT_LT(waste(ba) * 2, waste(plain));
}

}  // namespace
}  // namespace cartlm
