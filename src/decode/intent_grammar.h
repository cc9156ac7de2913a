// The intent grammar and the token masks of constrained decoding.
//
// The output language is exactly
//   {"action": "<add|remove>", "product": "<catalog name>", "quantity": <1..N>}
// in label_to_json_text's key order and spacing, quantity without leading zeros. It is a byte-level
// DFA with integer states:
//   0 .. head_states-1         a trie over every '{"action": "A", "product": "P", "quantity": '
//                              (the last byte of each string leads to the number start);
//   num_base + v, v in 0..N    inside the quantity with value v so far (v = 0: no digit yet);
//   accept = num_base + N + 1  after the closing brace; nothing may follow (then EOS).
//
// Token masks come from walking a byte trie over the model vocabulary together with the DFA: the
// allowed tokens of a state are those whose bytes the DFA accepts from it. Only the branches the
// grammar admits are visited, so a mask costs a few hundred node visits; a MaskCache per session
// keeps each state's list so a state seen before costs one hash lookup.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace cartlm {

struct IntentGrammar {
  std::vector<std::string> actions;   // "add", "remove"
  std::vector<std::string> products;  // catalog names
  int64_t max_quantity = 999;
  // Head trie edges, one list per state: (byte, target) sorted by byte.
  std::vector<std::vector<std::pair<uint8_t, int32_t>>> head;
  int32_t num_base = 0;  // == head.size()
  int32_t accept = 0;    // num_base + max_quantity + 1
};

// Errors: no products, a product that is not a plain JSON string body (empty, '"', '\\', control
// characters, invalid UTF-8), duplicates, max_quantity outside 1..1e9.
Result<IntentGrammar> intent_grammar(const std::vector<std::string>& products, int max_quantity);

inline int32_t grammar_start(const IntentGrammar&) { return 0; }
// The state after `byte`, or -1 when the byte is not allowed.
int32_t grammar_next(const IntentGrammar& g, int32_t state, uint8_t byte);
// The state after all of `bytes`, or -1.
int32_t grammar_walk(const IntentGrammar& g, int32_t state, std::string_view bytes);
inline bool grammar_accepting(const IntentGrammar& g, int32_t state) { return state == g.accept; }
// The bytes allowed after `state`, ascending.
std::vector<uint8_t> grammar_next_bytes(const IntentGrammar& g, int32_t state);
// The longest text the grammar forces from `state` (each state on the way admits exactly one byte);
// "" at a branch point or at accept.
std::string grammar_forced(const IntentGrammar& g, int32_t state);
// One completion from `state` to accept following the smallest allowed byte (for boundary checks).
std::string grammar_some_completion(const IntentGrammar& g, int32_t state);

// Which tokens of a completion carry a choice: per id, 1 when some byte of it is written from a
// state that admits more than one byte (the action, a product at a branch of the name trie, each
// quantity digit and the brace that ends the number), 0 when the grammar forces all of its bytes
// (JSON punctuation and keys, the rest of a product name once its prefix is unique). Constrained
// decoding never asks the model for the forced ones. Empty when the ids are not a valid prefix of
// the language (a label outside the catalog, a special token).
std::vector<uint8_t> grammar_choice_tokens(const IntentGrammar& g, const Tokenizer& tok,
                                           std::span<const int32_t> ids);

// Byte trie over the token pieces of a vocabulary. Control/Unknown tokens and tokens with an
// empty piece are left out: they can never be part of the output.
struct VocabTrie {
  struct Node {
    int32_t first_child = -1, next_sibling = -1;
    int32_t first_token = -1;  // tokens ending here, a chain through token_next
    uint8_t byte = 0;
  };
  std::vector<Node> nodes;            // nodes[0] is the root
  std::vector<int32_t> token_next;    // per token id: the next token ending at the same node, or -1
  int32_t vocab_size = 0;
};
VocabTrie vocab_trie(const Tokenizer& t);

// Token ids whose bytes keep the output a valid prefix from `state`, ascending.
void allowed_tokens(const IntentGrammar& g, const VocabTrie& v, int32_t state,
                    std::vector<int32_t>* out);

struct MaskCache {
  std::unordered_map<int32_t, std::vector<int32_t>> by_state;
  size_t hits = 0, misses = 0;
};
const std::vector<int32_t>& cached_allowed_tokens(const IntentGrammar& g, const VocabTrie& v,
                                                  MaskCache& cache, int32_t state);

}  // namespace cartlm
