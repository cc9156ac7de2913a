// Pre-tokenizers (regex sequences per GGUF pre name), PCRE2 splitting and the byte-level alphabet.
//
// The regex lists follow llama.cpp's llm_tokenizer_bpe (src/llama-vocab.cpp), which reproduces the
// Hugging Face tokenizers on the published test vectors. Two deliberate differences:
//  - Where llama.cpp lists the GPT-2 regex without its final "|\s+" alternative, it runs a
//    hand-written matcher that behaves as if the alternative were there; we use the full regex.
//  - Non-ASCII characters in regexes are written as \x{...} escapes so that no tool on the way
//    (editors, Unicode normalization) can change them.
#include <cstring>

#include "core/utf8.h"
#include "tokenizer/tokenizer_internal.h"

namespace cartlm {

const char* const kRegexGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama 3's regex with the case-insensitive group spelled out (as llama.cpp does): with PCRE2's
// Unicode case folding, (?i:'s) would also match "'ſ" (U+017F), which the reference does not.
const char* const kRegexLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

const char* const kRegexLlama3Original =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kRegexQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kRegexQwen2Original =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kRegexCjk = R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";
const char* const kRegexDeepseekLlmLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
const char* const kRegexDeepseekLlmPunct =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
const char* const kRegexBloom = R"( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{0964}\x{06D4}\x{060C})]+)";
const char* const kRegexDeepseekV3 =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kRegexTekken =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct PrePreset {
  std::vector<const char*> names;  // first = the name we write
  std::vector<const char*> regexes;
  bool llama3;  // ignore_merges + add_bos
};

const std::vector<PrePreset>& presets() {
  static const std::vector<PrePreset> kPresets = {
      {{"llama-bpe", "llama3", "llama-v3", "falcon3", "dbrx", "smaug-bpe", "chatglm-bpe"},
       {kRegexLlama3}, true},
      {{"gpt-2", "mpt", "olmo", "jais", "phi-2", "roberta-bpe", "gigachat", "jina-es", "jina-de",
        "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code"},
       {kRegexGpt2}, false},
      {{"qwen2", "stablelm2", "megrez"}, {kRegexQwen2}, false},
      {{"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"},
       {R"(\p{N})", kRegexGpt2}, false},
      {{"deepseek-llm"},
       {R"([\r\n])", kRegexDeepseekLlmLetters, kRegexDeepseekLlmPunct, R"(\s+$)", kRegexCjk,
        R"(\p{N}+)"},
       false},
      {{"deepseek-coder"},
       {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kRegexCjk, R"(\p{N})"}, false},
      {{"deepseek-v3"},
       {R"(\p{N}{1,3})", R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)", kRegexDeepseekV3},
       false},
      {{"falcon"}, {R"([\p{P}\$\+<=>\^~\|`]+)", kRegexGpt2, "[0-9][0-9][0-9]"}, false},
      {{"poro-chat", "bloom", "gpt3-finnish"}, {kRegexBloom}, false},
      {{"viking"}, {kRegexBloom, R"(\p{N})"}, false},
      {{"tekken"}, {kRegexTekken}, true},
      {{"default"}, {R"([\p{P}\$\+<=>\^~\|]+)", kRegexGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}, false},
  };
  return kPresets;
}

const PrePreset* find_preset(std::string_view pre) {
  for (const PrePreset& p : presets())
    for (const char* n : p.names)
      if (pre == n) return &p;
  return nullptr;
}

}  // namespace

Result<std::vector<std::string>> pre_tokenizer_regexes(std::string_view pre) {
  const PrePreset* p = find_preset(pre);
  if (!p) {
    std::string names;
    for (const std::string& n : pre_tokenizer_names()) names += (names.empty() ? "" : ", ") + n;
    return error("unknown pre-tokenizer '" + std::string(pre) + "' (known: " + names + ")");
  }
  return std::vector<std::string>(p->regexes.begin(), p->regexes.end());
}

std::vector<std::string> pre_tokenizer_names() {
  std::vector<std::string> out;
  for (const PrePreset& p : presets())
    for (const char* n : p.names) out.push_back(n);
  return out;
}

bool pre_tokenizer_is_llama3(std::string_view pre) {
  const PrePreset* p = find_preset(pre);
  return p && p->llama3;
}

// Regexes as HF files spell them are mapped to the canonical spelling before comparing.
std::string canonical_regex(const std::string& r) {
  if (r == kRegexLlama3Original) return kRegexLlama3;
  if (r == kRegexQwen2Original) return kRegexQwen2;
  return r;
}

std::string pre_tokenizer_name_for(const std::vector<std::string>& regexes) {
  for (const PrePreset& p : presets()) {
    if (p.regexes.size() != regexes.size()) continue;
    bool same = true;
    for (size_t i = 0; i < regexes.size() && same; ++i)
      same = canonical_regex(regexes[i]) == p.regexes[i];
    if (same) return p.names[0];
  }
  return "default";
}

Result<Pcre2Code> compile_regex(const std::string& pattern) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  std::string canon = canonical_regex(pattern);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(canon.data()), canon.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &offset,
                                   nullptr);
  if (!code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof buf);
    return error("bad pre-tokenizer regex at offset " + std::to_string(offset) + ": " +
                 reinterpret_cast<const char*>(buf) + " (regex: " + pattern.substr(0, 120) + ")");
  }
  // JIT makes matching several times faster; without it (unsupported CPU) pcre2_match interprets.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return Pcre2Code(code);
}

std::vector<std::string> pre_tokenize(const Tokenizer& t, std::string_view text) {
  CARTLM_CHECK(t.index != nullptr);
  Pcre2MatchData md(pcre2_match_data_create(32, nullptr));
  std::vector<std::string> out;
  auto add = [&](Span p) { out.emplace_back(text.substr(p.begin, p.size)); };
  for_each_pretoken(t.index->regexes, 0, md.get(), text, Span{0, text.size()}, add);
  return out;
}

// ---- byte-level alphabet ---------------------------------------------------------------------

const uint32_t* byte_to_codepoint_table() {
  static const auto table = [] {
    static uint32_t t[256];
    uint32_t n = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      bool direct = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      t[b] = direct ? b : 256 + n++;
    }
    return t;
  }();
  return table;
}

int codepoint_to_byte(uint32_t cp) {
  static const auto inverse = [] {
    static int16_t inv[512];
    for (int16_t& x : inv) x = -1;
    const uint32_t* t = byte_to_codepoint_table();
    for (int b = 0; b < 256; ++b) inv[t[b]] = (int16_t)b;
    return inv;
  }();
  return cp < 512 ? inverse[cp] : -1;
}

std::string bytes_to_unicode(std::string_view bytes) {
  const uint32_t* t = byte_to_codepoint_table();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) append_utf8(out, t[b]);
  return out;
}

std::optional<std::string> unicode_to_bytes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    uint32_t cp = decode_utf8(text, i);
    if (cp == 0xFFFD && !(i - start == 3 && std::memcmp(text.data() + start, "\xEF\xBF\xBD", 3) == 0))
      return std::nullopt;  // invalid UTF-8
    int b = codepoint_to_byte(cp);
    if (b < 0) return std::nullopt;
    out.push_back((char)b);
  }
  return out;
}

}  // namespace cartlm
