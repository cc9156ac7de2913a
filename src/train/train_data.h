// The training data path: dataset examples -> token sequences with a completion-only loss mask ->
// length-bucketed, right-padded batches.
//
// One sequence is  [bos] + encode(render_prompt(meta, text)) + encode(completion) + [eos]  where
// completion = label_to_json_text(label) (bos only when the tokenizer has add_bos). The prompt and
// the completion are encoded separately, so the boundary is exact whatever the BPE merges would do
// across it (the recognizer decodes the same way: it feeds the prompt, then generates).
// The model reads tokens[0..n-2] and predicts tokens[1..n-1]; a target counts in the loss when it
// belongs to the completion or is the eos.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/status.h"
#include "formats/dataset.h"
#include "formats/intent_meta.h"
#include "tokenizer/tokenizer.h"

namespace cartlm {

struct TokenizedExample {
  std::vector<int32_t> tokens;  // the whole sequence, bos .. eos
  int32_t prompt_len = 0;       // tokens[0, prompt_len) are bos + prompt (no loss)
  // Per token, whether it counts in the loss as a target (tokens[0] never does). Empty: every
  // completion token and the eos (the default); `cartlm train --forced-loss-share` narrows it to
  // the tokens where the intent grammar has a choice.
  std::vector<uint8_t> loss_targets;
  size_t inputs() const { return tokens.size() - 1; }  // positions the model reads
};

// The prompt tokens (bos + prompt) of a message, exactly as training sees them.
std::vector<int32_t> prompt_tokens(const Tokenizer& tok, const IntentMeta& meta,
                                   const std::string& text);
// Tokenizes examples. Errors (one line, naming `source` and the example id): the tokenizer has no
// eos token, or a sequence needs more than max_seq input positions. bpe_dropout > 0 encodes each
// prompt with BPE-dropout (the completion never), example i drawing from Rng(seed).fork(i), so the
// same arguments give the same tokens.
Result<std::vector<TokenizedExample>> tokenize_examples(const std::vector<Example>& examples,
                                                        const Tokenizer& tok,
                                                        const IntentMeta& meta, size_t max_seq,
                                                        const std::string& source,
                                                        double bpe_dropout = 0.0,
                                                        uint64_t seed = 0);

// Batches for one epoch: indices into `lengths` (each example exactly once), batch_size per batch
// (the last may be smaller). Length bucketing: the shuffled order is cut into windows of
// batch_size * bucket_batches examples, each window is sorted by length (stable) and cut into
// batches, and the batch order is shuffled, so batches hold similar lengths (little padding) but
// every epoch differs. bucket_batches <= 1 means plain shuffled batches.
std::vector<std::vector<uint32_t>> make_batches(const std::vector<size_t>& lengths,
                                                size_t batch_size, size_t bucket_batches,
                                                Rng& rng);

// One padded batch in the layout train_model_forward takes.
struct Batch {
  size_t B = 0, T = 0;           // T = the longest sequence's input length
  std::vector<int32_t> tokens;   // (B, T) inputs, right-padded with pad_id
  std::vector<int32_t> targets;  // (B, T) next tokens, pad_id on padding
  std::vector<uint8_t> mask;     // (B, T) 1 where the target is completion or eos
  std::vector<int32_t> lens;     // (B) valid input positions per row
  size_t loss_tokens = 0;        // number of mask ones
  size_t real_tokens = 0;        // sum of lens (tokens processed, for tokens/s)
};
void fill_batch(Batch& b, const std::vector<TokenizedExample>& examples,
                const std::vector<uint32_t>& indices, int32_t pad_id);

}  // namespace cartlm
