#include "formats/config.h"

#include <cmath>
#include <sstream>
#include <type_traits>

#include "core/strings.h"

namespace cartlm {

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::Llama: return "llama";
    case Arch::Qwen2: return "qwen2";
  }
  return "?";
}

const char* arch_hf_class(Arch a) {
  switch (a) {
    case Arch::Llama: return "LlamaForCausalLM";
    case Arch::Qwen2: return "Qwen2ForCausalLM";
  }
  return "?";
}

std::optional<Arch> arch_from_name(const std::string& s) {
  if (s == "llama" || s == "LlamaForCausalLM") return Arch::Llama;
  if (s == "qwen2" || s == "Qwen2ForCausalLM") return Arch::Qwen2;
  return std::nullopt;
}

const char* rope_scaling_name(RopeScalingType t) {
  switch (t) {
    case RopeScalingType::None: return "none";
    case RopeScalingType::Llama3: return "llama3";
    case RopeScalingType::Linear: return "linear";
  }
  return "?";
}

std::string gguf_key(const FieldInfo& f, Arch arch) {
  return replace_all(f.gguf_key, "{arch}", arch_name(arch));
}

Config default_config(Arch arch) {
  // The defaults of transformers' LlamaConfig / Qwen2Config for keys a config.json may omit.
  Config c;
  c.arch = arch;
  if (arch == Arch::Llama) {
    c.max_position_embeddings = 2048;
    c.rms_norm_eps = 1e-6;
    c.rope_theta = 10000.0;
    c.bos_token_id = 1;
    c.eos_token_ids = {2};
  } else {
    c.max_position_embeddings = 32768;
    c.rms_norm_eps = 1e-6;
    c.rope_theta = 10000.0;
    c.attention_bias = true;  // Qwen2 hard-codes bias on q/k/v; its config has no such key
  }
  return c;
}

