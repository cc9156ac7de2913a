// Shared by the directory loaders (HF and GPTQ): the steps after the weights are bound.
#pragma once
#include <string>

#include "core/status.h"
#include "formats/config.h"
#include "model/load.h"

namespace cartlm {

// Loads dir/tokenizer.json (checked against config.json's vocab_size) and dir/cartlm.json when
// present.
Status load_dir_tokenizer_and_meta(LoadedModel& lm, const std::string& dir, const Config& c);

}  // namespace cartlm
