#include "core/thread_pool.h"

#include <chrono>

#include "core/check.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CARTLM_PAUSE() _mm_pause()
#else
#define CARTLM_PAUSE() \
  do {                 \
  } while (0)
#endif

namespace cartlm {

namespace {
thread_local bool t_in_task = false;
}

bool in_thread_pool_task() { return t_in_task; }

ThreadPool::ThreadPool(int nthreads) {
  if (nthreads <= 0) nthreads = (int)std::thread::hardware_concurrency();
  if (nthreads <= 0) nthreads = 1;
  nthreads_ = nthreads;
  workers_.reserve(nthreads_ - 1);
  for (int i = 1; i < nthreads_; ++i) workers_.emplace_back([this, i] { worker_main(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  generation_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::chunk_range(size_t n, size_t align, int i, int nthreads, size_t* begin,
                             size_t* end) {
  CARTLM_CHECK(nthreads > 0 && i >= 0 && i < nthreads);
  if (align == 0) align = 1;
  size_t units = (n + align - 1) / align;
  // 128-bit intermediate is unnecessary: units * nthreads stays far below 2^64 for real sizes.
  size_t ub = units * (size_t)i / (size_t)nthreads;
  size_t ue = units * (size_t)(i + 1) / (size_t)nthreads;
  *begin = ub * align < n ? ub * align : n;
  *end = ue * align < n ? ue * align : n;
}

void ThreadPool::wait_while_equal(std::atomic<uint64_t>* a, uint64_t old,
                                  std::atomic<int>* sleepers) {
  // Spin first: in a decode step the next job usually arrives within microseconds, and a futex
  // sleep/wake round trip costs tens of microseconds. Check the clock only every 64 pauses.
  auto start = std::chrono::steady_clock::now();
  auto budget = std::chrono::microseconds(spin_us_.load(std::memory_order_relaxed));
  // After the first 64 pauses, yield between checks: when there are more runnable threads than
  // cores (a busy machine, or more pool threads than cores) the thread we wait for may need this
  // very core.
  for (int iter = 0;; ++iter) {
    if (a->load(std::memory_order_acquire) != old) return;
    if (iter < 64) {
      CARTLM_PAUSE();
    } else {
      std::this_thread::yield();
      if (std::chrono::steady_clock::now() - start > budget) break;
    }
  }
  // Announce the sleep before re-checking, so that a writer that bumps *a after our check sees
  // sleepers > 0 and wakes us (both sides use seq_cst).
  sleepers->fetch_add(1, std::memory_order_seq_cst);
  while (a->load(std::memory_order_seq_cst) == old) a->wait(old, std::memory_order_seq_cst);
  sleepers->fetch_sub(1, std::memory_order_seq_cst);
}

void ThreadPool::worker_main(int index) {
  uint64_t seen = 0;
  for (;;) {
    wait_while_equal(&generation_, seen, &worker_sleepers_);
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_acquire)) return;
    t_in_task = true;
    fn_(ctx_, index, nthreads_);
    t_in_task = false;
    done_.fetch_add(1, std::memory_order_seq_cst);
    if (caller_sleepers_.load(std::memory_order_seq_cst) > 0) done_.notify_all();
  }
}

void ThreadPool::run_raw(RawFn fn, void* ctx) {
  if (nthreads_ == 1 || t_in_task) {
    bool was = t_in_task;
    t_in_task = true;
    fn(ctx, 0, 1);
    t_in_task = was;
    return;
  }
  std::lock_guard<std::mutex> lock(run_mutex_);
  const uint64_t start_done = done_.load(std::memory_order_acquire);
  const uint64_t target = start_done + (uint64_t)(nthreads_ - 1);
  fn_ = fn;
  ctx_ = ctx;
  generation_.fetch_add(1, std::memory_order_seq_cst);  // publishes fn_/ctx_
  if (worker_sleepers_.load(std::memory_order_seq_cst) > 0) generation_.notify_all();

  t_in_task = true;
  fn(ctx, 0, nthreads_);
  t_in_task = false;

  for (;;) {
    uint64_t d = done_.load(std::memory_order_acquire);
    if (d == target) break;
    wait_while_equal(&done_, d, &caller_sleepers_);
  }
}

}  // namespace cartlm
