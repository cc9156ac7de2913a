// Scalar twins of the block-quantized dot products and the activation quantizers (the scalar
// table's qdot/quantize slots).
//
// Why a second copy of what src/quant/ already has: quant depends on kernels, not the other way
// round, so the kernels' scalar table cannot point at quant's functions. These are written to do
// the very same operations in the same order as quant's dot_*_ref / quantize_q8_*_ref, and
// tests/model/llama_quant_test.cpp (which links both) checks them bit for bit and byte for byte.
// This file is baseline x86-64 code (no FMA), so no a*b+c is contracted, as in quant.
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
// Legacy formats (32-element blocks)
// ---------------------------------------------------------------------------------------------

float qdot_q8_0_ref(const void* vw, const void* va, size_t n) {
  check_n(n, kQK);
  const BlockQ8_0* w = static_cast<const BlockQ8_0*>(vw);
  const BlockQ8_0* a = static_cast<const BlockQ8_0*>(va);
  float sum = 0;
  for (size_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += w[i].qs[j] * a[i].qs[j];
    sum += fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d) * (float)sumi;
  }
  return sum;
}

float qdot_q4_0_ref(const void* vw, const void* va, size_t n) {
  check_n(n, kQK);
  const BlockQ4_0* w = static_cast<const BlockQ4_0*>(vw);
  const BlockQ8_0* a = static_cast<const BlockQ8_0*>(va);
  float sum = 0;
  for (size_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      sumi += ((w[i].qs[j] & 0x0F) - 8) * a[i].qs[j];
      sumi += ((w[i].qs[j] >> 4) - 8) * a[i].qs[j + 16];
    }
    sum += fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d) * (float)sumi;
  }
  return sum;
}

float qdot_q4_1_ref(const void* vw, const void* va, size_t n) {
  check_n(n, kQK);
  const BlockQ4_1* w = static_cast<const BlockQ4_1*>(vw);
  const BlockQ8_1* a = static_cast<const BlockQ8_1*>(va);
  float sum = 0;
  for (size_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      sumi += (w[i].qs[j] & 0x0F) * a[i].qs[j];
      sumi += (w[i].qs[j] >> 4) * a[i].qs[j + 16];
    }
    sum += fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d) * (float)sumi +
           fp16_to_fp32(w[i].m) * fp16_to_fp32(a[i].s);
  }
  return sum;
}

float qdot_q5_0_ref(const void* vw, const void* va, size_t n) {
  check_n(n, kQK);
  const BlockQ5_0* w = static_cast<const BlockQ5_0*>(vw);
  const BlockQ8_0* a = static_cast<const BlockQ8_0*>(va);
  float sum = 0;
  for (size_t i = 0; i < n / kQK; ++i) {
    const uint32_t qh = load_qh(w[i].qh);
    int sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = (int)((qh >> j) & 1) << 4;
      const int h1 = (int)((qh >> (j + 16)) & 1) << 4;
      sumi += (((w[i].qs[j] & 0x0F) | h0) - 16) * a[i].qs[j];
      sumi += (((w[i].qs[j] >> 4) | h1) - 16) * a[i].qs[j + 16];
    }
    sum += fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d) * (float)sumi;
  }
  return sum;
}

float qdot_q5_1_ref(const void* vw, const void* va, size_t n) {
  check_n(n, kQK);
  const BlockQ5_1* w = static_cast<const BlockQ5_1*>(vw);
  const BlockQ8_1* a = static_cast<const BlockQ8_1*>(va);
  float sum = 0;
  for (size_t i = 0; i < n / kQK; ++i) {
    const uint32_t qh = load_qh(w[i].qh);
    int sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = (int)((qh >> j) & 1) << 4;
      const int h1 = (int)((qh >> (j + 16)) & 1) << 4;
      sumi += ((w[i].qs[j] & 0x0F) | h0) * a[i].qs[j];
      sumi += ((w[i].qs[j] >> 4) | h1) * a[i].qs[j + 16];
    }
    sum += fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d) * (float)sumi +
           fp16_to_fp32(w[i].m) * fp16_to_fp32(a[i].s);
  }
  return sum;
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

