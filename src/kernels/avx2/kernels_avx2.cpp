// AVX2 + FMA + F16C kernels: 8 f32 lanes. Tails are copied into zero-padded stack vectors (AVX2
// has no masked 16-bit loads), which keeps one code path for every weight type.
//
// Everything here stays in an anonymous namespace and uses no std templates (see kernels/isa.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/isa.h"

namespace cartlm {

namespace {

#define CARTLM_INLINE inline __attribute__((always_inline))

constexpr size_t kLanes = 8;
constexpr size_t kKc = 512;

CARTLM_INLINE float hsum(__m256 v) {
  __m128 b = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  b = _mm_add_ps(b, _mm_movehl_ps(b, b));
  b = _mm_add_ss(b, _mm_movehdup_ps(b));
  return _mm_cvtss_f32(b);
}

// Lane i set when i < n (n <= 8).
CARTLM_INLINE __m256i tail_mask(size_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
CARTLM_INLINE __m256 load_tail_f32(const float* p, size_t n) {
  return _mm256_maskload_ps(p, tail_mask(n));
}
CARTLM_INLINE void store_tail_f32(float* p, __m256 v, size_t n) {
  _mm256_maskstore_ps(p, tail_mask(n), v);
}
CARTLM_INLINE __m128i load_tail_u16(const uint16_t* p, size_t n) {
  alignas(16) uint16_t buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (size_t i = 0; i < n; ++i) buf[i] = p[i];
  return _mm_load_si128((const __m128i*)buf);
}
CARTLM_INLINE void store_tail_u16(uint16_t* p, __m128i v, size_t n) {
  alignas(16) uint16_t buf[8];
  _mm_store_si128((__m128i*)buf, v);
  for (size_t i = 0; i < n; ++i) p[i] = buf[i];
}

CARTLM_INLINE __m256 bf16x8_to_f32(__m128i h) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

struct WF32 {
  using T = float;
  static CARTLM_INLINE __m256 load(const float* p) { return _mm256_loadu_ps(p); }
  static CARTLM_INLINE __m256 load_tail(const float* p, size_t n) { return load_tail_f32(p, n); }
};
struct WF16 {
  using T = uint16_t;
  static CARTLM_INLINE __m256 load(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p));
  }
  static CARTLM_INLINE __m256 load_tail(const uint16_t* p, size_t n) {
    return _mm256_cvtph_ps(load_tail_u16(p, n));
  }
};
struct WBF16 {
  using T = uint16_t;
  static CARTLM_INLINE __m256 load(const uint16_t* p) {
    return bf16x8_to_f32(_mm_loadu_si128((const __m128i*)p));
  }
  static CARTLM_INLINE __m256 load_tail(const uint16_t* p, size_t n) {
    return bf16x8_to_f32(load_tail_u16(p, n));
  }
};

// ------------------------------------------------------------------------------------------------
// Matmul (same structure and reduction order rules as the AVX-512 version)
// ------------------------------------------------------------------------------------------------

template <class W, int TT, int RR>
CARTLM_INLINE void tile(const float* x, size_t ldx, const typename W::T* w, size_t in, size_t k0,
                        size_t k1, float* y, size_t ldy, bool first) {
  __m256 acc[TT][RR];
#pragma GCC unroll 8
  for (int t = 0; t < TT; ++t)
#pragma GCC unroll 8
    for (int r = 0; r < RR; ++r) acc[t][r] = _mm256_setzero_ps();
  size_t k = k0;
  for (; k + kLanes <= k1; k += kLanes) {
    __m256 xv[TT];
#pragma GCC unroll 8
    for (int t = 0; t < TT; ++t) xv[t] = _mm256_loadu_ps(x + t * ldx + k);
#pragma GCC unroll 8
    for (int r = 0; r < RR; ++r) {
      __m256 wv = W::load(w + r * in + k);
#pragma GCC unroll 8
      for (int t = 0; t < TT; ++t) acc[t][r] = _mm256_fmadd_ps(xv[t], wv, acc[t][r]);
    }
  }
  if (k < k1) {
    const size_t n = k1 - k;
    __m256 xv[TT];
#pragma GCC unroll 8
    for (int t = 0; t < TT; ++t) xv[t] = load_tail_f32(x + t * ldx + k, n);
#pragma GCC unroll 8
    for (int r = 0; r < RR; ++r) {
      __m256 wv = W::load_tail(w + r * in + k, n);
#pragma GCC unroll 8
      for (int t = 0; t < TT; ++t) acc[t][r] = _mm256_fmadd_ps(xv[t], wv, acc[t][r]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < TT; ++t)
#pragma GCC unroll 8
    for (int r = 0; r < RR; ++r) {
      float s = hsum(acc[t][r]);
      float* yp = y + t * ldy + r;
      *yp = first ? s : *yp + s;
    }
}

// Decode (one token): one whole weight row at a time, streamed once, as in the AVX-512 table
// (see there): a single sequential stream read F16 rows at 17 GB/s on the 2-core EPYC VM against
// 10.6 GB/s for 4 interleaved rows with a software prefetch. The arithmetic per element is
// exactly tile()'s, so decode and prefill give identical bits.
template <class W>
CARTLM_INLINE float decode_row(const float* x, const typename W::T* w, size_t in) {
  float s = 0.0f;  // assigned by the first block
  for (size_t k0 = 0; k0 < in; k0 += kKc) {
    const size_t k1 = k0 + kKc < in ? k0 + kKc : in;
    __m256 acc = _mm256_setzero_ps();
    size_t k = k0;
    for (; k + kLanes <= k1; k += kLanes) acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), W::load(w + k), acc);
    if (k < k1) acc = _mm256_fmadd_ps(load_tail_f32(x + k, k1 - k), W::load_tail(w + k, k1 - k), acc);
    const float h = hsum(acc);
    s = k0 == 0 ? h : s + h;
  }
  return s;
}

template <class W, int RR>
CARTLM_INLINE void token_tiles(const float* x, size_t ldx, size_t T, const typename W::T* w,
                               size_t in, size_t k0, size_t k1, float* y, size_t ldy, bool first) {
  size_t t = 0;
  for (; t + 4 <= T; t += 4) tile<W, 4, RR>(x + t * ldx, ldx, w, in, k0, k1, y + t * ldy, ldy, first);
  switch (T - t) {
    case 3: tile<W, 3, RR>(x + t * ldx, ldx, w, in, k0, k1, y + t * ldy, ldy, first); break;
    case 2: tile<W, 2, RR>(x + t * ldx, ldx, w, in, k0, k1, y + t * ldy, ldy, first); break;
    case 1: tile<W, 1, RR>(x + t * ldx, ldx, w, in, k0, k1, y + t * ldy, ldy, first); break;
    default: break;
  }
}

template <class W>
void matmul_impl(const float* x, size_t ldx, size_t T, const void* wv, size_t in, size_t r0,
                 size_t r1, const float* bias, float* y, size_t ldy) {
  const typename W::T* w = static_cast<const typename W::T*>(wv);
  if (in == 0) {
    for (size_t t = 0; t < T; ++t)
      for (size_t r = r0; r < r1; ++r) y[t * ldy + r] = 0.0f;
  } else if (T == 1) {
    for (size_t r = r0; r < r1; ++r) y[r] = decode_row<W>(x, w + r * in, in);
  } else {
    // 4 tokens x 2 rows = 8 accumulators + 4 x vectors + 1 weight vector fit the 16 ymm registers.
    constexpr int kRows = 2;
    for (size_t k0 = 0; k0 < in; k0 += kKc) {
      const size_t k1 = k0 + kKc < in ? k0 + kKc : in;
      size_t r = r0;
      for (; r + kRows <= r1; r += kRows)
        token_tiles<W, kRows>(x, ldx, T, w + r * in, in, k0, k1, y + r, ldy, k0 == 0);
      for (; r < r1; ++r) token_tiles<W, 1>(x, ldx, T, w + r * in, in, k0, k1, y + r, ldy, k0 == 0);
    }
  }
  if (bias)
    for (size_t t = 0; t < T; ++t)
      for (size_t r = r0; r < r1; ++r) y[t * ldy + r] += bias[r];
}

void matmul_f32(const float* x, size_t ldx, size_t T, const void* w, size_t in, size_t r0,
                size_t r1, const float* bias, float* y, size_t ldy) {
  matmul_impl<WF32>(x, ldx, T, w, in, r0, r1, bias, y, ldy);
}
void matmul_f16(const float* x, size_t ldx, size_t T, const void* w, size_t in, size_t r0,
                size_t r1, const float* bias, float* y, size_t ldy) {
  matmul_impl<WF16>(x, ldx, T, w, in, r0, r1, bias, y, ldy);
}
void matmul_bf16(const float* x, size_t ldx, size_t T, const void* w, size_t in, size_t r0,
                 size_t r1, const float* bias, float* y, size_t ldy) {
  matmul_impl<WBF16>(x, ldx, T, w, in, r0, r1, bias, y, ldy);
}

// ------------------------------------------------------------------------------------------------
// Vector ops
// ------------------------------------------------------------------------------------------------

template <class W>
float dot_impl(const float* a, const typename W::T* b, size_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), W::load(b + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), W::load(b + i + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), W::load(b + i + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), W::load(b + i + 24), a3);
  }
  for (; i + kLanes <= n; i += kLanes) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), W::load(b + i), a0);
  if (i < n) a0 = _mm256_fmadd_ps(load_tail_f32(a + i, n - i), W::load_tail(b + i, n - i), a0);
  return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}
