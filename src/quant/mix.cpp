#include "quant/mix.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/strings.h"
#include "quant/quant.h"

namespace cartlm {
namespace {

constexpr QuantMix kMixes[] = {
    {"F32", FileType::F32, DType::F32},          {"F16", FileType::F16, DType::F16},
    {"Q4_0", FileType::Q4_0, DType::Q4_0},       {"Q4_1", FileType::Q4_1, DType::Q4_1},
    {"Q8_0", FileType::Q8_0, DType::Q8_0},       {"Q5_0", FileType::Q5_0, DType::Q5_0},
    {"Q5_1", FileType::Q5_1, DType::Q5_1},       {"Q2_K", FileType::Q2_K, DType::Q2_K},
    {"Q3_K_S", FileType::Q3_K_S, DType::Q3_K},   {"Q3_K_M", FileType::Q3_K_M, DType::Q3_K},
    {"Q3_K_L", FileType::Q3_K_L, DType::Q3_K},   {"Q4_K_S", FileType::Q4_K_S, DType::Q4_K},
    {"Q4_K_M", FileType::Q4_K_M, DType::Q4_K},   {"Q5_K_S", FileType::Q5_K_S, DType::Q5_K},
    {"Q5_K_M", FileType::Q5_K_M, DType::Q5_K},   {"Q6_K", FileType::Q6_K, DType::Q6_K},
    {"BF16", FileType::BF16, DType::BF16},
};

// Layer index of "blk.N....", -1 otherwise (what sscanf("blk.%d.") leaves in llama.cpp).
int layer_of(const std::string& name) {
  int layer = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) return -1;
  return layer;
}

// ggml_n_dims: dimensions up to the last one larger than 1 (at least 1).
int n_dims(const std::vector<int64_t>& ne) {
  int n = 1;
  for (size_t i = 1; i < ne.size(); ++i)
    if (ne[i] > 1) n = (int)i + 1;
  return n;
}

int64_t block_size(DType t) {
  const QuantTraits* tr = quant_traits(t);
  return tr ? tr->block_size : 1;
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

enum class Category { Output, TokenEmbd, AttnV, AttnOutput, FfnDown, Other };

// tensor_get_category, restricted to what dense llama/qwen2 models contain.
Category category_of(const std::string& name) {
  if (name == "output.weight") return Category::Output;
  if (name == "token_embd.weight") return Category::TokenEmbd;
  if (contains(name, "attn_v.weight")) return Category::AttnV;
  if (contains(name, "attn_output.weight")) return Category::AttnOutput;
  if (contains(name, "ffn_down")) return Category::FfnDown;
  return Category::Other;
}

bool use_more_bits(int64_t i, int64_t n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

// tensor_type_fallback: a type whose block divides ne[0].
DType fallback(DType t, int64_t ncols, int& n_fallback) {
  if (ncols % block_size(t) == 0) return t;
  ++n_fallback;
  DType r = t;
  switch (t) {
    case DType::Q2_K:
    case DType::Q3_K: r = DType::Q4_0; break;
    case DType::Q4_K: r = DType::Q5_0; break;
    case DType::Q5_K: r = DType::Q5_1; break;
    case DType::Q6_K: r = DType::Q8_0; break;
    default: r = DType::F16; break;  // the 32-blocks: llama.cpp would throw; F16 always fits
  }
  if (ncols % block_size(r) != 0) r = DType::F16;
  return r;
}

struct State {
  int64_t n_attention_wv = 0;
  int64_t i_attention_wv = 0;
  int64_t i_ffn_down = 0;
  int64_t n_layer = 0;
  int64_t n_gqa = 1;
  bool tied = true;
  bool has_imatrix = false;
};

// llama_tensor_get_type_impl for a quantized default type.
DType choose(State& qs, FileType ft, DType new_type, const MixTensor& t, Category cat) {
  if (cat == Category::Output || (qs.tied && cat == Category::TokenEmbd)) {
    const int64_t nx = t.ne.empty() ? 0 : t.ne[0];
    if (nx % block_size(new_type) != 0) return DType::Q8_0;
    return new_type == DType::Q8_0 ? DType::Q8_0 : DType::Q6_K;
  }
  if (cat == Category::TokenEmbd) return new_type;
  if (cat == Category::AttnV) {
    if (ft == FileType::Q2_K) {
      new_type = qs.n_gqa >= 4 ? DType::Q4_K : DType::Q3_K;
    } else if (ft == FileType::Q3_K_M) {
      new_type = qs.i_attention_wv < 2 ? DType::Q5_K : DType::Q4_K;
    } else if (ft == FileType::Q3_K_L) {
      new_type = DType::Q5_K;
    } else if ((ft == FileType::Q4_K_M || ft == FileType::Q5_K_M) &&
               use_more_bits(qs.i_attention_wv, qs.n_attention_wv)) {
      new_type = DType::Q6_K;
    } else if (ft == FileType::Q4_K_S && qs.i_attention_wv < 4) {
      new_type = DType::Q5_K;
    }
    ++qs.i_attention_wv;
    return new_type;
  }
  if (cat == Category::FfnDown) {
    const int64_t i = qs.i_ffn_down, n = qs.n_layer;
    if (ft == FileType::Q2_K) {
      new_type = DType::Q3_K;
    } else if (ft == FileType::Q3_K_M) {
      new_type = i < n / 16 ? DType::Q5_K : DType::Q4_K;
    } else if (ft == FileType::Q3_K_L) {
      new_type = DType::Q5_K;
    } else if (ft == FileType::Q4_K_M) {
      if (use_more_bits(i, n)) new_type = DType::Q6_K;
    } else if (ft == FileType::Q5_K_M && use_more_bits(i, n)) {
      new_type = DType::Q6_K;
    } else if (ft == FileType::Q4_K_S && i < n / 8) {
      new_type = DType::Q5_K;
    } else if ((ft == FileType::Q4_0 || ft == FileType::Q5_0) && qs.has_imatrix && i < n / 8) {
      new_type = ft == FileType::Q4_0 ? DType::Q4_1 : DType::Q5_1;
    }
    ++qs.i_ffn_down;
    return new_type;
  }
  if (cat == Category::AttnOutput) {
    if (ft == FileType::Q2_K) return DType::Q3_K;
    if (ft == FileType::Q3_K_M) return DType::Q4_K;
    if (ft == FileType::Q3_K_L) return DType::Q5_K;
  }
  return new_type;
}

}  // namespace

std::span<const QuantMix> all_quant_mixes() { return kMixes; }

Result<QuantMix> quant_mix_from_name(const std::string& name) {
  std::string up = name;
  for (char& c : up) c = (char)std::toupper((unsigned char)c);
  std::string names;
  for (const QuantMix& m : kMixes) {
    if (up == m.name) return m;
    names += names.empty() ? "" : ", ";
    names += m.name;
  }
  return error(strformat("unknown quantization type '%s' (one of %s)", name.c_str(),
                         names.c_str()));
}

std::string file_type_name(uint32_t file_type) {
  for (const QuantMix& m : kMixes)
    if ((uint32_t)m.file_type == file_type) return m.name;
  return strformat("ftype %u", file_type);
}

bool mix_converts_tensor(const std::string& name, const std::vector<int64_t>& ne) {
  if (n_dims(ne) < 2) return false;
  if (name.size() < 6 || name.compare(name.size() - 6, 6, "weight") != 0) return false;
  return !contains(name, "_norm.weight");
}

std::vector<size_t> quant_mix_order(const std::vector<std::string>& names) {
  std::vector<size_t> order(names.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const int la = layer_of(names[a]), lb = layer_of(names[b]);
    if (la != lb) return la < lb;
    return names[a] < names[b];
  });
  return order;
}

Result<MixPlan> plan_quant_mix(const QuantMix& mix, const MixModel& model,
                               const std::vector<MixTensor>& tensors, bool has_imatrix) {
  if (model.n_layer <= 0 || model.n_head <= 0 || model.n_head_kv <= 0) {
    return error("quantization mix: block_count, head_count and head_count_kv must be positive");
  }
  MixPlan plan;
  plan.types.resize(tensors.size());
  std::vector<std::string> names;
  names.reserve(tensors.size());
  for (const MixTensor& t : tensors) names.push_back(t.name);
  plan.order = quant_mix_order(names);

  State qs;
  qs.n_layer = model.n_layer;
  qs.n_gqa = model.n_head / model.n_head_kv;
  qs.has_imatrix = has_imatrix;
  for (const MixTensor& t : tensors) {
    const Category c = category_of(t.name);
    if (c == Category::AttnV) ++qs.n_attention_wv;
    if (c == Category::Output) qs.tied = false;
  }
  const bool quantized_default = is_block_quantized(mix.default_type);
  for (size_t idx : plan.order) {
    const MixTensor& t = tensors[idx];
    if (!mix_converts_tensor(t.name, t.ne)) {
      plan.types[idx] = t.type;
      continue;
    }
    DType nt = mix.default_type;
    if (quantized_default) {
      nt = choose(qs, mix.file_type, nt, t, category_of(t.name));
      nt = fallback(nt, t.ne.empty() ? 0 : t.ne[0], plan.n_fallback);
    }
    plan.types[idx] = nt;
  }
  return plan;
}

}  // namespace cartlm