float qdot_q3_k_ref(const void* vw, const void* va, size_t n) {
  check_n(n, kQKK);
  const BlockQ3_K* w = static_cast<const BlockQ3_K*>(vw);
  const BlockQ8_K* a = static_cast<const BlockQ8_K*>(va);
  float sum = 0;
  for (size_t i = 0; i < n / kQKK; ++i) {
    int isum = 0;
    for (int j = 0; j < 16; ++j) {
      int s = 0;
      for (int e = 16 * j; e < 16 * j + 16; ++e) {
        const int low = (w[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
        const int q = low - (((w[i].hmask[e % 32] >> (e / 32)) & 1) ? 0 : 4);
        s += q * a[i].qs[e];
      }
      isum += (q3_scale(w[i].scales, j) - 32) * s;
    }
    sum += fp16_to_fp32(w[i].d) * a[i].d * (float)isum;
  }
  return sum;
}

float qdot_q4_k_ref(const void* vw, const void* va, size_t n) {
  check_n(n, kQKK);
  const BlockQ4_K* w = static_cast<const BlockQ4_K*>(vw);
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
      for (int l = 0; l < 32; ++l) s += ((q[l] >> shift) & 0xF) * qa[l];
      isum += sc * s;
      summs += m * (a[i].bsums[2 * j] + a[i].bsums[2 * j + 1]);
    }
    sum += fp16_to_fp32(w[i].d) * a[i].d * (float)isum -
           fp16_to_fp32(w[i].dmin) * a[i].d * (float)summs;
  }
  return sum;
}

float qdot_q5_k_ref(const void* vw, const void* va, size_t n) {
  check_n(n, kQKK);
  const BlockQ5_K* w = static_cast<const BlockQ5_K*>(vw);
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
      for (int l = 0; l < 32; ++l) {
        const int v = ((q[l] >> shift) & 0xF) | (((w[i].qh[l] >> j) & 1) << 4);
        s += v * qa[l];
      }
      isum += sc * s;
      summs += m * (a[i].bsums[2 * j] + a[i].bsums[2 * j + 1]);
    }
    sum += fp16_to_fp32(w[i].d) * a[i].d * (float)isum -
           fp16_to_fp32(w[i].dmin) * a[i].d * (float)summs;
  }
  return sum;
}

float qdot_q6_k_ref(const void* vw, const void* va, size_t n) {
  check_n(n, kQKK);
  const BlockQ6_K* w = static_cast<const BlockQ6_K*>(vw);
  const BlockQ8_K* a = static_cast<const BlockQ8_K*>(va);
  float sum = 0;
  for (size_t i = 0; i < n / kQKK; ++i) {
    int isum = 0;
    for (int j = 0; j < 16; ++j) {
      int s = 0;
      for (int e = 16 * j; e < 16 * j + 16; ++e) {
        // Element e: half h = e/128, l = e%32, group g = (e%128)/32 (0..3). Low nibble from
        // ql[64h + l + 32*(g&1)] (high half when g >= 2), high 2 bits at bit 2g of qh[32h + l].
        const int h = e / 128, l = e % 32, g = (e % 128) / 32;
        const uint8_t ql = w[i].ql[64 * h + l + 32 * (g & 1)];
        const int lo = g < 2 ? (ql & 0xF) : (ql >> 4);
        const int hi = (w[i].qh[32 * h + l] >> (2 * g)) & 3;
        s += ((lo | (hi << 4)) - 32) * a[i].qs[e];
      }
      isum += w[i].scales[j] * s;
    }
    sum += fp16_to_fp32(w[i].d) * a[i].d * (float)isum;
  }
  return sum;
}

}  // namespace cartlm
