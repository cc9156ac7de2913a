#pragma once
#include <chrono>

namespace cartlm {

// Wall-clock stopwatch (steady clock).
struct Timer {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  void reset() { start = std::chrono::steady_clock::now(); }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  double ms() const { return seconds() * 1e3; }
};

}  // namespace cartlm
