// Byte-level BPE: lookup tables (finalize_tokenizer), the merge loop, encode and decode.
//
// BPE works on token ids rather than strings: every token written in the byte alphabet is keyed by
// the bytes it stands for, and each merge "a b" becomes (id(a), id(b)) -> (rank, id(ab)) in a flat
// hash table. A piece starts as one id per byte; the adjacent pair with the lowest rank (leftmost on
// ties) is merged until no pair has a rank. This is exactly the string-based algorithm of HF and
// llama.cpp, without building strings.
#include <algorithm>
#include <climits>
#include <queue>

#include "core/rng.h"
#include "tokenizer/tokenizer_internal.h"

namespace cartlm {

// ---- MergeTable --------------------------------------------------------------------------------

void MergeTable::build(size_t n) {
  // Load factor at most 2/3 (a real Llama 3 vocabulary: 280k merges -> 512k slots, 8 MB).
  size_t cap = 16;
  while (cap < n + n / 2) cap <<= 1;
  slots.assign(cap, Slot{});
  mask = cap - 1;
  shift = 64 - __builtin_ctzll(cap);
}

void MergeTable::insert(int32_t a, int32_t b, int32_t rank, int32_t id) {
  uint64_t k = key_of(a, b);
  uint64_t h = (k * 0x9E3779B97F4A7C15ull) >> shift;
  for (;;) {
    Slot& s = slots[h];
    if (s.key == ~0ull) {
      s = {k, rank, id};
      return;
    }
    if (s.key == k) return;  // a repeated merge keeps its first (lowest) rank
    h = (h + 1) & mask;
  }
}

// ---- BytesTable --------------------------------------------------------------------------------

void BytesTable::build(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  slots.assign(cap, 0);
  slot_hash.assign(cap, 0);
  mask = cap - 1;
  blob.clear();
  key_off.assign(1, 0);
  key_id.clear();
  key_off.reserve(n + 1);  // exact for one key per token (no growth slack)
  key_id.reserve(n);
}

void BytesTable::insert(std::string_view s, int32_t id) {
  CARTLM_CHECK(key_id.size() * 2 < slots.size());
  uint64_t h = hash_bytes(s);
  for (uint64_t i = h & mask;; i = (i + 1) & mask) {
    uint32_t k = slots[i];
    if (k == 0) {
      blob.append(s);
      key_off.push_back((uint32_t)blob.size());
      key_id.push_back(id);
      slots[i] = (uint32_t)key_id.size();
      slot_hash[i] = (uint32_t)h;
      return;
    }
    if (slot_hash[i] == (uint32_t)h && key(k - 1) == s) {
      key_id[k - 1] = id;
      return;
    }
  }
}

// ---- TextTable ---------------------------------------------------------------------------------

void TextTable::build(const std::vector<std::string>& tokens) {
  size_t cap = 16;
  while (cap < tokens.size() * 2) cap <<= 1;
  slots.assign(cap, -1);
  slot_hash.assign(cap, 0);
  mask = cap - 1;
  for (size_t id = 0; id < tokens.size(); ++id) {
    const std::string& s = tokens[id];
    uint64_t h = hash_bytes(s);
    for (uint64_t i = h & mask;; i = (i + 1) & mask) {
      int32_t k = slots[i];
      if (k < 0 || (slot_hash[i] == (uint32_t)h && tokens[(size_t)k] == s)) {
        slots[i] = (int32_t)id;  // a duplicate text takes the later id (as llama.cpp)
        slot_hash[i] = (uint32_t)h;
        break;
      }
    }
  }
}

// ---- Tokenizer members -------------------------------------------------------------------------

std::optional<int32_t> Tokenizer::find(std::string_view token_text) const {
  CARTLM_CHECK(index != nullptr);
  int32_t id = index->text_to_id.find(tokens, token_text);
  if (id < 0) return std::nullopt;
  return id;
}

bool Tokenizer::is_special(int32_t id) const {
  if (id < 0 || id >= size()) return false;
  return types[id] == TokenType::Control || types[id] == TokenType::Unknown;
}

bool Tokenizer::is_eog(int32_t id) const {
  return std::find(eog_ids.begin(), eog_ids.end(), id) != eog_ids.end();
}

// ---- finalize ----------------------------------------------------------------------------------

Status finalize_tokenizer(Tokenizer& t, const std::string& source) {
  const int32_t n = t.size();
  if (n == 0) return error(source + ": tokenizer has no tokens");
  if (t.types.size() != t.tokens.size())
    return error(source + ": " + std::to_string(t.types.size()) + " token types for " +
                 std::to_string(n) + " tokens");
  for (int32_t* id : {&t.bos_id, &t.eos_id, &t.eot_id, &t.eom_id, &t.pad_id, &t.unk_id})
    if (*id < -1 || *id >= n)
      return error(source + ": special token id " + std::to_string(*id) + " is out of range (" +
                   std::to_string(n) + " tokens)");
  auto ix = std::make_shared<TokenizerIndex>();

  for (const std::string& r : t.pre_regexes) {
    auto re = compile_regex(r);
    if (!re.ok()) return re.status().with_context(source);
    ix->regexes.push_back(std::move(re.value()));
  }

  // Both blobs below hold at most the bytes of the token texts (decoding the byte alphabet only
  // shrinks text), so this bounds their uint32 offsets.
  size_t text_bytes = 0;
  for (const std::string& text : t.tokens) text_bytes += text.size();
  if (text_bytes > UINT32_MAX)
    return error(source + ": token texts take " + std::to_string(text_bytes) +
                 " bytes (at most 4 GiB supported)");

  ix->text_to_id.build(t.tokens);  // duplicates: the last id wins (as llama.cpp)
  ix->bytes_to_id.build((size_t)n);
  ix->bytes_to_id.blob.reserve(text_bytes);
  ix->piece_blob.reserve(text_bytes);
  ix->piece_off.reserve((size_t)n + 1);
  ix->piece_off.push_back(0);
  for (int32_t id = 0; id < n; ++id) {
    const std::string& text = t.tokens[id];
    TokenType ty = t.types[id];
    auto bytes = unicode_to_bytes(text);
    if (bytes && !bytes->empty()) ix->bytes_to_id.insert(*bytes, id);
    ix->piece_blob += (is_added_type(ty) || !bytes) ? text : *bytes;
    ix->piece_off.push_back((uint32_t)ix->piece_blob.size());
  }
  ix->bytes_to_id.blob.shrink_to_fit();  // reserved for the worst case above
  ix->piece_blob.shrink_to_fit();
  for (int b = 0; b < 256; ++b) {
    char c = (char)b;
    ix->byte_id[b] = ix->bytes_to_id.find(std::string_view(&c, 1));
  }

  ix->merges.build(t.merges.size());
  std::string ab;  // reused: a + b for every merge
  for (size_t r = 0; r < t.merges.size(); ++r) {
    const auto& [a, b] = t.merges[r];
    ab.assign(a).append(b);
    int32_t ia = ix->text_to_id.find(t.tokens, a), ib = ix->text_to_id.find(t.tokens, b),
            im = ix->text_to_id.find(t.tokens, ab);
    if (ia < 0 || ib < 0 || im < 0) {
      ++ix->skipped_merges;
      continue;
    }
    ix->merges.insert(ia, ib, (int32_t)r, im);
  }

  // Added tokens to cut out of raw text, grouped by first byte, longest first.
  std::vector<uint8_t> lstrip(n, 0), rstrip(n, 0);
  for (const AddedToken& a : t.added) {
    if (a.id < 0 || a.id >= n) return error(source + ": added token id " + std::to_string(a.id) + " out of range");
    lstrip[a.id] = a.lstrip;
    rstrip[a.id] = a.rstrip;
  }
  for (int32_t id = 0; id < n; ++id) {
    TokenType ty = t.types[id];
    if (!is_added_type(ty)) continue;
    if (t.tokens[id].empty()) continue;
    ix->specials.push_back({id, ty != TokenType::UserDefined, lstrip[id] != 0, rstrip[id] != 0});
  }
  ix->specials.shrink_to_fit();  // growth slack; 100k+ entries in some vocabularies
  ix->by_first_byte.assign(256, {});
  for (uint32_t i = 0; i < ix->specials.size(); ++i)
    ix->by_first_byte[(unsigned char)ix->piece(ix->specials[i].id)[0]].push_back(i);
  for (auto& list : ix->by_first_byte)
    std::stable_sort(list.begin(), list.end(), [&](uint32_t x, uint32_t y) {
      return ix->piece(ix->specials[x].id).size() > ix->piece(ix->specials[y].id).size();
    });

  // End-of-turn / end-of-message tokens by name when the files do not say (llama.cpp does this
  // too), so chat models stop at <|eot_id|> whatever their eos_token_id says.
  auto control_named = [&](std::initializer_list<const char*> names) {
    for (const char* name : names) {
      int32_t id = ix->text_to_id.find(t.tokens, name);
      if (id >= 0 && t.types[id] == TokenType::Control) return id;
    }
    return -1;
  };
  if (t.eot_id < 0) t.eot_id = control_named({"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<EOT>"});
  if (t.eom_id < 0) t.eom_id = control_named({"<|eom_id|>"});

  // End-of-generation ids: the declared ones plus well-known end-of-turn names.
  t.eog_ids.clear();
  auto add_eog = [&](int32_t id) {
    if (id >= 0 && !t.is_eog(id)) t.eog_ids.push_back(id);
  };
  add_eog(t.eos_id);
  add_eog(t.eot_id);
  add_eog(t.eom_id);
  for (const char* name : {"<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                           "<|endoftext|>", "<EOT>", "<|end_of_text|>"}) {
    int32_t id = ix->text_to_id.find(t.tokens, name);
    if (id >= 0 && t.types[id] == TokenType::Control) add_eog(id);
  }
  t.index = std::move(ix);
  return {};
}

// ---- BPE merge -------------------------------------------------------------------------------

namespace {

constexpr size_t kSmallPiece = 128;  // longer pieces use the priority queue (O(n log n))

void bpe_small(const TokenizerIndex& ix, std::string_view bytes, std::vector<int32_t>& out) {
  int32_t ids[kSmallPiece];
  int32_t ranks[kSmallPiece];  // ranks[i]: pair (i, i+1)
  int32_t merged[kSmallPiece];
  size_t m = bytes.size();
  for (size_t i = 0; i < m; ++i) ids[i] = ix.byte_id[(unsigned char)bytes[i]];
  auto pair = [&](size_t i) {
    const MergeTable::Slot* s = (ids[i] < 0 || ids[i + 1] < 0) ? nullptr : ix.merges.find(ids[i], ids[i + 1]);
    ranks[i] = s ? s->rank : INT_MAX;
    merged[i] = s ? s->id : -1;
  };
  for (size_t i = 0; i + 1 < m; ++i) pair(i);
  while (m > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < m; ++i)
      if (ranks[i] < ranks[best]) best = i;
    if (ranks[best] == INT_MAX) break;
    ids[best] = merged[best];
    // Drop symbol best+1 and pair best (now recomputed), shifting the tails left.
    for (size_t i = best + 1; i + 1 < m; ++i) ids[i] = ids[i + 1];
    for (size_t i = best; i + 2 < m; ++i) {
      ranks[i] = ranks[i + 1];
      merged[i] = merged[i + 1];
    }
    --m;
    if (best > 0) pair(best - 1);
    if (best + 1 < m) pair(best);
  }
  for (size_t i = 0; i < m; ++i)
    if (ids[i] >= 0) out.push_back(ids[i]);
}

// BPE-dropout (Provilkov et al., 2020): at every merge step each applicable merge is skipped with
// probability p; the lowest-ranked one that survives is applied, and the piece is done when none
// survives. Pieces longer than kSmallPiece are cut at kSmallPiece bytes first (training text only,
// where such pieces are rare and their exact split does not matter).
void bpe_small_dropout(const TokenizerIndex& ix, std::string_view bytes, std::vector<int32_t>& out,
                       double p, Rng& rng) {
  int32_t ids[kSmallPiece];
  size_t m = bytes.size();
  for (size_t i = 0; i < m; ++i) ids[i] = ix.byte_id[(unsigned char)bytes[i]];
  while (m > 1) {
    size_t best = m;
    int32_t best_rank = INT_MAX, best_id = -1;
    for (size_t i = 0; i + 1 < m; ++i) {
      if (ids[i] < 0 || ids[i + 1] < 0) continue;
      const MergeTable::Slot* s = ix.merges.find(ids[i], ids[i + 1]);
      if (!s || s->rank >= best_rank || rng.bernoulli(p)) continue;
      best = i;
      best_rank = s->rank;
      best_id = s->id;
    }
    if (best == m) break;
    ids[best] = best_id;
    for (size_t i = best + 1; i + 1 < m; ++i) ids[i] = ids[i + 1];
    --m;
  }
  for (size_t i = 0; i < m; ++i)
    if (ids[i] >= 0) out.push_back(ids[i]);
}

void bpe_heap(const TokenizerIndex& ix, std::string_view bytes, std::vector<int32_t>& out) {
  const size_t m = bytes.size();
  std::vector<int32_t> ids(m);
  std::vector<int32_t> prev(m), next(m);  // doubly linked list over positions; -1 = none
  for (size_t i = 0; i < m; ++i) {
    ids[i] = ix.byte_id[(unsigned char)bytes[i]];
    prev[i] = (int32_t)i - 1;
    next[i] = i + 1 < m ? (int32_t)i + 1 : -1;
  }
  struct Cand {
    int32_t rank, left, right, left_id, right_id;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> q;
  auto push = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0 || ids[l] < 0 || ids[r] < 0) return;
    const MergeTable::Slot* s = ix.merges.find(ids[l], ids[r]);
    if (s) q.push({s->rank, l, r, ids[l], ids[r]});
  };
  for (size_t i = 0; i + 1 < m; ++i) push((int32_t)i, (int32_t)i + 1);
  while (!q.empty()) {
    Cand c = q.top();
    q.pop();
    // Stale if either side changed since the candidate was pushed.
    if (ids[c.left] != c.left_id || ids[c.right] != c.right_id || next[c.left] != c.right) continue;
    const MergeTable::Slot* s = ix.merges.find(c.left_id, c.right_id);
    ids[c.left] = s->id;
    ids[c.right] = -2;  // dead
    next[c.left] = next[c.right];
    if (next[c.right] >= 0) prev[next[c.right]] = c.left;
    push(prev[c.left], c.left);
    push(c.left, next[c.left]);
  }
  for (int32_t i = 0; i >= 0; i = next[i])
    if (ids[i] >= 0) out.push_back(ids[i]);
}

}  // namespace

