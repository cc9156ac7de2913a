// The block structs of the GGUF block-quantized formats, byte for byte as ggml lays them out
// (REFERENCE.md §2.2-2.3). All fields are little-endian; fp16 fields are IEEE binary16 bit
// patterns (uint16_t) converted with fp16_to_fp32/fp32_to_fp16 from core/dtype.h.
//
// A row of n elements of a format is n / block_size consecutive blocks, with no padding between
// them, so a row can be viewed as an array of these structs (all alignments are <= 4 and every
// size is a multiple of the struct's alignment).
#pragma once
#include <cstdint>

namespace cartlm {

constexpr int kQK = 32;    // elements per block of the legacy formats (Q4_0 ... Q8_1)
constexpr int kQKK = 256;  // elements per super-block of the K-quants (QK_K)

// 8.5 bits/weight. y = d * qs[i].
struct BlockQ8_0 {
  uint16_t d;  // fp16
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_0) == 34);

// Activations for Q4_1/Q5_1 dot products. y = d * qs[i]; s = fp16(d * sum(qs)) (d unrounded).
struct BlockQ8_1 {
  uint16_t d;  // fp16
  uint16_t s;  // fp16
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_1) == 36);

// 4.5 bits/weight. qs[j] low nibble = element j, high nibble = element j + 16. y = d * (q - 8).
struct BlockQ4_0 {
  uint16_t d;  // fp16
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// 5 bits/weight. Nibbles as Q4_0. y = d * q + m.
struct BlockQ4_1 {
  uint16_t d;  // fp16
  uint16_t m;  // fp16
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_1) == 20);

// 5.5 bits/weight. Low 4 bits as Q4_0; qh read as a little-endian u32: bit j = bit 4 of element j.
// y = d * (q - 16).
struct BlockQ5_0 {
  uint16_t d;  // fp16
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_0) == 22);

// 6 bits/weight. Bits as Q5_0. y = d * q + m.
struct BlockQ5_1 {
  uint16_t d;  // fp16
  uint16_t m;  // fp16
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_1) == 24);

// 2.625 bits/weight. 16 sub-blocks of 16; scales[j] low nibble = scale, high nibble = min.
// Element e (0..255): byte qs[32*(e/128) + e%32], bits 2*((e%128)/32). y = d*sc*q - dmin*m.
struct BlockQ2_K {
  uint8_t scales[kQKK / 16];
  uint8_t qs[kQKK / 4];
  uint16_t d;     // fp16
  uint16_t dmin;  // fp16
};
static_assert(sizeof(BlockQ2_K) == 84);

// 3.4375 bits/weight. 16 sub-blocks of 16 with 6-bit signed scales (stored +32, packed in 12
// bytes). Low 2 bits as Q2_K; hmask[e%32] bit e/32 is the high bit. y = d*(sc-32)*(q - 4*!hbit).
struct BlockQ3_K {
  uint8_t hmask[kQKK / 8];
  uint8_t qs[kQKK / 4];
  uint8_t scales[12];
  uint16_t d;  // fp16
};
static_assert(sizeof(BlockQ3_K) == 110);

// 4.5 bits/weight. 8 sub-blocks of 32 with 6-bit scale and min (get_scale_min_k4 packing).
// Chunk c (64 elements): qs[32c + l] low nibble = element 64c + l, high = element 64c + 32 + l.
struct BlockQ4_K {
  uint16_t d;     // fp16
  uint16_t dmin;  // fp16
  uint8_t scales[12];
  uint8_t qs[kQKK / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

// 5.5 bits/weight. As Q4_K plus a 5th bit: element 64c + l -> bit 2c of qh[l], element
// 64c + 32 + l -> bit 2c + 1 of qh[l].
struct BlockQ5_K {
  uint16_t d;     // fp16
  uint16_t dmin;  // fp16
  uint8_t scales[12];
  uint8_t qh[kQKK / 8];
  uint8_t qs[kQKK / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);

// 6.5625 bits/weight. 16 sub-blocks of 16 with int8 scales. y = d * scales[e/16] * (q - 32).
struct BlockQ6_K {
  uint8_t ql[kQKK / 2];  // low 4 bits
  uint8_t qh[kQKK / 4];  // high 2 bits
  int8_t scales[kQKK / 16];
  uint16_t d;  // fp16
};
static_assert(sizeof(BlockQ6_K) == 210);

// Activations for K-quant dot products. y = d * qs[i]; bsums[g] = sum of qs[16g .. 16g+15].
struct BlockQ8_K {
  float d;  // f32, not fp16
  int8_t qs[kQKK];
  int16_t bsums[kQKK / 16];
};
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace cartlm
