// BPE trainer: vocabulary size, determinism, round trips, agreement between the learned merges
// applied naively in rank order and the tokenizer's encoding, and tokenizer.json round trip.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "core/rng.h"
#include "tokenizer/tokenizer.h"
#include "temp_dir.h"
#include "tokenizer/tokenizer_internal.h"

namespace cartlm {
namespace {

// Shopper-like messages in English, Croatian and Spanish with a JSON label now and then.
std::vector<std::string> corpus(size_t n, uint64_t seed) {
  static const std::vector<std::string> verbs = {
      "Can you add", "Please remove", "Dodaj", "Makni", "Añade", "Quita", "delet", "I want",
      "Stavi u košaricu", "Elimina del carrito", "Put"};
  static const std::vector<std::string> products = {
      "lip balms", "čokolade", "cepillos de dientes", "jabuke", "USB cables", "šampona",
      "toothbrushes", "bananas", "pañales", "kave", "AA batteries", "žlice"};
  static const std::vector<std::string> tails = {"", " for me?", " please", "!", " hvala", " por favor",
                                                 "\n", " 🙂", "  thanks", "..."};
  // Made-up words from syllables give the corpus a long tail of distinct words.
  static const std::vector<std::string> syllables = {
      "ka", "ro", "ni", "šo", "će", "la", "mer", "tos", "ban", "ži", "que", "ll", "ñi", "str",
      "ing", "ed", "po", "du", "vač", "ción", "ter", "ab", "ot", "us", "en", "đe", "ja", "ho"};
  Rng rng(seed);
  auto made_up = [&] {
    std::string w;
    for (int k = (int)rng.range(1, 4); k > 0; --k) w += rng.pick(syllables);
    return w;
  };
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    std::string s = rng.pick(verbs) + " " + std::to_string(rng.range(1, 250)) + " " +
                    (rng.bernoulli(0.5) ? rng.pick(products) : made_up() + " " + made_up()) +
                    rng.pick(tails);
    if (rng.bernoulli(0.3))
      s += "\n{\"action\": \"" + std::string(rng.bernoulli(0.5) ? "add" : "remove") +
           "\", \"product\": \"" + rng.pick(products) + "\", \"quantity\": " +
           std::to_string(rng.range(1, 99)) + "}";
    out.push_back(std::move(s));
  }
  return out;
}

// The training view of a word: merges applied one after another in rank order, each replacing
// every occurrence left to right. Independent of the tokenizer's merge code.
std::vector<std::string> naive_bpe(const std::string& word_bytes,
                                   const std::vector<std::pair<std::string, std::string>>& merges) {
  std::vector<std::string> sym;
  for (unsigned char c : word_bytes) sym.push_back(bytes_to_unicode(std::string(1, (char)c)));
  for (const auto& [a, b] : merges) {
    std::vector<std::string> next;
    for (size_t i = 0; i < sym.size(); ++i) {
      if (i + 1 < sym.size() && sym[i] == a && sym[i + 1] == b) {
        next.push_back(a + b);
        ++i;
      } else {
        next.push_back(sym[i]);
      }
    }
    sym.swap(next);
  }
  return sym;
}

TEST(BpeTrain, LearnsTheRequestedVocabularyDeterministically) {
  std::vector<std::string> texts = corpus(3000, 1);
  BpeTrainOptions opt;
  opt.vocab_size = 700;
  auto t = train_bpe(texts, opt);
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->size(), 700);
  EXPECT_EQ(t->tokens[0], "!");  // byte tokens in alphabet order, as GPT-2
  EXPECT_GE(t->merges.size(), 700u - 256 - 3);  // more only when two merges spell the same token
  EXPECT_EQ(t->tokens[t->bos_id], "<|begin_of_text|>");
  EXPECT_EQ(t->tokens[t->eos_id], "<|end_of_text|>");
  EXPECT_EQ(t->tokens[t->pad_id], "<|pad|>");
  EXPECT_EQ(t->types[t->bos_id], TokenType::Control);
  EXPECT_TRUE(t->is_eog(t->eos_id));
  EXPECT_TRUE(t->add_bos);
  EXPECT_EQ(t->pre, "llama-bpe");
  auto again = train_bpe(texts, opt);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->tokens, t->tokens);
  EXPECT_EQ(again->merges, t->merges);
  // The corpus compresses: far fewer tokens than bytes.
  size_t bytes = 0, tokens = 0;
  for (const std::string& s : texts) {
    bytes += s.size();
    tokens += encode(*t, s, false, false).size();
  }
  EXPECT_LT(tokens * 2, bytes) << tokens << " tokens for " << bytes << " bytes";
}

