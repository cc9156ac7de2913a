// `cartlm serve`'s HTTP server (cpp-httplib) over the Scheduler:
//
//   GET  /                      the playground page (embedded web/playground.html)
//   GET  /health                200 {"status": "ok", "model"} once a backend is attached, else 503
//   GET  /metrics               Prometheus text (serve/metrics.h)
//   GET  /v1/models             OpenAI model list (one model)
//   POST /v1/intent             {"text"} or {"texts"} -> intent JSON (serve/api.h)
//   POST /v1/chat/completions   OpenAI chat completion, "stream": true gives SSE
//
// Errors: 400 bad request, 404 unknown route, 413 body too large, 429 queue full (Retry-After),
// 500 model failure, 503 loading or shutting down, 504 request timeout; all with an OpenAI-style
// JSON error body.
//
// Life cycle: bind() (port 0 picks a free one), run() on one thread; attach() the backend when
// the model is loaded (the server answers /health with 503 until then); stop() from any thread:
// the listener closes, in-flight requests finish, the workers drain the queue, run() returns.
#pragma once
#include <memory>
#include <string>

#include "core/status.h"
#include "serve/api.h"
#include "serve/metrics.h"
#include "serve/scheduler.h"

namespace cartlm::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;           // 0 = any free port (see Server::port())
  size_t max_queue = 64;     // texts waiting for a worker before 429
  double timeout_s = 30;     // per request, queueing included; then 504
  int http_threads = 0;      // connection threads; 0 = max_queue + 32 (so the queue, not the
                             // socket backlog, is where overload shows up as 429)
  int keep_alive_s = 2;      // idle keep-alive connections are closed after this (also bounds
                             // how long shutdown waits for idle clients)
  int listen_backlog = 1024;  // pending connections the kernel queues for accept (capped by
                              // net.core.somaxconn); too small drops handshakes under a burst
  ApiLimits limits;
  bool log_requests = false;  // one stderr line per request
};

class Server {
 public:
  explicit Server(ServeOptions opt);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Status bind();
  int port() const;
  // The listening socket's accept-queue limit as the kernel reports it (-1 before bind()).
  int listen_backlog() const;
  // Starts the backend's workers (each creates its session); /health is ready afterwards.
  Status attach(Backend backend);
  // Serves until stop(); returns after in-flight requests finished and the workers drained.
  Status run();
  // Graceful stop; safe from any thread, any number of times (not from a signal handler).
  void stop();

  Metrics& metrics();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cartlm::serve
