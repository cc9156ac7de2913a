#include "serve/server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include "core/strings.h"
#include "core/timer.h"

// web/playground.html, compiled in by cmake/embed.cmake.
extern const char embedded_playground_html[];
extern const unsigned long embedded_playground_html_size;

namespace cartlm::serve {

namespace {

const char* kJson = "application/json";

std::string route_label(const std::string& path) {
  static const char* known[] = {"/", "/health", "/metrics", "/v1/models", "/v1/intent",
                                "/v1/chat/completions"};
  for (const char* k : known) {
    if (path == k) return k;
  }
  return "other";
}

ApiError make_error(int status, std::string type, std::string code, std::string message) {
  ApiError e;
  e.status = status;
  e.type = std::move(type);
  e.code = std::move(code);
  e.message = std::move(message);
  return e;
}

long long unix_now() { return static_cast<long long>(std::time(nullptr)); }

}  // namespace

struct Server::Impl {
  explicit Impl(ServeOptions o) : opt(std::move(o)), scheduler(opt.max_queue, &metrics) {}

  ServeOptions opt;
  Metrics metrics;
  Scheduler scheduler;
  httplib::Server http;
  int bound_port = -1;
  int listen_fd = -1;  // the listening socket, captured by the socket-options hook
  std::atomic<bool> ready{false};
  std::atomic<bool> stopping{false};
  // httplib's stop() does nothing until its listen loop runs, so a stop() that comes right after
  // run() started must wait for the loop (see stop()).
  std::atomic<bool> run_started{false};
  std::atomic<bool> run_finished{false};
  std::string model_name;  // written before `ready` is set, read only after
  long long created = unix_now();
  std::atomic<uint64_t> next_id{1};

  void send_error(httplib::Response& res, const ApiError& e) {
    res.status = e.status;
    if (e.status == 429) {
      res.set_header("Retry-After", std::to_string(scheduler.retry_after_s()));
    }
    res.set_content(error_body(e), kJson);
  }

  std::optional<ApiError> not_ready() const {
    if (stopping.load()) {
      return make_error(503, "server_error", "shutting_down", "server is shutting down");
    }
    if (!ready.load()) {
      return make_error(503, "server_error", "loading", "model is still loading; retry shortly");
    }
    return std::nullopt;
  }

  // Queues the texts, waits for every answer; an error when the queue is full, the request times
  // out or the model could not produce a valid intent.
  std::optional<ApiError> run_texts(std::vector<std::string> texts,
                                    std::vector<IntentAnswer>* out) {
    if (auto e = not_ready()) return e;
    auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(opt.timeout_s));
    Scheduler::SubmitError why;
    size_t n = texts.size();
    std::shared_ptr<Ticket> t = scheduler.submit(std::move(texts), deadline, &why);
    if (!t) {
      if (why == Scheduler::SubmitError::QueueFull) {
        return make_error(429, "rate_limit_error", "queue_full",
                          strformat("server is at capacity (%zu queued texts, %zu more asked); "
                                    "retry after the Retry-After seconds",
                                    scheduler.depth(), n));
      }
      return make_error(503, "server_error", "shutting_down", "server is shutting down");
    }
    metrics.add_in_flight(1);
    bool ok = Scheduler::wait(*t);
    metrics.add_in_flight(-1);
    if (!ok) {
      return make_error(504, "timeout_error", "timeout",
                        strformat("request took longer than the %.1f s timeout", opt.timeout_s));
    }
    std::lock_guard<std::mutex> lock(t->mu);
    for (size_t i = 0; i < t->answers.size(); ++i) {
      if (!t->answers[i].valid) {
        std::string where = n > 1 ? strformat(" (texts[%zu])", i) : std::string();
        if (t->answers[i].rejected_input) {
          ApiError e = make_error(400, "invalid_request_error", "invalid_text",
                                  "text rejected" + where + ": " + t->answers[i].error);
          e.param = n > 1 ? strformat("texts[%zu]", i) : std::string("text");
          return e;
        }
        return make_error(500, "server_error", "invalid_model_output",
                          "model did not produce a valid intent" + where + ": " +
                              (t->answers[i].error.empty() ? std::string("unknown error")
                                                           : t->answers[i].error));
      }
    }
    *out = std::move(t->answers);
    return std::nullopt;
  }

