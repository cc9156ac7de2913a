#include "serve/metrics.h"

#include "core/strings.h"

namespace cartlm::serve {

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds.size() && v > bounds[i]) ++i;
  counts[i]++;
  sum += v;
  count++;
}

Metrics::Metrics()
    // Latency buckets span a cached tiny model (~1 ms) to a loaded 1B model on a busy CPU (~10 s).
    : latency_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}),
      batch_({1, 2, 4, 8, 16, 32, 64}) {}

void Metrics::record_request(const std::string& route, int code) {
  std::lock_guard<std::mutex> lock(mu_);
  requests_[{route, code}]++;
}

void Metrics::observe_latency(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  latency_.observe(seconds);
}

void Metrics::record_batch(size_t texts, size_t prompt_tokens, size_t generated_tokens,
                           double busy_s) {
  std::lock_guard<std::mutex> lock(mu_);
  // A step whose texts all failed before the pass (no room left in a session) ran no pass.
  if (texts > 0) batch_.observe(static_cast<double>(texts));
  prompt_tokens_ += prompt_tokens;
  generated_tokens_ += generated_tokens;
  busy_s_ += busy_s;
}

void Metrics::set_queue(size_t depth, size_t capacity) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_depth_ = depth;
  queue_capacity_ = capacity;
}

void Metrics::set_ready(bool ready, int workers) {
  std::lock_guard<std::mutex> lock(mu_);
  ready_ = ready;
  workers_ = workers;
}

void Metrics::add_in_flight(int delta) {
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_ += delta;
}

uint64_t Metrics::requests(const std::string& route, int code) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = requests_.find({route, code});
  return it == requests_.end() ? 0 : it->second;
}

namespace {

void render_histogram(std::string& out, const char* name, const char* help, const Histogram& h) {
  out += strformat("# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  uint64_t cum = 0;
  for (size_t i = 0; i < h.bounds.size(); ++i) {
    cum += h.counts[i];
    out += strformat("%s_bucket{le=\"%g\"} %llu\n", name, h.bounds[i], (unsigned long long)cum);
  }
  cum += h.counts.back();
  out += strformat("%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
  out += strformat("%s_sum %.6f\n%s_count %llu\n", name, h.sum, name,
                   (unsigned long long)h.count);
}

}  // namespace

std::string Metrics::render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out += "# HELP cartlm_requests_total HTTP requests answered, by route and status code.\n";
  out += "# TYPE cartlm_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += strformat("cartlm_requests_total{route=\"%s\",code=\"%d\"} %llu\n", key.first.c_str(),
                     key.second, (unsigned long long)n);
  }
  render_histogram(out, "cartlm_request_duration_seconds",
                   "End-to-end latency of /v1/intent and /v1/chat/completions requests.",
                   latency_);
  out += "# HELP cartlm_queue_depth Texts waiting for a worker.\n# TYPE cartlm_queue_depth gauge\n";
  out += strformat("cartlm_queue_depth %zu\n", queue_depth_);
  out += "# HELP cartlm_queue_capacity Most texts the queue holds before answering 429.\n";
  out += strformat("# TYPE cartlm_queue_capacity gauge\ncartlm_queue_capacity %zu\n",
                   queue_capacity_);
  render_histogram(out, "cartlm_batch_size", "Texts in one shared forward pass of a worker.", batch_);
  out += "# HELP cartlm_prompt_tokens_total Prompt tokens processed.\n";
  out += strformat("# TYPE cartlm_prompt_tokens_total counter\ncartlm_prompt_tokens_total %llu\n",
                   (unsigned long long)prompt_tokens_);
  out += "# HELP cartlm_generated_tokens_total Tokens generated.\n";
  out += strformat(
      "# TYPE cartlm_generated_tokens_total counter\ncartlm_generated_tokens_total %llu\n",
      (unsigned long long)generated_tokens_);
  out += "# HELP cartlm_tokens_per_second Prompt plus generated tokens per second of worker busy "
         "time.\n";
  out += strformat("# TYPE cartlm_tokens_per_second gauge\ncartlm_tokens_per_second %.3f\n",
                   busy_s_ > 0 ? (prompt_tokens_ + generated_tokens_) / busy_s_ : 0.0);
  out += "# HELP cartlm_ready 1 once the model is loaded and workers run.\n";
  out += strformat("# TYPE cartlm_ready gauge\ncartlm_ready %d\n", ready_ ? 1 : 0);
  out += "# HELP cartlm_workers Worker threads, each with its own model session.\n";
  out += strformat("# TYPE cartlm_workers gauge\ncartlm_workers %d\n", workers_);
  out += "# HELP cartlm_in_flight Model requests being answered now.\n";
  out += strformat("# TYPE cartlm_in_flight gauge\ncartlm_in_flight %d\n", in_flight_);
  return out;
}

}  // namespace cartlm::serve
