#include "model/llama.h"

#include <cstring>
#include <string>

#include "core/check.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "quant/quant.h"

namespace cartlm {

namespace {

// Small tensors (norms, biases) may be stored as F16/BF16; the kernels take f32.
std::vector<float> to_f32(const TensorView& t) {
  std::vector<float> v((size_t)t.numel());
  convert_to_f32(t.dtype, t.data, v.data(), v.size());
  return v;
}

// y[T, out] = x[T, in] · W^T (+ bias). kernels' matmul() takes every weight dtype (block types
// quantize x once per call and run integer block dot products).
void linear(const float* x, size_t T, const TensorView& w, const std::vector<float>& bias, float* y,
            ThreadPool* pool) {
  const size_t out = (size_t)w.dim(0), in = (size_t)w.dim(1);
  matmul(x, T, in, w.dtype, w.data, out, bias.empty() ? nullptr : bias.data(), y, pool);
}

Status check_matrix(const TensorView& w) {
  if (!matmul_accepts(w.dtype))
    return error(strformat("tensor %s has dtype %s, which the forward pass cannot multiply "
                           "(F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K); hint: "
                           "requantize it to one of those", w.name.c_str(), dtype_name(w.dtype)));
  const DTypeInfo* info = dtype_info(w.dtype);
  const int64_t act_block = qdot_act_type(w.dtype) == DType::Q8_K ? 256 : 32;
  if (!matmul_supports(w.dtype) && (w.dim(1) % info->block_size != 0 || w.dim(1) % act_block != 0))
    return error(strformat("tensor %s: %lld columns is not a multiple of the %s block size",
                           w.name.c_str(), (long long)w.dim(1), dtype_name(w.dtype)));
  return {};
}

// One embedding row as f32: a copy/conversion for float types, a dequantized row for block types.
void embed_row(const TensorView& emb, int32_t token, size_t H, float* out) {
  const size_t row = dtype_row_bytes(emb.dtype, H);
  const void* src = static_cast<const uint8_t*>(emb.data) + (size_t)token * row;
  if (matmul_supports(emb.dtype))
    convert_to_f32(emb.dtype, src, out, H);
  else
    quant_traits(emb.dtype)->dequantize_row(src, out, (int64_t)H);
}

// Runs fn(t) for every token row, split over the pool when there is more than one.
template <class F>
void for_rows(size_t T, ThreadPool* pool, F&& fn) {
  if (pool && T > 1)
    pool->parallel_for(T, [&](size_t b, size_t e) {
      for (size_t t = b; t < e; ++t) fn(t);
    });
  else
    for (size_t t = 0; t < T; ++t) fn(t);
}

// Elementwise op over n floats, split over the pool in chunks of whole cache lines.
template <class F>
void for_span(size_t n, ThreadPool* pool, F&& fn) {
  if (pool && n >= 16384)
    pool->parallel_for(n, 16, [&](size_t b, size_t e) { fn(b, e - b); });
  else
    fn(0, n);
}

// One step of at most max_batch tokens; `want_logits` = which rows get logits (none, last, all).
enum class LogitRows { None, Last, All };

void forward_step(const LlamaModel& m, LlamaSession& s, const int32_t* tokens, size_t T,
                  LogitRows want, ThreadPool* pool) {
  const Config& c = m.config;
  const KernelTable& k = kernels();
  const size_t H = (size_t)c.hidden_size, I = (size_t)c.intermediate_size;
  const size_t KV = (size_t)c.kv_dim(), hd = (size_t)c.head_dim;
  const size_t n_head = (size_t)c.num_attention_heads, n_kv = (size_t)c.num_key_value_heads;
  const float eps = (float)c.rms_norm_eps;
  const bool f16_cache = s.opt.kv_type == DType::F16;
  const size_t kv_elem = f16_cache ? 2 : 4;

  // Embeddings.
  for (size_t t = 0; t < T; ++t) {
    embed_row(m.weights.embed, tokens[t], H, s.x.data() + t * H);
    s.positions[t] = (int32_t)(s.n_past + t);
  }

  AttentionShape as;
  as.n_head = n_head;
  as.n_kv = n_kv;
  as.head_dim = hd;
  as.T = T;
  as.pos0 = s.n_past;
  as.kv_type = s.opt.kv_type;

  for (size_t l = 0; l < m.layers.size(); ++l) {
    const LayerWeights& w = m.weights.layers[l];
    const LlamaLayerSmall& sm = m.layers[l];
    uint8_t* kc = s.k_cache.data() + l * s.layer_cache_bytes;
    uint8_t* vc = s.v_cache.data() + l * s.layer_cache_bytes;

    // Attention block: x += o_proj(attention(rope(q), rope(k), v)) of rmsnorm(x).
    for_rows(T, pool, [&](size_t t) { k.rmsnorm.fn(s.x.data() + t * H, sm.attn_norm.data(), eps, H, s.xn.data() + t * H); });
    linear(s.xn.data(), T, w.wq, sm.bq, s.q.data(), pool);
    linear(s.xn.data(), T, w.wk, sm.bk, s.k.data(), pool);
    linear(s.xn.data(), T, w.wv, sm.bv, s.v.data(), pool);
    rope(s.q.data(), T, n_head, hd, 0, s.positions.data(), m.inv_freq.data(), m.rope_mode);
    rope(s.k.data(), T, n_kv, hd, 0, s.positions.data(), m.inv_freq.data(), m.rope_mode);
    for (size_t t = 0; t < T; ++t) {
      const size_t off = (s.n_past + t) * KV * kv_elem;
      if (f16_cache) {
        k.f32_to_f16.fn(s.k.data() + t * KV, reinterpret_cast<uint16_t*>(kc + off), KV);
        k.f32_to_f16.fn(s.v.data() + t * KV, reinterpret_cast<uint16_t*>(vc + off), KV);
      } else {
        std::memcpy(kc + off, s.k.data() + t * KV, KV * 4);
        std::memcpy(vc + off, s.v.data() + t * KV, KV * 4);
      }
    }
    attention(k, as, s.q.data(), kc, vc, s.att.data(), pool);
    linear(s.att.data(), T, w.wo, {}, s.proj.data(), pool);
    for_span(T * H, pool, [&](size_t b, size_t n) { k.add.fn(s.x.data() + b, s.proj.data() + b, s.x.data() + b, n); });

    // MLP block: x += down(silu(gate(h)) * up(h)), h = rmsnorm(x).
    for_rows(T, pool, [&](size_t t) { k.rmsnorm.fn(s.x.data() + t * H, sm.ffn_norm.data(), eps, H, s.xn.data() + t * H); });
    linear(s.xn.data(), T, w.w_gate, {}, s.gate.data(), pool);
    linear(s.xn.data(), T, w.w_up, {}, s.up.data(), pool);
    for_span(T * I, pool, [&](size_t b, size_t n) { k.swiglu.fn(s.gate.data() + b, s.up.data() + b, s.gate.data() + b, n); });
    linear(s.gate.data(), T, w.w_down, {}, s.proj.data(), pool);
    for_span(T * H, pool, [&](size_t b, size_t n) { k.add.fn(s.x.data() + b, s.proj.data() + b, s.x.data() + b, n); });
  }

  // Logits of the requested rows only: the lm_head is the largest matrix of a small model.
  if (want != LogitRows::None) {
    const size_t first = want == LogitRows::All ? 0 : T - 1, rows = T - first;
    for (size_t t = first; t < T; ++t)
      k.rmsnorm.fn(s.x.data() + t * H, m.final_norm.data(), eps, H, s.xn.data() + t * H);
    linear(s.xn.data() + first * H, rows, m.weights.lm_head, {}, s.logits.data(), pool);
    s.n_logits = rows;
  }
  s.n_past += T;
}

}  // namespace

Result<LlamaModel> llama_model(const Config& config, const ModelWeights& weights,
                               RopeMode rope_mode) {
  if (config.head_dim <= 0 || config.head_dim % 2 != 0 || config.head_dim > 1024)
    return error(strformat("head_dim %lld is not supported (must be even and at most 1024)",
                           (long long)config.head_dim));
  if ((int64_t)weights.layers.size() != config.num_hidden_layers)
    return error(strformat("weights have %zu layers, config says num_hidden_layers = %lld",
                           weights.layers.size(), (long long)config.num_hidden_layers));
  const QuantTraits* emb_q = quant_traits(weights.embed.dtype);
  if (!matmul_supports(weights.embed.dtype) && !(emb_q && emb_q->weight_format))
    return error(strformat("tensor %s has dtype %s, which embedding lookup does not support "
                           "(F32, F16, BF16 or a GGUF block weight type)", weights.embed.name.c_str(),
                           dtype_name(weights.embed.dtype)));
  if (emb_q && config.hidden_size % emb_q->block_size != 0)
    return error(strformat("tensor %s: hidden size %lld is not a multiple of the %s block size",
                           weights.embed.name.c_str(), (long long)config.hidden_size, emb_q->name));
  CARTLM_RETURN_IF_ERROR(check_matrix(weights.lm_head));
  LlamaModel m;
  m.config = config;
  m.weights = weights;
  m.rope_mode = rope_mode;
  m.inv_freq = rope_inv_freq(config);
  m.final_norm = to_f32(weights.final_norm);
  for (const LayerWeights& w : weights.layers) {
    for (const TensorView* t : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down})
      CARTLM_RETURN_IF_ERROR(check_matrix(*t));
    LlamaLayerSmall sm;
    sm.attn_norm = to_f32(w.attn_norm);
    sm.ffn_norm = to_f32(w.ffn_norm);
    if (config.attention_bias) {
      sm.bq = to_f32(w.bq);
      sm.bk = to_f32(w.bk);
      sm.bv = to_f32(w.bv);
    }
    m.layers.push_back(std::move(sm));
  }
  return m;
}

