#include "serve/scheduler.h"

#include <algorithm>
#include <cmath>

#include "core/strings.h"
#include "core/timer.h"

namespace cartlm::serve {

Scheduler::Scheduler(size_t capacity, Metrics* metrics)
    : capacity_(std::max<size_t>(capacity, 1)), metrics_(metrics) {
  if (metrics_) metrics_->set_queue(0, capacity_);
}

Scheduler::~Scheduler() { stop(); }

Status Scheduler::start(Backend backend) {
  CARTLM_CHECK(!started_);
  CARTLM_CHECK(backend.make_worker);
  if (backend.workers < 1) return error("serve: need at least one worker");
  backend.max_batch = std::max<size_t>(backend.max_batch, 1);
  backend_ = std::move(backend);
  started_ = true;
  for (int i = 0; i < backend_.workers; ++i) threads_.emplace_back([this, i] { worker_main(i); });
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return reported_ == backend_.workers; });
  if (start_error_) {
    Status st = *start_error_;
    lock.unlock();
    for (auto& t : threads_) t.join();
    threads_.clear();
    return st;
  }
  return Status();
}

bool Scheduler::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return started_ && !stopping_ && !start_error_;
}

std::shared_ptr<Ticket> Scheduler::submit(std::vector<std::string> texts,
                                          Clock::time_point deadline, SubmitError* why) {
  auto t = std::make_shared<Ticket>();
  t->answers.resize(texts.size());
  t->done.assign(texts.size(), false);
  t->remaining = texts.size();
  t->deadline = deadline;
  size_t depth;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || !started_ || start_error_) {
      *why = SubmitError::Stopping;
      return nullptr;
    }
    if (queue_.size() + texts.size() > capacity_) {
      *why = SubmitError::QueueFull;
      return nullptr;
    }
    for (size_t i = 0; i < texts.size(); ++i) queue_.push_back(Job{t, i, std::move(texts[i])});
    depth = queue_.size();
  }
  cv_.notify_all();
  if (metrics_) metrics_->set_queue(depth, capacity_);
  *why = SubmitError::None;
  return t;
}

bool Scheduler::wait(Ticket& t) {
  std::unique_lock<std::mutex> lock(t.mu);
  if (t.cv.wait_until(lock, t.deadline, [&] { return t.remaining == 0; })) return true;
  t.cancelled = true;
  return false;
}

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

size_t Scheduler::depth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

size_t Scheduler::retry_after_s() const {
  std::lock_guard<std::mutex> lock(mu_);
  // Time for the workers to drain the current queue, at least one second.
  double s = ema_text_s_ * static_cast<double>(queue_.size()) /
             std::max(1, backend_.workers);
  return static_cast<size_t>(std::clamp(std::ceil(s), 1.0, 60.0));
}

void Scheduler::finish(Job& job, IntentAnswer answer) {
  Ticket& t = *job.ticket;
  {
    std::lock_guard<std::mutex> lock(t.mu);
    t.answers[job.index] = std::move(answer);
    t.done[job.index] = true;
    t.remaining--;
  }
  t.cv.notify_all();
}

void Scheduler::worker_main(int index) {
  Result<BatchFn> fn = backend_.make_worker(index);
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!fn.ok() && !start_error_) {
      start_error_ = fn.status().with_context(strformat("serve worker %d", index));
    }
    reported_++;
    cv_.notify_all();
    cv_.wait(lock, [&] { return reported_ == backend_.workers; });
    if (start_error_) return;
  }
  std::vector<Job> jobs;
  std::vector<std::string> texts;
  for (;;) {
    jobs.clear();
    texts.clear();
    size_t depth;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && jobs.size() < backend_.max_batch) {
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      depth = queue_.size();
    }
    if (metrics_) metrics_->set_queue(depth, capacity_);
    // Drop texts nobody waits for any more (their handler already answered 504).
    auto now = Clock::now();
    std::vector<Job> live;
    for (Job& j : jobs) {
      bool dead;
      {
        std::lock_guard<std::mutex> lock(j.ticket->mu);
        dead = j.ticket->cancelled || now > j.ticket->deadline;
      }
      if (dead) {
        IntentAnswer a;
        a.error = "request timed out in the queue";
        finish(j, std::move(a));
      } else {
        texts.push_back(j.text);
        live.push_back(std::move(j));
      }
    }
    if (live.empty()) continue;
    Timer timer;
    std::vector<IntentAnswer> answers = (*fn)(texts);
    double busy = timer.seconds();
    CARTLM_CHECK(answers.size() == live.size());
    size_t prompt = 0, generated = 0;
    for (size_t i = 0; i < live.size(); ++i) {
      prompt += answers[i].prompt_tokens;
      generated += answers[i].generated_tokens;
      finish(live[i], std::move(answers[i]));
    }
    if (metrics_) metrics_->record_batch(live.size(), prompt, generated, busy);
    std::lock_guard<std::mutex> lock(mu_);
    ema_text_s_ = 0.9 * ema_text_s_ + 0.1 * busy / static_cast<double>(live.size());
  }
}

}  // namespace cartlm::serve
