// Q4_K: 8 sub-blocks of 32 elements, 4-bit quants, 6-bit scale and min per sub-block packed in 12
// bytes (get_scale_min_k4), fp16 factors d and dmin: y = d·sc·q - dmin·m (REFERENCE.md §2.3).
//
// Reference (llama.cpp quantize_row_q4_K_ref): per sub-block weights sqrt(mean(x²)) + |x| and
// make_qkx2_quants(32, nmax 15, rmin -1, rdelta 0.1, nstep 20, squared error); scales and mins to
// 6 bits against their maxima; quants recomputed against the fp16 factors.
// Importance path (quantize_row_q4_K_impl): weights importance·sqrt(2·mean(x²) + x²) over the
// super-block, rmin -0.9, rdelta 0.05, nstep 36, and scales/mins quantized with make_qp_quants.
// Q5_K shares all of this with nmax 31 (q5_k.cpp); the shared part is here.
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/k_quants_helpers.h"
#include "quant/quant.h"

namespace cartlm {

using quant_detail::check_row;
using quant_detail::nearest_int;

void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

namespace quant_detail {

void quantize_q45_k_superblock(const float* x, int nmax, const float* importance, uint16_t* d,
                               uint16_t* dmin, uint8_t* scales, uint8_t* L) {
  constexpr int kSub = kQKK / 32;
  uint8_t Laux[32];
  float weights[32], mins[kSub], sub_scales[kSub];
  if (!importance) {
    // Reference path.
    const float rmin = nmax == 15 ? -1.f : -0.5f;
    const int nstep = nmax == 15 ? 20 : 15;
    float max_scale = 0, max_min = 0;  // scales are >= 0: the min absorbs the offset
    for (int j = 0; j < kSub; ++j) {
      const float av_x = std::sqrt(sum_squares(x + 32 * j, 32) / 32);
      for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
      sub_scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux,
                                       rmin, 0.1f, nstep, false);
      if (sub_scales[j] > max_scale) max_scale = sub_scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < kSub; ++j) {
      // uint8_t first, as llama.cpp does (a negative value would wrap and then clamp to 63).
      uint8_t ls = (uint8_t)nearest_int(inv_scale * sub_scales[j]);
      uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
      put_scale_min_k4(j, ls < 63 ? ls : 63, lm < 63 ? lm : 63, scales);
    }
    *d = fp32_to_fp16(max_scale / 63.f);
    *dmin = fp32_to_fp16(max_min / 63.f);
  } else {
    uint8_t Ls[kSub], Lm[kSub];
    float sw[kSub];
    const float sigma2 = 2 * sum_squares(x, kQKK) / kQKK;
    for (int j = 0; j < kSub; ++j) {
      const float* qw = importance + 32 * j;
      for (int l = 0; l < 32; ++l)
        weights[l] = qw[l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
      float sumw = 0;
      for (int l = 0; l < 32; ++l) sumw += weights[l];
      sw[j] = sumw;
      sub_scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux,
                                       -0.9f, 0.05f, 36, false);
    }
    const float d_block = make_qp_quants(kSub, 63, sub_scales, Ls, sw);
    const float m_block = make_qp_quants(kSub, 63, mins, Lm, sw);
    // llama.cpp clamps to 63 in its Q5_K path only. make_qp_quants never returns more than 63
    // for non-negative input, so the two agree unless a sub-block scale came out negative.
    const bool clamp = nmax == 31;
    for (int j = 0; j < kSub; ++j) {
      const uint8_t ls = clamp && Ls[j] > 63 ? 63 : Ls[j];
      const uint8_t lm = clamp && Lm[j] > 63 ? 63 : Lm[j];
      put_scale_min_k4(j, ls, lm, scales);
    }
    *d = fp32_to_fp16(d_block);
    *dmin = fp32_to_fp16(m_block);
  }
  // Quants against the stored factors; sub-blocks whose scale is 0 keep the search's quants.
  for (int j = 0; j < kSub; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, scales, &sc, &m);
    const float dd = fp16_to_fp32(*d) * sc;
    if (!dd) continue;
    const float dm = fp16_to_fp32(*dmin) * m;
    for (int ii = 0; ii < 32; ++ii) {
      int l = nearest_int((x[32 * j + ii] + dm) / dd);
      L[32 * j + ii] = (uint8_t)(l < 0 ? 0 : (l > nmax ? nmax : l));
    }
  }
}

}  // namespace quant_detail

namespace {

void quantize_q4_k_row(const float* x, void* vy, int64_t n, const float* importance) {
  check_row(n, kQKK);
  BlockQ4_K* y = static_cast<BlockQ4_K*>(vy);
  uint8_t L[kQKK];
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    quant_detail::quantize_q45_k_superblock(x, 15, importance ? importance + kQKK * i : nullptr,
                                            &y[i].d, &y[i].dmin, y[i].scales, L);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l)
        y[i].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
  }
}

}  // namespace

void quantize_q4_k_ref(const float* x, void* y, int64_t n) { quantize_q4_k_row(x, y, n, nullptr); }

void quantize_q4_k_importance(const float* x, void* y, int64_t n, const float* importance) {
  CARTLM_CHECK(importance != nullptr);
  quantize_q4_k_row(x, y, n, importance);
}

void dequantize_q4_k(const void* vx, float* y, int64_t n) {
  check_row(n, kQKK);
  const BlockQ4_K* x = static_cast<const BlockQ4_K*>(vx);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
    for (int c = 0; c < 4; ++c) {
      uint8_t sc, m;
      get_scale_min_k4(2 * c, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      get_scale_min_k4(2 * c + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      const uint8_t* q = x[i].qs + 32 * c;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
    }
  }
}

}  // namespace cartlm