float dot_f32(const float* a, const float* b, size_t n) { return dot_impl<WF32>(a, b, n); }
float dot_f16(const float* a, const uint16_t* b, size_t n) { return dot_impl<WF16>(a, b, n); }
float dot_bf16(const float* a, const uint16_t* b, size_t n) { return dot_impl<WBF16>(a, b, n); }

template <class W>
void axpy_impl(float a, const typename W::T* x, float* y, size_t n) {
  const __m256 av = _mm256_set1_ps(a);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, W::load(x + i), _mm256_loadu_ps(y + i)));
  if (i < n)
    store_tail_f32(y + i, _mm256_fmadd_ps(av, W::load_tail(x + i, n - i), load_tail_f32(y + i, n - i)), n - i);
}
void axpy_f32(float a, const float* x, float* y, size_t n) { axpy_impl<WF32>(a, x, y, n); }
void axpy_f16(float a, const uint16_t* x, float* y, size_t n) { axpy_impl<WF16>(a, x, y, n); }

void scale_avx2(float* x, float s, size_t n) {
  const __m256 sv = _mm256_set1_ps(s);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), sv));
  if (i < n) store_tail_f32(x + i, _mm256_mul_ps(load_tail_f32(x + i, n - i), sv), n - i);
}

void f16_to_f32_avx2(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm256_storeu_ps(dst + i, WF16::load(src + i));
  if (i < n) store_tail_f32(dst + i, WF16::load_tail(src + i, n - i), n - i);
}
void bf16_to_f32_avx2(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm256_storeu_ps(dst + i, WBF16::load(src + i));
  if (i < n) store_tail_f32(dst + i, WBF16::load_tail(src + i, n - i), n - i);
}
void f32_to_f16_avx2(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm_storeu_si128((__m128i*)(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  if (i < n)
    store_tail_u16(dst + i,
                   _mm256_cvtps_ph(load_tail_f32(src + i, n - i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                   n - i);
}
// Integer round-to-nearest-even, bit-identical to fp32_to_bf16.
CARTLM_INLINE __m128i f32x8_to_bf16(__m256 v) {
  const __m256i bits = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_srli_epi32(
      _mm256_add_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(0x7fff)), lsb), 16);
  const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(64));
  const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x7fffffff)),
                                         _mm256_set1_epi32(0x7f800000));
  const __m256i r = _mm256_blendv_epi8(rounded, quiet, nan);
  // Values are < 0x10000, so unsigned saturation keeps them; packus works per 128-bit lane.
  const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
  return _mm256_castsi256_si128(packed);
}
void f32_to_bf16_avx2(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm_storeu_si128((__m128i*)(dst + i), f32x8_to_bf16(_mm256_loadu_ps(src + i)));
  if (i < n) store_tail_u16(dst + i, f32x8_to_bf16(load_tail_f32(src + i, n - i)), n - i);
}

