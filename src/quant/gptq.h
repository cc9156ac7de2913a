// GPTQ (Frantar et al. 2022), as IST-DASLab/gptq `fasterquant` and AutoGPTQ do it (REFERENCE.md
// §6): quantize a linear layer's weight W [rows = out, cols = in] one input column at a time and
// push each column's rounding error onto the columns not yet quantized, weighted by the inverse
// Hessian H⁻¹ of the layer's inputs (H = 2/n_seq · Σ x xᵀ). Uses the Cholesky formulation:
// U = upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU); blocks of `block_size` columns with lazy batch
// updates of the columns after the block.
//
// The rounding grid is pluggable, so GPTQ's error compensation also works inside llama.cpp's
// formats:
//   MinMax  AutoGPTQ's quantizer: per (output row, group of group_size input columns) scale and
//           integer zero from the group's min/max (sym: zero = 2^(bits-1)); ŵ = s·(q − z),
//           s rounded to fp16 because that is what the checkpoint stores. Parameters of a group
//           are computed when GPTQ reaches the group's first column (in processing order), from
//           the weights as updated so far (AutoGPTQ's static_groups = false).
//   Q4_0    llama.cpp Q4_0 blocks of 32 contiguous columns: d = fp16(max / −8) where max is the
//           signed value of largest magnitude in the block at the time GPTQ reaches it;
//           ŵ = d·(q − 8), q in 0..15. The codes are written into BlockQ4_0 unchanged.
//   Q4_K    llama.cpp Q4_K: super-block scales/mins come from quantize_q4_k_ref (or the
//           importance version) of the ORIGINAL weights; GPTQ then only chooses the 4-bit codes on
//           that fixed grid: ŵ = d·sc·q − dmin·m per sub-block of 32.
// With act_order (desc_act) columns are processed in order of decreasing diag(H); for MinMax the
// groups then follow the processing order (g_idx[c] = position of c in perm / group_size, as
// AutoGPTQ), for the GGUF grids groups stay the format's contiguous blocks.
#pragma once
#include <cstdint>
#include <vector>

#include "core/status.h"

namespace cartlm {

class ThreadPool;

enum class GptqGrid { MinMax, Q4_0, Q4_K };
const char* gptq_grid_name(GptqGrid g);  // "minmax", "q4_0", "q4_k"

struct GptqOptions {
  int bits = 4;                  // MinMax: 2, 3, 4 or 8; Q4_0/Q4_K: 4
  int64_t group_size = 128;      // MinMax: columns per group, -1 = one group per row
  bool sym = true;               // MinMax only
  bool act_order = false;        // desc_act
  double damp = 0.01;            // percdamp: H += damp · mean(diag H) · I
  int64_t block_size = 128;      // lazy-update block (columns)
  GptqGrid grid = GptqGrid::MinMax;
  // Q4_K only: per-column importance for the super-block scales (imatrix), nullptr = _ref.
  const float* importance = nullptr;
};

// The accumulated input statistics of one linear layer (shared by the linears that read the same
// input, e.g. q/k/v). Σ x xᵀ is kept in double; H() = 2 · sum / n_seq as gptq's add_batch.
struct GptqHessian {
  int64_t cols = 0;
  int64_t n_seq = 0;        // sequences added (gptq's nsamples counts sequences, not tokens)
  int64_t n_tokens = 0;
  std::vector<double> sum;  // [cols, cols] Σ x xᵀ (full symmetric matrix after add)
};
GptqHessian gptq_hessian(int64_t cols);
// x [tokens, cols] rows of one or more sequences (n_seq of them).
void gptq_hessian_add(GptqHessian& h, const float* x, int64_t tokens, int64_t n_seq,
                      ThreadPool* pool = nullptr);

struct GptqResult {
  int64_t rows = 0, cols = 0;
  int64_t n_groups = 0;          // MinMax: ceil(cols / group_size); Q4_0: cols/32; Q4_K: cols/32
  std::vector<uint8_t> q;        // [rows, cols] integer codes 0 .. 2^bits − 1
  std::vector<float> scale;      // [rows, n_groups]
  std::vector<float> zero;       // [rows, n_groups] MinMax/Q4_0: integer zero; Q4_K: dmin·m
  std::vector<int32_t> g_idx;    // [cols] group of each input column
  std::vector<int32_t> perm;     // [cols] processing order (identity without act_order)
  std::vector<float> w_hat;      // [rows, cols] the dequantized result, exactly as stored
  // Q4_0 / Q4_K: the finished GGUF rows (rows × row bytes), codes written into the blocks.
  std::vector<uint8_t> blocks;
  double avg_loss = 0.0;         // Σ err²/U_ii² / rows (gptq's reported "error")
};

// Dequantized value of code q in group g of row r.
inline float gptq_dequant(GptqGrid grid, float scale, float zero, int q) {
  return grid == GptqGrid::Q4_K ? scale * (float)q - zero : scale * ((float)q - zero);
}

// Runs GPTQ on w [rows, cols] (row-major f32) with the Hessian. Errors: bad options (bits, group
// size not dividing into the grid's blocks, cols not a multiple of 32 for Q4_0 / 256 for Q4_K),
// non-finite weights, a Hessian that stays not positive definite after dampening.
Result<GptqResult> gptq_quantize(const float* w, int64_t rows, int64_t cols, const GptqHessian& h,
                                 const GptqOptions& opt, ThreadPool* pool = nullptr);

// Round-to-nearest on the same grid (no error feedback, no act_order): the baseline GPTQ beats.
Result<GptqResult> rtn_quantize(const float* w, int64_t rows, int64_t cols,
                                const GptqOptions& opt);

// ‖X Wᵀ − X Ŵᵀ‖² / ‖X Wᵀ‖² over x [tokens, cols] (for tests and logs).
double relative_output_error(const float* x, int64_t tokens, const float* w, const float* w_hat,
                             int64_t rows, int64_t cols);

}  // namespace cartlm
