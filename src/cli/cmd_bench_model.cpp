// `cartlm bench-model`: inference speed and memory of one model on this machine: load time,
// prefill tokens/s (one batch of --prompt-tokens), decode tokens/s (--gen-tokens one at a time),
// peak RSS, the weight bytes a decode step reads and the bandwidth that implies, compared with the
// machine's measured read bandwidth (the ceiling of a memory-bound decode).
//
// --as TYPE requantizes every matrix in memory (llama.cpp's --pure: the embedding and lm_head
// too) so any block format can be measured from a float checkpoint before a GGUF exists.
#include <sys/resource.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "core/file_io.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "kernels/kernels.h"
#include "model/load.h"
#include "quant/quant.h"

namespace cartlm::cli {

namespace {

struct BenchModelArgs {
  std::string model;
  int threads = 0;
  int prompt_tokens = 64;
  int gen_tokens = 32;
  int reps = 3;
  std::string as;
  LoadOptions load;
  std::string isa = "auto";
  std::string json;
  uint64_t seed = 1;
  bool bandwidth = true;
  bool progress = true;
};

// Every matrix the forward pass multiplies (the embedding is only read one row per token, but
// it is requantized too, and may be the lm_head when tied).
std::vector<TensorView*> matrices(ModelWeights& w) {
  std::vector<TensorView*> v{&w.embed};
  for (LayerWeights& l : w.layers)
    for (TensorView* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) v.push_back(t);
  v.push_back(&w.lm_head);
  return v;
}

uint64_t view_bytes(const TensorView& t) {
  return (uint64_t)t.dim(0) * dtype_row_bytes(t.dtype, (uint64_t)t.dim(1));
}

// Requantizes every matrix of lm to t (kept in lm.owned) and rebuilds lm.model.
Status requantize(LoadedModel& lm, DType t, ThreadPool* pool, bool progress) {
  const QuantTraits* tr = quant_traits(t);
  if (!(tr && tr->weight_format) && t != DType::F32 && t != DType::F16 && t != DType::BF16)
    return error(strformat("--as %s: not a weight type (use F32, F16, BF16, Q4_0, Q4_1, Q5_0, "
                           "Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K or Q6_K)", dtype_name(t)));
  ModelWeights w = lm.model.weights;
  std::vector<TensorView*> mats = matrices(w);
  ProgressBar bar(std::string("quantizing to ") + dtype_name(t), mats.size(), progress);
  std::vector<float> f32;
  std::vector<std::pair<const void*, size_t>> done;  // source data -> index in lm.owned (tied)
  for (size_t i = 0; i < mats.size(); ++i) {
    TensorView& v = *mats[i];
    const size_t rows = (size_t)v.dim(0), cols = (size_t)v.dim(1);
    auto seen = std::find_if(done.begin(), done.end(), [&](const auto& p) { return p.first == v.data; });
    if (seen != done.end()) {
      v.dtype = t;
      v.data = lm.owned[seen->second].data();
      v.nbytes = lm.owned[seen->second].size();
      bar.update(i + 1);
      continue;
    }
    if (quant_traits(t) && cols % (size_t)quant_traits(t)->block_size != 0)
      return error(strformat("--as %s: tensor %s has %zu columns, not a multiple of the block size",
                             dtype_name(t), v.name.c_str(), cols));
    f32.resize(rows * cols);
    if (matmul_supports(v.dtype))
      convert_to_f32(v.dtype, v.data, f32.data(), rows * cols);
    else
      CARTLM_RETURN_IF_ERROR(dequantize_tensor(v.dtype, v.data, (int64_t)rows, (int64_t)cols, f32.data(), pool));
    CARTLM_ASSIGN_OR_RETURN(uint64_t rb, quantized_row_bytes(t, (int64_t)cols));
    std::vector<uint8_t> q(rows * rb);
    CARTLM_RETURN_IF_ERROR(quantize_tensor(t, f32.data(), (int64_t)rows, (int64_t)cols, q.data(), nullptr, pool));
    done.emplace_back(v.data, lm.owned.size());
    lm.owned.push_back(std::move(q));
    v.dtype = t;
    v.data = lm.owned.back().data();
    v.nbytes = lm.owned.back().size();
    bar.update(i + 1);
  }
  bar.finish();
  CARTLM_ASSIGN_OR_RETURN(lm.model, llama_model(lm.model.config, w, lm.model.rope_mode));
  lm.weight_type = dtype_name(t);
  return {};
}

// Bytes of weights one decode step reads: every layer matrix and the lm_head, plus one embedding
// row.
uint64_t bytes_per_token(const LlamaModel& m) {
  uint64_t b = view_bytes(m.weights.lm_head) +
               dtype_row_bytes(m.weights.embed.dtype, (uint64_t)m.weights.embed.dim(1));
  for (const LayerWeights& l : m.weights.layers)
    for (const TensorView* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      b += view_bytes(*t);
  return b;
}

// Read bandwidth of this machine with all pool threads: the best of a few passes summing a
// buffer far larger than the caches (pages touched first so the timing has no page faults).
double read_bandwidth_gbs(ThreadPool* pool, size_t bytes = size_t(1) << 30) {
  const size_t n = bytes / sizeof(uint64_t);
  std::vector<uint64_t> buf(n);
  for (size_t i = 0; i < n; ++i) buf[i] = i;
  std::vector<uint64_t> sink(64 * 8, 0);
  double best = 0;
  for (int pass = 0; pass < 4; ++pass) {
    Timer t;
    pool->parallel_for(n, 4096, [&](size_t b, size_t e) {
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
      for (size_t i = b; i + 8 <= e; i += 8) {
        s0 += buf[i]; s1 += buf[i + 1]; s2 += buf[i + 2]; s3 += buf[i + 3];
        s4 += buf[i + 4]; s5 += buf[i + 5]; s6 += buf[i + 6]; s7 += buf[i + 7];
      }
      sink[(b / 4096) % 64 * 8] += s0 ^ s1 ^ s2 ^ s3 ^ s4 ^ s5 ^ s6 ^ s7;
    });
    best = std::max(best, (double)bytes / t.seconds() / 1e9);
  }
  if (sink[0] == 42) std::fprintf(stderr, " ");  // keeps the sums alive
  return best;
}

// Peak resident set: VmHWM from /proc/self/status (kB), else getrusage's ru_maxrss.
uint64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return (uint64_t)ru.ru_maxrss * 1024;
}

// User + system CPU seconds of this process so far (all threads).
double process_cpu_s() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : (v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]));
}

