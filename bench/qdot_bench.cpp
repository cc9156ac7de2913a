// Block-quantized dot products and matvecs on Llama-3.2-1B shapes.
//
//   qdot_bench --benchmark_min_time=0.2
//
// BM_QDot: one weight row of 2048 elements against a quantized activation row, both in L1, for
// every format and every table this CPU runs (compute speed of the kernel; bytes/s = weight bytes).
// BM_QMatvec: decode y[8192] = W[8192, 2048] · x with the active table and CARTLM_THREADS threads
// (default 2), cycling through copies of W totalling >= 512 MiB so every call streams from DRAM;
// compare its bytes_per_second with kernels_bench's BM_ReadBandwidth (the ceiling).
// BM_QMatmulPrefill: the same matrix times 64 tokens (prefill), weights reused from cache.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "quant/quant.h"

using namespace cartlm;

namespace {

const DType kTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                        DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};

int bench_threads() {
  const char* e = std::getenv("CARTLM_THREADS");
  return e ? std::atoi(e) : 2;
}

ThreadPool& pool() {
  static ThreadPool p(bench_threads());
  return p;
}

std::vector<float> random_f32(size_t n, uint64_t seed, double sd) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& f : v) f = (float)(sd * rng.normal());
  return v;
}

std::vector<uint8_t> quantized(DType t, size_t rows, size_t cols, uint64_t seed) {
  std::vector<float> f = random_f32(rows * cols, seed, 0.02);
  std::vector<uint8_t> q(rows * dtype_row_bytes(t, cols));
  if (!quantize_tensor(t, f.data(), (int64_t)rows, (int64_t)cols, q.data(), nullptr, &pool()).ok())
    std::abort();
  return q;
}

const KernelTable* table(int64_t i) {
  std::vector<const KernelTable*> t = supported_kernel_tables();
  return i < (int64_t)t.size() ? t[(size_t)i] : nullptr;
}

void BM_QDot(benchmark::State& state) {
  const KernelTable* k = table(state.range(0));
  const DType t = kTypes[state.range(1)];
  if (!k) {
    state.SkipWithError("ISA not supported here");
    return;
  }
  const size_t n = 2048;
  std::vector<uint8_t> w = quantized(t, 1, n, 1);
  std::vector<float> x = random_f32(n, 2, 1.0);
  std::vector<uint8_t> a(quantized_act_bytes(qdot_act_type(t), n));
  quantize_act_fn(*k, qdot_act_type(t))(x.data(), a.data(), n);
  const QDotFn dot = qdot_fn(*k, t);
  for (auto _ : state) {
    float r = dot(w.data(), a.data(), n);
    benchmark::DoNotOptimize(r);
  }
  state.SetLabel(std::string(k->isa) + " " + dtype_name(t));
  state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)w.size());
}

void qdot_args(benchmark::internal::Benchmark* b) {
  for (int64_t k = 0; k < 3; ++k)
    for (int64_t t = 0; t < (int64_t)(sizeof(kTypes) / sizeof(kTypes[0])); ++t) b->Args({k, t});
}
BENCHMARK(BM_QDot)->Apply(qdot_args);

constexpr size_t kOut = 8192, kIn = 2048;
constexpr size_t kColdBytes = 512ull << 20;

void BM_QMatvec(benchmark::State& state) {
  const DType t = kTypes[state.range(0)];
  const std::vector<uint8_t> one = quantized(t, kOut, kIn, 3);
  const size_t copies = kColdBytes / one.size() + 1;
  std::vector<uint8_t> w(copies * one.size());
  for (size_t c = 0; c < copies; ++c) std::memcpy(w.data() + c * one.size(), one.data(), one.size());
  std::vector<float> x = random_f32(kIn, 4, 1.0), y(kOut);
  size_t c = 0;
  for (auto _ : state) {
    matmul(x.data(), 1, kIn, t, w.data() + c * one.size(), kOut, nullptr, y.data(), &pool());
    benchmark::DoNotOptimize(y.data());
    c = (c + 1) % copies;
  }
  state.SetLabel(std::string(kernels().isa) + " " + dtype_name(t) + " threads " +
                 std::to_string(pool().size()));
  state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)one.size());
}
BENCHMARK(BM_QMatvec)->DenseRange(0, 9)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_QMatmulPrefill(benchmark::State& state) {
  const DType t = kTypes[state.range(0)];
  const size_t T = 64;
  const std::vector<uint8_t> w = quantized(t, kOut, kIn, 5);
  std::vector<float> x = random_f32(T * kIn, 6, 1.0), y(T * kOut);
  for (auto _ : state) {
    matmul(x.data(), T, kIn, t, w.data(), kOut, nullptr, y.data(), &pool());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(std::string(kernels().isa) + " " + dtype_name(t) + " threads " +
                 std::to_string(pool().size()));
  // Multiply-adds per second, as "items".
  state.SetItemsProcessed((int64_t)state.iterations() * (int64_t)(T * kOut * kIn));
}
BENCHMARK(BM_QMatmulPrefill)->DenseRange(0, 9)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
