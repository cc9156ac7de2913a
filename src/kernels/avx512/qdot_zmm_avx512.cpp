// 512-bit AVX-512 VNNI quantized dot products. They replace the slots that the 256-bit body
// (../avx2/qdot_body.inc, compiled for AVX-512 by qdot_avx512.cpp) fills for Q4_0, Q8_0, Q3_K,
// Q4_K, Q5_K and Q6_K: 64 weights per dpbusd instead of 32 per maddubs pair, and unsigned weight
// quants (dpbusd multiplies unsigned by signed bytes), so there is no sign trick; each format's
// offset is subtracted once per block or pair from the activation sums. Integers are exact; only
// the f32 combination of blocks differs from the scalar twins. Every multi-row form runs the
// single-row arithmetic per token, so prefill and decode agree bit for bit.
//
// Decode on a llama-3.2-1b shape, 2 threads, EPYC VM (tokens/s, 256-bit -> these kernels):
// Q4_0 40 -> 50, Q8_0 29 -> 31, Q6_K 37 -> 42, Q4_K_M 46 -> 53, Q5_K_M 40 -> 48.
//
// Everything stays in an anonymous namespace and uses no std templates (see kernels/isa.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/isa.h"
#include "quant/blocks.h"

// GCC 12's avx512fintrin.h seeds results with _mm512_undefined_*(), which trips these warnings
// falsely wherever its inline functions get inlined.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace cartlm {

namespace {

#define CARTLM_INLINE inline __attribute__((always_inline))

// Decode streams the weights once; a prefetch far ahead keeps more lines in flight than the
// instruction window does. Q4_0 1B decode, 2 threads, medians of alternating runs (tokens/s):
// 256-bit kernel 34.6; here without prefetch ~39, 1 KiB ahead 38.6, 2 KiB 43.1-50.7, 4 KiB 51.2,
// 8 KiB 54.4-59.1, 16 KiB 53.8 (Q4_K_M: 2 KiB 53.0, 8 KiB 54.2, 16 KiB 53.2).
constexpr size_t kPrefetch = 8192;
// Every line of the `bytes` weight bytes at p, kPrefetch bytes ahead.
CARTLM_INLINE void prefetch_ahead(const void* p, size_t bytes) {
  for (size_t off = 0; off < bytes; off += 64)
    _mm_prefetch(static_cast<const char*>(p) + kPrefetch + off, _MM_HINT_T0);
}

#include "kernels/avx2/kquant_scales.inc"

template <class A, class B> constexpr bool kSame = false;
template <class A> constexpr bool kSame<A, A> = true;

// The 256 quants of a K-quant block (q[g]: elements 64g .. 64g + 63, unsigned) against the
// activation bytes: 16 int32 lanes, each lane's 4 products times its sub-block scale (sc[g]),
// summed over the 4 groups. (maddubs + dpwssd instead of dpbusd + mullo was 10-15% slower on
// Zen 4, qdot_bench.)
CARTLM_INLINE __m512i scaled_sums(const __m512i q[4], const __m512i sc[4], const int8_t* a) {
  __m512i s = _mm512_setzero_si512();
  for (int g = 0; g < 4; ++g) {
    const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[g], _mm512_loadu_si512(a + 64 * g));
    s = _mm512_add_epi32(s, _mm512_mullo_epi32(p, sc[g]));
  }
  return s;
}

// ------------------------------------------------------------------------------------------------
// Q4_0 and Q8_0: pairs of blocks
// ------------------------------------------------------------------------------------------------

