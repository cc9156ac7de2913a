// Config: the architecture hyper-parameters of a Llama-family model, independent of the file
// they came from. HF config.json (formats/hf_config.h) and GGUF metadata both fill this struct;
// the forward pass, trainer and writers only ever read it. The model layer re-exports it from
// model/config.h.
//
// visit_fields() lists the fields once (STYLE.md §10). Each call names the HF config.json key,
// the GGUF metadata key ("{arch}" stands for general.architecture, e.g. "llama.block_count";
// "" when GGUF has no such key) and whether config.json must contain it. JSON reading/writing,
// printing and equality are all driven by this one list, so adding a field is one line here.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace cartlm {

enum class Arch { Llama, Qwen2 };
enum class RopeScalingType { None, Llama3, Linear };

const char* arch_name(Arch a);                    // "llama", "qwen2" (HF model_type, GGUF arch)
const char* arch_hf_class(Arch a);                // "LlamaForCausalLM", "Qwen2ForCausalLM"
std::optional<Arch> arch_from_name(const std::string& s);  // model_type or GGUF arch
const char* rope_scaling_name(RopeScalingType t);  // "none", "llama3", "linear"

struct RopeScaling {
  RopeScalingType type = RopeScalingType::None;
  double factor = 1.0;
  double low_freq_factor = 1.0;   // llama3 only
  double high_freq_factor = 4.0;  // llama3 only
  int64_t original_max_position_embeddings = 8192;  // llama3 only
  bool operator==(const RopeScaling&) const = default;
};

struct Config {
  Arch arch = Arch::Llama;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // 0 in a partly-filled Config = "same as attention heads"
  int64_t head_dim = 0;             // 0 in a partly-filled Config = hidden_size / heads
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // bias on q/k/v projections (always true for qwen2)
  bool mlp_bias = false;        // cartlm supports false only (as all supported models)
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // config.json: an int or a list
  std::optional<int64_t> pad_token_id;
  std::string torch_dtype;  // "bfloat16", "float16", "float32" or "" (unspecified)
  double initializer_range = 0.02;  // std of the normal init used by `cartlm init`

  // Derived sizes (valid after validate_config / parse).
  int64_t q_dim() const { return num_attention_heads * head_dim; }
  int64_t kv_dim() const { return num_key_value_heads * head_dim; }
  int64_t gqa_group() const { return num_attention_heads / num_key_value_heads; }
};

struct FieldInfo {
  const char* hf_key;
  const char* gguf_key;  // "{arch}." prefix = per-architecture key; "" = none
  bool required;         // must be present in config.json
};

// `v(FieldInfo, field&...)` for each field, in config.json order. Several configs may be visited
// in lockstep (visit_fields(v, a, b) calls v(info, a.x, b.x)), which is how equality works. V must
// accept Arch, int64_t, double, bool, std::string, std::optional<int64_t>, std::vector<int64_t>
// and RopeScaling fields (const when the configs are const).
template <class V, class... C>
void visit_fields(V&& v, C&... c) {
  v(FieldInfo{"model_type", "general.architecture", false}, c.arch...);
  v(FieldInfo{"vocab_size", "{arch}.vocab_size", true}, c.vocab_size...);
  v(FieldInfo{"hidden_size", "{arch}.embedding_length", true}, c.hidden_size...);
  v(FieldInfo{"intermediate_size", "{arch}.feed_forward_length", true}, c.intermediate_size...);
  v(FieldInfo{"num_hidden_layers", "{arch}.block_count", true}, c.num_hidden_layers...);
  v(FieldInfo{"num_attention_heads", "{arch}.attention.head_count", true},
    c.num_attention_heads...);
  v(FieldInfo{"num_key_value_heads", "{arch}.attention.head_count_kv", false},
    c.num_key_value_heads...);
  v(FieldInfo{"head_dim", "{arch}.attention.key_length", false}, c.head_dim...);
  v(FieldInfo{"max_position_embeddings", "{arch}.context_length", false},
    c.max_position_embeddings...);
  v(FieldInfo{"rms_norm_eps", "{arch}.attention.layer_norm_rms_epsilon", false},
    c.rms_norm_eps...);
  v(FieldInfo{"rope_theta", "{arch}.rope.freq_base", false}, c.rope_theta...);
  v(FieldInfo{"rope_scaling", "{arch}.rope.scaling.type", false}, c.rope_scaling...);
  v(FieldInfo{"tie_word_embeddings", "", false}, c.tie_word_embeddings...);
  v(FieldInfo{"attention_bias", "", false}, c.attention_bias...);
  v(FieldInfo{"mlp_bias", "", false}, c.mlp_bias...);
  v(FieldInfo{"bos_token_id", "tokenizer.ggml.bos_token_id", false}, c.bos_token_id...);
  v(FieldInfo{"eos_token_id", "tokenizer.ggml.eos_token_id", false}, c.eos_token_ids...);
  v(FieldInfo{"pad_token_id", "tokenizer.ggml.padding_token_id", false}, c.pad_token_id...);
  v(FieldInfo{"torch_dtype", "", false}, c.torch_dtype...);
  v(FieldInfo{"initializer_range", "", false}, c.initializer_range...);
}

// "{arch}.block_count" -> "llama.block_count"; "" stays "".
std::string gguf_key(const FieldInfo& f, Arch arch);

// Architecture defaults for keys config.json may omit (the HF config classes' defaults).
Config default_config(Arch arch);
// Fills derived fields (num_key_value_heads, head_dim when 0; qwen2 attention_bias) and checks
// consistency. Errors name the field: "num_key_value_heads (5) must divide num_attention_heads
// (32)". `source` prefixes the message ("config.json", a GGUF path...).
Status finalize_config(Config& c, const std::string& source);

bool operator==(const Config& a, const Config& b);
// Multi-line "key = value" listing, one field a line, in visit_fields order.
std::string describe_config(const Config& c);

// Built-in configs: "tiny", "llama-3.2-1b", "smollm2-135m", "qwen2.5-0.5b".
Result<Config> preset_config(const std::string& name);
std::vector<std::string> preset_names();

// Parameter counts (elements, not bytes). Tied embeddings are counted once.
struct ParamCounts {
  int64_t embedding = 0;  // embed_tokens
  int64_t lm_head = 0;    // 0 when tied
  int64_t per_layer = 0;  // norms + attention (+bias) + MLP of one layer
  int64_t final_norm = 0;
  int64_t total = 0;
};
ParamCounts count_parameters(const Config& c);

// The rotary inverse frequencies HF uses, head_dim/2 values: base^(-2i/d), then the llama3 or
// linear scaling from rope_scaling (transformers _compute_llama3_parameters). Computed in double
// and rounded once to float. Kernels take these as the `inv_freq` argument of rope().
std::vector<float> rope_inv_freq(const Config& c);

}  // namespace cartlm
