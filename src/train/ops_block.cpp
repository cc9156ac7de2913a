// One Llama block, forward and backward, composed from the ops (train/ops.h), and the plan of every
// activation buffer of the model (one allocation, sized from Config and the max batch/sequence).
//
//   ln1 = rmsnorm(x);  q,k,v = ln1·Wᵀ (+b) (+LoRA);  rope(q), rope(k);  atty = attn(q, k, v)
//   res1 = x + atty·Woᵀ (+LoRA);  ln2 = rmsnorm(res1);  gate, up = ln2·Wᵀ (+LoRA)
//   swi = silu(gate)·up;  out = res1 + swi·Wdownᵀ (+LoRA)
#include <algorithm>
#include <type_traits>

#include "core/check.h"
#include "core/thread_pool.h"
#include "train/ops.h"
#include "train/ops_internal.h"

namespace cartlm {

namespace td = train_detail;

template <class Real>
LayerParams<Real> layer_params(const ParamTensors<Real>& p, const Config& c, size_t l) {
  const size_t C = (size_t)c.hidden_size, I = (size_t)c.intermediate_size;
  const size_t QD = (size_t)c.q_dim(), KD = (size_t)c.kv_dim();
  auto at = [&](int t, size_t per_layer) { return p.t[t] ? p.t[t] + l * per_layer : nullptr; };
  LayerParams<Real> lp;
  lp.ln1w = at(kParamLn1w, C);
  lp.wq = at(kParamWq, QD * C);
  lp.bq = at(kParamBq, QD);
  lp.wk = at(kParamWk, KD * C);
  lp.bk = at(kParamBk, KD);
  lp.wv = at(kParamWv, KD * C);
  lp.bv = at(kParamBv, KD);
  lp.wo = at(kParamWo, C * QD);
  lp.ln2w = at(kParamLn2w, C);
  lp.wgate = at(kParamWgate, I * C);
  lp.wup = at(kParamWup, I * C);
  lp.wdown = at(kParamWdown, C * I);
  return lp;
}

template <class Real>
LayerLora<Real> layer_lora(const LoraTensors<Real>& p, const Config& c, const LoraConfig& lora,
                           size_t l) {
  LayerLora<Real> ll;
  const size_t R = (size_t)lora.rank;
  for (int s = 0; s < kNumLoraSites; ++s) {
    if (!p.t[2 * s]) continue;
    size_t in, out;
    lora_site_dims(c, s, &in, &out);
    ll.A[s] = p.t[2 * s] + l * R * in;
    ll.B[s] = p.t[2 * s + 1] + l * out * R;
  }
  return ll;
}

BlockConfig block_config(const Config& c, size_t B, size_t T, const LoraConfig* lora) {
  BlockConfig bc;
  bc.B = B;
  bc.T = T;
  bc.C = (size_t)c.hidden_size;
  bc.I = (size_t)c.intermediate_size;
  bc.NH = (size_t)c.num_attention_heads;
  bc.KVH = (size_t)c.num_key_value_heads;
  bc.HD = (size_t)c.head_dim;
  bc.eps = (float)c.rms_norm_eps;
  if (lora) {
    bc.lora_rank = (size_t)lora->rank;
    bc.lora_scale = lora->scale();
    bc.lora_dropout = (float)lora->dropout;
  }
  return bc;
}

// ---------------------------------------------------------------------------------------------
// Activation plan
// ---------------------------------------------------------------------------------------------

namespace {

// Hands out consecutive slices of an arena; with base == nullptr it only counts. Every slice
// starts on a 64-byte boundary.
template <class E>
struct Carver {
  E* base = nullptr;
  size_t used = 0;
  E* take(size_t n) {
    if (n == 0) return nullptr;
    const size_t per_line = 64 / sizeof(E) ? 64 / sizeof(E) : 1;
    E* p = base ? base + used : nullptr;
    used += (n + per_line - 1) / per_line * per_line;
    return p;
  }
};

template <class Real>
void plan_activations(TrainActivations<Real>& a, const Config& c, const LoraConfig* lora,
                      Carver<Real>& cr, Carver<uint8_t>& cm) {
  const size_t BT = a.max_B * a.max_T, T = a.max_T;
  const size_t C = (size_t)c.hidden_size, I = (size_t)c.intermediate_size;
  const size_t NH = (size_t)c.num_attention_heads, QD = (size_t)c.q_dim(), KD = (size_t)c.kv_dim();
  const size_t V = (size_t)c.vocab_size, L = (size_t)c.num_hidden_layers;
  const size_t R = lora ? (size_t)lora->rank : 0;
  const bool masks = lora && lora->dropout > 0.0;
  a.layers.assign(L, BlockActs<Real>{});
  a.encoded = cr.take(BT * C);
  for (size_t l = 0; l < L; ++l) {
    BlockActs<Real>& b = a.layers[l];
    b.ln1 = cr.take(BT * C);
    b.ln1_rstd = cr.take(BT);
    b.q = cr.take(BT * QD);
    b.k = cr.take(BT * KD);
    b.v = cr.take(BT * KD);
    b.att = cr.take(a.max_B * NH * T * T);
    b.atty = cr.take(BT * QD);
    b.res1 = cr.take(BT * C);
    b.ln2 = cr.take(BT * C);
    b.ln2_rstd = cr.take(BT);
    b.gate = cr.take(BT * I);
    b.up = cr.take(BT * I);
    b.swi = cr.take(BT * I);
    b.out = cr.take(BT * C);
    for (int s = 0; s < kNumLoraSites; ++s) {
      if (!lora || !lora->has(s)) continue;
      size_t in, out;
      lora_site_dims(c, s, &in, &out);
      b.lora_h[s] = cr.take(BT * R);
      if (masks) b.lora_mask[s] = cm.take(BT * in);
    }
  }
  a.lnf = cr.take(BT * C);
  a.lnf_rstd = cr.take(BT);
  a.head_in = cr.take(BT * C);
  a.logits = cr.take(BT * V);
  a.losses = cr.take(BT);
  a.lse = cr.take(BT);
  a.dres = cr.take(BT * C);
  BlockScratch<Real>& s = a.scratch;
  s.dln = cr.take(BT * C);
  s.dq = cr.take(BT * QD);
  s.dk = cr.take(BT * KD);
  s.dv = cr.take(BT * KD);
  s.datty = cr.take(BT * QD);
  s.dgate = cr.take(BT * I);
  s.dup = cr.take(BT * I);
  s.dswi = cr.take(BT * I);
  s.lora_x = lora ? cr.take(BT * std::max({C, QD, I})) : nullptr;
  s.lora_dh = lora ? cr.take(BT * R) : nullptr;
  s.lora_bt = lora ? cr.take(R * std::max({C, QD, I})) : nullptr;
}

}  // namespace

template <class Real>
void make_train_activations(TrainActivations<Real>& acts, const Config& c, const LoraConfig* lora,
                            size_t max_B, size_t max_T) {
  CARTLM_CHECK(max_B > 0 && max_T > 0);
  acts.max_B = max_B;
  acts.max_T = max_T;
  Carver<Real> count;
  Carver<uint8_t> count_masks;
  plan_activations(acts, c, lora, count, count_masks);
  acts.mem.allocate(count.used);
  acts.masks.allocate(count_masks.used);
  Carver<Real> cr{acts.mem.data(), 0};
  Carver<uint8_t> cm{acts.masks.data(), 0};
  plan_activations(acts, c, lora, cr, cm);
  CARTLM_CHECK(cr.used == count.used && cm.used == count_masks.used);
}

// ---------------------------------------------------------------------------------------------
// Block forward / backward
// ---------------------------------------------------------------------------------------------

template <class Real>
void block_forward(const BlockConfig& bc, const LayerParams<Real>& p, const LayerLora<Real>* lora,
                   BlockActs<Real>& a, BlockScratch<Real>& s, const Real* inp, ThreadPool* pool) {
  // inp (BT, C) -> a.out (BT, C)
  const size_t BT = bc.B * bc.T, C = bc.C, I = bc.I;
  const size_t QD = bc.NH * bc.HD, KD = bc.KVH * bc.HD;
  const bool dropout = bc.lora_dropout > 0.0f;
  // out (BT, cout) = in (BT, cin) · wᵀ + b, plus the site's adapter if it has one.
  auto linear = [&](Real* out, const Real* in, const Real* w, const Real* b, size_t cin,
                    size_t cout, int site) {
    if constexpr (std::is_same_v<Real, float>) {
      if (p.frozen)
        matmul_forward_frozen(out, in, p.frozen[site], b, BT, cin, cout, p.frozen_scratch, pool);
      else
        matmul_forward(out, in, w, b, BT, cin, cout, pool);
    } else {
      CARTLM_CHECK(!p.frozen);
      matmul_forward(out, in, w, b, BT, cin, cout, pool);
    }
    if (lora && lora->A[site]) {
      const uint8_t* mask = dropout ? a.lora_mask[site] : nullptr;
      CARTLM_CHECK(!dropout || mask);
      lora_forward(out, a.lora_h[site], s.lora_x, in, lora->A[site], lora->B[site], mask,
                   bc.lora_dropout, bc.lora_scale, BT, cin, cout, bc.lora_rank, pool);
    }
  };
  // Attention half.
  rmsnorm_forward(a.ln1, a.ln1_rstd, inp, p.ln1w, BT, C, bc.eps, pool);
  linear(a.q, a.ln1, p.wq, p.bq, C, QD, kLoraQ);
  linear(a.k, a.ln1, p.wk, p.bk, C, KD, kLoraK);
  linear(a.v, a.ln1, p.wv, p.bv, C, KD, kLoraV);
  rope_forward(a.q, bc.positions, bc.inv_freq, BT, bc.NH, bc.HD);
  rope_forward(a.k, bc.positions, bc.inv_freq, BT, bc.KVH, bc.HD);
  attention_forward(a.atty, a.att, a.q, a.k, a.v, bc.lens, bc.B, bc.T, bc.NH, bc.KVH, bc.HD, pool);
  linear(a.res1, a.atty, p.wo, (const Real*)nullptr, QD, C, kLoraO);
  residual_forward(a.res1, a.res1, inp, BT * C);
  // MLP half.
  rmsnorm_forward(a.ln2, a.ln2_rstd, a.res1, p.ln2w, BT, C, bc.eps, pool);
  linear(a.gate, a.ln2, p.wgate, (const Real*)nullptr, C, I, kLoraGate);
  linear(a.up, a.ln2, p.wup, (const Real*)nullptr, C, I, kLoraUp);
  swiglu_forward(a.swi, a.gate, a.up, BT * I, pool);
  linear(a.out, a.swi, p.wdown, (const Real*)nullptr, I, C, kLoraDown);
  residual_forward(a.out, a.out, a.res1, BT * C);
}

template <class Real>
void block_backward(const BlockConfig& bc, const LayerParams<Real>& p, const LayerParams<Real>* dp,
                    const LayerLora<Real>* lora, const LayerLora<Real>* dlora,
                    const BlockActs<Real>& a, BlockScratch<Real>& s, const Real* inp, Real* dres,
                    ThreadPool* pool) {
  // dres (BT, C): d(out) in, d(inp) out. Both residual adds pass dres through unchanged, so each
  // branch just accumulates its input gradient into dres.
  const size_t BT = bc.B * bc.T, C = bc.C, I = bc.I;
  const size_t QD = bc.NH * bc.HD, KD = bc.KVH * bc.HD;
  const bool dropout = bc.lora_dropout > 0.0f;
  LayerParams<Real> none;
  const LayerParams<Real>& g = dp ? *dp : none;  // all nullptr: frozen base
  // dinp (BT, cin) += dout (BT, cout) · w; weight/bias grads; adapter grads for the site.
  auto linear_back = [&](Real* dinp, const Real* dout, const Real* in, const Real* w, Real* dw,
                         Real* db, size_t cin, size_t cout, int site) {
    if constexpr (std::is_same_v<Real, float>) {
      if (p.frozen) {
        CARTLM_CHECK(!dw && !db);  // a frozen base has no gradients
        matmul_backward_frozen(dinp, dout, p.frozen[site], BT, cin, cout, p.frozen_scratch,
                               pool);
      } else {
        matmul_backward(dinp, dw, db, dout, in, w, BT, cin, cout, pool);
      }
    } else {
      CARTLM_CHECK(!p.frozen);
      matmul_backward(dinp, dw, db, dout, in, w, BT, cin, cout, pool);
    }
    if (lora && lora->A[site]) {
      lora_backward(dinp, dlora ? dlora->A[site] : (Real*)nullptr,
                    dlora ? dlora->B[site] : (Real*)nullptr, s.lora_dh, s.lora_bt, s.lora_x, dout,
                    in, a.lora_h[site], lora->A[site], lora->B[site],
                    dropout ? a.lora_mask[site] : nullptr, bc.lora_dropout, bc.lora_scale, BT, cin,
                    cout, bc.lora_rank, pool);
    }
  };
  // MLP half: out = res1 + down(silu(gate(ln2))·up(ln2)), ln2 = rmsnorm(res1).
  td::zero(s.dswi, BT * I);
  linear_back(s.dswi, dres, a.swi, p.wdown, g.wdown, nullptr, I, C, kLoraDown);
  td::zero(s.dgate, BT * I);
  td::zero(s.dup, BT * I);
  swiglu_backward(s.dgate, s.dup, s.dswi, a.gate, a.up, BT * I, pool);
  td::zero(s.dln, BT * C);
  linear_back(s.dln, s.dgate, a.ln2, p.wgate, g.wgate, nullptr, C, I, kLoraGate);
  linear_back(s.dln, s.dup, a.ln2, p.wup, g.wup, nullptr, C, I, kLoraUp);
  rmsnorm_backward(dres, g.ln2w, s.dln, a.res1, p.ln2w, a.ln2_rstd, BT, C, pool);
  // Attention half: res1 = inp + o(attn(rope(q(ln1)), rope(k(ln1)), v(ln1))), ln1 = rmsnorm(inp).
  td::zero(s.datty, BT * QD);
  linear_back(s.datty, dres, a.atty, p.wo, g.wo, nullptr, QD, C, kLoraO);
  td::zero(s.dq, BT * QD);
  td::zero(s.dk, BT * KD);
  td::zero(s.dv, BT * KD);
  attention_backward(s.dq, s.dk, s.dv, s.datty, a.q, a.k, a.v, a.att, a.atty, bc.lens, bc.B, bc.T,
                     bc.NH, bc.KVH, bc.HD, pool);
  rope_backward(s.dq, bc.positions, bc.inv_freq, BT, bc.NH, bc.HD);
  rope_backward(s.dk, bc.positions, bc.inv_freq, BT, bc.KVH, bc.HD);
  td::zero(s.dln, BT * C);
  linear_back(s.dln, s.dq, a.ln1, p.wq, g.wq, g.bq, C, QD, kLoraQ);
  linear_back(s.dln, s.dk, a.ln1, p.wk, g.wk, g.bk, C, KD, kLoraK);
  linear_back(s.dln, s.dv, a.ln1, p.wv, g.wv, g.bv, C, KD, kLoraV);
  rmsnorm_backward(dres, g.ln1w, s.dln, inp, p.ln1w, a.ln1_rstd, BT, C, pool);
}

#define CARTLM_INSTANTIATE(Real)                                                                   \
  template LayerParams<Real> layer_params<Real>(const ParamTensors<Real>&, const Config&, size_t); \
  template LayerLora<Real> layer_lora<Real>(const LoraTensors<Real>&, const Config&,               \
                                            const LoraConfig&, size_t);                            \
  template void make_train_activations<Real>(TrainActivations<Real>&, const Config&,               \
                                             const LoraConfig*, size_t, size_t);                   \
  template void block_forward<Real>(const BlockConfig&, const LayerParams<Real>&,                  \
                                    const LayerLora<Real>*, BlockActs<Real>&, BlockScratch<Real>&, \
                                    const Real*, ThreadPool*);                                     \
  template void block_backward<Real>(const BlockConfig&, const LayerParams<Real>&,                 \
                                     const LayerParams<Real>*, const LayerLora<Real>*,             \
                                     const LayerLora<Real>*, const BlockActs<Real>&,               \
                                     BlockScratch<Real>&, const Real*, Real*, ThreadPool*);
CARTLM_INSTANTIATE(float)
CARTLM_INSTANTIATE(double)
#undef CARTLM_INSTANTIATE

}  // namespace cartlm
