#include "decode/sampler.h"

#include <algorithm>
#include <cmath>

namespace cartlm {

Sampler make_sampler(const SamplerOptions& opt, int32_t vocab) {
  CARTLM_CHECK(vocab > 0);
  Sampler s;
  s.opt = opt;
  s.rng.reseed(opt.seed);
  s.vocab = vocab;
  s.idx.resize((size_t)vocab);
  s.probs.resize((size_t)vocab);
  return s;
}

int32_t argmax(const float* logits, int32_t n) {
  int32_t best = 0;
  for (int32_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return best;
}

int32_t sample(Sampler& s, const float* logits) {
  const SamplerOptions& o = s.opt;
  const int32_t n = s.vocab;
  if (o.temperature <= 0.0f || o.top_k == 1) return argmax(logits, n);

  // Candidates: all ids, or the top k, or (top-p) all sorted by logit. Ties go to the lower id
  // so the order is fully determined.
  int32_t m = n;
  for (int32_t i = 0; i < n; ++i) s.idx[(size_t)i] = i;
  auto by_logit = [logits](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  bool top_p = o.top_p < 1.0f;
  if (o.top_k > 0 && o.top_k < n) {
    m = o.top_k;
    std::partial_sort(s.idx.begin(), s.idx.begin() + m, s.idx.end(), by_logit);
  } else if (top_p) {
    std::sort(s.idx.begin(), s.idx.end(), by_logit);
  }

  // Softmax of logits / temperature over the candidates, in double for the running sums.
  float maxl = logits[s.idx[0]];
  for (int32_t i = 1; i < m; ++i) maxl = std::max(maxl, logits[s.idx[(size_t)i]]);
  const float inv_t = 1.0f / o.temperature;
  double sum = 0.0;
  for (int32_t i = 0; i < m; ++i) {
    float p = std::exp((logits[s.idx[(size_t)i]] - maxl) * inv_t);
    s.probs[(size_t)i] = p;
    sum += p;
  }
  if (top_p) {
    // Candidates are sorted here: keep the shortest prefix whose mass reaches top_p (at least 1).
    double cum = 0.0, target = (double)o.top_p * sum;
    int32_t keep = 0;
    while (keep < m) {
      cum += s.probs[(size_t)keep++];
      if (cum >= target) break;
    }
    m = keep;
    sum = cum;
  }
  double r = s.rng.uniform_double() * sum, acc = 0.0;
  for (int32_t i = 0; i < m; ++i) {
    acc += s.probs[(size_t)i];
    if (r < acc) return s.idx[(size_t)i];
  }
  return s.idx[(size_t)m - 1];  // rounding left r == sum
}

}  // namespace cartlm
