// Benchmark results: one BenchRun per repetition of one model variant (what `cartlm bench-worker`
// prints as one JSON line), summarized per variant over the repetitions (median, quartiles,
// min-max), and the bench.json / bench.csv files `cartlm bench` writes. Also the accuracy entries
// read from `cartlm eval` reports, which the report shows next to the benchmark.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "bench/probes.h"
#include "core/status.h"
#include "eval/score.h"
#include "formats/jsonl.h"

namespace cartlm {

// NaN means "not measured / not available" and is written as JSON null.
struct BenchRun {
  std::string variant;      // display name, e.g. "Q4_K_M"
  std::string path;         // model file or directory
  std::string weight_type;  // LoadedModel::weight_type
  std::string decode;       // decode mode used for the accuracy/latency loop
  int threads = 0;
  double load_s = NAN;
  double model_bytes = NAN;     // on disk
  double weight_bytes = NAN;    // weight tensors as stored
  double peak_rss_bytes = NAN;  // VmHWM of the worker process
  double prefill_tps = NAN, decode_tps = NAN;
  double latency_p50_ms = NAN, latency_p95_ms = NAN, intents_per_s = NAN;
  double forward_passes_per_intent = NAN, generated_tokens_per_intent = NAN;
  double energy_j_per_token = NAN;   // package energy during the decode-speed phase / tokens
  double energy_j_per_intent = NAN;  // package energy during the intent loop / intents
  std::string energy_note;           // "not available (...)" when there is no counter
  size_t eval_n = 0, eval_correct = 0, eval_valid = 0;
};

json bench_run_to_json(const BenchRun& r);
Result<BenchRun> bench_run_from_json(const json& j, const std::string& label);

// The numeric metrics of a BenchRun, in table order.
struct MetricDef {
  const char* key;    // JSON/CSV key
  const char* title;  // table header
  const char* unit;
  double BenchRun::*field;
  bool higher_is_better;
};
const std::vector<MetricDef>& bench_metrics();
const MetricDef* find_metric(const std::string& key);

struct VariantResult {
  std::string name, path, weight_type, decode;
  std::vector<BenchRun> runs;
  size_t eval_n = 0, eval_correct = 0, eval_valid = 0;  // from the first run (decoding is greedy)
  double accuracy = NAN;                                // eval_correct / eval_n
  Interval ci95;                                        // Wilson
  std::vector<std::pair<std::string, Stat>> stats;      // per metric key, bench_metrics() order
  std::string energy_note;
  const Stat& stat(const std::string& key) const;       // CARTLM_CHECKs that the key exists
  double median(const std::string& key) const { return stat(key).median; }
};
// Summarizes the repetitions of one variant (at least one run; all with the same variant name).
VariantResult summarize_variant(const std::vector<BenchRun>& runs);

struct BenchFile {
  int version = 1;
  std::string data;  // eval file used
  int reps = 0;
  std::vector<VariantResult> variants;
};

json bench_to_json(const BenchFile& b);
// Reads bench.json back (only the runs are needed; summaries are recomputed).
Result<BenchFile> bench_from_json_text(std::string_view text, const std::string& label);
// One row per variant: name, weight type, accuracy, ci, then per metric median/min/max.
std::string bench_to_csv(const BenchFile& b);
// dir/bench.json and dir/bench.csv, atomically.
Status write_bench_files(const std::string& dir, const BenchFile& b);

// Accuracy of one variant in one decode mode, from a `cartlm eval` report.json.
struct EvalEntry {
  std::string variant, mode;  // mode: "free" or "constrained"
  size_t n = 0, correct = 0;
  double accuracy = NAN, valid_rate = NAN;
  Interval ci95;
};
Result<EvalEntry> eval_entry_from_report(const std::string& report_json_path,
                                         const std::string& variant, const std::string& mode);
// Scans dir/<variant>-<mode>/report.json (mode = the text after the last '-': free|constrained).
Result<std::vector<EvalEntry>> collect_eval_entries(const std::string& dir);

}  // namespace cartlm
