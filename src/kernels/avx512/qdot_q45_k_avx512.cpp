// AVX-512 VNNI Q4_K / Q5_K dot products: 64 weights per dpbusd instead of 32 per maddubs pair in
// the 256-bit kernel (qdot_body.inc). Q4_K is the bulk of llama.cpp's Q4_K_M mix, Q5_K of Q5_K_M.
//
// A 256-weight block has 8 sub-blocks of 32 with a 6-bit scale and min each. The quants of
// sub-blocks 2j and 2j + 1 are the low and high nibbles of qs[32j .. 32j + 31]; one 64-byte load
// holds two such chunks, and two 128-bit-lane shuffles put the nibbles back in element order
// (64 weights per vector, matching 64 contiguous activation bytes). dpbusd lanes 0-7 then belong to
// the even sub-block, 8-15 to the odd one, and are multiplied by its scale; the mins use the
// activation's 16-element sums (Q8_K bsums), as in the 256-bit kernel:
//   d * sum_s scale_s * sum q*a  -  dmin * sum_s min_s * sum a.
// Integers are exact; only the f32 combination of blocks differs from the scalar twin. The
// multi-row form runs the single-row arithmetic per token (prefill == decode bit for bit).
//
// Everything stays in an anonymous namespace (see kernels/isa.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

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

// The 12 packed 6-bit scale/min bytes -> 8 scales then 8 mins, as bytes (llama.cpp's layout).
CARTLM_INLINE __m128i unpack_scales_mins(const uint8_t* scales) {
  constexpr uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
  uint32_t u[4];
  std::memcpy(u, scales, 12);
  u[3] = ((u[2] >> 4) & kmask2) | (((u[1] >> 6) & kmask3) << 4);
  const uint32_t mins_lo = u[1] & kmask1;
  u[1] = (u[2] & kmask2) | (((u[0] >> 6) & kmask3) << 4);
  u[2] = mins_lo;
  u[0] &= kmask1;
  return _mm_set_epi32((int)u[3], (int)u[2], (int)u[1], (int)u[0]);
}

template <bool kQ5, class Block, int NT>
CARTLM_INLINE void q45_k_rows(const void* vw, const uint8_t* va, size_t as, size_t n, float* y,
                              size_t ys) {
  const Block* w = static_cast<const Block*>(vw);
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc[NT];
  __m128 acc_m[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps(), acc_m[t] = _mm_setzero_ps();
  for (size_t i = 0; i < n / kQKK; ++i) {
    const Block& b = w[i];
    prefetch_block(&b);
    const __m128i sm8 = unpack_scales_mins(b.scales);
    const __m128i mins = _mm_cvtepu8_epi16(_mm_srli_si128(sm8, 8));
    const __m512i sc32 = _mm512_cvtepu8_epi32(sm8);  // lanes 0-7: the 8 scales
    // q[g]: elements 64g .. 64g + 63 in order (sub-blocks 2g, 2g + 1).
    __m512i q[4];
    for (int h = 0; h < 2; ++h) {
      const __m512i bits = _mm512_loadu_si512(b.qs + 64 * h);
      const __m512i lo = _mm512_and_si512(bits, m4);                       // sub-blocks 4h, 4h + 2
      const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(bits, 4), m4);  // 4h + 1, 4h + 3
      q[2 * h] = _mm512_shuffle_i64x2(lo, hi, _MM_SHUFFLE(1, 0, 1, 0));
      q[2 * h + 1] = _mm512_shuffle_i64x2(lo, hi, _MM_SHUFFLE(3, 2, 3, 2));
    }
    if constexpr (kQ5) {
      // Element 64g + l has its 5th bit at bit 2g of qh[l], element 64g + 32 + l at bit 2g + 1.
      const __m256i h = _mm256_loadu_si256((const __m256i*)b.qh);
      const __m512i h2 = _mm512_inserti64x4(_mm512_castsi256_si512(h), _mm256_srli_epi16(h, 1), 1);
      const __m512i one = _mm512_set1_epi8(1);
      for (int g = 0; g < 4; ++g)
        q[g] = _mm512_or_si512(q[g], _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(h2, 2 * g), one), 4));
    }
    __m512i sc[4];
    for (int g = 0; g < 4; ++g) {
      const __m512i idx = _mm512_set_epi32(2 * g + 1, 2 * g + 1, 2 * g + 1, 2 * g + 1, 2 * g + 1, 2 * g + 1,
                                           2 * g + 1, 2 * g + 1, 2 * g, 2 * g, 2 * g, 2 * g, 2 * g, 2 * g,
                                           2 * g, 2 * g);
      sc[g] = _mm512_permutexvar_epi32(idx, sc32);
    }
    const float wd = _cvtsh_ss(b.d), wdmin = _cvtsh_ss(b.dmin);
    for (int t = 0; t < NT; ++t) {
      const BlockQ8_K& a = reinterpret_cast<const BlockQ8_K*>(va + t * as)[i];
      const __m256i bs = _mm256_loadu_si256((const __m256i*)a.bsums);
      const __m128i q8s = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
      acc_m[t] = _mm_fmadd_ps(_mm_set1_ps(-a.d * wdmin), _mm_cvtepi32_ps(_mm_madd_epi16(mins, q8s)), acc_m[t]);
      __m512i s = _mm512_setzero_si512();
      for (int g = 0; g < 4; ++g) {
        const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[g],
                                              _mm512_loadu_si512(a.qs + 64 * g));
        s = _mm512_add_epi32(s, _mm512_mullo_epi32(p, sc[g]));
      }
      acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(a.d * wd), _mm512_cvtepi32_ps(s), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) {
    __m128 m = acc_m[t];
    m = _mm_add_ps(m, _mm_movehl_ps(m, m));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    y[t * ys] = _mm512_reduce_add_ps(acc[t]) + _mm_cvtss_f32(m);
  }
}

