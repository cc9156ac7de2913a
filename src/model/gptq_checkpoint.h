// AutoGPTQ-layout checkpoint directories (REFERENCE.md §6.3): what `cartlm gptq --format autogptq`
// writes and load_model_gptq reads.
//
//   config.json           the HF config plus "quantization_config" (= quantize_config.json)
//   quantize_config.json  {bits, group_size, damp_percent, desc_act, static_groups, sym,
//                          true_sequential, quant_method "gptq", checkpoint_format "gptq", ...}
//   model.safetensors     per linear "model.layers.N.<module>.{qweight,qzeros,scales,g_idx}"
//                         (quant/gptq_pack.h), q/k/v ".bias" when the model has attention bias;
//                         embedding, norms and lm_head (untied only) in F16
//   tokenizer.json (+ tokenizer_config.json), cartlm.json
//
// Zero points follow AutoGPTQ's "gptq" (v1) convention: stored zero − 1. A checkpoint that says
// checkpoint_format "gptq_v2" (GPTQModel) is read with stored zero as is.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor_view.h"
#include "formats/intent_meta.h"
#include "formats/jsonl.h"
#include "model/config.h"
#include "quant/gptq_pack.h"
#include "tokenizer/tokenizer.h"

namespace cartlm {

struct GptqQuantizeConfig {
  int bits = 4;
  int64_t group_size = 128;  // -1: one group per row
  double damp_percent = 0.01;
  bool desc_act = false;
  bool sym = true;
  bool static_groups = false;
  bool true_sequential = true;
  std::string checkpoint_format = "gptq";  // "gptq" (zeros stored − 1) or "gptq_v2"
  std::string model_name_or_path;
};
json gptq_quantize_config_to_json(const GptqQuantizeConfig& q);
// Errors name the key ("quantize_config.json: bits must be 2, 3, 4 or 8").
Result<GptqQuantizeConfig> gptq_quantize_config_from_json(const json& j, const std::string& label);

// Collects the tensors of a checkpoint (owning their bytes) in write order.
struct GptqCheckpointTensors {
  std::vector<std::vector<uint8_t>> owned;
  std::vector<TensorView> tensors;
};
// module: "model.layers.0.self_attn.q_proj".
void gptq_checkpoint_add_linear(GptqCheckpointTensors& t, const std::string& module,
                                const AutoGptqLinear& l);
// A plain tensor converted to F16 (F32/F16/BF16 or GGUF block types). Errors name the tensor.
Status gptq_checkpoint_add_f16(GptqCheckpointTensors& t, const TensorView& v);

// Writes the whole directory (created if needed). meta nullptr: no cartlm.json.
Status save_gptq_checkpoint(const std::string& dir, const GptqCheckpointTensors& t,
                            const Config& c, const Tokenizer& tok, const IntentMeta* meta,
                            const GptqQuantizeConfig& q);

// The module names of layer l's seven linears, "model.layers.l.self_attn.q_proj" ... in LoRA-site
// order (q, k, v, o, gate, up, down).
std::vector<std::string> gptq_layer_modules(int64_t layer);

}  // namespace cartlm