// exp(x) as in the AVX-512 file, but 2^n is built from exponent bits in two halves (n can reach
// 128, beyond one normal float), and results that underflow below FLT_MIN are flushed to 0.
CARTLM_INLINE __m256 exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.33654f), hi = _mm256_set1_ps(88.72283f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  const __m256 over = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
  __m256 xc = _mm256_min_ps(hi, _mm256_max_ps(lo, x));  // NaN passes through (second operand)
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  __m256 e = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
  e = _mm256_mul_ps(_mm256_mul_ps(e, s1), s2);
  e = _mm256_andnot_ps(under, e);
  return _mm256_blendv_ps(e, _mm256_set1_ps(__builtin_inff()), over);
}

float exp_sum(float* x, size_t n, float shift) {
  const __m256 sv = _mm256_set1_ps(shift);
  __m256 acc = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), sv));
    _mm256_storeu_ps(x + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  if (i < n) {
    const __m256 m = _mm256_castsi256_ps(tail_mask(n - i));
    __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(load_tail_f32(x + i, n - i), sv)), m);
    store_tail_f32(x + i, e, n - i);
    acc = _mm256_add_ps(acc, e);
  }
  return hsum(acc);
}

void softmax_avx2(float* x, size_t n) {
  if (n == 0) return;
  const __m256 ninf = _mm256_set1_ps(-__builtin_inff());
  __m256 mv = ninf;
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
  if (i < n) {
    const __m256 m = _mm256_castsi256_ps(tail_mask(n - i));
    mv = _mm256_max_ps(mv, _mm256_blendv_ps(ninf, load_tail_f32(x + i, n - i), m));
  }
  __m128 b = _mm_max_ps(_mm256_castps256_ps128(mv), _mm256_extractf128_ps(mv, 1));
  b = _mm_max_ps(b, _mm_movehl_ps(b, b));
  b = _mm_max_ss(b, _mm_movehdup_ps(b));
  float m = _mm_cvtss_f32(b);
  if (m == -__builtin_inff()) m = 0.0f;
  const float sum = exp_sum(x, n, m);
  scale_avx2(x, 1.0f / sum, n);
}

