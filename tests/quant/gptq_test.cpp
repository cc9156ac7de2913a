#include "quant/gptq.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "quant/blocks.h"
#include "quant/gptq_pack.h"
#include "quant/quant.h"

namespace cartlm {
namespace {

// Inputs with strongly correlated columns (x = z·M with a random mixing M and a few dominant
// directions), as real activations have: what GPTQ exploits and plain rounding ignores.
std::vector<float> correlated_inputs(int64_t tokens, int64_t cols, Rng& rng) {
  const int64_t k = 16;
  std::vector<float> m((size_t)(k * cols));
  for (auto& v : m) v = (float)rng.normal();
  std::vector<float> x((size_t)(tokens * cols));
  for (int64_t t = 0; t < tokens; ++t) {
    float z[k];
    for (int64_t i = 0; i < k; ++i) z[i] = (float)rng.normal() * (i < 4 ? 3.0f : 1.0f);
    for (int64_t c = 0; c < cols; ++c) {
      float s = 0.1f * (float)rng.normal();
      for (int64_t i = 0; i < k; ++i) s += z[i] * m[(size_t)(i * cols + c)];
      // A few loud columns, so act_order has something to order.
      x[(size_t)(t * cols + c)] = s * (c % 37 == 0 ? 4.0f : 1.0f);
    }
  }
  return x;
}

std::vector<float> random_weights(int64_t rows, int64_t cols, Rng& rng) {
  std::vector<float> w((size_t)(rows * cols));
  for (auto& v : w) v = 0.05f * (float)rng.normal();
  return w;
}

struct Problem {
  int64_t rows = 64, cols = 512, tokens = 768;
  std::vector<float> x, w;
  GptqHessian h;
};

Problem make_problem(uint64_t seed, int64_t rows = 64, int64_t cols = 512) {
  Rng rng(seed);
  Problem p;
  p.rows = rows;
  p.cols = cols;
  p.x = correlated_inputs(p.tokens, cols, rng);
  p.w = random_weights(rows, cols, rng);
  p.h = gptq_hessian(cols);
  // Added in 6 "sequences" of 128 tokens, as the calibration loop does.
  for (int s = 0; s < 6; ++s) gptq_hessian_add(p.h, p.x.data() + s * 128 * cols, 128, 1);
  return p;
}

TEST(GptqHessian, EqualsTwoOverNTimesXtX) {
  Rng rng(3);
  const int64_t T = 37, C = 19;
  std::vector<float> x((size_t)(T * C));
  for (auto& v : x) v = (float)rng.normal();
  GptqHessian h = gptq_hessian(C);
  ThreadPool pool(2);
  gptq_hessian_add(h, x.data(), 20, 2, &pool);
  gptq_hessian_add(h, x.data() + 20 * C, T - 20, 1, nullptr);
  EXPECT_EQ(h.n_seq, 3);
  EXPECT_EQ(h.n_tokens, T);
  for (int64_t i = 0; i < C; ++i)
    for (int64_t j = 0; j < C; ++j) {
      double s = 0;
      for (int64_t t = 0; t < T; ++t) s += (double)x[(size_t)(t * C + i)] * x[(size_t)(t * C + j)];
      ASSERT_NEAR(h.sum[(size_t)(i * C + j)], s, 1e-9 * (1 + std::fabs(s))) << i << "," << j;
    }
}

struct GridCase {
  const char* name;
  GptqOptions opt;
};

std::vector<GridCase> grid_cases() {
  std::vector<GridCase> v;
  GptqOptions o;
  v.push_back({"minmax4_g128_sym", o});
  o.sym = false;
  v.push_back({"minmax4_g128_asym", o});
  o.sym = true;
  o.act_order = true;
  v.push_back({"minmax4_g128_sym_actorder", o});
  o.act_order = false;
  o.bits = 3;
  v.push_back({"minmax3_g128_sym", o});
  o.bits = 8;
  o.group_size = -1;
  v.push_back({"minmax8_rowwise", o});
  o = GptqOptions{};
  o.grid = GptqGrid::Q4_0;
  v.push_back({"q4_0", o});
  o.act_order = true;
  v.push_back({"q4_0_actorder", o});
  o = GptqOptions{};
  o.grid = GptqGrid::Q4_K;
  v.push_back({"q4_k", o});
  return v;
}

TEST(Gptq, LowerOutputErrorThanRoundToNearestOnTheSameGrid) {
  Problem p = make_problem(11);
  ThreadPool pool(2);
  for (const GridCase& gc : grid_cases()) {
    auto g = gptq_quantize(p.w.data(), p.rows, p.cols, p.h, gc.opt, &pool);
    ASSERT_TRUE(g.ok()) << gc.name << ": " << g.status().message();
    auto r = rtn_quantize(p.w.data(), p.rows, p.cols, gc.opt);
    ASSERT_TRUE(r.ok()) << gc.name << ": " << r.status().message();
    const double eg = relative_output_error(p.x.data(), p.tokens, p.w.data(), g->w_hat.data(), p.rows, p.cols);
    const double er = relative_output_error(p.x.data(), p.tokens, p.w.data(), r->w_hat.data(), p.rows, p.cols);
    std::printf("%-28s rel. output error  gptq %.3e  rtn %.3e  (ratio %.2f)\n", gc.name, eg, er, eg / er);
    // GPTQ must win clearly, not by noise.
    EXPECT_LT(eg, 0.8 * er) << gc.name;
  }
}

TEST(Gptq, EveryValueIsOnItsGroupsGrid) {
  Problem p = make_problem(5, 32, 512);
  for (const GridCase& gc : grid_cases()) {
    auto g = gptq_quantize(p.w.data(), p.rows, p.cols, p.h, gc.opt);
    ASSERT_TRUE(g.ok()) << gc.name;
    const int maxq = (1 << (gc.opt.grid == GptqGrid::MinMax ? gc.opt.bits : 4)) - 1;
    for (int64_t r = 0; r < p.rows; ++r)
      for (int64_t c = 0; c < p.cols; ++c) {
        const int q = g->q[(size_t)(r * p.cols + c)];
        ASSERT_LE(q, maxq);
        const size_t gi = (size_t)(r * g->n_groups + g->g_idx[(size_t)c]);
        ASSERT_EQ(g->w_hat[(size_t)(r * p.cols + c)], gptq_dequant(gc.opt.grid, g->scale[gi], g->zero[gi], q))
            << gc.name << " row " << r << " col " << c;
      }
  }
}

TEST(Gptq, GgufBlocksDequantizeToTheGptqWeights) {
  Problem p = make_problem(8, 16, 512);
  for (GptqGrid grid : {GptqGrid::Q4_0, GptqGrid::Q4_K}) {
    GptqOptions o;
    o.grid = grid;
    auto g = gptq_quantize(p.w.data(), p.rows, p.cols, p.h, o);
    ASSERT_TRUE(g.ok());
    const DType t = grid == GptqGrid::Q4_0 ? DType::Q4_0 : DType::Q4_K;
    ASSERT_EQ(g->blocks.size(), (size_t)p.rows * quantized_row_bytes(t, p.cols).value());
    std::vector<float> deq((size_t)(p.rows * p.cols));
    ASSERT_TRUE(dequantize_tensor(t, g->blocks.data(), p.rows, p.cols, deq.data()).ok());
    for (size_t i = 0; i < deq.size(); ++i) ASSERT_EQ(deq[i], g->w_hat[i]) << gptq_grid_name(grid) << " " << i;
  }
}

TEST(Gptq, Q4KKeepsTheReferenceSuperBlockScales) {
  Problem p = make_problem(9, 8, 256);
  GptqOptions o;
  o.grid = GptqGrid::Q4_K;
  auto g = gptq_quantize(p.w.data(), p.rows, p.cols, p.h, o);
  ASSERT_TRUE(g.ok());
  std::vector<BlockQ4_K> ref((size_t)p.rows);
  for (int64_t r = 0; r < p.rows; ++r) quantize_q4_k_ref(p.w.data() + r * p.cols, &ref[(size_t)r], p.cols);
  const BlockQ4_K* got = reinterpret_cast<const BlockQ4_K*>(g->blocks.data());
  int changed_codes = 0;
  for (int64_t r = 0; r < p.rows; ++r) {
    EXPECT_EQ(got[r].d, ref[(size_t)r].d);
    EXPECT_EQ(got[r].dmin, ref[(size_t)r].dmin);
    EXPECT_EQ(0, std::memcmp(got[r].scales, ref[(size_t)r].scales, 12));
    for (int j = 0; j < 128; ++j) changed_codes += got[r].qs[j] != ref[(size_t)r].qs[j];
  }
  EXPECT_GT(changed_codes, 0);  // GPTQ did move codes
}

TEST(Gptq, ActOrderProcessesByDecreasingHessianDiagonalAndGroupsFollowThatOrder) {
  Problem p = make_problem(13, 16, 512);
  GptqOptions o;
  o.act_order = true;
  o.group_size = 64;
  auto g = gptq_quantize(p.w.data(), p.rows, p.cols, p.h, o);
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->n_groups, 8);
  const auto& perm = g->perm;
  std::vector<int> seen((size_t)p.cols, 0), per_group(8, 0);
  for (int64_t i = 0; i < p.cols; ++i) {
    const int32_t c = perm[(size_t)i];
    ++seen[(size_t)c];
    if (i > 0) {
      const int32_t prev = perm[(size_t)(i - 1)];
      EXPECT_GE(p.h.sum[(size_t)(prev * p.cols + prev)], p.h.sum[(size_t)(c * p.cols + c)]);
    }
    EXPECT_EQ(g->g_idx[(size_t)c], i / 64) << "column " << c;
    ++per_group[(size_t)g->g_idx[(size_t)c]];
  }
  for (int s : seen) EXPECT_EQ(s, 1);
  for (int n : per_group) EXPECT_EQ(n, 64);
  // The loud columns (c % 37 == 0) come first.
  for (int i = 0; i < 14; ++i) EXPECT_EQ(perm[(size_t)i] % 37, 0) << i;
  // And the packed checkpoint dequantizes to the same weights through g_idx.
  auto packed = autogptq_pack(*g, 4);
  ASSERT_TRUE(packed.ok()) << packed.status().message();
  std::vector<float> deq;
  ASSERT_TRUE(autogptq_dequantize(*packed, deq, "test").ok());
  for (size_t i = 0; i < deq.size(); ++i) ASSERT_EQ(deq[i], g->w_hat[i]) << i;
}

TEST(Gptq, LazyBatchUpdatesMatchColumnByColumnUpdates) {
  Problem p = make_problem(17, 16, 256);
  GptqOptions a, b;
  a.block_size = 128;
  b.block_size = 1;  // every update applied immediately
  auto ga = gptq_quantize(p.w.data(), p.rows, p.cols, p.h, a);
  auto gb = gptq_quantize(p.w.data(), p.rows, p.cols, p.h, b);
  ASSERT_TRUE(ga.ok() && gb.ok());
  size_t differ = 0;
  for (size_t i = 0; i < ga->q.size(); ++i) differ += ga->q[i] != gb->q[i];
  // Only float-summation-order ties may flip a code.
  EXPECT_LE(differ, ga->q.size() / 200) << differ;
  EXPECT_NEAR(ga->avg_loss, gb->avg_loss, 1e-3 * gb->avg_loss);
}

TEST(Gptq, DeadColumnsQuantizeToZeroAndBadInputIsAnError) {
  Problem p = make_problem(19, 8, 64);
  // Column 5 never active.
  for (int64_t i = 0; i < p.cols; ++i) {
    p.h.sum[(size_t)(5 * p.cols + i)] = 0;
    p.h.sum[(size_t)(i * p.cols + 5)] = 0;
  }
  GptqOptions o;
  o.group_size = 32;
  auto g = gptq_quantize(p.w.data(), p.rows, p.cols, p.h, o);
  ASSERT_TRUE(g.ok());
  for (int64_t r = 0; r < p.rows; ++r) EXPECT_EQ(g->w_hat[(size_t)(r * p.cols + 5)], 0.0f);

  o.bits = 5;
  EXPECT_FALSE(gptq_quantize(p.w.data(), p.rows, p.cols, p.h, o).ok());
  o = GptqOptions{};
  o.grid = GptqGrid::Q4_K;  // 64 columns: not a Q4_K row
  auto bad = gptq_quantize(p.w.data(), p.rows, p.cols, p.h, o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("256"), std::string::npos);
  GptqHessian wrong = gptq_hessian(32);
  EXPECT_FALSE(gptq_quantize(p.w.data(), p.rows, p.cols, wrong, GptqOptions{}).ok());
  std::vector<float> nan_w = p.w;
  nan_w[3] = NAN;
  EXPECT_FALSE(gptq_quantize(nan_w.data(), p.rows, p.cols, p.h, GptqOptions{}).ok());
}

TEST(AutoGptqPack, RoundTripsCodesAndZerosForEveryBitWidth) {
  Problem p = make_problem(23, 64, 256);
  for (int bits : {2, 3, 4, 8}) {
    for (bool sym : {true, false}) {
      GptqOptions o;
      o.bits = bits;
      o.sym = sym;
      o.group_size = 64;
      auto g = gptq_quantize(p.w.data(), p.rows, p.cols, p.h, o);
      ASSERT_TRUE(g.ok());
      auto l = autogptq_pack(*g, bits);
      ASSERT_TRUE(l.ok()) << l.status().message();
      EXPECT_EQ(l->qweight.size(), (size_t)(p.cols * bits / 32 * p.rows));
      EXPECT_EQ(l->qzeros.size(), (size_t)(4 * p.rows * bits / 32));
      std::vector<uint8_t> q;
      std::vector<int32_t> zeros;
      ASSERT_TRUE(autogptq_unpack(*l, q, zeros, "t").ok());
      EXPECT_EQ(q, g->q) << bits;
      for (int64_t r = 0; r < p.rows; ++r)
        for (int64_t gi = 0; gi < 4; ++gi)
          ASSERT_EQ((float)zeros[(size_t)(gi * p.rows + r)], g->zero[(size_t)(r * 4 + gi)]);
      std::vector<float> deq;
      ASSERT_TRUE(autogptq_dequantize(*l, deq, "t").ok());
      EXPECT_EQ(deq, g->w_hat) << bits << " sym " << sym;
    }
  }
}

TEST(AutoGptqPack, FourBitLayoutIsAutoGptqs) {
  // qweight[k][o] bits 4j.. = code of input 8k+j; qzeros[g][k] bits 4j.. = zero(out 8k+j) - 1.
  Problem p = make_problem(29, 16, 128);
  GptqOptions o;
  o.group_size = 128;
  auto g = gptq_quantize(p.w.data(), p.rows, p.cols, p.h, o);
  ASSERT_TRUE(g.ok());
  auto l = autogptq_pack(*g, 4);
  ASSERT_TRUE(l.ok());
  for (int64_t k = 0; k < p.cols / 8; ++k)
    for (int64_t out = 0; out < p.rows; ++out) {
      const uint32_t word = (uint32_t)l->qweight[(size_t)(k * p.rows + out)];
      for (int j = 0; j < 8; ++j)
        ASSERT_EQ((word >> (4 * j)) & 15u, g->q[(size_t)(out * p.cols + 8 * k + j)]);
    }
  for (int64_t k = 0; k < p.rows / 8; ++k) {
    const uint32_t word = (uint32_t)l->qzeros[(size_t)k];
    for (int j = 0; j < 8; ++j) EXPECT_EQ((word >> (4 * j)) & 15u, 7u);  // sym: zero 8, stored 7
  }
  for (int64_t c = 0; c < p.cols; ++c) EXPECT_EQ(l->g_idx[(size_t)c], 0);
}

TEST(AutoGptqPack, UnpackRejectsInconsistentTensors) {
  Problem p = make_problem(31, 16, 128);
  GptqOptions o;
  o.group_size = 32;
  auto g = gptq_quantize(p.w.data(), p.rows, p.cols, p.h, o);
  ASSERT_TRUE(g.ok());
  auto l = autogptq_pack(*g, 4);
  ASSERT_TRUE(l.ok());
  std::vector<uint8_t> q;
  std::vector<int32_t> z;
  AutoGptqLinear bad = *l;
  bad.g_idx[7] = 4;  // only 4 groups
  auto st = autogptq_unpack(bad, q, z, "layer0.q_proj");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("layer0.q_proj: g_idx[7]"), std::string::npos) << st.message();
  bad = *l;
  bad.qweight.pop_back();
  EXPECT_FALSE(autogptq_unpack(bad, q, z, "x").ok());
  bad = *l;
  bad.in = 100;  // 100 * 4 bits is not a whole number of words... it is 400: use 3 bits
  bad.bits = 3;
  EXPECT_FALSE(autogptq_unpack(bad, q, z, "x").ok());
}

}  // namespace
}  // namespace cartlm
