// The intent recognizer: shopper text in, {"action", "product", "quantity"} out.
//
//   Recognizer         shared and read-only after creation: the model, the intent grammar over
//                      the model's catalog, the vocabulary trie the token masks are walked from,
//                      and the fixed prompt pieces (few-shot block, chat header). One per model.
//   RecognizerSession  one per thread: a LlamaSession whose KV cache keeps the tokens of the last
//                      request (so the shared prompt prefix is computed once and reused), plus the
//                      per-state token-mask cache and scratch. Not shared between threads.
//
// Decoding modes:
//   Constrained (default)  greedy over the tokens that keep the output a valid prefix of
//                          {"action": "<add|remove>", "product": "<catalog name>", "quantity": <1..N>}
//                          (exactly label_to_json_text's layout). Wherever the grammar admits one
//                          continuation (punctuation, keys, the rest of a product name once its prefix
//                          is unique) the forced text is tokenized the way the tokenizer would and fed
//                          in the same forward pass as the chosen token (jump-forward). Decoding stops
//                          at the closing brace, so the output is always valid.
//   Free                   plain greedy generation until an end-of-generation token (the study's
//                          raw setting); the output is parsed with check_output (src/eval/score.h).
//
// Few-shot (for base/instruct models that were not fine-tuned): K examples from a dataset file go
// in front of the prompt; with a chat template (Llama-3 headers or ChatML, picked from the
// tokenizer's chat_template) they become user/assistant turns.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "decode/intent_grammar.h"
#include "formats/dataset.h"
#include "model/llama.h"
#include "model/load.h"