void bpe_merge(const TokenizerIndex& ix, std::string_view bytes, std::vector<int32_t>& out,
               bool force_heap) {
  if (bytes.empty()) return;
  if (bytes.size() == 1) {
    int32_t id = ix.byte_id[(unsigned char)bytes[0]];
    if (id >= 0) out.push_back(id);
    return;
  }
  if (bytes.size() <= kSmallPiece && !force_heap)
    bpe_small(ix, bytes, out);
  else
    bpe_heap(ix, bytes, out);
}

// ---- encode / decode -------------------------------------------------------------------------

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// An ASCII digit run, with or without the space in front that some pre-tokenizers keep.
bool is_number_piece(std::string_view piece) {
  size_t i = !piece.empty() && piece[0] == ' ' ? 1 : 0;
  if (i == piece.size()) return false;
  for (; i < piece.size(); ++i)
    if (piece[i] < '0' || piece[i] > '9') return false;
  return true;
}

// Pre-tokenizes and merges one stretch of plain text (with BPE-dropout when `dropout` is set).
void encode_plain(const Tokenizer& t, std::string_view text, pcre2_match_data* md,
                  const BpeDropout* dropout, std::vector<int32_t>& out) {
  if (text.empty()) return;
  std::string prefixed;
  if (t.add_prefix_space && text[0] != ' ') {
    prefixed.reserve(text.size() + 1);
    prefixed.push_back(' ');
    prefixed.append(text);
    text = prefixed;
  }
  const TokenizerIndex& ix = *t.index;
  auto on_piece = [&](Span p) {
    std::string_view piece = text.substr(p.begin, p.size);
    // Numbers keep their tokens: the tiny model copies a quantity as one digit-group token, and
    // splitting "12" into "1" "2" during training brought wrong quantities back (docs/results.md,
    // session 15).
    if (dropout && dropout->p > 0 && !is_number_piece(piece)) {
      for (size_t b = 0; b < piece.size(); b += kSmallPiece)
        bpe_small_dropout(ix, piece.substr(b, kSmallPiece), out, dropout->p, *dropout->rng);
      return;
    }
    if (t.ignore_merges && piece.size() > 1) {
      int32_t id = ix.bytes_to_id.find(piece);
      if (id >= 0) {
        out.push_back(id);
        return;
      }
    }
    bpe_merge(ix, piece, out);
  };
  for_each_pretoken(ix.regexes, 0, md, text, Span{0, text.size()}, on_piece);
}

}  // namespace

