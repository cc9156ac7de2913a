// LoRA adapter op (PEFT semantics, REFERENCE.md §5.3): out += scale · B(A(dropout(x))), with
// inverted dropout on the adapter input only. The base weight is frozen, so only A, B and the
// input get gradients.
#include <cmath>

#include "core/check.h"
#include "core/thread_pool.h"
#include "train/ops.h"
#include "train/ops_internal.h"

namespace cartlm {

namespace td = train_detail;

double LoraConfig::scale() const {
  return use_rslora ? alpha / std::sqrt((double)rank) : alpha / (double)rank;
}

const char* lora_site_module(int site) {
  switch (site) {
    case kLoraQ: return "self_attn.q_proj";
    case kLoraK: return "self_attn.k_proj";
    case kLoraV: return "self_attn.v_proj";
    case kLoraO: return "self_attn.o_proj";
    case kLoraGate: return "mlp.gate_proj";
    case kLoraUp: return "mlp.up_proj";
    case kLoraDown: return "mlp.down_proj";
  }
  CARTLM_CHECK(false);
  return "";
}

void lora_site_dims(const Config& c, int site, size_t* in, size_t* out) {
  const size_t C = (size_t)c.hidden_size, I = (size_t)c.intermediate_size;
  const size_t QD = (size_t)c.q_dim(), KD = (size_t)c.kv_dim();
  switch (site) {
    case kLoraQ: *in = C, *out = QD; return;
    case kLoraK:
    case kLoraV: *in = C, *out = KD; return;
    case kLoraO: *in = QD, *out = C; return;
    case kLoraGate:
    case kLoraUp: *in = C, *out = I; return;
    case kLoraDown: *in = I, *out = C; return;
  }
  CARTLM_CHECK(false);
}

void lora_dropout_mask(uint8_t* mask, size_t n, float p, Rng& rng) {
  // mask (n). One 64-bit draw gives four 16-bit uniforms: masks are BT·in per site and layer
  // (millions a step), and p is only needed to 2^-16.
  const uint64_t drop_below = (uint64_t)std::llround((double)p * 65536.0);
  for (size_t i = 0; i < n; i += 4) {
    uint64_t bits = rng.next_u64();
    for (size_t j = i; j < n && j < i + 4; ++j, bits >>= 16)
      mask[j] = (bits & 0xffff) < drop_below ? 0 : 1;
  }
}

namespace {

// xd (BT·C) = inp ⊙ mask / (1 − p)
template <class Real>
void apply_dropout(Real* xd, const Real* inp, const uint8_t* mask, float p, size_t n,
                   ThreadPool* pool) {
  const Real keep = (Real)(1.0 / (1.0 - (double)p));
  td::parallel_span(pool, n, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) xd[i] = mask[i] ? inp[i] * keep : Real(0);
  });
}

}  // namespace

template <class Real>
void lora_forward(Real* out, Real* h, Real* xd_scratch, const Real* inp, const Real* A,
                  const Real* Bw, const uint8_t* mask, float p, double scale, size_t BT, size_t C,
                  size_t OC, size_t R, ThreadPool* pool) {
  // out (BT, OC) +=, h (BT, R), xd_scratch (BT, max(C, OC)), inp (BT, C), A (R, C), Bw (OC, R),
  // mask (BT, C)
  const Real* xd = inp;
  if (mask) {
    apply_dropout(xd_scratch, inp, mask, p, BT * C, pool);
    xd = xd_scratch;
  }
  matmul_forward(h, xd, A, (const Real*)nullptr, BT, C, R, pool);  // h = xd·Aᵀ
  const Real s = (Real)scale;
  for (size_t i = 0; i < BT * R; ++i) h[i] *= s;  // h saved already scaled: y += h·Bᵀ
  // h·Bᵀ as one matmul (xd is dead by now), then added: a row-by-row dot of length R would be
  // BT·OC tiny calls.
  Real* y = xd_scratch;
  matmul_forward(y, h, Bw, (const Real*)nullptr, BT, R, OC, pool);
  td::parallel_span(pool, BT * OC, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) out[i] += y[i];
  });
}

template <class Real>
void lora_backward(Real* dinp, Real* dA, Real* dB, Real* dh_scratch, Real* bt_scratch,
                   Real* x_scratch, const Real* dout, const Real* inp, const Real* h, const Real* A,
                   const Real* Bw, const uint8_t* mask, float p, double scale, size_t BT, size_t C,
                   size_t OC, size_t R, ThreadPool* pool) {
  // With h = scale·xd·Aᵀ and y += h·Bᵀ:
  //   dB (OC, R) += doutᵀ·h,  dh (BT, R) = scale·dout·B,  dA (R, C) += dhᵀ·xd,
  //   dinp (BT, C) += (dh·A) ⊙ mask/(1−p).
  // R is tiny (8..64) and OC large, so the B side runs on Bᵀ (R, OC): both products then reduce
  // along OC in long rows instead of BT·OC calls of length R.
  Real* bt = bt_scratch;
  for (size_t o = 0; o < OC; ++o)
    for (size_t r = 0; r < R; ++r) bt[r * OC + o] = Bw[o * R + r];
  Real* dh = dh_scratch;
  matmul_forward(dh, dout, bt, (const Real*)nullptr, BT, OC, R, pool);  // dh = dout·B
  if (dB) {
    td::zero(bt, R * OC);  // now dBᵀ (R, OC) = hᵀ·dout
    matmul_backward((Real*)nullptr, bt, (Real*)nullptr, h, dout, (const Real*)nullptr, BT, OC, R,
                    pool);
    for (size_t o = 0; o < OC; ++o)
      for (size_t r = 0; r < R; ++r) dB[o * R + r] += bt[r * OC + o];
  }
  const Real s = (Real)scale;
  for (size_t i = 0; i < BT * R; ++i) dh[i] *= s;
  if (!mask) {
    matmul_backward(dinp, dA, (Real*)nullptr, dh, inp, A, BT, C, R, pool);
    return;
  }
  apply_dropout(x_scratch, inp, mask, p, BT * C, pool);
  matmul_backward((Real*)nullptr, dA, (Real*)nullptr, dh, x_scratch, A, BT, C, R, pool);
  if (!dinp) return;
  td::zero(x_scratch, BT * C);  // reused for dxd = dh·A
  matmul_backward(x_scratch, (Real*)nullptr, (Real*)nullptr, dh, (const Real*)nullptr, A, BT, C, R,
                  pool);
  const Real keep = (Real)(1.0 / (1.0 - (double)p));
  td::parallel_span(pool, BT * C, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i)
      if (mask[i]) dinp[i] += x_scratch[i] * keep;
  });
}

#define CARTLM_INSTANTIATE(Real)                                                                   \
  template void lora_forward<Real>(Real*, Real*, Real*, const Real*, const Real*, const Real*,     \
                                   const uint8_t*, float, double, size_t, size_t, size_t, size_t,  \
                                   ThreadPool*);                                                   \
  template void lora_backward<Real>(Real*, Real*, Real*, Real*, Real*, Real*, const Real*,         \
                                    const Real*, const Real*, const Real*, const Real*,            \
                                    const uint8_t*, float, double, size_t, size_t, size_t, size_t, \
                                    ThreadPool*);
CARTLM_INSTANTIATE(float)
CARTLM_INSTANTIATE(double)
#undef CARTLM_INSTANTIATE

}  // namespace cartlm
