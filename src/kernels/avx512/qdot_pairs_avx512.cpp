// AVX-512 VNNI kernels for Q4_0 and Q8_0 weights: two blocks per 512-bit dpbusd, against an
// activation row that is laid out once per matmul call in the kernels' lane order ("prepared",
// PreparedQ8Pair in kernels.h).
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
// qdot_q4_0 / qdot_q8_0 (the single-row slots, Q8_0 activation as everywhere else) build the same vectors
// from the plain Q8_0 blocks on the fly and runs the same arithmetic, so matmul's prepared path
// gives bit for bit what one qdot per element gives. A row with an odd number of blocks ends with
// one block whose partner lanes are zero; the prepared path is only used when n % 64 == 0.
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

// Decode streams the weights once. Prefetching 2 KiB ahead: Q4_0 1B decode (2 threads, medians
// of 5 alternating runs) 43.1 tokens/s against 38.6 for 1 KiB and 34.6 for the 256-bit kernel.
constexpr size_t kPrefetch = 2048;

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
    const char* line = reinterpret_cast<const char*>(&w[2 * j]) + kPrefetch;
    _mm_prefetch(line, _MM_HINT_T0);
    if constexpr (sizeof(Block) * 2 > 64) _mm_prefetch(line + 64, _MM_HINT_T0);
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

template <class Block>
void qdotp(const void* w, const void* a, size_t as, size_t nt, size_t n, float* y, size_t ys) {
  const uint8_t* ab = static_cast<const uint8_t*>(a);
  switch (nt) {
    case 1: prepared_rows<Block, 1>(w, ab, as, n, y, ys); break;
    case 2: prepared_rows<Block, 2>(w, ab, as, n, y, ys); break;
    case 3: prepared_rows<Block, 3>(w, ab, as, n, y, ys); break;
    default: prepared_rows<Block, 4>(w, ab, as, n, y, ys); break;
  }
}

}  // namespace

void fill_qdot_pairs_avx512(KernelTable* k) {
  k->qdot_q4_0 = {qdot_pairs<BlockQ4_0>, "qdot_q4_0_avx512"};
  k->qdot_q8_0 = {qdot_pairs<BlockQ8_0>, "qdot_q8_0_avx512"};
  // The 256-bit multi-row forms compute in another order; matmul uses the prepared path instead.
  k->qdot4_q4_0 = {};
  k->qdot4_q8_0 = {};
  k->prep_q8_0_pairs = {prep_q8_0_pairs, "prep_q8_0_pairs_avx512"};
  k->qdotp_q4_0 = {qdotp<BlockQ4_0>, "qdotp_q4_0_avx512"};
  k->qdotp_q8_0 = {qdotp<BlockQ8_0>, "qdotp_q8_0_avx512"};
}

}  // namespace cartlm