TEST(BpeTrain, EncodingMatchesMergesAppliedInRankOrder) {
  std::vector<std::string> texts = corpus(2000, 2);
  for (const char* pre : {"llama-bpe", "gpt-2"}) {
    BpeTrainOptions opt;
    opt.vocab_size = 600;
    opt.pre = pre;
    auto trained = train_bpe(texts, opt);
    ASSERT_TRUE(trained.ok()) << trained.message();
    // Compare the plain BPE path (ignore_merges off) on every distinct training word.
    Tokenizer t = *trained;
    t.ignore_merges = false;
    ASSERT_TRUE(finalize_tokenizer(t, "test").ok());
    std::set<std::string> words;
    for (const std::string& s : texts)
      for (const std::string& w : pre_tokenize(t, s)) words.insert(w);
    ASSERT_GT(words.size(), 100u);
    for (const std::string& w : words) {
      std::vector<std::string> expect = naive_bpe(w, t.merges);
      std::vector<std::string> got;
      for (int32_t id : encode(t, w, false, false)) got.push_back(t.tokens[id]);
      ASSERT_EQ(got, expect) << pre << " word \"" << w << "\"";
      // With ignore_merges (what llama.cpp does for llama-bpe), training words still agree.
      std::vector<int32_t> a = encode(*trained, w, false, false), b = encode(t, w, false, false);
      EXPECT_EQ(a, b) << pre << " word \"" << w << "\"";
    }
  }
}

TEST(BpeTrain, RoundTripsAndSavesLoadably) {
  std::vector<std::string> texts = corpus(1500, 3);
  BpeTrainOptions opt;
  opt.vocab_size = 500;
  auto t = train_bpe(texts, opt);
  ASSERT_TRUE(t.ok()) << t.message();
  Rng rng(9);
  for (int i = 0; i < 200; ++i) {
    std::string s;
    size_t n = rng.uniform(80);
    for (size_t k = 0; k < n; ++k) s.push_back((char)rng.uniform(256));
    ASSERT_EQ(decode(*t, encode(*t, s, false, false)), s);
  }
  for (const std::string& s : texts) ASSERT_EQ(decode(*t, encode(*t, s, true, true)), "<|begin_of_text|>" + s);
  // Specials written in the text are recognized when asked.
  std::vector<int32_t> ids = encode(*t, "Dodaj 2<|end_of_text|>", false, true);
  EXPECT_EQ(ids.back(), t->eos_id);
  ScopedTempDir tmp("cartlm_bpe_train");
  const std::string& dir = tmp.path;
  ASSERT_TRUE(save_tokenizer(dir, *t).ok());
  auto back = load_tokenizer(dir);
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->tokens, t->tokens);
  EXPECT_EQ(back->types, t->types);
  EXPECT_EQ(back->merges, t->merges);
  EXPECT_EQ(back->pre_regexes, t->pre_regexes);
  EXPECT_EQ(back->ignore_merges, t->ignore_merges);
  EXPECT_EQ(back->bos_id, t->bos_id);
  EXPECT_EQ(back->eos_id, t->eos_id);
  EXPECT_EQ(back->pad_id, t->pad_id);
  EXPECT_EQ(back->add_bos, t->add_bos);
  for (const std::string& s : texts) ASSERT_EQ(encode(*back, s, true, true), encode(*t, s, true, true));
}

TEST(BpeTrain, SpecialsFirstOnlyMovesIds) {
  std::vector<std::string> texts = corpus(1000, 5);
  BpeTrainOptions opt;
  opt.vocab_size = 400;
  auto last = train_bpe(texts, opt);
  opt.specials_first = true;
  opt.special_tokens = {"<|pad|>", "<|begin_of_text|>", "<|end_of_text|>"};
  auto first = train_bpe(texts, opt);
  ASSERT_TRUE(last.ok() && first.ok());
  EXPECT_EQ(first->pad_id, 0);
  EXPECT_EQ(first->bos_id, 1);
  EXPECT_EQ(first->eos_id, 2);
  EXPECT_EQ(first->tokens[3], "!");
  EXPECT_EQ(first->merges, last->merges);
  EXPECT_EQ(first->size(), last->size());
  for (const std::string& s : texts) {
    std::vector<int32_t> a = encode(*first, s, true, true), b = encode(*last, s, true, true);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(first->tokens[a[i]], last->tokens[b[i]]);
  }
}

