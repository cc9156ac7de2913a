#include "model/gguf_export.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "core/strings.h"
#include "core/thread_pool.h"
#include "model/load.h"
#include "model/weights.h"
#include "quant/mix.h"
#include "quant/quant.h"
#include "tokenizer/tokenizer.h"

namespace cartlm {
namespace {

constexpr uint32_t kQuantizationVersion = 2;  // GGML_QNT_VERSION

// Per-layer HF suffix <-> GGUF suffix.
constexpr std::pair<const char*, const char*> kLayerNames[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};
constexpr std::pair<const char*, const char*> kGlobalNames[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};

// "<prefix><digits>.<rest>" -> (layer, rest); false when it does not match.
bool split_layer(const std::string& name, const std::string& prefix, int64_t& layer,
                 std::string& rest) {
  if (!starts_with(name, prefix)) return false;
  size_t i = prefix.size(), j = i;
  while (j < name.size() && name[j] >= '0' && name[j] <= '9') ++j;
  if (j == i || j - i > 9 || j >= name.size() || name[j] != '.') return false;
  layer = std::stoll(name.substr(i, j - i));
  rest = name.substr(j + 1);
  return true;
}

// Source tensor of an export: where its bytes are and how they must be transformed.
struct Source {
  std::string name;  // GGUF name
  TensorView view;   // bytes as stored in the source (type, outermost-first shape)
  int64_t permute_heads = 0;  // > 0: q/k rows to permute for llama.cpp's NORM rope
  int64_t head_dim = 0;
  DType keep_type = DType::F32;  // type when the mix does not convert this tensor
};

std::vector<int64_t> ne_of(const std::vector<int64_t>& shape) {
  return std::vector<int64_t>(shape.rbegin(), shape.rend());
}

// Source bytes -> f32 [rows, cols].
Status to_f32(const TensorView& v, int64_t rows, int64_t cols, float* out, ThreadPool* pool) {
  if (v.dtype == DType::F32) {
    std::memcpy(out, v.data, (size_t)(rows * cols) * sizeof(float));
    return {};
  }
  return dequantize_tensor(v.dtype, v.data, rows, cols, out, pool);
}

}  // namespace

std::string gguf_tensor_name(const std::string& hf_name) {
  for (const auto& [hf, gg] : kGlobalNames)
    if (hf_name == hf) return gg;
  int64_t layer = 0;
  std::string rest;
  if (!split_layer(hf_name, "model.layers.", layer, rest)) return "";
  for (const auto& [hf, gg] : kLayerNames)
    if (rest == hf) return "blk." + std::to_string(layer) + "." + gg;
  return "";
}

std::string hf_tensor_name(const std::string& gguf_name) {
  for (const auto& [hf, gg] : kGlobalNames)
    if (gguf_name == gg) return hf;
  int64_t layer = 0;
  std::string rest;
  if (!split_layer(gguf_name, "blk.", layer, rest)) return "";
  for (const auto& [hf, gg] : kLayerNames)
    if (rest == gg) return hf_layer_prefix(layer) + hf;
  return "";
}

void permute_qk_rows(const uint8_t* src, uint8_t* dst, int64_t n_head, int64_t head_dim,
                     size_t row_bytes) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_head; ++h) {
    const uint8_t* s = src + (size_t)(h * head_dim) * row_bytes;
    uint8_t* d = dst + (size_t)(h * head_dim) * row_bytes;
    for (int64_t i = 0; i < half; ++i) {
      std::memcpy(d + (size_t)(2 * i) * row_bytes, s + (size_t)i * row_bytes, row_bytes);
      std::memcpy(d + (size_t)(2 * i + 1) * row_bytes, s + (size_t)(i + half) * row_bytes,
                  row_bytes);
    }
  }
}

