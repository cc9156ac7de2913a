// NF4 (4-bit NormalFloat, QLoRA) as bitsandbytes stores it (REFERENCE.md §5.4): blocks of 64
// consecutive elements (row-major, flat), each with an absmax; code = index of the nearest of the
// 16 NF4 levels to w/absmax (bnb's midpoint thresholds, a value exactly on a midpoint goes down);
// two codes per byte, element 2j in the HIGH nibble. Dequant: w = kNf4Levels[code] · absmax.
//
// Double quantization (bnb compress_statistics / bnb_4bit_use_double_quant): offset =
// mean(absmax); (absmax − offset) is quantized blockwise to 8 bits in blocks of 256 with bnb's
// signed dynamic map (create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)) and one
// fp32 scale per 256-block. absmax_b = dynamic[q_b] · absmax2[b / 256] + offset.
// Memory: 0.5 + 1/64 + 4/(64·256) ≈ 0.5159 bytes per parameter (0.5625 without double quant).
//
// cartlm keeps NF4 in memory only (QLoRA base weights quantized at load); it is never written to a
// file, so the layout is ours (bnb's packing order and values, but no bnb serialization).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace cartlm {

class ThreadPool;

constexpr size_t kNf4Block = 64;         // elements per absmax
constexpr size_t kNf4NestedBlock = 256;  // absmax values per second-level fp32 scale
// The 16 NF4 levels, index 0..15 (bitsandbytes' values as float32).
extern const float kNf4Levels[16];
// bnb's signed dynamic 8-bit map (256 sorted values in [-1, 1], 0 and 1 included), computed with
// bnb's algorithm in float32.
const float* nf4_dynamic_map();

// Nearest NF4 level index for x in [-1, 1] (bnb dQuantizeNF4 thresholds).
uint8_t nf4_code(float x);

struct Nf4Tensor {
  size_t rows = 0, cols = 0;  // logical (out, in); rows·cols must be a multiple of 64
  bool double_quant = true;
  std::vector<uint8_t> codes;     // rows·cols / 2
  std::vector<float> absmax;      // one per 64-block (double_quant == false)
  std::vector<uint8_t> absmax_q;  // one per 64-block (double_quant): index into nf4_dynamic_map()
  std::vector<float> absmax2;     // one per 256 blocks (double_quant)
  float offset = 0.0f;            // mean of the block absmax values (double_quant)
  size_t numel() const { return rows * cols; }
  size_t num_blocks() const { return numel() / kNf4Block; }
  size_t bytes() const {
    return codes.size() + absmax.size() * 4 + absmax_q.size() + absmax2.size() * 4 + 4;
  }
  // The fp32 absmax of block b (after double-quant round trip when double_quant).
  float block_absmax(size_t b) const;
};

// w (rows, cols) of wtype F32/F16/BF16 -> NF4. rows·cols must be a multiple of 64 (checked: the
// caller validates shapes). Blocks are split over pool (nullable); the result does not depend on
// it.
Nf4Tensor nf4_quantize(DType wtype, const void* w, size_t rows, size_t cols, bool double_quant,
                       ThreadPool* pool = nullptr);
// Elements [begin, end) of the flat tensor -> out[0 .. end-begin).
void nf4_dequantize(const Nf4Tensor& t, size_t begin, size_t end, float* out);

}  // namespace cartlm