// Two blocks per 512-bit dpbusd, against an activation row that is laid out once per matmul call
// in the kernels' lane order ("prepared", PreparedQ8Pair in kernels.h).
//
// Why: decode streams every weight byte once, and the 256-bit qdot (qdot_body.inc) spends ~15
// instructions per 32-weight block (nibble unpack, the sign trick for signed x signed bytes, two
// scalar f16 conversions, a broadcast). Here a pair of blocks costs about as much as one did
// there: weights are made unsigned (Q4_0 nibbles as stored, Q8_0 bytes + 128) because dpbusd
// multiplies unsigned by signed bytes, and the offset (8 or 128) times the activation sum is the
// dpbusd's starting value, stored with the activation (-8 * sum, shifted for Q8_0); activation
// scales come pre-converted. In a 2-thread stream over 800 MB of Q4_0 rows this read 37-43 GB/s
// against 21-31 GB/s for the 256-bit kernel (/tmp micro-benchmark, same machine).
//
// Lanes of one pair (blocks b0, b1 of the weight row, a0, a1 of the activation):
//   bytes  0..15: elements  0..15 of b0 (Q4_0: low nibbles)    a0.qs[0..15]
//   bytes 16..31: elements  0..15 of b1                        a1.qs[0..15]
//   bytes 32..47: elements 16..31 of b0 (Q4_0: high nibbles)   a0.qs[16..31]
//   bytes 48..63: elements 16..31 of b1                        a1.qs[16..31]
// so int32 lanes 0-3 and 8-11 belong to block 0, lanes 4-7 and 12-15 to block 1.
//
// qdot_q4_0 / qdot_q8_0 (the single-row slots, Q8_0 activation as everywhere else) build the
// same vectors from the plain Q8_0 blocks on the fly and run the same arithmetic, so matmul's
// prepared path gives bit for bit what one qdot per element gives. A row with an odd number of
// blocks ends with one block whose partner lanes are zero; the prepared path is only used when
// n % 64 == 0.

// Lane i of the result = element (lane pattern) of two f16 scales: 0-3, 8-11 <- s0; 4-7, 12-15 <- s1.
CARTLM_INLINE __m512 pair_scales(uint16_t s0, uint16_t s1) {
  const __m512i idx = _mm512_set_epi32(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0);
  const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128((int)(s0 | (uint32_t)s1 << 16)));
  return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(f));
}

// The 64 bytes of two Q8_0-layout blocks (32 signed bytes each; b1 == nullptr: zeros) in the
// lane order above. Used for activations, and for Q8_0 weights.
CARTLM_INLINE __m512i pair_bytes(const BlockQ8_0* b0, const BlockQ8_0* b1) {
  const __m512i idx = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
  const __m256i x0 = _mm256_loadu_si256((const __m256i*)b0->qs);
  const __m256i x1 = b1 ? _mm256_loadu_si256((const __m256i*)b1->qs) : _mm256_setzero_si256();
  return _mm512_permutex2var_epi64(_mm512_castsi256_si512(x0), idx, _mm512_castsi256_si512(x1));
}

// Weight side, unsigned: Q4_0 quants as stored (0..15, value q - 8); Q8_0 quants + 128 (0..255,
// value q - 128). kShift: the dpbusd start is -(8 << kShift) * lane sum, i.e. the stored
// -8 * sum shifted left by kShift.
CARTLM_INLINE __m512i pair_weights(const BlockQ4_0* b0, const BlockQ4_0* b1) {
  const __m128i lo = _mm_loadu_si128((const __m128i*)b0->qs);
  const __m128i hi = b1 ? _mm_loadu_si128((const __m128i*)b1->qs) : _mm_setzero_si128();
  const __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(t, m4)),
                            _mm256_and_si256(_mm256_srli_epi16(t, 4), m4), 1);
}
CARTLM_INLINE __m512i pair_weights(const BlockQ8_0* b0, const BlockQ8_0* b1) {
  // b1 == nullptr: zero activations make the partner lanes 0 whatever the weights are.
  return _mm512_xor_si512(pair_bytes(b0, b1), _mm512_set1_epi8((char)0x80));
}
template <class Block> constexpr int kShift = 0;
template <> constexpr int kShift<BlockQ8_0> = 4;

// -8 * (sum of each lane's 4 activation bytes).
CARTLM_INLINE __m512i minus8_sums(__m512i a) {
  return _mm512_sub_epi32(_mm512_setzero_si512(),
                          _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), a));
}

// One pair's contribution: acc + (dw * da) * (sum of (q - offset) * a per lane).
template <class Block>
CARTLM_INLINE __m512 pair_fma(__m512 acc, __m512 dw, __m512 da, __m512i q, __m512i a, __m512i start8) {
  const __m512i start = kShift<Block> ? _mm512_slli_epi32(start8, kShift<Block>) : start8;
  const __m512i s = _mm512_dpbusd_epi32(start, q, a);
  return _mm512_fmadd_ps(_mm512_mul_ps(dw, da), _mm512_cvtepi32_ps(s), acc);
}

