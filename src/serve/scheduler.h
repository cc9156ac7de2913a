// The request scheduler between HTTP handlers and the model: a bounded queue of texts and a pool
// of worker threads, each owning its model sessions (KV caches), so concurrent requests run side
// by side without locks around the model.
//
//   handler:  submit(texts, deadline) -> Ticket (or nullptr: queue full -> 429, or stopping -> 503)
//             wait(ticket)            -> all answers, or false at the deadline (-> 504)
//   worker:   continuous batching. It keeps up to `slots` texts in flight; before every step the
//             free slots take queued texts (a new request joins the running batch at the next
//             step, it never waits for a batch to finish), the step runs one shared forward pass
//             over all of them, and each text that completes is handed to its ticket right away,
//             freeing its slot.
//
// A request's texts are queued all or none, so a batch request never half-runs. Texts whose
// request timed out are skipped, not run. stop() refuses new work, lets the workers finish every
// queued and running text, and joins them: that is the graceful-shutdown drain.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/status.h"
#include "serve/api.h"
#include "serve/metrics.h"

namespace cartlm::serve {

using Clock = std::chrono::steady_clock;

// A worker's model side with slots (all calls on the worker's own thread):
//   start(slot, text)  puts `text` in free slot `slot`; returns an answer when the text is done
//                      at once (e.g. input the model refuses; the slot stays free), else nullopt;
//   step(&done)        advances every started text by one shared forward pass and appends
//                      (slot, answer) for each text that completed (its slot is free again);
//                      returns how many texts the pass ran (the batch size in the metrics).
// A per-text failure is an IntentAnswer with valid == false and `error` set.
struct SlotWorker {
  size_t slots = 1;
  std::function<std::optional<IntentAnswer>(size_t slot, const std::string& text)> start;
  std::function<size_t(std::vector<std::pair<size_t, IntentAnswer>>* done)> step;
};

// The simple form: runs texts through the model one call per step; one answer per text, in order.
using BatchFn = std::function<std::vector<IntentAnswer>(const std::vector<std::string>& texts)>;
// Called once on each worker's own thread before it takes work (e.g. to create its session).
using WorkerFactory = std::function<Result<BatchFn>(int worker_index)>;
using SlotWorkerFactory = std::function<Result<SlotWorker>(int worker_index)>;

struct Backend {
  std::string model_name;
  int workers = 1;
  size_t max_batch = 1;  // texts a worker has in flight at once (BatchFn: texts per call)
  // One of the two; make_slot_worker wins when both are set.
  WorkerFactory make_worker;
  SlotWorkerFactory make_slot_worker;
};

// A BatchFn as a SlotWorker with max_batch slots: each step runs every started text.
SlotWorker slot_worker_from_batch_fn(BatchFn fn, size_t max_batch);

// One HTTP request's texts and answers, shared by its handler and the workers.
struct Ticket {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<IntentAnswer> answers;
  std::vector<bool> done;
  size_t remaining = 0;
  bool cancelled = false;  // the handler gave up (timeout): skip what is still queued
  Clock::time_point deadline;
};

class Scheduler {
 public:
  Scheduler(size_t capacity, Metrics* metrics);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Starts backend.workers threads; returns once each has run make_worker, with the first error
  // (then no worker is left running).
  Status start(Backend backend);
  bool running() const;

  enum class SubmitError { None, QueueFull, Stopping };
  // Queues all texts or none.
  std::shared_ptr<Ticket> submit(std::vector<std::string> texts, Clock::time_point deadline,
                                 SubmitError* why);
  // Waits until every text of the ticket is answered (true) or the deadline passes (false; the
  // ticket is cancelled and its queued texts are dropped).
  static bool wait(Ticket& t);

  // Refuses new texts, runs every queued and running one, joins the workers. Idempotent.
  void stop();

  size_t depth() const;
  size_t capacity() const { return capacity_; }
  size_t retry_after_s() const;  // a hint for 429 answers, from the recent service rate

 private:
  struct Job {
    std::shared_ptr<Ticket> ticket;
    size_t index = 0;
    std::string text;
  };
  void worker_main(int index);
  void finish(Job& job, IntentAnswer answer);

  size_t capacity_;
  Metrics* metrics_;
  Backend backend_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  bool started_ = false;
  std::vector<std::thread> threads_;
  // Start-up handshake: workers report their make_worker result.
  int reported_ = 0;
  std::optional<Status> start_error_;
  double ema_text_s_ = 0.05;  // smoothed worker-busy seconds per completed text, for Retry-After
};

}  // namespace cartlm::serve
