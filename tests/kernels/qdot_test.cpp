// Block-quantized dot products and matmul() on block types: every table against the scalar twins
// (random block bytes, so every bit pattern of the quants and scales is exercised), hand-built
// blocks with known answers, and the matmul contract (bias, strides, T- and thread-independence).
// The scalar references themselves are checked against dequantize-then-dot in
// tests/quant/vec_dot_test.cpp and their Q8 quantizers against llama.cpp's bytes in
// tests/quant/act_quant_test.cpp and llama_cpp_digest_test.cpp (quant links kernels).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "kernels/test_util.h"
#include "quant/blocks.h"

namespace cartlm {
namespace {

const DType kWeightTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                              DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};

uint16_t rand_scale(Rng& rng, float lo, float hi) {
  return fp32_to_fp16(lo + (hi - lo) * rng.uniform_float());
}

// `rows` rows of n elements of t: random bytes, then every fp16 factor set to a finite value of a
// realistic size (random bits would give inf/NaN), and Q8_0 quants kept off -128 (see the note
// on the sign trick in qdot_avx2.cpp; quantizers never write it).
// fill >= 0: every byte starts as that value instead of random.
std::vector<uint8_t> random_weights(Rng& rng, DType t, size_t rows, size_t n, int fill = -1) {
  const size_t bytes = rows * dtype_row_bytes(t, n);
  std::vector<uint8_t> v(bytes);
  for (uint8_t& b : v) b = fill >= 0 ? (uint8_t)fill : (uint8_t)rng.uniform(256);
  const size_t nb = bytes / dtype_info(t)->block_bytes;
  for (size_t i = 0; i < nb; ++i) {
    switch (t) {
      case DType::Q4_0: reinterpret_cast<BlockQ4_0*>(v.data())[i].d = rand_scale(rng, -0.02f, 0.02f); break;
      case DType::Q5_0: reinterpret_cast<BlockQ5_0*>(v.data())[i].d = rand_scale(rng, -0.02f, 0.02f); break;
      case DType::Q4_1: {
        BlockQ4_1& b = reinterpret_cast<BlockQ4_1*>(v.data())[i];
        b.d = rand_scale(rng, 0.0f, 0.02f);
        b.m = rand_scale(rng, -0.1f, 0.0f);
        break;
      }
      case DType::Q5_1: {
        BlockQ5_1& b = reinterpret_cast<BlockQ5_1*>(v.data())[i];
        b.d = rand_scale(rng, 0.0f, 0.01f);
        b.m = rand_scale(rng, -0.1f, 0.0f);
        break;
      }
      case DType::Q8_0: {
        BlockQ8_0& b = reinterpret_cast<BlockQ8_0*>(v.data())[i];
        b.d = rand_scale(rng, -0.001f, 0.001f);
        for (int8_t& q : b.qs) q = q == -128 ? -127 : q;
        break;
      }
      case DType::Q2_K: {
        BlockQ2_K& b = reinterpret_cast<BlockQ2_K*>(v.data())[i];
        b.d = rand_scale(rng, 0.0f, 0.01f);
        b.dmin = rand_scale(rng, 0.0f, 0.01f);
        break;
      }
      case DType::Q3_K: reinterpret_cast<BlockQ3_K*>(v.data())[i].d = rand_scale(rng, -0.001f, 0.001f); break;
      case DType::Q4_K: {
        BlockQ4_K& b = reinterpret_cast<BlockQ4_K*>(v.data())[i];
        b.d = rand_scale(rng, 0.0f, 0.001f);
        b.dmin = rand_scale(rng, 0.0f, 0.001f);
        break;
      }
      case DType::Q5_K: {
        BlockQ5_K& b = reinterpret_cast<BlockQ5_K*>(v.data())[i];
        b.d = rand_scale(rng, 0.0f, 0.001f);
        b.dmin = rand_scale(rng, 0.0f, 0.001f);
        break;
      }
      case DType::Q6_K: reinterpret_cast<BlockQ6_K*>(v.data())[i].d = rand_scale(rng, -0.0005f, 0.0005f); break;
      default: ADD_FAILURE() << "no generator for " << dtype_name(t);
    }
  }
  return v;
}

std::vector<uint8_t> quantize_acts(const KernelTable& k, DType wtype, const float* x, size_t T,
                                   size_t n) {
  const DType at = qdot_act_type(wtype);
  const size_t ab = quantized_act_bytes(at, n);
  std::vector<uint8_t> q(T * ab);
  for (size_t t = 0; t < T; ++t) quantize_act_fn(k, at)(x + t * n, q.data() + t * ab, n);
  return q;
}

// Byte offset of the fp16 min factor (m or dmin) inside a block, -1 when the format has none.
int min_field_offset(DType t) {
  switch (t) {
    case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: return 2;
    case DType::Q2_K: return 82;
    default: return -1;
  }
}

// Tables may order the f32 block sums differently and add a block's scale part and min part in
// separate accumulators, so the bound is a relative 1e-5 (about 100 ulp) of the sum over blocks of
// |scale part| + |min part| (the scale part is the block's term with the min factor zeroed).
double qdot_tolerance(DType t, const uint8_t* w, const uint8_t* a, size_t n) {
  const size_t bs = dtype_info(t)->block_size, wb = dtype_info(t)->block_bytes;
  const size_t ab = quantized_act_bytes(qdot_act_type(t), bs);
  const QDotFn ref = qdot_fn(scalar_kernels(), t);
  const int mo = min_field_offset(t);
  std::vector<uint8_t> blk(wb);
  double abs_sum = 0;
  for (size_t b = 0; b < n / bs; ++b) {
    const double term = ref(w + b * wb, a + b * ab, bs);
    std::memcpy(blk.data(), w + b * wb, wb);
    if (mo >= 0) blk[mo] = blk[mo + 1] = 0;
    const double scale_part = ref(blk.data(), a + b * ab, bs);
    abs_sum += std::fabs(scale_part) + std::fabs(term - scale_part);
  }
  return 1e-5 * abs_sum + 1e-12;
}

TEST(QDot, ActivationTypesFollowLlamaCpp) {
  EXPECT_EQ(qdot_act_type(DType::Q4_0), DType::Q8_0);
  EXPECT_EQ(qdot_act_type(DType::Q5_0), DType::Q8_0);
  EXPECT_EQ(qdot_act_type(DType::Q8_0), DType::Q8_0);
  EXPECT_EQ(qdot_act_type(DType::Q4_1), DType::Q8_1);
  EXPECT_EQ(qdot_act_type(DType::Q5_1), DType::Q8_1);
  for (DType t : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K})
    EXPECT_EQ(qdot_act_type(t), DType::Q8_K) << dtype_name(t);
  EXPECT_EQ(qdot_act_type(DType::F16), DType::F32);
  for (DType t : kWeightTypes) EXPECT_TRUE(matmul_accepts(t)) << dtype_name(t);
  EXPECT_TRUE(matmul_accepts(DType::BF16));
  EXPECT_FALSE(matmul_accepts(DType::Q8_K));  // activation-only format
  EXPECT_FALSE(matmul_accepts(DType::NF4));
  EXPECT_EQ(quantized_act_bytes(DType::Q8_0, 64), 68u);
  EXPECT_EQ(quantized_act_bytes(DType::Q8_1, 64), 72u);
  EXPECT_EQ(quantized_act_bytes(DType::Q8_K, 512), 584u);
}