CARTLM_INLINE __m256 silu8(__m256 v) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(v, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), v))));
}

void silu_avx2(const float* x, float* y, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm256_storeu_ps(y + i, silu8(_mm256_loadu_ps(x + i)));
  if (i < n) store_tail_f32(y + i, silu8(load_tail_f32(x + i, n - i)), n - i);
}

void swiglu_avx2(const float* a, const float* b, float* y, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(silu8(_mm256_loadu_ps(a + i)), _mm256_loadu_ps(b + i)));
  if (i < n)
    store_tail_f32(y + i, _mm256_mul_ps(silu8(load_tail_f32(a + i, n - i)), load_tail_f32(b + i, n - i)), n - i);
}

void add_avx2(const float* a, const float* b, float* y, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  if (i < n) store_tail_f32(y + i, _mm256_add_ps(load_tail_f32(a + i, n - i), load_tail_f32(b + i, n - i)), n - i);
}

void mul_avx2(const float* a, const float* b, float* y, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  if (i < n) store_tail_f32(y + i, _mm256_mul_ps(load_tail_f32(a + i, n - i), load_tail_f32(b + i, n - i)), n - i);
}

void rmsnorm_avx2(const float* x, const float* w, float eps, size_t n, float* y) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0;
  size_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
    a0 = _mm256_fmadd_ps(v0, v0, a0);
    a1 = _mm256_fmadd_ps(v1, v1, a1);
  }
  for (; i + kLanes <= n; i += kLanes) {
    __m256 v = _mm256_loadu_ps(x + i);
    a0 = _mm256_fmadd_ps(v, v, a0);
  }
  if (i < n) {
    __m256 v = load_tail_f32(x + i, n - i);
    a0 = _mm256_fmadd_ps(v, v, a0);
  }
  const float mean = n ? hsum(_mm256_add_ps(a0, a1)) / (float)n : 0.0f;
  const __m256 r = _mm256_set1_ps(1.0f / __builtin_sqrtf(mean + eps));
  i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(w + i), _mm256_mul_ps(_mm256_loadu_ps(x + i), r)));
  if (i < n)
    store_tail_f32(y + i, _mm256_mul_ps(load_tail_f32(w + i, n - i), _mm256_mul_ps(load_tail_f32(x + i, n - i), r)),
                   n - i);
}


