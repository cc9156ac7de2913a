// AVX-512 kernels (F, BW, VL, DQ): 16 f32 lanes, masked loads for tails.
//
// Everything here stays in an anonymous namespace and uses no std templates (see kernels/isa.h):
// this file is compiled with -mavx512*, and a shared inline function instantiated here could be
// picked by the linker for code that must run on any x86-64.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/isa.h"

// GCC 12's avx512fintrin.h seeds results with _mm512_undefined_*(), which trips these warnings
// falsely wherever its inline functions get inlined.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace cartlm {

namespace {

#define CARTLM_INLINE inline __attribute__((always_inline))

constexpr size_t kLanes = 16;
// Reduction block of the matmul: a tile of weight rows this long stays in L1 while every token
// tile of the prefill passes over it. Part of the reduction order (see matmul_impl).
constexpr size_t kKc = 512;

CARTLM_INLINE __mmask16 tail_mask(size_t n) { return (__mmask16)((1u << n) - 1u); }

// Fixed reduction tree, so an element's value never depends on which tile computed it.
CARTLM_INLINE float hsum(__m512 v) {
  __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  b = _mm_add_ps(b, _mm_movehl_ps(b, b));
  b = _mm_add_ss(b, _mm_movehdup_ps(b));
  return _mm_cvtss_f32(b);
}

CARTLM_INLINE __m512 bf16x16_to_f32(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// Weight element types: load 16 weights (or a masked tail) as f32.
struct WF32 {
  using T = float;
  static CARTLM_INLINE __m512 load(const float* p) { return _mm512_loadu_ps(p); }
  static CARTLM_INLINE __m512 load_tail(const float* p, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, p);
  }
};
struct WF16 {
  using T = uint16_t;
  static CARTLM_INLINE __m512 load(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)p));
  }
  static CARTLM_INLINE __m512 load_tail(const uint16_t* p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
  }
};
struct WBF16 {
  using T = uint16_t;
  static CARTLM_INLINE __m512 load(const uint16_t* p) {
    return bf16x16_to_f32(_mm256_loadu_si256((const __m256i*)p));
  }
  static CARTLM_INLINE __m512 load_tail(const uint16_t* p, __mmask16 m) {
    return bf16x16_to_f32(_mm256_maskz_loadu_epi16(m, p));
  }
};

// ------------------------------------------------------------------------------------------------
// Matmul
// ------------------------------------------------------------------------------------------------