TEST(BpeTrain, RejectsImpossibleSettings) {
  std::vector<std::string> texts = {"abc"};
  BpeTrainOptions opt;
  opt.vocab_size = 200;
  auto t = train_bpe(texts, opt);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.message().find("cannot hold"), std::string::npos) << t.message();
  opt.vocab_size = 300;
  opt.bos_token = "<s>";
  EXPECT_NE(train_bpe(texts, opt).message().find("\"<s>\" is not among the special tokens"), std::string::npos);
  opt.bos_token = "<|begin_of_text|>";
  opt.pre = "nope";
  EXPECT_NE(train_bpe(texts, opt).message().find("unknown pre-tokenizer"), std::string::npos);
  // A tiny corpus simply runs out of pairs: fewer tokens than asked, still valid.
  opt.pre = "llama-bpe";
  auto small = train_bpe(texts, opt);
  ASSERT_TRUE(small.ok()) << small.message();
  EXPECT_LT(small->size(), 300);
}

TEST(BpeTrain, UserTokensAreWholeTokensAndTakeNoMerges) {
  std::vector<std::string> texts = corpus(1500, 11);
  const std::vector<std::string> user = {"{\"action\": \"", "\", \"product\": \"", "\", \"quantity\": ",
                                         "\nCart: "};
  for (bool first : {false, true}) {
    BpeTrainOptions opt;
    opt.vocab_size = 500;
    opt.user_tokens = user;
    opt.specials_first = first;
    if (first) opt.special_tokens = {"<|pad|>", "<|begin_of_text|>", "<|end_of_text|>"};
    auto t = train_bpe(texts, opt);
    ASSERT_TRUE(t.ok()) << t.message();
    EXPECT_EQ(t->size(), 500);
    // Right after the learned vocabulary: before the specials, or last when specials come first.
    const int32_t at = first ? t->size() - 4 : t->size() - 7;
    for (int32_t k = 0; k < 4; ++k) {
      EXPECT_EQ(t->tokens[at + k], user[k]);
      EXPECT_EQ(t->types[at + k], TokenType::UserDefined);
      EXPECT_FALSE(t->is_special(at + k));
    }
    // The corpus spells "quantity" only inside a user token, so no merge learned it.
    for (const std::string& tok : t->tokens) {
      if (tok == user[2]) continue;
      EXPECT_EQ(tok.find("quantity"), std::string::npos) << tok;
    }
    // Matched whole, without parse_special, wherever they occur; the rest encodes as before.
    const std::string label = "{\"action\": \"add\", \"product\": \"kave\", \"quantity\": 12}";
    std::vector<int32_t> ids = encode(*t, "Dodaj 2 kave\nCart: " + label, false, false);
    std::vector<int32_t> want = encode(*t, "Dodaj 2 kave", false, false);
    want.push_back(at + 3);  // "\nCart: "
    want.push_back(at + 0);  // {"action": "
    for (int32_t id : encode(*t, "add", false, false)) want.push_back(id);
    want.push_back(at + 1);
    for (int32_t id : encode(*t, "kave", false, false)) want.push_back(id);
    want.push_back(at + 2);
    for (int32_t id : encode(*t, "12}", false, false)) want.push_back(id);
    EXPECT_EQ(ids, want);
    EXPECT_EQ(decode(*t, ids), "Dodaj 2 kave\nCart: " + label);
    // Saved and loaded back: same tokens, types and encoding.
    ScopedTempDir tmp("cartlm_bpe_user");
    ASSERT_TRUE(save_tokenizer(tmp.path, *t).ok());
    auto back = load_tokenizer(tmp.path);
    ASSERT_TRUE(back.ok()) << back.message();
    EXPECT_EQ(back->tokens, t->tokens);
    EXPECT_EQ(back->types, t->types);
    for (size_t i = 0; i < 300; ++i) ASSERT_EQ(encode(*back, texts[i], true, false), encode(*t, texts[i], true, false));
  }
}

TEST(BpeTrain, RejectsBadUserTokens) {
  std::vector<std::string> texts = corpus(200, 2);
  BpeTrainOptions opt;
  opt.vocab_size = 400;
  opt.user_tokens = {"Cart:", ""};
  EXPECT_NE(train_bpe(texts, opt).message().find("user tokens must be non-empty and distinct"), std::string::npos);
  opt.user_tokens = {"Cart:", "Cart:"};
  EXPECT_NE(train_bpe(texts, opt).message().find("(\"Cart:\")"), std::string::npos);
  opt.user_tokens = {"<|pad|>"};
  EXPECT_NE(train_bpe(texts, opt).message().find("(\"<|pad|>\")"), std::string::npos);
  opt.user_tokens = {"a"};  // already the byte token "a"
  EXPECT_NE(train_bpe(texts, opt).message().find("user token \"a\" is also a token of the learned vocabulary"),
            std::string::npos) << train_bpe(texts, opt).message();
  opt.user_tokens = {"x1", "x2", "x3"};
  opt.vocab_size = 258;
  EXPECT_NE(train_bpe(texts, opt).message().find("3 user tokens"), std::string::npos);
}

