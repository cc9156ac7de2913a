// The traits table (one row per block format) and the tensor-level API over it.
#include <cmath>
#include <cstring>
#include <string>

#include "core/check.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace cartlm {

namespace {

// The Q8_0 / Q8_1 / Q8_K quantizers are the kernels' activation quantizers (matmul runs them on
// every activation row; one copy of the math), called with the table's int64_t row length.
template <QuantizeActFn F>
void q8_row(const float* x, void* y, int64_t n) {
  CARTLM_CHECK(n >= 0);
  F(x, y, (size_t)n);
}

// Activation-only formats (and Q8_0, which llama.cpp also never quantizes with an imatrix) take
// the importance argument only to fit the slot.
template <QuantizeActFn F>
void q8_row_ignore_importance(const float* x, void* y, int64_t n, const float*) {
  q8_row<F>(x, y, n);
}

// In DType id order.
const QuantTraits kTraits[] = {
    {DType::Q4_0, "Q4_0", kQK, 18, true, DType::Q8_0, quantize_q4_0_ref, quantize_q4_0_importance,
     dequantize_q4_0, qdot_q4_0_ref, "qdot_q4_0_ref"},
    {DType::Q4_1, "Q4_1", kQK, 20, true, DType::Q8_1, quantize_q4_1_ref, quantize_q4_1_importance,
     dequantize_q4_1, qdot_q4_1_ref, "qdot_q4_1_ref"},
    {DType::Q5_0, "Q5_0", kQK, 22, true, DType::Q8_0, quantize_q5_0_ref, quantize_q5_0_importance,
     dequantize_q5_0, qdot_q5_0_ref, "qdot_q5_0_ref"},
    {DType::Q5_1, "Q5_1", kQK, 24, true, DType::Q8_1, quantize_q5_1_ref, quantize_q5_1_importance,
     dequantize_q5_1, qdot_q5_1_ref, "qdot_q5_1_ref"},
    {DType::Q8_0, "Q8_0", kQK, 34, true, DType::Q8_0, q8_row<quantize_act_q8_0_ref>,
     q8_row_ignore_importance<quantize_act_q8_0_ref>, dequantize_q8_0, qdot_q8_0_ref,
     "qdot_q8_0_ref"},
    {DType::Q8_1, "Q8_1", kQK, 36, false, DType::Q8_1, q8_row<quantize_act_q8_1_ref>,
     q8_row_ignore_importance<quantize_act_q8_1_ref>, dequantize_q8_1, qdot_q8_1_ref,
     "qdot_q8_1_ref"},
    {DType::Q2_K, "Q2_K", kQKK, 84, true, DType::Q8_K, quantize_q2_k_ref, quantize_q2_k_importance,
     dequantize_q2_k, qdot_q2_k_ref, "qdot_q2_k_ref"},
    {DType::Q3_K, "Q3_K", kQKK, 110, true, DType::Q8_K, quantize_q3_k_ref,
     quantize_q3_k_importance, dequantize_q3_k, qdot_q3_k_ref, "qdot_q3_k_ref"},
    {DType::Q4_K, "Q4_K", kQKK, 144, true, DType::Q8_K, quantize_q4_k_ref,
     quantize_q4_k_importance, dequantize_q4_k, qdot_q4_k_ref, "qdot_q4_k_ref"},
    {DType::Q5_K, "Q5_K", kQKK, 176, true, DType::Q8_K, quantize_q5_k_ref,
     quantize_q5_k_importance, dequantize_q5_k, qdot_q5_k_ref, "qdot_q5_k_ref"},
    {DType::Q6_K, "Q6_K", kQKK, 210, true, DType::Q8_K, quantize_q6_k_ref,
     quantize_q6_k_importance, dequantize_q6_k, qdot_q6_k_ref, "qdot_q6_k_ref"},
    {DType::Q8_K, "Q8_K", kQKK, 292, false, DType::Q8_K, q8_row<quantize_act_q8_k_ref>,
     q8_row_ignore_importance<quantize_act_q8_k_ref>, dequantize_q8_k, qdot_q8_k_ref,
     "qdot_q8_k_ref"},
};

bool is_plain_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

Status check_shape(DType t, int64_t rows, int64_t cols) {
  const DTypeInfo* info = dtype_info(t);
  if (!info || !(is_plain_float(t) || quant_traits(t)))
    return error(strformat("dtype %s is not a quantization target (use F32, F16, BF16 or a block "
                           "format such as Q4_K)",
                           dtype_name(t)));
  if (rows < 0) return error(strformat("negative row count %lld", (long long)rows));
  if (cols <= 0 || cols % info->block_size != 0)
    return error(strformat("row length %lld is not a positive multiple of the %s block size %u; "
                           "hint: pick a format with smaller blocks (e.g. Q5_0 or Q8_0 for K-quant "
                           "rows not divisible by 256)",
                           (long long)cols, info->name, info->block_size));
  return Status();
}

// Runs fn(r0, r1) over row ranges, on the pool when there is one.
template <class F>
void for_rows(int64_t rows, ThreadPool* pool, F&& fn) {
  if (pool && pool->size() > 1 && rows > 1)
    pool->parallel_for((size_t)rows, [&](size_t b, size_t e) { fn((int64_t)b, (int64_t)e); });
  else if (rows > 0)
    fn(0, rows);
}

}  // namespace

