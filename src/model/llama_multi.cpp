#include "model/llama_multi.h"

#include <cstring>
#include <set>

#include "core/strings.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "quant/quant.h"

namespace cartlm {

namespace {

void linear(const float* x, size_t T, const TensorView& w, const std::vector<float>& bias,
            float* y, ThreadPool* pool) {
  matmul(x, T, (size_t)w.dim(1), w.dtype, w.data, (size_t)w.dim(0),
         bias.empty() ? nullptr : bias.data(), y, pool);
}

// Same as llama.cpp's embed_row: a converted row for float types, a dequantized one for blocks.
void embed_row(const TensorView& emb, int32_t token, size_t H, float* out) {
  const size_t row = dtype_row_bytes(emb.dtype, H);
  const void* src = static_cast<const uint8_t*>(emb.data) + (size_t)token * row;
  if (matmul_supports(emb.dtype)) {
    convert_to_f32(emb.dtype, src, out, H);
  } else {
    quant_traits(emb.dtype)->dequantize_row(src, out, (int64_t)H);
  }
}

}  // namespace

Result<LlamaMultiScratch> llama_multi_scratch(const LlamaModel& m, size_t max_rows) {
  if (max_rows == 0) return error("llama_multi_scratch: max_rows must be at least 1");
  const Config& c = m.config;
  const size_t R = max_rows, H = (size_t)c.hidden_size, I = (size_t)c.intermediate_size;
  const size_t Q = (size_t)c.q_dim(), KV = (size_t)c.kv_dim(), V = (size_t)c.vocab_size;
  LlamaMultiScratch s;
  s.max_rows = R;
  s.x.assign(R * H, 0.0f);
  s.xn.assign(R * H, 0.0f);
  s.q.assign(R * Q, 0.0f);
  s.k.assign(R * KV, 0.0f);
  s.v.assign(R * KV, 0.0f);
  s.att.assign(R * Q, 0.0f);
  s.proj.assign(R * H, 0.0f);
  s.gate.assign(R * I, 0.0f);
  s.up.assign(R * I, 0.0f);
  s.positions.assign(R, 0);
  s.logits.assign(R * V, 0.0f);
  return s;
}

Status llama_forward_multi(const LlamaModel& m, std::span<LlamaSession* const> sessions,
                           std::span<const std::span<const int32_t>> tokens,
                           LlamaMultiScratch& sc, ThreadPool* pool) {
  const Config& c = m.config;
  if (sessions.size() != tokens.size()) {
    return error(strformat("llama_forward_multi: %zu sessions but %zu token spans",
                           sessions.size(), tokens.size()));
  }
  if (sessions.empty()) return error("llama_forward_multi: no sessions");
  size_t rows = 0;
  std::set<const LlamaSession*> seen;
  for (size_t i = 0; i < sessions.size(); ++i) {
    const LlamaSession& s = *sessions[i];
    const size_t n = tokens[i].size();
    if (!seen.insert(&s).second) return error(strformat("llama_forward_multi: session %zu repeats", i));
    if (n == 0) return error(strformat("llama_forward_multi: session %zu has no tokens", i));
    for (size_t t = 0; t < n; ++t) {
      if (tokens[i][t] < 0 || tokens[i][t] >= c.vocab_size) {
        return error(strformat("token id %d (session %zu, index %zu) is outside the vocabulary "
                               "(size %lld)", tokens[i][t], i, t, (long long)c.vocab_size));
      }
    }
    if (s.n_past + n > s.opt.max_seq) {
      return error(strformat("session %zu: %zu cached + %zu new tokens exceed max_seq %zu", i,
                             s.n_past, n, s.opt.max_seq));
    }
    if (s.opt.all_logits && n > s.opt.max_batch) {
      return error(strformat("session %zu: %zu tokens with all_logits exceed max_batch %zu", i, n,
                             s.opt.max_batch));
    }
    rows += n;
  }
  if (rows > sc.max_rows) {
    return error(strformat("llama_forward_multi: %zu tokens in all exceed the scratch's %zu rows",
                           rows, sc.max_rows));
  }

  const KernelTable& k = kernels();
  const size_t H = (size_t)c.hidden_size, I = (size_t)c.intermediate_size;
  const size_t Q = (size_t)c.q_dim(), KV = (size_t)c.kv_dim(), hd = (size_t)c.head_dim;
  const size_t n_head = (size_t)c.num_attention_heads, n_kv = (size_t)c.num_key_value_heads;
  const float eps = (float)c.rms_norm_eps;
  const size_t S = sessions.size();

  // Row offset of each session in the stacked matrices.
  std::vector<size_t> first(S + 1, 0);
  for (size_t i = 0; i < S; ++i) first[i + 1] = first[i] + tokens[i].size();
  for (size_t i = 0; i < S; ++i) {
    for (size_t t = 0; t < tokens[i].size(); ++t) {
      embed_row(m.weights.embed, tokens[i][t], H, sc.x.data() + (first[i] + t) * H);
      sc.positions[first[i] + t] = (int32_t)(sessions[i]->n_past + t);
    }
  }
  auto rms_rows = [&](const std::vector<float>& w) {
    auto one = [&](size_t r) { k.rmsnorm.fn(sc.x.data() + r * H, w.data(), eps, H, sc.xn.data() + r * H); };
    if (pool && rows > 1) {
      pool->parallel_for(rows, [&](size_t b, size_t e) {
        for (size_t r = b; r < e; ++r) one(r);
      });
    } else {
      for (size_t r = 0; r < rows; ++r) one(r);
    }
  };

  for (size_t l = 0; l < m.layers.size(); ++l) {
    const LayerWeights& w = m.weights.layers[l];
    const LlamaLayerSmall& sm = m.layers[l];
    rms_rows(sm.attn_norm);
    // One matmul per weight for all sessions' rows: the point of batching.
    linear(sc.xn.data(), rows, w.wq, sm.bq, sc.q.data(), pool);
    linear(sc.xn.data(), rows, w.wk, sm.bk, sc.k.data(), pool);
    linear(sc.xn.data(), rows, w.wv, sm.bv, sc.v.data(), pool);
    rope(sc.q.data(), rows, n_head, hd, 0, sc.positions.data(), m.inv_freq.data(), m.rope_mode);
    rope(sc.k.data(), rows, n_kv, hd, 0, sc.positions.data(), m.inv_freq.data(), m.rope_mode);
    // Keys/values into each session's cache, then attention per session.
    for (size_t i = 0; i < S; ++i) {
      LlamaSession& s = *sessions[i];
      const bool f16 = s.opt.kv_type == DType::F16;
      const size_t elem = f16 ? 2 : 4;
      uint8_t* kc = s.k_cache.data() + l * s.layer_cache_bytes;
      uint8_t* vc = s.v_cache.data() + l * s.layer_cache_bytes;
      const size_t T = tokens[i].size();
      for (size_t t = 0; t < T; ++t) {
        const size_t off = (s.n_past + t) * KV * elem;
        const float* kr = sc.k.data() + (first[i] + t) * KV;
        const float* vr = sc.v.data() + (first[i] + t) * KV;
        if (f16) {
          k.f32_to_f16.fn(kr, reinterpret_cast<uint16_t*>(kc + off), KV);
          k.f32_to_f16.fn(vr, reinterpret_cast<uint16_t*>(vc + off), KV);
        } else {
          std::memcpy(kc + off, kr, KV * 4);
          std::memcpy(vc + off, vr, KV * 4);
        }
      }
      AttentionShape as;
      as.n_head = n_head;
      as.n_kv = n_kv;
      as.head_dim = hd;
      as.T = T;
      as.pos0 = s.n_past;
      as.kv_type = s.opt.kv_type;
      attention(k, as, sc.q.data() + first[i] * Q, kc, vc, sc.att.data() + first[i] * Q, pool);
    }
    linear(sc.att.data(), rows, w.wo, {}, sc.proj.data(), pool);
    k.add.fn(sc.x.data(), sc.proj.data(), sc.x.data(), rows * H);
    rms_rows(sm.ffn_norm);
    linear(sc.xn.data(), rows, w.w_gate, {}, sc.gate.data(), pool);
    linear(sc.xn.data(), rows, w.w_up, {}, sc.up.data(), pool);
    k.swiglu.fn(sc.gate.data(), sc.up.data(), sc.gate.data(), rows * I);
    linear(sc.gate.data(), rows, w.w_down, {}, sc.proj.data(), pool);
    k.add.fn(sc.x.data(), sc.proj.data(), sc.x.data(), rows * H);
  }

  // Logits only for the rows the sessions keep (the last one each, or all with all_logits),
  // gathered into consecutive rows so the lm_head is still one matmul.
  const size_t V = (size_t)c.vocab_size;
  size_t lrows = 0;
  for (size_t i = 0; i < S; ++i) {
    const size_t T = tokens[i].size();
    const size_t from = sessions[i]->opt.all_logits ? 0 : T - 1;
    for (size_t t = from; t < T; ++t, ++lrows) {
      k.rmsnorm.fn(sc.x.data() + (first[i] + t) * H, m.final_norm.data(), eps, H,
                   sc.xn.data() + lrows * H);
    }
  }
  linear(sc.xn.data(), lrows, m.weights.lm_head, {}, sc.logits.data(), pool);
  size_t at = 0;
  for (size_t i = 0; i < S; ++i) {
    LlamaSession& s = *sessions[i];
    const size_t T = tokens[i].size();
    const size_t n = s.opt.all_logits ? T : 1;
    std::memcpy(s.logits.data(), sc.logits.data() + at * V, n * V * sizeof(float));
    at += n;
    s.n_logits = n;
    s.n_past += T;
  }
  return {};
}

}  // namespace cartlm
