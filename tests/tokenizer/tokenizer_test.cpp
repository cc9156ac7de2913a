// Tokenizer behaviour beyond the published vectors: the byte alphabet, exact round trips of
// arbitrary bytes (invalid UTF-8 included), both BPE merge paths, added/special token splitting,
// tokenizer.json and GGUF round trips, and malformed tokenizer.json files.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/file_io.h"
#include "core/rng.h"
#include "core/strings.h"
#include "tokenizer/tokenizer.h"
#include "temp_dir.h"
#include "tokenizer/tokenizer_internal.h"

namespace cartlm {
namespace {

std::string vocab_path(const std::string& name) {
  return std::string(CARTLM_SOURCE_DIR) + "/tests/data/vocab/ggml-vocab-" + name + ".gguf";
}

// Vocab files are parsed once per process (the Llama 3 one has 128k tokens and 280k merges).
const Tokenizer& vocab(const std::string& name) {
  static std::map<std::string, Tokenizer> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  auto f = open_gguf(vocab_path(name));
  CARTLM_CHECK(f.ok());
  auto t = tokenizer_from_gguf(*f);
  if (!t.ok()) std::fprintf(stderr, "%s\n", t.message().c_str());
  CARTLM_CHECK(t.ok());
  return cache.emplace(name, std::move(*t)).first->second;
}

// DIR/name under one directory for the whole test binary, removed at exit.
std::string temp_dir(const std::string& name) {
  static ScopedTempDir root("cartlm_tok_test");
  std::string dir = root.file(name);
  std::filesystem::create_directories(dir);
  return dir;
}

// Random strings that look like the texts cartlm sees: words in three languages, digits, emoji,
// whitespace runs, punctuation, and now and then raw bytes that are not valid UTF-8.
std::string random_text(Rng& rng, size_t n_parts, bool allow_invalid) {
  static const std::vector<std::string> parts = {
      "Can", " you", " delet", " 12", " lip", " balms", " for", " me", "?", " Dodaj", " 3",
      " kutije", " čokolade", " u", " košaricu", " Añade", " dos", " cepillos", " de", " dientes",
      "¡", "!", " ", "  ", "\n", "\n\n", "\t", "🦙", "😀", " 1234567", "'s", "'LL", "\xc4\x8d",
      "Đ", "ñ", "{\"action\": \"remove\"}", "   ", "...", " --", "中文", "\r\n", "3.14", "€"};
  std::string s;
  for (size_t i = 0; i < n_parts; ++i) {
    if (allow_invalid && rng.bernoulli(0.08)) {
      s.push_back((char)(0x80 + rng.uniform(128)));  // stray continuation / lead bytes
    } else if (allow_invalid && rng.bernoulli(0.03)) {
      s.push_back((char)rng.uniform(256));
    } else {
      s += rng.pick(parts);
    }
  }
  return s;
}

bool same_tokenizer(const Tokenizer& a, const Tokenizer& b, std::string& why) {
  auto check = [&](bool ok, const char* what) {
    if (!ok && why.empty()) why = what;
    return ok;
  };
  bool ok = check(a.tokens == b.tokens, "tokens") & check(a.types == b.types, "types") &
            check(a.merges == b.merges, "merges") & check(a.added == b.added, "added") &
            check(a.pre == b.pre, "pre") & check(a.pre_regexes == b.pre_regexes, "pre_regexes") &
            check(a.ignore_merges == b.ignore_merges, "ignore_merges") &
            check(a.add_prefix_space == b.add_prefix_space, "add_prefix_space") &
            check(a.add_bos == b.add_bos, "add_bos") & check(a.add_eos == b.add_eos, "add_eos") &
            check(a.bos_id == b.bos_id, "bos") & check(a.eos_id == b.eos_id, "eos") &
            check(a.eot_id == b.eot_id, "eot") & check(a.eom_id == b.eom_id, "eom") &
            check(a.pad_id == b.pad_id, "pad") & check(a.unk_id == b.unk_id, "unk") &
            check(a.eog_ids == b.eog_ids, "eog_ids") &
            check(a.chat_template == b.chat_template, "chat_template") &
            check(a.normalizer == b.normalizer, "normalizer");
  return ok;
}

TEST(ByteLevel, AlphabetCoversEveryByteOnce) {
  EXPECT_EQ(bytes_to_unicode(" "), "\xc4\xa0");   // Ġ
  EXPECT_EQ(bytes_to_unicode("\n"), "\xc4\x8a");  // Ċ
  EXPECT_EQ(bytes_to_unicode("\t"), "\xc4\x89");  // ĉ
  EXPECT_EQ(bytes_to_unicode("a!~"), "a!~");
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back((char)b);
  std::string mapped = bytes_to_unicode(all);
  auto back = unicode_to_bytes(mapped);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, all);
  std::set<uint32_t> cps;
  const uint32_t* table = byte_to_codepoint_table();
  for (int b = 0; b < 256; ++b) cps.insert(table[b]);
  EXPECT_EQ(cps.size(), 256u);
  EXPECT_FALSE(unicode_to_bytes("a b").has_value());       // raw space is not in the alphabet
  EXPECT_FALSE(unicode_to_bytes("\xe2\x82\xac").has_value());  // €
  EXPECT_FALSE(unicode_to_bytes("\xff").has_value());       // invalid UTF-8
}

TEST(Tokenizer, RoundTripsArbitraryBytesIncludingInvalidUtf8) {
  Rng rng(7);
  for (const char* name : {"llama-bpe", "gpt-2", "starcoder", "falcon", "deepseek-llm"}) {
    const Tokenizer& t = vocab(name);
    // Bytes the vocabulary has a byte token for. Falcon lacks a few (0x14, 0xC1, ...): like
    // llama.cpp those bytes are dropped, and nothing else is lost. deepseek-llm spells some bytes
    // (0xC1 = "Á") as user-defined tokens, which decode as their text (so "Árbol" round-trips but
    // a lone 0xC1 cannot): it gets valid UTF-8 only.
    bool covered[256], byte_exact = true;
    for (int b = 0; b < 256; ++b) {
      int32_t id = t.index->byte_id[b];
      covered[b] = id >= 0;
      if (id >= 0 && token_to_piece(t, id) != std::string(1, (char)b)) byte_exact = false;
    }
    auto expected = [&](const std::string& s) {
      std::string e;
      for (unsigned char c : s)
        if (covered[c]) e.push_back((char)c);
      return e;
    };
    for (int iter = 0; iter < 300; ++iter) {
      std::string s;
      if (!byte_exact) {
        s = random_text(rng, 1 + rng.uniform(40), false) + "\xc3\x81rbol";
      } else if (iter % 3 == 0) {  // uniformly random bytes
        size_t n = rng.uniform(64);
        for (size_t i = 0; i < n; ++i) s.push_back((char)rng.uniform(256));
      } else {
        s = random_text(rng, 1 + rng.uniform(40), /*allow_invalid=*/iter % 3 == 1);
      }
      std::vector<int32_t> ids = encode(t, s, false, false);
      ASSERT_EQ(decode(t, ids), expected(s)) << name << " iteration " << iter;
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < t.size());
    }
    // Long pieces go through the priority-queue merge path.
    for (std::string s : {std::string(5000, ' '), std::string(3000, 'a'), std::string(2000, '7'),
                          byte_exact ? std::string(1500, '\xff') : std::string(),
                          random_text(rng, 3000, byte_exact)}) {
      ASSERT_EQ(decode(t, encode(t, s, false, false)), expected(s)) << name << " long input";
    }
    int n_covered = 0;
    for (bool c : covered) n_covered += c;
    if (std::string(name) == "llama-bpe" || std::string(name) == "gpt-2") {
      EXPECT_EQ(n_covered, 256) << name;
      EXPECT_TRUE(byte_exact) << name;
    }
  }
}

