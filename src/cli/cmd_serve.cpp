// `cartlm serve`: the HTTP intent service (src/serve/server.h) over a model. The listener comes up
// first, so /health answers 503 while the model loads and 200 once workers run. SIGTERM/SIGINT
// stop it gracefully: stop accepting, finish in-flight requests, exit 0.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "cli/cli.h"
#include "core/strings.h"
#include "core/timer.h"
#include "decode/recognizer.h"
#include "model/load.h"
#include "serve/backend.h"
#include "serve/server.h"

namespace cartlm::cli {

namespace {

struct ServeArgs {
  std::string model;
  std::string model_name;
  std::string mode = "constrained";
  serve::ServeOptions opt;
  LoadOptions load;
  int threads = 0;
  int workers = 0;
  size_t max_batch = 4;
};

std::string default_model_name(const std::string& path) {
  std::filesystem::path p(path);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "dir/" -> "dir"
  std::string name = p.filename().string();
  if (ends_with(name, ".gguf")) name.resize(name.size() - 5);
  return name.empty() ? std::string("cartlm") : name;
}

int run_serve(ServeArgs a) {
  if (a.opt.port < 0 || a.opt.port > 65535) return fail(error("--port must be in 0..65535"));
  if (a.opt.max_queue < 1) return fail(error("--max-queue must be >= 1"));
  if (a.max_batch < 1) return fail(error("--max-batch must be >= 1"));
  if (a.opt.timeout_s <= 0) return fail(error("--timeout must be > 0"));
  if (a.threads < 0 || a.workers < 0) return fail(error("--threads and --workers must be >= 0"));
  auto mode = parse_decode_mode(a.mode);
  if (!mode.ok()) return fail(mode.status().with_context("--mode"));
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int threads = a.threads > 0 ? a.threads : cores;
  int workers = a.workers > 0 ? a.workers : std::min(threads, 4);
  int per_worker = std::max(1, threads / workers);
  if (a.model_name.empty()) a.model_name = default_model_name(a.model);
  // Caught before the listener starts, so the common mistake gets the usual one-line error.
  if (!std::filesystem::exists(a.model)) {
    return fail(error("--model: no such file or directory: " + a.model));
  }

  // Signals go to one thread that waits for them; block them before any other thread starts so
  // every thread inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  serve::Server server(a.opt);
  Status st = server.bind();
  if (!st.ok()) return fail(st);
  std::fprintf(stderr, "cartlm: listening on http://%s:%d (loading %s)\n", a.opt.host.c_str(),
               server.port(), a.model.c_str());

  std::atomic<bool> done{false};
  std::thread signal_thread([&] {
    timespec tick{0, 200 * 1000 * 1000};
    while (!done.load()) {
      int sig = sigtimedwait(&sigs, nullptr, &tick);
      if (sig == SIGTERM || sig == SIGINT) {
        std::fprintf(stderr, "cartlm: %s: finishing in-flight requests, then exiting\n",
                     sig == SIGTERM ? "SIGTERM" : "SIGINT");
        server.stop();
        return;
      }
    }
  });
  Status run_status;
  std::thread http_thread([&] { run_status = server.run(); });
  auto finish = [&](int code) {
    server.stop();
    http_thread.join();
    done.store(true);
    signal_thread.join();
    return code;
  };

  Timer t;
  auto lm = load_model(a.model, a.load);
  if (!lm.ok()) return finish(fail(lm.status()));
  RecognizerOptions ropt;
  ropt.mode = *mode;
  // The API checks characters; let the recognizer take whatever that admits (4 bytes each).
  ropt.max_text_bytes = std::max(ropt.max_text_bytes, a.opt.limits.max_text_chars * 4);
  auto rec = recognizer_create(**lm, ropt);
  if (!rec.ok()) return finish(fail(rec.status()));
  for (const std::string& w : (*rec)->warnings) std::fprintf(stderr, "cartlm: warning: %s\n", w.c_str());
  serve::RecognizerBackendOptions bopt;
  bopt.workers = workers;
  bopt.threads_per_worker = per_worker;
  bopt.max_batch = a.max_batch;
  st = server.attach(serve::recognizer_backend(**rec, a.model_name, bopt));
  if (!st.ok()) {
    // A stop during loading is a normal exit.
    return finish(starts_with(st.message(), "serve: stopping") ? 0 : fail(st));
  }
  std::fprintf(stderr,
               "cartlm: serving %s (%s, %s) on http://%s:%d: %d workers x %d threads, queue %zu, "
               "loaded in %.2f s\n",
               a.model_name.c_str(), model_format_name((*lm)->format),
               (*lm)->weight_type.c_str(), a.opt.host.c_str(), server.port(), workers,
               per_worker, a.opt.max_queue, t.seconds());
  http_thread.join();
  done.store(true);
  signal_thread.join();
  if (!run_status.ok()) return fail(run_status);
  std::fprintf(stderr, "cartlm: stopped\n");
  return 0;
}

}  // namespace

void register_serve(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* cmd = root.add_subcommand(
      "serve",
      "HTTP intent service: POST /v1/intent {\"text\": ...} -> {\"action\", \"product\", "
      "\"quantity\", \"latency_ms\", \"model\"}; also /v1/chat/completions (OpenAI), /v1/models, "
      "/health, /metrics and a playground page at /. See docs/serving.md.");
  cmd->add_option("--model", a->model, "Model: HF directory, .gguf file or GPTQ directory")
      ->required();
  cmd->add_option("--port", a->opt.port, "TCP port (0 = any free port, printed on stderr)")
      ->capture_default_str();
  cmd->add_option("--host", a->opt.host, "Address to listen on (0.0.0.0 for all interfaces)")
      ->capture_default_str();
  cmd->add_option("--threads", a->threads,
                  "Compute threads in total (0 = all cores), split evenly among the workers")
      ->capture_default_str();
  cmd->add_option("--workers", a->workers,
                  "Concurrent model sessions, each with its own KV cache (0 = min(threads, 4))")
      ->capture_default_str();
  cmd->add_option("--max-batch", a->max_batch,
                  "Texts a worker decodes at once, sharing each forward pass (one KV slot each; "
                  "a new text joins at the next step)")
      ->capture_default_str();
  cmd->add_option("--max-queue", a->opt.max_queue,
                  "Texts waiting for a worker before requests get 429 + Retry-After")
      ->capture_default_str();
  cmd->add_option("--timeout", a->opt.timeout_s,
                  "Seconds a request may take, queueing included, before it gets 504")
      ->capture_default_str();
  cmd->add_option("--max-text-chars", a->opt.limits.max_text_chars,
                  "Longest text in characters (longer gets 400)")
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", a->opt.limits.max_body_bytes,
                  "Largest request body (larger gets 413)")
      ->capture_default_str();
  cmd->add_option("--max-texts", a->opt.limits.max_texts,
                  "Most texts in one {\"texts\": [...]} request")
      ->capture_default_str();
  cmd->add_option("--mode", a->mode, "Decoding: constrained (always valid JSON) or free")
      ->capture_default_str();
  cmd->add_option("--model-name", a->model_name,
                  "Name reported in answers and /v1/models (default: the model path's last part)");
  cmd->add_flag("--log-requests", a->opt.log_requests, "Print one line per request on stderr");
  add_no_mmap_flag(cmd, a->load);
  cmd->callback([a, &exit_code] { exit_code = run_serve(*a); });
}

}  // namespace cartlm::cli
