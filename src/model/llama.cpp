#include "model/llama.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "core/check.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/llama_internal.h"
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

// Appends the keys/values of T new rows of `s` to its layer-l cache at positions n_past...
void store_kv(const KernelTable& k, LlamaSession& s, size_t l, const float* keys,
              const float* values, size_t T, size_t KV) {
  const bool f16_cache = s.opt.kv_type == DType::F16;
  const size_t kv_elem = f16_cache ? 2 : 4;
  uint8_t* kc = s.k_cache.data() + l * s.layer_cache_bytes;
  uint8_t* vc = s.v_cache.data() + l * s.layer_cache_bytes;
  for (size_t t = 0; t < T; ++t) {
    const size_t off = (s.n_past + t) * KV * kv_elem;
    if (f16_cache) {
      k.f32_to_f16.fn(keys + t * KV, reinterpret_cast<uint16_t*>(kc + off), KV);
      k.f32_to_f16.fn(values + t * KV, reinterpret_cast<uint16_t*>(vc + off), KV);
    } else {
      std::memcpy(kc + off, keys + t * KV, KV * 4);
      std::memcpy(vc + off, values + t * KV, KV * 4);
    }
  }
}

}  // namespace

void llama_step(const LlamaModel& m, std::span<LlamaSession* const> sessions,
                std::span<const std::span<const int32_t>> tokens, bool logits, LlamaScratch& sc,
                ThreadPool* pool) {
  const Config& c = m.config;
  const KernelTable& k = kernels();
  const size_t H = (size_t)c.hidden_size, I = (size_t)c.intermediate_size;
  const size_t Q = (size_t)c.q_dim(), KV = (size_t)c.kv_dim(), hd = (size_t)c.head_dim;
  const size_t n_head = (size_t)c.num_attention_heads, n_kv = (size_t)c.num_key_value_heads;
  const float eps = (float)c.rms_norm_eps;
  const size_t S = sessions.size();
  CARTLM_CHECK(S > 0 && S == tokens.size());

  // Embeddings and positions, the sessions' rows one group after another.
  size_t T = 0;
  for (size_t i = 0; i < S; ++i) {
    CARTLM_CHECK(!tokens[i].empty() && T + tokens[i].size() <= sc.max_rows);
    for (size_t t = 0; t < tokens[i].size(); ++t, ++T) {
      embed_row(m.weights.embed, tokens[i][t], H, sc.x.data() + T * H);
      sc.positions[T] = (int32_t)(sessions[i]->n_past + t);
    }
  }

  for (size_t l = 0; l < m.layers.size(); ++l) {
    const LayerWeights& w = m.weights.layers[l];
    const LlamaLayerSmall& sm = m.layers[l];

    // Attention block: x += o_proj(attention(rope(q), rope(k), v)) of rmsnorm(x). The
    // projections are one matmul over every session's rows; attention is per session, against
    // its own cache and positions.
    for_rows(T, pool, [&](size_t t) { k.rmsnorm.fn(sc.x.data() + t * H, sm.attn_norm.data(), eps, H, sc.xn.data() + t * H); });
    linear(sc.xn.data(), T, w.wq, sm.bq, sc.q.data(), pool);
    linear(sc.xn.data(), T, w.wk, sm.bk, sc.k.data(), pool);
    linear(sc.xn.data(), T, w.wv, sm.bv, sc.v.data(), pool);
    rope(sc.q.data(), T, n_head, hd, 0, sc.positions.data(), m.inv_freq.data(), m.rope_mode);
    rope(sc.k.data(), T, n_kv, hd, 0, sc.positions.data(), m.inv_freq.data(), m.rope_mode);
    for (size_t i = 0, r = 0; i < S; r += tokens[i].size(), ++i) {
      LlamaSession& s = *sessions[i];
      store_kv(k, s, l, sc.k.data() + r * KV, sc.v.data() + r * KV, tokens[i].size(), KV);
      AttentionShape as;
      as.n_head = n_head;
      as.n_kv = n_kv;
      as.head_dim = hd;
      as.T = tokens[i].size();
      as.pos0 = s.n_past;
      as.kv_type = s.opt.kv_type;
      attention(k, as, sc.q.data() + r * Q, s.k_cache.data() + l * s.layer_cache_bytes,
                s.v_cache.data() + l * s.layer_cache_bytes, sc.att.data() + r * Q, pool);
    }
    linear(sc.att.data(), T, w.wo, {}, sc.proj.data(), pool);
    for_span(T * H, pool, [&](size_t b, size_t n) { k.add.fn(sc.x.data() + b, sc.proj.data() + b, sc.x.data() + b, n); });

    // MLP block: x += down(silu(gate(h)) * up(h)), h = rmsnorm(x).
    for_rows(T, pool, [&](size_t t) { k.rmsnorm.fn(sc.x.data() + t * H, sm.ffn_norm.data(), eps, H, sc.xn.data() + t * H); });
    linear(sc.xn.data(), T, w.w_gate, {}, sc.gate.data(), pool);
    linear(sc.xn.data(), T, w.w_up, {}, sc.up.data(), pool);
    for_span(T * I, pool, [&](size_t b, size_t n) { k.swiglu.fn(sc.gate.data() + b, sc.up.data() + b, sc.gate.data() + b, n); });
    linear(sc.gate.data(), T, w.w_down, {}, sc.proj.data(), pool);
    for_span(T * H, pool, [&](size_t b, size_t n) { k.add.fn(sc.x.data() + b, sc.proj.data() + b, sc.x.data() + b, n); });
  }

  // Logits of the rows the sessions keep only (the lm_head is the largest matrix of a small
  // model), normed into consecutive rows so that the lm_head is still one matmul. One session's
  // rows fit its own logits; several sessions' go through sc.logits and are copied out.
  if (logits) {
    const size_t V = (size_t)c.vocab_size;
    size_t n = 0;
    for (size_t i = 0, r = 0; i < S; r += tokens[i].size(), ++i) {
      for (size_t t = sessions[i]->opt.all_logits ? 0 : tokens[i].size() - 1; t < tokens[i].size(); ++t, ++n)
        k.rmsnorm.fn(sc.x.data() + (r + t) * H, m.final_norm.data(), eps, H, sc.xn.data() + n * H);
    }
    CARTLM_CHECK(S == 1 ? n * V <= sessions[0]->logits.size() : n * V <= sc.logits.size());
    float* out = S == 1 ? sessions[0]->logits.data() : sc.logits.data();
    linear(sc.xn.data(), n, m.weights.lm_head, {}, out, pool);
    for (size_t i = 0, at = 0; i < S; ++i) {
      LlamaSession& s = *sessions[i];
      s.n_logits = s.opt.all_logits ? tokens[i].size() : 1;
      if (S > 1) std::memcpy(s.logits.data(), out + at * V, s.n_logits * V * sizeof(float));
      at += s.n_logits;
    }
  }
  for (size_t i = 0; i < S; ++i) sessions[i]->n_past += tokens[i].size();
}

