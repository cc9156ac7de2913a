// Frozen base matrices for LoRA / QLoRA on a real checkpoint: views in the checkpoint dtype go
// straight to the kernels; NF4 tensors are dequantized a tile of rows at a time into f32 and then
// use the same f32 kernels, so no full-size f32 copy of the base ever exists.
#include <algorithm>
#include <vector>

#include "core/check.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "train/ops.h"
#include "train/ops_internal.h"

namespace cartlm {

namespace td = train_detail;

namespace {

// Rows per NF4 tile: about 4 MiB of f32 weights, at least 64 rows (a few tiles per matrix keep
// the per-tile fork/join cost small next to the matmul), a multiple of 16 (the kernels' row tile).
size_t nf4_tile_rows(size_t C, size_t OC) {
  size_t rows = (size_t(1) << 20) / std::max<size_t>(C, 1);
  rows = std::max<size_t>(64, rows / 16 * 16);
  return std::min(rows, OC);
}

// tile (rows r0..r1 of w, f32) <- NF4, split over the pool by rows.
void dequant_rows(const Nf4Tensor& w, size_t r0, size_t r1, float* tile, ThreadPool* pool) {
  const size_t C = w.cols;
  td::parallel_rows(pool, r1 - r0, [&](size_t a, size_t b) {
    nf4_dequantize(w, (r0 + a) * C, (r0 + b) * C, tile + a * C);
  });
}

}  // namespace

size_t frozen_scratch_floats(const FrozenMatrix& w, size_t BT, size_t C, size_t OC) {
  if (w.dtype != DType::NF4) return 0;
  const size_t TR = nf4_tile_rows(C, OC);
  return TR * C + BT * TR;
}

void matmul_forward_frozen(float* out, const float* inp, const FrozenMatrix& w, const float* bias,
                           size_t BT, size_t C, size_t OC, float* scratch, ThreadPool* pool) {
  // out (BT, OC), inp (BT, C), w (OC, C), bias (OC)
  if (w.dtype != DType::NF4) {
    CARTLM_CHECK(w.data != nullptr);
    matmul(inp, BT, C, w.dtype, w.data, OC, bias, out, pool);
    return;
  }
  CARTLM_CHECK(w.nf4 && w.nf4->rows == OC && w.nf4->cols == C);
  const size_t TR = nf4_tile_rows(C, OC);
  CARTLM_CHECK(scratch != nullptr);
  float* tile = scratch;  // (TR, C)
  for (size_t r0 = 0; r0 < OC; r0 += TR) {
    const size_t r1 = std::min(OC, r0 + TR);
    dequant_rows(*w.nf4, r0, r1, tile, pool);
    // out[:, r0:r1] = inp · tileᵀ (+ bias[r0:r1]), written in place with row stride OC.
    matmul_strided(kernels(), inp, C, BT, C, DType::F32, tile, r1 - r0, bias ? bias + r0 : nullptr,
                   out + r0, OC, pool);
  }
}

void matmul_backward_frozen(float* dinp, const float* dout, const FrozenMatrix& w, size_t BT,
                            size_t C, size_t OC, float* scratch, ThreadPool* pool) {
  // dinp (BT, C) += dout (BT, OC) · w (OC, C)
  if (w.dtype != DType::NF4) {
    CARTLM_CHECK(w.data != nullptr);
    matmul_backward_x(dout, BT, OC, w.dtype, w.data, C, dinp, true, pool);
    return;
  }
  CARTLM_CHECK(w.nf4 && w.nf4->rows == OC && w.nf4->cols == C);
  const size_t TR = nf4_tile_rows(C, OC);
  CARTLM_CHECK(scratch != nullptr);
  float* tile = scratch;              // (TR, C)
  float* dtile = scratch + TR * C;    // (BT, TR)
  // Tiles in order, so dinp's sums have a fixed order whatever the thread count.
  for (size_t r0 = 0; r0 < OC; r0 += TR) {
    const size_t r1 = std::min(OC, r0 + TR), n = r1 - r0;
    dequant_rows(*w.nf4, r0, r1, tile, pool);
    for (size_t r = 0; r < BT; ++r)
      std::copy(dout + r * OC + r0, dout + r * OC + r1, dtile + r * n);
    matmul_backward_x(dtile, BT, n, DType::F32, tile, C, dinp, true, pool);
  }
}

void embedding_forward_frozen(float* out, const int32_t* tokens, const FrozenMatrix& wte, size_t BT,
                              size_t C, size_t V) {
  // out (BT, C), tokens (BT), wte (V, C)
  CARTLM_CHECK(wte.data != nullptr && wte.dtype != DType::NF4);
  const size_t esize = wte.dtype == DType::F32 ? 4 : 2;
  for (size_t i = 0; i < BT; ++i) {
    CARTLM_CHECK(tokens[i] >= 0 && (size_t)tokens[i] < V);
    convert_to_f32(wte.dtype, (const uint8_t*)wte.data + (size_t)tokens[i] * C * esize, out + i * C,
                   C);
  }
}

}  // namespace cartlm
