// Load test of `cartlm serve`'s server over loopback (the server runs in this process on
// 127.0.0.1, clients are httplib connections on their own threads):
//
//   BM_ServeLoad/C     C closed-loop clients (1, 8, 64): throughput, p50/p99 latency
//   BM_RecognizeDirect/N  the model side alone (no HTTP): 200 texts one by one (N = 0) or with N
//                      in flight sharing forward passes
//   BM_ServeOverload   open loop at twice the measured capacity or $CARTLM_LOAD_RATE requests/s
//                      (CARTLM_LOAD_REQUESTS requests, default 10000): counts 200s, 429s, other errors, and answers that differ
//                      from the lone-request answer of the same text (mixed-up responses)
//
// Model: $CARTLM_SERVE_MODEL, else a random-weight tiny model made in /tmp (its answers are
// arbitrary but deterministic, which is all the mix-up check needs). Workers: $CARTLM_SERVE_WORKERS
// (default 2), queue: $CARTLM_SERVE_QUEUE (default 32), distinct texts: $CARTLM_SERVE_TEXTS (default
// 300; each is first sent alone for its reference answer), texts in flight per worker sharing its
// forward passes: $CARTLM_SERVE_MAX_BATCH (default 1), $CARTLM_SERVE_BATCHED=0 runs a worker's
// texts one by one instead (the comparison). Each BM_ServeLoad also reports `texts_per_pass`, the
// mean batch size of the server's forward passes during that run (from /metrics). Run with
// scripts/loadtest.
#include <benchmark/benchmark.h>
#include <httplib.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "core/strings.h"
#include "core/utf8.h"
#include "data/catalog.h"
#include "decode/recognizer.h"
#include "decode/recognizer_batch.h"
#include "model/init.h"
#include "serve/backend.h"
#include "serve/server.h"

namespace cartlm::serve {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

int env_int(const char* name, int def) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : def;
}

struct Setup {
  std::string tmp_dir;
  std::unique_ptr<LoadedModel> model;
  std::unique_ptr<Recognizer> rec;
  std::unique_ptr<Server> server;
  std::thread thread;
  std::vector<std::string> texts;
  std::vector<std::string> expected;  // lone-request answer body fields, "action|product|qty"
  double capacity_rps = 0;            // measured by BM_ServeLoad/8
  int workers = 2;
  size_t queue = 32;
  size_t max_batch = 1;
  bool batched = true;

  ~Setup() {
    if (server) server->stop();
    if (thread.joinable()) thread.join();
    if (!tmp_dir.empty()) std::filesystem::remove_all(tmp_dir);
  }
};

std::string key_of(const json& j) {
  return j["action"].get<std::string>() + "|" + j["product"].get<std::string>() + "|" +
         std::to_string(j["quantity"].get<int>());
}

// Distinct texts: each carries its own quantity, in the three languages.
std::vector<std::string> make_texts(size_t n) {
  const char* forms[] = {"Can you delet %d %s for me?", "please add %d %s to my cart",
                         "Dodaj %d %s u košaricu", "Izbaci %d %s iz košarice",
                         "Añade %d %s al carrito", "Quita %d %s del carrito"};
  std::vector<std::string> names = default_catalog().names();
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(strformat(forms[i % 6], static_cast<int>(i + 1),
                            to_lower(names[(i * 7) % names.size()]).c_str()));
  }
  return out;
}

Setup* setup() {
  static Setup* s = [] {
    auto* st = new Setup();
    std::string path = std::getenv("CARTLM_SERVE_MODEL") ? std::getenv("CARTLM_SERVE_MODEL") : "";
    if (path.empty()) {
      char tmpl[] = "/tmp/cartlm_serve_load_XXXXXX";
      CARTLM_CHECK(mkdtemp(tmpl) != nullptr);
      st->tmp_dir = tmpl;
      InitOptions io;
      io.out_dir = st->tmp_dir + "/tiny";
      io.progress = false;
      auto rep = init_checkpoint(io);
      CARTLM_CHECK(rep.ok());
      IntentMeta meta;
      meta.products = default_catalog().names();
      CARTLM_CHECK(save_intent_meta(io.out_dir, meta).ok());
      path = io.out_dir;
    }
    auto lm = load_model(path);
    if (!lm.ok()) {
      std::fprintf(stderr, "serve_load: %s\n", lm.message().c_str());
      std::exit(1);
    }
    st->model = std::move(*lm);
    auto rec = recognizer_create(*st->model, {});
    CARTLM_CHECK(rec.ok());
    st->rec = std::move(*rec);
    st->workers = env_int("CARTLM_SERVE_WORKERS", 2);
    st->queue = static_cast<size_t>(env_int("CARTLM_SERVE_QUEUE", 32));
    st->max_batch = static_cast<size_t>(std::max(1, env_int("CARTLM_SERVE_MAX_BATCH", 1)));
    st->batched = env_int("CARTLM_SERVE_BATCHED", 1) != 0;
    ServeOptions opt;
    opt.port = 0;
    opt.max_queue = st->queue;
    opt.http_threads = 160;  // more than the overload test's client threads
    st->server = std::make_unique<Server>(opt);
    CARTLM_CHECK(st->server->bind().ok());
    st->thread = std::thread([st] { (void)st->server->run(); });
    RecognizerBackendOptions bo;
    bo.workers = st->workers;
    bo.max_batch = st->max_batch;
    bo.batched = st->batched;
    CARTLM_CHECK(st->server->attach(recognizer_backend(*st->rec, "load", bo)).ok());
    // Lone-request answers: one client, one request at a time.
    st->texts = make_texts(static_cast<size_t>(std::max(1, env_int("CARTLM_SERVE_TEXTS", 300))));
    httplib::Client c("127.0.0.1", st->server->port());
    for (const std::string& t : st->texts) {
      auto r = c.Post("/v1/intent", json{{"text", t}}.dump(), "application/json");
      CARTLM_CHECK(r && r->status == 200);
      st->expected.push_back(key_of(json::parse(r->body)));
    }
    std::fprintf(stderr,
                 "serve_load: model %s (%s), %d workers, max batch %zu (%s), queue %zu, port %d\n",
                 path.c_str(), st->model->weight_type.c_str(), st->workers, st->max_batch,
                 st->batched ? "shared forward passes" : "one by one", st->queue,
                 st->server->port());
    return st;
  }();
  return s;
}

