// Rope (both modes, NORM/NEOX equivalence under the GGUF q/k row permutation, inverse) and
// attention over a KV cache (every table against the naive full softmax, GQA, causal masking,
// padding, f16 cache, key blocks, threads, prefill == decode).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "test_util.h"

using namespace cartlm;
using namespace cartlm::test;

// ---------------------------------------------------------------------------------------------
// Rope
// ---------------------------------------------------------------------------------------------

TEST(Rope, DefaultInvFreqMatchesFormula) {
  float f[64];
  rope_default_inv_freq(500000.0f, 128, f);
  for (int i = 0; i < 64; ++i) {
    double want = std::pow(500000.0, -2.0 * i / 128.0);
    EXPECT_NEAR(f[i], want, 4 * kF32RoundOff * want) << i;
  }
  EXPECT_EQ(f[0], 1.0f);
}

TEST(Rope, NeoxRotatesHalvesAndNormRotatesAdjacentPairs) {
  // head_dim 4, one head, inv_freq {1, 0.5}, position 2: pair 0 turns by 2 rad, pair 1 by 1 rad.
  const float inv[2] = {1.0f, 0.5f};
  const int32_t pos[1] = {2};
  const float x0[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  float v[4];
  std::copy(x0, x0 + 4, v);
  rope(v, 1, 1, 4, 0, pos, inv, RopeMode::Neox);
  // Neox pairs: (x0, x2) by 2 rad, (x1, x3) by 1 rad.
  double c2 = std::cos(2.0), s2 = std::sin(2.0), c1 = std::cos(1.0), s1 = std::sin(1.0);
  EXPECT_NEAR(v[0], 1 * c2 - 3 * s2, 1e-6);
  EXPECT_NEAR(v[2], 3 * c2 + 1 * s2, 1e-6);
  EXPECT_NEAR(v[1], 2 * c1 - 4 * s1, 1e-6);
  EXPECT_NEAR(v[3], 4 * c1 + 2 * s1, 1e-6);
  std::copy(x0, x0 + 4, v);
  rope(v, 1, 1, 4, 0, pos, inv, RopeMode::Norm);
  // Norm pairs: (x0, x1) by 2 rad, (x2, x3) by 1 rad.
  EXPECT_NEAR(v[0], 1 * c2 - 2 * s2, 1e-6);
  EXPECT_NEAR(v[1], 2 * c2 + 1 * s2, 1e-6);
  EXPECT_NEAR(v[2], 3 * c1 - 4 * s1, 1e-6);
  EXPECT_NEAR(v[3], 4 * c1 + 3 * s1, 1e-6);
}

TEST(Rope, PositionZeroIsIdentity) {
  std::vector<float> x(3 * 2 * 8), y;
  Rng rng(21);
  fill_uniform(rng, x.data(), x.size());
  y = x;
  float inv[4];
  rope_default_inv_freq(10000.0f, 8, inv);
  const int32_t pos[3] = {0, 0, 0};
  rope(y.data(), 3, 2, 8, 0, pos, inv, RopeMode::Neox);
  EXPECT_EQ(x, y);
}

TEST(Rope, NormOnPermutedRowsEqualsNeoxOnHfRows) {
  // REFERENCE.md §1.9: llama.cpp permutes HF q/k rows so that new row 2i = old row i and new row
  // 2i+1 = old row i + hd/2; NORM rope on the permuted layout must equal NEOX rope on HF layout,
  // permuted the same way. The arithmetic per pair is identical, so the bits must match.
  const size_t T = 5, H = 3, hd = 64;
  Rng rng(22);
  std::vector<float> hf(T * H * hd);
  fill_uniform(rng, hf.data(), hf.size(), -2, 2);
  auto permute = [&](const std::vector<float>& src) {
    std::vector<float> dst(src.size());
    for (size_t r = 0; r < T * H; ++r)
      for (size_t i = 0; i < hd / 2; ++i) {
        dst[r * hd + 2 * i] = src[r * hd + i];
        dst[r * hd + 2 * i + 1] = src[r * hd + i + hd / 2];
      }
    return dst;
  };
  std::vector<float> gguf = permute(hf);
  std::vector<float> inv(hd / 2);
  rope_default_inv_freq(500000.0f, hd, inv.data());
  const int32_t pos[T] = {0, 1, 17, 1000, 131071};
  rope(hf.data(), T, H, hd, 0, pos, inv.data(), RopeMode::Neox);
  rope(gguf.data(), T, H, hd, 0, pos, inv.data(), RopeMode::Norm);
  EXPECT_EQ(permute(hf), gguf);
}

TEST(Rope, InverseUndoesRotationAndStridedRowsWork) {
  const size_t T = 4, H = 2, hd = 16, ld = 40;  // 8 floats of gap per token row
  Rng rng(23);
  std::vector<float> x(T * ld);
  fill_uniform(rng, x.data(), x.size());
  std::vector<float> y = x;
  float inv[8];
  rope_default_inv_freq(10000.0f, hd, inv);
  const int32_t pos[T] = {3, 9, 200, 4096};
  rope(y.data(), T, H, hd, ld, pos, inv, RopeMode::Neox);
  for (size_t t = 0; t < T; ++t)
    for (size_t i = H * hd; i < ld; ++i) EXPECT_EQ(y[t * ld + i], x[t * ld + i]) << "gap touched";
  EXPECT_NE(x, y);
  rope(y.data(), T, H, hd, ld, pos, inv, RopeMode::Neox, /*inverse=*/true);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(y[i], x[i], 8 * kF32RoundOff * 2) << i;
}

// ---------------------------------------------------------------------------------------------
// Attention
// ---------------------------------------------------------------------------------------------

namespace {

struct AttnData {
  AttentionShape s;
  std::vector<float> q;
  std::vector<float> kf, vf;      // f32 cache
  std::vector<uint16_t> kh, vh;   // the same values as f16 (used when kv_type is F16)
  const void* k() const { return s.kv_type == DType::F16 ? (const void*)kh.data() : (const void*)kf.data(); }
  const void* v() const { return s.kv_type == DType::F16 ? (const void*)vh.data() : (const void*)vf.data(); }
};

AttnData make_data(const AttentionShape& s, Rng& rng) {
  AttnData d;
  d.s = s;
  const size_t n_pos = s.pos0 + s.T;
  d.q.resize(s.T * s.n_head * s.head_dim);
  d.kf.resize(n_pos * s.n_kv * s.head_dim);
  d.vf.resize(d.kf.size());
  fill_uniform(rng, d.q.data(), d.q.size(), -2, 2);
  fill_uniform(rng, d.kf.data(), d.kf.size(), -2, 2);
  fill_uniform(rng, d.vf.data(), d.vf.size(), -1, 1);
  if (s.kv_type == DType::F16) {
    d.kh.resize(d.kf.size());
    d.vh.resize(d.vf.size());
    for (size_t i = 0; i < d.kf.size(); ++i) {
      d.kh[i] = fp32_to_fp16(d.kf[i]);
      d.vh[i] = fp32_to_fp16(d.vf[i]);
    }
  }
  return d;
}

// Error bound of one output element. Scores carry the dot-product error (depth over head_dim,
// relative to |q|·|k|·scale); exp adds kExpRoundOffs; each probability is relative to the sum over
// n keys; the weighted sum of values adds one rounding per key plus the online-softmax rescales.
// All of it scales with max |v| over the visible keys.
std::vector<double> attention_tolerance(const KernelTable& k, const AttnData& d) {
  const AttentionShape& s = d.s;
  const size_t hd = s.head_dim, group = s.n_head / s.n_kv;
  const double scale = s.scale > 0 ? s.scale : 1.0 / std::sqrt((double)hd);
  auto cache = [&](const std::vector<float>& c, size_t j, size_t kvh, size_t i) {
    size_t idx = (j * s.n_kv + kvh) * hd + i;
    return s.kv_type == DType::F16 ? (double)fp16_to_fp32(fp32_to_fp16(c[idx])) : (double)c[idx];
  };
  std::vector<double> tol(s.T * s.n_head * hd, 0.0);
  for (size_t t = 0; t < s.T; ++t)
    for (size_t h = 0; h < s.n_head; ++h) {
      size_t kb = s.kv_start, ke = s.causal ? s.pos0 + t + 1 : s.pos0 + s.T;
      if (kb >= ke) continue;  // zeros, exactly
      const size_t kvh = h / group, nkeys = ke - kb;
      double qn = 0;
      for (size_t i = 0; i < hd; ++i) qn += (double)d.q[(t * s.n_head + h) * hd + i] * d.q[(t * s.n_head + h) * hd + i];
      qn = std::sqrt(qn);
      double score_err = 0;
      std::vector<double> vmax(hd, 0.0);
      for (size_t j = kb; j < ke; ++j) {
        double kn = 0;
        for (size_t i = 0; i < hd; ++i) {
          kn += cache(d.kf, j, kvh, i) * cache(d.kf, j, kvh, i);
          vmax[i] = std::max(vmax[i], std::fabs(cache(d.vf, j, kvh, i)));
        }
        score_err = std::max(score_err, (reduction_depth(hd, lanes_of(k)) + 2) * qn * std::sqrt(kn) * scale);
      }
      // Score errors enter the probabilities as exp(score) relative errors: 2x (numerator and
      // normalizing sum).
      const double roundoffs = 2 * score_err + 2 * (kExpRoundOffs + 1) + 3.0 * nkeys + 16;
      for (size_t i = 0; i < hd; ++i) tol[(t * s.n_head + h) * hd + i] = roundoffs * kF32RoundOff * vmax[i];
    }
  return tol;
}

std::string describe(const KernelTable& k, const AttentionShape& s) {
  return std::string(k.isa) + " attention heads=" + std::to_string(s.n_head) + "/" + std::to_string(s.n_kv) +
         " hd=" + std::to_string(s.head_dim) + " T=" + std::to_string(s.T) + " pos0=" + std::to_string(s.pos0) +
         " kv_start=" + std::to_string(s.kv_start) + (s.causal ? " causal" : " full") + " " +
         dtype_name(s.kv_type);
}

}  // namespace

TEST(Attention, MatchesNaiveSoftmaxForManyShapes) {
  Rng rng(31);
  ThreadPool pool(2);
  struct Heads {
    size_t n_head, n_kv;
  };
  const Heads heads[] = {{1, 1}, {4, 4}, {4, 2}, {8, 1}, {32, 8}};
  for (const KernelTable* k : supported_kernel_tables())
    for (const Heads& hh : heads)
      for (size_t hd : {1, 7, 16, 33, 64})
        for (size_t T : {1, 3})
          for (size_t pos0 : {0, 5, 63, 64, 130})
            for (DType kv : {DType::F32, DType::F16}) {
              AttentionShape s;
              s.n_head = hh.n_head;
              s.n_kv = hh.n_kv;
              s.head_dim = hd;
              s.T = T;
              s.pos0 = pos0;
              s.kv_type = kv;
              s.kv_start = (pos0 + hd) % 3 == 0 ? 2 : 0;
              s.causal = (pos0 + T) % 4 != 1;
              AttnData d = make_data(s, rng);
              std::vector<float> expect(T * s.n_head * hd), got(expect.size(), -9.0f);
              attention_ref(s, d.q.data(), d.k(), d.v(), expect.data());
              attention(*k, s, d.q.data(), d.k(), d.v(), got.data(), (hd + T) % 2 ? &pool : nullptr);
              ASSERT_TRUE(all_close(describe(*k, s), expect.data(), got.data(), attention_tolerance(*k, d),
                                    expect.size()));
            }
}

TEST(Attention, LlamaDecodeShapeWithLongContext) {
  // Llama-3.2-1B: 32 query heads, 8 kv heads, head_dim 64; 700 cached tokens, one new token.
  Rng rng(32);
  ThreadPool pool(2);
  AttentionShape s;
  s.n_head = 32;
  s.n_kv = 8;
  s.head_dim = 64;
  s.T = 1;
  s.pos0 = 700;
  for (const KernelTable* k : supported_kernel_tables())
    for (DType kv : {DType::F32, DType::F16}) {
      s.kv_type = kv;
      AttnData d = make_data(s, rng);
      std::vector<float> expect(32 * 64), got(32 * 64);
      attention_ref(s, d.q.data(), d.k(), d.v(), expect.data());
      attention(*k, s, d.q.data(), d.k(), d.v(), got.data(), &pool);
      EXPECT_TRUE(all_close(describe(*k, s), expect.data(), got.data(), attention_tolerance(*k, d), expect.size()));
    }
}

TEST(Attention, GqaHeadUsesItsKvHead) {
  // Each kv head holds a constant value vector v = kvh + 1; head h must output h / group + 1.
  AttentionShape s;
  s.n_head = 6;
  s.n_kv = 3;
  s.head_dim = 4;
  s.T = 1;
  s.pos0 = 9;
  std::vector<float> q(6 * 4, 0.5f), kc(10 * 3 * 4, 0.25f), vc(10 * 3 * 4);
  for (size_t j = 0; j < 10; ++j)
    for (size_t kvh = 0; kvh < 3; ++kvh)
      for (size_t i = 0; i < 4; ++i) vc[(j * 3 + kvh) * 4 + i] = (float)(kvh + 1);
  for (const KernelTable* k : supported_kernel_tables()) {
    std::vector<float> out(6 * 4);
    attention(*k, s, q.data(), kc.data(), vc.data(), out.data());
    for (size_t h = 0; h < 6; ++h)
      for (size_t i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(out[h * 4 + i], (float)(h / 2 + 1)) << k->isa << " head " << h;
  }
}

TEST(Attention, CausalMaskHidesFutureKeysAndPaddingHidesPastKeys) {
  // Values are one-hot per position; output weight on position j must be 0 for j > pos0 + t and
  // for j < kv_start.
  AttentionShape s;
  s.n_head = 1;
  s.n_kv = 1;
  s.head_dim = 8;
  s.T = 3;
  s.pos0 = 5;
  s.kv_start = 2;
  std::vector<float> q(3 * 8, 0.0f), kc(8 * 8, 0.0f), vc(8 * 8, 0.0f);
  for (size_t j = 0; j < 8; ++j) vc[j * 8 + j] = 1.0f;  // v_j = e_j
  for (const KernelTable* k : supported_kernel_tables()) {
    std::vector<float> out(3 * 8);
    attention(*k, s, q.data(), kc.data(), vc.data(), out.data());
    for (size_t t = 0; t < 3; ++t) {
      const size_t last = s.pos0 + t, n = last - s.kv_start + 1;  // q = 0: uniform weights
      for (size_t j = 0; j < 8; ++j) {
        float want = (j >= s.kv_start && j <= last) ? 1.0f / (float)n : 0.0f;
        EXPECT_NEAR(out[t * 8 + j], want, 1e-6) << k->isa << " t=" << t << " j=" << j;
      }
    }
    // A query whose whole visible range is padding gets zeros.
    AttentionShape empty = s;
    empty.T = 1;
    empty.pos0 = 1;
    empty.kv_start = 4;
    std::vector<float> o2(8, 5.0f);
    attention(*k, empty, q.data(), kc.data(), vc.data(), o2.data());
    for (float v : o2) EXPECT_EQ(v, 0.0f) << k->isa;
  }
}

TEST(Attention, PrefillEqualsTokenByTokenDecode) {
  // A decode step runs exactly the arithmetic of the same query inside a prefill, so the bits
  // match: generation after a prompt does not depend on how the prompt was chunked.
  Rng rng(33);
  ThreadPool pool(2);
  AttentionShape s;
  s.n_head = 8;
  s.n_kv = 2;
  s.head_dim = 64;
  s.T = 150;
  s.pos0 = 0;
  AttnData d = make_data(s, rng);
  for (const KernelTable* k : supported_kernel_tables()) {
    std::vector<float> prefill(150 * 8 * 64), decode(prefill.size());
    attention(*k, s, d.q.data(), d.k(), d.v(), prefill.data(), &pool);
    for (size_t t = 0; t < 150; ++t) {
      AttentionShape one = s;
      one.T = 1;
      one.pos0 = t;
      attention(*k, one, d.q.data() + t * 8 * 64, d.k(), d.v(), decode.data() + t * 8 * 64, nullptr);
    }
    EXPECT_TRUE(all_equal(std::string(k->isa) + " prefill vs decode", prefill.data(), decode.data(), prefill.size()));
  }
}