// Hand-built blocks whose dot product is known exactly.
TEST(QDot, ScalarTwinsGiveKnownValues) {
  std::vector<float> ones(256, 1.0f);
  {
    // Q4_0: nibbles 9 -> value d*(9-8) = 0.5 everywhere; activations 1 -> d_a = 1/127.
    BlockQ4_0 w{};
    w.d = fp32_to_fp16(0.5f);
    std::memset(w.qs, 0x99, sizeof w.qs);
    BlockQ8_0 a{};
    quantize_act_q8_0_ref(ones.data(), &a, 32);
    EXPECT_EQ(a.qs[0], 127);
    EXPECT_NEAR(qdot_q4_0_ref(&w, &a, 32), 16.0f, 16.0f * 1e-3f);
  }
  {
    // Q4_1: q = 3, d = 0.25, m = -1 -> value -0.25 each -> -8 over 32 ones.
    BlockQ4_1 w{};
    w.d = fp32_to_fp16(0.25f);
    w.m = fp32_to_fp16(-1.0f);
    std::memset(w.qs, 0x33, sizeof w.qs);
    BlockQ8_1 a{};
    quantize_act_q8_1_ref(ones.data(), &a, 32);
    EXPECT_NEAR(qdot_q4_1_ref(&w, &a, 32), -8.0f, 8e-3f);
  }
  {
    // Q6_K: all quants 32 + 1 = 33 (value 1), scales 2, d = 0.5 -> each element 1 -> 256.
    BlockQ6_K w{};
    std::memset(w.ql, 0x11, sizeof w.ql);  // low nibbles 1
    std::memset(w.qh, 0xAA, sizeof w.qh);  // high bits 2 in every 2-bit field -> +32
    std::memset(w.scales, 2, sizeof w.scales);
    w.d = fp32_to_fp16(0.5f);
    BlockQ8_K a{};
    quantize_act_q8_k_ref(ones.data(), &a, 256);
    EXPECT_EQ(a.qs[0], -127);  // Q8_K maps the signed extreme to -127 (d is negative)
    EXPECT_EQ(a.bsums[0], -127 * 16);
    for (const KernelTable* k : supported_kernel_tables())
      EXPECT_NEAR(k->qdot_q6_k.fn(&w, &a, 256), 256.0f, 256.0f * 1e-5f) << k->isa;
  }
  {
    // Q4_K: sub-block scales 1, mins 1, d = 1, dmin = 0.5, quants 2 -> value 1*1*2 - 0.5 = 1.5.
    BlockQ4_K w{};
    w.d = fp32_to_fp16(1.0f);
    w.dmin = fp32_to_fp16(0.5f);
    for (int j = 0; j < 4; ++j) w.scales[j] = 1, w.scales[j + 4] = 1;
    for (int j = 8; j < 12; ++j) w.scales[j] = 0x11;
    std::memset(w.qs, 0x22, sizeof w.qs);
    BlockQ8_K a{};
    quantize_act_q8_k_ref(ones.data(), &a, 256);
    for (const KernelTable* k : supported_kernel_tables())
      EXPECT_NEAR(k->qdot_q4_k.fn(&w, &a, 256), 384.0f, 384.0f * 1e-5f) << k->isa;
  }
}