size_t argmax(const float* x, size_t n) {
  return (size_t)(std::max_element(x, x + n) - x);
}

int run_bench_model(const BenchModelArgs& a) {
  if (a.prompt_tokens < 1 || a.gen_tokens < 1 || a.reps < 1)
    return fail(error("--prompt-tokens, --gen-tokens and --reps must be at least 1"));
  if (a.isa != "auto") {
    Status st = select_kernels(a.isa);
    if (!st.ok()) return fail(st.with_context("--isa"));
  }
  ThreadPool pool(a.threads);
  Timer load_timer;
  auto loaded = load_model(a.model, a.load);
  if (!loaded.ok()) return fail(loaded.status());
  const double load_s = load_timer.seconds();
  LoadedModel& lm = **loaded;
  double quantize_s = 0;
  if (!a.as.empty()) {
    auto t = dtype_from_name(a.as);
    if (!t) return fail(error("--as " + a.as + ": unknown type"));
    Timer qt;
    Status st = requantize(lm, *t, &pool, a.progress);
    if (!st.ok()) return fail(st);
    quantize_s = qt.seconds();
  }
  const LlamaModel& m = lm.model;
  const int64_t vocab = m.config.vocab_size;

  LlamaSessionOptions so;
  so.max_seq = (size_t)(a.prompt_tokens + a.gen_tokens + 1);
  so.max_batch = (size_t)a.prompt_tokens;
  auto sess = llama_session(m, so);
  if (!sess.ok()) return fail(sess.status());
  LlamaSession& s = *sess;

  Rng rng(a.seed);
  std::vector<int32_t> prompt((size_t)a.prompt_tokens);
  for (int32_t& t : prompt) t = (int32_t)rng.uniform((uint64_t)vocab);

  // Rep 0 is a warm-up (it pages the weights in from the file); reps 1..N are measured.
  // CPU seconds next to wall seconds: on a shared machine wall time includes waiting for a core,
  // and tokens per CPU-second x threads is what the same run would reach with the cores to itself.
  std::vector<double> prefill_tps, decode_tps, prefill_cpu_tps, decode_cpu_tps;
  double cold_prefill_s = 0;
  ProgressBar bar("benchmarking", (uint64_t)a.reps + 1, a.progress);
  for (int rep = 0; rep <= a.reps; ++rep) {
    llama_truncate(s, 0);
    Timer pt;
    const double c0 = process_cpu_s();
    Status st = llama_forward(m, s, prompt, &pool);
    if (!st.ok()) return fail(st);
    const double prefill_s = pt.seconds(), prefill_cpu = process_cpu_s() - c0;
    int32_t next = (int32_t)argmax(llama_logits(s), s.vocab);
    Timer dt;
    const double c1 = process_cpu_s();
    for (int g = 0; g < a.gen_tokens; ++g) {
      st = llama_forward(m, s, std::span<const int32_t>(&next, 1), &pool);
      if (!st.ok()) return fail(st);
      next = (int32_t)argmax(llama_logits(s), s.vocab);
    }
    const double decode_s = dt.seconds(), decode_cpu = process_cpu_s() - c1;
    if (rep == 0) {
      cold_prefill_s = prefill_s;
    } else {
      prefill_tps.push_back(a.prompt_tokens / prefill_s);
      decode_tps.push_back(a.gen_tokens / decode_s);
      prefill_cpu_tps.push_back(a.prompt_tokens / (prefill_cpu / pool.size()));
      decode_cpu_tps.push_back(a.gen_tokens / (decode_cpu / pool.size()));
    }
    bar.update((uint64_t)rep + 1);
  }
  bar.finish();

  const uint64_t bpt = bytes_per_token(m);
  const double dec = median(decode_tps), pre = median(prefill_tps);
  const double implied_gbs = dec * (double)bpt / 1e9;
  const uint64_t rss = peak_rss_bytes();  // before the bandwidth probe allocates its buffer
  const double bw = a.bandwidth ? read_bandwidth_gbs(&pool) : 0.0;

  std::printf("model            %s (%s, %s)\n", a.model.c_str(), model_format_name(lm.format),
              lm.weight_type.c_str());
  std::printf("shape            %lld layers, hidden %lld, ffn %lld, vocab %lld\n",
              (long long)m.config.num_hidden_layers, (long long)m.config.hidden_size,
              (long long)m.config.intermediate_size, (long long)vocab);
  std::printf("threads          %d (kernels: %s)\n", pool.size(), kernels().isa);
  std::printf("load             %.3f s%s\n", load_s,
              a.as.empty() ? "" : strformat(" (+ %.2f s requantizing to %s)", quantize_s, a.as.c_str()).c_str());
  std::printf("first prefill    %.3f s (cold: pages the weights in)\n", cold_prefill_s);
  std::printf("prefill          %.1f tokens/s (median of %d; min %.1f, max %.1f; %d-token prompt)\n",
              pre, a.reps, *std::min_element(prefill_tps.begin(), prefill_tps.end()),
              *std::max_element(prefill_tps.begin(), prefill_tps.end()), a.prompt_tokens);
  std::printf("decode           %.2f tokens/s (median of %d; min %.2f, max %.2f; %d tokens)\n", dec,
              a.reps, *std::min_element(decode_tps.begin(), decode_tps.end()),
              *std::max_element(decode_tps.begin(), decode_tps.end()), a.gen_tokens);
  std::printf("per CPU-second   prefill %.1f, decode %.2f tokens/s x %d threads (what the run reaches "
              "with the cores to itself; differs from the above when the machine is shared)\n",
              median(prefill_cpu_tps), median(decode_cpu_tps), pool.size());
  std::printf("weights/token    %.1f MB read per decode step\n", bpt / 1e6);
  std::printf("implied bw       %.2f GB/s\n", implied_gbs);
  if (a.bandwidth)
    std::printf("machine read bw  %.2f GB/s (%d threads) -> decode at %.0f%% of the bandwidth limit\n",
                bw, pool.size(), bw > 0 ? 100.0 * implied_gbs / bw : 0.0);
  std::printf("peak RSS         %.1f MB\n", rss / 1e6);

  if (!a.json.empty()) {
    nlohmann::json j = {{"model", a.model},
                        {"format", model_format_name(lm.format)},
                        {"weight_type", lm.weight_type},
                        {"threads", pool.size()},
                        {"isa", kernels().isa},
                        {"load_s", load_s},
                        {"requantize_s", quantize_s},
                        {"cold_prefill_s", cold_prefill_s},
                        {"prompt_tokens", a.prompt_tokens},
                        {"gen_tokens", a.gen_tokens},
                        {"reps", a.reps},
                        {"prefill_tokens_per_s", prefill_tps},
                        {"decode_tokens_per_s", decode_tps},
                        {"prefill_tokens_per_s_median", pre},
                        {"decode_tokens_per_s_median", dec},
                        {"prefill_tokens_per_cpu_s_x_threads", median(prefill_cpu_tps)},
                        {"decode_tokens_per_cpu_s_x_threads", median(decode_cpu_tps)},
                        {"weight_bytes_per_token", bpt},
                        {"implied_bandwidth_gbs", implied_gbs},
                        {"machine_read_bandwidth_gbs", bw},
                        {"peak_rss_bytes", rss}};
    Status st = write_file_atomic(a.json, j.dump(2) + "\n");
    if (!st.ok()) return fail(st);
  }
  return 0;
}

}  // namespace

