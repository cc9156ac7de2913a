#include "core/dtype.h"

#include <cctype>
#include <string>

namespace cartlm {

namespace {
struct Row {
  DType type;
  DTypeInfo info;
};
const Row kTable[] = {
    {DType::F32, {"F32", 1, 4}},       {DType::F16, {"F16", 1, 2}},
    {DType::BF16, {"BF16", 1, 2}},     {DType::Q4_0, {"Q4_0", 32, 18}},
    {DType::Q4_1, {"Q4_1", 32, 20}},   {DType::Q5_0, {"Q5_0", 32, 22}},
    {DType::Q5_1, {"Q5_1", 32, 24}},   {DType::Q8_0, {"Q8_0", 32, 34}},
    {DType::Q8_1, {"Q8_1", 32, 36}},   {DType::Q2_K, {"Q2_K", 256, 84}},
    {DType::Q3_K, {"Q3_K", 256, 110}}, {DType::Q4_K, {"Q4_K", 256, 144}},
    {DType::Q5_K, {"Q5_K", 256, 176}}, {DType::Q6_K, {"Q6_K", 256, 210}},
    {DType::Q8_K, {"Q8_K", 256, 292}}, {DType::I8, {"I8", 1, 1}},
    {DType::I16, {"I16", 1, 2}},       {DType::I32, {"I32", 1, 4}},
    {DType::I64, {"I64", 1, 8}},       {DType::F64, {"F64", 1, 8}},
    {DType::NF4, {"NF4", 64, 32}},  // codes only; block scales are stored separately
};
}  // namespace

const DTypeInfo* dtype_info(DType t) {
  for (const Row& r : kTable)
    if (r.type == t) return &r.info;
  return nullptr;
}

const char* dtype_name(DType t) {
  const DTypeInfo* i = dtype_info(t);
  return i ? i->name : "unknown";
}

std::optional<DType> dtype_from_name(std::string_view name) {
  std::string up;
  for (char c : name) up += (char)std::toupper((unsigned char)c);
  for (const Row& r : kTable)
    if (up == r.info.name) return r.type;
  return std::nullopt;
}

uint64_t dtype_row_bytes(DType t, uint64_t n) {
  const DTypeInfo* i = dtype_info(t);
  if (!i) return 0;
  return n / i->block_size * i->block_bytes;
}

float fp16_to_fp32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t fp32_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t abs = x & 0x7fffffff;
  if (abs > 0x7f800000) return (uint16_t)(sign | 0x7e00 | ((abs >> 13) & 0x3ff));  // NaN
  if (abs >= 0x477ff000) return (uint16_t)(sign | 0x7c00);  // rounds to >= 65520: inf
  if (abs < 0x38800000) {  // result is subnormal (or zero) in fp16
    if (abs < 0x33000000) return (uint16_t)sign;  // < half of the smallest subnormal
    uint32_t e = abs >> 23;
    uint32_t m = (abs & 0x7fffff) | 0x800000;
    int shift = 126 - (int)e;  // 14 - (e - 127) + 13 ... total shift to get 10-bit subnormal
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return (uint16_t)(sign | q);
  }
  uint32_t q = abs - 0x38000000;  // rebias exponent 127 -> 15
  uint32_t rem = q & 0x1fff;
  q >>= 13;
  if (rem > 0x1000 || (rem == 0x1000 && (q & 1))) ++q;
  return (uint16_t)(sign | q);
}

}  // namespace cartlm
