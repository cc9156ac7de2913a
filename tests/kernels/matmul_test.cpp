// Matmul of every table the host supports against matmul_*_ref: every reduction length through
// the vector tails and the reduction-block boundaries, odd row and token counts, misaligned
// pointers, the real Llama-3.2-1B shapes, threading, bias and strides.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "test_util.h"

using namespace cartlm;
using namespace cartlm::test;

namespace {

const DType kWeightTypes[] = {DType::F32, DType::F16, DType::BF16};

MatmulFn slot(const KernelTable& k, DType t) {
  return t == DType::F32 ? k.matmul_f32.fn : t == DType::F16 ? k.matmul_f16.fn : k.matmul_bf16.fn;
}
MatmulFn ref_fn(DType t) {
  return t == DType::F32 ? matmul_f32_ref : t == DType::F16 ? matmul_f16_ref : matmul_bf16_ref;
}

// Per-element tolerance of y = x·W^T + bias: reduction depth * u * (|x_t|·|w_r| + |bias_r|), the
// Cauchy-Schwarz bound on sum |x_i w_i| (norm x eps x depth, STYLE.md §4.3).
std::vector<double> matmul_tolerance(const KernelTable& k, DType wt, const float* x, size_t T,
                                     const void* w, size_t in, size_t out, const float* bias) {
  std::vector<double> xn(T, 0.0), wn(out, 0.0);
  for (size_t t = 0; t < T; ++t) {
    for (size_t i = 0; i < in; ++i) xn[t] += (double)x[t * in + i] * x[t * in + i];
    xn[t] = std::sqrt(xn[t]);
  }
  for (size_t r = 0; r < out; ++r) {
    for (size_t i = 0; i < in; ++i) {
      double v = weight_at(wt, w, r * in + i);
      wn[r] += v * v;
    }
    wn[r] = std::sqrt(wn[r]);
  }
  std::vector<double> tol(T * out);
  const double depth = reduction_depth(in, lanes_of(k)) + 1.0;  // + 1: the bias addition
  for (size_t t = 0; t < T; ++t)
    for (size_t r = 0; r < out; ++r)
      tol[t * out + r] = kF32RoundOff * depth * (xn[t] * wn[r] + (bias ? std::fabs(bias[r]) : 0.0));
  return tol;
}

struct Case {
  DType wt;
  size_t T, in, out, misalign;
  bool ints;  // small-integer data: every order of summation is exact, so results must be equal
  bool with_bias;
};

// Inputs of one case and the reference output, shared by every table under test.
struct Prepared {
  Case c;
  Buf<float> x, bias, expect;
  const void* w = nullptr;
  const float* b = nullptr;
  Prepared(const Case& cs, Rng& rng)
      : c(cs), x(cs.T * cs.in, cs.misalign), bias(cs.out, cs.misalign), expect(cs.T * cs.out, cs.misalign) {
    if (c.ints) {
      fill_small_ints(rng, x.data(), c.T * c.in);
      fill_small_ints(rng, bias.data(), c.out);
    } else {
      fill_uniform(rng, x.data(), c.T * c.in);
      fill_uniform(rng, bias.data(), c.out);
    }
    // Weights go straight into one buffer reused by every case: page faults on fresh 64 MB
    // allocations would dominate the test's run time. They are misaligned by `misalign` elements.
    static std::vector<uint8_t> storage;
    const size_t esize = c.wt == DType::F32 ? 4 : 2;
    const size_t need = c.in * c.out * esize + 128;
    if (storage.size() < need) storage.resize(need);
    uintptr_t base = reinterpret_cast<uintptr_t>(storage.data());
    uint8_t* wp = storage.data() + (64 - base % 64) % 64 + c.misalign * esize;
    for (size_t i = 0; i < c.in * c.out; ++i) {
      float v = c.ints ? (float)rng.range(-4, 4) : -1.0f + 2.0f * rng.uniform_float();
      if (c.wt == DType::F32)
        std::memcpy(wp + 4 * i, &v, 4);
      else
        reinterpret_cast<uint16_t*>(wp)[i] = c.wt == DType::F16 ? fp32_to_fp16(v) : fp32_to_bf16(v);
    }
    w = wp;
    b = c.with_bias ? bias.data() : nullptr;
    ref_fn(c.wt)(x.data(), c.in, c.T, w, c.in, 0, c.out, b, expect.data(), c.out);
  }
};

void check_case(const KernelTable& k, const Prepared& p) {
  const Case& c = p.c;
  Buf<float> got(c.T * c.out, c.misalign);
  for (size_t i = 0; i < c.T * c.out; ++i) got[i] = 12345.0f;  // must be overwritten
  slot(k, c.wt)(p.x.data(), c.in, c.T, p.w, c.in, 0, c.out, p.b, got.data(), c.out);
  std::string what = std::string(k.isa) + " matmul " + dtype_name(c.wt) + " T=" + std::to_string(c.T) +
                     " in=" + std::to_string(c.in) + " out=" + std::to_string(c.out) +
                     " misalign=" + std::to_string(c.misalign) + (c.ints ? " ints" : " floats") +
                     (c.with_bias ? " bias" : "");
  if (c.ints) {
    ASSERT_TRUE(all_equal(what, p.expect.data(), got.data(), c.T * c.out));
  } else {
    std::vector<double> tol = matmul_tolerance(k, c.wt, p.x.data(), c.T, p.w, c.in, c.out, p.b);
    ASSERT_TRUE(all_close(what, p.expect.data(), got.data(), tol, c.T * c.out));
  }
}

void run_case(const KernelTable& k, const Case& c, Rng& rng) { check_case(k, Prepared(c, rng)); }

}  // namespace