// Backward tiles (see MatmulBwdFn): G rows of d x V 8-column vectors kept in registers across the
// whole k loop, so d is loaded and stored once, each B vector feeds G FMAs and each broadcast of a
// feeds V. The 4 x 2 tile (8 of the 16 ymm registers as accumulators) needs 6 loads per 8 FMAs
// where a 4 x 1 tile needed 5 per 4. Every element keeps the order of axpy_impl
// (acc = fma(a, b, acc), k ascending), whatever the tile shape.
template <int G, int V>
CARTLM_INLINE void bwd_tile_wide(const float* a, size_t sj, size_t sk, size_t K, const float* b,
                                 size_t ldb, float* d, size_t ldd) {
  __m256 acc[G][V];
  for (int g = 0; g < G; ++g)
    for (int v = 0; v < V; ++v) acc[g][v] = _mm256_loadu_ps(d + g * ldd + v * kLanes);
  for (size_t k = 0; k < K; ++k) {
    __m256 wv[V];
    for (int v = 0; v < V; ++v) wv[v] = _mm256_loadu_ps(b + k * ldb + v * kLanes);
    const float* ak = a + k * sk;
    for (int g = 0; g < G; ++g) {
      const __m256 av = _mm256_set1_ps(ak[g * sj]);
      for (int v = 0; v < V; ++v) acc[g][v] = _mm256_fmadd_ps(av, wv[v], acc[g][v]);
    }
  }
  for (int g = 0; g < G; ++g)
    for (int v = 0; v < V; ++v) _mm256_storeu_ps(d + g * ldd + v * kLanes, acc[g][v]);
}

// One vector of n < kLanes columns: the ragged right edge.
template <int G>
CARTLM_INLINE void bwd_tile_tail(const float* a, size_t sj, size_t sk, size_t K, const float* b,
                                 size_t ldb, float* d, size_t ldd, size_t n) {
  __m256 acc[G];
  for (int g = 0; g < G; ++g) acc[g] = load_tail_f32(d + g * ldd, n);
  for (size_t k = 0; k < K; ++k) {
    const __m256 wv = load_tail_f32(b + k * ldb, n);
    const float* ak = a + k * sk;
    for (int g = 0; g < G; ++g) acc[g] = _mm256_fmadd_ps(_mm256_set1_ps(ak[g * sj]), wv, acc[g]);
  }
  for (int g = 0; g < G; ++g) store_tail_f32(d + g * ldd, acc[g], n);
}