void register_bench_model(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<BenchModelArgs>();
  CLI::App* cmd = root.add_subcommand(
      "bench-model",
      "Measure a model's inference speed and memory: load time, prefill and decode tokens/s, peak "
      "RSS, weight bytes read per token and the bandwidth that implies vs the machine's");
  cmd->add_option("--model", a->model, "HF checkpoint directory or .gguf file")->required();
  cmd->add_option("--threads", a->threads, "Threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--prompt-tokens", a->prompt_tokens, "Prompt length of the prefill test (one batch)")
      ->capture_default_str();
  cmd->add_option("--gen-tokens", a->gen_tokens, "Tokens decoded one at a time after the prompt")
      ->capture_default_str();
  cmd->add_option("--reps", a->reps, "Measured repetitions (after one warm-up); medians are reported")
      ->capture_default_str();
  cmd->add_option("--as", a->as,
                  "Requantize every matrix in memory to this type first (F16, BF16, Q8_0, Q4_K, ...)");
  cmd->add_option("--isa", a->isa, "Kernel table: auto, scalar, avx2 or avx512")->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the random prompt")->capture_default_str();
  cmd->add_option("--json", a->json, "Also write the results as JSON to this file");
  cmd->add_flag("!--no-bandwidth", a->bandwidth, "Skip measuring the machine's read bandwidth");
  cmd->add_flag("!--no-progress", a->progress, "No progress bars on stderr");
  add_no_mmap_flag(cmd, a->load);
  cmd->callback([a, &exit_code] { exit_code = run_bench_model(*a); });
}

}  // namespace cartlm::cli
