// Pre-tokenizers on their own: known splits per GGUF pre name, lossless splitting of any bytes
// (invalid UTF-8 included) for every preset, and the name <-> regex tables.
#include <gtest/gtest.h>

#include "core/rng.h"
#include "tokenizer/tokenizer.h"

namespace cartlm {
namespace {

// A tokenizer whose only job is to carry a pre-tokenizer (byte tokens, no merges).
Tokenizer with_pre(const std::string& pre) {
  Tokenizer t;
  for (int b = 0; b < 256; ++b) t.tokens.push_back(bytes_to_unicode(std::string(1, (char)b)));
  t.types.assign(256, TokenType::Normal);
  t.pre = pre;
  auto r = pre_tokenizer_regexes(pre);
  CARTLM_CHECK(r.ok());
  t.pre_regexes = *r;
  Status st = finalize_tokenizer(t, pre);
  CARTLM_CHECK(st.ok());
  return t;
}

using Pieces = std::vector<std::string>;

TEST(PreTokenize, Llama3Splits) {
  Tokenizer t = with_pre("llama-bpe");
  EXPECT_EQ(pre_tokenize(t, "Can you delet 12345 lip balms?"),
            (Pieces{"Can", " you", " delet", " ", "123", "45", " lip", " balms", "?"}));
  // Contractions are case-insensitive; a long s is not an s.
  EXPECT_EQ(pre_tokenize(t, "I'M WE'LL it's"), (Pieces{"I", "'M", " WE", "'LL", " it", "'s"}));
  EXPECT_EQ(pre_tokenize(t, "x'\xc5\xbf"), (Pieces{"x", "'\xc5\xbf"}));  // 'ſ: punctuation + letter
  // Whitespace: runs before a word keep one space for the word; newlines group.
  EXPECT_EQ(pre_tokenize(t, "a   b\n\n  c"), (Pieces{"a", "  ", " b", "\n\n", " ", " c"}));
  EXPECT_EQ(pre_tokenize(t, "Dodaj 3 čokolade!!\n"), (Pieces{"Dodaj", " ", "3", " čokolade", "!!\n"}));
}

TEST(PreTokenize, Qwen2SplitsDigitsOneByOne) {
  Tokenizer t = with_pre("qwen2");
  EXPECT_EQ(pre_tokenize(t, "x 2024"), (Pieces{"x", " ", "2", "0", "2", "4"}));
}

TEST(PreTokenize, Gpt2AndStarcoder) {
  Tokenizer g = with_pre("gpt-2");
  EXPECT_EQ(pre_tokenize(g, "Hello  world 2024's"), (Pieces{"Hello", " ", " world", " 2024", "'s"}));
  Tokenizer s = with_pre("starcoder");
  EXPECT_EQ(pre_tokenize(s, "v 2024"), (Pieces{"v", " ", "2", "0", "2", "4"}));
}

TEST(PreTokenize, EverySplitIsLossless) {
  Rng rng(1);
  const std::vector<std::string> bits = {"a", "Ž", " ", "  ", "\n", "\r\n", "12", "345", "'s", "!?",
                                         "中", "🦙", "\t", "€", "x", "\xff", "\xc3", "\x80", "ſ"};
  for (const std::string& name : pre_tokenizer_names()) {
    Tokenizer t = with_pre(name);
    for (int iter = 0; iter < 200; ++iter) {
      std::string s;
      for (int k = (int)rng.uniform(30); k > 0; --k) s += rng.pick(bits);
      Pieces p = pre_tokenize(t, s);
      std::string joined;
      for (const std::string& piece : p) {
        ASSERT_FALSE(piece.empty()) << name;
        joined += piece;
      }
      ASSERT_EQ(joined, s) << name;
    }
  }
}

TEST(PreTokenize, NameTables) {
  EXPECT_TRUE(pre_tokenizer_is_llama3("llama-bpe"));
  EXPECT_TRUE(pre_tokenizer_is_llama3("llama3"));
  EXPECT_FALSE(pre_tokenizer_is_llama3("qwen2"));
  EXPECT_FALSE(pre_tokenizer_regexes("no-such-pre").ok());
  for (const char* name : {"llama-bpe", "gpt-2", "qwen2", "deepseek-llm", "deepseek-coder", "falcon", "smollm"})
    EXPECT_EQ(pre_tokenizer_name_for(*pre_tokenizer_regexes(name)), name);
  // Aliases map to the first name of their group; unknown lists to "default".
  EXPECT_EQ(pre_tokenizer_name_for(*pre_tokenizer_regexes("mpt")), "gpt-2");
  EXPECT_EQ(pre_tokenizer_name_for({"abc"}), "default");
  // HF's spelling of the Llama 3 regex is recognized.
  EXPECT_EQ(pre_tokenizer_name_for({R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}),
            "llama-bpe");
}

}  // namespace
}  // namespace cartlm
