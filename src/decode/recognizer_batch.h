// The batched constrained recognizer: several texts decode together, and every step runs the new
// tokens of all of them (prompt chunks of texts that just joined, chosen + jump-forward tokens of
// the others) in ONE llama_forward_multi call, so each weight matrix is read once per step for
// all texts. Each text has a slot with its own RecognizerSession (KV cache, prefix cache, mask
// cache); texts join a free slot at any step and leave when their output is complete, which is
// what continuous batching in the server needs (src/serve/backend.cpp). The slots start with the
// recognizer's fixed prompt prefix already in their KV caches (computed once, copied).
//
// Output equals recognize() on each text alone: the slot runs the same step functions
// (recognize_start / constrained_prepare / constrained_choose, decode/recognizer.h), and
// llama_forward_multi's logits equal llama_forward's whatever rows share the pass or however a
// prompt is split into chunks (tests/model/llama_multi_test.cpp, tests/decode/
// recognizer_batch_test.cpp). Every model load_model() returns is a LlamaModel (HF, GGUF of any
// block type, GPTQ), so every model can be batched.
//
// Constrained decoding only: free decoding (DecodeMode::Free) is refused by recognizer_batch();
// callers run those texts through recognize() one by one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/timer.h"
#include "decode/recognizer.h"
#include "model/llama_multi.h"

namespace cartlm {

class ThreadPool;

struct BatchSlot {
  std::unique_ptr<RecognizerSession> session;
  bool busy = false;
  uint64_t seq = 0;   // start order: older texts get the step's rows first
  size_t fed = 0;     // tokens of session->feed already run (a prompt may take several steps)
  ConstrainedDecode dec;
  IntentResult res;
  Timer timer;        // latency_ms: from batch_start to the step that finishes the text
};

struct RecognizerBatch {
  const Recognizer* r = nullptr;  // not owned
  std::vector<BatchSlot> slots;
  LlamaScratch scratch;           // rows: the most tokens one shared pass runs
  uint64_t next_seq = 0;
  // Per-step scratch.
  std::vector<size_t> order, in_pass;
  std::vector<LlamaSession*> sessions;
  std::vector<std::span<const int32_t>> tokens;
};

struct BatchFinished {
  size_t slot = 0;
  IntentResult result;  // valid == false with `error` set when decoding failed
};

// `slots` texts at most in flight; `max_rows` tokens at most per shared pass (0: max(128,
// 8 x slots)); longer prompts are fed in chunks over several steps. Error: free decoding mode,
// zero slots, or a session that cannot be created.
Result<std::unique_ptr<RecognizerBatch>> recognizer_batch(const Recognizer& r, size_t slots,
                                                          size_t max_rows = 0);

size_t batch_free_slot(const RecognizerBatch& b);  // a free slot, or SIZE_MAX when all are busy
size_t batch_active(const RecognizerBatch& b);     // busy slots

// Starts `text` in free slot `slot`. Errors are the text's fault (the one-line messages
// recognize() returns); the slot then stays free.
Status batch_start(RecognizerBatch& b, size_t slot, std::string_view text);

// One shared forward pass over the busy slots; the texts that complete are appended to *done and
// their slots freed. Returns the number of texts whose tokens were in the pass (0 when no slot is
// busy).
size_t batch_step(RecognizerBatch& b, ThreadPool* pool, std::vector<BatchFinished>* done);

// Runs all `texts` (any number) through the batch, keeping every slot busy while texts are left;
// one result per text, in order, each equal to what recognize() returns for it.
std::vector<Result<IntentResult>> recognize_batch(RecognizerBatch& b, std::span<const std::string> texts,
                                                  ThreadPool* pool = nullptr);

}  // namespace cartlm
