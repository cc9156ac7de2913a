// Throughput of the scalar reference quantizers, dequantizers and dot products on a Llama-3.2-1B
// shaped matrix (256 rows of 2048, i.e. 1/32 of attn_q). Quantize/dequantize report GB/s of f32
// data; vec_dot reports GB/s of quantized weights streamed (a decode matvec is memory bound).
#include <benchmark/benchmark.h>

#include <vector>

#include "core/rng.h"
#include "quant/quant.h"

namespace {

using cartlm::DType;

constexpr int64_t kRows = 256, kCols = 2048;

std::vector<float> weights() {
  cartlm::Rng rng(1);
  std::vector<float> x(kRows * kCols);
  for (float& v : x) v = (float)(0.02 * rng.normal());
  return x;
}

void BM_Quantize(benchmark::State& state, DType t, bool importance) {
  const std::vector<float> x = weights();
  std::vector<float> imp(kCols, 1.0f);
  std::vector<uint8_t> q(*cartlm::quantized_row_bytes(t, kCols) * kRows);
  for (auto _ : state) {
    cartlm::Status s = cartlm::quantize_tensor(t, x.data(), kRows, kCols, q.data(),
                                               importance ? imp.data() : nullptr);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(q.data());
  }
  state.SetBytesProcessed(state.iterations() * kRows * kCols * (int64_t)sizeof(float));
}

void BM_Dequantize(benchmark::State& state, DType t) {
  const std::vector<float> x = weights();
  std::vector<uint8_t> q(*cartlm::quantized_row_bytes(t, kCols) * kRows);
  (void)cartlm::quantize_tensor(t, x.data(), kRows, kCols, q.data());
  std::vector<float> y(kRows * kCols);
  for (auto _ : state) {
    (void)cartlm::dequantize_tensor(t, q.data(), kRows, kCols, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * kRows * kCols * (int64_t)sizeof(float));
}

void BM_VecDot(benchmark::State& state, DType t) {
  const cartlm::QuantTraits* tr = cartlm::quant_traits(t);
  const std::vector<float> x = weights();
  const uint64_t rb = *cartlm::quantized_row_bytes(t, kCols);
  std::vector<uint8_t> q(rb * kRows), a(*cartlm::quantized_row_bytes(tr->act_type, kCols));
  (void)cartlm::quantize_tensor(t, x.data(), kRows, kCols, q.data());
  cartlm::quant_traits(tr->act_type)->quantize_row_ref(x.data(), a.data(), kCols);
  std::vector<float> y(kRows);
  for (auto _ : state) {
    for (int64_t r = 0; r < kRows; ++r) y[r] = tr->vec_dot_ref(q.data() + r * rb, a.data(), kCols);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * (int64_t)(rb * kRows));
}

#define QUANT_BENCH(T)                                                           \
  BENCHMARK_CAPTURE(BM_Quantize, T, DType::T, false)->Unit(benchmark::kMillisecond); \
  BENCHMARK_CAPTURE(BM_Dequantize, T, DType::T)->Unit(benchmark::kMicrosecond);     \
  BENCHMARK_CAPTURE(BM_VecDot, T, DType::T)->Unit(benchmark::kMicrosecond);

QUANT_BENCH(Q4_0)
QUANT_BENCH(Q4_1)
QUANT_BENCH(Q5_0)
QUANT_BENCH(Q5_1)
QUANT_BENCH(Q8_0)
QUANT_BENCH(Q2_K)
QUANT_BENCH(Q3_K)
QUANT_BENCH(Q4_K)
QUANT_BENCH(Q5_K)
QUANT_BENCH(Q6_K)

BENCHMARK_CAPTURE(BM_Quantize, Q4_K_importance, DType::Q4_K, true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Quantize, Q6_K_importance, DType::Q6_K, true)->Unit(benchmark::kMillisecond);

}  // namespace