TEST(BpeDropout, SplitsWordsIntoSmallerTokensAndStillRoundTrips) {
  std::vector<std::string> texts = corpus(1500, 5);
  Tokenizer plain = train_bpe(texts, BpeTrainOptions{.vocab_size = 700}).value();
  plain.ignore_merges = false;  // dropout does not honour ignore_merges; compare like with like
  ASSERT_TRUE(finalize_tokenizer(plain, "test").ok());
  size_t n_plain = 0, n_drop = 0, n_all = 0, non_digit_bytes = 0, changed = 0;
  for (size_t i = 0; i < 300; ++i) {
    const std::string& s = texts[i];
    const std::vector<int32_t> base = encode(plain, s, false, false);
    Rng r0(i);
    BpeDropout none{0.0, &r0};
    EXPECT_EQ(encode(plain, s, false, false, &none), base) << s;  // p = 0 is plain BPE
    Rng r1(i), r2(i), r3(i);
    BpeDropout some{0.3, &r1}, again{0.3, &r2}, all{0.999999, &r3};
    const std::vector<int32_t> d = encode(plain, s, false, false, &some);
    EXPECT_EQ(decode(plain, d), s);
    EXPECT_EQ(encode(plain, s, false, false, &again), d) << "same seed, same split";
    EXPECT_GE(d.size(), base.size()) << s;
    const std::vector<int32_t> bytes_only = encode(plain, s, false, false, &all);
    EXPECT_EQ(decode(plain, bytes_only), s);
    n_plain += base.size();
    n_drop += d.size();
    n_all += bytes_only.size();
    for (char c : s) non_digit_bytes += c < '0' || c > '9';
    changed += d != base;
  }
  // Dropout 0.3 splits a good share of the texts and lengthens them; near 1 it leaves bytes
  // (numbers keep their tokens: NumbersKeepTheirTokens below).
  EXPECT_GT(changed, 150u);
  EXPECT_GT(n_drop, n_plain + n_plain / 10);
  EXPECT_GT(n_all, non_digit_bytes * 95 / 100);
}

TEST(BpeDropout, NumbersKeepTheirTokens) {
  std::vector<std::string> texts = corpus(1500, 5);  // numbers 1..250 in every text
  Tokenizer plain = train_bpe(texts, BpeTrainOptions{.vocab_size = 700}).value();
  plain.ignore_merges = false;
  ASSERT_TRUE(finalize_tokenizer(plain, "test").ok());
  const std::string nums = "Dodaj 12 i 250, x7 ili 123456";
  const std::vector<int32_t> base = encode(plain, nums, false, false);
  Rng r(1);
  BpeDropout all{0.999999, &r};
  const std::vector<int32_t> d = encode(plain, nums, false, false, &all);
  EXPECT_EQ(decode(plain, d), nums);
  // The words fall apart into bytes; every digit group is the same token(s) as without dropout.
  auto digit_tokens = [&](const std::vector<int32_t>& ids) {
    std::vector<std::string> out;
    for (int32_t id : ids) {
      std::string p = decode(plain, std::vector<int32_t>{id});
      if (!p.empty() && p.back() >= '0' && p.back() <= '9') out.push_back(p);
    }
    return out;
  };
  const std::vector<std::string> got = digit_tokens(base);
  // The vocabulary has multi-digit tokens ("12" and "250" come out whole without dropout)...
  ASSERT_GE(got.size(), 3u);
  EXPECT_EQ(got[0], "12");
  EXPECT_EQ(got[1], "250");
  // ...and dropout leaves every digit group as it was, while the words fall apart.
  EXPECT_EQ(digit_tokens(d), got);
  EXPECT_GT(d.size(), base.size()) << "the words are split";
}

TEST(BpeTrain, TrainsAFewMegabytesQuickly) {
  std::vector<std::string> texts = corpus(60000, 4);  // ~3 MB
  size_t bytes = 0;
  for (const std::string& s : texts) bytes += s.size();
  BpeTrainOptions opt;
  opt.vocab_size = 4096;
  opt.min_frequency = 1;
  auto t0 = std::chrono::steady_clock::now();
  auto t = train_bpe(texts, opt);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_LE(t->size(), 4096);
  std::printf("[ train    ] %.1f MB -> %d tokens in %.2f s\n", bytes / 1e6, t->size(), s);
}

}  // namespace
}  // namespace cartlm
