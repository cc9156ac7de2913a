#include "bench/worker.h"

#include <algorithm>
#include <filesystem>

#include "bench/probes.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "decode/eval_run.h"
#include "decode/recognizer.h"
#include "eval/score.h"
#include "model/load.h"
#include "tokenizer/tokenizer.h"

namespace cartlm {

std::string variant_name_from_path(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  std::string name = std::filesystem::path(p).filename().string();
  if (ends_with(name, ".gguf")) name = name.substr(0, name.size() - 5);
  return name.empty() ? path : name;
}

namespace {

// A prompt of exactly n tokens: real shopper text when a dataset is given (so the numbers reflect
// the tokens the recognizer sees), repeated until long enough.
std::vector<int32_t> speed_prompt(const LoadedModel& lm, const std::vector<Example>& examples,
                                  size_t n) {
  std::string text;
  for (size_t i = 0; text.size() < n * 8 && i < std::max<size_t>(examples.size(), 64); ++i)
    text += examples.empty() ? std::string("Can you add 12 lip balms to my cart please? ")
                             : examples[i % examples.size()].text + "\n";
  std::vector<int32_t> ids = encode(lm.tokenizer, text, lm.tokenizer.add_bos, false);
  if (ids.empty()) ids.push_back(0);
  while (ids.size() < n) ids.insert(ids.end(), ids.begin(), ids.begin() + std::min(ids.size(), n - ids.size()));
  ids.resize(n);
  return ids;
}

int32_t argmax(const float* logits, size_t n) {
  return static_cast<int32_t>(std::max_element(logits, logits + n) - logits);
}

}  // namespace

Result<BenchRun> run_bench_worker(const WorkerOptions& opt) {
  BenchRun r;
  r.path = opt.model;
  r.variant = opt.variant.empty() ? variant_name_from_path(opt.model) : opt.variant;
  r.decode = opt.decode;
  if (opt.prompt_tokens == 0 || opt.gen_tokens == 0)
    return error("--prompt-tokens and --gen-tokens must be > 0");
  CARTLM_ASSIGN_OR_RETURN(DecodeMode mode, parse_decode_mode(opt.decode));
  std::vector<Example> examples;
  if (!opt.data.empty()) {
    CARTLM_ASSIGN_OR_RETURN(examples, read_gold(opt.data));
    if (opt.limit > 0 && examples.size() > opt.limit) examples.resize(opt.limit);
  }
  EnergyMeter energy = energy_meter_open(opt.powercap_root);
  r.energy_note = energy.available() ? "RAPL package energy" : energy.note;

  Timer t;
  CARTLM_ASSIGN_OR_RETURN(std::unique_ptr<LoadedModel> lm, load_model(opt.model, opt.load));
  r.load_s = t.seconds();
  r.weight_type = lm->weight_type;
  r.weight_bytes = static_cast<double>(lm->weight_bytes);
  CARTLM_ASSIGN_OR_RETURN(uint64_t disk, path_bytes(opt.model));
  r.model_bytes = static_cast<double>(disk);

  ThreadPool pool(opt.threads);
  r.threads = pool.size();

  // Prefill and decode speed of the bare forward pass.
  {
    LlamaSessionOptions so;
    so.max_seq = opt.prompt_tokens + opt.gen_tokens + 8;
    so.max_batch = std::max<size_t>(64, opt.prompt_tokens);
    CARTLM_ASSIGN_OR_RETURN(LlamaSession s, llama_session(lm->model, so));
    std::vector<int32_t> prompt = speed_prompt(*lm, examples, opt.prompt_tokens);
    // Warm-up: touch every weight page once so the timing is not a page-fault benchmark (the
    // load time above already tells how long mapping takes).
    CARTLM_RETURN_IF_ERROR(llama_forward(lm->model, s, std::span(prompt).first(1), &pool));
    llama_truncate(s, 0);
    t.reset();
    CARTLM_RETURN_IF_ERROR(llama_forward(lm->model, s, prompt, &pool));
    double prefill_s = t.seconds();
    r.prefill_tps = prompt.size() / prefill_s;
    int32_t next = argmax(llama_logits(s), s.vocab);
    energy_meter_sample(energy);
    double j0 = energy_meter_joules(energy);
    t.reset();
    for (size_t i = 0; i < opt.gen_tokens; ++i) {
      CARTLM_RETURN_IF_ERROR(llama_forward(lm->model, s, std::span(&next, 1), &pool));
      next = argmax(llama_logits(s), s.vocab);
    }
    double decode_s = t.seconds();
    energy_meter_sample(energy);
    r.decode_tps = opt.gen_tokens / decode_s;
    if (energy.available())
      r.energy_j_per_token = (energy_meter_joules(energy) - j0) / opt.gen_tokens;
  }

  // The recognizer over the eval examples: latency, throughput, accuracy.
  if (!examples.empty()) {
    RecognizerOptions ro;
    ro.mode = mode;
    CARTLM_ASSIGN_OR_RETURN(std::unique_ptr<Recognizer> rec, recognizer_create(*lm, ro));
    EvalRunOptions eo;
    eo.threads = opt.threads;
    eo.progress = false;
    energy_meter_sample(energy);
    double j0 = energy_meter_joules(energy);
    CARTLM_ASSIGN_OR_RETURN(EvalRunResult run, eval_run(*rec, examples, eo));
    energy_meter_sample(energy);
    const EvalThroughput& tp = run.throughput;
    r.latency_p50_ms = tp.p50_latency_ms;
    r.latency_p95_ms = tp.p95_latency_ms;
    r.intents_per_s = tp.intents_per_s;
    r.forward_passes_per_intent = tp.mean_forward_passes;
    r.generated_tokens_per_intent = tp.mean_generated_tokens;
    if (energy.available() && tp.n > 0)
      r.energy_j_per_intent = (energy_meter_joules(energy) - j0) / tp.n;
    CARTLM_ASSIGN_OR_RETURN(ScoreReport rep, score(examples, run.predictions));
    r.eval_n = rep.overall.total;
    r.eval_correct = rep.overall.correct;
    r.eval_valid = rep.valid;
  }
  r.peak_rss_bytes = static_cast<double>(peak_rss_bytes());
  return r;
}

}  // namespace cartlm