template <int V>
CARTLM_INLINE void bwd_rows_wide(const float* a, size_t sj, size_t sk, size_t nj, size_t K,
                                 const float* b, size_t ldb, float* d, size_t ldd) {
  size_t j = 0;
  for (; j + 4 <= nj; j += 4) bwd_tile_wide<4, V>(a + j * sj, sj, sk, K, b, ldb, d + j * ldd, ldd);
  if (nj - j == 3) bwd_tile_wide<3, V>(a + j * sj, sj, sk, K, b, ldb, d + j * ldd, ldd);
  if (nj - j == 2) bwd_tile_wide<2, V>(a + j * sj, sj, sk, K, b, ldb, d + j * ldd, ldd);
  if (nj - j == 1) bwd_tile_wide<1, V>(a + j * sj, sj, sk, K, b, ldb, d + j * ldd, ldd);
}

void matmul_bwd_impl(const float* a, size_t sj, size_t sk, size_t nj, size_t K, const float* b,
                     size_t ldb, size_t c0, size_t len, float* d, size_t ldd) {
  const size_t end = c0 + len;
  size_t c = c0;
  for (; c + 2 * kLanes <= end; c += 2 * kLanes) bwd_rows_wide<2>(a, sj, sk, nj, K, b + c, ldb, d + c, ldd);
  for (; c + kLanes <= end; c += kLanes) bwd_rows_wide<1>(a, sj, sk, nj, K, b + c, ldb, d + c, ldd);
  if (c < end) {
    const size_t n = end - c;
    size_t j = 0;
    for (; j + 4 <= nj; j += 4) bwd_tile_tail<4>(a + j * sj, sj, sk, K, b + c, ldb, d + j * ldd + c, ldd, n);
    if (nj - j == 3) bwd_tile_tail<3>(a + j * sj, sj, sk, K, b + c, ldb, d + j * ldd + c, ldd, n);
    if (nj - j == 2) bwd_tile_tail<2>(a + j * sj, sj, sk, K, b + c, ldb, d + j * ldd + c, ldd, n);
    if (nj - j == 1) bwd_tile_tail<1>(a + j * sj, sj, sk, K, b + c, ldb, d + j * ldd + c, ldd, n);
  }
}
void matmul_bwd_f32(const float* a, size_t sj, size_t sk, size_t nj, size_t K, const void* b,
                    size_t ldb, size_t c0, size_t len, float* d, size_t ldd) {
  matmul_bwd_impl(a, sj, sk, nj, K, static_cast<const float*>(b), ldb, c0, len, d, ldd);
}

}  // namespace

void fill_kernels_avx2(KernelTable* k) {
  k->matmul_f32 = {matmul_f32, "matmul_f32_avx2"};
  k->matmul_f16 = {matmul_f16, "matmul_f16_avx2"};
  k->matmul_bf16 = {matmul_bf16, "matmul_bf16_avx2"};
  k->matmul_bwd_f32 = {matmul_bwd_f32, "matmul_bwd_f32_avx2"};
  k->dot_f32 = {dot_f32, "dot_f32_avx2"};
  k->dot_f16 = {dot_f16, "dot_f16_avx2"};
  k->dot_bf16 = {dot_bf16, "dot_bf16_avx2"};
  k->axpy_f32 = {axpy_f32, "axpy_f32_avx2"};
  k->axpy_f16 = {axpy_f16, "axpy_f16_avx2"};
  k->scale = {scale_avx2, "scale_avx2"};
  k->f16_to_f32 = {f16_to_f32_avx2, "f16_to_f32_avx2"};
  k->bf16_to_f32 = {bf16_to_f32_avx2, "bf16_to_f32_avx2"};
  k->f32_to_f16 = {f32_to_f16_avx2, "f32_to_f16_avx2"};
  k->f32_to_bf16 = {f32_to_bf16_avx2, "f32_to_bf16_avx2"};
  k->rmsnorm = {rmsnorm_avx2, "rmsnorm_avx2"};
  k->softmax = {softmax_avx2, "softmax_avx2"};
  k->exp_sum = {exp_sum, "exp_sum_avx2"};
  k->silu = {silu_avx2, "silu_avx2"};
  k->swiglu = {swiglu_avx2, "swiglu_avx2"};
  k->add = {add_avx2, "add_avx2"};
  k->mul = {mul_avx2, "mul_avx2"};
}

}  // namespace cartlm