// A TT x RR register tile over columns [k0, k1): y[t][r] (+)= dot(x[t][k0:k1], w[r][k0:k1]).
// Each (t, r) has one accumulator, stepped 16 lanes at a time, masked tail last, then hsum: the
// same order for every tile shape.
template <class W, int TT, int RR>
CARTLM_INLINE void tile(const float* x, size_t ldx, const typename W::T* w, size_t in, size_t k0,
                        size_t k1, float* y, size_t ldy, bool first) {
  __m512 acc[TT][RR];
#pragma GCC unroll 8
  for (int t = 0; t < TT; ++t)
#pragma GCC unroll 8
    for (int r = 0; r < RR; ++r) acc[t][r] = _mm512_setzero_ps();
  size_t k = k0;
  for (; k + kLanes <= k1; k += kLanes) {
    __m512 xv[TT];
#pragma GCC unroll 8
    for (int t = 0; t < TT; ++t) xv[t] = _mm512_loadu_ps(x + t * ldx + k);
#pragma GCC unroll 8
    for (int r = 0; r < RR; ++r) {
      __m512 wv = W::load(w + r * in + k);
#pragma GCC unroll 8
      for (int t = 0; t < TT; ++t) acc[t][r] = _mm512_fmadd_ps(xv[t], wv, acc[t][r]);
    }
  }
  if (k < k1) {
    const __mmask16 m = tail_mask(k1 - k);
    __m512 xv[TT];
#pragma GCC unroll 8
    for (int t = 0; t < TT; ++t) xv[t] = _mm512_maskz_loadu_ps(m, x + t * ldx + k);
#pragma GCC unroll 8
    for (int r = 0; r < RR; ++r) {
      __m512 wv = W::load_tail(w + r * in + k, m);
#pragma GCC unroll 8
      for (int t = 0; t < TT; ++t) acc[t][r] = _mm512_fmadd_ps(xv[t], wv, acc[t][r]);
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

// Decode (one token): one whole weight row at a time, streamed once. A single sequential stream
// beat 4 interleaved rows (on the 2-core EPYC VM a core read F16 rows at 27 GB/s against 15 GB/s;
// /tmp micro-benchmark, 256 MB of rows), and a software prefetch one line per 64 bytes, 8 KiB
// ahead, helps that stream: F16 1B decode at 2 threads, medians of 3 alternating runs, 11.9 ->
// 15.5 and 13.8 -> 16.5 tokens/s (the quantized kernels found 8 KiB best too). The arithmetic
// per element is exactly tile()'s (one accumulator per kKc block, hsum, blocks added in order,
// the first block assigned), so decode and prefill give identical bits.
constexpr size_t kDecodePrefetch = 8192;
template <class W>
CARTLM_INLINE float decode_row(const float* x, const typename W::T* w, size_t in) {
  float s = 0.0f;  // assigned by the first block
  for (size_t k0 = 0; k0 < in; k0 += kKc) {
    const size_t k1 = k0 + kKc < in ? k0 + kKc : in;
    __m512 acc = _mm512_setzero_ps();
    size_t k = k0;
    for (; k + 2 * kLanes <= k1; k += 2 * kLanes) {
      _mm_prefetch(reinterpret_cast<const char*>(w + k) + kDecodePrefetch, _MM_HINT_T0);
      acc = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), W::load(w + k), acc);
      acc = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + kLanes), W::load(w + k + kLanes), acc);
    }
    for (; k + kLanes <= k1; k += kLanes) acc = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), W::load(w + k), acc);
    if (k < k1) {
      const __mmask16 m = tail_mask(k1 - k);
      acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + k), W::load_tail(w + k, m), acc);
    }
    const float h = hsum(acc);
    s = k0 == 0 ? h : s + h;
  }
  return s;
}

// All tokens of one tile of RR rows, columns [k0, k1).
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

// Per element: y = sum over column blocks of kKc (in order) of hsum(block accumulator), then
// + bias. Decode (T == 1) walks rows outermost so each weight row streams from memory once;
// prefill walks column blocks outermost so a 4 x kKc weight tile stays in L1 for all tokens.
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
    constexpr int kRows = 4;
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
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), W::load(b + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), W::load(b + i + 16), a1);
    a2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), W::load(b + i + 32), a2);
    a3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), W::load(b + i + 48), a3);
  }
  for (; i + kLanes <= n; i += kLanes) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), W::load(b + i), a0);
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), W::load_tail(b + i, m), a0);
  }
  return hsum(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}
float dot_f32(const float* a, const float* b, size_t n) { return dot_impl<WF32>(a, b, n); }
float dot_f16(const float* a, const uint16_t* b, size_t n) { return dot_impl<WF16>(a, b, n); }
float dot_bf16(const float* a, const uint16_t* b, size_t n) { return dot_impl<WBF16>(a, b, n); }

template <class W>
void axpy_impl(float a, const typename W::T* x, float* y, size_t n) {
  const __m512 av = _mm512_set1_ps(a);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, W::load(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    __m512 r = _mm512_fmadd_ps(av, W::load_tail(x + i, m), _mm512_maskz_loadu_ps(m, y + i));
    _mm512_mask_storeu_ps(y + i, m, r);
  }
}
void axpy_f32(float a, const float* x, float* y, size_t n) { axpy_impl<WF32>(a, x, y, n); }
void axpy_f16(float a, const uint16_t* x, float* y, size_t n) { axpy_impl<WF16>(a, x, y, n); }

