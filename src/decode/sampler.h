// Token samplers: greedy, temperature, top-k and top-p (nucleus), seeded with cartlm::Rng.
// A Sampler owns scratch buffers sized once for the vocabulary, so sample() never allocates.
#pragma once
#include <cstdint>
#include <vector>

#include "core/rng.h"

namespace cartlm {

struct SamplerOptions {
  float temperature = 0.0f;  // <= 0: greedy (argmax)
  int32_t top_k = 0;         // 0 = off; 1 = greedy
  float top_p = 1.0f;        // >= 1 = off; keeps the smallest prefix (by probability) with mass >= p
  uint64_t seed = 42;
};

struct Sampler {
  SamplerOptions opt;
  Rng rng;
  int32_t vocab = 0;
  std::vector<int32_t> idx;  // candidate ids, scratch
  std::vector<float> probs;  // candidate probabilities, scratch
};

Sampler make_sampler(const SamplerOptions& opt, int32_t vocab);

// Index of the largest logit (the lowest id among ties).
int32_t argmax(const float* logits, int32_t n);

// Draws the next token from `logits` (vocab values).
int32_t sample(Sampler& s, const float* logits);

}  // namespace cartlm