Status llama_check_feed(const LlamaModel& m, const LlamaSession& s, std::span<const int32_t> tokens,
                        size_t index) {
  // Multi-session calls name the session; the single-session messages stay as they were.
  auto fail = [&](const std::string& what) {
    return error(index == SIZE_MAX ? what : strformat("session %zu: %s", index, what.c_str()));
  };
  const size_t n = tokens.size();
  if (n == 0) return fail(index == SIZE_MAX ? "llama_forward: no tokens to feed" : "no tokens");
  for (size_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= m.config.vocab_size)
      return fail(strformat("token id %d at index %zu is outside the vocabulary (size %lld)",
                            tokens[i], i, (long long)m.config.vocab_size));
  if (s.n_past + n > s.opt.max_seq)
    return fail(strformat("sequence too long: %zu cached + %zu new tokens exceed max_seq %zu; "
                          "hint: create the session with a larger max_seq",
                          s.n_past, n, s.opt.max_seq));
  if (s.opt.all_logits && n > s.opt.max_batch)
    return fail(strformat("%zu tokens in one call with all_logits exceed max_batch %zu; hint: "
                          "split the call or raise max_batch", n, s.opt.max_batch));
  return {};
}

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

size_t LlamaScratch::bytes() const {
  const size_t f = x.size() + xn.size() + q.size() + k.size() + v.size() + att.size() +
                   proj.size() + gate.size() + up.size() + logits.size();
  return f * sizeof(float) + positions.size() * sizeof(int32_t);
}

Result<LlamaScratch> llama_scratch(const LlamaModel& m, size_t max_rows, bool stacked_logits) {
  if (max_rows == 0) return error("llama_scratch: max_rows must be at least 1");
  const Config& c = m.config;
  const size_t R = max_rows, H = (size_t)c.hidden_size, I = (size_t)c.intermediate_size;
  const size_t Q = (size_t)c.q_dim(), KV = (size_t)c.kv_dim(), V = (size_t)c.vocab_size;
  LlamaScratch sc;
  sc.max_rows = R;
  sc.x.assign(R * H, 0.0f);
  sc.xn.assign(R * H, 0.0f);
  sc.q.assign(R * Q, 0.0f);
  sc.k.assign(R * KV, 0.0f);
  sc.v.assign(R * KV, 0.0f);
  sc.att.assign(R * Q, 0.0f);
  sc.proj.assign(R * H, 0.0f);
  sc.gate.assign(R * I, 0.0f);
  sc.up.assign(R * I, 0.0f);
  sc.positions.assign(R, 0);
  if (stacked_logits) sc.logits.assign(R * V, 0.0f);
  return sc;
}

size_t LlamaSession::bytes() const {
  return k_cache.size() + v_cache.size() + scratch.bytes() + logits.size() * sizeof(float);
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
  const size_t KV = (size_t)c.kv_dim(), V = (size_t)c.vocab_size;
  s.layer_cache_bytes = s.opt.max_seq * KV * (s.opt.kv_type == DType::F16 ? 2 : 4);
  s.k_cache.assign(s.layer_cache_bytes * (size_t)c.num_hidden_layers, 0);
  s.v_cache.assign(s.k_cache.size(), 0);
  CARTLM_ASSIGN_OR_RETURN(s.scratch, llama_scratch(m, s.opt.max_batch, false));
  s.vocab = V;
  s.logits.assign((s.opt.all_logits ? s.opt.max_batch : 1) * V, 0.0f);
  return s;
}

Status llama_forward(const LlamaModel& m, LlamaSession& s, std::span<const int32_t> tokens,
                     ThreadPool* pool) {
  CARTLM_RETURN_IF_ERROR(llama_check_feed(m, s, tokens, SIZE_MAX));
  // The one-session case of llama_step, in chunks of max_batch rows (the session's scratch);
  // only the last chunk's logits are kept.
  LlamaSession* one[1] = {&s};
  const size_t n = tokens.size();
  for (size_t b = 0; b < n; b += s.opt.max_batch) {
    const size_t T = n - b < s.opt.max_batch ? n - b : s.opt.max_batch;
    const std::span<const int32_t> chunk[1] = {tokens.subspan(b, T)};
    llama_step(m, one, chunk, b + T == n, s.scratch, pool);
  }
  return {};
}

void llama_truncate(LlamaSession& s, size_t n) {
  CARTLM_CHECK(n <= s.n_past);
  s.n_past = n;
  s.n_logits = 0;
}

}  // namespace cartlm