void scale_avx512(float* x, float s, size_t n) {
  const __m512 sv = _mm512_set1_ps(s);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), sv));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), sv));
  }
}

void f16_to_f32_avx512(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm512_storeu_ps(dst + i, WF16::load(src + i));
  if (i < n) _mm512_mask_storeu_ps(dst + i, tail_mask(n - i), WF16::load_tail(src + i, tail_mask(n - i)));
}
void bf16_to_f32_avx512(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm512_storeu_ps(dst + i, WBF16::load(src + i));
  if (i < n) _mm512_mask_storeu_ps(dst + i, tail_mask(n - i), WBF16::load_tail(src + i, tail_mask(n - i)));
}
void f32_to_f16_avx512(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm256_storeu_si256((__m256i*)(dst + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_mask_storeu_epi16(dst + i, m, h);
  }
}
// Integer round-to-nearest-even, bit-identical to fp32_to_bf16 (vcvtneps2bf16 would flush
// subnormals to zero, and files must be byte-identical on every machine).
CARTLM_INLINE __m256i f32x16_to_bf16(__m512 v) {
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(
      _mm512_add_epi32(_mm512_add_epi32(bits, _mm512_set1_epi32(0x7fff)), lsb), 16);
  const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(64));
  const __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff)),
                                                _mm512_set1_epi32(0x7f800000));
  return _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet));
}
void f32_to_bf16_avx512(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm256_storeu_si256((__m256i*)(dst + i), f32x16_to_bf16(_mm512_loadu_ps(src + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm256_mask_storeu_epi16(dst + i, m, f32x16_to_bf16(_mm512_maskz_loadu_ps(m, src + i)));
  }
}

// exp(x): Cody-Waite reduction x = n ln2 + r, Cephes degree-6 polynomial for e^r, scalef for 2^n
// (which also gets overflow to inf and gradual underflow right). About 1-2 ulp; NaN propagates.
CARTLM_INLINE __m512 exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  __m512 e = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(e, n);
}

float exp_sum(float* x, size_t n, float shift) {
  const __m512 sv = _mm512_set1_ps(shift);
  __m512 acc = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), sv));
    _mm512_storeu_ps(x + i, e);
    acc = _mm512_add_ps(acc, e);
  }
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), sv));
    _mm512_mask_storeu_ps(x + i, m, e);
    acc = _mm512_mask_add_ps(acc, m, acc, e);
  }
  return hsum(acc);
}

void softmax_avx512(float* x, size_t n) {
  if (n == 0) return;
  const __m512 ninf = _mm512_set1_ps(-__builtin_inff());
  __m512 mv = ninf;
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) mv = _mm512_max_ps(mv, _mm512_loadu_ps(x + i));
  if (i < n) mv = _mm512_max_ps(mv, _mm512_mask_loadu_ps(ninf, tail_mask(n - i), x + i));
  float m = _mm512_reduce_max_ps(mv);  // max is exact in any order
  if (m == -__builtin_inff()) m = 0.0f;
  const float sum = exp_sum(x, n, m);
  scale_avx512(x, 1.0f / sum, n);
}

CARTLM_INLINE __m512 silu16(__m512 v) {
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_div_ps(v, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), v))));
}

