// Q8_K: activations for the K-quant dot products. 256 int8 values, an f32 scale, and the sums of
// each group of 16 quants (bsums) so a dot product with a format that has per-sub-block mins
// (Q2_K, Q4_K, Q5_K) gets the min term from 16 integer products instead of 256.
// The quantizer is the kernels' quantize_act_q8_k_ref (traits.cpp), the one copy of llama.cpp's
// quantize_row_q8_K_ref; what is left here is the way back.
#include "quant/blocks.h"
#include "quant/k_quants_helpers.h"
#include "quant/quant.h"

namespace cartlm {

using quant_detail::check_row;

void dequantize_q8_k(const void* vx, float* y, int64_t n) {
  check_row(n, kQKK);
  const BlockQ8_K* x = static_cast<const BlockQ8_K*>(vx);
  for (int64_t i = 0; i < n / kQKK; ++i)
    for (int j = 0; j < kQKK; ++j) y[i * kQKK + j] = x[i].d * x[i].qs[j];
}

}  // namespace cartlm