  void handle_intent(const httplib::Request& req, httplib::Response& res) {
    Timer timer;
    IntentRequest ir;
    std::vector<IntentAnswer> answers;
    std::optional<ApiError> e = parse_intent_request(req.body, opt.limits, &ir);
    if (!e) e = run_texts(std::move(ir.texts), &answers);
    metrics.observe_latency(timer.seconds());
    if (e) return send_error(res, *e);
    res.status = 200;
    if (ir.batch) {
      res.set_content(intent_batch_body(answers, timer.ms(), model_name), kJson);
    } else {
      res.set_content(intent_body(answers[0], timer.ms(), model_name), kJson);
    }
  }

  void handle_chat(const httplib::Request& req, httplib::Response& res) {
    Timer timer;
    ChatRequest cr;
    std::vector<IntentAnswer> answers;
    std::optional<ApiError> e = parse_chat_request(req.body, opt.limits, &cr);
    if (!e) e = run_texts({std::move(cr.text)}, &answers);
    metrics.observe_latency(timer.seconds());
    if (e) return send_error(res, *e);
    std::string id = strformat("chatcmpl-%llu", (unsigned long long)next_id.fetch_add(1));
    res.status = 200;
    if (cr.stream) {
      // The answer is complete before the first byte goes out (constrained decoding of ~20
      // tokens), so the stream carries it as one content chunk between role and finish.
      res.set_header("Cache-Control", "no-cache");
      res.set_content(chat_stream_body(answers[0], id, unix_now(), model_name),
                      "text/event-stream");
    } else {
      res.set_content(chat_body(answers[0], id, unix_now(), model_name), kJson);
    }
  }

  void install_routes() {
    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(embedded_playground_html, embedded_playground_html_size),
                      "text/html; charset=utf-8");
    });
    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      if (auto e = not_ready()) {
        res.status = 503;
        res.set_content(std::string("{\"status\": \"") +
                            (stopping.load() ? "stopping" : "loading") + "\"}",
                        kJson);
        return;
      }
      res.set_content(std::string("{\"status\": \"ok\", \"model\": ") +
                          nlohmann::json(model_name).dump(-1, ' ', false,
                                                          nlohmann::json::error_handler_t::replace) +
                          "}",
                      kJson);
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      metrics.set_queue(scheduler.depth(), scheduler.capacity());
      res.set_content(metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
    });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      if (auto e = not_ready()) return send_error(res, *e);
      res.set_content(models_body(model_name, created), kJson);
    });
    http.Post("/v1/intent",
              [this](const httplib::Request& req, httplib::Response& res) { handle_intent(req, res); });
    http.Post("/v1/chat/completions",
              [this](const httplib::Request& req, httplib::Response& res) { handle_chat(req, res); });
    for (const char* path : {"/v1/intent", "/v1/chat/completions"}) {
      http.Get(path, [this, path](const httplib::Request&, httplib::Response& res) {
        send_error(res, make_error(405, "invalid_request_error", "method_not_allowed",
                                   std::string("use POST for ") + path));
      });
    }
    // Every status >= 400 passes here; fill in a JSON body where a route did not (404, 413 from
    // the payload limit, 400 from a request line httplib could not parse).
    http.set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Handled;
      ApiError e;
      e.status = res.status;
      switch (res.status) {
        case 404:
          e.code = "not_found";
          e.message = "no route for " + req.method + " " + req.path;
          break;
        case 413:
          e.code = "body_too_large";
          e.message = strformat("request body is over the %zu-byte limit", opt.limits.max_body_bytes);
          break;
        default:
          e.code = "bad_request";
          e.message = strformat("bad HTTP request (status %d)", res.status);
      }
      res.set_content(error_body(e), kJson);
      return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler(
        [this](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
          send_error(res, make_error(500, "server_error", "internal_error", "internal error"));
        });
    // Counted just before the status line is written (httplib's post-routing hook), not in the
    // logger, which runs after the client already has its answer: a client that reads /metrics
    // right after a response must see that response counted.
    http.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      metrics.record_request(route_label(req.path), res.status);
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      if (opt.log_requests) {
        std::fprintf(stderr, "%s %s %d %zu bytes\n", req.method.c_str(), req.path.c_str(),
                     res.status, res.body.size());
      }
    });
  }
};

