// Server metrics, rendered as Prometheus text (GET /metrics):
//   cartlm_requests_total{route,code}        counter  answered HTTP requests
//   cartlm_request_duration_seconds          histogram  end-to-end latency of model routes
//   cartlm_queue_depth / cartlm_queue_capacity  gauges  texts waiting for a worker
//   cartlm_batch_size                        histogram  texts in one shared forward pass
//   cartlm_prompt_tokens_total, cartlm_generated_tokens_total  counters
//   cartlm_tokens_per_second                 gauge  (prompt + generated) tokens per second of
//                                             worker busy time
//   cartlm_ready, cartlm_workers, cartlm_in_flight  gauges
// One mutex guards everything: it is taken a few times per request, far below model cost.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace cartlm::serve {

struct Histogram {
  std::vector<double> bounds;  // upper bounds, increasing; +Inf is implicit
  std::vector<uint64_t> counts;  // per bucket (not cumulative), bounds.size() + 1
  double sum = 0;
  uint64_t count = 0;
  explicit Histogram(std::vector<double> b) : bounds(std::move(b)), counts(bounds.size() + 1, 0) {}
  void observe(double v);
};

struct Metrics {
  Metrics();
  // `route` should be one of the known routes ("other" for the rest, to bound label values).
  void record_request(const std::string& route, int code);
  void observe_latency(double seconds);  // model routes only
  void record_batch(size_t texts, size_t prompt_tokens, size_t generated_tokens, double busy_s);
  void set_queue(size_t depth, size_t capacity);
  void set_ready(bool ready, int workers);
  void add_in_flight(int delta);
  std::string render() const;  // Prometheus text exposition format 0.0.4

  uint64_t requests(const std::string& route, int code) const;  // for tests and logs

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  Histogram latency_;
  Histogram batch_;
  uint64_t prompt_tokens_ = 0, generated_tokens_ = 0;
  double busy_s_ = 0;
  size_t queue_depth_ = 0, queue_capacity_ = 0;
  bool ready_ = false;
  int workers_ = 0;
  int in_flight_ = 0;
};

}  // namespace cartlm::serve
