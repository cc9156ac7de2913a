// Row-wise kernels and conversions of every table the host supports against their `_ref` twins:
// every length 0 .. 2*lanes+3 on misaligned pointers (with guard elements that must stay
// untouched), long rows, in-place use, and exhaustive fp16/bf16 bit patterns.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "kernels/kernels.h"
#include "test_util.h"

using namespace cartlm;
using namespace cartlm::test;

namespace {

constexpr float kGuard = -31337.0f;
constexpr double kTiny = 0x1p-125;  // absolute floor for results that underflow to subnormals

std::vector<size_t> lengths() {
  std::vector<size_t> v;
  for (size_t n = 0; n <= 2 * kMaxLanes + 3; ++n) v.push_back(n);
  for (size_t n : {64, 100, 2048, 8191}) v.push_back(n);
  return v;
}

std::string tag(const KernelTable& k, const char* op, size_t n, size_t mis) {
  return std::string(k.isa) + " " + op + " n=" + std::to_string(n) + " misalign=" + std::to_string(mis);
}

// A misaligned output buffer with 4 guard values after the n elements.
struct Out {
  Buf<float> buf;
  size_t n;
  Out(size_t count, size_t mis) : buf(count + 4, mis), n(count) {
    for (size_t i = 0; i < n + 4; ++i) buf[i] = kGuard;
  }
  float* data() { return buf.data(); }
  bool guards_intact() const {
    for (size_t i = n; i < n + 4; ++i)
      if (buf[i] != kGuard) return false;
    return true;
  }
};

std::vector<double> relative_tol(const float* expect, size_t n, double roundoffs) {
  std::vector<double> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = roundoffs * kF32RoundOff * std::fabs(expect[i]) + kTiny;
  return t;
}

}  // namespace

TEST(Ops, DotAndAxpyMatchRef) {
  Rng rng(11);
  for (const KernelTable* k : supported_kernel_tables())
    for (size_t n : lengths()) {
      size_t mis = n % 3;
      Buf<float> a(n, mis), b(n, (mis + 1) % 3);
      fill_uniform(rng, a.data(), n);
      fill_uniform(rng, b.data(), n);
      Buf<uint16_t> h(n, mis), bh(n, (mis + 2) % 3);
      for (size_t i = 0; i < n; ++i) {
        h[i] = fp32_to_fp16(b[i]);
        bh[i] = fp32_to_bf16(b[i]);
      }
      double abs_dot = 0;
      for (size_t i = 0; i < n; ++i) abs_dot += std::fabs((double)a[i] * b[i]);
      const double tol = dot_tolerance(n, lanes_of(*k), abs_dot);
      float e = dot_f32_ref(a.data(), b.data(), n), g = k->dot_f32.fn(a.data(), b.data(), n);
      EXPECT_NEAR(e, g, tol) << tag(*k, "dot_f32", n, mis);
      e = dot_f16_ref(a.data(), h.data(), n), g = k->dot_f16.fn(a.data(), h.data(), n);
      EXPECT_NEAR(e, g, tol) << tag(*k, "dot_f16", n, mis);
      e = dot_bf16_ref(a.data(), bh.data(), n), g = k->dot_bf16.fn(a.data(), bh.data(), n);
      EXPECT_NEAR(e, g, tol) << tag(*k, "dot_bf16", n, mis);

      // axpy: the SIMD version fuses the multiply-add (one rounding), the reference rounds twice.
      Out y(n, mis), ye(n, mis);
      for (size_t i = 0; i < n; ++i) y.data()[i] = ye.data()[i] = b[i];
      axpy_f32_ref(0.75f, a.data(), ye.data(), n);
      k->axpy_f32.fn(0.75f, a.data(), y.data(), n);
      std::vector<double> tol2(n);
      for (size_t i = 0; i < n; ++i) tol2[i] = 2 * kF32RoundOff * (std::fabs(b[i]) + std::fabs(0.75 * a[i]));
      EXPECT_TRUE(all_close(tag(*k, "axpy_f32", n, mis), ye.data(), y.data(), tol2, n));
      EXPECT_TRUE(y.guards_intact()) << tag(*k, "axpy_f32 guard", n, mis);
      for (size_t i = 0; i < n; ++i) y.data()[i] = ye.data()[i] = a[i];
      axpy_f16_ref(-1.5f, h.data(), ye.data(), n);
      k->axpy_f16.fn(-1.5f, h.data(), y.data(), n);
      for (size_t i = 0; i < n; ++i) tol2[i] = 2 * kF32RoundOff * (std::fabs(a[i]) + std::fabs(1.5 * b[i]));
      EXPECT_TRUE(all_close(tag(*k, "axpy_f16", n, mis), ye.data(), y.data(), tol2, n));
      EXPECT_TRUE(y.guards_intact()) << tag(*k, "axpy_f16 guard", n, mis);
    }
}

