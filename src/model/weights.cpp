#include "model/weights.h"

#include <set>

#include "core/strings.h"

namespace cartlm {

std::string hf_layer_prefix(int64_t layer) {
  return "model.layers." + std::to_string(layer) + ".";
}

namespace {

enum class Kind { Matrix, Vector };  // matrices may be block-quantized; vectors stay float

struct Slot {
  std::string name;
  std::vector<int64_t> shape;
  Kind kind;
  TensorView* out;
};

bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

bool is_block_quant(DType t) {
  const DTypeInfo* info = dtype_info(t);
  return info && info->block_size > 1;
}

Status check_slot(const Slot& s, const TensorMap& tensors, std::set<std::string>& used) {
  auto it = tensors.find(s.name);
  if (it == tensors.end()) return error("missing tensor " + s.name);
  const TensorView& t = it->second;
  if (t.shape != s.shape)
    return error("tensor " + s.name + " has shape " + shape_str(t.shape) + ", expected " +
                 shape_str(s.shape));
  const bool dtype_ok = is_float(t.dtype) || (s.kind == Kind::Matrix && is_block_quant(t.dtype));
  if (!dtype_ok)
    return error("tensor " + s.name + " has dtype " + dtype_name(t.dtype) + ", expected " +
                 (s.kind == Kind::Matrix ? "F32, F16, BF16 or a GGUF block type"
                                         : "F32, F16 or BF16"));
  // The byte count must match the shape, or a reader would run off the end of the mapping.
  const uint64_t inner = (uint64_t)s.shape.back();
  const DTypeInfo* info = dtype_info(t.dtype);
  if (inner % info->block_size != 0)
    return error(strformat("tensor %s: row length %llu is not a multiple of the %s block size %u",
                           s.name.c_str(), (unsigned long long)inner, info->name,
                           info->block_size));
  uint64_t rows = 1;
  for (size_t i = 0; i + 1 < s.shape.size(); ++i) rows *= (uint64_t)s.shape[i];
  const uint64_t want = rows * dtype_row_bytes(t.dtype, inner);
  if (t.nbytes != want)
    return error(strformat("tensor %s holds %llu bytes, expected %llu for %s %s", s.name.c_str(),
                           (unsigned long long)t.nbytes, (unsigned long long)want, info->name,
                           shape_str(s.shape).c_str()));
  if (t.data == nullptr && want > 0) return error("tensor " + s.name + " has no data");
  *s.out = t;
  used.insert(s.name);
  return {};
}

// The expected tensors in file order; `out` points into `w` (nullptr when w is null).
std::vector<Slot> slots(const Config& c, ModelWeights* w) {
  const int64_t H = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
  const int64_t Q = c.q_dim(), KV = c.kv_dim();
  std::vector<Slot> s;
  s.push_back({"model.embed_tokens.weight", {V, H}, Kind::Matrix, w ? &w->embed : nullptr});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    LayerWeights* l = w ? &w->layers[(size_t)i] : nullptr;
    const std::string p = hf_layer_prefix(i);
    s.push_back({p + "input_layernorm.weight", {H}, Kind::Vector, l ? &l->attn_norm : nullptr});
    s.push_back({p + "self_attn.q_proj.weight", {Q, H}, Kind::Matrix, l ? &l->wq : nullptr});
    s.push_back({p + "self_attn.k_proj.weight", {KV, H}, Kind::Matrix, l ? &l->wk : nullptr});
    s.push_back({p + "self_attn.v_proj.weight", {KV, H}, Kind::Matrix, l ? &l->wv : nullptr});
    if (c.attention_bias) {
      s.push_back({p + "self_attn.q_proj.bias", {Q}, Kind::Vector, l ? &l->bq : nullptr});
      s.push_back({p + "self_attn.k_proj.bias", {KV}, Kind::Vector, l ? &l->bk : nullptr});
      s.push_back({p + "self_attn.v_proj.bias", {KV}, Kind::Vector, l ? &l->bv : nullptr});
    }
    s.push_back({p + "self_attn.o_proj.weight", {H, Q}, Kind::Matrix, l ? &l->wo : nullptr});
    s.push_back({p + "post_attention_layernorm.weight", {H}, Kind::Vector,
                 l ? &l->ffn_norm : nullptr});
    s.push_back({p + "mlp.gate_proj.weight", {I, H}, Kind::Matrix, l ? &l->w_gate : nullptr});
    s.push_back({p + "mlp.up_proj.weight", {I, H}, Kind::Matrix, l ? &l->w_up : nullptr});
    s.push_back({p + "mlp.down_proj.weight", {H, I}, Kind::Matrix, l ? &l->w_down : nullptr});
  }
  s.push_back({"model.norm.weight", {H}, Kind::Vector, w ? &w->final_norm : nullptr});
  if (!c.tie_word_embeddings)
    s.push_back({"lm_head.weight", {V, H}, Kind::Matrix, w ? &w->lm_head : nullptr});
  return s;
}

}  // namespace

Result<ModelWeights> bind_weights(const Config& c, const TensorMap& tensors) {
  ModelWeights w;
  w.layers.resize((size_t)c.num_hidden_layers);
  std::set<std::string> used;
  for (const Slot& s : slots(c, &w)) CARTLM_RETURN_IF_ERROR(check_slot(s, tensors, used));
  if (c.tie_word_embeddings) {
    w.lm_head = w.embed;
    // Tied checkpoints may still carry a copy of lm_head.weight; it must then agree in shape.
    auto it = tensors.find("lm_head.weight");
    if (it != tensors.end()) {
      if (it->second.shape != w.embed.shape)
        return error("tensor lm_head.weight has shape " + shape_str(it->second.shape) +
                     ", expected " + shape_str(w.embed.shape));
      used.insert(it->first);
    }
  }
  for (const auto& [name, t] : tensors)
    if (!used.count(name)) w.unused.push_back(name);
  return w;
}

std::vector<ExpectedTensor> expected_tensors(const Config& c) {
  std::vector<ExpectedTensor> out;
  for (const Slot& s : slots(c, nullptr)) out.push_back({s.name, s.shape});
  return out;
}

}  // namespace cartlm