TEST(QDot, EveryTableMatchesTheScalarTwin) {
  Rng rng(11);
  const size_t n = 1024;
  std::vector<float> x(n);
  for (DType t : kWeightTypes) {
    for (int rep = 0; rep < 20; ++rep) {
      std::vector<uint8_t> w = random_weights(rng, t, 1, n);
      test::fill_uniform(rng, x.data(), n, -3.0f, 3.0f);
      if (rep % 5 == 0) std::fill(x.begin(), x.begin() + 256, 0.0f);  // an all-zero block
      std::vector<uint8_t> a = quantize_acts(scalar_kernels(), t, x.data(), 1, n);
      const float expect = qdot_fn(scalar_kernels(), t)(w.data(), a.data(), n);
      const double tol = qdot_tolerance(t, w.data(), a.data(), n);
      ASSERT_TRUE(std::isfinite(expect));
      for (const KernelTable* k : supported_kernel_tables()) {
        // Every table quantizes activations to the same bytes.
        EXPECT_EQ(quantize_acts(*k, t, x.data(), 1, n), a) << k->isa << " " << dtype_name(t);
        const float got = qdot_fn(*k, t)(w.data(), a.data(), n);
        EXPECT_NEAR(got, expect, tol) << k->isa << " " << dtype_name(t) << " rep " << rep;
      }
    }
  }
}

