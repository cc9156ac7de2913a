// Kernel micro-benchmarks on Llama-3.2-1B shapes (hidden 2048, FFN 8192, 32/8 heads of 64).
//
//   kernels_bench --benchmark_min_time=0.2
//
// BM_ReadBandwidth measures this machine's streaming-read bandwidth, the ceiling for decode:
// a matvec must read every weight byte once, so its bytes_per_second should approach it.
// Decode benchmarks cycle through enough copies of the weights (>= 512 MiB) that every call
// reads from DRAM, as in a real model whose weights dwarf the caches. Threads: CARTLM_THREADS
// (default 2, this machine's core count). Table: the arg name says which ISA ran.
#include <benchmark/benchmark.h>
#include <emmintrin.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"

using namespace cartlm;

namespace {

constexpr size_t kColdBytes = 512ull << 20;

int bench_threads() {
  const char* e = std::getenv("CARTLM_THREADS");
  return e ? std::atoi(e) : 2;
}

ThreadPool& pool() {
  static ThreadPool p(bench_threads());
  return p;
}

// 64-byte aligned, touched once (so page faults stay out of the timings).
struct Aligned {
  std::unique_ptr<uint8_t[]> raw;
  uint8_t* p = nullptr;
  size_t bytes = 0;
  explicit Aligned(size_t n) : raw(new uint8_t[n + 64]), bytes(n) {
    p = raw.get() + (64 - reinterpret_cast<uintptr_t>(raw.get()) % 64) % 64;
    std::memset(p, 0, n);
  }
};

void fill_weights(DType t, uint8_t* p, size_t n, uint64_t seed) {
  Rng rng(seed);
  for (size_t i = 0; i < n; ++i) {
    float v = (float)(rng.uniform_double() * 0.2 - 0.1);
    if (t == DType::F32)
      std::memcpy(p + 4 * i, &v, 4);
    else
      reinterpret_cast<uint16_t*>(p)[i] = t == DType::F16 ? fp32_to_fp16(v) : fp32_to_bf16(v);
  }
}

// One 512 MiB buffer of weights shared by every decode benchmark, filled once: f16 values in
// [-0.1, 0.1]. Read as F16, BF16 or F32 (pairs of halves) they are all normal numbers, which is
// all a bandwidth measurement needs. Calls rotate through it so every call reads from DRAM.
const Aligned& cold_weights() {
  static const Aligned buf = [] {
    Aligned b(kColdBytes);
    uint16_t* h = reinterpret_cast<uint16_t*>(b.p);
    Rng rng(1);
    uint16_t table[4096];
    for (uint16_t& v : table) v = fp32_to_fp16((float)(rng.uniform_double() * 0.2 - 0.1));
    for (size_t i = 0; i < kColdBytes / 2; ++i) h[i] = table[i % 4093];
    return b;
  }();
  return buf;
}

const KernelTable* table(int64_t index) {
  auto t = supported_kernel_tables();
  return index < (int64_t)t.size() ? t[index] : nullptr;
}

DType dtype_arg(int64_t a) { return a == 0 ? DType::F32 : a == 1 ? DType::F16 : DType::BF16; }

// ---------------------------------------------------------------------------------------------

// Streaming read of 512 MiB split over the pool: SSE2 loads into 8 independent accumulators.
void BM_ReadBandwidth(benchmark::State& state) {
  const Aligned& buf = cold_weights();
  const size_t n = kColdBytes / 16;
  volatile float sink = 0;
  for (auto _ : state) {
    float partial[64] = {};
    pool().run([&](int ti, int nt) {
      size_t b, e;
      ThreadPool::chunk_range(n, 8, ti, nt, &b, &e);
      const __m128* v = reinterpret_cast<const __m128*>(buf.p);
      __m128 a0 = _mm_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
      for (size_t i = b; i + 8 <= e; i += 8) {
        a0 = _mm_add_ps(a0, v[i]);
        a1 = _mm_add_ps(a1, v[i + 1]);
        a2 = _mm_add_ps(a2, v[i + 2]);
        a3 = _mm_add_ps(a3, v[i + 3]);
        a4 = _mm_add_ps(a4, v[i + 4]);
        a5 = _mm_add_ps(a5, v[i + 5]);
        a6 = _mm_add_ps(a6, v[i + 6]);
        a7 = _mm_add_ps(a7, v[i + 7]);
      }
      __m128 s = _mm_add_ps(_mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)),
                            _mm_add_ps(_mm_add_ps(a4, a5), _mm_add_ps(a6, a7)));
      float out[4];
      _mm_storeu_ps(out, s);
      if (ti < 64) partial[ti] = out[0] + out[1] + out[2] + out[3];
    });
    sink = sink + partial[0];
  }
  state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)kColdBytes);
}
BENCHMARK(BM_ReadBandwidth)->Unit(benchmark::kMillisecond)->UseRealTime();

