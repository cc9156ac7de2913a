// ThreadPool: a fixed set of workers created once and reused for every parallel loop of a forward
// or backward pass (hundreds of calls per token), so a call must cost microseconds, not a thread
// start. Work is split statically and deterministically: with the same thread count, chunk i is
// always the same range, so results never depend on scheduling.
//
// A call never allocates. Idle workers spin briefly (a decode step issues its next parallel loop
// within microseconds) and then sleep on a futex (std::atomic::wait), so an idle pool costs no CPU.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace cartlm {

class ThreadPool {
 public:
  // nthreads <= 0 means std::thread::hardware_concurrency(). The calling thread counts as one of
  // the threads: ThreadPool(4) starts 3 workers and the caller does a quarter of the work.
  explicit ThreadPool(int nthreads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return nthreads_; }

  // Calls fn(thread_index, nthreads) once on every thread (index 0 is the caller) and returns
  // when all calls have returned. Called from inside a pool task it runs fn(0, 1) inline instead
  // (nested parallelism would deadlock the fixed workers). Calls from different threads are
  // serialized. fn must not throw.
  template <class F>
  void run(F&& fn) {
    auto thunk = [](void* ctx, int i, int n) { (*static_cast<std::remove_reference_t<F>*>(ctx))(i, n); };
    run_raw(thunk, (void*)&fn);
  }

  // Splits [0, n) into size() contiguous chunks and calls fn(begin, end) for every non-empty one.
  // Chunk boundaries are multiples of `align` (except n itself), e.g. 16 to keep output-row tiles
  // whole. Chunk i is [b(i), b(i+1)) with b(i) = min(n, align * floor(ceil(n/align) * i / size())).
  template <class F>
  void parallel_for(size_t n, size_t align, F&& fn) {
    if (n == 0) return;
    auto body = [&](int i, int nt) {
      size_t b, e;
      chunk_range(n, align, i, nt, &b, &e);
      if (b < e) fn(b, e);
    };
    run(body);
  }
  template <class F>
  void parallel_for(size_t n, F&& fn) {
    parallel_for(n, 1, static_cast<F&&>(fn));
  }

  // The partition parallel_for uses (exposed for tests and for callers that size per-thread work).
  static void chunk_range(size_t n, size_t align, int i, int nthreads, size_t* begin, size_t* end);

  // How long an idle worker (or the waiting caller) spins before sleeping. Default 100 us.
  void set_spin_us(int us) { spin_us_.store(us, std::memory_order_relaxed); }

 private:
  using RawFn = void (*)(void* ctx, int thread_index, int nthreads);
  void run_raw(RawFn fn, void* ctx);
  void worker_main(int index);
  // Spins while *a == old (up to spin_us_), then sleeps on it; sleepers counts sleeping threads so
  // the other side only pays for a futex wake when someone sleeps.
  void wait_while_equal(std::atomic<uint64_t>* a, uint64_t old, std::atomic<int>* sleepers);

  int nthreads_ = 1;
  std::atomic<int> spin_us_{100};
  std::vector<std::thread> workers_;
  // One job at a time: published by bumping generation_ (release), finished when done_ reaches
  // the number of workers.
  RawFn fn_ = nullptr;
  void* ctx_ = nullptr;
  alignas(64) std::atomic<uint64_t> generation_{0};
  alignas(64) std::atomic<int> worker_sleepers_{0};
  alignas(64) std::atomic<uint64_t> done_{0};
  alignas(64) std::atomic<int> caller_sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex run_mutex_;  // callers from different threads take turns
};

// True while the current thread is executing a ThreadPool task (worker or caller part).
bool in_thread_pool_task();

}  // namespace cartlm