TEST(Matmul, EveryTableHasAllWeightTypes) {
  for (const KernelTable* k : supported_kernel_tables())
    for (DType t : kWeightTypes) EXPECT_NE(slot(*k, t), nullptr) << k->isa << " " << dtype_name(t);
}

TEST(Matmul, OddSizesAndMisalignmentMatchRef) {
  Rng rng(1);
  std::vector<size_t> ins;
  for (size_t n = 0; n <= 2 * kMaxLanes + 3; ++n) ins.push_back(n);
  for (size_t n : {63, 64, 65, 511, 512, 513, 1031}) ins.push_back(n);  // around the 512 block
  for (const KernelTable* k : supported_kernel_tables()) {
    size_t mis = 0;
    for (DType wt : kWeightTypes)
      for (size_t in : ins)
        for (size_t out : {1, 3, 4, 5, 9, 17})
          for (size_t T : {1, 2, 3, 4, 5, 9}) {
            mis = (mis + 1) % 3;  // cycles 0, 1, 2 elements off a 64-byte boundary
            run_case(*k, {wt, T, in, out, mis, false, (out + T) % 2 == 0}, rng);
            run_case(*k, {wt, T, in, out, 2 - mis, true, (out + T) % 2 == 1}, rng);
            if (HasFatalFailure()) return;
          }
  }
}

TEST(Matmul, LlamaShapesMatchRef) {
  // Llama-3.2-1B projections (out x in): q/o, k/v, gate/up, down.
  const size_t shapes[][2] = {{2048, 2048}, {512, 2048}, {8192, 2048}, {2048, 8192}};
  Rng rng(2);
  std::vector<const KernelTable*> tables;
  for (const KernelTable* k : supported_kernel_tables())
    if (std::string(k->isa) != "scalar") tables.push_back(k);  // scalar is the reference itself
  for (DType wt : kWeightTypes)
    for (const auto& s : shapes)
      for (size_t T : {1, 5}) {
        Prepared p({wt, T, s[1], s[0], 1, false, false}, rng);
        for (const KernelTable* k : tables) {
          check_case(*k, p);
          if (HasFatalFailure()) return;
        }
      }
  // One exact check on a big reduction: integer data, so every element must match exactly.
  Prepared p({DType::BF16, 5, 8192, 64, 0, true, true}, rng);
  for (const KernelTable* k : tables) check_case(*k, p);
}

