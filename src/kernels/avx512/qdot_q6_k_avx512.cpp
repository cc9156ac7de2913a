// AVX-512 VNNI Q6_K dot products: 64 weights per dpbusd instead of the 256-bit kernel's 32 per
// maddubs pair (qdot_body.inc). Q6_K is the output matrix of llama.cpp's Q4_0/Q4_K_M/Q5_K_M mixes
// (a fifth of a Q4_0 1B model's bytes), so its decode speed matters beyond the Q6_K type itself.
//
// Per 256-weight block: the 6-bit quants q (0..63, value q - 32) are unpacked 64 at a time in
// element order; dpbusd gives 16 int32 lanes of 4 products each; lane k of group g (elements
// 64g..64g+63) belongs to sub-block 4g + k/4 and is multiplied by that int8 scale. The "- 32"
// is applied once per block from the activation's 16-element sums (Q8_K bsums):
//   sum_j scale_j * sum_{e in j} (q_e - 32) a_e = sum_lanes(scaled dpbusd) - 32 * sum_j scale_j * bsum_j.
// Integers are exact (lanes stay below 2^31); only the f32 combination of blocks differs from
// the scalar twin. The multi-row form runs the single-row arithmetic per token, so prefill and
// decode agree bit for bit.
//
// Everything stays in an anonymous namespace (see kernels/isa.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/isa.h"
#include "quant/blocks.h"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace cartlm {

namespace {

#define CARTLM_INLINE inline __attribute__((always_inline))

// Decode streams the weights once: fetch the lines of the block kPrefetch bytes ahead (on the
// 2-core EPYC VM this distance beat 1 KiB and none; see qdot_pairs_avx512.cpp).
constexpr size_t kPrefetch = 2048;
template <class Block>
CARTLM_INLINE void prefetch_block(const Block* b) {
  for (size_t off = 0; off < sizeof(Block); off += 64)
    _mm_prefetch(reinterpret_cast<const char*>(b) + kPrefetch + off, _MM_HINT_T0);
}

template <int NT>
CARTLM_INLINE void q6_k_rows(const void* vw, const uint8_t* va, size_t as, size_t n, float* y,
                             size_t ys) {
  const BlockQ6_K* w = static_cast<const BlockQ6_K*>(vw);
  const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3);
  // Lane k of group g takes scale 4g + k/4.
  const __m512i base = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (size_t i = 0; i < n / kQKK; ++i) {
    const BlockQ6_K& b = w[i];
    prefetch_block(&b);
    __m512i q[4];  // elements 64g .. 64g + 63, unsigned 0..63
    for (int j = 0; j < 2; ++j) {
      const __m512i lo = _mm512_loadu_si512(b.ql + 64 * j);
      const __m256i h = _mm256_loadu_si256((const __m256i*)(b.qh + 32 * j));
      // Bytes 0..31: qh (bits for elements 128j + 0..31 and + 64..95); 32..63: qh >> 2.
      const __m512i hi = _mm512_inserti64x4(_mm512_castsi256_si512(h), _mm256_srli_epi16(h, 2), 1);
      q[2 * j] = _mm512_or_si512(_mm512_and_si512(lo, m4),
                                 _mm512_slli_epi16(_mm512_and_si512(hi, m3), 4));
      q[2 * j + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(lo, 4), m4),
                                     _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hi, 4), m3), 4));
    }
    const __m128i sc8 = _mm_loadu_si128((const __m128i*)b.scales);
    const __m512i sc32 = _mm512_cvtepi8_epi32(sc8);
    __m512i sc[4];
    for (int g = 0; g < 4; ++g)
      sc[g] = _mm512_permutexvar_epi32(_mm512_add_epi32(base, _mm512_set1_epi32(4 * g)), sc32);
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
    const float wd = _cvtsh_ss(b.d);
    for (int t = 0; t < NT; ++t) {
      const BlockQ8_K& a = reinterpret_cast<const BlockQ8_K*>(va + t * as)[i];
      __m512i s = _mm512_setzero_si512();
      for (int g = 0; g < 4; ++g) {
        const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[g],
                                              _mm512_loadu_si512(a.qs + 64 * g));
        s = _mm512_add_epi32(s, _mm512_mullo_epi32(p, sc[g]));
      }
      // 32 * sum_j scale_j * bsum_j, in the low 8 lanes.
      const __m256i c = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i*)a.bsums));
      s = _mm512_sub_epi32(s, _mm512_zextsi256_si512(_mm256_slli_epi32(c, 5)));
      acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(wd * a.d), _mm512_cvtepi32_ps(s), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) y[t * ys] = _mm512_reduce_add_ps(acc[t]);
}

float qdot_q6_k(const void* w, const void* a, size_t n) {
  float y;
  q6_k_rows<1>(w, static_cast<const uint8_t*>(a), 0, n, &y, 1);
  return y;
}

void qdot4_q6_k(const void* w, const void* a, size_t as, size_t nt, size_t n, float* y, size_t ys) {
  const uint8_t* ab = static_cast<const uint8_t*>(a);
  switch (nt) {
    case 1: q6_k_rows<1>(w, ab, as, n, y, ys); break;
    case 2: q6_k_rows<2>(w, ab, as, n, y, ys); break;
    case 3: q6_k_rows<3>(w, ab, as, n, y, ys); break;
    default: q6_k_rows<4>(w, ab, as, n, y, ys); break;
  }
}

}  // namespace

void fill_qdot_q6_k_avx512(KernelTable* k) {
  k->qdot_q6_k = {qdot_q6_k, "qdot_q6_k_avx512"};
  k->qdot4_q6_k = {qdot4_q6_k, "qdot4_q6_k_avx512"};
}

}  // namespace cartlm
