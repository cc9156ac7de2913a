// One benchmark measurement of one model variant, run inside a fresh process by
// `cartlm bench-worker` (so the memory high-water mark belongs to this model alone):
// load time, sizes, prefill/decode speed of llama_forward, then the recognizer over the eval
// examples (latency p50/p95, intents/s, forward passes, exact-match accuracy), and energy when
// RAPL counters are readable.
#pragma once
#include <string>

#include "bench/bench_result.h"
#include "core/status.h"
#include "model/load.h"

namespace cartlm {

struct WorkerOptions {
  std::string model;    // model file or directory (anything load_model() loads)
  std::string variant;  // display name; empty = the file name
  std::string data;     // eval JSONL; empty = no accuracy/latency loop
  std::string decode = "constrained";
  int threads = 0;      // 0 = all cores
  size_t limit = 0;     // examples from `data` (0 = all)
  size_t prompt_tokens = 64, gen_tokens = 32;
  std::string powercap_root = "/sys/class/powercap";
  LoadOptions load;     // --no-mmap: weights read into memory (load_s then includes the read)
};

Result<BenchRun> run_bench_worker(const WorkerOptions& opt);

// "Q4_K_M" for "runs/x/models/Q4_K_M.gguf" or "runs/x/models/Q4_K_M/".
std::string variant_name_from_path(const std::string& path);

}  // namespace cartlm