void silu_avx512(const float* x, float* y, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm512_storeu_ps(y + i, silu16(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, silu16(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

void swiglu_avx512(const float* a, const float* b, float* y, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm512_storeu_ps(y + i, _mm512_mul_ps(silu16(_mm512_loadu_ps(a + i)), _mm512_loadu_ps(b + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(silu16(_mm512_maskz_loadu_ps(m, a + i)),
                                                   _mm512_maskz_loadu_ps(m, b + i)));
  }
}

void add_avx512(const float* a, const float* b, float* y, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
  }
}

void mul_avx512(const float* a, const float* b, float* y, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
  }
}

void rmsnorm_avx512(const float* x, const float* w, float eps, size_t n, float* y) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0;
  size_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
    a0 = _mm512_fmadd_ps(v0, v0, a0);
    a1 = _mm512_fmadd_ps(v1, v1, a1);
  }
  for (; i + kLanes <= n; i += kLanes) {
    __m512 v = _mm512_loadu_ps(x + i);
    a0 = _mm512_fmadd_ps(v, v, a0);
  }
  if (i < n) {
    __m512 v = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
    a0 = _mm512_fmadd_ps(v, v, a0);
  }
  const float mean = n ? hsum(_mm512_add_ps(a0, a1)) / (float)n : 0.0f;
  const __m512 r = _mm512_set1_ps(1.0f / __builtin_sqrtf(mean + eps));
  i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(w + i), _mm512_mul_ps(_mm512_loadu_ps(x + i), r)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, w + i),
                                                   _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), r)));
  }
}


// Backward tiles (see MatmulBwdFn): G rows of d x V 16-column vectors kept in registers across
// the whole k loop, so d is loaded and stored once, each B vector feeds G FMAs and each broadcast
// of a feeds V. The 6 x 4 tile (24 accumulators) needs 4 vector loads and 6 broadcasts per 24
// FMAs; a 4 x 1 tile needed 5 loads per 4 FMAs and was load-bound. Every element keeps the order
// of axpy_impl (acc = fma(a, b, acc), k ascending), whatever the tile shape.
template <int G, int V>
CARTLM_INLINE void bwd_tile_wide(const float* a, size_t sj, size_t sk, size_t K, const float* b,
                                 size_t ldb, float* d, size_t ldd) {
  __m512 acc[G][V];
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[g][v] = _mm512_loadu_ps(d + g * ldd + v * kLanes);
  for (size_t k = 0; k < K; ++k) {
    __m512 wv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) wv[v] = _mm512_loadu_ps(b + k * ldb + v * kLanes);
    const float* ak = a + k * sk;
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      const __m512 av = _mm512_set1_ps(ak[g * sj]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[g][v] = _mm512_fmadd_ps(av, wv[v], acc[g][v]);
    }
  }
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) _mm512_storeu_ps(d + g * ldd + v * kLanes, acc[g][v]);
}

// One (possibly masked) vector of columns: the ragged right edge.
template <int G>
CARTLM_INLINE void bwd_tile(const float* a, size_t sj, size_t sk, size_t K, const float* b,
                            size_t ldb, float* d, size_t ldd, __mmask16 m) {
  __m512 acc[G];
  for (int g = 0; g < G; ++g) acc[g] = _mm512_maskz_loadu_ps(m, d + g * ldd);
  for (size_t k = 0; k < K; ++k) {
    const __m512 wv = _mm512_maskz_loadu_ps(m, b + k * ldb);
    const float* ak = a + k * sk;
    for (int g = 0; g < G; ++g) acc[g] = _mm512_fmadd_ps(_mm512_set1_ps(ak[g * sj]), wv, acc[g]);
  }
  for (int g = 0; g < G; ++g) _mm512_mask_storeu_ps(d + g * ldd, m, acc[g]);
}

// All nj rows for the V-vector column group at b, d.
template <int V>
CARTLM_INLINE void bwd_rows_wide(const float* a, size_t sj, size_t sk, size_t nj, size_t K,
                                 const float* b, size_t ldb, float* d, size_t ldd) {
  size_t j = 0;
  for (; j + 6 <= nj; j += 6) bwd_tile_wide<6, V>(a + j * sj, sj, sk, K, b, ldb, d + j * ldd, ldd);
  switch (nj - j) {
    case 5: bwd_tile_wide<5, V>(a + j * sj, sj, sk, K, b, ldb, d + j * ldd, ldd); break;
    case 4: bwd_tile_wide<4, V>(a + j * sj, sj, sk, K, b, ldb, d + j * ldd, ldd); break;
    case 3: bwd_tile_wide<3, V>(a + j * sj, sj, sk, K, b, ldb, d + j * ldd, ldd); break;
    case 2: bwd_tile_wide<2, V>(a + j * sj, sj, sk, K, b, ldb, d + j * ldd, ldd); break;
    case 1: bwd_tile_wide<1, V>(a + j * sj, sj, sk, K, b, ldb, d + j * ldd, ldd); break;
    default: break;
  }
}

