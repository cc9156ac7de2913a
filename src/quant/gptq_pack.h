// The AutoGPTQ checkpoint layout of one GPTQ-quantized linear (REFERENCE.md §6.3, AutoGPTQ
// qlinear_cuda_old `pack`), for bits 2, 3, 4 and 8:
//   qweight int32 [in·bits/32, out]  column o holds the codes of output o along the input dim as a
//                                    little-endian bit stream: code of input c at bit c·bits
//                                    (4-bit: row k packs inputs 8k..8k+7, input 8k+j in bits 4j..;
//                                    3-bit: 32 codes in 3 words, the AutoGPTQ interleave is exactly
//                                    this stream)
//   qzeros  int32 [n_groups, out·bits/32]  zero points packed the same way along the OUTPUT dim,
//                                    stored as zero − 1 (AutoGPTQ "gptq" v1 convention; GPTQModel
//                                    calls the −1-free form "gptq_v2"; we write and read v1 only)
//   scales  fp16  [n_groups, out]
//   g_idx   int32 [in]               group of each input column
// Dequantization: w[o, c] = scales[g, o] · (q[c, o] − (qzeros[g, o] + 1)), g = g_idx[c].
#pragma once
#include <cstdint>
#include <vector>

#include "core/status.h"
#include "quant/gptq.h"

namespace cartlm {

struct AutoGptqLinear {
  int bits = 4;
  int64_t in = 0, out = 0, n_groups = 0;
  std::vector<int32_t> qweight;  // [in*bits/32, out]
  std::vector<int32_t> qzeros;   // [n_groups, out*bits/32]
  std::vector<uint16_t> scales;  // [n_groups, out] fp16 bits
  std::vector<int32_t> g_idx;    // [in]
};

// From a MinMax GptqResult ([out, in] codes, per-row group params). Errors: a non-MinMax result,
// bits outside {2,3,4,8}, in or out not a multiple of 32/gcd(bits, 32) (a whole number of words).
Result<AutoGptqLinear> autogptq_pack(const GptqResult& r, int bits);

// Checks shapes (and every g_idx in [0, n_groups)) and writes the codes q [out, in] and the
// (unshifted) zeros [n_groups, out]. `what` names the layer in errors.
Status autogptq_unpack(const AutoGptqLinear& l, std::vector<uint8_t>& q, std::vector<int32_t>& zeros,
                       const std::string& what);
// w [out, in] f32 = the dequantized weight.
Status autogptq_dequantize(const AutoGptqLinear& l, std::vector<float>& w, const std::string& what);

}  // namespace cartlm
