// Shared by the directory loaders (HF and GPTQ).
#pragma once
#include <string>

#include "core/status.h"
#include "formats/config.h"
#include "model/load.h"

namespace cartlm {

// Loads dir/tokenizer.json (checked against config.json's vocab_size) and dir/cartlm.json when
// present. Called before the weights are read, so the tokenizer's transient parse memory is
// returned before they occupy theirs.
Status load_dir_tokenizer_and_meta(LoadedModel& lm, const std::string& dir, const Config& c);

// Returns the heap's free pages to the system (malloc_trim on glibc; nothing elsewhere).
void release_free_heap();

}  // namespace cartlm