Server::Server(ServeOptions opt) : impl_(std::make_unique<Impl>(std::move(opt))) {
  Impl& s = *impl_;
  s.install_routes();
  int threads = s.opt.http_threads > 0 ? s.opt.http_threads
                                       : static_cast<int>(s.opt.max_queue) + 32;
  s.http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // A little above the API limit, so that our own check (with its precise message) sees bodies
  // that are only slightly over; anything larger gets 413 without being read.
  s.http.set_payload_max_length(s.opt.limits.max_body_bytes + 1);
  s.http.set_keep_alive_timeout(s.opt.keep_alive_s);
  s.http.set_keep_alive_max_count(1000);
  s.http.set_read_timeout(10, 0);
  s.http.set_write_timeout(10, 0);
  // The hook runs on the listening socket before bind(); remember it so that bind() can raise
  // its backlog (see there).
  s.http.set_socket_options([&s](socket_t sock) {
    httplib::default_socket_options(sock);
    s.listen_fd = static_cast<int>(sock);
  });
}

Server::~Server() { stop(); }

Status Server::bind() {
  Impl& s = *impl_;
  if (s.opt.port == 0) {
    int p = s.http.bind_to_any_port(s.opt.host);
    if (p <= 0) return error("serve: cannot bind " + s.opt.host + " to a free port");
    s.bound_port = p;
  } else {
    if (!s.http.bind_to_port(s.opt.host, s.opt.port)) {
      return error(strformat("serve: cannot listen on %s:%d; hint: is the port in use or the "
                             "host not an address of this machine?",
                             s.opt.host.c_str(), s.opt.port));
    }
    s.bound_port = s.opt.port;
  }
  // Debian's cpp-httplib is a prebuilt library that listens with a backlog of 5
  // (CPPHTTPLIB_LISTEN_BACKLOG, fixed when the .so was built). When more clients than that
  // connect at once, the kernel drops handshakes (TcpExtListenOverflows); such a client may
  // believe it is connected and have its request arrive only on a TCP retransmission, after the
  // keep-alive wait for the first request has already closed the connection: the client sees
  // the connection closed without an answer. Calling listen() again on a listening socket only
  // changes its backlog (Linux); the kernel caps it at net.core.somaxconn.
  if (s.listen_fd < 0 || ::listen(s.listen_fd, s.opt.listen_backlog) != 0) {
    return error(strformat("serve: cannot set the listen backlog of %s:%d to %d",
                           s.opt.host.c_str(), s.bound_port, s.opt.listen_backlog));
  }
  return Status();
}

int Server::port() const { return impl_->bound_port; }

int Server::listen_backlog() const {
  const Impl& s = *impl_;
  if (s.listen_fd < 0 || s.bound_port < 0) return -1;
  // For a listening socket the kernel reports its accept-queue limit in tcpi_sacked.
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (::getsockopt(s.listen_fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return -1;
  return static_cast<int>(info.tcpi_sacked);
}

Status Server::attach(Backend backend) {
  Impl& s = *impl_;
  if (s.stopping.load()) return error("serve: stopping; backend not started");
  int workers = backend.workers;
  s.model_name = backend.model_name;
  CARTLM_RETURN_IF_ERROR(s.scheduler.start(std::move(backend)));
  s.metrics.set_ready(true, workers);
  s.ready.store(true);
  return Status();
}

Status Server::run() {
  Impl& s = *impl_;
  if (s.bound_port < 0) return error("serve: run() before bind()");
  // Paired with stop(): either stop() sees run_started and waits for the listen loop, or this
  // sees `stopping` and does not start it.
  s.run_started.store(true);
  bool ok = s.stopping.load() ? true : s.http.listen_after_bind();
  s.run_finished.store(true);
  // listen_after_bind returns once the connection threads are joined, i.e. every in-flight
  // request has been answered; then let the workers finish and exit.
  s.ready.store(false);
  s.metrics.set_ready(false, 0);
  s.scheduler.stop();
  if (!ok && !s.stopping.load()) return error("serve: the listener failed");
  return Status();
}

void Server::stop() {
  Impl& s = *impl_;
  s.stopping.store(true);
  if (s.run_started.load()) {
    while (!s.http.is_running() && !s.run_finished.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  s.http.stop();
}

Metrics& Server::metrics() { return impl_->metrics; }

}  // namespace cartlm::serve