TEST(Tokenizer, HeapAndArrayMergePathsAgree) {
  const Tokenizer& t = vocab("llama-bpe");
  Rng rng(3);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string s = random_text(rng, 1 + rng.uniform(12), iter % 2 == 0);
    if (s.size() > 128) s.resize(128);
    std::vector<int32_t> a, b;
    bpe_merge(*t.index, s, a, /*force_heap=*/false);
    bpe_merge(*t.index, s, b, /*force_heap=*/true);
    ASSERT_EQ(a, b) << "input of " << s.size() << " bytes";
  }
}

TEST(Tokenizer, KnownLlama3Encodings) {
  const Tokenizer& t = vocab("llama-bpe");
  EXPECT_EQ(t.bos_id, 128000);
  EXPECT_EQ(t.eos_id, 128009);
  EXPECT_EQ(t.eot_id, 128009);  // found by name
  EXPECT_EQ(t.eom_id, 128008);
  EXPECT_TRUE(t.ignore_merges);
  EXPECT_TRUE(t.add_bos);
  EXPECT_TRUE(t.is_eog(128009));
  EXPECT_TRUE(t.is_eog(128001));  // <|end_of_text|>
  EXPECT_FALSE(t.is_eog(128000));
  EXPECT_EQ(encode(t, "Hello world", false, false), (std::vector<int32_t>{9906, 1917}));
  EXPECT_EQ(encode(t, "Hello world", true, false), (std::vector<int32_t>{128000, 9906, 1917}));
  EXPECT_EQ(token_to_piece(t, 1917), " world");
  EXPECT_EQ(token_to_piece(t, 128009), "<|eot_id|>");
  EXPECT_EQ(token_to_piece(t, -1), "");
  EXPECT_EQ(token_to_piece(t, 1 << 30), "");
  EXPECT_EQ(*t.find("\xc4\xa0world"), 1917);
  EXPECT_FALSE(t.find("no such token").has_value());
}

