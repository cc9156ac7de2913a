// Running the recognizer over a dataset: the loop behind `cartlm eval` (and the pipeline).
//
// Parallelism is picked by model size: a small model runs one RecognizerSession per worker thread
// over the shared read-only model, each session single-threaded (no synchronisation inside a
// forward pass, which dominates for small matrices); a big model runs one session whose forward
// passes use the whole thread pool. Examples are handed out dynamically, results are stored by
// index, so the output does not depend on scheduling (and greedy decoding is deterministic).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "core/status.h"
#include "decode/recognizer.h"
#include "eval/prediction.h"
#include "formats/dataset.h"
#include "formats/jsonl.h"

namespace cartlm {

struct EvalRunOptions {
  int threads = 0;        // <= 0: all cores
  size_t limit = 0;       // 0: every example; else the first `limit`
  bool progress = true;   // progress bar on stderr
  // Models with at most this many weight bytes run one session per thread.
  size_t per_thread_max_weight_bytes = size_t(512) << 20;
};

struct EvalThroughput {
  size_t n = 0;             // examples run
  size_t input_errors = 0;  // texts rejected by the input checks (scored as empty output)
  size_t valid = 0;         // schema-valid outputs
  int workers = 1;          // threads used
  bool per_thread_sessions = true;
  double seconds = 0;       // wall clock of the loop
  double intents_per_s = 0;
  double mean_forward_passes = 0, mean_generated_tokens = 0, mean_prompt_tokens = 0,
         mean_cached_tokens = 0, mean_latency_ms = 0, p50_latency_ms = 0, p95_latency_ms = 0;
};

struct EvalRunResult {
  std::vector<Prediction> predictions;  // one per example, in dataset order
  std::vector<IntentResult> results;    // same order; error set for rejected inputs
  EvalThroughput throughput;
};

Result<EvalRunResult> eval_run(const Recognizer& r, const std::vector<Example>& examples,
                               const EvalRunOptions& opt);

// {"n", "input_errors", "valid", "workers", "per_thread_sessions", "seconds", "intents_per_s",
//  "mean_forward_passes", "mean_generated_tokens", "mean_prompt_tokens", "mean_cached_tokens",
//  "mean_latency_ms", "p50_latency_ms", "p95_latency_ms"}
json throughput_to_json(const EvalThroughput& t);
std::string format_throughput_text(const EvalThroughput& t);

}  // namespace cartlm
