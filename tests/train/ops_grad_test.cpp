// Every training op: backward (in double) against central differences of its forward (in
// double), the f32 path against the double one within a derived tolerance, accumulation (+=)
// semantics, and bit-identical results with and without a thread pool. Plus the properties the
// ops promise beyond their gradients: padding masks, numerical stability, in-place use.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/config.h"
#include "train/grad_check.h"
#include "train/ops.h"

namespace cartlm {
namespace {

using test::cast_vec;
using test::close_to_f64;
using test::fd_check;
using test::random_vec;

template <class Real>
using Tensors = std::vector<std::vector<Real>>;

ThreadPool& pool3() {
  static ThreadPool pool(3);
  return pool;
}

// An op under test provides:
//   names                       input tensor names
//   fd_depth                    rounding depth of the forward (for the FD noise floor)
//   fwd_depth, bwd_depth        rounding depth of the f32 output / gradients
//   forward<Real>(in, pool)     -> output vector
//   backward<Real>(in, dout, grads, pool)   grads += d(Σ dout·out)/d(in)
template <class Op>
void check_op(const std::string& name, const Op& op, Tensors<double> in, Rng& rng) {
  // Analytic gradients in double.
  const std::vector<double> out = op.template forward<double>(in, nullptr);
  const std::vector<double> w = random_vec(rng, out.size());
  Tensors<double> grads(in.size());
  for (size_t i = 0; i < in.size(); ++i) grads[i].assign(in[i].size(), 0.0);
  op.template backward<double>(in, w, grads, nullptr);

  // Central differences of L = Σ w·(out − out0): only the outputs the element moves count.
  for (size_t t = 0; t < in.size(); ++t) {
    auto eval = [&]() {
      const std::vector<double> o = op.template forward<double>(in, nullptr);
      test::FdEval e;
      for (size_t i = 0; i < o.size(); ++i) {
        if (o[i] == out[i]) continue;
        e.value += w[i] * (o[i] - out[i]);
        e.scale += std::fabs(w[i]) * (std::fabs(o[i]) + std::fabs(out[i]));
      }
      return e;
    };
    std::vector<size_t> idx(in[t].size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    EXPECT_TRUE(
        fd_check(name + " d" + op.names[t], in[t].data(), grads[t].data(), idx, eval, op.fd_depth));
  }

  // Accumulation: a second backward adds the same gradient again.
  Tensors<double> twice = grads;
  op.template backward<double>(in, w, twice, nullptr);
  for (size_t t = 0; t < in.size(); ++t)
    for (size_t i = 0; i < in[t].size(); ++i)
      ASSERT_NEAR(twice[t][i], 2.0 * grads[t][i], 1e-12 * (1.0 + std::fabs(grads[t][i])))
          << name << " d" << op.names[t] << "[" << i << "] does not accumulate";

  // f32 path against double, and bit-identical with a pool.
  Tensors<float> in_f(in.size());
  for (size_t t = 0; t < in.size(); ++t) in_f[t] = cast_vec<float>(in[t]);
  const std::vector<float> w_f = cast_vec<float>(w);
  const std::vector<float> out_f = op.template forward<float>(in_f, nullptr);
  EXPECT_TRUE(close_to_f64(name + " out", out_f.data(), out.data(), out.size(), op.fwd_depth));
  Tensors<float> grads_f(in.size()), grads_p(in.size());
  for (size_t t = 0; t < in.size(); ++t) {
    grads_f[t].assign(in[t].size(), 0.0f);
    grads_p[t].assign(in[t].size(), 0.0f);
  }
  op.template backward<float>(in_f, w_f, grads_f, nullptr);
  for (size_t t = 0; t < in.size(); ++t)
    EXPECT_TRUE(close_to_f64(name + " d" + op.names[t], grads_f[t].data(), grads[t].data(),
                             grads[t].size(), op.bwd_depth));
  const std::vector<float> out_p = op.template forward<float>(in_f, &pool3());
  op.template backward<float>(in_f, w_f, grads_p, &pool3());
  EXPECT_EQ(out_p, out_f) << name << ": forward depends on the thread pool";
  for (size_t t = 0; t < in.size(); ++t)
    EXPECT_EQ(grads_p[t], grads_f[t]) << name << " d" << op.names[t] << " depends on the pool";
}

// ---------------------------------------------------------------------------------------------

struct EmbeddingOp {
  size_t BT = 9, C = 7, V = 6;
  std::vector<int32_t> tokens = {0, 3, 3, 5, 1, 3, 0, 2, 5};  // repeats: scatter-add must sum
  std::vector<std::string> names = {"wte"};
  double fd_depth = 2, fwd_depth = 1, bwd_depth = 4;
  template <class Real>
  std::vector<Real> forward(const Tensors<Real>& in, ThreadPool*) const {
    std::vector<Real> out(BT * C);
    embedding_forward(out.data(), tokens.data(), in[0].data(), BT, C, V);
    return out;
  }
  template <class Real>
  void backward(const Tensors<Real>& in, const std::vector<Real>& dout, Tensors<Real>& g,
                ThreadPool* pool) const {
    embedding_backward(g[0].data(), dout.data(), tokens.data(), BT, C, pool);
  }
};

TEST(TrainOps, EmbeddingGradient) {
  Rng rng(1);
  EmbeddingOp op;
  check_op("embedding", op, {random_vec(rng, op.V * op.C)}, rng);
}

struct RmsnormOp {
  size_t BT = 6, C = 13;
  float eps = 1e-5f;
  std::vector<std::string> names = {"inp", "weight"};
  double fd_depth = 2 * 13 + 8, fwd_depth = 13 + 8, bwd_depth = 3 * 13 + 16;
  template <class Real>
  std::vector<Real> forward(const Tensors<Real>& in, ThreadPool* pool) const {
    std::vector<Real> out(BT * C), rstd(BT);
    rmsnorm_forward(out.data(), rstd.data(), in[0].data(), in[1].data(), BT, C, eps, pool);
    return out;
  }
  template <class Real>
  void backward(const Tensors<Real>& in, const std::vector<Real>& dout, Tensors<Real>& g,
                ThreadPool* pool) const {
    std::vector<Real> out(BT * C), rstd(BT);
    rmsnorm_forward(out.data(), rstd.data(), in[0].data(), in[1].data(), BT, C, eps, pool);
    rmsnorm_backward(g[0].data(), g[1].data(), dout.data(), in[0].data(), in[1].data(), rstd.data(),
                     BT, C, pool);
  }
};

TEST(TrainOps, RmsnormGradient) {
  Rng rng(2);
  RmsnormOp op;
  check_op("rmsnorm", op, {random_vec(rng, op.BT * op.C), random_vec(rng, op.C, 0.5, 1.5)}, rng);
  // A row of tiny values: eps dominates and the gradient stays finite.
  RmsnormOp small;
  std::vector<double> x = random_vec(rng, small.BT * small.C, -1e-4, 1e-4);
  check_op("rmsnorm_tiny", small, {x, random_vec(rng, small.C, 0.5, 1.5)}, rng);
}

struct MatmulOp {
  size_t BT = 5, C = 11, OC = 7;
  std::vector<std::string> names = {"inp", "weight", "bias"};
  double fd_depth = 11 + 4, fwd_depth = 11 + 8, bwd_depth = 7 + 8;  // bwd: sums over OC or BT
  template <class Real>
  std::vector<Real> forward(const Tensors<Real>& in, ThreadPool* pool) const {
    std::vector<Real> out(BT * OC);
    matmul_forward(out.data(), in[0].data(), in[1].data(), in[2].data(), BT, C, OC, pool);
    return out;
  }
  template <class Real>
  void backward(const Tensors<Real>& in, const std::vector<Real>& dout, Tensors<Real>& g,
                ThreadPool* pool) const {
    matmul_backward(g[0].data(), g[1].data(), g[2].data(), dout.data(), in[0].data(), in[1].data(),
                    BT, C, OC, pool);
  }
};

TEST(TrainOps, MatmulGradient) {
  Rng rng(3);
  MatmulOp op;
  check_op("matmul", op,
           {random_vec(rng, op.BT * op.C), random_vec(rng, op.OC * op.C), random_vec(rng, op.OC)},
           rng);
  // Sizes past the kernels' 16-row tiles and 64-column blocks, odd everywhere.
  MatmulOp big;
  big.BT = 19, big.C = 67, big.OC = 37;
  big.fd_depth = 67 + 4, big.fwd_depth = 67 + 8, big.bwd_depth = 37 + 8;
  check_op(
      "matmul_67x37", big,
      {random_vec(rng, big.BT * big.C), random_vec(rng, big.OC * big.C), random_vec(rng, big.OC)},
      rng);
}

TEST(TrainOps, MatmulFrozenHalfWeights) {
  // A frozen BF16/F16 base weight must act exactly like its f32 expansion.
  Rng rng(4);
  const size_t BT = 6, C = 40, OC = 18;
  std::vector<float> x = cast_vec<float>(random_vec(rng, BT * C));
  std::vector<float> dy = cast_vec<float>(random_vec(rng, BT * OC));
  std::vector<float> wf = cast_vec<float>(random_vec(rng, OC * C));
  for (DType t : {DType::F32, DType::BF16, DType::F16}) {
    std::vector<uint16_t> w16(OC * C);
    std::vector<float> wexp(OC * C);
    const void* wptr = wf.data();
    if (t == DType::F32) {
      wexp = wf;
    } else {
      for (size_t i = 0; i < OC * C; ++i) {
        w16[i] = t == DType::BF16 ? fp32_to_bf16(wf[i]) : fp32_to_fp16(wf[i]);
        wexp[i] = t == DType::BF16 ? bf16_to_fp32(w16[i]) : fp16_to_fp32(w16[i]);
      }
      wptr = w16.data();
    }
    std::vector<float> y_ref(BT * OC), y(BT * OC), dx_ref(BT * C, 0.5f), dx(BT * C, 0.5f);
    matmul_forward(y_ref.data(), x.data(), wexp.data(), (const float*)nullptr, BT, C, OC, nullptr);
    matmul_forward_frozen(y.data(), x.data(), t, wptr, nullptr, BT, C, OC, nullptr);
    EXPECT_EQ(y, y_ref) << dtype_name(t);
    matmul_backward(dx_ref.data(), (float*)nullptr, (float*)nullptr, dy.data(), x.data(),
                    wexp.data(), BT, C, OC, nullptr);
    matmul_backward_frozen(dx.data(), dy.data(), t, wptr, BT, C, OC, nullptr);
    EXPECT_EQ(dx, dx_ref) << dtype_name(t);
  }
}

struct RopeOp {
  size_t BT = 6, NHx = 3, HD = 10;
  std::vector<int32_t> positions = {0, 1, 5, 17, 300, 4095};
  std::vector<float> inv_freq;
  std::vector<std::string> names = {"x"};
  double fd_depth = 4, fwd_depth = 8, bwd_depth = 8;
  template <class Real>
  std::vector<Real> forward(const Tensors<Real>& in, ThreadPool*) const {
    std::vector<Real> x = in[0];
    rope_forward(x.data(), positions.data(), inv_freq.data(), BT, NHx, HD);
    return x;
  }
  template <class Real>
  void backward(const Tensors<Real>& in, const std::vector<Real>& dout, Tensors<Real>& g,
                ThreadPool*) const {
    std::vector<Real> d = dout;
    rope_backward(d.data(), positions.data(), inv_freq.data(), BT, NHx, HD);
    for (size_t i = 0; i < d.size(); ++i) g[0][i] += d[i];
  }
};

TEST(TrainOps, RopeGradient) {
  Rng rng(5);
  RopeOp op;
  // Llama 3 scaled frequencies (REFERENCE.md §3.4), so every band of the scaling is exercised.
  Config c = default_config(Arch::Llama);
  c.head_dim = (int64_t)op.HD;
  c.rope_theta = 500000.0;
  c.rope_scaling.type = RopeScalingType::Llama3;
  c.rope_scaling.factor = 32.0;
  c.rope_scaling.original_max_position_embeddings = 64;
  op.inv_freq = rope_inv_freq(c);
  check_op("rope", op, {random_vec(rng, op.BT * op.NHx * op.HD)}, rng);

  // HF order: pair (i, i + HD/2) turns by pos·inv_freq[i]. Check one element by hand.
  std::vector<double> x(op.BT * op.NHx * op.HD, 0.0);
  const size_t row = 3, head = 1, i = 2;  // position 17
  x[(row * op.NHx + head) * op.HD + i] = 1.0;
  std::vector<double> y = op.forward<double>({x}, nullptr);
  const double angle = (double)(17.0f * op.inv_freq[i]);
  EXPECT_NEAR(y[(row * op.NHx + head) * op.HD + i], std::cos(angle), 1e-15);
  EXPECT_NEAR(y[(row * op.NHx + head) * op.HD + i + op.HD / 2], std::sin(angle), 1e-15);
}

struct AttentionOp {
  size_t B = 2, T = 7, NH = 4, KVH = 2, HD = 6;
  std::vector<int32_t> lens = {7, 4};
  std::vector<std::string> names = {"q", "k", "v"};
  double fd_depth = 64, fwd_depth = 7 + 6 + 16, bwd_depth = 2 * (7 + 6) + 32;
  const int32_t* lens_ptr() const { return lens.empty() ? nullptr : lens.data(); }
  template <class Real>
  std::vector<Real> forward(const Tensors<Real>& in, ThreadPool* pool) const {
    std::vector<Real> out(B * T * NH * HD), att(B * NH * T * T);
    attention_forward(out.data(), att.data(), in[0].data(), in[1].data(), in[2].data(), lens_ptr(),
                      B, T, NH, KVH, HD, pool);
    return out;
  }
  template <class Real>
  void backward(const Tensors<Real>& in, const std::vector<Real>& dout, Tensors<Real>& g,
                ThreadPool* pool) const {
    std::vector<Real> out(B * T * NH * HD), att(B * NH * T * T);
    attention_forward(out.data(), att.data(), in[0].data(), in[1].data(), in[2].data(), lens_ptr(),
                      B, T, NH, KVH, HD, pool);
    attention_backward(g[0].data(), g[1].data(), g[2].data(), dout.data(), in[0].data(),
                       in[1].data(), in[2].data(), att.data(), out.data(), lens_ptr(), B, T, NH,
                       KVH, HD, pool);
  }
  Tensors<double> random_inputs(Rng& rng) const {
    // Scale 2 so the softmax is far from uniform.
    return {random_vec(rng, B * T * NH * HD, -2, 2), random_vec(rng, B * T * KVH * HD, -2, 2),
            random_vec(rng, B * T * KVH * HD)};
  }
};

TEST(TrainOps, AttentionGradientGqaPadded) {
  Rng rng(6);
  AttentionOp op;  // GQA 4:2, second sequence padded after 4 tokens
  check_op("attention_gqa_pad", op, op.random_inputs(rng), rng);
  AttentionOp mqa;  // one kv head for 3 query heads, odd head_dim, no padding, one empty sequence
  mqa.B = 3, mqa.T = 5, mqa.NH = 3, mqa.KVH = 1, mqa.HD = 5, mqa.lens = {5, 0, 2};
  check_op("attention_mqa", mqa, mqa.random_inputs(rng), rng);
  AttentionOp mha;  // plain multi-head, lens == nullptr
  mha.B = 1, mha.T = 6, mha.NH = 2, mha.KVH = 2, mha.HD = 4, mha.lens = {};
  check_op("attention_mha", mha, mha.random_inputs(rng), rng);
}

TEST(TrainOps, AttentionPaddingMask) {
  Rng rng(7);
  AttentionOp op;
  Tensors<double> in = op.random_inputs(rng);
  const std::vector<double> out = op.forward<double>(in, nullptr);
  // Padded query rows are zero.
  const size_t b = 1, len = (size_t)op.lens[1];
  for (size_t t = len; t < op.T; ++t)
    for (size_t i = 0; i < op.NH * op.HD; ++i)
      ASSERT_EQ(out[((b * op.T + t) * op.NH) * op.HD + i], 0.0);
  // Padded keys/values change nothing, and get no gradient.
  Tensors<double> changed = in;
  for (size_t t = len; t < op.T; ++t)
    for (size_t i = 0; i < op.KVH * op.HD; ++i) {
      changed[1][(b * op.T + t) * op.KVH * op.HD + i] += 5.0;
      changed[2][(b * op.T + t) * op.KVH * op.HD + i] -= 3.0;
    }
  EXPECT_EQ(op.forward<double>(changed, nullptr), out);
  Tensors<double> g = {std::vector<double>(in[0].size()), std::vector<double>(in[1].size()),
                       std::vector<double>(in[2].size())};
  op.backward<double>(in, random_vec(rng, out.size()), g, nullptr);
  for (size_t t = len; t < op.T; ++t)
    for (size_t i = 0; i < op.KVH * op.HD; ++i) {
      EXPECT_EQ(g[1][(b * op.T + t) * op.KVH * op.HD + i], 0.0);
      EXPECT_EQ(g[2][(b * op.T + t) * op.KVH * op.HD + i], 0.0);
    }
}

TEST(TrainOps, AttentionMatchesInferenceKernel) {
  // The training attention and the kernels' KV-cache attention_ref agree on every valid row.
  Rng rng(8);
  AttentionOp op;
  Tensors<double> in = op.random_inputs(rng);
  Tensors<float> inf = {cast_vec<float>(in[0]), cast_vec<float>(in[1]), cast_vec<float>(in[2])};
  const std::vector<float> out = op.forward<float>(inf, nullptr);
  for (size_t b = 0; b < op.B; ++b) {
    AttentionShape s;
    s.n_head = op.NH, s.n_kv = op.KVH, s.head_dim = op.HD, s.T = (size_t)op.lens[b];
    std::vector<float> ref(s.T * op.NH * op.HD);
    attention_ref(s, inf[0].data() + b * op.T * op.NH * op.HD,
                  inf[1].data() + b * op.T * op.KVH * op.HD,
                  inf[2].data() + b * op.T * op.KVH * op.HD, ref.data());
    std::vector<double> ref_d = cast_vec<double>(ref);
    EXPECT_TRUE(close_to_f64("attention vs kernel b" + std::to_string(b),
                             out.data() + b * op.T * op.NH * op.HD, ref_d.data(), ref.size(),
                             op.fwd_depth));
  }
}

struct SwigluOp {
  size_t N = 17;
  std::vector<std::string> names = {"gate", "up"};
  double fd_depth = 8, fwd_depth = 8, bwd_depth = 12;
  template <class Real>
  std::vector<Real> forward(const Tensors<Real>& in, ThreadPool* pool) const {
    std::vector<Real> out(N);
    swiglu_forward(out.data(), in[0].data(), in[1].data(), N, pool);
    return out;
  }
  template <class Real>
  void backward(const Tensors<Real>& in, const std::vector<Real>& dout, Tensors<Real>& g,
                ThreadPool* pool) const {
    swiglu_backward(g[0].data(), g[1].data(), dout.data(), in[0].data(), in[1].data(), N, pool);
  }
};

TEST(TrainOps, SwigluGradient) {
  Rng rng(9);
  SwigluOp op;
  check_op("swiglu", op, {random_vec(rng, op.N, -6, 6), random_vec(rng, op.N, -2, 2)}, rng);
}

struct ResidualOp {
  size_t N = 11;
  std::vector<std::string> names = {"inp1", "inp2"};
  double fd_depth = 2, fwd_depth = 1, bwd_depth = 1;
  template <class Real>
  std::vector<Real> forward(const Tensors<Real>& in, ThreadPool*) const {
    std::vector<Real> out(N);
    residual_forward(out.data(), in[0].data(), in[1].data(), N);
    return out;
  }
  template <class Real>
  void backward(const Tensors<Real>&, const std::vector<Real>& dout, Tensors<Real>& g,
                ThreadPool*) const {
    residual_backward(g[0].data(), g[1].data(), dout.data(), N);
  }
};

TEST(TrainOps, ResidualGradient) {
  Rng rng(10);
  ResidualOp op;
  check_op("residual", op, {random_vec(rng, op.N), random_vec(rng, op.N)}, rng);
}

struct CrossEntropyOp {
  size_t BT = 9, V = 11;
  std::vector<int32_t> targets = {3, 0, 10, -1, 7, 7, 2, -1, 5};
  std::vector<uint8_t> mask = {1, 1, 1, 0, 1, 1, 1, 0, 1};  // -1 targets are masked out
  std::vector<std::string> names = {"logits"};
  double fd_depth = 11 + 16, fwd_depth = 11 + 16, bwd_depth = 11 + 16;
  template <class Real>
  std::vector<Real> forward(const Tensors<Real>& in, ThreadPool* pool) const {
    std::vector<Real> losses(BT), lse(BT);
    return {(Real)cross_entropy_forward(losses.data(), lse.data(), in[0].data(), targets.data(),
                                        mask.data(), BT, V, pool)};
  }
  template <class Real>
  void backward(const Tensors<Real>& in, const std::vector<Real>& dout, Tensors<Real>& g,
                ThreadPool* pool) const {
    std::vector<Real> losses(BT), lse(BT), d(BT * V);
    cross_entropy_forward(losses.data(), lse.data(), in[0].data(), targets.data(), mask.data(), BT,
                          V, pool);
    cross_entropy_backward(d.data(), in[0].data(), lse.data(), targets.data(), mask.data(), BT, V,
                           (double)dout[0], pool);
    for (size_t i = 0; i < d.size(); ++i) g[0][i] += d[i];
  }
};

TEST(TrainOps, CrossEntropyGradientMasked) {
  Rng rng(11);
  CrossEntropyOp op;
  check_op("cross_entropy", op, {random_vec(rng, op.BT * op.V, -4, 4)}, rng);
}

TEST(TrainOps, CrossEntropyProperties) {
  Rng rng(12);
  CrossEntropyOp op;
  const size_t BT = op.BT, V = op.V;
  std::vector<double> logits = random_vec(rng, BT * V, -4, 4);
  std::vector<double> losses(BT), lse(BT);
  const double loss = cross_entropy_forward(losses.data(), lse.data(), logits.data(),
                                            op.targets.data(), op.mask.data(), BT, V, nullptr);
  // Mean over the 7 counted rows of −log softmax[target]; masked rows contribute nothing.
  double ref = 0.0;
  for (size_t r = 0; r < BT; ++r) {
    if (!op.mask[r]) {
      EXPECT_EQ(losses[r], 0.0);
      continue;
    }
    double z = 0.0;
    for (size_t v = 0; v < V; ++v) z += std::exp(logits[r * V + v]);
    ref += std::log(z) - logits[r * V + (size_t)op.targets[r]];
  }
  EXPECT_NEAR(loss, ref / 7.0, 1e-13);
  // Stable: shifting rows by +1000 (exp would overflow naively) changes nothing in f32.
  std::vector<float> lf = cast_vec<float>(logits), shifted = lf;
  for (float& x : shifted) x += 1000.0f;
  std::vector<float> lsf(BT), lsef(BT);
  const double lossf = cross_entropy_forward(lsf.data(), lsef.data(), shifted.data(),
                                             op.targets.data(), op.mask.data(), BT, V, nullptr);
  EXPECT_TRUE(std::isfinite(lossf));
  // Rounding x + 1000 to f32 moves each logit by up to ulp(1000)/2 = 2^-15; the loss by twice that.
  EXPECT_NEAR(lossf, ref / 7.0, 4 * 0x1p-14);
  // In place (dlogits aliasing logits) equals out of place; gradient rows sum to zero.
  std::vector<float> d(BT * V);
  cross_entropy_forward(lsf.data(), lsef.data(), lf.data(), op.targets.data(), op.mask.data(), BT,
                        V, nullptr);
  cross_entropy_backward(d.data(), lf.data(), lsef.data(), op.targets.data(), op.mask.data(), BT, V,
                         1.0, nullptr);
  std::vector<float> inplace = lf;
  cross_entropy_backward(inplace.data(), inplace.data(), lsef.data(), op.targets.data(),
                         op.mask.data(), BT, V, 1.0, nullptr);
  EXPECT_EQ(inplace, d);
  for (size_t r = 0; r < BT; ++r) {
    double s = 0.0;
    for (size_t v = 0; v < V; ++v) s += d[r * V + v];
    EXPECT_NEAR(s, 0.0, 1e-7);
  }
  // No counted token: loss 0, gradient 0.
  std::vector<uint8_t> none(BT, 0);
  EXPECT_EQ(cross_entropy_forward(lsf.data(), lsef.data(), lf.data(), op.targets.data(),
                                  none.data(), BT, V, nullptr),
            0.0);
}

// The float path runs the kernel table's vectorized exp over the vocabulary (the double path the
// scalar std::exp): at vocabulary size, on every table, it matches the double computation.
TEST(TrainOps, CrossEntropyFloatPathMatchesDoubleAtVocabularySize) {
  const size_t BT = 6, V = 4099;  // 4099: a ragged tail for the vector loops
  Rng rng(13);
  std::vector<double> logits = random_vec(rng, BT * V, -8, 8);
  std::vector<int32_t> targets = {5, 4098, 0, 17, 2048, 1};
  std::vector<uint8_t> mask = {1, 1, 0, 1, 1, 1};
  std::vector<double> ld(BT), lsed(BT), dd(BT * V);
  const double lossd = cross_entropy_forward(ld.data(), lsed.data(), logits.data(),
                                             targets.data(), mask.data(), BT, V, nullptr);
  cross_entropy_backward(dd.data(), logits.data(), lsed.data(), targets.data(), mask.data(), BT,
                         V, 0.5, nullptr);
  std::vector<float> lf = cast_vec<float>(logits);
  ThreadPool pool(2);
  for (const KernelTable* k : supported_kernel_tables()) {
    ASSERT_TRUE(select_kernels(k->isa).ok());
    std::vector<float> lsf(BT), lsef(BT), df(BT * V);
    const double lossf = cross_entropy_forward(lsf.data(), lsef.data(), lf.data(), targets.data(),
                                               mask.data(), BT, V, &pool);
    // f32 logits (relative rounding 2^-24 of |x| <= 8) and an f32 sum of 4099 terms.
    EXPECT_NEAR(lossf, lossd, 1e-5) << k->isa;
    cross_entropy_backward(df.data(), lf.data(), lsef.data(), targets.data(), mask.data(), BT, V,
                           0.5, &pool);
    double worst = 0.0;
    for (size_t i = 0; i < BT * V; ++i)
      worst = std::max(worst, std::fabs((double)df[i] - dd[i]) / (std::fabs(dd[i]) + 1e-6));
    EXPECT_LT(worst, 1e-4) << k->isa;
    for (size_t v = 0; v < V; ++v) EXPECT_EQ(df[2 * V + v], 0.0f) << "masked row";
  }
  ASSERT_TRUE(select_kernels("auto").ok());
}

struct LoraOp {
  size_t BT = 5, C = 9, OC = 11, R = 3;
  float p = 0.25f;
  double scale = 2.0;         // alpha 6 / r 3
  std::vector<uint8_t> mask;  // empty: no dropout
  std::vector<double> base;   // (BT, OC) what the frozen base matmul wrote
  std::vector<std::string> names = {"inp", "A", "B"};
  double fd_depth = 9 + 3 + 8, fwd_depth = 9 + 3 + 8, bwd_depth = 2 * (9 + 11) + 8;
  const uint8_t* mask_ptr() const { return mask.empty() ? nullptr : mask.data(); }
  template <class Real>
  std::vector<Real> forward(const Tensors<Real>& in, ThreadPool* pool) const {
    std::vector<Real> out = cast_vec<Real>(base), h(BT * R), xd(BT * std::max(C, OC));
    lora_forward(out.data(), h.data(), xd.data(), in[0].data(), in[1].data(), in[2].data(),
                 mask_ptr(), p, scale, BT, C, OC, R, pool);
    return out;
  }
  template <class Real>
  void backward(const Tensors<Real>& in, const std::vector<Real>& dout, Tensors<Real>& g,
                ThreadPool* pool) const {
    std::vector<Real> out = cast_vec<Real>(base), h(BT * R), xd(BT * std::max(C, OC)), dh(BT * R),
                      bt(R * OC);
    lora_forward(out.data(), h.data(), xd.data(), in[0].data(), in[1].data(), in[2].data(),
                 mask_ptr(), p, scale, BT, C, OC, R, pool);
    lora_backward(g[0].data(), g[1].data(), g[2].data(), dh.data(), bt.data(), xd.data(),
                  dout.data(), in[0].data(), h.data(), in[1].data(), in[2].data(), mask_ptr(), p,
                  scale, BT, C, OC, R, pool);
  }
};

TEST(TrainOps, LoraGradient) {
  Rng rng(13);
  LoraOp op;
  op.base = random_vec(rng, op.BT * op.OC);
  Tensors<double> in = {random_vec(rng, op.BT * op.C), random_vec(rng, op.R * op.C),
                        random_vec(rng, op.OC * op.R)};
  check_op("lora", op, in, rng);
  LoraOp drop = op;
  drop.mask.resize(op.BT * op.C);
  Rng mask_rng(99);
  lora_dropout_mask(drop.mask.data(), drop.mask.size(), drop.p, mask_rng);
  size_t dropped = 0;
  for (uint8_t m : drop.mask) dropped += m ? 0 : 1;
  ASSERT_GT(dropped, 0u);  // the check below really exercises the mask
  ASSERT_LT(dropped, drop.mask.size());
  check_op("lora_dropout", drop, in, rng);
}

TEST(TrainOps, LoraZeroBAddsNothing) {
  // PEFT init (B = 0): the adapter leaves the base output unchanged, yet dB is non-zero.
  Rng rng(14);
  LoraOp op;
  op.base = random_vec(rng, op.BT * op.OC);
  Tensors<double> in = {random_vec(rng, op.BT * op.C), random_vec(rng, op.R * op.C),
                        std::vector<double>(op.OC * op.R, 0.0)};
  EXPECT_EQ(op.forward<double>(in, nullptr), op.base);
  Tensors<double> g = {std::vector<double>(in[0].size()), std::vector<double>(in[1].size()),
                       std::vector<double>(in[2].size())};
  op.backward<double>(in, random_vec(rng, op.base.size()), g, nullptr);
  double norm_db = 0.0, norm_da = 0.0;
  for (double x : g[2]) norm_db += x * x;
  for (double x : g[1]) norm_da += x * x;
  EXPECT_GT(norm_db, 0.0);
  EXPECT_EQ(norm_da, 0.0);
}

TEST(TrainOps, LoraDropoutMaskRate) {
  Rng rng(15);
  std::vector<uint8_t> m(20000);
  lora_dropout_mask(m.data(), m.size(), 0.1f, rng);
  size_t kept = 0;
  for (uint8_t x : m) kept += x;
  // Binomial(20000, 0.9): sd ≈ 42; allow 5 sd.
  EXPECT_NEAR((double)kept, 18000.0, 5 * 42.5);
  Rng a(3), b(3);
  std::vector<uint8_t> ma(100), mb(100);
  lora_dropout_mask(ma.data(), 100, 0.5f, a);
  lora_dropout_mask(mb.data(), 100, 0.5f, b);
  EXPECT_EQ(ma, mb);  // deterministic given the seed
  lora_dropout_mask(ma.data(), 100, 0.0f, a);
  EXPECT_EQ(ma, std::vector<uint8_t>(100, 1));  // p = 0 keeps everything
}

}  // namespace
}  // namespace cartlm