// Shorter rows (one block) and the largest magnitudes the formats hold.
TEST(QDot, OneBlockRowsAndExtremeQuants) {
  Rng rng(12);
  for (DType t : kWeightTypes) {
    const size_t n = dtype_info(t)->block_size;
    std::vector<float> x(n);
    for (int rep = 0; rep < 50; ++rep) {
      // The first reps use constant quant bytes: all bits set, none, and the int8 extremes.
      static const int kFills[] = {0xFF, 0x00, 0x81, 0x7F};
      std::vector<uint8_t> w = random_weights(rng, t, 1, n, rep < 4 ? kFills[rep] : -1);
      for (size_t i = 0; i < n; ++i) x[i] = (float)rng.normal();
      std::vector<uint8_t> a = quantize_acts(scalar_kernels(), t, x.data(), 1, n);
      const float expect = qdot_fn(scalar_kernels(), t)(w.data(), a.data(), n);
      const double tol = qdot_tolerance(t, w.data(), a.data(), n);
      for (const KernelTable* k : supported_kernel_tables())
        EXPECT_NEAR(qdot_fn(*k, t)(w.data(), a.data(), n), expect, tol) << k->isa << " " << dtype_name(t);
    }
  }
}

// matmul() on a block type: y[t, o] = qdot(W row o, quantized x row t) + bias[o], exactly (one
// qdot call per element), for decode and prefill, any thread count and strided rows.
// Two sizes: 37 rows run on the calling thread even with a pool (below kMinParallelMacs); 1031
// rows are split over the pool, for the decode call too.
TEST(QMatmul, EqualsOneQdotPerElementForEveryTable) {
  Rng rng(13);
  const size_t in = 512, T = 5, ldx = in + 7;
  ASSERT_LT(T * 37 * in, kMinParallelMacs);
  ASSERT_GE(1031 * in, kMinParallelMacs);
  std::vector<float> x(T * ldx);
  test::fill_uniform(rng, x.data(), x.size(), -2.0f, 2.0f);
  ThreadPool pool(3);
  for (size_t out : {size_t(37), size_t(1031)})
  for (DType t : kWeightTypes) {
    const size_t ldy = out + 3;
    std::vector<float> bias(out);
    test::fill_uniform(rng, bias.data(), out);
    std::vector<uint8_t> w = random_weights(rng, t, out, in);
    const size_t rb = dtype_row_bytes(t, in);
    for (const KernelTable* k : supported_kernel_tables()) {
      const std::string tag = std::string(k->isa) + " " + dtype_name(t) + " out " + std::to_string(out);
      std::vector<float> expect(T * ldy, -7.0f);
      for (size_t r = 0; r < T; ++r) {
        std::vector<uint8_t> a = quantize_acts(*k, t, x.data() + r * ldx, 1, in);
        for (size_t o = 0; o < out; ++o)
          expect[r * ldy + o] = qdot_fn(*k, t)(w.data() + o * rb, a.data(), in) + bias[o];
      }
      for (ThreadPool* p : {(ThreadPool*)nullptr, &pool}) {
        std::vector<float> y(T * ldy, -7.0f);
        matmul_strided(*k, x.data(), ldx, T, in, t, w.data(), out, bias.data(), y.data(), ldy, p);
        EXPECT_TRUE(test::all_equal(tag + (p ? " pool" : ""), expect.data(), y.data(), y.size()));
        // Decode (T = 1) of the last row gives the same values as the prefill row.
        std::vector<float> y1(out);
        matmul_strided(*k, x.data() + (T - 1) * ldx, ldx, 1, in, t, w.data(), out, bias.data(),
                       y1.data(), out, p);
        EXPECT_TRUE(test::all_equal(tag + " decode", expect.data() + (T - 1) * ldy, y1.data(), out));
      }
    }
  }
}