TEST(Ops, ExactElementwiseOpsMatchRefBitForBit) {
  // scale, add and mul are one correctly rounded operation per element: no tolerance.
  Rng rng(12);
  for (const KernelTable* k : supported_kernel_tables())
    for (size_t n : lengths()) {
      size_t mis = (n + 1) % 3;
      Buf<float> a(n, mis), b(n, 0);
      fill_uniform(rng, a.data(), n, -100, 100);
      fill_uniform(rng, b.data(), n, -100, 100);
      Out y(n, mis), e(n, mis);
      k->add.fn(a.data(), b.data(), y.data(), n);
      add_ref(a.data(), b.data(), e.data(), n);
      EXPECT_TRUE(all_equal(tag(*k, "add", n, mis), e.data(), y.data(), n));
      EXPECT_TRUE(y.guards_intact());
      k->mul.fn(a.data(), b.data(), y.data(), n);
      mul_ref(a.data(), b.data(), e.data(), n);
      EXPECT_TRUE(all_equal(tag(*k, "mul", n, mis), e.data(), y.data(), n));
      EXPECT_TRUE(y.guards_intact());
      for (size_t i = 0; i < n; ++i) y.data()[i] = e.data()[i] = a[i];
      k->scale.fn(y.data(), 0.3f, n);
      scale_ref(e.data(), 0.3f, n);
      EXPECT_TRUE(all_equal(tag(*k, "scale", n, mis), e.data(), y.data(), n));
      EXPECT_TRUE(y.guards_intact());
      // In place: y aliases a.
      std::vector<float> inplace(a.data(), a.data() + n);
      k->add.fn(inplace.data(), b.data(), inplace.data(), n);
      add_ref(a.data(), b.data(), e.data(), n);
      EXPECT_TRUE(all_equal(tag(*k, "add in place", n, mis), e.data(), inplace.data(), n));
    }
}

TEST(Ops, RmsnormMatchesRef) {
  Rng rng(13);
  for (const KernelTable* k : supported_kernel_tables())
    for (size_t n : lengths()) {
      size_t mis = (n + 2) % 3;
      Buf<float> x(n, mis), w(n, (mis + 1) % 3);
      fill_uniform(rng, x.data(), n, -3, 3);
      fill_uniform(rng, w.data(), n, 0.5, 1.5);
      Out y(n, mis), e(n, mis);
      rmsnorm_ref(x.data(), w.data(), 1e-5f, n, e.data());
      k->rmsnorm.fn(x.data(), w.data(), 1e-5f, n, y.data());
      // Sum of squares (depth), a division, 1/sqrt (about 2 roundings, halved error through the
      // square root), and two products.
      auto tol = relative_tol(e.data(), n, reduction_depth(n, lanes_of(*k)) / 2 + 6);
      EXPECT_TRUE(all_close(tag(*k, "rmsnorm", n, mis), e.data(), y.data(), tol, n));
      EXPECT_TRUE(y.guards_intact());
      std::vector<float> inplace(x.data(), x.data() + n);
      k->rmsnorm.fn(inplace.data(), w.data(), 1e-5f, n, inplace.data());
      EXPECT_TRUE(all_equal(tag(*k, "rmsnorm in place", n, mis), y.data(), inplace.data(), n));
    }
}

TEST(Ops, RmsnormHasUnitRootMeanSquare) {
  // Independent of the reference: with w = 1 the output's mean square is 1 / (1 + eps/ms).
  std::vector<float> x(2048), w(2048, 1.0f), y(2048);
  Rng rng(14);
  fill_uniform(rng, x.data(), x.size(), -5, 5);
  for (const KernelTable* k : supported_kernel_tables()) {
    k->rmsnorm.fn(x.data(), w.data(), 0.0f, x.size(), y.data());
    double ms = 0;
    for (float v : y) ms += (double)v * v;
    EXPECT_NEAR(ms / 2048, 1.0, 1e-5) << k->isa;
  }
}