// The single-row slot: builds the activation side from the plain Q8_0 blocks.
template <class Block>
float qdot_pairs(const void* vw, const void* va, size_t n) {
  const Block* w = static_cast<const Block*>(vw);
  const BlockQ8_0* a = static_cast<const BlockQ8_0*>(va);
  const size_t nb = n / kQK;
  __m512 acc = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    const __m512i x = pair_bytes(&a[i], &a[i + 1]);
    acc = pair_fma<Block>(acc, pair_scales(w[i].d, w[i + 1].d), pair_scales(a[i].d, a[i + 1].d),
                          pair_weights(&w[i], &w[i + 1]), x, minus8_sums(x));
  }
  if (i < nb) {
    const __m512i x = pair_bytes(&a[i], nullptr);
    acc = pair_fma<Block>(acc, pair_scales(w[i].d, 0), pair_scales(a[i].d, 0),
                          pair_weights(&w[i], nullptr), x, minus8_sums(x));
  }
  return _mm512_reduce_add_ps(acc);
}

// x[n] (n % 64 == 0) -> n / 64 PreparedQ8Pair: the Q8_0 quantization of x (the table's own
// quantizer, so the integers are exactly those qdot_pairs sees) in the pair layout.
void prep_q8_0_pairs(const float* x, void* out, size_t n) {
  PreparedQ8Pair* p = static_cast<PreparedQ8Pair*>(out);
  for (size_t j = 0; j < n / 64; ++j) {
    BlockQ8_0 b[2];
    quantize_act_q8_0_ref(x + 64 * j, b, 64);
    const __m512i a = pair_bytes(&b[0], &b[1]);
    _mm512_storeu_si512(p[j].qs, a);
    _mm512_storeu_si512(p[j].start, minus8_sums(a));
    _mm512_storeu_ps(p[j].d, pair_scales(b[0].d, b[1].d));
  }
}

// nt (1..4) prepared activation rows a + t * as against one weight row: the arithmetic of
// qdot_pairs, with the activation side read instead of built.
template <class Block, int NT>
CARTLM_INLINE void prepared_rows(const void* vw, const uint8_t* ap, size_t as, size_t n, float* y,
                                 size_t ys) {
  const Block* w = static_cast<const Block*>(vw);
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (size_t j = 0; j < n / 64; ++j) {
    prefetch_ahead(&w[2 * j], 2 * sizeof(Block));
    const __m512i q = pair_weights(&w[2 * j], &w[2 * j + 1]);
    const __m512 dw = pair_scales(w[2 * j].d, w[2 * j + 1].d);
    for (int t = 0; t < NT; ++t) {
      const PreparedQ8Pair& p = reinterpret_cast<const PreparedQ8Pair*>(ap + t * as)[j];
      acc[t] = pair_fma<Block>(acc[t], dw, _mm512_loadu_ps(p.d), q, _mm512_loadu_si512(p.qs),
                               _mm512_loadu_si512(p.start));
    }
  }
  for (int t = 0; t < NT; ++t) y[t * ys] = _mm512_reduce_add_ps(acc[t]);
}

// ------------------------------------------------------------------------------------------------
// Q3_K and Q6_K
// ------------------------------------------------------------------------------------------------

// Q6_K is the output matrix of llama.cpp's Q4_0/Q3_K_M/Q4_K_M/Q5_K_M mixes (a fifth of a Q4_0 1B
// model's bytes), so its decode speed matters beyond the Q6_K type itself; Q3_K is the bulk of
// Q3_K_S/M/L.
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
  *scales = unpack_scales_q3_k(b.scales);
}

CARTLM_INLINE void unpack(const BlockQ6_K& b, __m512i q[4], __m128i* scales) { unpack_q6_k(b, q, scales); }
CARTLM_INLINE void unpack(const BlockQ3_K& b, __m512i q[4], __m128i* scales) { unpack_q3_k(b, q, scales); }
template <class Block> constexpr int kOffsetShift = 5;  // Q6_K: offset 32
template <> constexpr int kOffsetShift<BlockQ3_K> = 2;  // Q3_K: offset 4

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
    prefetch_ahead(&b, sizeof(Block));
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
      __m512i s = scaled_sums(q, sc, a.qs);
      // offset * sum_j scale_j * bsum_j, in the low 8 lanes.
      const __m256i c = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i*)a.bsums));
      s = _mm512_sub_epi32(s, _mm512_zextsi256_si512(_mm256_slli_epi32(c, kOffsetShift<Block>)));
      acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(wd * a.d), _mm512_cvtepi32_ps(s), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) y[t * ys] = _mm512_reduce_add_ps(acc[t]);
}

// ------------------------------------------------------------------------------------------------
// Q4_K and Q5_K
// ------------------------------------------------------------------------------------------------