float qdot_q4_k(const void* w, const void* a, size_t n) {
  float y;
  q45_k_rows<false, BlockQ4_K, 1>(w, static_cast<const uint8_t*>(a), 0, n, &y, 1);
  return y;
}
float qdot_q5_k(const void* w, const void* a, size_t n) {
  float y;
  q45_k_rows<true, BlockQ5_K, 1>(w, static_cast<const uint8_t*>(a), 0, n, &y, 1);
  return y;
}

template <bool kQ5, class Block>
void rows_entry(const void* w, const void* a, size_t as, size_t nt, size_t n, float* y, size_t ys) {
  const uint8_t* ab = static_cast<const uint8_t*>(a);
  switch (nt) {
    case 1: q45_k_rows<kQ5, Block, 1>(w, ab, as, n, y, ys); break;
    case 2: q45_k_rows<kQ5, Block, 2>(w, ab, as, n, y, ys); break;
    case 3: q45_k_rows<kQ5, Block, 3>(w, ab, as, n, y, ys); break;
    default: q45_k_rows<kQ5, Block, 4>(w, ab, as, n, y, ys); break;
  }
}
void qdot4_q4_k(const void* w, const void* a, size_t as, size_t nt, size_t n, float* y, size_t ys) {
  rows_entry<false, BlockQ4_K>(w, a, as, nt, n, y, ys);
}
void qdot4_q5_k(const void* w, const void* a, size_t as, size_t nt, size_t n, float* y, size_t ys) {
  rows_entry<true, BlockQ5_K>(w, a, as, nt, n, y, ys);
}

}  // namespace

void fill_qdot_q45_k_avx512(KernelTable* k) {
  k->qdot_q4_k = {qdot_q4_k, "qdot_q4_k_avx512"};
  k->qdot_q5_k = {qdot_q5_k, "qdot_q5_k_avx512"};
  k->qdot4_q4_k = {qdot4_q4_k, "qdot4_q4_k_avx512"};
  k->qdot4_q5_k = {qdot4_q5_k, "qdot4_q5_k_avx512"};
}

}  // namespace cartlm
