#include "decode/intent_grammar.h"

#include <algorithm>

#include "core/strings.h"
#include "formats/intent_meta.h"

namespace cartlm {
namespace {

// Follows or adds the edge `byte` from `state`; `target` >= 0 forces the edge's target.
int32_t head_edge(IntentGrammar& g, int32_t state, uint8_t byte, int32_t target) {
  auto& edges = g.head[(size_t)state];
  auto it = std::lower_bound(edges.begin(), edges.end(), byte,
                             [](const std::pair<uint8_t, int32_t>& e, uint8_t b) { return e.first < b; });
  if (it != edges.end() && it->first == byte) return it->second;
  if (target < 0) {
    target = (int32_t)g.head.size();
    g.head.emplace_back();
  }
  // `edges` may have been invalidated by emplace_back: look the list up again.
  auto& e2 = g.head[(size_t)state];
  auto pos = std::lower_bound(e2.begin(), e2.end(), byte,
                              [](const std::pair<uint8_t, int32_t>& e, uint8_t b) { return e.first < b; });
  e2.insert(pos, {byte, target});
  return target;
}

}  // namespace

Result<IntentGrammar> intent_grammar(const std::vector<std::string>& products, int max_quantity) {
  if (products.empty()) return error("intent grammar: the catalog has no products");
  if (max_quantity < 1 || max_quantity > 1000000000)
    return error(strformat("intent grammar: max quantity %d is outside 1..1000000000", max_quantity));
  IntentMeta check;
  check.products = products;
  CARTLM_RETURN_IF_ERROR(validate_intent_meta(check).with_context("intent grammar"));

  IntentGrammar g;
  g.actions = {"add", "remove"};
  g.products = products;
  g.max_quantity = max_quantity;
  g.head.emplace_back();  // state 0, the start
  // The head strings all end with the same suffix, so the number start (created below with a
  // provisional id) is the target of each string's last byte. Build with a placeholder and patch.
  const int32_t kNumPlaceholder = -2;
  for (const std::string& a : g.actions) {
    for (const std::string& p : products) {
      std::string s = "{\"action\": \"" + a + "\", \"product\": \"" + p + "\", \"quantity\": ";
      int32_t st = 0;
      for (size_t i = 0; i + 1 < s.size(); ++i) st = head_edge(g, st, (uint8_t)s[i], -1);
      auto& edges = g.head[(size_t)st];
      uint8_t last = (uint8_t)s.back();
      bool found = false;
      for (auto& e : edges) found |= e.first == last;
      if (!found) {
        edges.push_back({last, kNumPlaceholder});
        std::sort(edges.begin(), edges.end());
      }
    }
  }
  g.num_base = (int32_t)g.head.size();
  g.accept = g.num_base + max_quantity + 1;
  for (auto& edges : g.head)
    for (auto& e : edges)
      if (e.second == kNumPlaceholder) e.second = g.num_base;
  return g;
}

int32_t grammar_next(const IntentGrammar& g, int32_t state, uint8_t byte) {
  if (state < 0) return -1;
  if (state < g.num_base) {
    for (const auto& e : g.head[(size_t)state])
      if (e.first == byte) return e.second;
    return -1;
  }
  if (state >= g.accept) return -1;
  int64_t v = state - g.num_base;
  if (byte == '}') return v > 0 ? g.accept : -1;
  if (byte < '0' || byte > '9') return -1;
  int64_t d = byte - '0';
  if (v == 0 && d == 0) return -1;  // no leading zeros (and no quantity 0)
  int64_t nv = v * 10 + d;
  if (nv > g.max_quantity) return -1;
  return g.num_base + (int32_t)nv;
}

int32_t grammar_walk(const IntentGrammar& g, int32_t state, std::string_view bytes) {
  for (char c : bytes) {
    state = grammar_next(g, state, (uint8_t)c);
    if (state < 0) return -1;
  }
  return state;
}

std::vector<uint8_t> grammar_next_bytes(const IntentGrammar& g, int32_t state) {
  std::vector<uint8_t> out;
  if (state < 0 || state >= g.accept) return out;
  if (state < g.num_base) {
    for (const auto& e : g.head[(size_t)state]) out.push_back(e.first);
    return out;
  }
  for (int b = '0'; b <= '9'; ++b)
    if (grammar_next(g, state, (uint8_t)b) >= 0) out.push_back((uint8_t)b);
  if (grammar_next(g, state, '}') >= 0) out.push_back('}');
  return out;
}

std::string grammar_forced(const IntentGrammar& g, int32_t state) {
  std::string out;
  while (state >= 0 && state != g.accept) {
    std::vector<uint8_t> next = grammar_next_bytes(g, state);
    if (next.size() != 1) break;
    out.push_back((char)next[0]);
    state = grammar_next(g, state, next[0]);
  }
  return out;
}

std::string grammar_some_completion(const IntentGrammar& g, int32_t state) {
  std::string out;
  while (state >= 0 && state != g.accept) {
    std::vector<uint8_t> next = grammar_next_bytes(g, state);
    if (next.empty()) break;
    // In a number, close as soon as possible so the walk ends.
    uint8_t b = next.back() == '}' ? (uint8_t)'}' : next[0];
    out.push_back((char)b);
    state = grammar_next(g, state, b);
  }
  return out;
}

std::vector<uint8_t> grammar_choice_tokens(const IntentGrammar& g, const Tokenizer& tok,
                                           std::span<const int32_t> ids) {
  std::vector<uint8_t> out(ids.size(), 0);
  int32_t state = grammar_start(g);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (tok.is_special(ids[i])) return {};
    const std::string_view piece = token_to_piece(tok, ids[i]);
    if (piece.empty()) return {};
    for (char c : piece) {
      if (state < 0 || state == g.accept) return {};
      if (grammar_next_bytes(g, state).size() > 1) out[i] = 1;
      state = grammar_next(g, state, (uint8_t)c);
    }
    if (state < 0) return {};
  }
  return out;
}

