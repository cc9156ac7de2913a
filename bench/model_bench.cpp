// Forward-pass benchmarks of a Llama-3.2-1B-shaped model cut to 2 layers and a 16384-token
// vocabulary (hidden 2048, FFN 8192, 32/8 heads of 64), built in memory with random weights and
// stored as each weight type (quantized with quantize_tensor, llama.cpp's reference quantizers).
//
//   model_bench --benchmark_min_time=1
//
// BM_Decode: one token per step at position ~64 (bytes/s = weight bytes read per step, compare
// with kernels_bench's BM_ReadBandwidth). BM_Prefill: a 64-token prompt in one call (items/s =
// tokens/s). Threads: CARTLM_THREADS (default 2). Whole-model numbers: `cartlm bench-model`.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/llama.h"
#include "model/weights.h"
#include "quant/quant.h"

using namespace cartlm;

namespace {

const DType kTypes[] = {DType::F32,  DType::BF16, DType::F16,  DType::Q8_0, DType::Q6_K,
                        DType::Q5_K, DType::Q4_K, DType::Q4_0, DType::Q3_K, DType::Q2_K,
                        DType::Q5_0, DType::Q5_1, DType::Q4_1};

int bench_threads() {
  const char* e = std::getenv("CARTLM_THREADS");
  return e ? std::atoi(e) : 2;
}

ThreadPool& pool() {
  static ThreadPool p(bench_threads());
  return p;
}

struct BenchModel {
  Config c;
  std::vector<std::vector<uint8_t>> storage;
  TensorMap map;
  LlamaModel model;
  uint64_t bytes_per_token = 0;
};

// Built once per type and kept (the benchmark runs each type's cases back to back).
const BenchModel& bench_model(DType t) {
  static std::map<DType, std::unique_ptr<BenchModel>> cache;
  auto it = cache.find(t);
  if (it != cache.end()) return *it->second;
  cache.clear();  // one model in memory at a time
  auto m = std::make_unique<BenchModel>();
  m->c = preset_config("llama-3.2-1b").value();
  m->c.num_hidden_layers = 2;
  m->c.vocab_size = 16384;
  m->c.tie_word_embeddings = false;
  Rng rng(7);
  for (const ExpectedTensor& e : expected_tensors(m->c)) {
    size_t n = 1;
    for (int64_t d : e.shape) n *= (size_t)d;
    std::vector<float> f(n);
    const bool vec = e.shape.size() == 1;
    const double sd = vec ? 0.0 : 1.0 / std::sqrt((double)e.shape[1]);
    for (float& v : f) v = vec ? 1.0f : (float)(sd * rng.normal());
    const DType st = vec ? DType::F32 : t;
    const size_t rows = vec ? 1 : (size_t)e.shape[0], cols = vec ? n : (size_t)e.shape[1];
    std::vector<uint8_t> q(rows * quantized_row_bytes(st, (int64_t)cols).value());
    if (!quantize_tensor(st, f.data(), (int64_t)rows, (int64_t)cols, q.data(), nullptr, &pool()).ok())
      std::abort();
    if (!vec && e.name.find("embed") == std::string::npos) m->bytes_per_token += q.size();
    m->storage.push_back(std::move(q));
    TensorView v;
    v.name = e.name;
    v.dtype = st;
    v.shape = e.shape;
    v.data = m->storage.back().data();
    v.nbytes = m->storage.back().size();
    m->map[e.name] = v;
  }
  m->model = llama_model(m->c, bind_weights(m->c, m->map).value()).value();
  return *(cache[t] = std::move(m));
}

std::vector<int32_t> prompt(size_t n, int64_t vocab) {
  Rng rng(3);
  std::vector<int32_t> p(n);
  for (int32_t& t : p) t = (int32_t)rng.uniform((uint64_t)vocab);
  return p;
}

void BM_Decode(benchmark::State& state) {
  const DType t = kTypes[state.range(0)];
  const BenchModel& m = bench_model(t);
  LlamaSessionOptions o;
  o.max_seq = 4096;
  LlamaSession s = llama_session(m.model, o).value();
  const std::vector<int32_t> p = prompt(64, m.c.vocab_size);
  if (!llama_forward(m.model, s, p, &pool()).ok()) std::abort();
  int32_t tok = 1;
  for (auto _ : state) {
    if (s.n_past + 1 > o.max_seq) llama_truncate(s, 64);
    if (!llama_forward(m.model, s, std::span<const int32_t>(&tok, 1), &pool()).ok()) std::abort();
    tok = (tok * 31 + 7) % 1000;
  }
  state.SetLabel(std::string(dtype_name(t)) + " " + kernels().isa + " threads " +
                 std::to_string(pool().size()));
  state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)m.bytes_per_token);
  state.SetItemsProcessed((int64_t)state.iterations());
}
BENCHMARK(BM_Decode)->DenseRange(0, 12)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Prefill(benchmark::State& state) {
  const DType t = kTypes[state.range(0)];
  const BenchModel& m = bench_model(t);
  LlamaSessionOptions o;
  o.max_seq = 128;
  LlamaSession s = llama_session(m.model, o).value();
  const std::vector<int32_t> p = prompt(64, m.c.vocab_size);
  for (auto _ : state) {
    llama_truncate(s, 0);
    if (!llama_forward(m.model, s, p, &pool()).ok()) std::abort();
  }
  state.SetLabel(std::string(dtype_name(t)) + " " + kernels().isa + " threads " +
                 std::to_string(pool().size()));
  state.SetItemsProcessed((int64_t)state.iterations() * 64);
}
BENCHMARK(BM_Prefill)->DenseRange(0, 12)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