std::vector<int32_t> encode(const Tokenizer& t, std::string_view text, bool add_bos,
                            bool parse_special, const BpeDropout* dropout) {
  CARTLM_CHECK(t.index != nullptr);
  const TokenizerIndex& ix = *t.index;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && t.bos_id >= 0) out.push_back(t.bos_id);
  Pcre2MatchData md(pcre2_match_data_create(32, nullptr));

  // Leftmost-longest scan for added tokens; plain text between them is encoded normally.
  size_t start = 0;  // start of the pending plain text
  size_t i = 0;
  bool any_specials = !ix.specials.empty();
  while (any_specials && i < text.size()) {
    const auto& cands = ix.by_first_byte[(unsigned char)text[i]];
    const SpecialEntry* hit = nullptr;
    for (uint32_t k : cands) {
      const SpecialEntry& s = ix.specials[k];
      if (s.control && !parse_special) continue;
      std::string_view st = ix.piece(s.id);
      if (text.size() - i >= st.size() && text.compare(i, st.size(), st) == 0) {
        hit = &s;
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    size_t end = i;
    if (hit->lstrip)
      while (end > start && is_space(text[end - 1])) --end;
    encode_plain(t, text.substr(start, end - start), md.get(), dropout, out);
    out.push_back(hit->id);
    i += ix.piece(hit->id).size();
    if (hit->rstrip)
      while (i < text.size() && is_space(text[i])) ++i;
    start = i;
  }
  encode_plain(t, text.substr(start), md.get(), dropout, out);
  return out;
}

std::string_view token_to_piece(const Tokenizer& t, int32_t id) {
  CARTLM_CHECK(t.index != nullptr);
  // Bounded by the index too: a hand-edited copy may have more tokens than were finalized.
  if (id < 0 || id >= t.size() || (size_t)id + 1 >= t.index->piece_off.size()) return {};
  return t.index->piece(id);
}

std::string decode(const Tokenizer& t, std::span<const int32_t> ids, bool render_special) {
  std::string out;
  for (int32_t id : ids) {
    if (!render_special && t.is_special(id)) continue;
    out += token_to_piece(t, id);
  }
  return out;
}

}  // namespace cartlm