size_t LlamaSession::bytes() const {
  size_t f = x.size() + xn.size() + q.size() + k.size() + v.size() + att.size() + proj.size() +
             gate.size() + up.size() + logits.size();
  return k_cache.size() + v_cache.size() + f * sizeof(float) + positions.size() * sizeof(int32_t);
}

Result<LlamaSession> llama_session(const LlamaModel& m, const LlamaSessionOptions& opt) {
  const Config& c = m.config;
  LlamaSession s;
  s.opt = opt;
  if (s.opt.max_seq == 0) s.opt.max_seq = (size_t)c.max_position_embeddings;
  if (s.opt.max_seq == 0) return error("max_seq is 0 and the config has no max_position_embeddings");
  if (s.opt.max_batch == 0) return error("max_batch must be at least 1");
  if (s.opt.kv_type != DType::F32 && s.opt.kv_type != DType::F16)
    return error(strformat("KV cache type %s is not supported; hint: use F32 or F16",
                           dtype_name(s.opt.kv_type)));
  const size_t B = s.opt.max_batch, H = (size_t)c.hidden_size, I = (size_t)c.intermediate_size;
  const size_t Q = (size_t)c.q_dim(), KV = (size_t)c.kv_dim(), V = (size_t)c.vocab_size;
  s.layer_cache_bytes = s.opt.max_seq * KV * (s.opt.kv_type == DType::F16 ? 2 : 4);
  s.k_cache.assign(s.layer_cache_bytes * (size_t)c.num_hidden_layers, 0);
  s.v_cache.assign(s.k_cache.size(), 0);
  s.x.assign(B * H, 0.0f);
  s.xn.assign(B * H, 0.0f);
  s.q.assign(B * Q, 0.0f);
  s.k.assign(B * KV, 0.0f);
  s.v.assign(B * KV, 0.0f);
  s.att.assign(B * Q, 0.0f);
  s.proj.assign(B * H, 0.0f);
  s.gate.assign(B * I, 0.0f);
  s.up.assign(B * I, 0.0f);
  s.positions.assign(B, 0);
  s.vocab = V;
  s.logits.assign((s.opt.all_logits ? B : 1) * V, 0.0f);
  return s;
}