Status finalize_config(Config& c, const std::string& source) {
  auto fail = [&](const std::string& msg) { return error(source + ": " + msg); };
  auto positive = [&](const char* key, int64_t v) -> Status {
    if (v <= 0) return fail(strformat("%s must be positive, got %lld", key, (long long)v));
    return {};
  };
  CARTLM_RETURN_IF_ERROR(positive("vocab_size", c.vocab_size));
  CARTLM_RETURN_IF_ERROR(positive("hidden_size", c.hidden_size));
  CARTLM_RETURN_IF_ERROR(positive("intermediate_size", c.intermediate_size));
  CARTLM_RETURN_IF_ERROR(positive("num_hidden_layers", c.num_hidden_layers));
  CARTLM_RETURN_IF_ERROR(positive("num_attention_heads", c.num_attention_heads));
  CARTLM_RETURN_IF_ERROR(positive("max_position_embeddings", c.max_position_embeddings));
  // Sizes far beyond any real model would overflow the int64 products computed from them.
  const int64_t kMaxDim = int64_t(1) << 24;
  for (auto [key, v] : {std::pair{"vocab_size", c.vocab_size}, {"hidden_size", c.hidden_size},
                        {"intermediate_size", c.intermediate_size},
                        {"num_hidden_layers", c.num_hidden_layers},
                        {"num_attention_heads", c.num_attention_heads},
                        {"num_key_value_heads", c.num_key_value_heads},
                        {"head_dim", c.head_dim}}) {
    if (v > kMaxDim) return fail(strformat("%s (%lld) is implausibly large", key, (long long)v));
  }
  if (c.num_key_value_heads == 0) c.num_key_value_heads = c.num_attention_heads;
  CARTLM_RETURN_IF_ERROR(positive("num_key_value_heads", c.num_key_value_heads));
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    return fail(strformat("num_key_value_heads (%lld) must divide num_attention_heads (%lld)",
                          (long long)c.num_key_value_heads, (long long)c.num_attention_heads));
  if (c.head_dim == 0) {
    if (c.hidden_size % c.num_attention_heads != 0)
      return fail(strformat("hidden_size (%lld) must be a multiple of num_attention_heads (%lld) "
                            "when head_dim is not given",
                            (long long)c.hidden_size, (long long)c.num_attention_heads));
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  CARTLM_RETURN_IF_ERROR(positive("head_dim", c.head_dim));
  if (c.head_dim % 2 != 0)
    return fail(strformat("head_dim (%lld) must be even for rotary embeddings",
                          (long long)c.head_dim));
  // Beyond ~1e12 parameters the int64 element counts derived from the config could overflow;
  // no model cartlm can run is anywhere near that.
  const double H = (double)c.hidden_size, Q = (double)(c.num_attention_heads * c.head_dim),
               KV = (double)(c.num_key_value_heads * c.head_dim);
  const double params = 2.0 * (double)c.vocab_size * H +
                        (double)c.num_hidden_layers * (2 * H * Q + 2 * H * KV +
                                                       3 * H * (double)c.intermediate_size);
  if (params > 1e12)
    return fail(strformat("the sizes describe %.3g parameters, implausibly large", params));
  if (!(c.rms_norm_eps > 0) || !std::isfinite(c.rms_norm_eps))
    return fail(strformat("rms_norm_eps must be a positive number, got %g", c.rms_norm_eps));
  if (!(c.rope_theta > 1) || !std::isfinite(c.rope_theta))
    return fail(strformat("rope_theta must be a number > 1, got %g", c.rope_theta));
  const RopeScaling& rs = c.rope_scaling;
  if (rs.type != RopeScalingType::None) {
    if (!(rs.factor > 0) || !std::isfinite(rs.factor))
      return fail(strformat("rope_scaling.factor must be positive, got %g", rs.factor));
  }
  if (rs.type == RopeScalingType::Llama3) {
    if (!(rs.low_freq_factor > 0) || !(rs.high_freq_factor > rs.low_freq_factor))
      return fail(strformat("rope_scaling: need 0 < low_freq_factor (%g) < high_freq_factor (%g)",
                            rs.low_freq_factor, rs.high_freq_factor));
    if (rs.original_max_position_embeddings <= 0)
      return fail("rope_scaling.original_max_position_embeddings must be positive");
  }
  if (c.arch == Arch::Qwen2 && !c.attention_bias)
    return fail("attention_bias false is not supported for qwen2 (Qwen2 always has q/k/v bias)");
  if (c.mlp_bias) return fail("mlp_bias true is not supported (no supported model uses it)");
  auto token = [&](const char* key, int64_t id) -> Status {
    if (id < 0 || id >= c.vocab_size)
      return fail(strformat("%s (%lld) is outside the vocabulary [0, %lld)", key, (long long)id,
                            (long long)c.vocab_size));
    return {};
  };
  if (c.bos_token_id) CARTLM_RETURN_IF_ERROR(token("bos_token_id", *c.bos_token_id));
  for (int64_t id : c.eos_token_ids) CARTLM_RETURN_IF_ERROR(token("eos_token_id", id));
  if (c.pad_token_id) CARTLM_RETURN_IF_ERROR(token("pad_token_id", *c.pad_token_id));
  if (!(c.initializer_range >= 0) || !std::isfinite(c.initializer_range))
    return fail(strformat("initializer_range must be >= 0, got %g", c.initializer_range));
  return {};
}

namespace {

template <class T>
bool field_equal(const T& a, const T& b) {
  if constexpr (std::is_same_v<T, double>) {
    return a == b || (std::isnan(a) && std::isnan(b));
  } else {
    return a == b;
  }
}

std::string value_str(Arch a) { return arch_name(a); }
std::string value_str(int64_t v) { return std::to_string(v); }
std::string value_str(double v) { return strformat("%.9g", v); }
std::string value_str(bool v) { return v ? "true" : "false"; }
std::string value_str(const std::string& v) { return v.empty() ? "(unset)" : v; }
std::string value_str(const std::optional<int64_t>& v) {
  return v ? std::to_string(*v) : "(none)";
}
std::string value_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  s += "]";
  return s;
}
std::string value_str(const RopeScaling& r) {
  switch (r.type) {
    case RopeScalingType::None: return "none";
    case RopeScalingType::Linear: return strformat("linear factor=%g", r.factor);
    case RopeScalingType::Llama3:
      return strformat("llama3 factor=%g low_freq_factor=%g high_freq_factor=%g "
                       "original_max_position_embeddings=%lld",
                       r.factor, r.low_freq_factor, r.high_freq_factor,
                       (long long)r.original_max_position_embeddings);
  }
  return "?";
}

}  // namespace

bool operator==(const Config& a, const Config& b) {
  bool equal = true;
  visit_fields(
      [&](const FieldInfo&, const auto& fa, const auto& fb) { equal &= field_equal(fa, fb); }, a,
      b);
  return equal;
}

std::string describe_config(const Config& c) {
  std::string out;
  visit_fields([&](const FieldInfo& f, const auto& v) {
    out += strformat("%-24s = %s\n", f.hf_key, value_str(v).c_str());
  }, c);
  return out;
}

std::vector<std::string> preset_names() {
  return {"tiny", "llama-3.2-1b", "smollm2-135m", "qwen2.5-0.5b"};
}