const QuantTraits* quant_traits(DType t) {
  for (const QuantTraits& r : kTraits)
    if (r.type == t) return &r;
  return nullptr;
}

std::span<const QuantTraits> all_quant_traits() { return kTraits; }

Result<uint64_t> quantized_row_bytes(DType t, int64_t cols) {
  CARTLM_RETURN_IF_ERROR(check_shape(t, 1, cols));
  return dtype_row_bytes(t, (uint64_t)cols);
}

Status quantize_tensor(DType t, const float* src, int64_t rows, int64_t cols, void* dst,
                       const float* importance, ThreadPool* pool) {
  CARTLM_RETURN_IF_ERROR(check_shape(t, rows, cols));
  const QuantTraits* tr = quant_traits(t);
  if (importance && tr && !tr->weight_format)
    return error(strformat("%s is an activation format; it takes no importance matrix", tr->name));
  if (importance) {
    for (int64_t c = 0; c < cols; ++c)
      if (!std::isfinite(importance[c]) || importance[c] < 0)
        return error(strformat("importance[%lld] = %g; importance weights must be finite and >= 0",
                               (long long)c, (double)importance[c]));
    if (!tr) importance = nullptr;  // plain float targets have nothing to weight
  }
  // The quantizers assume finite input (NaN would poison a block's scale silently).
  for (int64_t i = 0; i < rows * cols; ++i)
    if (!std::isfinite(src[i]))
      return error(strformat("input row %lld column %lld is %g; cannot quantize non-finite values",
                             (long long)(i / cols), (long long)(i % cols), (double)src[i]));
  const uint64_t row_bytes = dtype_row_bytes(t, (uint64_t)cols);
  uint8_t* out = static_cast<uint8_t*>(dst);
  for_rows(rows, pool, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = src + r * cols;
      void* y = out + (uint64_t)r * row_bytes;
      if (tr && importance) {
        tr->quantize_row_importance(x, y, cols, importance);
      } else if (tr) {
        tr->quantize_row_ref(x, y, cols);
      } else if (t == DType::F32) {
        std::memcpy(y, x, (size_t)cols * sizeof(float));
      } else {
        uint16_t* h = static_cast<uint16_t*>(y);
        for (int64_t c = 0; c < cols; ++c)
          h[c] = t == DType::F16 ? fp32_to_fp16(x[c]) : fp32_to_bf16(x[c]);
      }
    }
  });
  return Status();
}

Status dequantize_tensor(DType t, const void* src, int64_t rows, int64_t cols, float* dst,
                         ThreadPool* pool) {
  CARTLM_RETURN_IF_ERROR(check_shape(t, rows, cols));
  const QuantTraits* tr = quant_traits(t);
  const uint64_t row_bytes = dtype_row_bytes(t, (uint64_t)cols);
  const uint8_t* in = static_cast<const uint8_t*>(src);
  for_rows(rows, pool, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const void* x = in + (uint64_t)r * row_bytes;
      float* y = dst + r * cols;
      if (tr) {
        tr->dequantize_row(x, y, cols);
      } else if (t == DType::F32) {
        std::memcpy(y, x, (size_t)cols * sizeof(float));
      } else {
        const uint16_t* h = static_cast<const uint16_t*>(x);
        for (int64_t c = 0; c < cols; ++c)
          y[c] = t == DType::F16 ? fp16_to_fp32(h[c]) : bf16_to_fp32(h[c]);
      }
    }
  });
  return Status();
}

}  // namespace cartlm
