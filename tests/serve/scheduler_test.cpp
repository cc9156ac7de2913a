// Continuous batching in the scheduler, with a fake slot worker whose texts need a known number of
// steps ("3 soap" takes 3) and whose steps the test releases one at a time: texts join a running
// batch at the next step, a finished text is answered while others go on, no step holds more than
// max_batch texts, the metrics' batch sizes are texts per step, refused texts leave their slot
// free, and stop() drains running and queued texts.
#include "serve/scheduler.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

namespace cartlm::serve {
namespace {

struct FakeSlots {
  std::mutex mu;
  std::condition_variable cv;
  long allowed = 1L << 30;  // steps that may still start
  int waiting = 0;          // steps blocked on `allowed`
  std::vector<std::vector<std::string>> log;  // texts of each step, in slot order
  std::vector<std::optional<std::pair<std::string, int>>> slots;  // text, steps left

  SlotWorker make(size_t n) {
    slots.assign(n, std::nullopt);
    SlotWorker w;
    w.slots = n;
    w.start = [this](size_t slot, const std::string& text) -> std::optional<IntentAnswer> {
      std::lock_guard<std::mutex> lock(mu);
      EXPECT_FALSE(slots[slot].has_value()) << "slot " << slot << " handed out twice";
      if (text.rfind("bad", 0) == 0) {
        IntentAnswer a;
        a.rejected_input = true;
        a.error = "refused";
        return a;
      }
      slots[slot] = std::make_pair(text, std::atoi(text.c_str()));
      return std::nullopt;
    };
    w.step = [this](std::vector<std::pair<size_t, IntentAnswer>>* done) {
      std::unique_lock<std::mutex> lock(mu);
      ++waiting;
      cv.notify_all();
      cv.wait(lock, [&] { return allowed > 0; });
      --waiting;
      --allowed;
      log.emplace_back();
      for (size_t i = 0; i < slots.size(); ++i) {
        if (!slots[i]) continue;
        log.back().push_back(slots[i]->first);
        if (--slots[i]->second > 0) continue;
        IntentAnswer a;
        a.valid = true;
        a.output_text = slots[i]->first;
        a.prompt_tokens = 10;
        a.generated_tokens = 2;
        done->emplace_back(i, a);
        slots[i].reset();
      }
      cv.notify_all();
      return log.back().size();
    };
    return w;
  }
  void hold() {
    std::lock_guard<std::mutex> lock(mu);
    allowed = 0;
  }
  void release(long steps) {
    std::lock_guard<std::mutex> lock(mu);
    allowed += steps;
    cv.notify_all();
  }
  // Waits until a step is blocked on hold() and `steps` steps have run.
  void wait_blocked_after(size_t steps) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return waiting > 0 && log.size() >= steps; });
  }
};

bool answered(Ticket& t) {
  std::lock_guard<std::mutex> lock(t.mu);
  return t.remaining == 0;
}

class SchedulerTest : public ::testing::Test {
 protected:
  void start(size_t max_batch, size_t capacity = 64) {
    sched_ = std::make_unique<Scheduler>(capacity, &metrics_);
    Backend b;
    b.model_name = "fake";
    b.workers = 1;
    b.max_batch = max_batch;
    b.make_slot_worker = [this, max_batch](int) -> Result<SlotWorker> { return fake_.make(max_batch); };
    ASSERT_TRUE(sched_->start(std::move(b)).ok());
  }
  std::shared_ptr<Ticket> submit(std::vector<std::string> texts) {
    Scheduler::SubmitError why;
    auto t = sched_->submit(std::move(texts), Clock::now() + std::chrono::seconds(30), &why);
    EXPECT_TRUE(t) << "submit refused";
    return t;
  }
  void TearDown() override {
    fake_.release(1L << 30);
    if (sched_) sched_->stop();
  }

  FakeSlots fake_;
  Metrics metrics_;
  std::unique_ptr<Scheduler> sched_;
};

TEST_F(SchedulerTest, NewTextsJoinTheRunningBatchAndFinishedOnesLeaveAtOnce) {
  start(4);
  fake_.hold();
  auto long_t = submit({"6 long"});
  fake_.release(2);
  fake_.wait_blocked_after(2);  // "6 long" ran 2 of its 6 steps alone; step 3 waits, still alone
  auto short_t = submit({"1 short"});
  auto mid_t = submit({"2 mid"});
  fake_.release(2);
  fake_.wait_blocked_after(4);  // step 4 ran all three
  EXPECT_TRUE(answered(*short_t));
  EXPECT_FALSE(answered(*mid_t));
  EXPECT_FALSE(answered(*long_t));
  fake_.release(1);
  fake_.wait_blocked_after(5);
  EXPECT_TRUE(answered(*mid_t));
  EXPECT_FALSE(answered(*long_t));
  EXPECT_EQ(short_t->answers[0].output_text, "1 short");
  EXPECT_EQ(mid_t->answers[0].output_text, "2 mid");
  fake_.release(1L << 30);
  ASSERT_TRUE(Scheduler::wait(*long_t));
  EXPECT_EQ(long_t->answers[0].output_text, "6 long");
  std::lock_guard<std::mutex> lock(fake_.mu);
  std::vector<size_t> sizes;
  for (const auto& s : fake_.log) sizes.push_back(s.size());
  EXPECT_EQ(sizes, (std::vector<size_t>{1, 1, 1, 3, 2, 1}));
}