// cartlm_batch_size's sum and count from /metrics: texts run and forward passes so far.
std::pair<double, double> batch_totals(Setup& s) {
  httplib::Client c("127.0.0.1", s.server->port());
  auto r = c.Get("/metrics");
  CARTLM_CHECK(r && r->status == 200);
  auto value = [&](const std::string& name) {
    size_t at = r->body.find("\n" + name + " ");
    CARTLM_CHECK(at != std::string::npos);
    return std::atof(r->body.c_str() + at + name.size() + 2);
  };
  return {value("cartlm_batch_size_sum"), value("cartlm_batch_size_count")};
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

struct Tally {
  std::mutex mu;
  std::vector<double> latency_ms;  // of 200 answers
  std::atomic<int> ok{0}, rejected{0}, other{0}, failed{0}, mixed{0};
};

// One request; classifies the outcome.
void one(httplib::Client& c, Setup& s, size_t k, Tally& t) {
  auto t0 = Clock::now();
  auto r = c.Post("/v1/intent", json{{"text", s.texts[k]}}.dump(), "application/json");
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!r) {
    // The first few failures on stderr: a count alone does not say what went wrong.
    if (t.failed++ < 3) std::fprintf(stderr, "serve_load: transport error %d\n", static_cast<int>(r.error()));
    return;
  }
  if (r->status == 429) {
    t.rejected++;
    return;
  }
  if (r->status != 200) {
    if (t.other++ < 3) std::fprintf(stderr, "serve_load: HTTP %d: %s\n", r->status, r->body.c_str());
    return;
  }
  json j = json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("quantity") || key_of(j) != s.expected[k]) t.mixed++;
  t.ok++;
  std::lock_guard<std::mutex> lock(t.mu);
  t.latency_ms.push_back(ms);
}

