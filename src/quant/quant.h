// GGUF block quantization: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (weights)
// and Q8_1, Q8_K (activations of the dot products).
//
// The `_ref` quantizers reproduce llama.cpp's quantize_row_*_ref bit for bit (what llama-quantize
// writes without --imatrix), so a cartlm GGUF file is byte-identical to llama.cpp's for the same
// f32 input. The importance ("imatrix") quantizers reproduce llama.cpp's quantize_row_*_impl with
// quant_weights. Everything here is plain scalar code (the scalar twin, STYLE.md §4.1) compiled
// for baseline x86-64 with no FMA contraction, so outputs do not depend on the host CPU.
//
// Layouts of the blocks are in quant/blocks.h. Element order inside a row is the natural order:
// dequantize_row writes element i of the row to y[i]. Block pointers must be 2-byte aligned
// (4-byte for Q8_K); every block boundary of a row keeps that when the row start has it.
// Inputs must be finite (quantize_tensor checks; the row functions assume it).
//
// Byte identity with llama.cpp relies on two roundings per a*b+c: this module must be compiled
// without FMA contraction (-ffp-contract=off, or a baseline ISA without FMA as now).
//
// Quantized matvec with the table (what llama.cpp's CPU backend does), row_bytes from
// quantized_row_bytes(wtype, in):
//   const QuantTraits* tr = quant_traits(wtype);
//   quant_traits(tr->act_type)->quantize_row_ref(x, xq, in);  // once per activation row
//   for (o = 0; o < out; ++o) y[o] = tr->vec_dot_ref(w + o * row_bytes, xq, in);
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/dtype.h"
#include "core/status.h"