// Decode: y[out] = W[out, in] · x. Args: table index, dtype (0 F32, 1 F16, 2 BF16), out, in.
void BM_Matvec(benchmark::State& state) {
  const KernelTable* k = table(state.range(0));
  if (!k) {
    state.SkipWithError("ISA not supported here");
    return;
  }
  const DType wt = dtype_arg(state.range(1));
  const size_t out = (size_t)state.range(2), in = (size_t)state.range(3);
  const size_t wbytes = dtype_row_bytes(wt, in) * out;
  const size_t copies = kColdBytes / wbytes;
  const uint8_t* w = cold_weights().p;
  std::vector<float> x(in, 0.01f), y(out);
  size_t c = 0;
  for (auto _ : state) {
    matmul(*k, x.data(), 1, in, wt, w + c * wbytes, out, nullptr, y.data(), &pool());
    benchmark::DoNotOptimize(y.data());
    c = (c + 1) % copies;
  }
  state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)wbytes);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * (double)in * (double)out * (double)state.iterations(),
                                                 benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  state.SetLabel(std::string(k->isa) + " " + dtype_name(wt));
}

void matvec_args(benchmark::internal::Benchmark* b) {
  const int64_t shapes[][2] = {{2048, 2048}, {512, 2048}, {8192, 2048}, {2048, 8192}};
  for (int64_t t = 0; t < 3; ++t)
    for (int64_t d = 0; d < 3; ++d)
      for (const auto& s : shapes) {
        if (t == 0 && (s[0] != 2048 || s[1] != 2048)) continue;  // scalar: one shape is enough
        b->Args({t, d, s[0], s[1]});
      }
  b->ArgNames({"isa", "dtype", "out", "in"});
}
BENCHMARK(BM_Matvec)->Apply(matvec_args)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Prefill: y[64, out] = x[64, in] · W^T. Args: table index, dtype, out, in.
void BM_Prefill(benchmark::State& state) {
  const KernelTable* k = table(state.range(0));
  if (!k) {
    state.SkipWithError("ISA not supported here");
    return;
  }
  const DType wt = dtype_arg(state.range(1));
  const size_t out = (size_t)state.range(2), in = (size_t)state.range(3), T = 64;
  Aligned w(dtype_row_bytes(wt, in) * out);
  fill_weights(wt, w.p, in * out, 2);
  std::vector<float> x(T * in, 0.01f), y(T * out);
  for (auto _ : state) {
    matmul(*k, x.data(), T, in, wt, w.p, out, nullptr, y.data(), &pool());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * (double)T * in * out * (double)state.iterations(),
                                                 benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  state.SetLabel(std::string(k->isa) + " " + dtype_name(wt) + " T=64");
}
void prefill_args(benchmark::internal::Benchmark* b) {
  for (int64_t t = 1; t < 3; ++t)
    for (int64_t d = 0; d < 3; ++d) {
      b->Args({t, d, 2048, 2048});
      b->Args({t, d, 8192, 2048});
    }
  b->ArgNames({"isa", "dtype", "out", "in"});
}
BENCHMARK(BM_Prefill)->Apply(prefill_args)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Rmsnorm(benchmark::State& state) {
  const KernelTable* k = table(state.range(0));
  if (!k) {
    state.SkipWithError("ISA not supported here");
    return;
  }
  std::vector<float> x(2048, 0.5f), w(2048, 1.0f), y(2048);
  for (auto _ : state) {
    k->rmsnorm.fn(x.data(), w.data(), 1e-5f, 2048, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed((int64_t)state.iterations() * 3 * 2048 * 4);
  state.SetLabel(k->isa);
}
BENCHMARK(BM_Rmsnorm)->DenseRange(0, 2)->ArgName("isa");

void BM_Swiglu(benchmark::State& state) {
  const KernelTable* k = table(state.range(0));
  if (!k) {
    state.SkipWithError("ISA not supported here");
    return;
  }
  std::vector<float> g(8192, 0.5f), u(8192, 1.0f), y(8192);
  for (auto _ : state) {
    k->swiglu.fn(g.data(), u.data(), y.data(), 8192);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed((int64_t)state.iterations() * 8192);
  state.SetLabel(k->isa);
}
BENCHMARK(BM_Swiglu)->DenseRange(0, 2)->ArgName("isa");

// Attention of one layer: 32 query heads, 8 kv heads, head_dim 64. Args: table index, T (new
// tokens), cached tokens before them, kv dtype (0 F32, 1 F16).
void BM_Attention(benchmark::State& state) {
  const KernelTable* k = table(state.range(0));
  if (!k) {
    state.SkipWithError("ISA not supported here");
    return;
  }
  AttentionShape s;
  s.n_head = 32;
  s.n_kv = 8;
  s.head_dim = 64;
  s.T = (size_t)state.range(1);
  s.pos0 = (size_t)state.range(2);
  s.kv_type = state.range(3) ? DType::F16 : DType::F32;
  const size_t n_pos = s.pos0 + s.T, cache_elems = n_pos * 8 * 64;
  std::vector<float> q(s.T * 32 * 64, 0.1f), out(q.size()), kf(cache_elems, 0.05f), vf(cache_elems, 0.2f);
  std::vector<uint16_t> kh(cache_elems, fp32_to_fp16(0.05f)), vh(cache_elems, fp32_to_fp16(0.2f));
  const void* kc = s.kv_type == DType::F16 ? (const void*)kh.data() : (const void*)kf.data();
  const void* vc = s.kv_type == DType::F16 ? (const void*)vh.data() : (const void*)vf.data();
  for (auto _ : state) {
    attention(*k, s, q.data(), kc, vc, out.data(), &pool());
    benchmark::DoNotOptimize(out.data());
  }
  // q·k and p·v: 4 flops per (query head, key, dim).
  double flops = 0;
  for (size_t t = 0; t < s.T; ++t) flops += 4.0 * 32 * 64 * (double)(s.pos0 + t + 1);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * (double)state.iterations(), benchmark::Counter::kIsRate,
                                                 benchmark::Counter::kIs1000);
  state.SetLabel(std::string(k->isa) + (s.kv_type == DType::F16 ? " f16 cache" : " f32 cache"));
}
BENCHMARK(BM_Attention)
    ->ArgNames({"isa", "T", "past", "f16"})
    ->Args({2, 1, 128, 0})
    ->Args({2, 1, 2048, 0})
    ->Args({2, 1, 2048, 1})
    ->Args({2, 64, 0, 0})
    ->Args({1, 1, 2048, 0})
    ->Args({0, 1, 2048, 0})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// Training backward helpers on the active table (dx = dy·W for F32/F16/BF16 weights, dW += dy^T·x).
void BM_MatmulBackwardX(benchmark::State& state) {
  const DType wt = dtype_arg(state.range(0));
  const size_t T = (size_t)state.range(1), out = (size_t)state.range(2), in = (size_t)state.range(3);
  Aligned w(dtype_row_bytes(wt, in) * out);
  fill_weights(wt, w.p, in * out, 2);
  std::vector<float> dy(T * out, 0.01f), dx(T * in);
  for (auto _ : state) {
    matmul_backward_x(dy.data(), T, out, wt, w.p, in, dx.data(), false, &pool());
    benchmark::DoNotOptimize(dx.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * (double)T * in * out * (double)state.iterations(),
                                                 benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  state.SetLabel(std::string(kernels().isa) + " " + dtype_name(wt));
}
BENCHMARK(BM_MatmulBackwardX)
    ->ArgsProduct({{0, 1, 2}, {512}, {768}, {256}})
    ->ArgsProduct({{0, 1, 2}, {64}, {2048}, {2048}})
    // The tiny model's training step: 32 sequences of ~37 tokens, gate/up and down projections.
    ->Args({0, 1184, 768, 256})
    ->Args({0, 1184, 256, 768})
    ->ArgNames({"dtype", "T", "out", "in"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_MatmulBackwardW(benchmark::State& state) {
  const size_t T = (size_t)state.range(0), out = (size_t)state.range(1), in = (size_t)state.range(2);
  std::vector<float> dy(T * out, 0.01f), x(T * in, 0.02f), dw(out * in);
  for (auto _ : state) {
    matmul_backward_w(dy.data(), T, out, x.data(), in, dw.data(), false, &pool());
    benchmark::DoNotOptimize(dw.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * (double)T * in * out * (double)state.iterations(),
                                                 benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  state.SetLabel(kernels().isa);
}
BENCHMARK(BM_MatmulBackwardW)
    ->Args({512, 768, 256})
    ->Args({64, 2048, 2048})
    // The tiny model: gate/up, down, and the LM head over ~600 completion tokens.
    ->Args({1184, 768, 256})
    ->Args({1184, 256, 768})
    ->Args({600, 4096, 256})
    ->ArgNames({"T", "out", "in"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Per-call overhead of the pool (what every parallel kernel pays per call).
void BM_PoolOverhead(benchmark::State& state) {
  std::atomic<int> sink{0};
  for (auto _ : state) pool().parallel_for(2, [&](size_t b, size_t) { sink.fetch_add((int)b, std::memory_order_relaxed); });
}
BENCHMARK(BM_PoolOverhead)->UseRealTime();

}  // namespace
