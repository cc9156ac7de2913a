// A fixed quantizer input whose values are bit-identical on every platform: only integer random
// draws (Rng::range) and exactly rounded f32 products, no libm. Used by llama_cpp_digest_test.cpp,
// whose expected digests were computed by running llama.cpp's quantizers on this same input.
#pragma once
#include <cstdint>
#include <vector>

#include "core/rng.h"

namespace cartlm::test {

constexpr int kDigestRows = 48;
constexpr int kDigestCols = 512;

// Mostly bell-shaped weights (sum of three uniform integers, scaled), with blocks of zeros, of
// halves (ties for every rounding rule), of one large outlier, and of large magnitudes.
inline std::vector<float> digest_input() {
  Rng rng(0xC0FFEE);
  std::vector<float> x((size_t)kDigestRows * kDigestCols);
  for (int r = 0; r < kDigestRows; ++r) {
    for (int c = 0; c < kDigestCols; ++c) {
      const int s = (int)(rng.range(-1000, 1000) + rng.range(-1000, 1000) + rng.range(-1000, 1000));
      const float g = (float)s * (1.0f / 1024);  // exact
      float v;
      switch ((r * 7 + c / 32) % 9) {
        case 5: v = 0.0f; break;
        case 6: v = (float)rng.range(-16, 16) * 0.5f; break;
        case 7: v = c % 32 == r % 32 ? 300.0f : g; break;
        case 8: v = g * 700.0f; break;
        default: v = g * 0.03f; break;
      }
      x[(size_t)r * kDigestCols + c] = v;
    }
  }
  return x;
}

// Per-column importance: non-negative, some exactly zero.
inline std::vector<float> digest_importance() {
  Rng rng(0xBEEF);
  std::vector<float> w(kDigestCols);
  for (float& v : w) v = rng.range(0, 9) == 0 ? 0.0f : (float)rng.range(1, 4000) * (1.0f / 256);
  return w;
}

// FNV-1a, 64 bit.
inline uint64_t fnv1a64(const uint8_t* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace cartlm::test
