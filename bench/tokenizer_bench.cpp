// Tokenizer throughput: encode and decode with real vocabularies (the test vocab files) on
// multilingual shopper-like text, and BPE training.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <map>

#include "core/rng.h"
#include "tokenizer/tokenizer.h"

namespace {

using namespace cartlm;

std::string repo_root() {  // this file is <root>/bench/tokenizer_bench.cpp
  return std::filesystem::path(__FILE__).parent_path().parent_path().string();
}

const Tokenizer* vocab(const std::string& name) {
  static std::map<std::string, Tokenizer> cache;
  if (auto it = cache.find(name); it != cache.end()) return &it->second;
  auto f = open_gguf(repo_root() + "/tests/data/vocab/ggml-vocab-" + name + ".gguf");
  if (!f.ok()) return nullptr;
  auto t = tokenizer_from_gguf(*f);
  if (!t.ok()) return nullptr;
  return &cache.emplace(name, std::move(*t)).first->second;
}

std::string text_of(size_t bytes) {
  static const std::vector<std::string> parts = {
      "Can you delete 12 lip balms for me?", " Dodaj 3 kutije čokolade u košaricu.",
      " Añade dos cepillos de dientes, por favor.", "\n", " {\"action\": \"remove\", \"product\": "
      "\"Lip Balm\", \"quantity\": 12}", " Makni 250 žlica", " 🙂", " I'd like 7 AA batteries!"};
  Rng rng(1);
  std::string s;
  while (s.size() < bytes) s += rng.pick(parts);
  return s;
}

void BM_Encode(benchmark::State& state, const char* name) {
  const Tokenizer* t = vocab(name);
  if (!t) {
    state.SkipWithError("vocab file not found");
    return;
  }
  std::string text = text_of((size_t)state.range(0));
  size_t n = 0;
  for (auto _ : state) {
    auto ids = encode(*t, text, false, false);
    n = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)text.size());
  state.counters["tokens"] = (double)n;
}
BENCHMARK_CAPTURE(BM_Encode, llama_bpe, "llama-bpe")->Arg(64)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Encode, gpt2, "gpt-2")->Arg(1 << 20)->Unit(benchmark::kMillisecond);

void BM_Decode(benchmark::State& state) {
  const Tokenizer* t = vocab("llama-bpe");
  if (!t) {
    state.SkipWithError("vocab file not found");
    return;
  }
  std::string text = text_of(1 << 20);
  std::vector<int32_t> ids = encode(*t, text, false, false);
  for (auto _ : state) benchmark::DoNotOptimize(decode(*t, ids));
  state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)text.size());
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

void BM_TrainBpe(benchmark::State& state) {
  std::vector<std::string> texts;
  std::string text = text_of(1 << 20);
  for (size_t i = 0; i < text.size(); i += 200) texts.push_back(text.substr(i, 200));
  BpeTrainOptions opt;
  opt.vocab_size = (int32_t)state.range(0);
  opt.min_frequency = 1;
  for (auto _ : state) benchmark::DoNotOptimize(train_bpe(texts, opt).ok());
  state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)text.size());
}
BENCHMARK(BM_TrainBpe)->Arg(2048)->Unit(benchmark::kMillisecond);

}  // namespace