TEST(Tokenizer, SpecialTokensAreParsedOnlyWhenAsked) {
  const Tokenizer& t = vocab("llama-bpe");
  const std::string text = "<|start_header_id|>user<|end_header_id|>\n\nDodaj 2 jabuke<|eot_id|>";
  std::vector<int32_t> ids = encode(t, text, true, /*parse_special=*/true);
  ASSERT_GE(ids.size(), 6u);
  EXPECT_EQ(ids[0], 128000);
  EXPECT_EQ(ids[1], 128006);
  EXPECT_EQ(ids.back(), 128009);
  EXPECT_NE(std::find(ids.begin(), ids.end(), 128007), ids.end());
  EXPECT_EQ(decode(t, ids), "<|begin_of_text|>" + text);
  EXPECT_EQ(decode(t, ids, /*render_special=*/false), "user\n\nDodaj 2 jabuke");
  std::vector<int32_t> plain = encode(t, text, false, /*parse_special=*/false);
  for (int32_t id : plain) EXPECT_LT(id, 128000) << "control token parsed without parse_special";
  EXPECT_EQ(decode(t, plain), text);
  // Text around a special token is encoded as if the token were a boundary.
  std::vector<int32_t> left = encode(t, "Hello", false, false), right = encode(t, " world", false, false);
  std::vector<int32_t> joined = encode(t, "Hello<|eot_id|> world", false, true);
  std::vector<int32_t> expect = left;
  expect.push_back(128009);
  expect.insert(expect.end(), right.begin(), right.end());
  EXPECT_EQ(joined, expect);
}

// A tiny tokenizer built by hand: the 256 byte tokens, a few merges and added tokens.
Tokenizer small_tokenizer() {
  Tokenizer t;
  for (int b = 0; b < 256; ++b) t.tokens.push_back(bytes_to_unicode(std::string(1, (char)b)));
  t.types.assign(256, TokenType::Normal);
  auto add_merge = [&](const std::string& a, const std::string& b) {
    t.merges.emplace_back(bytes_to_unicode(a), bytes_to_unicode(b));
    t.tokens.push_back(bytes_to_unicode(a + b));
    t.types.push_back(TokenType::Normal);
  };
  add_merge("a", "b");   // 256
  add_merge("ab", "c");  // 257
  add_merge("c", "d");   // 258
  auto add = [&](const std::string& s, bool special, bool lstrip, bool rstrip) {
    AddedToken a;
    a.id = t.size();
    a.content = s;
    a.special = special;
    a.lstrip = lstrip;
    a.rstrip = rstrip;
    a.normalized = !special;
    t.added.push_back(a);
    t.tokens.push_back(s);
    t.types.push_back(special ? TokenType::Control : TokenType::UserDefined);
  };
  add("<x>", true, false, false);    // 259
  add("<x>y", true, false, false);   // 260 (longer, same start)
  add("[u]", false, false, false);   // 261 user-defined: matched even without parse_special
  add("<s>", true, true, true);      // 262 eats whitespace on both sides
  t.pre = "gpt-2";
  t.pre_regexes = {kRegexGpt2};
  t.bos_id = 262;
  Status st = finalize_tokenizer(t, "small");
  CARTLM_CHECK(st.ok());
  return t;
}