VocabTrie vocab_trie(const Tokenizer& t) {
  VocabTrie v;
  v.vocab_size = t.size();
  v.token_next.assign((size_t)t.size(), -1);
  v.nodes.emplace_back();
  for (int32_t id = 0; id < t.size(); ++id) {
    if (t.is_special(id)) continue;
    std::string_view piece = token_to_piece(t, id);
    if (piece.empty()) continue;
    int32_t node = 0;
    for (char c : piece) {
      uint8_t b = (uint8_t)c;
      int32_t child = v.nodes[(size_t)node].first_child;
      while (child >= 0 && v.nodes[(size_t)child].byte != b) child = v.nodes[(size_t)child].next_sibling;
      if (child < 0) {
        child = (int32_t)v.nodes.size();
        VocabTrie::Node n;
        n.byte = b;
        n.next_sibling = v.nodes[(size_t)node].first_child;
        v.nodes.push_back(n);
        v.nodes[(size_t)node].first_child = child;
      }
      node = child;
    }
    v.token_next[(size_t)id] = v.nodes[(size_t)node].first_token;
    v.nodes[(size_t)node].first_token = id;
  }
  return v;
}

namespace {

void walk(const IntentGrammar& g, const VocabTrie& v, int32_t node, int32_t state,
          std::vector<int32_t>* out) {
  for (int32_t c = v.nodes[(size_t)node].first_child; c >= 0; c = v.nodes[(size_t)c].next_sibling) {
    const VocabTrie::Node& n = v.nodes[(size_t)c];
    int32_t next = grammar_next(g, state, n.byte);
    if (next < 0) continue;
    for (int32_t id = n.first_token; id >= 0; id = v.token_next[(size_t)id]) out->push_back(id);
    walk(g, v, c, next, out);
  }
}

}  // namespace

void allowed_tokens(const IntentGrammar& g, const VocabTrie& v, int32_t state,
                    std::vector<int32_t>* out) {
  out->clear();
  if (state < 0 || v.nodes.empty()) return;
  walk(g, v, 0, state, out);
  std::sort(out->begin(), out->end());
}

const std::vector<int32_t>& cached_allowed_tokens(const IntentGrammar& g, const VocabTrie& v,
                                                  MaskCache& cache, int32_t state) {
  auto it = cache.by_state.find(state);
  if (it != cache.by_state.end()) {
    ++cache.hits;
    return it->second;
  }
  ++cache.misses;
  std::vector<int32_t> ids;
  allowed_tokens(g, v, state, &ids);
  return cache.by_state.emplace(state, std::move(ids)).first->second;
}

}  // namespace cartlm
