// Rotary position embedding. One implementation serves every ISA: the cos/sin of a token are
// computed once and shared by all heads, and the rotation is a few flops per element, far below
// the matmuls around it. rope() therefore is rope_ref(); both names exist so that callers and
// tests follow the same `_ref` convention as the other kernels.
#include <cmath>

#include "core/check.h"
#include "kernels/kernels.h"

namespace cartlm {

void rope_default_inv_freq(float theta, size_t head_dim, float* inv_freq) {
  // HF: 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)), all in f32.
  for (size_t i = 0; i < head_dim / 2; ++i) {
    float expo = (float)(2 * i) / (float)head_dim;
    inv_freq[i] = 1.0f / std::pow(theta, expo);
  }
}

void rope_ref(float* x, size_t T, size_t n_heads, size_t head_dim, size_t ld,
              const int32_t* positions, const float* inv_freq, RopeMode mode, bool inverse) {
  CARTLM_CHECK(head_dim % 2 == 0 && head_dim <= 1024);
  const size_t half = head_dim / 2;
  if (ld == 0) ld = n_heads * head_dim;
  float cs[512], sn[512];
  for (size_t t = 0; t < T; ++t) {
    const float pos = (float)positions[t];
    for (size_t i = 0; i < half; ++i) {
      // The angle is rounded to f32 first (HF multiplies f32 tensors), then cos/sin are taken
      // accurately in double and rounded once.
      float angle = pos * inv_freq[i];
      cs[i] = (float)std::cos((double)angle);
      sn[i] = (float)std::sin((double)angle);
      if (inverse) sn[i] = -sn[i];
    }
    float* row = x + t * ld;
    for (size_t h = 0; h < n_heads; ++h) {
      float* v = row + h * head_dim;
      if (mode == RopeMode::Neox) {
        for (size_t i = 0; i < half; ++i) {
          float a = v[i], b = v[i + half];
          v[i] = a * cs[i] - b * sn[i];
          v[i + half] = b * cs[i] + a * sn[i];
        }
      } else {
        for (size_t i = 0; i < half; ++i) {
          float a = v[2 * i], b = v[2 * i + 1];
          v[2 * i] = a * cs[i] - b * sn[i];
          v[2 * i + 1] = b * cs[i] + a * sn[i];
        }
      }
    }
  }
}

void rope(float* x, size_t T, size_t n_heads, size_t head_dim, size_t ld, const int32_t* positions,
          const float* inv_freq, RopeMode mode, bool inverse) {
  rope_ref(x, T, n_heads, head_dim, ld, positions, inv_freq, mode, inverse);
}

}  // namespace cartlm