TEST(Tokenizer, MergesFollowRankAndAddedTokensMatchLongestFirst) {
  Tokenizer t = small_tokenizer();
  // "abcd": (a,b) has rank 0, then (ab,c) rank 1 beats (c,d) rank 2.
  EXPECT_EQ(encode(t, "abcd", false, false), (std::vector<int32_t>{257, *t.find("d")}));
  // "bcd": no (a,b) so (c,d) applies.
  EXPECT_EQ(encode(t, "bcd", false, false), (std::vector<int32_t>{*t.find("b"), 258}));
  EXPECT_EQ(encode(t, "<x>y<x>", false, true), (std::vector<int32_t>{260, 259}));
  // Without parse_special the control tokens are text, the user-defined one is still matched.
  std::vector<int32_t> ids = encode(t, "<x>[u]", false, false);
  EXPECT_EQ(ids.back(), 261);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 259), 0);
  // lstrip/rstrip eat the whitespace next to <s>.
  EXPECT_EQ(encode(t, "ab  <s>  cd", false, true), (std::vector<int32_t>{256, 262, 258}));
  EXPECT_EQ(decode(t, encode(t, "x<x>y[u]z", false, true)), "x<x>y[u]z");
}

TEST(TokenizerJson, RoundTripsThroughFilesIdentically) {
  for (const char* name : {"llama-bpe", "gpt-2", "deepseek-coder"}) {
    const Tokenizer& t = vocab(name);
    std::string dir = temp_dir(std::string("json_") + name);
    ASSERT_TRUE(save_tokenizer(dir, t).ok());
    auto back = load_tokenizer(dir);
    ASSERT_TRUE(back.ok()) << back.message();
    std::string why;
    EXPECT_TRUE(same_tokenizer(t, *back, why)) << name << ": " << why;
    Rng rng(11);
    for (int i = 0; i < 50; ++i) {
      std::string s = random_text(rng, 20, true);
      ASSERT_EQ(encode(t, s, true, true), encode(*back, s, true, true)) << name;
    }
    // The same file written twice is byte-identical (deterministic writer).
    EXPECT_EQ(tokenizer_to_json(t), tokenizer_to_json(*back)) << name;
  }
}

TEST(TokenizerJson, GgufMetadataRoundTrip) {
  for (const char* name : {"llama-bpe", "starcoder", "mpt"}) {
    const Tokenizer& t = vocab(name);
    std::vector<GgufKV> kvs = tokenizer_gguf_kvs(t);
    auto bytes = serialize_gguf(kvs, {});
    ASSERT_TRUE(bytes.ok());
    auto f = parse_gguf(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size(), "mem");
    ASSERT_TRUE(f.ok()) << f.message();
    auto back = tokenizer_from_gguf(*f);
    ASSERT_TRUE(back.ok()) << back.message();
    std::string why;
    EXPECT_TRUE(same_tokenizer(t, *back, why)) << name << ": " << why;
  }
}

TEST(TokenizerJson, ReadsHfVariants) {
  // Merges as pairs, a Digits step before ByteLevel(use_regex) (SmolLM2's layout), an added token
  // and a tokenizer_config.json naming bos/eos.
  std::string vocab_json = "{";
  for (int b = 0; b < 256; ++b) {
    if (b) vocab_json += ", ";
    nlohmann::json s = bytes_to_unicode(std::string(1, (char)b));
    vocab_json += s.dump() + ": " + std::to_string(b);
  }
  vocab_json += ", \"12\": 256, \"\xc4\xa0" "a\": 257}";
  std::string j = R"({"added_tokens": [{"id": 258, "content": "<|im_end|>", "special": true}],
    "normalizer": null,
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
      {"type": "Digits", "individual_digits": true},
      {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}]},
    "post_processor": null, "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": )" + vocab_json + R"(, "merges": [["1", "2"], ["Ġ", "a"]]}})";
  std::string cfg = R"({"bos_token": {"content": "<|im_end|>"}, "eos_token": "<|im_end|>", "add_bos_token": false,
                        "chat_template": [{"name": "default", "template": "T"}]})";
  auto t = parse_tokenizer_json(j, cfg, "hf.json");
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->pre, "smollm");
  EXPECT_EQ(t->eos_id, 258);
  EXPECT_EQ(t->eot_id, 258);  // <|im_end|> by name
  EXPECT_EQ(t->chat_template, "T");
  EXPECT_EQ(t->types[258], TokenType::Control);
  // Digits are split one by one before BPE, so "12" never merges; " a" does.
  EXPECT_EQ(encode(*t, "12 a", false, false), (std::vector<int32_t>{'1', '2', 257}));
}