Result<Config> preset_config(const std::string& name) {
  Config c;
  if (name == "tiny") {
    // A few million parameters: trains in minutes on 2 CPU cores. GQA (8 heads, 4 kv heads) so
    // the grouped path is exercised everywhere. Token ids follow the tiny tokenizer's layout
    // (0 <pad>, 1 <bos>, 2 <eos>); `cartlm init` overrides them from the tokenizer it trains.
    c = default_config(Arch::Llama);
    c.vocab_size = 2048;
    c.hidden_size = 256;
    c.intermediate_size = 768;
    c.num_hidden_layers = 6;
    c.num_attention_heads = 8;
    c.num_key_value_heads = 4;
    c.head_dim = 32;
    c.max_position_embeddings = 256;
    c.rms_norm_eps = 1e-5;
    c.rope_theta = 10000.0;
    c.tie_word_embeddings = true;
    c.bos_token_id = 1;
    c.eos_token_ids = {2};
    c.pad_token_id = 0;
    c.torch_dtype = "float32";
  } else if (name == "llama-3.2-1b") {
    // meta-llama/Llama-3.2-1B config.json (REFERENCE.md §3.2).
    c = default_config(Arch::Llama);
    c.vocab_size = 128256;
    c.hidden_size = 2048;
    c.intermediate_size = 8192;
    c.num_hidden_layers = 16;
    c.num_attention_heads = 32;
    c.num_key_value_heads = 8;
    c.head_dim = 64;
    c.max_position_embeddings = 131072;
    c.rms_norm_eps = 1e-5;
    c.rope_theta = 500000.0;
    c.rope_scaling = {RopeScalingType::Llama3, 32.0, 1.0, 4.0, 8192};
    c.tie_word_embeddings = true;
    c.bos_token_id = 128000;
    c.eos_token_ids = {128001};
    c.torch_dtype = "bfloat16";
  } else if (name == "smollm2-135m") {
    // HuggingFaceTB/SmolLM2-135M config.json.
    c = default_config(Arch::Llama);
    c.vocab_size = 49152;
    c.hidden_size = 576;
    c.intermediate_size = 1536;
    c.num_hidden_layers = 30;
    c.num_attention_heads = 9;
    c.num_key_value_heads = 3;
    c.head_dim = 64;
    c.max_position_embeddings = 8192;
    c.rms_norm_eps = 1e-5;
    c.rope_theta = 100000.0;
    c.tie_word_embeddings = true;
    c.bos_token_id = 0;
    c.eos_token_ids = {0};
    c.torch_dtype = "bfloat16";
    c.initializer_range = 0.041666666666666664;
  } else if (name == "qwen2.5-0.5b") {
    // Qwen/Qwen2.5-0.5B config.json.
    c = default_config(Arch::Qwen2);
    c.vocab_size = 151936;
    c.hidden_size = 896;
    c.intermediate_size = 4864;
    c.num_hidden_layers = 24;
    c.num_attention_heads = 14;
    c.num_key_value_heads = 2;
    c.head_dim = 64;
    c.max_position_embeddings = 32768;
    c.rms_norm_eps = 1e-6;
    c.rope_theta = 1000000.0;
    c.tie_word_embeddings = true;
    c.attention_bias = true;
    c.bos_token_id = 151643;
    c.eos_token_ids = {151643};
    c.torch_dtype = "bfloat16";
  } else {
    return error("unknown model preset '" + name + "'; hint: one of " + join(preset_names(), ", "));
  }
  CARTLM_RETURN_IF_ERROR(finalize_config(c, "preset " + name));
  return c;
}

ParamCounts count_parameters(const Config& c) {
  ParamCounts p;
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  p.embedding = c.vocab_size * H;
  p.lm_head = c.tie_word_embeddings ? 0 : c.vocab_size * H;
  int64_t attn = H * c.q_dim() + 2 * H * c.kv_dim() + c.q_dim() * H;
  if (c.attention_bias) attn += c.q_dim() + 2 * c.kv_dim();
  p.per_layer = 2 * H + attn + 3 * H * I;
  p.final_norm = H;
  p.total = p.embedding + p.lm_head + c.num_hidden_layers * p.per_layer + p.final_norm;
  return p;
}

std::vector<float> rope_inv_freq(const Config& c) {
  const int64_t d = c.head_dim;
  std::vector<float> out((size_t)(d / 2));
  const RopeScaling& rs = c.rope_scaling;
  const double kPi = 3.14159265358979323846;
  for (int64_t i = 0; i < d / 2; ++i) {
    double inv = 1.0 / std::pow(c.rope_theta, (double)(2 * i) / (double)d);
    if (rs.type == RopeScalingType::Linear) {
      inv /= rs.factor;
    } else if (rs.type == RopeScalingType::Llama3) {
      // transformers _compute_llama3_parameters: long wavelengths are slowed down by `factor`,
      // short ones kept, and the band between blended smoothly.
      const double orig = (double)rs.original_max_position_embeddings;
      const double low_wavelen = orig / rs.low_freq_factor;
      const double high_wavelen = orig / rs.high_freq_factor;
      const double wavelen = 2.0 * kPi / inv;
      if (wavelen > low_wavelen) {
        inv = inv / rs.factor;
      } else if (wavelen >= high_wavelen) {
        double s = (orig / wavelen - rs.low_freq_factor) /
                   (rs.high_freq_factor - rs.low_freq_factor);
        inv = (1.0 - s) * inv / rs.factor + s * inv;
      }
    }
    out[(size_t)i] = (float)inv;
  }
  return out;
}

}  // namespace cartlm
