// Q3_K: 16 sub-blocks of 16 elements, 3-bit quants (2 low bits in qs, the high bit in hmask),
// 6-bit signed sub-block scales (stored + 32) and one fp16 factor d: y = d·(sc - 32)·(q - 4).
//
// Reference (llama.cpp quantize_row_q3_K_ref): per sub-block make_q3_quants(16, nmax 4) gives a
// signed scale; the one of largest magnitude, s_max, sets iscale = -32 / s_max, each scale becomes
// clamp(nearest_int(iscale·s), -32, 31) + 32 and d = fp16(1 / iscale). Quants are recomputed
// against the fp16 d. Note the stored high bit means "+4": q = low | hbit << 2 in 0..7, value q - 4.
// Importance path (quantize_row_q3_K_impl): weights importance·sqrt(2·mean(x²) + x²),
// make_qx_quants per sub-block, and the 16 scales themselves quantized by make_qx_quants(nmax 32)
// weighted by each sub-block's total weight.
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/k_quants_helpers.h"
#include "quant/quant.h"

namespace cartlm {

using quant_detail::check_row;
using quant_detail::nearest_int;

namespace {

constexpr int kSub = 16;

// Packing of the 6-bit value l (0..63) of sub-block j into the 12 scale bytes (zeroed first):
// low nibble in byte j (j < 8, low half) or j - 8 (high half), high 2 bits in byte 8 + j%4 at bit
// 2·(j/4).
void put_scale(int j, int l, uint8_t* scales) {
  if (j < 8)
    scales[j] = (uint8_t)(l & 0xF);
  else
    scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
  scales[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
}

// Quants against the stored factors (sub-blocks with scale 0 keep L), then the bit packing.
void requantize_and_pack(const float* x, BlockQ3_K& b, int8_t* L) {
  const float d_all = fp16_to_fp32(b.d);
  for (int j = 0; j < kSub; ++j) {
    const float d = d_all * (int8_t)(q3_k_scale(b.scales, j) - 32);
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      int l = nearest_int(x[16 * j + ii] / d);
      l = l < -4 ? -4 : (l > 3 ? 3 : l);
      L[16 * j + ii] = (int8_t)(l + 4);
    }
  }
  std::memset(b.hmask, 0, sizeof(b.hmask));
  for (int e = 0; e < kQKK; ++e) {
    if (L[e] > 3) {
      b.hmask[e % 32] |= (uint8_t)(1 << (e / 32));
      L[e] -= 4;
    }
  }
  for (int h = 0; h < kQKK; h += 128)
    for (int l = 0; l < 32; ++l)
      b.qs[h / 4 + l] = (uint8_t)(L[h + l] | (L[h + l + 32] << 2) | (L[h + l + 64] << 4) |
                                  (L[h + l + 96] << 6));
}

// Signed quants (-4..3) of all 256 elements: 2 low bits as Q2_K, the high bit of element e at
// bit e/32 of hmask[e%32]; a clear high bit means -4.
void unpack_q3(const BlockQ3_K& b, int8_t* q) {
  for (int h = 0; h < kQKK; h += 128)
    for (int g = 0; g < 4; ++g)
      for (int l = 0; l < 32; ++l) {
        const int e = h + 32 * g + l;
        const int low = (b.qs[h / 4 + l] >> (2 * g)) & 3;
        q[e] = (int8_t)(low - (((b.hmask[l] >> (e / 32)) & 1) ? 0 : 4));
      }
}

}  // namespace

int q3_k_scale(const uint8_t* scales, int j) {
  const int low = j < 8 ? (scales[j] & 0xF) : (scales[j - 8] >> 4);
  const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return low | (high << 4);
}

void quantize_q3_k_ref(const float* x, void* vy, int64_t n) {
  check_row(n, kQKK);
  BlockQ3_K* y = static_cast<BlockQ3_K*>(vy);
  int8_t L[kQKK];
  float scales[kSub];
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    float max_scale = 0, amax = 0;
    for (int j = 0; j < kSub; ++j) {
      scales[j] = quant_detail::make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
      if (std::fabs(scales[j]) > amax) {
        amax = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    std::memset(y[i].scales, 0, sizeof(y[i].scales));
    if (max_scale) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < kSub; ++j) {
        int l = (int8_t)nearest_int(iscale * scales[j]);
        l = (l < -32 ? -32 : (l > 31 ? 31 : l)) + 32;
        put_scale(j, l, y[i].scales);
      }
      y[i].d = fp32_to_fp16(1 / iscale);
    } else {
      y[i].d = fp32_to_fp16(0.f);
    }
    requantize_and_pack(x, y[i], L);
  }
}

void quantize_q3_k_importance(const float* x, void* vy, int64_t n, const float* importance) {
  check_row(n, kQKK);
  BlockQ3_K* y = static_cast<BlockQ3_K*>(vy);
  int8_t L[kQKK], Ls[kSub];
  float scales[kSub], weight[16], sw[kSub];
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    const float sigma2 = 2 * quant_detail::sum_squares(x, kQKK) / kQKK;
    for (int j = 0; j < kSub; ++j) {
      const float* qw = importance + kQKK * i + 16 * j;
      for (int l = 0; l < 16; ++l)
        weight[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
      float sumw = 0;
      for (int l = 0; l < 16; ++l) sumw += weight[l];
      sw[j] = sumw;
      scales[j] = quant_detail::make_qx_quants(16, 4, x + 16 * j, L + 16 * j, weight);
    }
    std::memset(y[i].scales, 0, sizeof(y[i].scales));
    const float d_block = quant_detail::make_qx_quants(kSub, 32, scales, Ls, sw);
    for (int j = 0; j < kSub; ++j) put_scale(j, Ls[j], y[i].scales);
    y[i].d = fp32_to_fp16(d_block);
    requantize_and_pack(x, y[i], L);
  }
}

void dequantize_q3_k(const void* vx, float* y, int64_t n) {
  check_row(n, kQKK);
  const BlockQ3_K* x = static_cast<const BlockQ3_K*>(vx);
  int8_t q[kQKK];
  for (int64_t i = 0; i < n / kQKK; ++i, y += kQKK) {
    const float d_all = fp16_to_fp32(x[i].d);
    unpack_q3(x[i], q);
    for (int j = 0; j < kSub; ++j) {
      const float dl = d_all * (q3_k_scale(x[i].scales, j) - 32);
      for (int e = 16 * j; e < 16 * j + 16; ++e) y[e] = dl * q[e];
    }
  }
}

}  // namespace cartlm
