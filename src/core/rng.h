// Deterministic random numbers that are identical on every platform and compiler (the standard
// library's distributions are not), so `--seed` reproduces a dataset or a training run exactly.
// xoshiro256** seeded through splitmix64.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "core/check.h"

namespace cartlm {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }
  void reseed(uint64_t seed);
  // An independent generator derived from this one's seed and `stream` (does not advance this).
  Rng fork(uint64_t stream) const;

  uint64_t next_u64();
  // Uniform in [0, n); n > 0. Unbiased (Lemire's multiply-and-reject).
  uint64_t uniform(uint64_t n);
  // Uniform in [lo, hi] inclusive.
  int64_t range(int64_t lo, int64_t hi) { return lo + (int64_t)uniform((uint64_t)(hi - lo + 1)); }
  double uniform_double();  // [0, 1)
  float uniform_float() { return (float)uniform_double(); }
  bool bernoulli(double p) { return uniform_double() < p; }
  double normal();  // standard normal (Box-Muller)
  // Index drawn with probability proportional to weights[i] (weights >= 0, sum > 0).
  size_t weighted(std::span<const double> weights);
  template <class T>
  const T& pick(const std::vector<T>& v) {
    CARTLM_CHECK(!v.empty());
    return v[uniform(v.size())];
  }
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[uniform(i)]);
  }

 private:
  uint64_t seed_ = 0;
  uint64_t s_[4];
};

}  // namespace cartlm
