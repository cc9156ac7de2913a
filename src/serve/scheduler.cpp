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
  CARTLM_CHECK(backend.make_worker || backend.make_slot_worker);
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

SlotWorker slot_worker_from_batch_fn(BatchFn fn, size_t max_batch) {
  // The started texts wait in their slots until the step runs them all in one call.
  auto pending = std::make_shared<std::vector<std::optional<std::string>>>(std::max<size_t>(max_batch, 1));
  SlotWorker w;
  w.slots = pending->size();
  w.start = [pending](size_t slot, const std::string& text) -> std::optional<IntentAnswer> {
    CARTLM_CHECK(slot < pending->size() && !(*pending)[slot]);
    (*pending)[slot] = text;
    return std::nullopt;
  };
  w.step = [pending, fn = std::move(fn)](std::vector<std::pair<size_t, IntentAnswer>>* done) {
    std::vector<std::string> texts;
    std::vector<size_t> slots;
    for (size_t i = 0; i < pending->size(); ++i) {
      if (!(*pending)[i]) continue;
      texts.push_back(std::move(*(*pending)[i]));
      (*pending)[i].reset();
      slots.push_back(i);
    }
    if (texts.empty()) return size_t{0};
    std::vector<IntentAnswer> answers = fn(texts);
    CARTLM_CHECK(answers.size() == texts.size());
    for (size_t k = 0; k < slots.size(); ++k) done->emplace_back(slots[k], std::move(answers[k]));
    return texts.size();
  };
  return w;
}

void Scheduler::worker_main(int index) {
  Result<SlotWorker> made = error("no worker factory");
  if (backend_.make_slot_worker) {
    made = backend_.make_slot_worker(index);
  } else {
    Result<BatchFn> fn = backend_.make_worker(index);
    if (fn.ok()) {
      made = slot_worker_from_batch_fn(std::move(*fn), backend_.max_batch);
    } else {
      made = fn.status();
    }
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!made.ok() && !start_error_) {
      start_error_ = made.status().with_context(strformat("serve worker %d", index));
    }
    reported_++;
    cv_.notify_all();
    cv_.wait(lock, [&] { return reported_ == backend_.workers; });
    if (start_error_) return;
  }
  SlotWorker& w = *made;
  CARTLM_CHECK(w.slots >= 1 && w.start && w.step);
  std::vector<std::optional<Job>> slot_job(w.slots);
  size_t active = 0;
  std::vector<Job> taken;
  std::vector<std::pair<size_t, IntentAnswer>> done;
  double busy_since_done = 0;  // worker-busy seconds since texts last completed
  for (;;) {
    taken.clear();
    size_t depth;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (active == 0) {
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping and drained
      }
      // Free slots join the running batch now, not after it finishes.
      while (!queue_.empty() && active + taken.size() < w.slots) {
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      depth = queue_.size();
    }
    if (metrics_ && !taken.empty()) metrics_->set_queue(depth, capacity_);
    // Drop texts nobody waits for any more (their handler already answered 504).
    auto now = Clock::now();
    for (Job& j : taken) {
      bool dead;
      {
        std::lock_guard<std::mutex> lock(j.ticket->mu);
        dead = j.ticket->cancelled || now > j.ticket->deadline;
      }
      if (dead) {
        IntentAnswer a;
        a.error = "request timed out in the queue";
        finish(j, std::move(a));
        continue;
      }
      size_t slot = 0;
      while (slot_job[slot]) ++slot;  // one is free: active + taken <= slots
      std::optional<IntentAnswer> at_once = w.start(slot, j.text);
      if (at_once) {
        finish(j, std::move(*at_once));
        continue;
      }
      slot_job[slot] = std::move(j);
      ++active;
    }
    if (active == 0) continue;
    done.clear();
    Timer timer;
    size_t in_pass = w.step(&done);
    double busy = timer.seconds();
    size_t prompt = 0, generated = 0;
    for (auto& [slot, answer] : done) {
      CARTLM_CHECK(slot < slot_job.size() && slot_job[slot]);
      prompt += answer.prompt_tokens;
      generated += answer.generated_tokens;
      finish(*slot_job[slot], std::move(answer));
      slot_job[slot].reset();
      --active;
    }
    if (metrics_) metrics_->record_batch(in_pass, prompt, generated, busy);
    busy_since_done += busy;
    if (!done.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      ema_text_s_ = 0.9 * ema_text_s_ + 0.1 * busy_since_done / static_cast<double>(done.size());
      busy_since_done = 0;
    }
  }
}

}  // namespace cartlm::serve
