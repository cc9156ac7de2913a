// Internals shared by the tokenizer's .cpp files (not part of the public API; tests may use it).
#pragma once
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace cartlm {

// ---- regexes ---------------------------------------------------------------------------------

struct Pcre2CodeFree {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct Pcre2MatchDataFree {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};
using Pcre2Code = std::unique_ptr<pcre2_code, Pcre2CodeFree>;
using Pcre2MatchData = std::unique_ptr<pcre2_match_data, Pcre2MatchDataFree>;

// Compiles with UTF + UCP + MATCH_INVALID_UTF (invalid bytes are never matched, so they end up in
// gap pieces) and JIT when available.
Result<Pcre2Code> compile_regex(const std::string& pattern);

struct Span {
  size_t begin, size;
};

inline size_t utf8_lead_len(unsigned char c) {
  return c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
}

// Calls f(Span) for every match of `re` in text[piece] and every gap between matches, in order
// (HF Split "Isolated"). The piece is the whole subject, so lookarounds do not see outside it.
// `md` may be reused by f: the match positions are copied out before f runs.
template <class F>
void for_each_split(const pcre2_code* re, pcre2_match_data* md, std::string_view text, Span piece,
                    F&& f) {
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data() + piece.begin);
  const size_t len = piece.size;
  size_t last = 0;  // end of what has been handed out
  size_t pos = 0;   // where the next search starts
  while (pos < len) {
    int rc = pcre2_match(re, subject, len, pos, 0, md, nullptr);
    if (rc < 0) break;  // no match (or a resource limit): the rest is one gap
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t ms = ov[0], me = ov[1];
    if (me <= ms) {  // empty match: nothing to hand out, move on one character
      pos = ms + (ms < len ? utf8_lead_len(subject[ms]) : 1);
      continue;
    }
    size_t gap = last;
    last = pos = me;
    if (ms > gap) f(Span{piece.begin + gap, ms - gap});
    f(Span{piece.begin + ms, me - ms});
  }
  if (last < len) f(Span{piece.begin + last, len - last});
}

// ---- BPE tables ------------------------------------------------------------------------------

// Open-addressing hash map from a token-id pair to (rank, merged id). Built once, read-only after.
struct MergeTable {
  struct Slot {
    uint64_t key = ~0ull;
    int32_t rank = 0;
    int32_t id = 0;
  };
  std::vector<Slot> slots;
  uint64_t mask = 0;
  int shift = 64;

  static uint64_t key_of(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }
  void build(size_t n);  // capacity for n entries
  void insert(int32_t a, int32_t b, int32_t rank, int32_t id);  // keeps the lowest rank
  const Slot* find(int32_t a, int32_t b) const {
    uint64_t k = key_of(a, b);
    uint64_t h = (k * 0x9E3779B97F4A7C15ull) >> shift;
    for (;;) {
      const Slot& s = slots[h];
      if (s.key == k) return &s;
      if (s.key == ~0ull) return nullptr;
      h = (h + 1) & mask;
    }
  }
};

inline uint64_t hash_bytes(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t x;
    std::memcpy(&x, s.data() + i, 8);
    h = (h ^ x) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  uint64_t x = 0;
  std::memcpy(&x, s.data() + i, s.size() - i);
  h = (h ^ x) * 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 29);
}

// Open-addressing map from byte strings to token ids; keys live in one buffer. Build-once.
struct BytesTable {
  std::string blob;                // keys back to back
  std::vector<uint32_t> key_off;   // key k = blob[key_off[k], key_off[k + 1])
  std::vector<int32_t> key_id;
  std::vector<uint32_t> slots;     // key index + 1 (0 = empty)
  std::vector<uint32_t> slot_hash;
  uint64_t mask = 0;

  void build(size_t n);
  void insert(std::string_view key, int32_t id);  // an existing key gets the new id (last wins)
  std::string_view key(uint32_t k) const {
    return std::string_view(blob).substr(key_off[k], key_off[k + 1] - key_off[k]);
  }
  int32_t find(std::string_view s) const {
    uint64_t h = hash_bytes(s);
    for (uint64_t i = h & mask;; i = (i + 1) & mask) {
      uint32_t k = slots[i];
      if (k == 0) return -1;
      if (slot_hash[i] == (uint32_t)h && key(k - 1) == s) return key_id[k - 1];
    }
  }
};