// Q4_K is the bulk of llama.cpp's Q4_K_M mix, Q5_K of Q5_K_M.
//
// A 256-weight block has 8 sub-blocks of 32 with a 6-bit scale and min each. The quants of
// sub-blocks 2j and 2j + 1 are the low and high nibbles of qs[32j .. 32j + 31]; one 64-byte load
// holds two such chunks, and two 128-bit-lane shuffles put the nibbles back in element order
// (64 weights per vector, matching 64 contiguous activation bytes). dpbusd lanes 0-7 then belong
// to the even sub-block, 8-15 to the odd one, and are multiplied by its scale; the mins use the
// activation's 16-element sums (Q8_K bsums), as in the 256-bit kernel:
//   d * sum_s scale_s * sum q*a  -  dmin * sum_s min_s * sum a.
// Integers are exact; only the f32 combination of blocks differs from the scalar twin. The
// multi-row form runs the single-row arithmetic per token (prefill == decode bit for bit).

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
    prefetch_ahead(&b, sizeof(Block));
    const __m128i sm8 = unpack_scales_k4(b.scales);
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
      __m512i s = scaled_sums(q, sc, a.qs);
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

// ------------------------------------------------------------------------------------------------
// Entry points
// ------------------------------------------------------------------------------------------------

// nt (1..4) activation rows a + t * as against one weight row (prepared rows for Q4_0/Q8_0).
template <class Block, int NT>
CARTLM_INLINE void block_rows(const void* w, const uint8_t* a, size_t as, size_t n, float* y, size_t ys) {
  if constexpr (kSame<Block, BlockQ4_0> || kSame<Block, BlockQ8_0>)
    prepared_rows<Block, NT>(w, a, as, n, y, ys);
  else if constexpr (kSame<Block, BlockQ3_K> || kSame<Block, BlockQ6_K>)
    q36_k_rows<Block, NT>(w, a, as, n, y, ys);
  else
    q45_k_rows<kSame<Block, BlockQ5_K>, Block, NT>(w, a, as, n, y, ys);
}

template <class Block>
void rows_entry(const void* w, const void* a, size_t as, size_t nt, size_t n, float* y, size_t ys) {
  const uint8_t* ab = static_cast<const uint8_t*>(a);
  switch (nt) {
    case 1: block_rows<Block, 1>(w, ab, as, n, y, ys); break;
    case 2: block_rows<Block, 2>(w, ab, as, n, y, ys); break;
    case 3: block_rows<Block, 3>(w, ab, as, n, y, ys); break;
    default: block_rows<Block, 4>(w, ab, as, n, y, ys); break;
  }
}

// The single-row slot of the K-quants: the one-token multi-row arithmetic.
template <class Block>
float qdot_k(const void* w, const void* a, size_t n) {
  float y;
  block_rows<Block, 1>(w, static_cast<const uint8_t*>(a), 0, n, &y, 1);
  return y;
}

}  // namespace

void fill_qdot_zmm_avx512(KernelTable* k) {
  k->qdot_q4_0 = {qdot_pairs<BlockQ4_0>, "qdot_q4_0_avx512"};
  k->qdot_q8_0 = {qdot_pairs<BlockQ8_0>, "qdot_q8_0_avx512"};
  // The 256-bit multi-row forms compute in another order; matmul uses the prepared path instead.
  k->qdot4_q4_0 = {};
  k->qdot4_q8_0 = {};
  k->prep_q8_0_pairs = {prep_q8_0_pairs, "prep_q8_0_pairs_avx512"};
  k->qdotp_q4_0 = {rows_entry<BlockQ4_0>, "qdotp_q4_0_avx512"};
  k->qdotp_q8_0 = {rows_entry<BlockQ8_0>, "qdotp_q8_0_avx512"};
  k->qdot_q3_k = {qdot_k<BlockQ3_K>, "qdot_q3_k_avx512"};
  k->qdot_q4_k = {qdot_k<BlockQ4_K>, "qdot_q4_k_avx512"};
  k->qdot_q5_k = {qdot_k<BlockQ5_K>, "qdot_q5_k_avx512"};
  k->qdot_q6_k = {qdot_k<BlockQ6_K>, "qdot_q6_k_avx512"};
  k->qdot4_q4_k = {rows_entry<BlockQ4_K>, "qdot4_q4_k_avx512"};
  k->qdot4_q5_k = {rows_entry<BlockQ5_K>, "qdot4_q5_k_avx512"};
  k->qdot4_q6_k = {rows_entry<BlockQ6_K>, "qdot4_q6_k_avx512"};
}

}  // namespace cartlm