TEST(TokenizerJson, MalformedFilesGiveOneLineErrors) {
  struct Case {
    std::string json, needle;
  };
  std::string ok_model = R"("model": {"type": "BPE", "vocab": {"a": 0}, "merges": []})";
  std::string bytelevel = R"("pre_tokenizer": {"type": "ByteLevel"})";
  std::vector<Case> cases = {
      {"{not json", "not a valid JSON"},
      {"[]", "not a valid JSON object"},
      {"{}", "missing \"model\""},
      {R"({"model": {"type": "WordPiece", "vocab": {}}})", "WordPiece"},
      {"{" + bytelevel + R"(, "model": {"type": "BPE", "vocab": {"a": -1}, "merges": []}})", "is not a token id"},
      {"{" + bytelevel + R"(, "model": {"type": "BPE", "vocab": {"a": "x"}, "merges": []}})", "is not a token id"},
      {"{" + bytelevel + R"(, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["ab"]}})", "is not \"left right\""},
      {"{" + bytelevel + R"(, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": [3]}})", "must be \"a b\""},
      {"{" + bytelevel + R"(, "model": {"type": "BPE", "vocab": {"a": 0}}})", "merges must be an array"},
      {"{" + ok_model + "}", "not a byte-level BPE"},
      {R"({"pre_tokenizer": {"type": "Whitespace"}, )" + ok_model + "}", "\"Whitespace\" is not supported"},
      {R"({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "("}, "behavior": "Isolated"}, )" + ok_model + "}", "not a byte-level"},
      {R"({"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "("}, "behavior": "Isolated"}, {"type": "ByteLevel"}]}, )" + ok_model + "}", "bad pre-tokenizer regex"},
      {R"({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Removed"}, )" + ok_model + "}", "Isolated"},
      {R"({"normalizer": {"type": "Lowercase"}, )" + bytelevel + ", " + ok_model + "}", "normalizer"},
      {R"({"added_tokens": [{"id": "x", "content": "a"}], )" + bytelevel + ", " + ok_model + "}", "added_tokens[0].id"},
      {R"({"added_tokens": {}, )" + bytelevel + ", " + ok_model + "}", "added_tokens must be an array"},
      {"{" + bytelevel + R"(, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "ignore_merges": 1}})", "ignore_merges"},
      {"{" + bytelevel + R"(, "model": {"type": "BPE", "vocab": {"a": 16000000}, "merges": []}})", "only 1 tokens are defined"},
      {"{" + bytelevel + R"(, "model": {"type": "BPE", "continuing_subword_prefix": "##", "vocab": {"a": 0}, "merges": []}})", "continuing_subword_prefix is set"},
  };
  for (const Case& c : cases) {
    auto t = parse_tokenizer_json(c.json, "", "tok.json");
    ASSERT_FALSE(t.ok()) << c.json;
    EXPECT_NE(t.message().find(c.needle), std::string::npos) << "got: " << t.message();
    EXPECT_EQ(t.message().find('\n'), std::string::npos) << t.message();
    EXPECT_EQ(t.message().rfind("tok.json", 0), 0u) << t.message();
  }
  auto cfg = parse_tokenizer_json("{" + bytelevel + ", " + ok_model + "}", R"({"eos_token": "zz"})", "tok.json");
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.message().find("eos_token \"zz\" is not a token"), std::string::npos) << cfg.message();
}

TEST(TokenizerGguf, RejectsSentencePieceAndBadMetadata) {
  auto spm = open_gguf(vocab_path("llama-spm"));
  ASSERT_TRUE(spm.ok());
  auto t = tokenizer_from_gguf(*spm);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.message().find("SentencePiece"), std::string::npos) << t.message();
  auto make = [](std::vector<GgufKV> kvs) {
    auto bytes = serialize_gguf(kvs, {});
    CARTLM_CHECK(bytes.ok());
    auto f = parse_gguf(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size(), "v.gguf");
    CARTLM_CHECK(f.ok());
    return tokenizer_from_gguf(*f);
  };
  auto base = [] {
    return std::vector<GgufKV>{{"tokenizer.ggml.model", GgufValue::string("gpt2")},
                               {"tokenizer.ggml.tokens", GgufValue::array_strings({"a", "b", "ab"})},
                               {"tokenizer.ggml.merges", GgufValue::array_strings({"a b"})}};
  };
  EXPECT_TRUE(make(base()).ok());
  auto bad_pre = base();
  bad_pre.push_back({"tokenizer.ggml.pre", GgufValue::string("klingon")});
  EXPECT_NE(make(bad_pre).message().find("unknown pre-tokenizer 'klingon'"), std::string::npos);
  auto bad_id = base();
  bad_id.push_back({"tokenizer.ggml.eos_token_id", GgufValue::u32(3)});
  EXPECT_NE(make(bad_id).message().find("out of range"), std::string::npos);
  auto bad_merge = base();
  bad_merge[2].value = GgufValue::array_strings({"ab"});
  EXPECT_NE(make(bad_merge).message().find("is not \"left right\""), std::string::npos);
  auto bad_types = base();
  std::vector<int32_t> types = {1, 1};
  bad_types.push_back({"tokenizer.ggml.token_type", GgufValue::array_i32(types)});
  EXPECT_NE(make(bad_types).message().find("2 entries for 3 tokens"), std::string::npos);
  auto no_tokens = base();
  no_tokens.erase(no_tokens.begin() + 1);
  EXPECT_NE(make(no_tokens).message().find("missing metadata key 'tokenizer.ggml.tokens'"), std::string::npos);
}