namespace cartlm {

class ThreadPool;

// x[n] -> n / block_size blocks at y. n must be a multiple of the block size (checked).
using QuantizeRowFn = void (*)(const float* x, void* y, int64_t n);
// As above, with importance[n] >= 0 (per-column weights from an imatrix; not nullptr). Call it
// once per matrix row with n = cols: some formats normalize over the whole row.
using QuantizeRowImportanceFn = void (*)(const float* x, void* y, int64_t n, const float* importance);
// n / block_size blocks at x -> y[n].
using DequantizeRowFn = void (*)(const void* x, float* y, int64_t n);
// Dot product of a weight row w (this format, n elements) with an activation row a that was
// quantized with the row of `act_type` (n elements). Exact integer sums per block, combined in
// f32 block by block in order. The same type as kernels' QDotFn: every row points at the kernels'
// scalar reference qdot_*_ref (kernels/kernels.h), the one copy of these dot products.
using VecDotFn = float (*)(const void* w, const void* a, size_t n);

// One row per block format: everything a format can do (STYLE.md §4.5).
struct QuantTraits {
  DType type;
  const char* name;         // "Q4_K"
  int32_t block_size;       // elements per block
  int32_t block_bytes;      // bytes per block
  bool weight_format;       // false for the activation-only formats Q8_1 and Q8_K
  DType act_type;           // the activation format vec_dot_ref expects: Q8_0, Q8_1 or Q8_K
  QuantizeRowFn quantize_row_ref;
  // With an imatrix. Formats llama.cpp quantizes without one (Q8_0, Q8_1, Q8_K) ignore it.
  QuantizeRowImportanceFn quantize_row_importance;
  DequantizeRowFn dequantize_row;
  VecDotFn vec_dot_ref;
  const char* vec_dot_name;  // "qdot_q4_k_ref", for logs
};

// nullptr when t is not a block-quantized format (F32, F16, BF16, I*, NF4 ...).
const QuantTraits* quant_traits(DType t);
// All rows, in DType id order.
std::span<const QuantTraits> all_quant_traits();
inline bool is_block_quantized(DType t) { return quant_traits(t) != nullptr; }

// Bytes of one row of `cols` elements stored as t. Supports the block formats plus F32/F16/BF16.
// Error if cols is not a positive multiple of t's block size or t is not supported.
Result<uint64_t> quantized_row_bytes(DType t, int64_t cols);

// src[rows, cols] (row-major f32) -> dst (rows * quantized_row_bytes(t, cols) bytes).
// importance: nullptr for the reference quantizer (llama-quantize without --imatrix), else
// `cols` non-negative weights shared by all rows. t may also be F32 (copy), F16 or BF16 (rounded),
// where importance is ignored. Rows are split over `pool` when given; the output does not depend
// on it. Errors: unsupported t, activation-only t (Q8_1, Q8_K) with importance, rows < 0, cols not
// a positive multiple of the block size, non-finite or negative importance.
Status quantize_tensor(DType t, const float* src, int64_t rows, int64_t cols, void* dst,
                       const float* importance = nullptr, ThreadPool* pool = nullptr);
// The inverse: src (rows * quantized_row_bytes(t, cols) bytes) -> dst[rows, cols].
Status dequantize_tensor(DType t, const void* src, int64_t rows, int64_t cols, float* dst,
                         ThreadPool* pool = nullptr);

// ------------------------------------------------------------------------------------------------
// Per-format functions (the table above points at these). n is the row length in elements.
// The Q8_0 / Q8_1 / Q8_K quantizers and the dot products are not here: they are the kernels'
// quantize_act_q8_*_ref and qdot_*_ref (kernels/kernels.h), which matmul runs too.
// ------------------------------------------------------------------------------------------------

void quantize_q4_0_ref(const float* x, void* y, int64_t n);
void quantize_q4_1_ref(const float* x, void* y, int64_t n);
void quantize_q5_0_ref(const float* x, void* y, int64_t n);
void quantize_q5_1_ref(const float* x, void* y, int64_t n);
void quantize_q2_k_ref(const float* x, void* y, int64_t n);
void quantize_q3_k_ref(const float* x, void* y, int64_t n);
void quantize_q4_k_ref(const float* x, void* y, int64_t n);
void quantize_q5_k_ref(const float* x, void* y, int64_t n);
void quantize_q6_k_ref(const float* x, void* y, int64_t n);

void quantize_q4_0_importance(const float* x, void* y, int64_t n, const float* importance);
void quantize_q4_1_importance(const float* x, void* y, int64_t n, const float* importance);
void quantize_q5_0_importance(const float* x, void* y, int64_t n, const float* importance);
void quantize_q5_1_importance(const float* x, void* y, int64_t n, const float* importance);
void quantize_q2_k_importance(const float* x, void* y, int64_t n, const float* importance);
void quantize_q3_k_importance(const float* x, void* y, int64_t n, const float* importance);
void quantize_q4_k_importance(const float* x, void* y, int64_t n, const float* importance);
void quantize_q5_k_importance(const float* x, void* y, int64_t n, const float* importance);
void quantize_q6_k_importance(const float* x, void* y, int64_t n, const float* importance);

void dequantize_q8_0(const void* x, float* y, int64_t n);
void dequantize_q8_1(const void* x, float* y, int64_t n);
void dequantize_q8_k(const void* x, float* y, int64_t n);
void dequantize_q4_0(const void* x, float* y, int64_t n);
void dequantize_q4_1(const void* x, float* y, int64_t n);
void dequantize_q5_0(const void* x, float* y, int64_t n);
void dequantize_q5_1(const void* x, float* y, int64_t n);
void dequantize_q2_k(const void* x, float* y, int64_t n);
void dequantize_q3_k(const void* x, float* y, int64_t n);
void dequantize_q4_k(const void* x, float* y, int64_t n);
void dequantize_q5_k(const void* x, float* y, int64_t n);
void dequantize_q6_k(const void* x, float* y, int64_t n);

// The 6-bit scale/min packing of Q4_K/Q5_K (12 bytes for 8 pairs). Exposed for tests and kernels.
void get_scale_min_k4(int j, const uint8_t* scales, uint8_t* sc, uint8_t* m);
// Q3_K: the 6-bit scale of sub-block j (0..15) as stored, 0..63 (the effective scale is - 32).
int q3_k_scale(const uint8_t* scales, int j);

}  // namespace cartlm
