// Q5_K: Q4_K with a 5th bit per quant (qh), nmax 31: y = d·sc·q - dmin·m.
// The search is shared with Q4_K (quantize_q45_k_superblock in q4_k.cpp); the reference path uses
// rmin -0.5 and nstep 15 for nmax 31 (llama.cpp quantize_row_q5_K_ref).
#include <cstring>

#include "quant/blocks.h"
#include "quant/k_quants_helpers.h"
#include "quant/quant.h"

namespace cartlm {

using quant_detail::check_row;

namespace {

void quantize_q5_k_row(const float* x, void* vy, int64_t n, const float* importance) {
  check_row(n, kQKK);
  BlockQ5_K* y = static_cast<BlockQ5_K*>(vy);
  uint8_t L[kQKK];
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    quant_detail::quantize_q45_k_superblock(x, 31, importance ? importance + kQKK * i : nullptr,
                                            &y[i].d, &y[i].dmin, y[i].scales, L);
    // Chunk c of 64: element 64c + l -> low nibble of qs[32c + l], bit 2c of qh[l];
    // element 64c + 32 + l -> high nibble, bit 2c + 1.
    std::memset(y[i].qh, 0, sizeof(y[i].qh));
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        int l1 = L[64 * c + l], l2 = L[64 * c + 32 + l];
        if (l1 > 15) {
          l1 -= 16;
          y[i].qh[l] |= (uint8_t)(1 << (2 * c));
        }
        if (l2 > 15) {
          l2 -= 16;
          y[i].qh[l] |= (uint8_t)(2 << (2 * c));
        }
        y[i].qs[32 * c + l] = (uint8_t)(l1 | (l2 << 4));
      }
    }
  }
}

}  // namespace

void quantize_q5_k_ref(const float* x, void* y, int64_t n) { quantize_q5_k_row(x, y, n, nullptr); }

void quantize_q5_k_importance(const float* x, void* y, int64_t n, const float* importance) {
  CARTLM_CHECK(importance != nullptr);
  quantize_q5_k_row(x, y, n, importance);
}

void dequantize_q5_k(const void* vx, float* y, int64_t n) {
  check_row(n, kQKK);
  const BlockQ5_K* x = static_cast<const BlockQ5_K*>(vx);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
    for (int c = 0; c < 4; ++c) {
      uint8_t sc, m;
      get_scale_min_k4(2 * c, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      get_scale_min_k4(2 * c + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      const uint8_t* q = x[i].qs + 32 * c;
      const uint8_t* qh = x[i].qh;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((q[l] & 0xF) + ((qh[l] >> (2 * c)) & 1) * 16) - m1;
      for (int l = 0; l < 32; ++l)
        *y++ = d2 * ((q[l] >> 4) + ((qh[l] >> (2 * c + 1)) & 1) * 16) - m2;
    }
  }
}

}  // namespace cartlm