TEST(Ops, SoftmaxAndExpSumMatchRef) {
  Rng rng(15);
  for (const KernelTable* k : supported_kernel_tables())
    for (size_t n : lengths()) {
      size_t mis = n % 3;
      Buf<float> x(n, mis);
      fill_uniform(rng, x.data(), n, -30, 30);
      const double depth = reduction_depth(n, lanes_of(*k));

      Out e(n, mis), y(n, mis);
      for (size_t i = 0; i < n; ++i) e.data()[i] = y.data()[i] = x[i];
      float se = exp_sum_ref(e.data(), n, 2.5f);
      float sy = k->exp_sum.fn(y.data(), n, 2.5f);
      auto tol = relative_tol(e.data(), n, kExpRoundOffs + 1);
      EXPECT_TRUE(all_close(tag(*k, "exp_sum values", n, mis), e.data(), y.data(), tol, n));
      EXPECT_NEAR(se, sy, kF32RoundOff * (kExpRoundOffs + 1 + depth) * std::fabs(se) + kTiny)
          << tag(*k, "exp_sum sum", n, mis);
      EXPECT_TRUE(y.guards_intact());

      for (size_t i = 0; i < n; ++i) e.data()[i] = y.data()[i] = x[i];
      softmax_ref(e.data(), n);
      k->softmax.fn(y.data(), n);
      tol = relative_tol(e.data(), n, kExpRoundOffs + depth + 4);
      EXPECT_TRUE(all_close(tag(*k, "softmax", n, mis), e.data(), y.data(), tol, n));
      EXPECT_TRUE(y.guards_intact());
      double total = 0;
      for (size_t i = 0; i < n; ++i) total += y.data()[i];
      if (n > 0) {
        EXPECT_NEAR(total, 1.0, 1e-5) << tag(*k, "softmax sum", n, mis);
      }
    }
}

TEST(Ops, SiluAndSwigluMatchRef) {
  Rng rng(16);
  for (const KernelTable* k : supported_kernel_tables())
    for (size_t n : lengths()) {
      size_t mis = (n + 1) % 3;
      Buf<float> g(n, mis), u(n, 0);
      fill_uniform(rng, g.data(), n, -20, 20);
      fill_uniform(rng, u.data(), n, -2, 2);
      Out e(n, mis), y(n, mis);
      silu_ref(g.data(), e.data(), n);
      k->silu.fn(g.data(), y.data(), n);
      // exp, 1 + e, and the division.
      auto tol = relative_tol(e.data(), n, kExpRoundOffs + 4);
      EXPECT_TRUE(all_close(tag(*k, "silu", n, mis), e.data(), y.data(), tol, n));
      EXPECT_TRUE(y.guards_intact());
      swiglu_ref(g.data(), u.data(), e.data(), n);
      k->swiglu.fn(g.data(), u.data(), y.data(), n);
      tol = relative_tol(e.data(), n, kExpRoundOffs + 5);
      EXPECT_TRUE(all_close(tag(*k, "swiglu", n, mis), e.data(), y.data(), tol, n));
      EXPECT_TRUE(y.guards_intact());
    }
}

TEST(Ops, SiluExtremeInputs) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.0f, -0.0f, 100.0f, -100.0f, 88.0f, -88.0f, 87.5f, -87.5f,
                          1e-30f, -1e-30f, 3.0e38f, inf, std::nanf("")};
  for (const KernelTable* k : supported_kernel_tables()) {
    std::vector<float> y(x.size());
    k->silu.fn(x.data(), y.data(), x.size());
    EXPECT_EQ(y[0], 0.0f) << k->isa;
    EXPECT_FLOAT_EQ(y[2], 100.0f) << k->isa;
    EXPECT_NEAR(y[3], 0.0f, 1e-30) << k->isa;
    EXPECT_FLOAT_EQ(y[4], 88.0f) << k->isa;
    EXPECT_NEAR(y[5], 0.0f, 1e-30) << k->isa;
    EXPECT_FLOAT_EQ(y[6], 87.5f) << k->isa;
    EXPECT_NEAR(y[7], 0.0f, 1e-30) << k->isa;
    EXPECT_FLOAT_EQ(y[8], 0.5e-30f) << k->isa;
    EXPECT_FLOAT_EQ(y[10], 3.0e38f) << k->isa;
    EXPECT_EQ(y[11], inf) << k->isa;
    EXPECT_TRUE(std::isnan(y[12])) << k->isa;
  }
}

TEST(Ops, SoftmaxOfLargeAndEqualValues) {
  for (const KernelTable* k : supported_kernel_tables()) {
    std::vector<float> x = {1000.0f, 1000.0f, 1000.0f, 1000.0f, -1000.0f};
    k->softmax.fn(x.data(), x.size());
    for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(x[i], 0.25f) << k->isa;
    EXPECT_EQ(x[4], 0.0f) << k->isa;
  }
}