void BM_ServeLoad(benchmark::State& state) {
  Setup& s = *setup();
  int clients = static_cast<int>(state.range(0));
  int per_client = std::max(10, 400 / clients);
  Tally t;
  double seconds = 0;
  auto before = batch_totals(s);
  for (auto _ : state) {
    auto t0 = Clock::now();
    std::vector<std::thread> th;
    for (int c = 0; c < clients; ++c) {
      th.emplace_back([&, c] {
        httplib::Client cl("127.0.0.1", s.server->port());
        cl.set_read_timeout(60, 0);
        for (int i = 0; i < per_client; ++i) one(cl, s, (c * 37 + i) % s.texts.size(), t);
      });
    }
    for (auto& x : th) x.join();
    seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  auto after = batch_totals(s);
  double rps = t.ok.load() / seconds;
  if (clients == 8) s.capacity_rps = rps;
  state.counters["texts_per_pass"] =
      after.second > before.second ? (after.first - before.first) / (after.second - before.second) : 0;
  state.counters["req_per_s"] = rps;
  state.counters["p50_ms"] = percentile(t.latency_ms, 0.5);
  state.counters["p99_ms"] = percentile(t.latency_ms, 0.99);
  state.counters["ok"] = t.ok.load();
  state.counters["429"] = t.rejected.load();
  state.counters["errors"] = t.other.load() + t.failed.load();
  state.counters["mixed_up"] = t.mixed.load();
}
BENCHMARK(BM_ServeLoad)->Arg(1)->Arg(8)->Arg(64)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

// The model side alone, no HTTP: the load test's texts through recognize() one by one on one
// session (slots = 0) or through the batched recognizer with `slots` texts in flight, on the
// calling thread. Shows what shared forward passes save in model time.
void BM_RecognizeDirect(benchmark::State& state) {
  Setup& s = *setup();
  const size_t slots = static_cast<size_t>(state.range(0));
  const size_t n = std::min<size_t>(200, s.texts.size());
  std::vector<std::string> texts(s.texts.begin(), s.texts.begin() + static_cast<std::ptrdiff_t>(n));
  size_t passes = 0, text_passes = 0, mismatched = 0;  // text_passes: sum of each text's passes
  double seconds = 0;
  for (auto _ : state) {
    std::vector<Result<IntentResult>> got;
    auto t0 = Clock::now();
    if (slots == 0) {
      auto session = recognizer_session(*s.rec);
      CARTLM_CHECK(session.ok());
      for (const std::string& t : texts) got.push_back(recognize(*s.rec, **session, t));
    } else {
      auto b = recognizer_batch(*s.rec, slots);
      CARTLM_CHECK(b.ok());
      std::vector<BatchFinished> done;
      std::vector<size_t> text_of(slots);
      std::vector<std::optional<Result<IntentResult>>> out(n);
      size_t next = 0;
      // recognize_batch's loop, counting the shared passes.
      while (next < n || batch_active(**b) > 0) {
        for (size_t slot; next < n && (slot = batch_free_slot(**b)) != SIZE_MAX; ++next) {
          CARTLM_CHECK(batch_start(**b, slot, texts[next]).ok());
          text_of[slot] = next;
        }
        done.clear();
        if (batch_step(**b, nullptr, &done) > 0) ++passes;
        for (BatchFinished& f : done) out[text_of[f.slot]] = Result<IntentResult>(std::move(f.result));
      }
      for (auto& o : out) got.push_back(std::move(*o));
    }
    seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    for (size_t i = 0; i < n; ++i) {
      CARTLM_CHECK(got[i].ok());
      if (slots == 0) passes += got[i]->forward_passes;
      text_passes += got[i]->forward_passes;
      json j = json::parse(got[i]->output_text, nullptr, false);
      if (!j.is_object() || key_of(j) != s.expected[i]) ++mismatched;
    }
  }
  state.counters["texts_per_s"] = static_cast<double>(n) / seconds;
  state.counters["passes"] = static_cast<double>(passes);
  state.counters["texts_per_pass"] = static_cast<double>(text_passes) / static_cast<double>(passes);
  state.counters["mismatched"] = static_cast<double>(mismatched);
}
BENCHMARK(BM_RecognizeDirect)->Arg(0)->Arg(1)->Arg(8)->Arg(16)->Arg(32)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

void BM_ServeOverload(benchmark::State& state) {
  Setup& s = *setup();
  // Offered requests per second: $CARTLM_LOAD_RATE, else twice what BM_ServeLoad/8 served (with
  // batching, 128 open-loop clients fill more slots than 8 closed-loop ones, so the server can
  // serve more than that; set the rate to overload it for sure).
  double rate = env_int("CARTLM_LOAD_RATE", 0);
  if (rate <= 0 && s.capacity_rps <= 0) {
    state.SkipWithError("run BM_ServeLoad/8 first (it measures the capacity) or set CARTLM_LOAD_RATE");
    return;
  }
  if (rate <= 0) rate = 2 * s.capacity_rps;
  int total = env_int("CARTLM_LOAD_REQUESTS", 10000);
  const int threads = 128;
  Tally t;
  double seconds = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    std::vector<std::thread> th;
    for (int c = 0; c < threads; ++c) {
      th.emplace_back([&, c] {
        httplib::Client cl("127.0.0.1", s.server->port());
        cl.set_read_timeout(60, 0);
        // Open loop: request i is due at i / rate seconds; thread c sends i = c, c + threads, ...
        for (int i = c; i < total; i += threads) {
          auto due = t0 + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(i / rate));
          std::this_thread::sleep_until(due);
          one(cl, s, static_cast<size_t>(i) % s.texts.size(), t);
        }
      });
    }
    for (auto& x : th) x.join();
    seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  httplib::Client c("127.0.0.1", s.server->port());
  auto h = c.Get("/health");
  state.counters["offered_per_s"] = rate;
  state.counters["served_per_s"] = t.ok.load() / seconds;
  state.counters["requests"] = total;
  state.counters["ok"] = t.ok.load();
  state.counters["429"] = t.rejected.load();
  state.counters["errors"] = t.other.load() + t.failed.load();
  state.counters["mixed_up"] = t.mixed.load();
  state.counters["p50_ms"] = percentile(t.latency_ms, 0.5);
  state.counters["p99_ms"] = percentile(t.latency_ms, 0.99);
  state.counters["alive_after"] = (h && h->status == 200) ? 1 : 0;
}
BENCHMARK(BM_ServeOverload)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

}  // namespace
}  // namespace cartlm::serve
