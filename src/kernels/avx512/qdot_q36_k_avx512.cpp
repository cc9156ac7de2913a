// AVX-512 VNNI Q3_K and Q6_K dot products: 64 weights per dpbusd instead of the 256-bit kernel's
// 32 per maddubs pair (qdot_body.inc). Q6_K is the output matrix of llama.cpp's Q4_0/Q3_K_M/
// Q4_K_M/Q5_K_M mixes (a fifth of a Q4_0 1B model's bytes), so its decode speed matters beyond
// the Q6_K type itself; Q3_K is the bulk of Q3_K_S/M/L.
//
// Both have 256-weight blocks of 16 sub-blocks of 16 with an int8 scale each (Q3_K: 6 bits minus
// 32) and unsigned quants u with value u - offset (Q6_K: u in 0..63, offset 32; Q3_K: u in 0..7,
// offset 4). The quants are unpacked 64 at a time in element order; dpbusd gives 16 int32 lanes
// of 4 products each; lane k of group g (elements 64g..64g+63) belongs to sub-block 4g + k/4 and
// is multiplied by that scale. The offset is applied once per block from the activation's
// 16-element sums (Q8_K bsums):
//   sum_j scale_j * sum_{e in j} (u_e - off) a_e = sum_lanes(scaled dpbusd) - off * sum_j scale_j * bsum_j.
// Integers are exact (lanes stay below 2^31); only the f32 combination of blocks differs from
// the scalar twin. The multi-row form runs the single-row arithmetic per token, so prefill and
// decode agree bit for bit.
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

// Block -> 64 unsigned quants per group g (elements 64g .. 64g + 63) and the 16 int8 scales.
CARTLM_INLINE void unpack_q6_k(const BlockQ6_K& b, __m512i q[4], __m128i* scales) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3);
  for (int j = 0; j < 2; ++j) {
    const __m512i lo = _mm512_loadu_si512(b.ql + 64 * j);
    const __m256i h = _mm256_loadu_si256((const __m256i*)(b.qh + 32 * j));
    // Bytes 0..31: qh (bits for elements 128j + 0..31 and + 64..95); 32..63: qh >> 2.
    const __m512i hi = _mm512_inserti64x4(_mm512_castsi256_si512(h), _mm256_srli_epi16(h, 2), 1);
    q[2 * j] = _mm512_or_si512(_mm512_and_si512(lo, m4), _mm512_slli_epi16(_mm512_and_si512(hi, m3), 4));
    q[2 * j + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(lo, 4), m4),
                                   _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hi, 4), m3), 4));
  }
  *scales = _mm_loadu_si128((const __m128i*)b.scales);
}

CARTLM_INLINE void unpack_q3_k(const BlockQ3_K& b, __m512i q[4], __m128i* scales) {
  // Element 128j + 32g + l: 2 low bits at bits 2g of qs[32j + l], high bit at bit 4j + g of
  // hmask[l] (set: u = low + 4, clear: u = low, value u - 4).
  const __m512i m3 = _mm512_set1_epi8(3), one = _mm512_set1_epi8(1);
  const __m256i h = _mm256_loadu_si256((const __m256i*)b.hmask);
  const __m512i h2 = _mm512_inserti64x4(_mm512_castsi256_si512(h), _mm256_srli_epi16(h, 1), 1);
  for (int j = 0; j < 2; ++j) {
    const __m256i bits = _mm256_loadu_si256((const __m256i*)(b.qs + 32 * j));
    // Bytes 0..31 hold groups 2h, bytes 32..63 groups 2h + 1 after these shifts.
    const __m512i b2 = _mm512_inserti64x4(_mm512_castsi256_si512(bits), _mm256_srli_epi16(bits, 2), 1);
    for (int hh = 0; hh < 2; ++hh) {
      const __m512i low = _mm512_and_si512(_mm512_srli_epi16(b2, 4 * hh), m3);
      const __m512i hb = _mm512_and_si512(_mm512_srli_epi16(h2, 4 * j + 2 * hh), one);
      q[2 * j + hh] = _mm512_or_si512(low, _mm512_slli_epi16(hb, 2));
    }
  }
  constexpr uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  uint32_t aux[3];
  std::memcpy(aux, b.scales, 12);
  const __m128i s = _mm_set_epi32((int)(((aux[1] >> 4) & kmask2) | (((aux[2] >> 6) & kmask1) << 4)),
                                  (int)(((aux[0] >> 4) & kmask2) | (((aux[2] >> 4) & kmask1) << 4)),
                                  (int)((aux[1] & kmask2) | (((aux[2] >> 2) & kmask1) << 4)),
                                  (int)((aux[0] & kmask2) | (((aux[2] >> 0) & kmask1) << 4)));
  *scales = _mm_sub_epi8(s, _mm_set1_epi8(32));
}

CARTLM_INLINE void unpack(const BlockQ6_K& b, __m512i q[4], __m128i* scales) { unpack_q6_k(b, q, scales); }
CARTLM_INLINE void unpack(const BlockQ3_K& b, __m512i q[4], __m128i* scales) { unpack_q3_k(b, q, scales); }
template <class Block> constexpr int kOffsetShift = 5;     // Q6_K: offset 32
template <> constexpr int kOffsetShift<BlockQ3_K> = 2;     // Q3_K: offset 4

template <class Block, int NT>
CARTLM_INLINE void q36_k_rows(const void* vw, const uint8_t* va, size_t as, size_t n, float* y,
                              size_t ys) {
  const Block* w = static_cast<const Block*>(vw);
  // Lane k of group g takes scale 4g + k/4.
  const __m512i base = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (size_t i = 0; i < n / kQKK; ++i) {
    const Block& b = w[i];
    prefetch_block(&b);
    __m512i q[4];
    __m128i sc8;
    unpack(b, q, &sc8);
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
      // offset * sum_j scale_j * bsum_j, in the low 8 lanes.
      const __m256i c = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i*)a.bsums));
      s = _mm512_sub_epi32(s, _mm512_zextsi256_si512(_mm256_slli_epi32(c, kOffsetShift<Block>)));
      acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(wd * a.d), _mm512_cvtepi32_ps(s), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) y[t * ys] = _mm512_reduce_add_ps(acc[t]);
}

template <class Block>
float qdot_q36_k(const void* w, const void* a, size_t n) {
  float y;
  q36_k_rows<Block, 1>(w, static_cast<const uint8_t*>(a), 0, n, &y, 1);
  return y;
}

template <class Block>
void qdot4_q36_k(const void* w, const void* a, size_t as, size_t nt, size_t n, float* y, size_t ys) {
  const uint8_t* ab = static_cast<const uint8_t*>(a);
  switch (nt) {
    case 1: q36_k_rows<Block, 1>(w, ab, as, n, y, ys); break;
    case 2: q36_k_rows<Block, 2>(w, ab, as, n, y, ys); break;
    case 3: q36_k_rows<Block, 3>(w, ab, as, n, y, ys); break;
    default: q36_k_rows<Block, 4>(w, ab, as, n, y, ys); break;
  }
}

}  // namespace

void fill_qdot_q36_k_avx512(KernelTable* k) {
  k->qdot_q3_k = {qdot_q36_k<BlockQ3_K>, "qdot_q3_k_avx512"};
  k->qdot_q6_k = {qdot_q36_k<BlockQ6_K>, "qdot_q6_k_avx512"};
  k->qdot4_q6_k = {qdot4_q36_k<BlockQ6_K>, "qdot4_q6_k_avx512"};
}

}  // namespace cartlm