// rows(w, rows_acts + t * rows_stride, nt = 1..4) against one weight row gives, bit for bit, what
// dot gives on the plain activation row t (plain + t * plain_stride), and writes only every
// y_stride-th float.
void expect_rows_equal_qdot(QDotRowsFn rows, const uint8_t* rows_acts, size_t rows_stride, QDotFn dot,
                            const uint8_t* w, const uint8_t* plain, size_t plain_stride, size_t n,
                            const std::string& tag) {
  for (size_t nt = 1; nt <= 4; ++nt) {
    float y[8];
    std::fill(y, y + 8, -1.0f);
    rows(w, rows_acts, rows_stride, nt, n, y, 2);
    for (size_t r = 0; r < nt; ++r)
      EXPECT_EQ(y[2 * r], dot(w, plain + r * plain_stride, n)) << tag << " nt " << nt << " row " << r;
    EXPECT_EQ(y[1], -1.0f);  // the stride is respected
  }
}

// The multi-row forms give exactly the single-row values for every row count.
TEST(QDot, MultiRowFormsEqualSingleRow) {
  Rng rng(15);
  const size_t n = 512;
  std::vector<float> x(4 * n);
  test::fill_uniform(rng, x.data(), x.size(), -2.0f, 2.0f);
  int tested = 0;
  for (const KernelTable* k : supported_kernel_tables()) {
    for (DType t : kWeightTypes) {
      const QDotRowsFn rows = qdot_rows_fn(*k, t);
      if (!rows) continue;
      ++tested;
      std::vector<uint8_t> w = random_weights(rng, t, 1, n);
      std::vector<uint8_t> a = quantize_acts(*k, t, x.data(), 4, n);
      const size_t ab = a.size() / 4;
      expect_rows_equal_qdot(rows, a.data(), ab, qdot_fn(*k, t), w.data(), a.data(), ab, n,
                             std::string(k->isa) + " " + dtype_name(t));
    }
  }
  if (supported_kernel_tables().size() > 1) {
    EXPECT_GE(tested, 5);
  }
}

