// Quantization mixes ("Q4_K_M" ...): which type each tensor of a llama-architecture GGUF gets,
// with the same per-tensor choices llama.cpp's llama-quantize makes (src/llama-quant.cpp,
// llama_tensor_get_type, read at unslothai/llama.cpp d32676d7), so a cartlm-quantized file holds
// the same tensor types (and, with the byte-exact quantizers of quant.h, the same bytes).
//
// The rules, for the dense llama/qwen2 models cartlm supports (no experts, not 70B, not Falcon):
// - Only tensors with >= 2 dims whose name ends in "weight" and does not contain "_norm.weight"
//   are converted; everything else keeps its type (norms, biases, rope_freqs).
// - F32/F16/BF16 mixes convert every such tensor to that type; no other rule applies.
// - output.weight (and token_embd.weight when there is no output.weight: tied embeddings) gets
//   Q6_K, or Q8_0 when the mix's type is Q8_0 or ne[0] is not a multiple of its block size.
// - attn_v (counted per layer in llama.cpp's visiting order, see below): Q2_K -> Q4_K if
//   n_head/n_head_kv >= 4 else Q3_K; Q3_K_M -> Q5_K for the first 2 then Q4_K; Q3_K_L -> Q5_K;
//   Q4_K_M/Q5_K_M -> Q6_K where use_more_bits(i, n); Q4_K_S -> Q5_K for the first 4.
// - ffn_down of layer i of n: Q2_K -> Q3_K; Q3_K_M -> Q5_K if i < n/16 else Q4_K; Q3_K_L -> Q5_K;
//   Q4_K_M/Q5_K_M -> Q6_K where use_more_bits(i, n); Q4_K_S -> Q5_K if i < n/8;
//   Q4_0/Q5_0 with an imatrix -> Q4_1/Q5_1 if i < n/8.
// - attn_output: Q2_K -> Q3_K, Q3_K_M -> Q4_K, Q3_K_L -> Q5_K.
// - use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2.
// - Fallback when ne[0] is not a multiple of the chosen type's block size: Q2_K/Q3_K -> Q4_0,
//   Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, and F16 when even that does not divide ne[0].
// llama-quantize visits tensors ordered by (layer index from "blk.N.", -1 for none; then name),
// which is also the order it writes them; quant_mix_order gives that order.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace cartlm {

// llama_ftype values (general.file_type).
enum class FileType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 7, Q5_0 = 8, Q5_1 = 9, Q2_K = 10,
  Q3_K_S = 11, Q3_K_M = 12, Q3_K_L = 13, Q4_K_S = 14, Q4_K_M = 15, Q5_K_S = 16, Q5_K_M = 17,
  Q6_K = 18, BF16 = 32,
};

struct QuantMix {
  const char* name;  // "Q4_K_M" (llama-quantize's spelling)
  FileType file_type;
  DType default_type;  // the type of every tensor no rule singles out
};

// Every mix cartlm writes, in llama_ftype order.
std::span<const QuantMix> all_quant_mixes();
// Case-insensitive name ("q4_k_m"); the error lists the valid names.
Result<QuantMix> quant_mix_from_name(const std::string& name);
// "Q4_K_M" for a general.file_type value; "F32"/"F16" for 0/1; "ftype 19" for others.
std::string file_type_name(uint32_t file_type);

// One tensor as the mix sees it: GGUF name, current type and ne (innermost first).
struct MixTensor {
  std::string name;
  DType type = DType::F32;
  std::vector<int64_t> ne;
};

struct MixModel {
  int64_t n_layer = 0;    // block_count
  int64_t n_head = 0;     // attention.head_count
  int64_t n_head_kv = 0;  // attention.head_count_kv
};

struct MixPlan {
  std::vector<DType> types;  // target type per input tensor (same order as the input)
  std::vector<size_t> order;  // indices into the input in llama-quantize's visiting/writing order
  int n_fallback = 0;         // tensors that needed a fallback type (llama-quantize warns)
};

// The type of every tensor under `mix`. has_imatrix matters only for Q4_0/Q5_0. Errors: n_layer
// or heads not positive. Never fails for unknown tensor names (they follow the generic rules).
Result<MixPlan> plan_quant_mix(const QuantMix& mix, const MixModel& model,
                               const std::vector<MixTensor>& tensors, bool has_imatrix);

// Indices of `names` sorted the way llama.cpp's model loader orders weights.
std::vector<size_t> quant_mix_order(const std::vector<std::string>& names);

// Whether llama-quantize converts this tensor at all (>= 2 dims, "...weight", not a norm).
bool mix_converts_tensor(const std::string& name, const std::vector<int64_t>& ne);

}  // namespace cartlm