Status llama_forward(const LlamaModel& m, LlamaSession& s, std::span<const int32_t> tokens,
                     ThreadPool* pool) {
  const size_t n = tokens.size();
  if (n == 0) return error("llama_forward: no tokens to feed");
  for (size_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= m.config.vocab_size)
      return error(strformat("token id %d at index %zu is outside the vocabulary (size %lld)",
                             tokens[i], i, (long long)m.config.vocab_size));
  if (s.n_past + n > s.opt.max_seq)
    return error(strformat("sequence too long: %zu cached + %zu new tokens exceed max_seq %zu; "
                           "hint: create the session with a larger max_seq",
                           s.n_past, n, s.opt.max_seq));
  if (s.opt.all_logits && n > s.opt.max_batch)
    return error(strformat("%zu tokens in one call with all_logits exceed max_batch %zu; hint: "
                           "split the call or raise max_batch", n, s.opt.max_batch));
  for (size_t b = 0; b < n; b += s.opt.max_batch) {
    const size_t T = n - b < s.opt.max_batch ? n - b : s.opt.max_batch;
    const bool last = b + T == n;
    LogitRows want = !last ? LogitRows::None : s.opt.all_logits ? LogitRows::All : LogitRows::Last;
    forward_step(m, s, tokens.data() + b, T, want, pool);
  }
  return {};
}

void llama_truncate(LlamaSession& s, size_t n) {
  CARTLM_CHECK(n <= s.n_past);
  s.n_past = n;
  s.n_logits = 0;
}

}  // namespace cartlm
