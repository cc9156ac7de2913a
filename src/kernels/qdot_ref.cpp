// The scalar reference of every block-quantized dot product (each weight format against its 8-bit
// activation format) and of the Q8_0 / Q8_1 / Q8_K activation quantizers: the scalar table's
// qdot/quantize slots, and the only implementation of this math in cartlm. quant's traits point
// their vec_dot_ref and Q8 quantize_row_ref here (quant links kernels; kernels cannot link quant),
// so the Q8_0 weights of a GGUF file are written by quantize_act_q8_0_ref too and must stay
// byte-identical to llama.cpp (tests/quant/llama_cpp_digest_test.cpp). The AVX2/AVX-512 tables
// are tested against these (tests/kernels/qdot_test.cpp), these against dequantize-then-dot
// (tests/quant/vec_dot_test.cpp).
// This file is baseline x86-64 code (no FMA), so no a*b+c is contracted.
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/dtype.h"
#include "kernels/kernels.h"
#include "quant/blocks.h"

namespace cartlm {

namespace {

void check_n(size_t n, size_t block) { CARTLM_CHECK(n % block == 0); }

inline uint32_t load_qh(const uint8_t* b) {
  uint32_t v;
  std::memcpy(&v, b, 4);
  return v;
}

// Round half to even through the float mantissa (llama.cpp's nearest_int), as quant does.
inline int nearest_int(float f) {
  float v = f + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, sizeof(i));
  return (i & 0x007fffff) - 0x00400000;
}

inline void scale_min_k4(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

inline int q3_scale(const uint8_t* scales, int j) {
  const int low = j < 8 ? (scales[j] & 0xF) : (scales[j - 8] >> 4);
  const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return low | (high << 4);
}

// std::round (half away from zero) for |v| < 2^31, without a libm call: the baseline x86-64
// build has no round instruction, and the roundf call per activation alone was ~3% of the tiny
// model's Q8_0 decode profile (perf). v - trunc(v) is exact, so the result equals std::round's.
inline int round_half_away(float v) {
  const int t = (int)v;  // toward zero
  const float r = v - (float)t;
  return r >= 0.5f ? t + 1 : r <= -0.5f ? t - 1 : t;
}

float quantize_block_q8(const float* x, int8_t* qs) {
  float amax = 0;
  for (int j = 0; j < kQK; ++j) {
    const float a = std::fabs(x[j]);
    amax = amax > a ? amax : a;
  }
  const float d = amax / 127;
  const float id = d ? 1.0f / d : 0.0f;
  if (std::isinf(id)) {
    // amax below ~3.7e-37: 1/d overflows and every x * id is +-inf or NaN. (int8_t)roundf of
    // those (llama.cpp's code, and quant's former copy of it) gives 0 with gcc on x86, and d
    // rounds to fp16 0, so store zeros: round_half_away would give +-1 and change the bytes of
    // such a Q8_0 weight block.
    for (int j = 0; j < kQK; ++j) qs[j] = 0;
    return d;
  }
  // |x * id| <= 127 (+ rounding), well inside round_half_away's range.
  for (int j = 0; j < kQK; ++j) qs[j] = (int8_t)round_half_away(x[j] * id);
  return d;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Activation quantizers
// ---------------------------------------------------------------------------------------------

void quantize_act_q8_0_ref(const float* x, void* vy, size_t n) {
  check_n(n, kQK);
  BlockQ8_0* y = static_cast<BlockQ8_0*>(vy);
  for (size_t i = 0; i < n / kQK; ++i) y[i].d = fp32_to_fp16(quantize_block_q8(x + i * kQK, y[i].qs));
}

void quantize_act_q8_1_ref(const float* x, void* vy, size_t n) {
  check_n(n, kQK);
  BlockQ8_1* y = static_cast<BlockQ8_1*>(vy);
  for (size_t i = 0; i < n / kQK; ++i) {
    const float d = quantize_block_q8(x + i * kQK, y[i].qs);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) sum += y[i].qs[j];
    y[i].d = fp32_to_fp16(d);
    y[i].s = fp32_to_fp16((float)sum * d);
  }
}

void quantize_act_q8_k_ref(const float* x, void* vy, size_t n) {
  check_n(n, kQKK);
  BlockQ8_K* y = static_cast<BlockQ8_K*>(vy);
  for (size_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    float max = 0, amax = 0;
    for (int j = 0; j < kQKK; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (!amax) {
      std::memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < kQKK; ++j) {
      const int v = nearest_int(iscale * x[j]);
      y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
    }
    for (int g = 0; g < kQKK / 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * g + l];
      y[i].bsums[g] = (int16_t)sum;
    }
    y[i].d = 1 / iscale;
  }
}

// ---------------------------------------------------------------------------------------------
// 8-bit formats against themselves (Q8_0 weights; Q8_1 and Q8_K only for quant's traits)
// ---------------------------------------------------------------------------------------------

namespace {

// The scale of an 8-bit block: fp16 for Q8_0/Q8_1, f32 for Q8_K.
inline float scale_of(const BlockQ8_0& b) { return fp16_to_fp32(b.d); }
inline float scale_of(const BlockQ8_1& b) { return fp16_to_fp32(b.d); }
inline float scale_of(const BlockQ8_K& b) { return b.d; }

// An 8-bit format against itself: Σ over blocks of d·d_a·Σq·q_a.
template <class B>
float qdot_q8_same(const void* vw, const void* va, size_t n) {
  constexpr int kN = (int)sizeof(B::qs);
  check_n(n, kN);
  const B* w = static_cast<const B*>(vw);
  const B* a = static_cast<const B*>(va);
  float sum = 0;
  for (size_t i = 0; i < n / kN; ++i) {
    int sumi = 0;
    for (int j = 0; j < kN; ++j) sumi += w[i].qs[j] * a[i].qs[j];
    sum += scale_of(w[i]) * scale_of(a[i]) * (float)sumi;
  }
  return sum;
}

}  // namespace

float qdot_q8_0_ref(const void* w, const void* a, size_t n) {
  return qdot_q8_same<BlockQ8_0>(w, a, n);
}
float qdot_q8_1_ref(const void* w, const void* a, size_t n) {
  return qdot_q8_same<BlockQ8_1>(w, a, n);
}
float qdot_q8_k_ref(const void* w, const void* a, size_t n) {
  return qdot_q8_same<BlockQ8_K>(w, a, n);
}

// ---------------------------------------------------------------------------------------------
// Legacy 4/5-bit formats (32-element blocks)
// ---------------------------------------------------------------------------------------------

namespace {

// Q4_0, Q4_1, Q5_0 and Q5_1 share one loop (qdot_legacy); what differs is read through these.
// Bit 4 of the quants: none for Q4_x; for Q5_x qh as a little-endian u32, bit j = element j.
inline uint32_t fifth_bits(const BlockQ4_0&) { return 0; }
inline uint32_t fifth_bits(const BlockQ4_1&) { return 0; }
inline uint32_t fifth_bits(const BlockQ5_0& b) { return load_qh(b.qh); }
inline uint32_t fifth_bits(const BlockQ5_1& b) { return load_qh(b.qh); }

// The min term of a block. Σ(d·q + m)·(d_a·q_a) = d·d_a·Σq·q_a + m·(d_a·Σq_a), and Q8_1 stores
// the last factor as s; the symmetric formats (Q8_0 activations) have none. Adding 0.0f leaves
// their sums bit-identical (the running sum starts at +0, so it is never -0).
template <class W>
float min_term(const W&, const BlockQ8_0&) {
  return 0.0f;
}
template <class W>
float min_term(const W& w, const BlockQ8_1& a) {
  return fp16_to_fp32(w.m) * fp16_to_fp32(a.s);
}

// Σ over blocks of d·d_a·Σ(q - offset)·q_a (+ the min term). Byte j of qs holds element j in its
// low nibble and element j + 16 in its high nibble.
template <class W, class A>
float qdot_legacy(const void* vw, const void* va, size_t n, int offset) {
  check_n(n, kQK);
  const W* w = static_cast<const W*>(vw);
  const A* a = static_cast<const A*>(va);
  float sum = 0;
  for (size_t i = 0; i < n / kQK; ++i) {
    const uint32_t qh = fifth_bits(w[i]);
    int sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = (int)((qh >> j) & 1) << 4;
      const int h1 = (int)((qh >> (j + 16)) & 1) << 4;
      sumi += (((w[i].qs[j] & 0x0F) | h0) - offset) * a[i].qs[j];
      sumi += (((w[i].qs[j] >> 4) | h1) - offset) * a[i].qs[j + 16];
    }
    sum += fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d) * (float)sumi + min_term(w[i], a[i]);
  }
  return sum;
}

}  // namespace