// Open-addressing map from token text to id that stores no keys: slot ids point into the token
// list it was built from (Tokenizer::tokens), which every lookup passes in. A 128k vocabulary
// costs 2 MB here instead of ~14 MB for an unordered_map<string, int32_t> of copies. An id that
// is out of range for the list given (a hand-edited copy) never matches. Build-once.
struct TextTable {
  std::vector<int32_t> slots;       // token id, -1 = empty
  std::vector<uint32_t> slot_hash;  // low 32 bits of hash_bytes(text), to skip most compares
  uint64_t mask = 0;

  void build(const std::vector<std::string>& tokens);  // duplicate texts: the last id wins
  int32_t find(const std::vector<std::string>& tokens, std::string_view s) const {
    uint64_t h = hash_bytes(s);
    for (uint64_t i = h & mask;; i = (i + 1) & mask) {
      int32_t id = slots[i];
      if (id < 0) return -1;
      if (slot_hash[i] == (uint32_t)h && (size_t)id < tokens.size() && tokens[(size_t)id] == s)
        return id;
    }
  }
};

// Control, UserDefined and Unknown tokens: the ones HF lists as added tokens, matched in raw text
// before pre-tokenization and decoded as their stored text (not through the byte alphabet).
inline bool is_added_type(TokenType ty) {
  return ty == TokenType::Control || ty == TokenType::UserDefined || ty == TokenType::Unknown;
}

// A token cut out of raw text before pre-tokenization. Its text is TokenizerIndex::piece(id): added
// tokens (Control / UserDefined / Unknown) decode to their text as stored, so no copy is kept
// (vocabularies with 100k+ reserved specials exist).
struct SpecialEntry {
  int32_t id;
  bool control;  // only matched when parse_special
  bool lstrip, rstrip;
};

struct TokenizerIndex {
  std::vector<Pcre2Code> regexes;
  BytesTable bytes_to_id;        // byte string -> id, for tokens written in the byte alphabet
  TextTable text_to_id;          // token text as stored -> id (keys are Tokenizer::tokens)
  int32_t byte_id[256];          // single-byte tokens (-1 when missing)
  MergeTable merges;
  // id -> bytes (decode): piece(id) = piece_blob[piece_off[id], piece_off[id + 1]). One buffer
  // rather than a std::string per token (32 bytes each plus a heap block for long ones).
  std::string piece_blob;
  std::vector<uint32_t> piece_off;
  std::string_view piece(int32_t id) const {
    return std::string_view(piece_blob).substr(piece_off[id], piece_off[id + 1] - piece_off[id]);
  }
  // Added tokens grouped by first byte, longest first.
  std::vector<SpecialEntry> specials;
  std::vector<std::vector<uint32_t>> by_first_byte;  // 256 lists of indexes into specials
  size_t skipped_merges = 0;  // merges whose parts or result are not tokens (ignored)
};

// Runs the regexes in sequence (each splits the pieces of the previous one) and calls f(Span) for
// every final non-empty piece, streaming: no list of pieces is built.
template <class F>
void for_each_pretoken(const std::vector<Pcre2Code>& regexes, size_t level, pcre2_match_data* md,
                       std::string_view text, Span piece, F& f) {
  if (piece.size == 0) return;
  if (level == regexes.size()) {
    f(piece);
    return;
  }
  for_each_split(regexes[level].get(), md, text, piece, [&](Span s) {
    for_each_pretoken(regexes, level + 1, md, text, s, f);
  });
}

// BPE of one pre-token's bytes; appends ids (bytes without a token are dropped, as llama.cpp does).
// `force_heap` selects the priority-queue path regardless of length (tests compare both paths).
void bpe_merge(const TokenizerIndex& ix, std::string_view bytes, std::vector<int32_t>& out,
               bool force_heap = false);

// The 256-entry byte -> code point table of the byte-level alphabet.
const uint32_t* byte_to_codepoint_table();
// Code point -> byte, or -1 when the code point is outside the alphabet.
int codepoint_to_byte(uint32_t cp);

// HF spellings of regexes cartlm keeps in an adapted form are mapped to that form; others as is.
std::string canonical_regex(const std::string& r);

// Canonical regex strings (also used by the trainer).
extern const char* const kRegexGpt2;
extern const char* const kRegexLlama3;

}  // namespace cartlm