namespace cartlm {

class ThreadPool;

enum class DecodeMode { Constrained, Free };
const char* decode_mode_name(DecodeMode m);                 // "constrained", "free"
Result<DecodeMode> parse_decode_mode(std::string_view name);  // error names the accepted values

struct RecognizerOptions {
  DecodeMode mode = DecodeMode::Constrained;
  int few_shot = 0;              // examples in front of the prompt (0 = fine-tuned model)
  std::string few_shot_file;     // dataset JSONL to take them from (required when few_shot > 0)
  int max_quantity = 999;        // N: quantities 1..N
  size_t max_text_bytes = 2000;  // longer input text is rejected
  size_t max_text_tokens = 512;  // ... and so is text that encodes to more tokens
  size_t max_new_tokens = 64;    // generation cap (free mode; constrained output is shorter)
  bool jump_forward = true;      // constrained: forced tokens in the same forward pass as the
                                 // chosen one (false: the same tokens, one pass each)
  bool prefix_cache = true;      // reuse the KV of the tokens shared with the previous request
};

// The prompt of one request as three parts, encoded separately and concatenated:
//   encode(head, add_bos, parse_special = true) + encode(body, no bos, false)
//   + encode(tail, no bos, true).
// A fine-tuned model has head = tail = "" and body = render_prompt(meta, text), which is exactly
// what training encodes. The shopper's text is always in the body, so it cannot smuggle in
// special tokens.
struct PromptParts {
  std::string head, body, tail;
};

enum class ChatStyle { None, Llama3, ChatMl };

struct Recognizer {
  const LoadedModel* model = nullptr;  // not owned; outlives the recognizer
  RecognizerOptions opt;
  IntentMeta meta;                     // model's template + products actually used
  bool catalog_fallback = false;       // the model had no products: built-in catalog used
  std::vector<std::string> warnings;   // for the caller to print (e.g. the catalog fallback)
  IntentGrammar grammar;
  VocabTrie vocab;
  ChatStyle chat = ChatStyle::None;
  std::vector<Example> shots;          // few-shot examples, in prompt order
  std::vector<int32_t> prefix_tokens;  // the fixed prompt prefix (BOS, few-shot block, template
                                       // part before {text}); informational, the cache is by tokens
  std::vector<int32_t> stop_ids;       // end-of-generation ids (free mode)
  size_t max_seq = 0;                  // KV positions per session
};

// Builds the grammar (products from m.meta; when the model has none, the built-in catalog with a
// warning), the vocabulary trie and the few-shot prompt. Errors: bad options, unreadable few-shot
// file, a tokenizer without an EOS in free fine-tuned mode, a vocabulary that cannot spell the
// grammar.
Result<std::unique_ptr<Recognizer>> recognizer_create(const LoadedModel& m, const RecognizerOptions& opt);

struct RecognizerSession {
  LlamaSession llama;
  std::vector<int32_t> cached;  // tokens whose keys/values are in llama's cache (positions 0..)
  MaskCache masks;              // grammar state -> allowed tokens
  std::vector<int32_t> ids, feed;  // scratch
};
Result<std::unique_ptr<RecognizerSession>> recognizer_session(const Recognizer& r);

struct IntentResult {
  bool valid = false;       // output is a schema-valid intent (always true when constrained)
  Label label;              // set when valid
  std::string output_text;  // raw model output, byte for byte
  std::string error;        // why it is not valid (check_output's reason, or a decoding limit)
  size_t prompt_tokens = 0;     // tokens of the prompt
  size_t cached_tokens = 0;     // ... of which were reused from the session's KV cache
  size_t generated_tokens = 0;  // completion tokens (chosen + jump-forward), EOS not counted
  size_t forward_passes = 0;    // llama_forward calls (prefill included)
  double latency_ms = 0;
};

// Recognizes one text. Bad text (empty, over max_text_bytes / max_text_tokens, invalid UTF-8)
// returns an error naming the problem; an invalid model output is a result with valid = false.
// `pool` parallelizes the forward pass; nullptr runs on the calling thread.
Result<IntentResult> recognize(const Recognizer& r, RecognizerSession& s, std::string_view text,
                               ThreadPool* pool = nullptr);

// Jump-forward: tokens for the longest part of the text the grammar forces after the completion
// `out` (grammar state `state`) that the tokenizer would write the same way whatever follows (it
// starts and ends on pre-tokenizer piece boundaries); returns the bytes covered, 0 = step instead.
size_t jump_forward_tokens(const Recognizer& r, const std::string& out, int32_t state,
                           std::vector<int32_t>* toks);

// Step-wise constrained decoding: the pieces recognize() runs in a loop, exposed so the batched
// recognizer (decode/recognizer_batch.h) can drive many texts with shared forward passes and give
// each exactly the single-text output. One text's loop is
//   res = recognize_start(r, s, text)           prompt in s.feed (after the reused prefix)
//   d = constrained_begin(r, s)
//   while (!constrained_prepare(r, s, d, res)) {   jump-forward tokens appended to s.feed
//     recognizer_check_room(r, s)                  error: the request does not fit the session
//     feed s.feed through the model (in any split: the logits do not depend on it), append it to
//       s.cached, clear it, constrained_fed(r, d)
//     if (constrained_choose(r, s, d, res) is true) break;   best allowed token into s.feed
//   }
//   recognize_finish(r, s, status, res)
struct ConstrainedDecode {
  int32_t state = 0;                  // grammar state after res.output_text
  size_t steps = 0;                   // choices made so far
  size_t one_by_one_from = SIZE_MAX;  // jump_forward off: s.feed tokens from here go one per pass
};

// Checks the text (input limits, token limit), encodes the prompt, keeps the KV of the longest
// token prefix shared with the session's previous request and leaves the rest in s.feed.
// Errors are the text's fault (the same one-line messages recognize() returns).
Result<IntentResult> recognize_start(const Recognizer& r, RecognizerSession& s, std::string_view text);
ConstrainedDecode constrained_begin(const Recognizer& r, const RecognizerSession& s);
// Appends the forced (jump-forward) tokens to s.feed; true when the output is complete.
bool constrained_prepare(const Recognizer& r, RecognizerSession& s, ConstrainedDecode& d,
                         IntentResult& res);
// Error when feeding s.feed would pass the session's positions.
Status recognizer_check_room(const Recognizer& r, const RecognizerSession& s);
// Call after s.feed went through the model and was cleared.
void constrained_fed(const Recognizer& r, ConstrainedDecode& d);
// Picks the best allowed token from s.llama's logits into s.feed; true when the output is
// complete. Error: the decoding step limit.
Result<bool> constrained_choose(const Recognizer& r, RecognizerSession& s, ConstrainedDecode& d,
                                IntentResult& res);
// Sets valid/label/error from the output (or from `st` when decoding failed); clears s.feed.
// latency_ms is the caller's.
void recognize_finish(const Recognizer& r, RecognizerSession& s, const Status& st, IntentResult& res);

// The prompt parts for `text` (exposed for tests and for `cartlm run --show-prompt`).
PromptParts recognizer_prompt(const Recognizer& r, std::string_view text);
// Checks `text` against the input limits (bytes, UTF-8, empty); the message is one line.
Status check_input_text(const Recognizer& r, std::string_view text);

}  // namespace cartlm