TEST(Matmul, ThreadedAndDecodeResultsAreBitIdentical) {
  // Any thread split and any token count give the same bits for an element (same reduction
  // order), so decode logits equal prefill logits and --threads never changes outputs.
  // Big enough that the pool is used for the decode calls too (T = 1, see kMinParallelMacs).
  const size_t T = 7, in = 1000, out = 531;
  ASSERT_GE(out * in, kMinParallelMacs);
  Rng rng(3);
  std::vector<float> x(T * in), wf(in * out), bias(out);
  fill_uniform(rng, x.data(), x.size());
  fill_uniform(rng, wf.data(), wf.size());
  fill_uniform(rng, bias.data(), out);
  ThreadPool pool(3);
  for (const KernelTable* k : supported_kernel_tables())
    for (DType wt : kWeightTypes) {
      std::vector<uint8_t> w = encode_weights(wt, wf.data(), wf.size());
      std::vector<float> single(T * out), threaded(T * out), decode(T * out);
      matmul(*k, x.data(), T, in, wt, w.data(), out, bias.data(), single.data(), nullptr);
      matmul(*k, x.data(), T, in, wt, w.data(), out, bias.data(), threaded.data(), &pool);
      for (size_t t = 0; t < T; ++t)
        matmul(*k, x.data() + t * in, 1, in, wt, w.data(), out, bias.data(), decode.data() + t * out, &pool);
      std::string what = std::string(k->isa) + " " + dtype_name(wt);
      EXPECT_TRUE(all_equal(what + " threaded", single.data(), threaded.data(), T * out));
      EXPECT_TRUE(all_equal(what + " decode", single.data(), decode.data(), T * out));
    }
}

TEST(Matmul, StridedRowsLeaveGapsUntouched) {
  const size_t T = 3, in = 40, out = 21, ldx = 50, ldy = 30;
  Rng rng(4);
  std::vector<float> x(T * ldx), wf(in * out), bias(out);
  fill_uniform(rng, x.data(), x.size());
  fill_uniform(rng, wf.data(), wf.size());
  fill_uniform(rng, bias.data(), out);
  ThreadPool pool(2);
  for (const KernelTable* k : supported_kernel_tables())
    for (DType wt : kWeightTypes) {
      std::vector<uint8_t> w = encode_weights(wt, wf.data(), wf.size());
      std::vector<float> y(T * ldy, -7.0f), expect(T * ldy, -7.0f);
      matmul_strided(*k, x.data(), ldx, T, in, wt, w.data(), out, bias.data(), y.data(), ldy, &pool);
      ref_fn(wt)(x.data(), ldx, T, w.data(), in, 0, out, bias.data(), expect.data(), ldy);
      std::vector<double> tol(T * ldy, 1e-5);
      for (size_t t = 0; t < T; ++t)
        for (size_t r = out; r < ldy; ++r) tol[t * ldy + r] = 0.0;  // gaps must stay -7 exactly
      EXPECT_TRUE(all_close(std::string(k->isa) + " strided " + dtype_name(wt), expect.data(), y.data(), tol, T * ldy));
    }
}