// The prepared path (AVX-512, Q4_0 and Q8_0 weights): the prepared row holds exactly the Q8_0
// quantization of x in the pair lane order, each lane's dpbusd start is -8 * the sum of its 4
// bytes, and the rows forms give bit for bit the single-row qdot's value on the plain Q8_0 row
// (which matches the scalar twin within the usual tolerance, also for odd block counts).
TEST(QDot, PreparedPathEqualsQdot) {
  Rng rng(16);
  int tested = 0;
  for (const KernelTable* k : supported_kernel_tables()) {
    for (DType t : {DType::Q4_0, DType::Q8_0}) {
      for (size_t n : {size_t(96), size_t(160)}) {  // odd block counts: qdot's one-block tail
        std::vector<uint8_t> w = random_weights(rng, t, 1, n);
        std::vector<float> x(n);
        for (float& v : x) v = (float)rng.normal();
        std::vector<uint8_t> a = quantize_acts(scalar_kernels(), t, x.data(), 1, n);
        EXPECT_NEAR(qdot_fn(*k, t)(w.data(), a.data(), n), qdot_fn(scalar_kernels(), t)(w.data(), a.data(), n),
                    qdot_tolerance(t, w.data(), a.data(), n)) << k->isa << " " << dtype_name(t) << " n " << n;
      }
    }
    if (!k->prep_q8_0_pairs.fn) continue;
    ASSERT_NE(k->qdotp_q4_0.fn, nullptr);
    ASSERT_NE(k->qdotp_q8_0.fn, nullptr);
    ++tested;
    for (size_t n : {size_t(64), size_t(192), size_t(2048)}) {
      const std::string tag = std::string(k->isa) + " n " + std::to_string(n);
      for (int rep = 0; rep < 4; ++rep) {
        std::vector<float> x(4 * n);
        for (float& v : x) v = (float)(rng.normal() * (rep + 1));
        const size_t pb = n / 64 * sizeof(PreparedQ8Pair);
        std::vector<uint8_t> prep(4 * pb);
        for (size_t t = 0; t < 4; ++t) k->prep_q8_0_pairs.fn(x.data() + t * n, prep.data() + t * pb, n);
        std::vector<uint8_t> a = quantize_acts(*k, DType::Q8_0, x.data(), 4, n);
        const size_t ab = a.size() / 4;
        // Layout of row 0.
        const BlockQ8_0* q = reinterpret_cast<const BlockQ8_0*>(a.data());
        const PreparedQ8Pair* p = reinterpret_cast<const PreparedQ8Pair*>(prep.data());
        for (size_t j = 0; j < n / 64; ++j) {
          const BlockQ8_0 &b0 = q[2 * j], &b1 = q[2 * j + 1];
          for (int e = 0; e < 16; ++e) {
            ASSERT_EQ(p[j].qs[e], b0.qs[e]) << tag;
            ASSERT_EQ(p[j].qs[16 + e], b1.qs[e]) << tag;
            ASSERT_EQ(p[j].qs[32 + e], b0.qs[16 + e]) << tag;
            ASSERT_EQ(p[j].qs[48 + e], b1.qs[16 + e]) << tag;
          }
          for (int lane = 0; lane < 16; ++lane) {
            int sum = 0;
            for (int b = 0; b < 4; ++b) sum += p[j].qs[4 * lane + b];
            EXPECT_EQ(p[j].start[lane], -8 * sum) << tag << " lane " << lane;
            const uint16_t d = (lane / 4) % 2 == 0 ? b0.d : b1.d;
            EXPECT_EQ(p[j].d[lane], fp16_to_fp32(d)) << tag << " lane " << lane;
          }
        }
        for (DType t : {DType::Q4_0, DType::Q8_0}) {
          // Fills: all bits set (Q4_0 15s, Q8_0 -1s), none, the int8 extremes, random.
          static const int kFills[] = {0xFF, 0x00, 0x81, -1};
          std::vector<uint8_t> w = random_weights(rng, t, 1, n, kFills[rep]);
          const QDotRowsFn rows = t == DType::Q4_0 ? k->qdotp_q4_0.fn : k->qdotp_q8_0.fn;
          expect_rows_equal_qdot(rows, prep.data(), pb, qdot_fn(*k, t), w.data(), a.data(), ab, n,
                                 tag + " " + dtype_name(t));
        }
      }
    }
  }
  if (std::string(supported_kernel_tables().back()->isa) == "avx512") {
    EXPECT_EQ(tested, 1);
  }
}

// The table-free matmul() uses the active table; without bias every element is the plain qdot.
TEST(QMatmul, ActiveTableWithoutBias) {
  Rng rng(14);
  const size_t in = 256, out = 8;
  std::vector<float> x(in), y(out);
  test::fill_uniform(rng, x.data(), in);
  std::vector<uint8_t> w = random_weights(rng, DType::Q4_K, out, in);
  matmul(x.data(), 1, in, DType::Q4_K, w.data(), out, nullptr, y.data());
  std::vector<uint8_t> a = quantize_acts(kernels(), DType::Q4_K, x.data(), 1, in);
  for (size_t o = 0; o < out; ++o)
    EXPECT_EQ(y[o], kernels().qdot_q4_k.fn(w.data() + o * 144, a.data(), in)) << o;
}

}  // namespace
}  // namespace cartlm