TEST_F(SchedulerTest, SlotsBoundTheBatchAndMetricsCountTextsPerStep) {
  start(3);
  fake_.hold();
  std::vector<std::string> texts;
  for (int i = 0; i < 7; ++i) texts.push_back(std::to_string(1 + i % 3) + " t" + std::to_string(i));
  auto t = submit(texts);
  fake_.release(1L << 30);
  ASSERT_TRUE(Scheduler::wait(*t));
  sched_->stop();  // the worker records a step's metrics after answering its texts
  size_t text_steps = 0;
  {
    std::lock_guard<std::mutex> lock(fake_.mu);
    EXPECT_EQ(fake_.log[0].size(), 3u);
    for (const auto& s : fake_.log) {
      EXPECT_LE(s.size(), 3u);
      EXPECT_GE(s.size(), 1u);
      text_steps += s.size();
    }
    EXPECT_EQ(text_steps, 1u + 2 + 3 + 1 + 2 + 3 + 1);  // each text runs exactly its steps
    std::string m = metrics_.render();
    EXPECT_NE(m.find("cartlm_batch_size_count " + std::to_string(fake_.log.size()) + "\n"),
              std::string::npos) << m;
    EXPECT_NE(m.find("cartlm_batch_size_sum " + std::to_string(text_steps) + ".000000\n"),
              std::string::npos) << m;
    EXPECT_NE(m.find("cartlm_generated_tokens_total 14\n"), std::string::npos) << m;
  }
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(t->answers[i].output_text, texts[i]);
}

TEST_F(SchedulerTest, RefusedTextIsAnsweredAtOnceAndLeavesItsSlotFree) {
  start(1);
  auto t = submit({"bad text", "2 ok", "bad again", "1 fine"});
  ASSERT_TRUE(Scheduler::wait(*t));
  EXPECT_TRUE(t->answers[0].rejected_input);
  EXPECT_EQ(t->answers[1].output_text, "2 ok");
  EXPECT_TRUE(t->answers[2].rejected_input);
  EXPECT_EQ(t->answers[3].output_text, "1 fine");
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.log.size(), 3u);  // one slot: "2 ok" twice, then "1 fine"
}

TEST_F(SchedulerTest, StopDrainsRunningAndQueuedTexts) {
  start(2);
  fake_.hold();
  auto a = submit({"5 a", "5 b"});
  fake_.release(1);
  fake_.wait_blocked_after(1);
  auto b = submit({"2 c", "3 d", "1 e"});  // queued: both slots are busy
  std::thread stopper([&] { sched_->stop(); });
  Scheduler::SubmitError why;
  // stop() refuses new work while it drains.
  for (int i = 0; i < 1000 && sched_->running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_FALSE(sched_->submit({"1 late"}, Clock::now() + std::chrono::seconds(5), &why));
  EXPECT_EQ(why, Scheduler::SubmitError::Stopping);
  fake_.release(1L << 30);
  stopper.join();
  EXPECT_TRUE(answered(*a));
  EXPECT_TRUE(answered(*b));
  EXPECT_EQ(b->answers[2].output_text, "1 e");
}

TEST_F(SchedulerTest, BatchFnBackendsStillRunTheirTextsPerCall) {
  sched_ = std::make_unique<Scheduler>(64, &metrics_);
  Backend b;
  b.workers = 1;
  b.max_batch = 4;
  std::mutex mu;
  std::vector<size_t> calls;
  b.make_worker = [&](int) -> Result<BatchFn> {
    return BatchFn([&](const std::vector<std::string>& texts) {
      std::lock_guard<std::mutex> lock(mu);
      calls.push_back(texts.size());
      std::vector<IntentAnswer> out(texts.size());
      for (size_t i = 0; i < texts.size(); ++i) out[i].output_text = texts[i];
      return out;
    });
  };
  ASSERT_TRUE(sched_->start(std::move(b)).ok());
  auto t = submit({"a", "b", "c", "d", "e", "f"});
  ASSERT_TRUE(Scheduler::wait(*t));
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(t->answers[i].output_text, std::string(1, (char)('a' + i)));
  std::lock_guard<std::mutex> lock(mu);
  size_t total = 0;
  for (size_t c : calls) {
    EXPECT_LE(c, 4u);
    total += c;
  }
  EXPECT_EQ(total, 6u);
}

}  // namespace
}  // namespace cartlm::serve
