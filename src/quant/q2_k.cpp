// Q2_K: 16 sub-blocks of 16 elements, 2-bit quants, 4-bit scale and 4-bit min per sub-block,
// fp16 super-block factors d and dmin: y = d·sc·q - dmin·m.
//
// Reference (llama.cpp quantize_row_q2_K_ref, read at unslothai/llama.cpp d32676d): per sub-block
// make_qkx2_quants(16, nmax 3, weights |x|, rmin -0.5, rdelta 0.1, nstep 15, use_mad = true),
// i.e. it minimizes the weighted *absolute* error. Scales and mins are then quantized to 4 bits
// against their maxima (round half to even, no clamp needed: the maximum maps to exactly 15),
// and the quants are recomputed against the fp16-rounded factors.
// Importance path (quantize_row_q2_K_impl): weights importance·sqrt(σ² + x²) with σ² the mean
// square of the super-block, squared error, rmin -0.9, rdelta 0.05, nstep 36; scales and mins are
// quantized with make_qp_quants weighted by each sub-block's total weight.
#include <cmath>

#include "quant/blocks.h"
#include "quant/k_quants_helpers.h"
#include "quant/quant.h"

namespace cartlm {

using quant_detail::check_row;
using quant_detail::nearest_int;

namespace {

constexpr int kSub = 16;  // sub-blocks per super-block

// Recomputes the quants against the stored (fp16) factors; sub-blocks with a zero scale keep the
// quants of the search, as llama.cpp does.
void requantize(const float* x, const BlockQ2_K& b, uint8_t* L) {
  const float d_all = fp16_to_fp32(b.d), m_all = fp16_to_fp32(b.dmin);
  for (int j = 0; j < kSub; ++j) {
    const float d = d_all * (b.scales[j] & 0xF);
    if (!d) continue;
    const float dm = m_all * (b.scales[j] >> 4);
    for (int ii = 0; ii < 16; ++ii) {
      int l = nearest_int((x[16 * j + ii] + dm) / d);
      L[16 * j + ii] = (uint8_t)(l < 0 ? 0 : (l > 3 ? 3 : l));
    }
  }
}

// Element e lives in byte 32·(e/128) + e%32 at bit 2·((e%128)/32).
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int h = 0; h < kQKK; h += 128)
    for (int l = 0; l < 32; ++l)
      qs[h / 4 + l] = (uint8_t)(L[h + l] | (L[h + l + 32] << 2) | (L[h + l + 64] << 4) |
                                (L[h + l + 96] << 6));
}

// The inverse of pack_2bit.
void unpack_2bit(const uint8_t* qs, uint8_t* L) {
  for (int h = 0; h < kQKK; h += 128)
    for (int g = 0; g < 4; ++g)
      for (int l = 0; l < 32; ++l) L[h + 32 * g + l] = (uint8_t)((qs[h / 4 + l] >> (2 * g)) & 3);
}

}  // namespace

void quantize_q2_k_ref(const float* x, void* vy, int64_t n) {
  check_row(n, kQKK);
  BlockQ2_K* y = static_cast<BlockQ2_K*>(vy);
  uint8_t L[kQKK], Laux[16];
  float weights[16], mins[kSub], scales[kSub];
  const float q4scale = 15.f;
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    float max_scale = 0, max_min = 0;  // scales are >= 0: the min absorbs the offset
    for (int j = 0; j < kSub; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = quant_detail::make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j],
                                                 Laux, -0.5f, 0.1f, 15, true);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
      const float iscale = q4scale / max_scale;
      for (int j = 0; j < kSub; ++j) y[i].scales[j] = (uint8_t)nearest_int(iscale * scales[j]);
      y[i].d = fp32_to_fp16(max_scale / q4scale);
    } else {
      for (int j = 0; j < kSub; ++j) y[i].scales[j] = 0;
      y[i].d = fp32_to_fp16(0.f);
    }
    if (max_min > 0) {
      const float iscale = q4scale / max_min;
      for (int j = 0; j < kSub; ++j)
        y[i].scales[j] = (uint8_t)(y[i].scales[j] | (nearest_int(iscale * mins[j]) << 4));
      y[i].dmin = fp32_to_fp16(max_min / q4scale);
    } else {
      y[i].dmin = fp32_to_fp16(0.f);
    }
    requantize(x, y[i], L);
    pack_2bit(L, y[i].qs);
  }
}

void quantize_q2_k_importance(const float* x, void* vy, int64_t n, const float* importance) {
  check_row(n, kQKK);
  BlockQ2_K* y = static_cast<BlockQ2_K*>(vy);
  uint8_t L[kQKK], Laux[16], Ls[kSub], Lm[kSub];
  float mins[kSub], scales[kSub], sw[kSub], weight[16];
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    const float sigma2 = quant_detail::sum_squares(x, kQKK) / kQKK;
    for (int j = 0; j < kSub; ++j) {
      const float* qw = importance + kQKK * i + 16 * j;
      for (int l = 0; l < 16; ++l)
        weight[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
      sw[j] = 0;
      for (int l = 0; l < 16; ++l) sw[j] += weight[l];
      scales[j] = quant_detail::make_qkx2_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j],
                                                 Laux, -0.9f, 0.05f, 36, false);
    }
    const float dm = quant_detail::make_qp_quants(kSub, 15, scales, Ls, sw);
    const float mm = quant_detail::make_qp_quants(kSub, 15, mins, Lm, sw);
    y[i].d = fp32_to_fp16(dm);
    y[i].dmin = fp32_to_fp16(mm);
    for (int j = 0; j < kSub; ++j) y[i].scales[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
    requantize(x, y[i], L);
    pack_2bit(L, y[i].qs);
  }
}

void dequantize_q2_k(const void* vx, float* y, int64_t n) {
  check_row(n, kQKK);
  const BlockQ2_K* x = static_cast<const BlockQ2_K*>(vx);
  uint8_t q[kQKK];
  for (int64_t i = 0; i < n / kQKK; ++i, y += kQKK) {
    const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
    unpack_2bit(x[i].qs, q);
    for (int j = 0; j < kSub; ++j) {
      const uint8_t sc = x[i].scales[j];
      const float dl = d * (sc & 0xF), ml = dmin * (sc >> 4);
      for (int l = 16 * j; l < 16 * j + 16; ++l) y[l] = dl * q[l] - ml;
    }
  }
}

}  // namespace cartlm
