// Internal to src/quant/: the scale searches shared by the quantizers (llama.cpp's
// make_qx_quants, make_q3_quants, make_qkx2_quants, make_qp_quants) and small bit helpers.
// Each follows llama.cpp's floating-point operation order exactly, because the chosen scale decides
// every byte of the output; see REFERENCE.md §2.1-2.3.
#pragma once
#include <cstdint>
#include <cstring>

#include "core/check.h"
#include "core/dtype.h"

namespace cartlm::quant_detail {

constexpr float kGroupMaxEps = 1e-15f;  // GROUP_MAX_EPS: below this a group counts as all zero

// Round half to even through the float mantissa (llama.cpp's nearest_int). Valid for
// |f| <= 4194303; adding 1.5 * 2^23 leaves the rounded integer in the low mantissa bits.
inline int nearest_int(float f) {
  float v = f + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, sizeof(i));
  return (i & 0x007fffff) - 0x00400000;
}

// fp16 round trip: the value a reader of the stored scale sees.
inline float fp16_round(float f) { return fp16_to_fp32(fp32_to_fp16(f)); }

inline void check_row(int64_t n, int64_t block) {
  CARTLM_CHECK(n >= 0 && n % block == 0);
}

// Symmetric quantization of x[n] to integers in [-nmax, nmax - 1], stored in L as l + nmax.
// Tries 19 inverse scales around nmax/max and keeps the one maximizing (Σw·x·l)² / Σw·l² with
// w = weights[i] when given, else x². Returns the scale (x ≈ scale · l). llama.cpp's
// make_qx_quants with rmse_type = 1 (the only type its K-quants and Q4_0/Q5_0 use).
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* weights);

// Q3_K's sub-block search: as make_qx_quants (w = x²) but refines each l coordinate-wise for up to
// 5 passes. L gets l + nmax. llama.cpp's make_q3_quants with do_rmse = true.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L);

// Asymmetric quantization x ≈ scale · L - the_min with L in [0, nmax], minimizing the weighted
// squared (use_mad = false) or absolute (true) error over nstep + 1 candidate scales
// (rmin + rdelta·is + nmax) / (max - min). the_min is returned as a non-negative magnitude.
// llama.cpp's make_qkx2_quants; with weights given it is also exactly make_qkx3_quants.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad);

// Quantizes non-negative x[n] (sub-block scales or mins) to L in [0, nmax] with importance weights
// quant_weights, refining coordinate-wise. Returns the scale. llama.cpp's make_qp_quants.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights);

// Writes the 6-bit scale/min pair of sub-block j (0..7) into the 12-byte Q4_K/Q5_K scales array.
// Call for j = 0..7 in order: pairs j < 4 assign whole bytes, pairs j >= 4 OR their high bits
// into bytes the earlier calls wrote.
void put_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t* scales);

// One Q4_K (nmax 15) or Q5_K (nmax 31) super-block of x[256]: writes d, dmin, the 12 scale bytes
// and the final quants L[256] (0..nmax, natural element order; the caller packs them).
// importance: nullptr for the reference quantizer, else the 256 weights of this super-block.
void quantize_q45_k_superblock(const float* x, int nmax, const float* importance, uint16_t* d,
                               uint16_t* dmin, uint8_t* scales, uint8_t* L);

// Sum of x[i]² over n in index order (the per-super-block statistics of the imatrix paths).
inline float sum_squares(const float* x, int64_t n) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

}  // namespace cartlm::quant_detail