TEST(Matmul, BackwardMatchesNaive) {
  const size_t T = 5, in = 70, out = 37;
  Rng rng(5);
  std::vector<float> dy(T * out), x(T * in), wf(in * out);
  fill_uniform(rng, dy.data(), dy.size());
  fill_uniform(rng, x.data(), x.size());
  fill_uniform(rng, wf.data(), wf.size());
  ThreadPool pool(2);
  for (DType wt : kWeightTypes) {
    std::vector<uint8_t> w = encode_weights(wt, wf.data(), wf.size());
    // dx = dy · W, accumulated on top of 1.0.
    std::vector<float> dx(T * in, 1.0f), expect(T * in);
    std::vector<double> tol(T * in);
    for (size_t t = 0; t < T; ++t)
      for (size_t i = 0; i < in; ++i) {
        double s = 1.0, a = 1.0;
        for (size_t o = 0; o < out; ++o) {
          double p = (double)dy[t * out + o] * weight_at(wt, w.data(), o * in + i);
          s += p;
          a += std::fabs(p);
        }
        expect[t * in + i] = (float)s;
        tol[t * in + i] = kF32RoundOff * (out + 2) * a;
      }
    matmul_backward_x(dy.data(), T, out, wt, w.data(), in, dx.data(), true, &pool);
    EXPECT_TRUE(all_close(std::string("backward_x ") + dtype_name(wt), expect.data(), dx.data(), tol, T * in));
  }
  // dW = dy^T · x, overwriting garbage.
  std::vector<float> dw(out * in, 99.0f), expect(out * in);
  std::vector<double> tol(out * in);
  for (size_t o = 0; o < out; ++o)
    for (size_t i = 0; i < in; ++i) {
      double s = 0.0, a = 0.0;
      for (size_t t = 0; t < T; ++t) {
        double p = (double)dy[t * out + o] * x[t * in + i];
        s += p;
        a += std::fabs(p);
      }
      expect[o * in + i] = (float)s;
      tol[o * in + i] = kF32RoundOff * (T + 2) * a;
    }
  matmul_backward_w(dy.data(), T, out, x.data(), in, dw.data(), false, &pool);
  EXPECT_TRUE(all_close("backward_w", expect.data(), dw.data(), tol, out * in));
}

// ---------------------------------------------------------------------------------------------
// Blocked backward helpers against the plain per-(row, token) axpy loops they replaced (the
// reference order: o ascending for dx, t ascending for dW) and against exact double sums with
// the derived tolerance, for every table, odd sizes and misaligned pointers; and determinism
// across thread counts.

namespace {

// The unblocked reference: dx[t, :] += dy[t, o] * W[o, :] for o ascending, one axpy per (o, t).
void backward_x_plain(const KernelTable& k, const float* dy, size_t T, size_t out, DType wt,
                      const void* w, size_t in, float* dx) {
  std::vector<float> wrow(in);
  for (size_t o = 0; o < out; ++o) {
    for (size_t i = 0; i < in; ++i) wrow[i] = weight_at(wt, w, o * in + i);
    for (size_t t = 0; t < T; ++t) k.axpy_f32.fn(dy[t * out + o], wrow.data(), dx + t * in, in);
  }
}

// The unblocked reference: dW[o, :] += dy[t, o] * x[t, :] for t ascending.
void backward_w_plain(const KernelTable& k, const float* dy, size_t T, size_t out, const float* x,
                      size_t in, float* dw) {
  for (size_t o = 0; o < out; ++o)
    for (size_t t = 0; t < T; ++t) k.axpy_f32.fn(dy[t * out + o], x + t * in, dw + o * in, in);
}

struct BackwardCase {
  size_t T, out, in;
};

std::vector<BackwardCase> backward_cases() {
  std::vector<BackwardCase> v;
  const size_t sizes[] = {1, 3, 17, 64};
  for (size_t T : sizes)
    for (size_t out : sizes)
      for (size_t in : sizes) v.push_back({T, out, in});
  // Past 64 (token block, weight-row tile and reduction block of the packed path) and 256 columns.
  v.push_back({70, 75, 300});
  // Several 64-row tiles per unit (row groups that pack B once for all their tiles).
  v.push_back({300, 70, 300});
  v.push_back({70, 300, 300});
  return v;
}

}  // namespace