TEST(Conversions, AllF16AndBf16PatternsToF32) {
  std::vector<uint16_t> all(65536 + 3);
  for (size_t i = 0; i < 65536; ++i) all[i + 1] = (uint16_t)i;  // start 1 element misaligned
  const uint16_t* src = all.data() + 1;
  std::vector<float> e(65536), g(65536);
  for (const KernelTable* k : supported_kernel_tables()) {
    f16_to_f32_ref(src, e.data(), 65536);
    k->f16_to_f32.fn(src, g.data(), 65536);
    size_t bad = 0;
    for (size_t i = 0; i < 65536; ++i) {
      uint32_t be, bg;
      std::memcpy(&be, &e[i], 4);
      std::memcpy(&bg, &g[i], 4);
      // Hardware quiets signalling NaNs; the scalar conversion keeps the payload as is.
      bool ok = std::isnan(e[i]) ? std::isnan(g[i]) : be == bg;
      if (!ok && bad++ < 5) ADD_FAILURE() << k->isa << " f16 0x" << std::hex << i << ": " << be << " vs " << bg;
    }
    EXPECT_EQ(bad, 0u) << k->isa;
    bf16_to_f32_ref(src, e.data(), 65536);
    k->bf16_to_f32.fn(src, g.data(), 65536);
    EXPECT_EQ(std::memcmp(e.data(), g.data(), 65536 * 4), 0) << k->isa << " bf16";
  }
}

TEST(Conversions, F32ToF16AndBf16BitExact) {
  // Every upper half (sign, exponent, top mantissa bits) with low halves that hit exact ties,
  // just-below/above ties, NaN payloads, subnormals and overflow.
  const uint16_t lows[] = {0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x7fff, 0x8000, 0x8001, 0xffff};
  std::vector<float> src;
  for (uint32_t hi = 0; hi < 65536; ++hi)
    for (uint16_t lo : lows) {
      uint32_t bits = hi << 16 | lo;
      float f;
      std::memcpy(&f, &bits, 4);
      src.push_back(f);
    }
  const size_t n = src.size();
  std::vector<uint16_t> e(n), g(n);
  for (const KernelTable* k : supported_kernel_tables()) {
    f32_to_f16_ref(src.data(), e.data(), n);
    k->f32_to_f16.fn(src.data(), g.data(), n);
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i)
      if (e[i] != g[i] && bad++ < 5) {
        uint32_t bits;
        std::memcpy(&bits, &src[i], 4);
        ADD_FAILURE() << k->isa << " f32->f16 of 0x" << std::hex << bits << ": ref " << e[i] << " got " << g[i];
      }
    EXPECT_EQ(bad, 0u) << k->isa;
    f32_to_bf16_ref(src.data(), e.data(), n);
    k->f32_to_bf16.fn(src.data(), g.data(), n);
    bad = 0;
    for (size_t i = 0; i < n; ++i)
      if (e[i] != g[i] && bad++ < 5) {
        uint32_t bits;
        std::memcpy(&bits, &src[i], 4);
        ADD_FAILURE() << k->isa << " f32->bf16 of 0x" << std::hex << bits << ": ref " << e[i] << " got " << g[i];
      }
    EXPECT_EQ(bad, 0u) << k->isa;
  }
}

TEST(Conversions, OddLengthsLeaveNeighboursAlone) {
  Rng rng(17);
  for (const KernelTable* k : supported_kernel_tables())
    for (size_t n : lengths()) {
      size_t mis = n % 3;
      Buf<float> f(n, mis);
      fill_uniform(rng, f.data(), n, -70000, 70000);
      Buf<uint16_t> h(n + 4, mis), he(n + 4, mis);
      for (size_t i = 0; i < n + 4; ++i) h[i] = he[i] = 0xBEEF;
      k->f32_to_f16.fn(f.data(), h.data(), n);
      f32_to_f16_ref(f.data(), he.data(), n);
      EXPECT_EQ(std::memcmp(h.data(), he.data(), (n + 4) * 2), 0) << tag(*k, "f32_to_f16", n, mis);
      k->f32_to_bf16.fn(f.data(), h.data(), n);
      f32_to_bf16_ref(f.data(), he.data(), n);
      EXPECT_EQ(std::memcmp(h.data(), he.data(), (n + 4) * 2), 0) << tag(*k, "f32_to_bf16", n, mis);
      Out o(n, mis), oe(n, mis);
      k->bf16_to_f32.fn(h.data(), o.data(), n);
      bf16_to_f32_ref(h.data(), oe.data(), n);
      EXPECT_TRUE(all_equal(tag(*k, "bf16_to_f32", n, mis), oe.data(), o.data(), n));
      EXPECT_TRUE(o.guards_intact());
      k->f16_to_f32.fn(h.data(), o.data(), n);
      f16_to_f32_ref(h.data(), oe.data(), n);
      EXPECT_TRUE(all_equal(tag(*k, "f16_to_f32", n, mis), oe.data(), o.data(), n));
      EXPECT_TRUE(o.guards_intact());
    }
}