float qdot_q4_0_ref(const void* w, const void* a, size_t n) {
  return qdot_legacy<BlockQ4_0, BlockQ8_0>(w, a, n, 8);
}
float qdot_q4_1_ref(const void* w, const void* a, size_t n) {
  return qdot_legacy<BlockQ4_1, BlockQ8_1>(w, a, n, 0);
}
float qdot_q5_0_ref(const void* w, const void* a, size_t n) {
  return qdot_legacy<BlockQ5_0, BlockQ8_0>(w, a, n, 16);
}
float qdot_q5_1_ref(const void* w, const void* a, size_t n) {
  return qdot_legacy<BlockQ5_1, BlockQ8_1>(w, a, n, 0);
}

// ---------------------------------------------------------------------------------------------
// K-quants (256-element super-blocks, Q8_K activations)
// ---------------------------------------------------------------------------------------------

float qdot_q2_k_ref(const void* vw, const void* va, size_t n) {
  check_n(n, kQKK);
  const BlockQ2_K* w = static_cast<const BlockQ2_K*>(vw);
  const BlockQ8_K* a = static_cast<const BlockQ8_K*>(va);
  float sum = 0;
  for (size_t i = 0; i < n / kQKK; ++i) {
    int isum = 0, summs = 0;
    for (int j = 0; j < 16; ++j) {
      int s = 0;
      for (int e = 16 * j; e < 16 * j + 16; ++e) {
        const int q = (w[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
        s += q * a[i].qs[e];
      }
      isum += (w[i].scales[j] & 0xF) * s;
      summs += (w[i].scales[j] >> 4) * a[i].bsums[j];
    }
    sum += a[i].d * fp16_to_fp32(w[i].d) * (float)isum -
           a[i].d * fp16_to_fp32(w[i].dmin) * (float)summs;
  }
  return sum;
}

namespace {

// Q4_K and Q5_K share one loop; bit 4 of element 32j + l (sub-block j) is all that differs:
// none for Q4_K, bit j of qh[l] for Q5_K.
inline int fifth_bit(const BlockQ4_K&, int, int) { return 0; }
inline int fifth_bit(const BlockQ5_K& b, int j, int l) { return ((b.qh[l] >> j) & 1) << 4; }

// Σ (d·sc·q - dmin·m)·(d_a·q_a) = d·d_a·Σ_j sc_j·Σq·q_a - dmin·d_a·Σ_j m_j·(bsum_2j + bsum_2j+1).
// Sub-block j's quants are the low (j even) or high nibbles of qs[32·(j/2) ..].
template <class W>
float qdot_q45_k(const void* vw, const void* va, size_t n) {
  check_n(n, kQKK);
  const W* w = static_cast<const W*>(vw);
  const BlockQ8_K* a = static_cast<const BlockQ8_K*>(va);
  float sum = 0;
  for (size_t i = 0; i < n / kQKK; ++i) {
    int isum = 0, summs = 0;
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      scale_min_k4(j, w[i].scales, &sc, &m);
      const uint8_t* q = w[i].qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      const int8_t* qa = a[i].qs + 32 * j;
      int s = 0;
      for (int l = 0; l < 32; ++l) s += (((q[l] >> shift) & 0xF) | fifth_bit(w[i], j, l)) * qa[l];
      isum += sc * s;
      summs += m * (a[i].bsums[2 * j] + a[i].bsums[2 * j + 1]);
    }
    sum += fp16_to_fp32(w[i].d) * a[i].d * (float)isum -
           fp16_to_fp32(w[i].dmin) * a[i].d * (float)summs;
  }
  return sum;
}

}  // namespace

float qdot_q4_k_ref(const void* w, const void* a, size_t n) { return qdot_q45_k<BlockQ4_K>(w, a, n); }
float qdot_q5_k_ref(const void* w, const void* a, size_t n) { return qdot_q45_k<BlockQ5_K>(w, a, n); }

namespace {

// Q3_K and Q6_K share one loop: 16 sub-blocks of 16 with a signed scale each and no min. These
// read element e's signed quant and sub-block j's scale.
// Q3_K: 2 low bits at bit 2·((e%128)/32) of qs[32·(e/128) + e%32]; a clear bit e/32 of
// hmask[e%32] means -4. Scales are 6-bit, stored + 32.
inline int quant_at(const BlockQ3_K& b, int e) {
  const int low = (b.qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
  return low - (((b.hmask[e % 32] >> (e / 32)) & 1) ? 0 : 4);
}
// Q6_K: half h = e/128, l = e%32, group g = (e%128)/32 (0..3). Low nibble from
// ql[64h + l + 32*(g&1)] (high half when g >= 2), high 2 bits at bit 2g of qh[32h + l]; value - 32.
inline int quant_at(const BlockQ6_K& b, int e) {
  const int h = e / 128, l = e % 32, g = (e % 128) / 32;
  const uint8_t ql = b.ql[64 * h + l + 32 * (g & 1)];
  const int lo = g < 2 ? (ql & 0xF) : (ql >> 4);
  const int hi = (b.qh[32 * h + l] >> (2 * g)) & 3;
  return (lo | (hi << 4)) - 32;
}
inline int sub_scale(const BlockQ3_K& b, int j) { return q3_scale(b.scales, j) - 32; }
inline int sub_scale(const BlockQ6_K& b, int j) { return b.scales[j]; }

template <class W>
float qdot_q36_k(const void* vw, const void* va, size_t n) {
  check_n(n, kQKK);
  const W* w = static_cast<const W*>(vw);
  const BlockQ8_K* a = static_cast<const BlockQ8_K*>(va);
  float sum = 0;
  for (size_t i = 0; i < n / kQKK; ++i) {
    int isum = 0;
    for (int j = 0; j < 16; ++j) {
      int s = 0;
      for (int e = 16 * j; e < 16 * j + 16; ++e) s += quant_at(w[i], e) * a[i].qs[e];
      isum += sub_scale(w[i], j) * s;
    }
    sum += fp16_to_fp32(w[i].d) * a[i].d * (float)isum;
  }
  return sum;
}

}  // namespace

float qdot_q3_k_ref(const void* w, const void* a, size_t n) { return qdot_q36_k<BlockQ3_K>(w, a, n); }
float qdot_q6_k_ref(const void* w, const void* a, size_t n) { return qdot_q36_k<BlockQ6_K>(w, a, n); }

}  // namespace cartlm