TEST(Tokenizer, FindAndPiecesAgreeWithTheTokenListOnAFullVocab) {
  // The text -> id table keeps no keys of its own; check it against a plain map (the last id of a
  // repeated text wins, as llama.cpp), and every piece against the alphabet decoding.
  for (const char* name : {"llama-bpe", "gpt-2"}) {
    const Tokenizer& t = vocab(name);
    std::map<std::string, int32_t> want;
    for (int32_t id = 0; id < t.size(); ++id) want[t.tokens[id]] = id;
    size_t bad_find = 0, bad_piece = 0;
    for (int32_t id = 0; id < t.size(); ++id) {
      if (t.find(t.tokens[id]) != want[t.tokens[id]]) ++bad_find;
      std::optional<std::string> bytes = unicode_to_bytes(t.tokens[id]);
      TokenType ty = t.types[id];
      bool raw = ty == TokenType::Control || ty == TokenType::UserDefined || ty == TokenType::Unknown;
      std::string expect = (!raw && bytes) ? *bytes : t.tokens[id];
      if (token_to_piece(t, id) != expect) ++bad_piece;
    }
    EXPECT_EQ(bad_find, 0u) << name;
    EXPECT_EQ(bad_piece, 0u) << name;
    EXPECT_FALSE(t.find("no such token \xff").has_value()) << name;
    EXPECT_FALSE(t.find("").has_value()) << name;
  }
}

TEST(Tokenizer, RepeatedTokenTextMapsToTheLastIdAndEditedCopiesStayInBounds) {
  Tokenizer t = small_tokenizer();
  t.tokens.push_back(t.tokens[256]);  // "ab" again, as id 263
  t.types.push_back(TokenType::Normal);
  ASSERT_TRUE(finalize_tokenizer(t, "dup").ok());
  EXPECT_EQ(t.find(t.tokens[256]), 263);
  EXPECT_EQ(encode(t, "ab", false, false), (std::vector<int32_t>{263}));
  EXPECT_EQ(token_to_piece(t, 263), "ab");
  // A copy edited by hand without finalize_tokenizer shares the old index: lookups must not read
  // past its token list (they miss or fall back to ""; finalize_tokenizer is the fix).
  Tokenizer cut = t;
  cut.tokens.resize(10);
  cut.types.resize(10);
  EXPECT_FALSE(cut.find(t.tokens[263]).has_value());
  EXPECT_EQ(cut.find(t.tokens[5]), 5);
  EXPECT_EQ(token_to_piece(cut, 200), "");
  Tokenizer grown = t;
  grown.tokens.push_back("zz");
  grown.types.push_back(TokenType::Normal);
  EXPECT_EQ(token_to_piece(grown, grown.size() - 1), "");
}

TEST(Tokenizer, LargeTextRoundTripAndSpeed) {
  // ~4 MB of multilingual shopper-like text; reports the encode speed (no timing assertion).
  Rng rng(5);
  std::string text;
  while (text.size() < (4u << 20)) text += random_text(rng, 50, false);
  for (const char* name : {"llama-bpe", "gpt-2"}) {
    const Tokenizer& t = vocab(name);
    auto t0 = std::chrono::steady_clock::now();
    std::vector<int32_t> ids = encode(t, text, false, false);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_EQ(decode(t, ids), text);
    std::printf("[ speed    ] %-10s encode %.1f MB in %.3f s = %.1f MB/s (%zu tokens, %.2f bytes/token)\n",
                name, text.size() / 1e6, s, text.size() / 1e6 / s, ids.size(),
                (double)text.size() / ids.size());
  }
}

}  // namespace
}  // namespace cartlm
