// Q6_K: 16 sub-blocks of 16 elements, 6-bit quants (4 low bits in ql, 2 high bits in qh), int8
// sub-block scales and one fp16 factor d: y = d·scales[e/16]·(q - 32) (REFERENCE.md §2.3).
//
// Reference (llama.cpp quantize_row_q6_K_ref): make_qx_quants(16, nmax 32, w = x²) per sub-block;
// the signed scale of largest magnitude s_max sets iscale = -128 / s_max, scales become
// min(127, nearest_int(iscale·s)) and d = fp16(1 / iscale); quants are recomputed against the
// fp16 d. Importance path (quantize_row_q6_K_impl): the same with w = importance directly.
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/k_quants_helpers.h"
#include "quant/quant.h"

namespace cartlm {

using quant_detail::check_row;
using quant_detail::kGroupMaxEps;
using quant_detail::nearest_int;

namespace {

constexpr int kSub = 16;

// Signed quants (-32..31) of all 256 elements. In half h (elements 128h..), l = 0..31: the low
// nibbles of elements l, l+32 are the low halves of ql[64h + l], ql[64h + l + 32], those of
// l+64, l+96 the high halves; the 2 high bits of l, l+32, l+64, l+96 are bits 0-1, 2-3, 4-5, 6-7
// of qh[32h + l].
void unpack_q6(const BlockQ6_K& b, int8_t* q) {
  for (int h = 0; h < 2; ++h) {
    const uint8_t* ql = b.ql + 64 * h;
    const uint8_t* qh = b.qh + 32 * h;
    int8_t* out = q + 128 * h;
    for (int l = 0; l < 32; ++l) {
      out[l] = (int8_t)(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
      out[l + 32] = (int8_t)(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
      out[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      out[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
}

void quantize_q6_k_row(const float* x, void* vy, int64_t n, const float* importance) {
  check_row(n, kQKK);
  BlockQ6_K* y = static_cast<BlockQ6_K*>(vy);
  int8_t L[kQKK];
  float scales[kSub];
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < kSub; ++ib) {
      const float* w = importance ? importance + kQKK * i + 16 * ib : nullptr;
      scales[ib] = quant_detail::make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, w);
      if (std::fabs(scales[ib]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[ib]);
        max_scale = scales[ib];
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(&y[i], 0, sizeof(BlockQ6_K));
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = fp32_to_fp16(1 / iscale);
    for (int ib = 0; ib < kSub; ++ib) {
      const int l = nearest_int(iscale * scales[ib]);
      y[i].scales[ib] = (int8_t)(l < 127 ? l : 127);
    }
    const float d_all = fp16_to_fp32(y[i].d);
    for (int j = 0; j < kSub; ++j) {
      const float d = d_all * y[i].scales[j];
      if (!d) continue;
      for (int ii = 0; ii < 16; ++ii) {
        int l = nearest_int(x[16 * j + ii] / d);
        l = l < -32 ? -32 : (l > 31 ? 31 : l);
        L[16 * j + ii] = (int8_t)(l + 32);
      }
    }
    for (int h = 0; h < 2; ++h) {
      const int8_t* q = L + 128 * h;
      uint8_t* ql = y[i].ql + 64 * h;
      uint8_t* qh = y[i].qh + 32 * h;
      for (int l = 0; l < 32; ++l) {
        ql[l] = (uint8_t)((q[l] & 0xF) | ((q[l + 64] & 0xF) << 4));
        ql[l + 32] = (uint8_t)((q[l + 32] & 0xF) | ((q[l + 96] & 0xF) << 4));
        qh[l] = (uint8_t)((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) |
                          ((q[l + 96] >> 4) << 6));
      }
    }
  }
}

}  // namespace

void quantize_q6_k_ref(const float* x, void* y, int64_t n) { quantize_q6_k_row(x, y, n, nullptr); }

void quantize_q6_k_importance(const float* x, void* y, int64_t n, const float* importance) {
  CARTLM_CHECK(importance != nullptr);
  quantize_q6_k_row(x, y, n, importance);
}

void dequantize_q6_k(const void* vx, float* y, int64_t n) {
  check_row(n, kQKK);
  const BlockQ6_K* x = static_cast<const BlockQ6_K*>(vx);
  int8_t q[kQKK];
  for (int64_t i = 0; i < n / kQKK; ++i, y += kQKK) {
    const float d = fp16_to_fp32(x[i].d);
    unpack_q6(x[i], q);
    for (int j = 0; j < kSub; ++j) {
      const float dl = d * x[i].scales[j];
      for (int e = 16 * j; e < 16 * j + 16; ++e) y[e] = dl * q[e];
    }
  }
}

}  // namespace cartlm
