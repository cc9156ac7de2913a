// Q8_K: activations for the K-quant dot products. 256 int8 values, an f32 scale, and the sums of
// each group of 16 quants (bsums) so a dot product with a format that has per-sub-block mins
// (Q2_K, Q4_K, Q5_K) gets the min term from 16 integer products instead of 256.
// As llama.cpp's quantize_row_q8_K_ref: iscale = -127 / (signed absmax), round half to even.
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/k_quants_helpers.h"
#include "quant/quant.h"

namespace cartlm {

using quant_detail::check_row;
using quant_detail::nearest_int;

void quantize_q8_k_ref(const float* x, void* vy, int64_t n) {
  check_row(n, kQKK);
  BlockQ8_K* y = static_cast<BlockQ8_K*>(vy);
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    float max = 0, amax = 0;
    for (int j = 0; j < kQKK; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (!amax) {
      // llama.cpp leaves bsums untouched here; we zero them so the block is fully defined (they
      // are sums of zeros either way).
      std::memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    // -127/max maps the extreme element to -127 whatever its sign; the other end can reach +127
    // only (min(127, ...) guards the rounding of 127.5).
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

void dequantize_q8_k(const void* vx, float* y, int64_t n) {
  check_row(n, kQKK);
  const BlockQ8_K* x = static_cast<const BlockQ8_K*>(vx);
  for (int64_t i = 0; i < n / kQKK; ++i)
    for (int j = 0; j < kQKK; ++j) y[i * kQKK + j] = x[i].d * x[i].qs[j];
}

float dot_q8_k_q8_k_ref(const void* vw, const void* va, int64_t n) {
  check_row(n, kQKK);
  const BlockQ8_K* w = static_cast<const BlockQ8_K*>(vw);
  const BlockQ8_K* a = static_cast<const BlockQ8_K*>(va);
  float sum = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQKK; ++j) sumi += w[i].qs[j] * a[i].qs[j];
    sum += w[i].d * a[i].d * (float)sumi;
  }
  return sum;
}

}  // namespace cartlm
