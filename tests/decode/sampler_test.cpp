#include "decode/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "decode/generate.h"

namespace cartlm {
namespace {

std::vector<float> random_logits(uint64_t seed, int n) {
  Rng r(seed);
  std::vector<float> v((size_t)n);
  for (float& x : v) x = (float)(r.normal() * 3.0);
  return v;
}

TEST(Sampler, GreedyIsArgmax) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::vector<float> l = random_logits(seed, 100);
    int32_t best = 0;
    for (int32_t i = 0; i < 100; ++i)
      if (l[(size_t)i] > l[(size_t)best]) best = i;
    Sampler s = make_sampler({0.0f, 0, 1.0f, seed}, 100);
    EXPECT_EQ(sample(s, l.data()), best);
  }
}

TEST(Sampler, ArgmaxPrefersLowestIdOnTies) {
  std::vector<float> l = {1.0f, 3.0f, 2.0f, 3.0f};
  EXPECT_EQ(argmax(l.data(), 4), 1);
}

TEST(Sampler, TopKOneIsGreedy) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::vector<float> l = random_logits(seed, 64);
    Sampler s = make_sampler({1.5f, 1, 1.0f, seed}, 64);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(sample(s, l.data()), argmax(l.data(), 64));
  }
}

TEST(Sampler, TinyTopPIsGreedy) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::vector<float> l = random_logits(seed, 64);
    Sampler s = make_sampler({1.0f, 0, 1e-6f, seed}, 64);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(sample(s, l.data()), argmax(l.data(), 64));
  }
}

TEST(Sampler, TopKOnlyDrawsFromTheKBest) {
  std::vector<float> l = {0.0f, 5.0f, 1.0f, 4.0f, 2.0f, 4.5f};
  Sampler s = make_sampler({2.0f, 3, 1.0f, 7}, 6);
  std::vector<int> seen(6, 0);
  for (int i = 0; i < 3000; ++i) ++seen[(size_t)sample(s, l.data())];
  EXPECT_EQ(seen[0] + seen[2] + seen[4], 0);
  EXPECT_GT(seen[1], 0);
  EXPECT_GT(seen[3], 0);
  EXPECT_GT(seen[5], 0);
}

TEST(Sampler, TemperatureFrequenciesFollowSoftmax) {
  const std::vector<float> l = {2.0f, 1.0f, 0.5f, -1.0f, 0.0f};
  const float temp = 0.8f;
  const int n = 200000;
  Sampler s = make_sampler({temp, 0, 1.0f, 12345}, 5);
  std::vector<int> count(5, 0);
  for (int i = 0; i < n; ++i) ++count[(size_t)sample(s, l.data())];
  double z = 0;
  for (float x : l) z += std::exp(x / temp);
  for (size_t i = 0; i < l.size(); ++i) {
    double p = std::exp(l[i] / temp) / z;
    double sd = std::sqrt(p * (1 - p) / n);
    // 5 standard deviations: a correct sampler fails this with probability ~1e-6 per id.
    EXPECT_NEAR((double)count[i] / n, p, 5 * sd) << "token " << i;
  }
}

TEST(Sampler, SameSeedSameSequence) {
  std::vector<float> l = random_logits(3, 50);
  Sampler a = make_sampler({1.0f, 10, 0.9f, 99}, 50), b = make_sampler({1.0f, 10, 0.9f, 99}, 50);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sample(a, l.data()), sample(b, l.data()));
}

TEST(Utf8Prefix, HoldsBackIncompleteCharacters) {
  EXPECT_EQ(utf8_complete_prefix("abc"), 3u);
  EXPECT_EQ(utf8_complete_prefix("a\xC5"), 1u);          // first byte of "š"
  EXPECT_EQ(utf8_complete_prefix("a\xC5\xA1"), 3u);      // "aš"
  EXPECT_EQ(utf8_complete_prefix("\xE2\x82"), 0u);       // 2 of 3 bytes of "€"
  EXPECT_EQ(utf8_complete_prefix("x\xF0\x9F\x98"), 1u);  // 3 of 4 bytes of an emoji
  EXPECT_EQ(utf8_complete_prefix("x\xF0\x9F\x98\x80"), 5u);
  EXPECT_EQ(utf8_complete_prefix(""), 0u);
}

}  // namespace
}  // namespace cartlm
