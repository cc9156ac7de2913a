// Byte-level BPE training. The corpus is split by the pre-tokenizer into words, identical words are
// counted once with their frequency, and merges are learned greedily: the most frequent adjacent
// pair becomes a new token, until the vocabulary is full. Pair counts are kept up to date
// incrementally (only words that contain the merged pair are re-scanned), and a lazy max-heap
// finds the next pair, so a few MB of text train in seconds on one core.
#include <algorithm>
#include <deque>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "tokenizer/tokenizer_internal.h"

namespace cartlm {

namespace {

uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }
int32_t key_left(uint64_t k) { return (int32_t)(k >> 32); }
int32_t key_right(uint64_t k) { return (int32_t)(k & 0xffffffffu); }

struct Word {
  std::vector<int32_t> sym;
  int64_t count = 0;
};

struct HeapEntry {
  int64_t count;
  uint64_t key;
  // Max-heap on count; equal counts go to the smaller (left id, right id).
  bool operator<(const HeapEntry& o) const { return count != o.count ? count < o.count : key > o.key; }
};

}  // namespace

Result<Tokenizer> train_bpe(std::span<const std::string> texts, const BpeTrainOptions& opt) {
  const std::string src = "train_bpe";
  CARTLM_ASSIGN_OR_RETURN(std::vector<std::string> regexes, pre_tokenizer_regexes(opt.pre));
  const int32_t n_special = (int32_t)opt.special_tokens.size();
  const int32_t n_user = (int32_t)opt.user_tokens.size();
  if (opt.vocab_size < 256 + n_special + n_user)
    return error(src + ": vocab size " + std::to_string(opt.vocab_size) + " cannot hold the 256 byte "
                 "tokens, " + std::to_string(n_special) + " special tokens and " +
                 std::to_string(n_user) + " user tokens");
  for (const std::string* name : {&opt.bos_token, &opt.eos_token, &opt.pad_token})
    if (!name->empty() && std::find(opt.special_tokens.begin(), opt.special_tokens.end(), *name) ==
                              opt.special_tokens.end())
      return error(src + ": \"" + *name + "\" is not among the special tokens");
  {
    std::unordered_set<std::string> seen;
    for (const std::string& s : opt.special_tokens)
      if (s.empty() || !seen.insert(s).second)
        return error(src + ": special tokens must be non-empty and distinct (\"" + s + "\")");
    for (const std::string& s : opt.user_tokens)
      if (s.empty() || !seen.insert(s).second)
        return error(src + ": user tokens must be non-empty and distinct from each other and from "
                     "the special tokens (\"" + s + "\")");
  }

  // Byte tokens, ordered by their alphabet character (as HF's trainer and GPT-2's vocab).
  std::vector<std::string> token_text;
  int32_t byte_token[256];
  {
    const uint32_t* cp = byte_to_codepoint_table();
    std::vector<int> order(256);
    for (int b = 0; b < 256; ++b) order[b] = b;
    std::sort(order.begin(), order.end(), [&](int x, int y) { return cp[x] < cp[y]; });
    for (int b : order) {
      byte_token[b] = (int32_t)token_text.size();
      token_text.push_back(bytes_to_unicode(std::string(1, (char)b)));
    }
  }

  // Words and their frequencies, in order of first appearance (keeps training deterministic).
  std::vector<Word> words;
  {
    std::vector<Pcre2Code> res;
    for (const std::string& r : regexes) {
      auto re = compile_regex(r);
      if (!re.ok()) return re.status().with_context(src);
      res.push_back(std::move(re.value()));
    }
    Pcre2MatchData md(pcre2_match_data_create(32, nullptr));
    std::unordered_map<std::string_view, uint32_t> index;
    std::deque<std::string> storage;  // owns the word bytes the index points into
    for (const std::string& text : texts) {
      auto count_word = [&](Span p) {
        std::string_view w(text.data() + p.begin, p.size);
        auto it = index.find(w);
        if (it != index.end()) {
          words[it->second].count++;
          return;
        }
        storage.emplace_back(w);
        index.emplace(storage.back(), (uint32_t)words.size());
        Word word;
        word.count = 1;
        for (unsigned char c : storage.back()) word.sym.push_back(byte_token[c]);
        words.push_back(std::move(word));
      };
      // User tokens are cut out first (leftmost, longest), as encode() does; the gaps are words.
      size_t pos = 0;
      while (pos < text.size()) {
        size_t at = text.size(), len = 0;
        for (const std::string& u : opt.user_tokens) {
          size_t f = text.find(u, pos);
          if (f < at || (f == at && f != std::string::npos && u.size() > len)) at = f, len = u.size();
        }
        if (at > pos) for_each_pretoken(res, 0, md.get(), text, Span{pos, at - pos}, count_word);
        pos = at + len;
      }
    }
  }

  // Initial pair statistics.
  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<uint32_t>> pair_words;
  for (uint32_t w = 0; w < words.size(); ++w) {
    const auto& s = words[w].sym;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      uint64_t k = pair_key(s[i], s[i + 1]);
      pair_count[k] += words[w].count;
      auto& list = pair_words[k];
      if (list.empty() || list.back() != w) list.push_back(w);
    }
  }
  std::priority_queue<HeapEntry> heap;
  {
    std::vector<HeapEntry> initial;
    initial.reserve(pair_count.size());
    for (const auto& [k, c] : pair_count) initial.push_back({c, k});
    heap = std::priority_queue<HeapEntry>(std::less<HeapEntry>(), std::move(initial));
  }

  std::unordered_map<std::string, int32_t> text_to_id;
  for (int32_t i = 0; i < (int32_t)token_text.size(); ++i) text_to_id[token_text[i]] = i;
  std::vector<std::pair<std::string, std::string>> merges;
  const int32_t target = opt.vocab_size - n_special - n_user;
  std::unordered_set<uint64_t> touched;
  std::vector<int32_t> fresh;
  while ((int32_t)token_text.size() < target && !heap.empty()) {
    HeapEntry top = heap.top();
    heap.pop();
    auto pc = pair_count.find(top.key);
    if (pc == pair_count.end() || pc->second != top.count) continue;  // stale entry
    if (top.count < opt.min_frequency) break;
    int32_t a = key_left(top.key), b = key_right(top.key);
    std::string merged = token_text[a] + token_text[b];
    merges.emplace_back(token_text[a], token_text[b]);
    int32_t c;
    if (auto it = text_to_id.find(merged); it != text_to_id.end()) {
      c = it->second;  // the same text reached by another merge: the merge counts, no new token
    } else {
      c = (int32_t)token_text.size();
      token_text.push_back(merged);
      text_to_id.emplace(merged, c);
    }
    std::vector<uint32_t> affected = std::move(pair_words[top.key]);
    pair_words.erase(top.key);
    touched.clear();
    for (uint32_t w : affected) {
      Word& word = words[w];
      auto& s = word.sym;
      bool has = false;
      for (size_t i = 0; i + 1 < s.size() && !has; ++i) has = s[i] == a && s[i + 1] == b;
      if (!has) continue;  // stale entry in the list
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        uint64_t k = pair_key(s[i], s[i + 1]);
        pair_count[k] -= word.count;
        touched.insert(k);
      }
      fresh.clear();
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          fresh.push_back(c);
          ++i;
        } else {
          fresh.push_back(s[i]);
        }
      }
      s.swap(fresh);
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        uint64_t k = pair_key(s[i], s[i + 1]);
        pair_count[k] += word.count;
        touched.insert(k);
        if (s[i] == c || s[i + 1] == c) {  // only pairs with the new token are new to this word
          auto& list = pair_words[k];
          if (list.empty() || list.back() != w) list.push_back(w);
        }
      }
    }
    // Touched pairs get a fresh heap entry. (count, key) is a total order, so the pop order does
    // not depend on the order entries are pushed in.
    for (uint64_t k : touched) {
      auto it = pair_count.find(k);
      if (it == pair_count.end()) continue;
      if (it->second <= 0) {
        pair_count.erase(it);
        continue;
      }
      heap.push({it->second, k});
    }
    pair_count.erase(top.key);
  }

  for (const std::string& u : opt.user_tokens)
    if (text_to_id.count(u))
      return error(src + ": user token \"" + u + "\" is also a token of the learned vocabulary");
  token_text.insert(token_text.end(), opt.user_tokens.begin(), opt.user_tokens.end());
  const int32_t n_learned = (int32_t)token_text.size() - n_user;

  Tokenizer t;
  t.merges = std::move(merges);  // merges name tokens by text, so ids can still move
  if (opt.specials_first) {
    t.tokens = opt.special_tokens;
    t.types.assign(t.tokens.size(), TokenType::Control);
    t.tokens.insert(t.tokens.end(), token_text.begin(), token_text.end());
    t.types.resize(t.tokens.size(), TokenType::Normal);
  } else {
    t.tokens = std::move(token_text);
    t.types.assign(t.tokens.size(), TokenType::Normal);
    t.tokens.insert(t.tokens.end(), opt.special_tokens.begin(), opt.special_tokens.end());
    t.types.resize(t.tokens.size(), TokenType::Control);
  }
  const int32_t first_user = (opt.specials_first ? n_special : 0) + n_learned;
  for (int32_t id = first_user; id < first_user + n_user; ++id) t.types[id] = TokenType::UserDefined;
  for (int32_t id = 0; id < t.size(); ++id) {
    if (t.types[id] != TokenType::Control && t.types[id] != TokenType::UserDefined) continue;
    AddedToken a;
    a.id = id;
    a.content = t.tokens[id];
    a.special = t.types[id] == TokenType::Control;
    a.normalized = false;
    t.added.push_back(a);
  }
  t.pre = opt.pre;
  t.pre_regexes = regexes;
  // Llama-3-style pre-tokenizers imply ignore_merges in llama.cpp; match it so GGUF exports behave
  // the same as the tokenizer.json.
  t.ignore_merges = pre_tokenizer_is_llama3(opt.pre);
  t.add_bos = true;
  auto id_of = [&](const std::string& name) -> int32_t {
    for (const AddedToken& a : t.added)
      if (a.content == name) return a.id;
    return -1;
  };
  t.bos_id = opt.bos_token.empty() ? -1 : id_of(opt.bos_token);
  t.eos_id = opt.eos_token.empty() ? -1 : id_of(opt.eos_token);
  t.pad_id = opt.pad_token.empty() ? -1 : id_of(opt.pad_token);
  CARTLM_RETURN_IF_ERROR(finalize_tokenizer(t, src));
  return t;
}

}  // namespace cartlm
