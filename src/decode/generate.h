// Text generation with a Llama-family model from an HF checkpoint directory: load, prefill the
// prompt in one batched forward, then decode token by token with a Sampler, handing out text as
// complete UTF-8 code points (a character split across tokens is held back until it is whole).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "decode/sampler.h"
#include "model/load.h"

namespace cartlm {

class ThreadPool;

struct GenerateOptions {
  int32_t max_tokens = 32;
  SamplerOptions sampler;
};

struct GenerateStats {
  size_t prompt_tokens = 0;
  size_t generated = 0;
  double prefill_s = 0, decode_s = 0;
  bool stopped_at_eog = false;
};

// Length of the longest prefix of `s` that does not end inside a UTF-8 sequence that is still
// incomplete (bytes that can never become valid are not held back).
size_t utf8_complete_prefix(std::string_view s);

// Generates after `prompt` (encoded with the tokenizer's add_bos), calling `on_text` with each
// new piece of complete text. Stops at an end-of-generation token or after max_tokens.
Result<GenerateStats> generate(const LoadedModel& m, const std::string& prompt,
                               const GenerateOptions& opt, ThreadPool* pool,
                               const std::function<void(std::string_view)>& on_text);

}  // namespace cartlm