void unpermute_qk_rows(const uint8_t* src, uint8_t* dst, int64_t n_head, int64_t head_dim,
                       size_t row_bytes) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_head; ++h) {
    const uint8_t* s = src + (size_t)(h * head_dim) * row_bytes;
    uint8_t* d = dst + (size_t)(h * head_dim) * row_bytes;
    for (int64_t i = 0; i < half; ++i) {
      std::memcpy(d + (size_t)i * row_bytes, s + (size_t)(2 * i) * row_bytes, row_bytes);
      std::memcpy(d + (size_t)(i + half) * row_bytes, s + (size_t)(2 * i + 1) * row_bytes,
                  row_bytes);
    }
  }
}

std::vector<float> llama3_rope_freqs(const Config& c) {
  std::vector<float> f;
  if (c.rope_scaling.type != RopeScalingType::Llama3) return f;
  const RopeScaling& r = c.rope_scaling;
  const double lo_wavelen = (double)r.original_max_position_embeddings / r.low_freq_factor;
  const double hi_wavelen = (double)r.original_max_position_embeddings / r.high_freq_factor;
  // As conversion/llama.py generate_extra_tensors computes it (numpy float64 then f32).
  for (int64_t i = 0; i < c.head_dim; i += 2) {
    const double freq = 1.0 / std::pow(c.rope_theta, (double)i / (double)c.head_dim);
    const double wavelen = 2.0 * M_PI / freq;
    double v;
    if (wavelen < hi_wavelen) {
      v = 1.0;
    } else if (wavelen > lo_wavelen) {
      v = r.factor;
    } else {
      const double s = ((double)r.original_max_position_embeddings / wavelen - r.low_freq_factor) /
                       (r.high_freq_factor - r.low_freq_factor);
      v = 1.0 / ((1.0 - s) / r.factor + s);
    }
    f.push_back((float)v);
  }
  return f;
}

std::vector<GgufKV> gguf_arch_kvs(const Config& c, uint32_t file_type, const std::string& name) {
  const std::string a = arch_name(c.arch);
  std::vector<GgufKV> kv;
  kv.push_back({"general.architecture", GgufValue::string(a)});
  kv.push_back({"general.type", GgufValue::string("model")});
  if (!name.empty()) kv.push_back({"general.name", GgufValue::string(name)});
  kv.push_back({a + ".block_count", GgufValue::u32((uint32_t)c.num_hidden_layers)});
  kv.push_back({a + ".context_length", GgufValue::u32((uint32_t)c.max_position_embeddings)});
  kv.push_back({a + ".embedding_length", GgufValue::u32((uint32_t)c.hidden_size)});
  kv.push_back({a + ".feed_forward_length", GgufValue::u32((uint32_t)c.intermediate_size)});
  kv.push_back({a + ".attention.head_count", GgufValue::u32((uint32_t)c.num_attention_heads)});
  kv.push_back({a + ".attention.head_count_kv", GgufValue::u32((uint32_t)c.num_key_value_heads)});
  kv.push_back({a + ".rope.freq_base", GgufValue::f32((float)c.rope_theta)});
  kv.push_back({a + ".attention.layer_norm_rms_epsilon", GgufValue::f32((float)c.rms_norm_eps)});
  if (c.head_dim * c.num_attention_heads != c.hidden_size) {
    kv.push_back({a + ".attention.key_length", GgufValue::u32((uint32_t)c.head_dim)});
    kv.push_back({a + ".attention.value_length", GgufValue::u32((uint32_t)c.head_dim)});
  }
  if (c.rope_scaling.type == RopeScalingType::Linear) {
    kv.push_back({a + ".rope.scaling.type", GgufValue::string("linear")});
    kv.push_back({a + ".rope.scaling.factor", GgufValue::f32((float)c.rope_scaling.factor)});
  }
  kv.push_back({"general.file_type", GgufValue::u32(file_type)});
  kv.push_back({a + ".vocab_size", GgufValue::u32((uint32_t)c.vocab_size)});
  kv.push_back({a + ".rope.dimension_count", GgufValue::u32((uint32_t)c.head_dim)});
  return kv;
}