void matmul_bwd_impl(const float* a, size_t sj, size_t sk, size_t nj, size_t K, const float* b,
                     size_t ldb, size_t c0, size_t len, float* d, size_t ldd) {
  const size_t end = c0 + len;
  size_t c = c0;
  for (; c + 4 * kLanes <= end; c += 4 * kLanes) bwd_rows_wide<4>(a, sj, sk, nj, K, b + c, ldb, d + c, ldd);
  for (; c + kLanes <= end; c += kLanes) bwd_rows_wide<1>(a, sj, sk, nj, K, b + c, ldb, d + c, ldd);
  if (c < end) {
    const __mmask16 m = tail_mask(end - c);
    size_t j = 0;
    for (; j + 4 <= nj; j += 4) bwd_tile<4>(a + j * sj, sj, sk, K, b + c, ldb, d + j * ldd + c, ldd, m);
    if (nj - j == 3) bwd_tile<3>(a + j * sj, sj, sk, K, b + c, ldb, d + j * ldd + c, ldd, m);
    if (nj - j == 2) bwd_tile<2>(a + j * sj, sj, sk, K, b + c, ldb, d + j * ldd + c, ldd, m);
    if (nj - j == 1) bwd_tile<1>(a + j * sj, sj, sk, K, b + c, ldb, d + j * ldd + c, ldd, m);
  }
}
void matmul_bwd_f32(const float* a, size_t sj, size_t sk, size_t nj, size_t K, const void* b,
                    size_t ldb, size_t c0, size_t len, float* d, size_t ldd) {
  matmul_bwd_impl(a, sj, sk, nj, K, static_cast<const float*>(b), ldb, c0, len, d, ldd);
}

}  // namespace

void fill_kernels_avx512(KernelTable* k) {
  k->matmul_f32 = {matmul_f32, "matmul_f32_avx512"};
  k->matmul_f16 = {matmul_f16, "matmul_f16_avx512"};
  k->matmul_bf16 = {matmul_bf16, "matmul_bf16_avx512"};
  k->matmul_bwd_f32 = {matmul_bwd_f32, "matmul_bwd_f32_avx512"};
  k->dot_f32 = {dot_f32, "dot_f32_avx512"};
  k->dot_f16 = {dot_f16, "dot_f16_avx512"};
  k->dot_bf16 = {dot_bf16, "dot_bf16_avx512"};
  k->axpy_f32 = {axpy_f32, "axpy_f32_avx512"};
  k->axpy_f16 = {axpy_f16, "axpy_f16_avx512"};
  k->scale = {scale_avx512, "scale_avx512"};
  k->f16_to_f32 = {f16_to_f32_avx512, "f16_to_f32_avx512"};
  k->bf16_to_f32 = {bf16_to_f32_avx512, "bf16_to_f32_avx512"};
  k->f32_to_f16 = {f32_to_f16_avx512, "f32_to_f16_avx512"};
  k->f32_to_bf16 = {f32_to_bf16_avx512, "f32_to_bf16_avx512"};
  k->rmsnorm = {rmsnorm_avx512, "rmsnorm_avx512"};
  k->softmax = {softmax_avx512, "softmax_avx512"};
  k->exp_sum = {exp_sum, "exp_sum_avx512"};
  k->silu = {silu_avx512, "silu_avx512"};
  k->swiglu = {swiglu_avx512, "swiglu_avx512"};
  k->add = {add_avx512, "add_avx512"};
  k->mul = {mul_avx512, "mul_avx512"};
}

}  // namespace cartlm
