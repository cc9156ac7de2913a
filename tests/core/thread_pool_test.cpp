#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <set>
#include <thread>
#include <vector>

// Counts heap allocations made anywhere in this process, so a test can assert that a pool call
// allocates nothing (decode loops call the pool hundreds of times per token). GCC cannot see that
// these replacements pair malloc with free.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static std::atomic<long> g_allocs{0};
void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace cartlm;

TEST(ThreadPool, ChunkRangeCoversEverythingOnceAndIsAligned) {
  for (size_t n : {0, 1, 2, 3, 7, 16, 17, 100, 1000, 4099}) {
    for (size_t align : {1, 4, 16}) {
      for (int nt = 1; nt <= 5; ++nt) {
        size_t expect_begin = 0;
        for (int i = 0; i < nt; ++i) {
          size_t b, e;
          ThreadPool::chunk_range(n, align, i, nt, &b, &e);
          EXPECT_EQ(b, expect_begin) << "n=" << n << " align=" << align << " nt=" << nt << " i=" << i;
          EXPECT_LE(b, e);
          if (b < n) {
            EXPECT_EQ(b % align, 0u);
          }
          if (e < n) {
            EXPECT_EQ(e % align, 0u);
          }
          expect_begin = e;
        }
        EXPECT_EQ(expect_begin, n) << "n=" << n << " align=" << align << " nt=" << nt;
      }
    }
  }
}

TEST(ThreadPool, ChunkRangeIsBalanced) {
  // 1000 units over 3 threads: 333/333/334, never an empty chunk while units remain.
  size_t sizes[3];
  for (int i = 0; i < 3; ++i) {
    size_t b, e;
    ThreadPool::chunk_range(1000, 1, i, 3, &b, &e);
    sizes[i] = e - b;
  }
  EXPECT_EQ(sizes[0] + sizes[1] + sizes[2], 1000u);
  for (size_t s : sizes) EXPECT_TRUE(s == 333 || s == 334) << s;
}

TEST(ThreadPool, ParallelForVisitsEveryIndexExactlyOnce) {
  for (int nt : {1, 2, 3, 4}) {
    ThreadPool pool(nt);
    EXPECT_EQ(pool.size(), nt);
    for (size_t n : {0, 1, 2, 5, 64, 1001}) {
      std::vector<std::atomic<int>> hits(n);
      pool.parallel_for(n, [&](size_t b, size_t e) {
        for (size_t i = b; i < e; ++i) hits[i].fetch_add(1);
      });
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "nt=" << nt << " n=" << n << " i=" << i;
    }
  }
}

TEST(ThreadPool, RunCallsEveryThreadIndexOnceOnDistinctThreads) {
  ThreadPool pool(4);
  std::mutex mu;
  std::vector<int> seen;
  std::set<std::thread::id> ids;
  pool.run([&](int i, int n) {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(n, 4);
    seen.push_back(i);
    ids.insert(std::this_thread::get_id());
  });
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_TRUE(ids.count(std::this_thread::get_id()));  // the caller is thread 0
}

TEST(ThreadPool, ManyBackToBackCallsAllComplete) {
  // Exercises the spin path (calls arrive immediately) and the sleep path (spin budget 0).
  for (int spin_us : {100, 0}) {
    ThreadPool pool(3);
    pool.set_spin_us(spin_us);
    std::vector<long> partial(3, 0);
    long total = 0;
    for (int call = 0; call < 3000; ++call) {
      pool.run([&](int i, int) { partial[i] += call; });
    }
    for (long p : partial) total += p;
    EXPECT_EQ(total, 3L * (2999L * 3000L / 2)) << "spin_us=" << spin_us;
  }
}

TEST(ThreadPool, WorkersSleepingAfterIdleStillWakeUp) {
  ThreadPool pool(2);
  pool.set_spin_us(0);
  std::atomic<int> count{0};
  for (int k = 0; k < 5; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // workers are asleep now
    pool.run([&](int, int) { count.fetch_add(1); });
  }
  EXPECT_EQ(count.load(), 10);
}

TEST(ThreadPool, NestedCallsRunInline) {
  ThreadPool pool(2);
  std::atomic<int> inner_threads{0};
  std::atomic<long> sum{0};
  pool.run([&](int, int) {
    EXPECT_TRUE(in_thread_pool_task());
    pool.parallel_for(10, [&](size_t b, size_t e) {
      inner_threads.fetch_add(1);
      for (size_t i = b; i < e; ++i) sum.fetch_add((long)i);
    });
  });
  EXPECT_FALSE(in_thread_pool_task());
  EXPECT_EQ(inner_threads.load(), 2);  // one inline call of the whole range per outer thread
  EXPECT_EQ(sum.load(), 2 * 45);
}

TEST(ThreadPool, CallersFromTwoThreadsAreSerialized) {
  ThreadPool pool(2);
  std::atomic<long> sum{0};
  auto caller = [&] {
    for (int k = 0; k < 500; ++k)
      pool.parallel_for(100, [&](size_t b, size_t e) {
        for (size_t i = b; i < e; ++i) sum.fetch_add((long)i);
      });
  };
  std::thread t1(caller), t2(caller);
  t1.join();
  t2.join();
  EXPECT_EQ(sum.load(), 2L * 500L * 4950L);
}

TEST(ThreadPool, CallsDoNotAllocate) {
  ThreadPool pool(3);
  double big_capture[8] = {1, 2, 3, 4, 5, 6, 7, 8};  // larger than std::function's small buffer
  std::vector<double> out(3000, 0.0);
  auto body = [&, big_capture](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) out[i] = big_capture[i % 8];
  };
  pool.parallel_for(out.size(), body);  // warm-up
  long before = g_allocs.load();
  for (int k = 0; k < 200; ++k) pool.parallel_for(out.size(), 16, body);
  long after = g_allocs.load();
  EXPECT_EQ(after - before, 0);
  EXPECT_EQ(out[9], 2.0);
}

TEST(ThreadPool, DefaultSizeIsHardwareConcurrency) {
  ThreadPool pool;
  unsigned hw = std::thread::hardware_concurrency();
  EXPECT_EQ(pool.size(), hw > 0 ? (int)hw : 1);
}
