// The whole model for training: parameter/gradient arenas (llm.c fill_in_parameter_sizes),
// initialization, loading from a checkpoint, and forward/backward
//   embedding -> L blocks -> final rmsnorm -> LM head (tied or not) -> masked cross-entropy.
#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/check.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "train/ops.h"
#include "train/ops_internal.h"

namespace cartlm {

namespace td = train_detail;

const char* param_tensor_name(int t) {
  static const char* const kNames[kNumParamTensors] = {"wte",   "ln1w", "wq",    "bq",   "wk",
                                                       "bk",    "wv",   "bv",    "wo",   "ln2w",
                                                       "wgate", "wup",  "wdown", "lnfw", "lm_head"};
  CARTLM_CHECK(t >= 0 && t < kNumParamTensors);
  return kNames[t];
}

void fill_in_parameter_sizes(size_t sizes[kNumParamTensors], const Config& c) {
  const size_t V = (size_t)c.vocab_size, C = (size_t)c.hidden_size;
  const size_t I = (size_t)c.intermediate_size, L = (size_t)c.num_hidden_layers;
  const size_t QD = (size_t)c.q_dim(), KD = (size_t)c.kv_dim();
  const size_t bias = c.attention_bias ? 1 : 0;
  sizes[kParamWte] = V * C;
  sizes[kParamLn1w] = L * C;
  sizes[kParamWq] = L * QD * C;
  sizes[kParamBq] = bias * L * QD;
  sizes[kParamWk] = L * KD * C;
  sizes[kParamBk] = bias * L * KD;
  sizes[kParamWv] = L * KD * C;
  sizes[kParamBv] = bias * L * KD;
  sizes[kParamWo] = L * C * QD;
  sizes[kParamLn2w] = L * C;
  sizes[kParamWgate] = L * I * C;
  sizes[kParamWup] = L * I * C;
  sizes[kParamWdown] = L * C * I;
  sizes[kParamLnfw] = C;
  sizes[kParamLmHead] = c.tie_word_embeddings ? 0 : V * C;
}

void fill_in_lora_sizes(size_t sizes[kNumLoraTensors], const Config& c, const LoraConfig& lora) {
  const size_t L = (size_t)c.num_hidden_layers, R = (size_t)lora.rank;
  for (int s = 0; s < kNumLoraSites; ++s) {
    size_t in, out;
    lora_site_dims(c, s, &in, &out);
    sizes[2 * s] = lora.has(s) ? L * R * in : 0;
    sizes[2 * s + 1] = lora.has(s) ? L * out * R : 0;
  }
}

namespace {

// Points tensors[i] at consecutive slices of `base` (nullptr for size 0); returns the total.
template <class Real>
size_t point_tensors(Real** tensors, const size_t* sizes, int n, Real* base) {
  size_t off = 0;
  for (int i = 0; i < n; ++i) {
    tensors[i] = (sizes[i] && base) ? base + off : nullptr;
    off += sizes[i];
  }
  return off;
}

Status check_train_config(const Config& c, const TrainOptions& opt) {
  auto positive = [](int64_t v, const char* name) -> Status {
    if (v <= 0) return error(strformat("%s must be positive (got %lld)", name, (long long)v));
    return {};
  };
  CARTLM_RETURN_IF_ERROR(positive(c.vocab_size, "vocab_size"));
  CARTLM_RETURN_IF_ERROR(positive(c.hidden_size, "hidden_size"));
  CARTLM_RETURN_IF_ERROR(positive(c.intermediate_size, "intermediate_size"));
  CARTLM_RETURN_IF_ERROR(positive(c.num_hidden_layers, "num_hidden_layers"));
  CARTLM_RETURN_IF_ERROR(positive(c.num_attention_heads, "num_attention_heads"));
  CARTLM_RETURN_IF_ERROR(positive(c.num_key_value_heads, "num_key_value_heads"));
  CARTLM_RETURN_IF_ERROR(positive(c.head_dim, "head_dim"));
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    return error(strformat("num_key_value_heads (%lld) must divide num_attention_heads (%lld)",
                           (long long)c.num_key_value_heads, (long long)c.num_attention_heads));
  if (c.head_dim % 2 != 0 || c.head_dim > 1024)
    return error(strformat("head_dim (%lld) must be even and at most 1024", (long long)c.head_dim));
  if (c.mlp_bias) return error("mlp_bias is not supported by the training ops");
  if (opt.max_batch == 0) return error("max_batch must be at least 1");
  if (opt.use_lora) {
    const LoraConfig& l = opt.lora;
    if (l.rank <= 0)
      return error(strformat("LoRA rank must be positive (got %lld)", (long long)l.rank));
    if (!(l.alpha > 0.0)) return error(strformat("LoRA alpha must be positive (got %g)", l.alpha));
    if (!(l.dropout >= 0.0 && l.dropout < 1.0))
      return error(strformat("LoRA dropout must be in [0, 1) (got %g)", l.dropout));
    if ((l.sites & kLoraAllSites) == 0 || (l.sites & ~kLoraAllSites) != 0)
      return error("LoRA target modules: none of q,k,v,o,gate,up,down selected");
  }
  return {};
}

}  // namespace

template <class Real>
Result<TrainModel<Real>> train_model_create(const Config& config, const TrainOptions& opt) {
  Config c = config;
  CARTLM_RETURN_IF_ERROR(finalize_config(c, "training config"));
  CARTLM_RETURN_IF_ERROR(check_train_config(c, opt));
  if (opt.frozen_base && (!opt.use_lora || !std::is_same_v<Real, float>))
    return error("frozen_base needs use_lora and float parameters");
  TrainModel<Real> m;
  m.config = c;
  m.opt = opt;
  if (m.opt.max_seq == 0) m.opt.max_seq = (size_t)c.max_position_embeddings;
  if (m.opt.max_seq == 0) return error("max_seq must be at least 1");
  m.inv_freq = rope_inv_freq(c);

  fill_in_parameter_sizes(m.param_sizes, c);
  if (opt.frozen_base) {
    // Only norms and biases live in params; the matrices stay in the FrozenBase.
    for (int t : {kParamWte, kParamWq, kParamWk, kParamWv, kParamWo, kParamWgate, kParamWup,
                  kParamWdown, kParamLmHead})
      m.param_sizes[t] = 0;
  }
  m.num_parameters = point_tensors<Real>(m.params.t, m.param_sizes, kNumParamTensors, nullptr);
  m.params_memory.allocate(m.num_parameters);
  point_tensors(m.params.t, m.param_sizes, kNumParamTensors, m.params_memory.data());
  if (m.train_base()) {
    m.grads_memory.allocate(m.num_parameters);
    point_tensors(m.grads.t, m.param_sizes, kNumParamTensors, m.grads_memory.data());
  }
  if (opt.use_lora) {
    fill_in_lora_sizes(m.lora_sizes, c, opt.lora);
    m.num_lora_parameters = point_tensors<Real>(m.lora.t, m.lora_sizes, kNumLoraTensors, nullptr);
    m.lora_memory.allocate(m.num_lora_parameters);
    m.lora_grads_memory.allocate(m.num_lora_parameters);
    point_tensors(m.lora.t, m.lora_sizes, kNumLoraTensors, m.lora_memory.data());
    point_tensors(m.dlora.t, m.lora_sizes, kNumLoraTensors, m.lora_grads_memory.data());
  }
  const size_t B = opt.max_batch, T = m.opt.max_seq;
  make_train_activations(m.acts, c, opt.use_lora ? &m.opt.lora : nullptr, B, T);
  m.tokens.allocate(B * T);
  m.targets.allocate(B * T);
  m.positions.allocate(B * T);
  m.loss_mask.allocate(B * T);
  m.lens.allocate(B);
  m.head_rows.reserve(B * T);
  m.head_targets.reserve(B * T);
  return m;
}

template <class Real>
void train_model_init_random(TrainModel<Real>& m, Rng& rng) {
  const double std = m.config.initializer_range;
  for (int t = 0; t < kNumParamTensors; ++t) {
    Real* p = m.params.t[t];
    const size_t n = m.param_sizes[t];
    if (!p) continue;
    const bool norm = t == kParamLn1w || t == kParamLn2w || t == kParamLnfw;
    const bool bias = t == kParamBq || t == kParamBk || t == kParamBv;
    for (size_t i = 0; i < n; ++i)
      p[i] = norm ? Real(1) : bias ? Real(0) : (Real)(std * rng.normal());
  }
}

template <class Real>
void train_model_init_lora(TrainModel<Real>& m, Rng& rng) {
  const size_t L = (size_t)m.config.num_hidden_layers, R = (size_t)m.opt.lora.rank;
  for (int s = 0; s < kNumLoraSites; ++s) {
    if (!m.lora.t[2 * s]) continue;
    size_t in, out;
    lora_site_dims(m.config, s, &in, &out);
    const double bound = 1.0 / std::sqrt((double)in);
    Real* A = m.lora.t[2 * s];
    for (size_t i = 0; i < L * R * in; ++i)
      A[i] = (Real)(bound * (2.0 * rng.uniform_double() - 1.0));
    td::zero(m.lora.t[2 * s + 1], L * out * R);
  }
}

// ---------------------------------------------------------------------------------------------
// Names and loading
// ---------------------------------------------------------------------------------------------

std::vector<ParamSlot> param_slots(const Config& c) {
  size_t sizes[kNumParamTensors];
  fill_in_parameter_sizes(sizes, c);
  size_t start[kNumParamTensors];
  size_t off = 0;
  for (int t = 0; t < kNumParamTensors; ++t) start[t] = off, off += sizes[t];
  const int64_t V = c.vocab_size, C = c.hidden_size, I = c.intermediate_size;
  const int64_t QD = c.q_dim(), KD = c.kv_dim();
  std::vector<ParamSlot> slots;
  slots.push_back({"model.embed_tokens.weight", {V, C}, start[kParamWte]});
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = hf_layer_prefix(l);
    const size_t L = (size_t)l;
    slots.push_back({p + "input_layernorm.weight", {C}, start[kParamLn1w] + L * C});
    slots.push_back({p + "self_attn.q_proj.weight", {QD, C}, start[kParamWq] + L * QD * C});
    if (c.attention_bias)
      slots.push_back({p + "self_attn.q_proj.bias", {QD}, start[kParamBq] + L * QD});
    slots.push_back({p + "self_attn.k_proj.weight", {KD, C}, start[kParamWk] + L * KD * C});
    if (c.attention_bias)
      slots.push_back({p + "self_attn.k_proj.bias", {KD}, start[kParamBk] + L * KD});
    slots.push_back({p + "self_attn.v_proj.weight", {KD, C}, start[kParamWv] + L * KD * C});
    if (c.attention_bias)
      slots.push_back({p + "self_attn.v_proj.bias", {KD}, start[kParamBv] + L * KD});
    slots.push_back({p + "self_attn.o_proj.weight", {C, QD}, start[kParamWo] + L * C * QD});
    slots.push_back({p + "post_attention_layernorm.weight", {C}, start[kParamLn2w] + L * C});
    slots.push_back({p + "mlp.gate_proj.weight", {I, C}, start[kParamWgate] + L * I * C});
    slots.push_back({p + "mlp.up_proj.weight", {I, C}, start[kParamWup] + L * I * C});
    slots.push_back({p + "mlp.down_proj.weight", {C, I}, start[kParamWdown] + L * C * I});
  }
  slots.push_back({"model.norm.weight", {C}, start[kParamLnfw]});
  if (!c.tie_word_embeddings) slots.push_back({"lm_head.weight", {V, C}, start[kParamLmHead]});
  return slots;
}

