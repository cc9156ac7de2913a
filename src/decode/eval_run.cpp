#include "decode/eval_run.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "core/progress.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "core/timer.h"

namespace cartlm {

Result<EvalRunResult> eval_run(const Recognizer& r, const std::vector<Example>& examples,
                               const EvalRunOptions& opt) {
  size_t n = opt.limit > 0 ? std::min(opt.limit, examples.size()) : examples.size();
  if (n == 0) return error("no examples to run");
  int threads = opt.threads > 0 ? opt.threads : (int)std::max(1u, std::thread::hardware_concurrency());
  bool per_thread = r.model->weight_bytes <= opt.per_thread_max_weight_bytes || threads == 1;
  int workers = per_thread ? (int)std::min<size_t>((size_t)threads, n) : 1;

  EvalRunResult out;
  out.results.resize(n);
  std::vector<Status> failed((size_t)workers);
  std::vector<std::unique_ptr<RecognizerSession>> sessions((size_t)workers);
  for (int w = 0; w < workers; ++w) {
    CARTLM_ASSIGN_OR_RETURN(sessions[(size_t)w], recognizer_session(r));
  }
  std::unique_ptr<ThreadPool> pool;
  if (!per_thread) pool = std::make_unique<ThreadPool>(threads);

  ProgressBar bar(strformat("eval %s", decode_mode_name(r.opt.mode)), n, opt.progress);
  std::mutex mu;
  std::atomic<size_t> next{0}, done{0};
  std::atomic<bool> stop{false};
  auto work = [&](int w) {
    RecognizerSession& s = *sessions[(size_t)w];
    while (!stop.load()) {
      size_t i = next.fetch_add(1);
      if (i >= n) break;
      Result<IntentResult> res = recognize(r, s, examples[i].text, pool.get());
      if (res.ok()) {
        out.results[i] = std::move(*res);
      } else {
        // Bad input text is a per-example outcome, not a failure of the run.
        out.results[i].error = res.message();
      }
      size_t d = done.fetch_add(1) + 1;
      std::lock_guard<std::mutex> lock(mu);
      bar.update(d);
    }
  };
  Timer timer;
  if (workers == 1) {
    work(0);
  } else {
    std::vector<std::thread> ts;
    for (int w = 0; w < workers; ++w) ts.emplace_back(work, w);
    for (auto& t : ts) t.join();
  }
  EvalThroughput& tp = out.throughput;
  tp.seconds = timer.seconds();
  bar.finish();

  tp.n = n;
  tp.workers = per_thread ? workers : threads;
  tp.per_thread_sessions = per_thread;
  std::vector<double> lat;
  for (size_t i = 0; i < n; ++i) {
    const IntentResult& res = out.results[i];
    bool input_error = res.forward_passes == 0;
    tp.input_errors += input_error;
    tp.valid += res.valid;
    tp.mean_forward_passes += (double)res.forward_passes;
    tp.mean_generated_tokens += (double)res.generated_tokens;
    tp.mean_prompt_tokens += (double)res.prompt_tokens;
    tp.mean_cached_tokens += (double)res.cached_tokens;
    tp.mean_latency_ms += res.latency_ms;
    lat.push_back(res.latency_ms);
    Prediction p;
    p.id = examples[i].id;
    p.output = res.output_text;
    if (!input_error) p.latency_ms = res.latency_ms;
    out.predictions.push_back(std::move(p));
  }
  double dn = (double)n;
  tp.mean_forward_passes /= dn;
  tp.mean_generated_tokens /= dn;
  tp.mean_prompt_tokens /= dn;
  tp.mean_cached_tokens /= dn;
  tp.mean_latency_ms /= dn;
  std::sort(lat.begin(), lat.end());
  tp.p50_latency_ms = lat[(n - 1) / 2];
  tp.p95_latency_ms = lat[std::min(n - 1, (size_t)(0.95 * (double)(n - 1) + 0.5))];
  tp.intents_per_s = tp.seconds > 0 ? dn / tp.seconds : 0;
  return out;
}

json throughput_to_json(const EvalThroughput& t) {
  json j = json::object();
  j["n"] = t.n;
  j["input_errors"] = t.input_errors;
  j["valid"] = t.valid;
  j["workers"] = t.workers;
  j["per_thread_sessions"] = t.per_thread_sessions;
  j["seconds"] = t.seconds;
  j["intents_per_s"] = t.intents_per_s;
  j["mean_forward_passes"] = t.mean_forward_passes;
  j["mean_generated_tokens"] = t.mean_generated_tokens;
  j["mean_prompt_tokens"] = t.mean_prompt_tokens;
  j["mean_cached_tokens"] = t.mean_cached_tokens;
  j["mean_latency_ms"] = t.mean_latency_ms;
  j["p50_latency_ms"] = t.p50_latency_ms;
  j["p95_latency_ms"] = t.p95_latency_ms;
  return j;
}

std::string format_throughput_text(const EvalThroughput& t) {
  return strformat(
      "Throughput: %.1f intents/s (%zu in %s, %d %s)\n"
      "  forward passes/intent %.2f, generated tokens/intent %.2f, prompt tokens %.1f (%.1f reused "
      "from the cache)\n"
      "  latency mean %.1f ms, p50 %.1f ms, p95 %.1f ms; input errors %zu\n",
      t.intents_per_s, t.n, human_duration(t.seconds).c_str(), t.workers,
      t.per_thread_sessions ? "threads with a session each" : "threads in one session",
      t.mean_forward_passes, t.mean_generated_tokens, t.mean_prompt_tokens, t.mean_cached_tokens,
      t.mean_latency_ms, t.p50_latency_ms, t.p95_latency_ms, t.input_errors);
}

}  // namespace cartlm