TEST(Matmul, BackwardBlockedMatchesPlainLoopsEveryTable) {
  ThreadPool pool(2);
  Rng rng(11);
  for (const KernelTable* k : supported_kernel_tables()) {
    ASSERT_TRUE(select_kernels(k->isa).ok());
    for (const BackwardCase& c : backward_cases())
      for (size_t mis = 0; mis < 2; ++mis) {
        // One float of offset makes every buffer misaligned for vector loads.
        std::vector<float> dyb(c.T * c.out + 1), xb(c.T * c.in + 1), wf(c.out * c.in);
        float* dy = dyb.data() + mis;
        float* x = xb.data() + mis;
        fill_uniform(rng, dy, c.T * c.out);
        fill_uniform(rng, x, c.T * c.in);
        fill_uniform(rng, wf.data(), wf.size());
        const std::string what = std::string(k->isa) + " T=" + std::to_string(c.T) + " out=" +
                                 std::to_string(c.out) + " in=" + std::to_string(c.in) +
                                 " mis=" + std::to_string(mis);
        for (DType wt : kWeightTypes) {
          std::vector<uint8_t> wenc = encode_weights(wt, wf.data(), wf.size());
          std::vector<uint8_t> wb(wenc.size() + 4);
          std::memcpy(wb.data() + 2 * mis, wenc.data(), wenc.size());  // 2-byte misalignment
          const void* w = wb.data() + 2 * mis;
          std::vector<float> dxb(c.T * c.in + 1, 0.5f), expect(c.T * c.in, 0.5f);
          float* dx = dxb.data() + mis;
          backward_x_plain(*k, dy, c.T, c.out, wt, w, c.in, expect.data());
          matmul_backward_x(dy, c.T, c.out, wt, w, c.in, dx, true, &pool);
          EXPECT_TRUE(all_equal(what + " backward_x acc " + dtype_name(wt), expect.data(), dx,
                                c.T * c.in));
          // Overwrite mode against exact double sums (tolerance: depth * u * sum |terms|).
          std::vector<double> exact(c.T * c.in), tol(c.T * c.in);
          std::vector<float> exactf(c.T * c.in);
          for (size_t t = 0; t < c.T; ++t)
            for (size_t i = 0; i < c.in; ++i) {
              double s = 0.0, a = 0.0;
              for (size_t o = 0; o < c.out; ++o) {
                double p = (double)dy[t * c.out + o] * weight_at(wt, w, o * c.in + i);
                s += p;
                a += std::fabs(p);
              }
              exactf[t * c.in + i] = (float)s;
              tol[t * c.in + i] = kF32RoundOff * (c.out + 2) * a;
            }
          std::fill(dxb.begin(), dxb.end(), 1e30f);
          matmul_backward_x(dy, c.T, c.out, wt, w, c.in, dx, false, &pool);
          EXPECT_TRUE(all_close(what + " backward_x " + dtype_name(wt), exactf.data(), dx, tol,
                                c.T * c.in));
        }
        std::vector<float> dwb(c.out * c.in + 1, -0.25f), expect(c.out * c.in, -0.25f);
        float* dw = dwb.data() + mis;
        backward_w_plain(*k, dy, c.T, c.out, x, c.in, expect.data());
        matmul_backward_w(dy, c.T, c.out, x, c.in, dw, true, &pool);
        EXPECT_TRUE(all_equal(what + " backward_w acc", expect.data(), dw, c.out * c.in));
        std::vector<float> exactf(c.out * c.in);
        std::vector<double> tol(c.out * c.in);
        for (size_t o = 0; o < c.out; ++o)
          for (size_t i = 0; i < c.in; ++i) {
            double s = 0.0, a = 0.0;
            for (size_t t = 0; t < c.T; ++t) {
              double p = (double)dy[t * c.out + o] * x[t * c.in + i];
              s += p;
              a += std::fabs(p);
            }
            exactf[o * c.in + i] = (float)s;
            tol[o * c.in + i] = kF32RoundOff * (c.T + 2) * a;
          }
        std::fill(dwb.begin(), dwb.end(), 1e30f);
        matmul_backward_w(dy, c.T, c.out, x, c.in, dw, false, &pool);
        EXPECT_TRUE(all_close(what + " backward_w", exactf.data(), dw, tol, c.out * c.in));
      }
  }
  ASSERT_TRUE(select_kernels("auto").ok());
}