Result<Config> config_from_gguf(const GgufFile& f) {
  const char* path = f.label.c_str();
  CARTLM_ASSIGN_OR_RETURN(std::string arch_s, f.get_string("general.architecture"));
  std::optional<Arch> arch = arch_from_name(arch_s);
  if (!arch) {
    return error(strformat("%s: general.architecture '%s' is not supported (llama, qwen2)", path,
                           arch_s.c_str()));
  }
  Config c = default_config(*arch);
  const std::string a = arch_s + ".";
  auto u32 = [&](const std::string& k) { return f.get_u32(a + k); };
  CARTLM_ASSIGN_OR_RETURN(uint32_t hidden, u32("embedding_length"));
  CARTLM_ASSIGN_OR_RETURN(uint32_t ffn, u32("feed_forward_length"));
  CARTLM_ASSIGN_OR_RETURN(uint32_t blocks, u32("block_count"));
  CARTLM_ASSIGN_OR_RETURN(uint32_t heads, u32("attention.head_count"));
  CARTLM_ASSIGN_OR_RETURN(uint32_t heads_kv, f.get_u32_or(a + "attention.head_count_kv", heads));
  CARTLM_ASSIGN_OR_RETURN(uint32_t ctx, f.get_u32_or(a + "context_length", 2048));
  CARTLM_ASSIGN_OR_RETURN(uint32_t key_len, f.get_u32_or(a + "attention.key_length", 0));
  CARTLM_ASSIGN_OR_RETURN(float eps, f.get_f32_or(a + "attention.layer_norm_rms_epsilon", 1e-5f));
  CARTLM_ASSIGN_OR_RETURN(float base, f.get_f32_or(a + "rope.freq_base", 10000.0f));
  c.hidden_size = hidden;
  c.intermediate_size = ffn;
  c.num_hidden_layers = blocks;
  c.num_attention_heads = heads;
  c.num_key_value_heads = heads_kv;
  c.max_position_embeddings = ctx;
  c.head_dim = key_len;
  // The file stores f32; take the shortest decimal that rounds to it so 1e-5 stays 1e-5 (HF
  // configs hold doubles).
  auto shortest = [](float x) {
    for (int p = 1; p < 9; ++p) {
      const double d = std::strtod(strformat("%.*g", p, (double)x).c_str(), nullptr);
      if ((float)d == x) return d;
    }
    return (double)x;
  };
  c.rms_norm_eps = shortest(eps);
  c.rope_theta = shortest(base);
  const GgufTensor* embd = f.find_tensor("token_embd.weight");
  if (!embd || embd->ne.size() != 2) {
    return error(strformat("%s: missing 2-D tensor token_embd.weight", path));
  }
  CARTLM_ASSIGN_OR_RETURN(uint32_t vocab, f.get_u32_or(a + "vocab_size", (uint32_t)embd->ne[1]));
  c.vocab_size = vocab;
  c.tie_word_embeddings = f.find_tensor("output.weight") == nullptr;
  c.attention_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  CARTLM_ASSIGN_OR_RETURN(std::string scaling, f.get_string_or(a + "rope.scaling.type", ""));
  if (scaling == "linear") {
    CARTLM_ASSIGN_OR_RETURN(float factor, f.get_f32_or(a + "rope.scaling.factor", 1.0f));
    c.rope_scaling.type = RopeScalingType::Linear;
    c.rope_scaling.factor = factor;
  } else if (!scaling.empty() && scaling != "none") {
    return error(strformat("%s: %srope.scaling.type '%s' is not supported", path, a.c_str(),
                           scaling.c_str()));
  }
  if (f.has("tokenizer.ggml.bos_token_id")) {
    CARTLM_ASSIGN_OR_RETURN(uint32_t id, f.get_u32("tokenizer.ggml.bos_token_id"));
    c.bos_token_id = id;
  }
  if (f.has("tokenizer.ggml.eos_token_id")) {
    CARTLM_ASSIGN_OR_RETURN(uint32_t id, f.get_u32("tokenizer.ggml.eos_token_id"));
    c.eos_token_ids = {id};
  }
  if (f.has("tokenizer.ggml.padding_token_id")) {
    CARTLM_ASSIGN_OR_RETURN(uint32_t id, f.get_u32("tokenizer.ggml.padding_token_id"));
    c.pad_token_id = id;
  }
  CARTLM_RETURN_IF_ERROR(finalize_config(c, f.label));
  if (const GgufTensor* rf = f.find_tensor("rope_freqs.weight")) {
    // llama3 scaling is stored only as divisors; recover the parameters by matching the
    // standard Llama 3.x settings (the only ones in use) with the largest divisor as factor.
    if (rf->view.dtype != DType::F32 || rf->view.numel() != c.head_dim / 2) {
      return error(strformat("%s: rope_freqs.weight must be F32 with head_dim/2 elements", path));
    }
    std::vector<float> got((size_t)rf->view.numel());
    std::memcpy(got.data(), rf->view.data, got.size() * sizeof(float));
    Config t = c;
    t.rope_scaling = RopeScaling{RopeScalingType::Llama3, got.back(), 1.0, 4.0, 8192};
    if (llama3_rope_freqs(t) != got) {
      return error(strformat("%s: rope_freqs.weight does not match llama3 rope scaling with "
                             "low_freq_factor 1, high_freq_factor 4, original context 8192",
                             path));
    }
    c.rope_scaling = t.rope_scaling;
  }
  return c;
}

