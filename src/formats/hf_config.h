// HF config.json <-> Config. Reading accepts what transformers writes for LlamaForCausalLM and
// Qwen2ForCausalLM: rope_theta + rope_scaling ({"rope_type"|"type": "llama3"|"linear"|"default"})
// or the newer "rope_parameters" object; eos_token_id as an int or a list; "torch_dtype" or
// "dtype". Every error is one line naming the key: "config.json: missing key hidden_size".
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"
#include "formats/config.h"

namespace cartlm {

using json = nlohmann::json;

// `source` names the file in messages (default "config.json").
Result<Config> parse_hf_config(const json& j, const std::string& source = "config.json");
Result<Config> parse_hf_config_text(const std::string& text,
                                    const std::string& source = "config.json");
// Reads <dir>/config.json, or `path` itself when it is a file.
Result<Config> load_hf_config(const std::string& path);

// HF-compatible config.json ("architectures", "model_type", "hidden_act": "silu", ...).
json hf_config_to_json(const Config& c);
Status save_hf_config(const std::string& path, const Config& c);  // atomic, pretty-printed

}  // namespace cartlm
