// Every code of every block format decodes as the documented formula (STYLE.md §4.4), and the
// legacy formats produce hand-derived golden bytes.
//
// Blocks here are built from raw bytes at the offsets REFERENCE.md §2.2-2.3 documents, not through
// quant/blocks.h, so a wrong struct or a wrong bit position in src/quant fails these tests.
// Expected values are computed in llama.cpp's operation order (e.g. (d·sc)·q - dmin·m), so the
// comparisons are exact: cartlm's dequantization must equal llama.cpp's bit for bit.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "quant/k_quants_helpers.h"
#include "quant/quant.h"
#include "quant_test_util.h"

namespace cartlm {
namespace {

// fp16 patterns for block factors: 1, ~0.1, a negative normal, the smallest subnormal, the max.
const uint16_t kHalfs[] = {0x3C00, 0x2E66, 0x8400, 0x0001, 0x7BFF};

void put_u16(uint8_t* p, uint16_t v) {
  p[0] = (uint8_t)(v & 0xFF);
  p[1] = (uint8_t)(v >> 8);
}

std::vector<float> decode(DType t, const std::vector<uint8_t>& block) {
  const int n = test::block_size_of(t);
  EXPECT_EQ((int)block.size(), test::block_bytes_of(t));
  std::vector<float> y(n);
  quant_traits(t)->dequantize_row(block.data(), y.data(), n);
  return y;
}

// ---------------------------------------------------------------------------------------------
// Legacy formats: all byte / code values at every position.
// ---------------------------------------------------------------------------------------------

TEST(Codes, Q8_0AllByteValuesAtEveryPosition) {
  for (uint16_t h : kHalfs) {
    const float d = fp16_to_fp32(h);
    for (int pos = 0; pos < 32; ++pos) {
      for (int v = 0; v < 256; ++v) {
        std::vector<uint8_t> b(34, 0);
        put_u16(b.data(), h);
        b[2 + pos] = (uint8_t)v;
        std::vector<float> y = decode(DType::Q8_0, b);
        for (int j = 0; j < 32; ++j) {
          const float q = j == pos ? (float)(int8_t)v : 0.0f;
          ASSERT_EQ(y[j], q * d) << "pos " << pos << " byte " << v << " elem " << j;
        }
      }
    }
  }
}

TEST(Codes, Q4_0AllNibblePairsAtEveryPosition) {
  for (uint16_t h : kHalfs) {
    const float d = fp16_to_fp32(h);
    for (int pos = 0; pos < 16; ++pos) {
      for (int v = 0; v < 256; ++v) {
        std::vector<uint8_t> b(18, 0);
        put_u16(b.data(), h);
        b[2 + pos] = (uint8_t)v;
        std::vector<float> y = decode(DType::Q4_0, b);
        for (int j = 0; j < 16; ++j) {
          const int lo = j == pos ? (v & 0xF) : 0, hi = j == pos ? (v >> 4) : 0;
          ASSERT_EQ(y[j], (lo - 8) * d) << "pos " << pos << " byte " << v;
          ASSERT_EQ(y[j + 16], (hi - 8) * d) << "pos " << pos << " byte " << v;
        }
      }
    }
  }
}

TEST(Codes, Q4_1AllNibblePairsAtEveryPosition) {
  const uint16_t m_half = 0xBD00;  // -1.25
  const float m = fp16_to_fp32(m_half);
  for (uint16_t h : kHalfs) {
    const float d = fp16_to_fp32(h);
    for (int pos = 0; pos < 16; ++pos) {
      for (int v = 0; v < 256; ++v) {
        std::vector<uint8_t> b(20, 0);
        put_u16(b.data(), h);
        put_u16(b.data() + 2, m_half);
        b[4 + pos] = (uint8_t)v;
        std::vector<float> y = decode(DType::Q4_1, b);
        const int lo = v & 0xF, hi = v >> 4;
        ASSERT_EQ(y[pos], lo * d + m) << "pos " << pos << " byte " << v;
        ASSERT_EQ(y[pos + 16], hi * d + m) << "pos " << pos << " byte " << v;
        ASSERT_EQ(y[(pos + 1) % 16], m);
      }
    }
  }
}

// Q5_0 / Q5_1: element j's 5th bit is bit j of qh (a little-endian u32), low 4 bits as Q4_0.
void check_q5(DType t) {
  const bool has_min = t == DType::Q5_1;
  const int qh_off = has_min ? 4 : 2, qs_off = qh_off + 4;
  const uint16_t m_half = 0x3800;  // 0.5
  const float m = has_min ? fp16_to_fp32(m_half) : 0.0f;
  for (uint16_t h : kHalfs) {
    const float d = fp16_to_fp32(h);
    for (int elem = 0; elem < 32; ++elem) {
      for (int v = 0; v < 32; ++v) {
        std::vector<uint8_t> b((size_t)test::block_bytes_of(t), 0);
        put_u16(b.data(), h);
        if (has_min) put_u16(b.data() + 2, m_half);
        const int byte = elem % 16, shift = elem < 16 ? 0 : 4;
        b[qs_off + byte] = (uint8_t)((v & 0xF) << shift);
        if (v & 0x10) b[qh_off + elem / 8] = (uint8_t)(1 << (elem % 8));
        std::vector<float> y = decode(t, b);
        for (int j = 0; j < 32; ++j) {
          const int q = j == elem ? v : 0;
          const float expect = has_min ? q * d + m : (q - 16) * d;
          ASSERT_EQ(y[j], expect) << dtype_name(t) << " elem " << elem << " code " << v << " at " << j;
        }
      }
    }
  }
}
TEST(Codes, Q5_0AllCodesAtEveryPosition) { check_q5(DType::Q5_0); }
TEST(Codes, Q5_1AllCodesAtEveryPosition) { check_q5(DType::Q5_1); }

TEST(Codes, Q8_KAllByteValues) {
  for (float d : {1.0f, 0.0123f, -3.5f}) {
    for (int pos : {0, 17, 255}) {
      for (int v = 0; v < 256; ++v) {
        std::vector<uint8_t> b(292, 0);
        std::memcpy(b.data(), &d, 4);
        b[4 + pos] = (uint8_t)v;
        std::vector<float> y = decode(DType::Q8_K, b);
        ASSERT_EQ(y[pos], d * (float)(int8_t)v);
        ASSERT_EQ(y[(pos + 1) % 256], 0.0f * d);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// K-quants. Element e of a 2-bit plane (Q2_K, Q3_K low bits): byte 32·(e/128) + e%32, bits
// 2·((e%128)/32) (REFERENCE.md §2.3, Q3_K "qs").
// ---------------------------------------------------------------------------------------------

void put_2bit(uint8_t* qs, int e, int v) {
  qs[32 * (e / 128) + e % 32] |= (uint8_t)((v & 3) << (2 * ((e % 128) / 32)));
}

TEST(Codes, Q2_KEveryElementEveryCode) {
  // layout: scales[16] @0, qs[64] @16, d @80, dmin @82
  const uint16_t d_half = 0x3555, dmin_half = 0x2C00;
  const float d = fp16_to_fp32(d_half), dmin = fp16_to_fp32(dmin_half);
  for (int e = 0; e < 256; ++e) {
    for (int v = 0; v < 4; ++v) {
      std::vector<uint8_t> b(84, 0);
      for (int j = 0; j < 16; ++j) b[j] = (uint8_t)((j % 15 + 1) | ((15 - j) << 4));
      put_2bit(b.data() + 16, e, v);
      put_u16(b.data() + 80, d_half);
      put_u16(b.data() + 82, dmin_half);
      std::vector<float> y = decode(DType::Q2_K, b);
      for (int k = 0; k < 256; ++k) {
        const int sc = k / 16 % 15 + 1, m = 15 - k / 16, q = k == e ? v : 0;
        ASSERT_EQ(y[k], (d * sc) * q - dmin * m) << "e " << e << " v " << v << " k " << k;
      }
    }
  }
}

TEST(Codes, Q2_KAllScaleBytesOfEverySubBlock) {
  const uint16_t d_half = 0x3C00, dmin_half = 0x3800;
  const float d = fp16_to_fp32(d_half), dmin = fp16_to_fp32(dmin_half);
  for (int j = 0; j < 16; ++j) {
    for (int s = 0; s < 256; ++s) {
      std::vector<uint8_t> b(84, 0);
      b[j] = (uint8_t)s;
      for (int e = 16 * j; e < 16 * j + 16; ++e) put_2bit(b.data() + 16, e, e % 4);
      put_u16(b.data() + 80, d_half);
      put_u16(b.data() + 82, dmin_half);
      std::vector<float> y = decode(DType::Q2_K, b);
      for (int e = 16 * j; e < 16 * j + 16; ++e)
        ASSERT_EQ(y[e], (d * (s & 0xF)) * (e % 4) - dmin * (s >> 4)) << "j " << j << " s " << s;
    }
  }
}

// Q3_K scale packing per REFERENCE.md: j<8: scales[j] low nibble = l & 0xF; j>=8: scales[j-8]
// high nibble; all j: scales[8 + j%4] |= (l >> 4) << 2·(j/4).
void put_q3_scale(uint8_t* scales, int j, int l) {
  if (j < 8)
    scales[j] |= (uint8_t)(l & 0xF);
  else
    scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
  scales[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
}

TEST(Codes, Q3_KAllSixBitScalesRoundTrip) {
  Rng rng(3);
  for (int j = 0; j < 16; ++j) {
    for (int l = 0; l < 64; ++l) {
      // Every other sub-block gets a random scale so cross-talk between packings shows up.
      int all[16];
      uint8_t scales[12] = {0};
      for (int k = 0; k < 16; ++k) {
        all[k] = k == j ? l : (int)rng.uniform(64);
        put_q3_scale(scales, k, all[k]);
      }
      for (int k = 0; k < 16; ++k) ASSERT_EQ(q3_k_scale(scales, k), all[k]) << "j " << j << " l " << l;
    }
  }
}

TEST(Codes, Q3_KEveryElementEveryCode) {
  // layout: hmask[32] @0, qs[64] @32, scales[12] @96, d @108. Value = d·(l-32)·(low - 4·!hbit).
  const uint16_t d_half = 0x2E66;
  const float d = fp16_to_fp32(d_half);
  for (int e = 0; e < 256; ++e) {
    for (int v = 0; v < 8; ++v) {
      std::vector<uint8_t> b(110, 0);
      for (int j = 0; j < 16; ++j) put_q3_scale(b.data() + 96, j, 4 * j + 2);
      put_2bit(b.data() + 32, e, v & 3);
      if (v & 4) b[e % 32] |= (uint8_t)(1 << (e / 32));
      put_u16(b.data() + 108, d_half);
      std::vector<float> y = decode(DType::Q3_K, b);
      for (int k = 0; k < 256; ++k) {
        const int low = k == e ? (v & 3) : 0, hbit = k == e ? (v >> 2) : 0;
        const float dl = d * ((4 * (k / 16) + 2) - 32);
        ASSERT_EQ(y[k], dl * (low - (hbit ? 0 : 4))) << "e " << e << " v " << v << " k " << k;
      }
    }
  }
}

// Q4_K/Q5_K scale/min packing per REFERENCE.md §2.3.
void put_scale_min(uint8_t* s, int j, int sc, int m) {
  if (j < 4) {
    s[j] |= (uint8_t)sc;
    s[j + 4] |= (uint8_t)m;
  } else {
    s[j + 4] |= (uint8_t)((sc & 0xF) | ((m & 0xF) << 4));
    s[j - 4] |= (uint8_t)((sc >> 4) << 6);
    s[j] |= (uint8_t)((m >> 4) << 6);
  }
}

TEST(Codes, GetScaleMinK4AllPairsOfEverySubBlock) {
  Rng rng(4);
  for (int j = 0; j < 8; ++j) {
    for (int sc = 0; sc < 64; ++sc) {
      for (int m = 0; m < 64; ++m) {
        int all_sc[8], all_m[8];
        uint8_t s[12] = {0};
        for (int k = 0; k < 8; ++k) {
          all_sc[k] = k == j ? sc : (int)rng.uniform(64);
          all_m[k] = k == j ? m : (int)rng.uniform(64);
          put_scale_min(s, k, all_sc[k], all_m[k]);
        }
        for (int k = 0; k < 8; ++k) {
          uint8_t got_sc, got_m;
          get_scale_min_k4(k, s, &got_sc, &got_m);
          ASSERT_EQ(got_sc, all_sc[k]) << "j " << j << " sc " << sc << " m " << m << " k " << k;
          ASSERT_EQ(got_m, all_m[k]) << "j " << j << " sc " << sc << " m " << m << " k " << k;
        }
      }
    }
  }
}

// The quantizers' own packer (used in llama.cpp's order j = 0..7) inverts get_scale_min_k4 for
// every (scale, min) pair of every sub-block.
TEST(Codes, PutScaleMinK4RoundTripsAllPairs) {
  Rng rng(5);
  for (int j = 0; j < 8; ++j) {
    for (int sc = 0; sc < 64; ++sc) {
      for (int m = 0; m < 64; ++m) {
        int all_sc[8], all_m[8];
        uint8_t s[12];
        std::memset(s, 0xA5, sizeof(s));  // every byte must be written, not just OR-ed
        for (int k = 0; k < 8; ++k) {
          all_sc[k] = k == j ? sc : (int)rng.uniform(64);
          all_m[k] = k == j ? m : (int)rng.uniform(64);
          quant_detail::put_scale_min_k4(k, (uint8_t)all_sc[k], (uint8_t)all_m[k], s);
        }
        for (int k = 0; k < 8; ++k) {
          uint8_t got_sc, got_m;
          get_scale_min_k4(k, s, &got_sc, &got_m);
          ASSERT_EQ(got_sc, all_sc[k]);
          ASSERT_EQ(got_m, all_m[k]);
        }
      }
    }
  }
}

// nearest_int rounds half to even (the 1.5·2^23 trick), unlike lroundf.
TEST(Codes, NearestIntRoundsHalfToEven) {
  using quant_detail::nearest_int;
  EXPECT_EQ(nearest_int(0.5f), 0);
  EXPECT_EQ(nearest_int(1.5f), 2);
  EXPECT_EQ(nearest_int(2.5f), 2);
  EXPECT_EQ(nearest_int(-0.5f), 0);
  EXPECT_EQ(nearest_int(-1.5f), -2);
  EXPECT_EQ(nearest_int(-2.5f), -2);
  EXPECT_EQ(nearest_int(0.49999997f), 0);
  EXPECT_EQ(nearest_int(-31.7f), -32);
  EXPECT_EQ(nearest_int(4194303.0f), 4194303);
  EXPECT_EQ(nearest_int(-4194303.0f), -4194303);
  for (int i = -1000; i <= 1000; ++i) ASSERT_EQ(nearest_int((float)i + 0.25f), i);
}

// Q4_K: d @0, dmin @2, scales @4, qs[128] @16; element 64c + l: low nibble of qs[32c + l],
// element 64c + 32 + l: high nibble. Q5_K: qh[32] @16, qs @48; 5th bit of element 64c + l is bit
// 2c of qh[l], of 64c + 32 + l bit 2c + 1.
void check_q45_k(DType t) {
  const bool five = t == DType::Q5_K;
  const int qs_off = five ? 48 : 16, nvals = five ? 32 : 16;
  const uint16_t d_half = 0x2E66, dmin_half = 0x2A00;
  const float d = fp16_to_fp32(d_half), dmin = fp16_to_fp32(dmin_half);
  auto sc_of = [](int j) { return 7 * j + 5; };
  auto m_of = [](int j) { return 63 - 5 * j; };
  for (int e = 0; e < 256; ++e) {
    for (int v = 0; v < nvals; ++v) {
      std::vector<uint8_t> b((size_t)test::block_bytes_of(t), 0);
      put_u16(b.data(), d_half);
      put_u16(b.data() + 2, dmin_half);
      for (int j = 0; j < 8; ++j) put_scale_min(b.data() + 4, j, sc_of(j), m_of(j));
      const int c = e / 64, r = e % 64, l = r % 32, upper = r / 32;
      b[qs_off + 32 * c + l] |= (uint8_t)((v & 0xF) << (4 * upper));
      if (v & 0x10) b[16 + l] |= (uint8_t)(1 << (2 * c + upper));
      std::vector<float> y = decode(t, b);
      for (int k = 0; k < 256; ++k) {
        const int j = k / 32, q = k == e ? v : 0;
        ASSERT_EQ(y[k], (d * sc_of(j)) * q - dmin * m_of(j))
            << dtype_name(t) << " e " << e << " v " << v << " k " << k;
      }
    }
  }
}
TEST(Codes, Q4_KEveryElementEveryCode) { check_q45_k(DType::Q4_K); }
TEST(Codes, Q5_KEveryElementEveryCode) { check_q45_k(DType::Q5_K); }

// Q6_K: ql[128] @0, qh[64] @128, scales int8[16] @192, d @208. Element e in half h = e/128,
// r = e%128: low nibble of ql[64h + r%64] (high half of the byte when r >= 64), 2 high bits at
// 2·(r/32) of qh[32h + r%32]. y = (d·scale)·(q - 32).
void put_q6(uint8_t* b, int e, int v) {
  const int h = e / 128, r = e % 128;
  b[64 * h + r % 64] |= (uint8_t)((v & 0xF) << (4 * (r / 64)));
  b[128 + 32 * h + r % 32] |= (uint8_t)((v >> 4) << (2 * (r / 32)));
}

TEST(Codes, Q6_KEveryElementEveryCode) {
  const uint16_t d_half = 0x2E66;
  const float d = fp16_to_fp32(d_half);
  for (int e = 0; e < 256; ++e) {
    for (int v = 0; v < 64; ++v) {
      std::vector<uint8_t> b(210, 0);
      for (int j = 0; j < 16; ++j) b[192 + j] = (uint8_t)(int8_t)(j * 17 - 128);
      for (int k = 0; k < 256; ++k) put_q6(b.data(), k, k == e ? v : 32);
      put_u16(b.data() + 208, d_half);
      std::vector<float> y = decode(DType::Q6_K, b);
      for (int k = 0; k < 256; ++k) {
        const int q = k == e ? v : 32;
        ASSERT_EQ(y[k], (d * (k / 16 * 17 - 128)) * (q - 32)) << "e " << e << " v " << v;
      }
    }
  }
}

TEST(Codes, Q6_KAllScaleBytes) {
  const uint16_t d_half = 0x3C00;
  for (int j = 0; j < 16; ++j) {
    for (int s = 0; s < 256; ++s) {
      std::vector<uint8_t> b(210, 0);
      for (int k = 0; k < 256; ++k) put_q6(b.data(), k, 63);  // q - 32 = 31
      b[192 + j] = (uint8_t)s;
      put_u16(b.data() + 208, d_half);
      std::vector<float> y = decode(DType::Q6_K, b);
      for (int k = 0; k < 256; ++k) {
        const int sc = k / 16 == j ? (int8_t)s : 0;
        ASSERT_EQ(y[k], (1.0f * sc) * 31) << "j " << j << " s " << s;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Golden bytes, derived by hand from REFERENCE.md §2.2. The inputs make d a power of two
// (d = 1), so every quant follows from the documented rounding rule alone: Q8_0 rounds half away
// from zero; Q4_0/Q4_1/Q5_0/Q5_1 truncate x/d + offset.
// ---------------------------------------------------------------------------------------------

std::vector<uint8_t> quantize_block(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> out((size_t)test::block_bytes_of(t));
  quant_traits(t)->quantize_row_ref(x.data(), out.data(), (int64_t)x.size());
  return out;
}

TEST(Golden, Q8_0) {
  // amax 127 -> d = 1 (fp16 0x3C00); halves round away from zero.
  std::vector<float> x = {-127, 2.5f, -2.5f, 0.5f, -0.49f, 126.5f, 1.5f, 0, 100.4f, -0.5f};
  for (int j = 10; j < 32; ++j) x.push_back((float)(j - 16));
  const std::vector<uint8_t> expect = {
      0x00, 0x3C, 0x81, 0x03, 0xFD, 0x01, 0x00, 0x7F, 0x02, 0x00, 0x64, 0xFF, 0xFA, 0xFB,
      0xFC, 0xFD, 0xFE, 0xFF, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
      0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F};
  EXPECT_EQ(quantize_block(DType::Q8_0, x), expect);
}

TEST(Golden, Q4_0) {
  // Signed absmax -8 (first of the tie with +8) -> d = -8 / -8 = 1. q = min(15, trunc(x + 8.5)):
  // +8 clips to 15, 0.4 -> 8, 0.5 -> 9, -0.5 -> 8, -0.6 -> 7, 3.49 -> 11, -7.9 -> 0, -7.4 -> 1.
  std::vector<float> x = {-8, 8, 7, 0.4f, 0.5f, -0.5f, -0.6f, 3.49f, -7.9f, -7.4f};
  for (int j = 10; j < 32; ++j) x.push_back((float)(j % 15 - 7));
  const std::vector<uint8_t> expect = {0x00, 0x3C, 0x20, 0x3F, 0x4F, 0x58, 0x69, 0x78, 0x87,
                                       0x9B, 0xA0, 0xB1, 0xCB, 0xDC, 0xED, 0xFE, 0x1F, 0x21};
  EXPECT_EQ(quantize_block(DType::Q4_0, x), expect);
}

// Packs hand-derived quants q[32] of a 32-element format: header bytes, then (Q5) qh, then nibbles.
std::vector<uint8_t> pack_legacy(std::vector<uint8_t> header, const std::vector<int>& q, bool five) {
  std::vector<uint8_t> out = std::move(header);
  if (five) {
    uint32_t qh = 0;
    for (int j = 0; j < 32; ++j) qh |= (uint32_t)((q[j] >> 4) & 1) << j;
    for (int k = 0; k < 4; ++k) out.push_back((uint8_t)(qh >> (8 * k)));
  }
  for (int j = 0; j < 16; ++j) out.push_back((uint8_t)((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4)));
  return out;
}

TEST(Golden, Q4_1) {
  // min -1, max 14 -> d = 15/15 = 1 (0x3C00), m = -1 (0xBC00); q = min(15, trunc(x + 1 + 0.5)).
  std::vector<float> x = {-1, 14, 0, 0.49f, -0.5f, 6.5f, 13.6f, -0.99f};
  std::vector<int> q = {0, 15, 1, 1, 1, 8, 15, 0};
  for (int j = 8; j < 32; ++j) {
    x.push_back((float)(j % 15 - 1));
    q.push_back(j % 15);
  }
  EXPECT_EQ(quantize_block(DType::Q4_1, x), pack_legacy({0x00, 0x3C, 0x00, 0xBC}, q, false));
}

TEST(Golden, Q5_0) {
  // Signed absmax -16 -> d = 1; q = min(31, trunc(x + 16.5)): +16 clips to 31, -0.6 -> 15.
  std::vector<float> x = {-16, 16, 15, 0, -0.6f, 0.5f, -15.4f, 7.49f};
  std::vector<int> q = {0, 31, 31, 16, 15, 17, 1, 23};
  for (int j = 8; j < 32; ++j) {
    x.push_back((float)(j % 31 - 16));
    q.push_back(j % 31);
  }
  EXPECT_EQ(quantize_block(DType::Q5_0, x), pack_legacy({0x00, 0x3C}, q, true));
}

TEST(Golden, Q5_1) {
  // min -1, max 30 -> d = 31/31 = 1, m = -1; q = trunc(x + 1 + 0.5).
  std::vector<float> x = {-1, 30, 0.49f, -0.5f, 29.6f, 10.5f};
  std::vector<int> q = {0, 31, 1, 1, 31, 12};
  for (int j = 6; j < 32; ++j) {
    x.push_back((float)(j - 7));
    q.push_back(j - 6);
  }
  EXPECT_EQ(quantize_block(DType::Q5_1, x), pack_legacy({0x00, 0x3C, 0x00, 0xBC}, q, true));
}

}  // namespace
}  // namespace cartlm
