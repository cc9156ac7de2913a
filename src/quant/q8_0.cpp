// Q8_0 (weights and the activations of Q4_0/Q5_0/Q8_0 dot products) and Q8_1 (activations of
// Q4_1/Q5_1 dot products): 32 int8 values and an fp16 scale d = absmax / 127.
// Their quantizer is the kernels' quantize_act_q8_0_ref / quantize_act_q8_1_ref (traits.cpp), the
// one copy of llama.cpp's quantize_row_q8_0_ref / quantize_row_q8_1_ref; what is left here is
// the way back.
#include "quant/blocks.h"
#include "quant/k_quants_helpers.h"
#include "quant/quant.h"

namespace cartlm {

using quant_detail::check_row;

void dequantize_q8_0(const void* vx, float* y, int64_t n) {
  check_row(n, kQK);
  const BlockQ8_0* x = static_cast<const BlockQ8_0*>(vx);
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK; ++j) y[i * kQK + j] = x[i].qs[j] * d;
  }
}

void dequantize_q8_1(const void* vx, float* y, int64_t n) {
  check_row(n, kQK);
  const BlockQ8_1* x = static_cast<const BlockQ8_1*>(vx);
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK; ++j) y[i * kQK + j] = x[i].qs[j] * d;
  }
}

}  // namespace cartlm
