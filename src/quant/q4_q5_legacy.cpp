// The legacy 32-element formats Q4_0, Q4_1, Q5_0, Q5_1 (REFERENCE.md §2.2).
//
// Reference quantizers (llama.cpp's quantize_row_q4_0_ref ...): one pass, no search. The symmetric
// formats use d = max / -8 (-16), where max is the signed element of largest magnitude, so that
// element maps exactly to q = 0 and the other side keeps one extra level. Quants are truncated
// (int8)(x/d + 8.5), not rounded through nearest_int, and computed from the unrounded d.
//
// Importance quantizers (llama.cpp's quantize_row_q4_0_impl ...): weights w = importance ·
// sqrt(σ² + x²) with σ² the mean square of the whole row, then make_qx_quants (symmetric) or
// make_qkx2_quants (with min) per block. No requantization against the fp16 scale.
#include <cfloat>
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/k_quants_helpers.h"
#include "quant/quant.h"

namespace cartlm {

using quant_detail::check_row;

namespace {

// The signed value of largest magnitude (first on ties), 0 for an all-zero block.
float signed_absmax(const float* x) {
  float amax = 0, max = 0;
  for (int j = 0; j < kQK; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, float* mn, float* mx) {
  float lo = FLT_MAX, hi = -FLT_MAX;
  for (int j = 0; j < kQK; ++j) {
    if (x[j] < lo) lo = x[j];
    if (x[j] > hi) hi = x[j];
  }
  *mn = lo;
  *mx = hi;
}

// C's float -> int8 conversion (truncation toward zero) for values that fit in an int.
inline int trunc_i8(float v) { return (int8_t)(int)v; }
inline int min_int(int a, int b) { return a < b ? a : b; }

// Packs 5-bit quants q[32]: low nibbles into qs (element j | element j+16 << 4), bit 4 into qh.
void pack_q5(const uint8_t* q, uint8_t* qs, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    qs[j] = (uint8_t)((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
    qh |= (uint32_t)((q[j] >> 4) & 1) << j;
    qh |= (uint32_t)((q[j + 16] >> 4) & 1) << (j + 16);
  }
  for (int b = 0; b < 4; ++b) qh_bytes[b] = (uint8_t)(qh >> (8 * b));  // little-endian u32
}

inline uint32_t load_qh(const uint8_t* b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

// Row statistic of the importance paths: σ² = Σx² / n over the whole row.
float row_sigma2(const float* x, int64_t n) { return quant_detail::sum_squares(x, n) / n; }

void importance_weights(const float* x, const float* qw, float sigma2, float* w) {
  for (int j = 0; j < kQK; ++j) w[j] = qw[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Q4_0: y = d · (q - 8)
// ------------------------------------------------------------------------------------------------

void quantize_q4_0_ref(const float* x, void* vy, int64_t n) {
  check_row(n, kQK);
  BlockQ4_0* y = static_cast<BlockQ4_0*>(vy);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const float d = signed_absmax(x) / -8;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = min_int(15, trunc_i8(x[j] * id + 8.5f));
      const int q1 = min_int(15, trunc_i8(x[j + 16] * id + 8.5f));
      y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
    }
  }
}

void quantize_q4_0_importance(const float* x, void* vy, int64_t n, const float* importance) {
  check_row(n, kQK);
  BlockQ4_0* y = static_cast<BlockQ4_0*>(vy);
  const float sigma2 = row_sigma2(x, n);
  float w[kQK];
  int8_t L[kQK];
  for (int64_t i = 0; i < n / kQK; ++i) {
    importance_weights(x + i * kQK, importance + i * kQK, sigma2, w);
    const float d = quant_detail::make_qx_quants(kQK, 8, x + i * kQK, L, w);
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK / 2; ++j) y[i].qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
  }
}

void dequantize_q4_0(const void* vx, float* y, int64_t n) {
  check_row(n, kQK);
  const BlockQ4_0* x = static_cast<const BlockQ4_0*>(vx);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = ((x[i].qs[j] & 0x0F) - 8) * d;
      y[j + 16] = ((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Q4_1: y = d · q + m
// ------------------------------------------------------------------------------------------------

void quantize_q4_1_ref(const float* x, void* vy, int64_t n) {
  check_row(n, kQK);
  BlockQ4_1* y = static_cast<BlockQ4_1*>(vy);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float mn, mx;
    min_max(x, &mn, &mx);
    const float d = (mx - mn) / 15;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(mn);
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = min_int(15, trunc_i8((x[j] - mn) * id + 0.5f));
      const int q1 = min_int(15, trunc_i8((x[j + 16] - mn) * id + 0.5f));
      y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
    }
  }
}

void quantize_q4_1_importance(const float* x, void* vy, int64_t n, const float* importance) {
  check_row(n, kQK);
  BlockQ4_1* y = static_cast<BlockQ4_1*>(vy);
  const float sigma2 = row_sigma2(x, n);
  float w[kQK];
  uint8_t L[kQK], Laux[kQK];
  for (int64_t i = 0; i < n / kQK; ++i) {
    importance_weights(x + i * kQK, importance + i * kQK, sigma2, w);
    float the_min;
    const float d = quant_detail::make_qkx2_quants(kQK, 15, x + i * kQK, w, L, &the_min, Laux,
                                                   -0.9f, 0.05f, 36, false);
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(-the_min);
    for (int j = 0; j < kQK / 2; ++j) y[i].qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
  }
}

void dequantize_q4_1(const void* vx, float* y, int64_t n) {
  check_row(n, kQK);
  const BlockQ4_1* x = static_cast<const BlockQ4_1*>(vx);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    const float m = fp16_to_fp32(x[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = (x[i].qs[j] & 0x0F) * d + m;
      y[j + 16] = (x[i].qs[j] >> 4) * d + m;
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Q5_0: y = d · (q - 16)
// ------------------------------------------------------------------------------------------------

void quantize_q5_0_ref(const float* x, void* vy, int64_t n) {
  check_row(n, kQK);
  BlockQ5_0* y = static_cast<BlockQ5_0*>(vy);
  uint8_t q[kQK];
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const float d = signed_absmax(x) / -16;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) q[j] = (uint8_t)min_int(31, trunc_i8(x[j] * id + 16.5f));
    pack_q5(q, y[i].qs, y[i].qh);
  }
}

void quantize_q5_0_importance(const float* x, void* vy, int64_t n, const float* importance) {
  check_row(n, kQK);
  BlockQ5_0* y = static_cast<BlockQ5_0*>(vy);
  const float sigma2 = row_sigma2(x, n);
  float w[kQK];
  int8_t L[kQK];
  uint8_t q[kQK];
  for (int64_t i = 0; i < n / kQK; ++i) {
    importance_weights(x + i * kQK, importance + i * kQK, sigma2, w);
    const float d = quant_detail::make_qx_quants(kQK, 16, x + i * kQK, L, w);
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) q[j] = (uint8_t)L[j];
    pack_q5(q, y[i].qs, y[i].qh);
  }
}

void dequantize_q5_0(const void* vx, float* y, int64_t n) {
  check_row(n, kQK);
  const BlockQ5_0* x = static_cast<const BlockQ5_0*>(vx);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = (int)((qh >> j) & 1) << 4;
      const int h1 = (int)((qh >> (j + 16)) & 1) << 4;
      y[j] = (((x[i].qs[j] & 0x0F) | h0) - 16) * d;
      y[j + 16] = (((x[i].qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Q5_1: y = d · q + m
// ------------------------------------------------------------------------------------------------

void quantize_q5_1_ref(const float* x, void* vy, int64_t n) {
  check_row(n, kQK);
  BlockQ5_1* y = static_cast<BlockQ5_1*>(vy);
  uint8_t q[kQK];
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float mn, mx;
    min_max(x, &mn, &mx);
    const float d = (mx - mn) / 31;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(mn);
    // No min(31, ...) here in llama.cpp either: (x - min)·id <= 31 up to rounding, so + 0.5
    // truncates to at most 31.
    for (int j = 0; j < kQK; ++j) q[j] = (uint8_t)(int)((x[j] - mn) * id + 0.5f);
    pack_q5(q, y[i].qs, y[i].qh);
  }
}

void quantize_q5_1_importance(const float* x, void* vy, int64_t n, const float* importance) {
  check_row(n, kQK);
  BlockQ5_1* y = static_cast<BlockQ5_1*>(vy);
  const float sigma2 = row_sigma2(x, n);
  float w[kQK];
  uint8_t L[kQK], Laux[kQK];
  for (int64_t i = 0; i < n / kQK; ++i) {
    importance_weights(x + i * kQK, importance + i * kQK, sigma2, w);
    float the_min;
    const float d = quant_detail::make_qkx2_quants(kQK, 31, x + i * kQK, w, L, &the_min, Laux,
                                                   -0.9f, 0.05f, 36, false);
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(-the_min);
    pack_q5(L, y[i].qs, y[i].qh);
  }
}

void dequantize_q5_1(const void* vx, float* y, int64_t n) {
  check_row(n, kQK);
  const BlockQ5_1* x = static_cast<const BlockQ5_1*>(vx);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    const float m = fp16_to_fp32(x[i].m);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = (int)((qh >> j) & 1) << 4;
      const int h1 = (int)((qh >> (j + 16)) & 1) << 4;
      y[j] = ((x[i].qs[j] & 0x0F) | h0) * d + m;
      y[j + 16] = ((x[i].qs[j] >> 4) | h1) * d + m;
    }
  }
}

}  // namespace cartlm
