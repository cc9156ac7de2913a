// PEFT LoRA adapter directories (REFERENCE.md §5.1-5.2): adapter_config.json +
// adapter_model.safetensors with tensors base_model.model.model.layers.N.<module>.lora_A.weight
// [r, in] and .lora_B.weight [out, r]. save_peft_adapter / load_peft_adapter (train/lora_model.h)
// move a TrainModel's adapters; this header is the format itself, used by them and by merge.
#pragma once
#include <string>
#include <vector>

#include "core/status.h"
#include "formats/config.h"
#include "formats/safetensors.h"
#include "train/ops.h"

namespace cartlm {

// The adapter_config.json fields cartlm uses. Others are written with PEFT's defaults and ignored
// when read.
struct PeftAdapterConfig {
  LoraConfig lora;  // r, lora_alpha, lora_dropout, target_modules, use_rslora
  std::string base_model_name_or_path;
};

// "q_proj", "k_proj", ... ; the PEFT target_modules name of a site.
const char* lora_site_peft_name(int site);
// target_modules -> LoraConfig::sites. Accepts a list of names ("q_proj" or a dotted path ending
// in one, e.g. "self_attn.q_proj") or "all-linear"; a regex string is rejected. Errors name the
// unknown module.
Result<uint32_t> parse_target_modules(const std::vector<std::string>& names);
// The CLI form "q,k,v,o,gate,up,down" (also accepts "q_proj" spellings and "all").
Result<uint32_t> parse_lora_targets(const std::string& csv);

// PEFT JSON text (pretty-printed) for `cfg`.
std::string peft_adapter_config_json(const PeftAdapterConfig& cfg);
// Reads <dir>/adapter_config.json. Errors: not LORA, use_dora, fan_in_fan_out, bias != "none",
// layers_to_transform / rank_pattern / alpha_pattern set, modules_to_save set (not supported).
Result<PeftAdapterConfig> load_peft_adapter_config(const std::string& dir);

// An opened adapter directory: its config and the mmapped safetensors.
struct PeftAdapter {
  PeftAdapterConfig config;
  SafetensorsFile file;
  // lora_A (r, in) or lora_B (out, r) of a layer's site; nullptr when absent.
  const TensorView* find(int64_t layer, int site, bool b) const;
};
// Opens <dir> and checks every adapted site of every layer of `c` has A [r, in] and B [out, r]
// (F32/F16/BF16) and that no tensor is left over. Errors name the tensor.
Result<PeftAdapter> open_peft_adapter(const std::string& dir, const Config& c);

// "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight"
std::string peft_tensor_name(int64_t layer, int site, bool b);

}  // namespace cartlm
