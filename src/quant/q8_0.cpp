// Q8_0 (weights and the activations of Q4_0/Q5_0/Q8_0 dot products) and Q8_1 (activations of
// Q4_1/Q5_1 dot products): 32 int8 values and an fp16 scale d = absmax / 127, rounded with roundf
// (half away from zero), as llama.cpp's quantize_row_q8_0_ref / quantize_row_q8_1_ref.
#include <cmath>

#include "quant/blocks.h"
#include "quant/k_quants_helpers.h"
#include "quant/quant.h"

namespace cartlm {

using quant_detail::check_row;

namespace {

// Shared by Q8_0 and Q8_1: d (unrounded) and the quants of one block.
float quantize_block_q8(const float* x, int8_t* qs) {
  float amax = 0;
  for (int j = 0; j < kQK; ++j) {
    const float a = std::fabs(x[j]);
    amax = amax > a ? amax : a;
  }
  const float d = amax / 127;
  const float id = d ? 1.0f / d : 0.0f;
  for (int j = 0; j < kQK; ++j) qs[j] = (int8_t)std::round(x[j] * id);
  return d;
}

}  // namespace

void quantize_q8_0_ref(const float* x, void* vy, int64_t n) {
  check_row(n, kQK);
  BlockQ8_0* y = static_cast<BlockQ8_0*>(vy);
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float d = quantize_block_q8(x + i * kQK, y[i].qs);
    y[i].d = fp32_to_fp16(d);
  }
}

void quantize_q8_1_ref(const float* x, void* vy, int64_t n) {
  check_row(n, kQK);
  BlockQ8_1* y = static_cast<BlockQ8_1*>(vy);
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float d = quantize_block_q8(x + i * kQK, y[i].qs);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) sum += y[i].qs[j];
    y[i].d = fp32_to_fp16(d);
    // s lets the min term of a Q4_1/Q5_1 dot product be one multiply: Σ(d·q + m)·a = ... + m·s.
    y[i].s = fp32_to_fp16((float)sum * d);
  }
}

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

float dot_q8_0_q8_0_ref(const void* vw, const void* va, int64_t n) {
  check_row(n, kQK);
  const BlockQ8_0* w = static_cast<const BlockQ8_0*>(vw);
  const BlockQ8_0* a = static_cast<const BlockQ8_0*>(va);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += w[i].qs[j] * a[i].qs[j];
    sum += fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d) * (float)sumi;
  }
  return sum;
}

float dot_q8_1_q8_1_ref(const void* vw, const void* va, int64_t n) {
  check_row(n, kQK);
  const BlockQ8_1* w = static_cast<const BlockQ8_1*>(vw);
  const BlockQ8_1* a = static_cast<const BlockQ8_1*>(va);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += w[i].qs[j] * a[i].qs[j];
    sum += fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d) * (float)sumi;
  }
  return sum;
}

}  // namespace cartlm
