// Element types of weight tensors, with the ids GGUF uses (ggml_type) so one enum serves every
// format. Scalar fp16/bf16 conversions live here; vectorized ones are in src/kernels/.
#pragma once
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace cartlm {

enum class DType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, BF16 = 30,
  NF4 = 1000,  // cartlm-internal (QLoRA base weights); never written to GGUF
};

struct DTypeInfo {
  const char* name;
  uint32_t block_size;  // elements per block (1 for plain types)
  uint32_t block_bytes; // bytes per block
};
// nullptr for ids cartlm does not know.
const DTypeInfo* dtype_info(DType t);
const char* dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view name);  // "F16", "q4_k", ...
// Bytes of a row of n elements (n must be a multiple of the block size).
uint64_t dtype_row_bytes(DType t, uint64_t n);

// IEEE binary16 <-> binary32, round-to-nearest-even, overflow to inf, NaN kept (as ggml does).
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
// bfloat16: round-to-nearest-even; NaN forced quiet (as ggml does).
inline float bf16_to_fp32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline uint16_t fp32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffff) > 0x7f800000) return (uint16_t)((bits >> 16) | 64);  // NaN
  return (uint16_t)((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

}  // namespace cartlm