std::vector<ParamSlot> lora_slots(const Config& c, const LoraConfig& lora) {
  size_t sizes[kNumLoraTensors];
  fill_in_lora_sizes(sizes, c, lora);
  size_t start[kNumLoraTensors];
  size_t off = 0;
  for (int t = 0; t < kNumLoraTensors; ++t) start[t] = off, off += sizes[t];
  const int64_t R = lora.rank;
  std::vector<ParamSlot> slots;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    for (int s = 0; s < kNumLoraSites; ++s) {
      if (!lora.has(s)) continue;
      size_t in, out;
      lora_site_dims(c, s, &in, &out);
      const std::string p = "base_model.model." + hf_layer_prefix(l) + lora_site_module(s);
      slots.push_back({p + ".lora_A.weight", {R, (int64_t)in}, start[2 * s] + (size_t)l * R * in});
      slots.push_back(
          {p + ".lora_B.weight", {(int64_t)out, R}, start[2 * s + 1] + (size_t)l * out * R});
    }
  }
  return slots;
}

Status train_model_load(TrainModel<float>& m, const ModelWeights& w) {
  const Config& c = m.config;
  if (m.opt.frozen_base)
    return error("train_model_load copies a full base; a frozen-base model loads with "
                 "train_model_for_adapter");
  if ((int64_t)w.layers.size() != c.num_hidden_layers)
    return error(strformat("weights have %zu layers, the training config %lld", w.layers.size(),
                           (long long)c.num_hidden_layers));
  // The views in param_slots order (the same order as the names).
  std::vector<const TensorView*> views;
  views.push_back(&w.embed);
  for (const LayerWeights& lw : w.layers) {
    views.push_back(&lw.attn_norm);
    views.push_back(&lw.wq);
    if (c.attention_bias) views.push_back(&lw.bq);
    views.push_back(&lw.wk);
    if (c.attention_bias) views.push_back(&lw.bk);
    views.push_back(&lw.wv);
    if (c.attention_bias) views.push_back(&lw.bv);
    views.push_back(&lw.wo);
    views.push_back(&lw.ffn_norm);
    views.push_back(&lw.w_gate);
    views.push_back(&lw.w_up);
    views.push_back(&lw.w_down);
  }
  views.push_back(&w.final_norm);
  if (!c.tie_word_embeddings) views.push_back(&w.lm_head);
  const std::vector<ParamSlot> slots = param_slots(c);
  CARTLM_CHECK(slots.size() == views.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    const TensorView& v = *views[i];
    int64_t n = 1;
    for (int64_t d : slots[i].shape) n *= d;
    if (!v.present() || v.data == nullptr) return error("missing tensor " + slots[i].name);
    if (v.numel() != n)
      return error(strformat("tensor %s has shape %s, expected %s", slots[i].name.c_str(),
                             shape_str(v.shape).c_str(), shape_str(slots[i].shape).c_str()));
    if (!matmul_supports(v.dtype))
      return error(strformat("tensor %s has dtype %s; training loads F32, F16 or BF16 only",
                             slots[i].name.c_str(), dtype_name(v.dtype)));
    convert_to_f32(v.dtype, v.data, m.params_memory.data() + slots[i].offset, (size_t)n);
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Forward / backward
// ---------------------------------------------------------------------------------------------

namespace {

// The frozen base a forward must use, nullptr when the matrices live in params. A frozen-base
// model without one attached is a bug of the caller.
template <class Real>
const FrozenBase* frozen_of(const TrainModel<Real>& m) {
  CARTLM_CHECK(!m.opt.frozen_base || m.frozen);
  const FrozenBase* fz = m.opt.frozen_base ? m.frozen.get() : nullptr;
  CARTLM_CHECK(!fz || fz->layers.size() == (size_t)m.config.num_hidden_layers);
  return fz;
}

template <class Real>
BlockConfig model_block_config(const TrainModel<Real>& m) {
  BlockConfig bc = block_config(m.config, m.B, m.T, m.opt.use_lora ? &m.opt.lora : nullptr);
  bc.lens = m.lens.data();
  bc.positions = m.positions.data();
  bc.inv_freq = m.inv_freq.data();
  if (!m.dropout_active) bc.lora_dropout = 0.0f;
  return bc;
}

}  // namespace

template <class Real>
double train_model_forward(TrainModel<Real>& m, const int32_t* tokens, const int32_t* targets,
                           const uint8_t* loss_mask, const int32_t* lens, size_t B, size_t T,
                           Rng* dropout_rng, ThreadPool* pool) {
  // tokens, targets, loss_mask (B, T); lens (B)
  CARTLM_CHECK(B >= 1 && B <= m.opt.max_batch && T >= 1 && T <= m.opt.max_seq);
  const Config& c = m.config;
  const size_t BT = B * T, C = (size_t)c.hidden_size, V = (size_t)c.vocab_size;
  const size_t L = (size_t)c.num_hidden_layers;
  m.B = B;
  m.T = T;
  for (size_t b = 0; b < B; ++b) {
    const int32_t len = lens ? lens[b] : (int32_t)T;
    CARTLM_CHECK(len >= 0 && (size_t)len <= T);
    m.lens.data()[b] = len;
    for (size_t t = 0; t < T; ++t) {
      const size_t i = b * T + t;
      m.tokens.data()[i] = tokens[i];
      m.targets.data()[i] = targets[i];
      m.positions.data()[i] = (int32_t)t;  // right padding: every sequence starts at position 0
      m.loss_mask.data()[i] = (t < (size_t)len && (!loss_mask || loss_mask[i])) ? 1 : 0;
    }
  }
  m.dropout_active = m.opt.use_lora && m.opt.lora.dropout > 0.0 && dropout_rng != nullptr;
  const BlockConfig bc = model_block_config(m);
  if (m.dropout_active) {
    for (size_t l = 0; l < L; ++l)
      for (int s = 0; s < kNumLoraSites; ++s) {
        if (!m.opt.lora.has(s)) continue;
        size_t in, out;
        lora_site_dims(c, s, &in, &out);
        lora_dropout_mask(m.acts.layers[l].lora_mask[s], BT * in, (float)m.opt.lora.dropout,
                          *dropout_rng);
      }
  }
  TrainActivations<Real>& a = m.acts;
  const FrozenBase* fz = frozen_of(m);
  if constexpr (std::is_same_v<Real, float>) {
    if (fz)
      embedding_forward_frozen(a.encoded, m.tokens.data(), fz->embed, BT, C, V);
    else
      embedding_forward(a.encoded, m.tokens.data(), m.params.t[kParamWte], BT, C, V);
  } else {
    embedding_forward(a.encoded, m.tokens.data(), m.params.t[kParamWte], BT, C, V);
  }
  const Real* x = a.encoded;
  for (size_t l = 0; l < L; ++l) {
    LayerParams<Real> lp = layer_params(m.params, c, l);
    if (fz) {
      lp.frozen = fz->layers[l].data();
      lp.frozen_scratch = m.frozen_scratch.data();
    }
    const LayerLora<Real> ll =
        m.opt.use_lora ? layer_lora(m.lora, c, m.opt.lora, l) : LayerLora<Real>{};
    block_forward(bc, lp, m.opt.use_lora ? &ll : nullptr, a.layers[l], a.scratch, x, pool);
    x = a.layers[l].out;
  }
  rmsnorm_forward(a.lnf, a.lnf_rstd, x, m.params.t[kParamLnfw], BT, C, bc.eps, pool);
  // The head's input: every row, or only the rows in the loss (gathered in order).
  const Real* head_in = a.lnf;
  size_t rows = BT;
  const int32_t* head_targets = m.targets.data();
  const uint8_t* mask = m.loss_mask.data();
  if (m.opt.head_on_loss_rows) {
    m.head_rows.clear();
    m.head_targets.clear();
    for (size_t i = 0; i < BT; ++i)
      if (m.loss_mask.data()[i]) {
        std::memcpy(a.head_in + m.head_rows.size() * C, a.lnf + i * C, C * sizeof(Real));
        m.head_rows.push_back((int32_t)i);
        m.head_targets.push_back(m.targets.data()[i]);
      }
    head_in = a.head_in;
    rows = m.head_rows.size();
    head_targets = m.head_targets.data();
    mask = nullptr;
  }
  if constexpr (std::is_same_v<Real, float>) {
    if (fz)
      matmul_forward_frozen(a.logits, head_in, fz->lm_head, nullptr, rows, C, V,
                            m.frozen_scratch.data(), pool);
    else
      matmul_forward(a.logits, head_in, m.params.lm_head(), (const Real*)nullptr, rows, C, V, pool);
  } else {
    matmul_forward(a.logits, head_in, m.params.lm_head(), (const Real*)nullptr, rows, C, V, pool);
  }
  m.loss = cross_entropy_forward(a.losses, a.lse, a.logits, head_targets, mask, rows, V, pool);
  return m.loss;
}

template <class Real>
void train_model_zero_grad(TrainModel<Real>& m) {
  td::zero(m.grads_memory.data(), m.grads_memory.size());
  td::zero(m.lora_grads_memory.data(), m.lora_grads_memory.size());
}

template <class Real>
void train_model_backward(TrainModel<Real>& m, ThreadPool* pool) {
  CARTLM_CHECK(m.B > 0);  // a forward ran
  const Config& c = m.config;
  const size_t BT = m.B * m.T, C = (size_t)c.hidden_size, V = (size_t)c.vocab_size;
  const size_t L = (size_t)c.num_hidden_layers;
  const BlockConfig bc = model_block_config(m);
  TrainActivations<Real>& a = m.acts;
  const bool base = m.train_base();
  // LM head and final norm. dlogits overwrite the logits. With head_on_loss_rows the head's
  // input gradient comes out dense (in dres, free until the norm below) and is scattered back.
  const bool gathered = m.opt.head_on_loss_rows;
  const size_t rows = gathered ? m.head_rows.size() : BT;
  cross_entropy_backward(a.logits, a.logits, a.lse,
                         gathered ? m.head_targets.data() : m.targets.data(),
                         gathered ? nullptr : m.loss_mask.data(), rows, V, 1.0, pool);
  Real* dhead = gathered ? a.dres : a.scratch.dln;
  const Real* head_in = gathered ? a.head_in : a.lnf;
  td::zero(dhead, rows * C);
  const FrozenBase* fz = frozen_of(m);
  if constexpr (std::is_same_v<Real, float>) {
    if (fz)
      matmul_backward_frozen(dhead, a.logits, fz->lm_head, rows, C, V, m.frozen_scratch.data(),
                             pool);
  }
  if (!fz)
    matmul_backward(dhead, base ? m.grads.lm_head() : (Real*)nullptr, (Real*)nullptr, a.logits,
                    head_in, m.params.lm_head(), rows, C, V, pool);
  if (gathered) {
    td::zero(a.scratch.dln, BT * C);
    for (size_t i = 0; i < rows; ++i)
      std::memcpy(a.scratch.dln + (size_t)m.head_rows[i] * C, dhead + i * C, C * sizeof(Real));
  }
  const Real* xL = L ? a.layers[L - 1].out : a.encoded;
  td::zero(a.dres, BT * C);
  rmsnorm_backward(a.dres, base ? m.grads.t[kParamLnfw] : (Real*)nullptr, a.scratch.dln, xL,
                   m.params.t[kParamLnfw], a.lnf_rstd, BT, C, pool);
  // Blocks, last to first; dres carries the residual-stream gradient down.
  for (size_t l = L; l-- > 0;) {
    LayerParams<Real> lp = layer_params(m.params, c, l);
    if (fz) {
      lp.frozen = fz->layers[l].data();
      lp.frozen_scratch = m.frozen_scratch.data();
    }
    const LayerParams<Real> dlp = layer_params(m.grads, c, l);
    LayerLora<Real> ll, dll;
    if (m.opt.use_lora) {
      ll = layer_lora(m.lora, c, m.opt.lora, l);
      dll = layer_lora(m.dlora, c, m.opt.lora, l);
    }
    const Real* inp = l ? a.layers[l - 1].out : a.encoded;
    block_backward(bc, lp, base ? &dlp : nullptr, m.opt.use_lora ? &ll : nullptr,
                   m.opt.use_lora ? &dll : nullptr, a.layers[l], a.scratch, inp, a.dres, pool);
  }
  if (base) embedding_backward(m.grads.t[kParamWte], a.dres, m.tokens.data(), BT, C, pool);
}

#define CARTLM_INSTANTIATE(Real)                                                                  \
  template Result<TrainModel<Real>> train_model_create<Real>(const Config&, const TrainOptions&); \
  template void train_model_init_random<Real>(TrainModel<Real>&, Rng&);                           \
  template void train_model_init_lora<Real>(TrainModel<Real>&, Rng&);                             \
  template double train_model_forward<Real>(TrainModel<Real>&, const int32_t*, const int32_t*,    \
                                            const uint8_t*, const int32_t*, size_t, size_t, Rng*, \
                                            ThreadPool*);                                         \
  template void train_model_zero_grad<Real>(TrainModel<Real>&);                                   \
  template void train_model_backward<Real>(TrainModel<Real>&, ThreadPool*);
CARTLM_INSTANTIATE(float)
CARTLM_INSTANTIATE(double)
#undef CARTLM_INSTANTIATE

}  // namespace cartlm