TEST(Matmul, BackwardDeterministicAcrossThreadCounts) {
  const size_t T = 200, out = 83, in = 530;  // several tiles in every direction, ragged edges
  Rng rng(12);
  std::vector<float> dy(T * out), x(T * in), wf(out * in);
  fill_uniform(rng, dy.data(), dy.size());
  fill_uniform(rng, x.data(), x.size());
  fill_uniform(rng, wf.data(), wf.size());
  for (DType wt : kWeightTypes) {
    std::vector<uint8_t> w = encode_weights(wt, wf.data(), wf.size());
    std::vector<float> dx1(T * in), dw1(out * in);
    matmul_backward_x(dy.data(), T, out, wt, w.data(), in, dx1.data(), false, nullptr);
    matmul_backward_w(dy.data(), T, out, x.data(), in, dw1.data(), false, nullptr);
    for (int nt : {2, 3, 5}) {
      ThreadPool pool(nt);
      std::vector<float> dx(T * in, 7.0f), dw(out * in, 7.0f);
      matmul_backward_x(dy.data(), T, out, wt, w.data(), in, dx.data(), false, &pool);
      matmul_backward_w(dy.data(), T, out, x.data(), in, dw.data(), false, &pool);
      const std::string what = std::string(dtype_name(wt)) + " threads=" + std::to_string(nt);
      EXPECT_TRUE(all_equal(what + " dx", dx1.data(), dx.data(), T * in));
      EXPECT_TRUE(all_equal(what + " dw", dw1.data(), dw.data(), out * in));
    }
  }
}

// The training forward on the backward kernels: bit-equal to bias + one axpy per input column
// (i ascending) with the table's own axpy, close to exact double sums, and the same bits for
// every thread count.
TEST(Matmul, XwtMatchesPlainLoopsEveryTableAndThreadCount) {
  Rng rng(13);
  for (const KernelTable* k : supported_kernel_tables()) {
    ASSERT_TRUE(select_kernels(k->isa).ok());
    for (const BackwardCase& c : backward_cases()) {
      const size_t T = c.T, in = c.in, out = c.out;
      for (int with_bias = 0; with_bias < 2; ++with_bias) {
        std::vector<float> xb(T * in + 1), wb(out * in + 1), bias(out);
        float* x = xb.data() + with_bias;  // misaligned on the second pass
        float* w = wb.data() + with_bias;
        fill_uniform(rng, x, T * in);
        fill_uniform(rng, w, out * in);
        fill_uniform(rng, bias.data(), out);
        const float* bp = with_bias ? bias.data() : nullptr;
        std::vector<float> wt(in * out), expect(T * out);
        for (size_t o = 0; o < out; ++o)
          for (size_t i = 0; i < in; ++i) wt[i * out + o] = w[o * in + i];
        for (size_t t = 0; t < T; ++t) {
          for (size_t o = 0; o < out; ++o) expect[t * out + o] = bp ? bp[o] : 0.0f;
          for (size_t i = 0; i < in; ++i) k->axpy_f32.fn(x[t * in + i], wt.data() + i * out, expect.data() + t * out, out);
        }
        std::vector<float> exactf(T * out);
        std::vector<double> tol(T * out);
        for (size_t t = 0; t < T; ++t)
          for (size_t o = 0; o < out; ++o) {
            double s = bp ? bp[o] : 0.0, a = std::fabs(s);
            for (size_t i = 0; i < in; ++i) {
              const double p = (double)x[t * in + i] * w[o * in + i];
              s += p;
              a += std::fabs(p);
            }
            exactf[t * out + o] = (float)s;
            tol[t * out + o] = kF32RoundOff * (in + 2) * a;
          }
        const std::string what = std::string(k->isa) + " T=" + std::to_string(T) + " out=" +
                                 std::to_string(out) + " in=" + std::to_string(in) +
                                 " bias=" + std::to_string(with_bias);
        for (int nt : {1, 2, 3}) {
          ThreadPool pool(nt);
          std::vector<float> y(T * out, 1e30f);
          matmul_xwt(x, T, in, w, out, bp, y.data(), nt == 1 ? nullptr : &pool);
          EXPECT_TRUE(all_equal(what + " threads=" + std::to_string(nt), expect.data(), y.data(), T * out));
          EXPECT_TRUE(all_close(what + " exact", exactf.data(), y.data(), tol, T * out));
        }
      }
    }
  }
  ASSERT_TRUE(select_kernels("auto").ok());
}