Result<GgufExportStats> export_gguf(const LoadedModel& m, const std::string& out_path,
                                    const GgufExportOptions& opt) {
  CARTLM_ASSIGN_OR_RETURN(QuantMix mix, quant_mix_from_name(opt.type));
  const Config& c = m.model.config;
  std::vector<Source> src;
  std::vector<GgufKV> kvs;
  const bool from_gguf = m.format == ModelFormat::Gguf;
  if (from_gguf) {
    // As llama-quantize: every tensor and KV of the input, unchanged but for the types.
    for (const GgufTensor& t : m.gguf.tensors) {
      Source s{t.view.name, t.view};
      s.keep_type = t.view.dtype;
      src.push_back(std::move(s));
    }
    // load_model_gguf dropped the vocabulary arrays from m.gguf.kvs (the tokenizer holds them):
    // parse the KVs again from the file, which is still mapped (or held in memory).
    if (m.gguf.file.is_open()) {
      CARTLM_ASSIGN_OR_RETURN(GgufFile full,
                              parse_gguf(m.gguf.file.data(), m.gguf.file.size(), m.gguf.label));
      kvs = std::move(full.kvs);
    } else {
      kvs = m.gguf.kvs;
    }
  } else {
    const ModelWeights& w = m.model.weights;
    const bool permute = c.arch == Arch::Llama && m.model.rope_mode == RopeMode::Neox;
    auto add = [&](const std::string& hf, const TensorView& v, int64_t heads) {
      Source s{gguf_tensor_name(hf), v};
      CARTLM_CHECK(!s.name.empty());
      if (permute && heads > 0) {
        s.permute_heads = heads;
        s.head_dim = c.head_dim;
      }
      // The converter stores 1-D tensors (norms, biases) as F32 and matrices as the mix says.
      s.keep_type = DType::F32;
      src.push_back(std::move(s));
    };
    add("model.embed_tokens.weight", w.embed, 0);
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      const LayerWeights& l = w.layers[(size_t)i];
      const std::string p = hf_layer_prefix(i);
      add(p + "input_layernorm.weight", l.attn_norm, 0);
      add(p + "self_attn.q_proj.weight", l.wq, c.num_attention_heads);
      add(p + "self_attn.k_proj.weight", l.wk, c.num_key_value_heads);
      add(p + "self_attn.v_proj.weight", l.wv, 0);
      if (c.attention_bias) {
        add(p + "self_attn.q_proj.bias", l.bq, c.num_attention_heads);
        add(p + "self_attn.k_proj.bias", l.bk, c.num_key_value_heads);
        add(p + "self_attn.v_proj.bias", l.bv, 0);
      }
      add(p + "self_attn.o_proj.weight", l.wo, 0);
      add(p + "post_attention_layernorm.weight", l.ffn_norm, 0);
      add(p + "mlp.gate_proj.weight", l.w_gate, 0);
      add(p + "mlp.up_proj.weight", l.w_up, 0);
      add(p + "mlp.down_proj.weight", l.w_down, 0);
    }
    add("model.norm.weight", w.final_norm, 0);
    if (!c.tie_word_embeddings) add("lm_head.weight", w.lm_head, 0);
    std::string name = opt.model_name;
    if (name.empty()) name = std::filesystem::path(m.path).filename().string();
    kvs = gguf_arch_kvs(c, (uint32_t)mix.file_type, name);
    kvs.push_back({"general.quantization_version", GgufValue::u32(kQuantizationVersion)});
    // llama.cpp sizes the vocabulary from the token list: pad it to vocab_size as the converter
    // does ("[PAD<i>]", UNUSED), or output.weight would not match.
    for (GgufKV& kv : tokenizer_gguf_kvs(m.tokenizer)) {
      if (kv.key == "tokenizer.ggml.tokens") {
        for (int64_t i = (int64_t)kv.value.strs.size(); i < c.vocab_size; ++i)
          kv.value.strs.push_back("[PAD" + std::to_string(i) + "]");
      } else if (kv.key == "tokenizer.ggml.token_type") {
        const int32_t unused = (int32_t)TokenType::Unused;
        while ((int64_t)(kv.value.data.size() / 4) < c.vocab_size)
          kv.value.data.insert(kv.value.data.end(), (const uint8_t*)&unused,
                               (const uint8_t*)&unused + 4);
      }
      kvs.push_back(std::move(kv));
    }
    if (m.has_meta) {
      kvs.push_back({kGgufKeyPromptTemplate, GgufValue::string(m.meta.prompt_template)});
      kvs.push_back({kGgufKeyProducts, GgufValue::array_strings(m.meta.products)});
      if (m.meta.text_normalization != TextNormalization::none) {
        kvs.push_back({kGgufKeyTextNormalization,
                       GgufValue::string(text_normalization_name(m.meta.text_normalization))});
      }
    }
  }
  // rope_freqs (llama3 scaling) for exports from HF checkpoints.
  std::vector<float> rope_freqs;
  if (!from_gguf && c.arch == Arch::Llama) rope_freqs = llama3_rope_freqs(c);
  if (!rope_freqs.empty()) {
    TensorView v{"rope_freqs.weight", DType::F32, {(int64_t)rope_freqs.size()}, rope_freqs.data(),
                 rope_freqs.size() * sizeof(float)};
    src.push_back(Source{"rope_freqs.weight", v, 0, 0, DType::F32});
  }
  if (from_gguf) {
    // Update general.file_type / quantization_version in place (appended when absent).
    auto set_u32 = [&](const char* key, uint32_t v) {
      for (GgufKV& kv : kvs)
        if (kv.key == key) {
          kv.value = GgufValue::u32(v);
          return;
        }
      kvs.push_back({key, GgufValue::u32(v)});
    };
    set_u32("general.quantization_version", kQuantizationVersion);
    set_u32("general.file_type", (uint32_t)mix.file_type);
  }

  // Plan the types.
  std::vector<MixTensor> mt;
  for (const Source& s : src) mt.push_back({s.name, s.view.dtype, ne_of(s.view.shape)});
  MixModel mm{c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads};
  CARTLM_ASSIGN_OR_RETURN(MixPlan plan, plan_quant_mix(mix, mm, mt, opt.imatrix != nullptr));
  GgufExportStats stats;
  stats.n_fallback = plan.n_fallback;
  std::vector<TensorView> infos;
  std::vector<DType> out_types(src.size());
  for (size_t idx : plan.order) {
    const Source& s = src[idx];
    DType t = plan.types[idx];
    if (!mix_converts_tensor(s.name, mt[idx].ne)) t = s.keep_type;
    out_types[idx] = t;
    const int64_t cols = s.view.shape.empty() ? 1 : s.view.shape.back();
    const int64_t rows = cols > 0 ? s.view.numel() / cols : 0;
    auto rb = quantized_row_bytes(t, cols);
    if (!rb.ok()) return error(out_path + ": tensor " + s.name + ": " + rb.message());
    infos.push_back(TensorView{s.name, t, s.view.shape, nullptr, (uint64_t)rows * *rb});
    stats.types.emplace_back(s.name, t);
    stats.bytes_in += s.view.nbytes;
  }

  GgufWriter writer;
  CARTLM_RETURN_IF_ERROR(writer.open(out_path, kvs, infos));
  ThreadPool pool(opt.threads);
  uint64_t done = 0;
  std::vector<uint8_t> permuted, out;
  std::vector<float> f32;
  for (size_t k = 0; k < plan.order.size(); ++k) {
    const Source& s = src[plan.order[k]];
    const DType t = out_types[plan.order[k]];
    const int64_t cols = s.view.shape.empty() ? 1 : s.view.shape.back();
    const int64_t rows = cols > 0 ? s.view.numel() / cols : 0;
    TensorView v = s.view;
    if (s.permute_heads > 0) {
      // A bias is one element per row.
      const bool vec = v.shape.size() == 1;
      const int64_t prows = vec ? cols : rows;
      CARTLM_ASSIGN_OR_RETURN(uint64_t srb, quantized_row_bytes(v.dtype, vec ? 1 : cols));
      if ((int64_t)s.permute_heads * s.head_dim != prows) {
        return error(strformat("%s: tensor %s has %lld rows, expected %lld heads x %lld",
                               out_path.c_str(), s.name.c_str(), (long long)prows,
                               (long long)s.permute_heads, (long long)s.head_dim));
      }
      permuted.resize(v.nbytes);
      permute_qk_rows((const uint8_t*)v.data, permuted.data(), s.permute_heads, s.head_dim, srb);
      v.data = permuted.data();
    }
    if (t == v.dtype) {
      CARTLM_RETURN_IF_ERROR(writer.write_data(std::string_view((const char*)v.data, v.nbytes)));
    } else {
      const float* importance = nullptr;
      std::vector<float> imp;
      if (opt.imatrix && is_block_quantized(t)) {
        auto it = opt.imatrix->entries.find(s.name);
        if (it == opt.imatrix->entries.end()) {
          stats.imatrix_missing.push_back(s.name);
        } else {
          imp = imatrix_importance(it->second, opt.imatrix->is_legacy);
          if ((int64_t)imp.size() != cols) {
            if (s.name != "token_embd.weight") {
              return error(strformat("%s: imatrix entry %s has %zu values, the tensor has %lld "
                                     "columns",
                                     out_path.c_str(), s.name.c_str(), imp.size(),
                                     (long long)cols));
            }
          } else {
            for (float x : imp)
              if (!std::isfinite(x) || x < 0)
                return error("imatrix entry " + s.name + " has a negative or non-finite value");
            importance = imp.data();
            ++stats.imatrix_used;
          }
        }
      }
      f32.resize((size_t)(rows * cols));
      auto st = to_f32(v, rows, cols, f32.data(), &pool);
      if (!st.ok()) return error(out_path + ": tensor " + s.name + ": " + st.message());
      const uint64_t nbytes = infos[k].nbytes;
      out.resize(nbytes);
      st = quantize_tensor(t, f32.data(), rows, cols, out.data(), importance, &pool);
      if (!st.ok()) return error(out_path + ": tensor " + s.name + ": " + st.message());
      CARTLM_RETURN_IF_ERROR(writer.write_data(std::string_view((const char*)out.data(), nbytes)));
    }
    stats.bytes_out += infos[k].nbytes;
    done += s.view.nbytes;
    if (opt.progress) opt.progress(done, stats.bytes_in);
  }
  CARTLM_RETURN_IF_ERROR(writer.finish());
  stats.tensors = src.size();
  return stats;
}

}  // namespace cartlm
