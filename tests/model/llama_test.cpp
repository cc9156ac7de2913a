// The Llama forward pass against an independent double-precision implementation written here
// (HF semantics: rotate_half rope, GQA, causal softmax, SwiGLU, tied or separate lm_head, Qwen2
// q/k/v bias), plus the KV-cache properties: prefill == decode bit for bit, chunking, truncation,
// thread count, f16 cache, NORM rope on permuted q/k, errors, and no allocation while decoding;
// and llama_forward_multi (several sessions stacked into one pass) against the same reference.
#include "model/llama.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "model/llama_multi.h"

// Counts heap allocations in this process (for the no-allocation-while-decoding test). GCC
// cannot see that these replacements pair malloc with free.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static std::atomic<long> g_allocs{0};
void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace cartlm;

namespace {

constexpr double kF32RoundOff = 0x1p-24;

// A model with random weights held in memory.
struct TestModel {
  Config c;
  std::vector<std::vector<uint8_t>> storage;
  TensorMap map;
  ModelWeights w;
};

Config small_config(bool qwen_bias = false, bool tied = true) {
  Config c = preset_config("tiny").value();
  c.num_hidden_layers = 3;
  c.max_position_embeddings = 64;
  c.attention_bias = qwen_bias;
  if (qwen_bias) c.arch = Arch::Qwen2;
  c.tie_word_embeddings = tied;
  c.rope_theta = 500000.0;
  return c;
}

TestModel make_model(const Config& c, DType matrix_type, uint64_t seed) {
  TestModel tm;
  tm.c = c;
  Rng rng(seed);
  for (const ExpectedTensor& e : expected_tensors(c)) {
    size_t n = 1;
    for (int64_t d : e.shape) n *= (size_t)d;
    const bool vec = e.shape.size() == 1;
    const bool norm = e.name.find("norm") != std::string::npos;
    const DType t = vec ? DType::F32 : matrix_type;
    // Matrices scaled by 1/sqrt(in) keep activations O(1); norms near 1; small biases.
    const double a = vec ? (norm ? 0.2 : 0.1) : (e.name.find("embed") != std::string::npos ? 1.0 : 1.7 / std::sqrt((double)e.shape[1]));
    std::vector<uint8_t> bytes(n * (t == DType::F32 ? 4 : 2));
    for (size_t i = 0; i < n; ++i) {
      float v = (float)((norm ? 1.0 : 0.0) + a * (2 * rng.uniform_double() - 1));
      if (t == DType::F32)
        std::memcpy(bytes.data() + 4 * i, &v, 4);
      else
        reinterpret_cast<uint16_t*>(bytes.data())[i] = t == DType::F16 ? fp32_to_fp16(v) : fp32_to_bf16(v);
    }
    tm.storage.push_back(std::move(bytes));
    TensorView v;
    v.name = e.name;
    v.dtype = t;
    v.shape = e.shape;
    v.data = tm.storage.back().data();
    v.nbytes = tm.storage.back().size();
    tm.map[e.name] = v;
  }
  tm.w = bind_weights(c, tm.map).value();
  return tm;
}

double at(const TensorView& t, size_t i) {
  if (t.dtype == DType::F32) return t.as<float>()[i];
  uint16_t h = t.as<uint16_t>()[i];
  return t.dtype == DType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
}

using Mat = std::vector<std::vector<double>>;

Mat linear_ref(const Mat& x, const TensorView& w, const TensorView* bias) {
  const size_t out = (size_t)w.dim(0), in = (size_t)w.dim(1);
  Mat y(x.size(), std::vector<double>(out));
  for (size_t t = 0; t < x.size(); ++t)
    for (size_t o = 0; o < out; ++o) {
      double s = bias ? at(*bias, o) : 0.0;
      for (size_t i = 0; i < in; ++i) s += x[t][i] * at(w, o * in + i);
      y[t][o] = s;
    }
  return y;
}

Mat rmsnorm_ref(const Mat& x, const TensorView& w, double eps) {
  Mat y = x;
  for (auto& r : y) {
    double ms = 0;
    for (double v : r) ms += v * v;
    double inv = 1.0 / std::sqrt(ms / (double)r.size() + eps);
    for (size_t i = 0; i < r.size(); ++i) r[i] = r[i] * inv * at(w, i);
  }
  return y;
}

// HF LlamaForCausalLM / Qwen2ForCausalLM forward over the whole sequence: logits [T][vocab].
Mat forward_ref(const TestModel& tm, const std::vector<int32_t>& tokens) {
  const Config& c = tm.c;
  const size_t T = tokens.size(), H = (size_t)c.hidden_size, hd = (size_t)c.head_dim;
  const size_t nh = (size_t)c.num_attention_heads, nkv = (size_t)c.num_key_value_heads;
  const std::vector<float> inv = rope_inv_freq(c);
  Mat x(T, std::vector<double>(H));
  for (size_t t = 0; t < T; ++t)
    for (size_t i = 0; i < H; ++i) x[t][i] = at(tm.w.embed, (size_t)tokens[t] * H + i);
  auto rope_ref = [&](Mat& m, size_t heads) {
    for (size_t t = 0; t < T; ++t)
      for (size_t h = 0; h < heads; ++h)
        for (size_t i = 0; i < hd / 2; ++i) {
          double ang = (double)((float)t * inv[i]);  // HF: f32 product of position and inv_freq
          double a = m[t][h * hd + i], b = m[t][h * hd + i + hd / 2];
          m[t][h * hd + i] = a * std::cos(ang) - b * std::sin(ang);
          m[t][h * hd + i + hd / 2] = b * std::cos(ang) + a * std::sin(ang);
        }
  };
  for (const LayerWeights& lw : tm.w.layers) {
    Mat h = rmsnorm_ref(x, lw.attn_norm, c.rms_norm_eps);
    Mat q = linear_ref(h, lw.wq, c.attention_bias ? &lw.bq : nullptr);
    Mat k = linear_ref(h, lw.wk, c.attention_bias ? &lw.bk : nullptr);
    Mat v = linear_ref(h, lw.wv, c.attention_bias ? &lw.bv : nullptr);
    rope_ref(q, nh);
    rope_ref(k, nkv);
    Mat att(T, std::vector<double>(nh * hd, 0.0));
    for (size_t t = 0; t < T; ++t)
      for (size_t hh = 0; hh < nh; ++hh) {
        const size_t g = hh / (nh / nkv);
        std::vector<double> p(t + 1);
        double mx = -1e300, sum = 0;
        for (size_t j = 0; j <= t; ++j) {
          double d = 0;
          for (size_t i = 0; i < hd; ++i) d += q[t][hh * hd + i] * k[j][g * hd + i];
          p[j] = d / std::sqrt((double)hd);
          mx = std::max(mx, p[j]);
        }
        for (double& e : p) sum += (e = std::exp(e - mx));
        for (size_t j = 0; j <= t; ++j)
          for (size_t i = 0; i < hd; ++i) att[t][hh * hd + i] += p[j] / sum * v[j][g * hd + i];
      }
    Mat o = linear_ref(att, lw.wo, nullptr);
    for (size_t t = 0; t < T; ++t)
      for (size_t i = 0; i < H; ++i) x[t][i] += o[t][i];
    h = rmsnorm_ref(x, lw.ffn_norm, c.rms_norm_eps);
    Mat gt = linear_ref(h, lw.w_gate, nullptr), up = linear_ref(h, lw.w_up, nullptr);
    for (size_t t = 0; t < T; ++t)
      for (size_t i = 0; i < gt[t].size(); ++i) gt[t][i] = gt[t][i] / (1 + std::exp(-gt[t][i])) * up[t][i];
    Mat d = linear_ref(gt, lw.w_down, nullptr);
    for (size_t t = 0; t < T; ++t)
      for (size_t i = 0; i < H; ++i) x[t][i] += d[t][i];
  }
  return linear_ref(rmsnorm_ref(x, tm.w.final_norm, c.rms_norm_eps), tm.w.lm_head, nullptr);
}

std::vector<int32_t> some_tokens(size_t n, int vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> t(n);
  for (auto& v : t) v = (int32_t)rng.uniform((uint64_t)vocab);
  return t;
}

// Tolerance of f32 logits against the double reference: each layer adds at most about
// depth * u relative error to the residual stream (depth of its longest reduction, the MLP's
// intermediate_size, over 8 lanes), and errors add up over layers; scaled by the logit range.
double logit_tolerance(const Config& c, const Mat& ref) {
  double scale = 0;
  for (const auto& r : ref)
    for (double v : r) scale = std::max(scale, std::fabs(v));
  double depth = (double)c.intermediate_size / 8 + 64;
  return 4.0 * (double)c.num_hidden_layers * depth * kF32RoundOff * (scale + 1.0);
}

void expect_logits_near(const Mat& ref, const LlamaSession& s, size_t ref_row, size_t row, double tol,
                        const std::string& what) {
  const float* got = llama_logits(s, row);
  size_t bad = 0;
  for (size_t i = 0; i < ref[ref_row].size(); ++i)
    if (std::fabs(ref[ref_row][i] - got[i]) > tol && bad++ < 5)
      ADD_FAILURE() << what << " logit[" << i << "] expected " << ref[ref_row][i] << " actual " << got[i]
                    << " tol " << tol;
  EXPECT_EQ(bad, 0u) << what;
}

}  // namespace

TEST(Llama, MatchesDoubleReferenceForEachWeightType) {
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    TestModel tm = make_model(small_config(), dt, 7);
    LlamaModel m = llama_model(tm.c, tm.w).value();
    LlamaSessionOptions o;
    o.all_logits = true;
    o.max_batch = 16;
    LlamaSession s = llama_session(m, o).value();
    std::vector<int32_t> toks = some_tokens(11, (int)tm.c.vocab_size, 1);
    ASSERT_TRUE(llama_forward(m, s, toks).ok());
    EXPECT_EQ(s.n_past, 11u);
    EXPECT_EQ(s.n_logits, 11u);
    Mat ref = forward_ref(tm, toks);
    double tol = logit_tolerance(tm.c, ref);
    for (size_t t = 0; t < toks.size(); ++t)
      expect_logits_near(ref, s, t, t, tol, std::string(dtype_name(dt)) + " token " + std::to_string(t));
  }
}

TEST(Llama, Qwen2BiasAndUntiedHead) {
  TestModel tm = make_model(small_config(/*qwen_bias=*/true, /*tied=*/false), DType::F32, 8);
  ASSERT_TRUE(tm.w.layers[0].bq.present());
  LlamaModel m = llama_model(tm.c, tm.w).value();
  LlamaSession s = llama_session(m).value();
  std::vector<int32_t> toks = some_tokens(6, (int)tm.c.vocab_size, 2);
  ASSERT_TRUE(llama_forward(m, s, toks).ok());
  Mat ref = forward_ref(tm, toks);
  expect_logits_near(ref, s, 5, 0, logit_tolerance(tm.c, ref), "qwen2 last token");
  // The bias matters: the same weights without it give different logits.
  Config c2 = tm.c;
  c2.attention_bias = false;
  ModelWeights w2 = tm.w;
  LlamaModel m2 = llama_model(c2, w2).value();
  LlamaSession s2 = llama_session(m2).value();
  ASSERT_TRUE(llama_forward(m2, s2, toks).ok());
  EXPECT_NE(std::memcmp(llama_logits(s), llama_logits(s2), 16 * sizeof(float)), 0);
}

TEST(Llama, PrefillEqualsDecodeBitForBitAndThreadsDoNotMatter) {
  TestModel tm = make_model(small_config(), DType::BF16, 9);
  LlamaModel m = llama_model(tm.c, tm.w).value();
  std::vector<int32_t> toks = some_tokens(20, (int)tm.c.vocab_size, 3);
  const size_t V = (size_t)tm.c.vocab_size;

  LlamaSessionOptions all;
  all.all_logits = true;
  all.max_batch = 32;
  LlamaSession prefill = llama_session(m, all).value();
  ASSERT_TRUE(llama_forward(m, prefill, toks).ok());

  ThreadPool pool(2);
  LlamaSession dec = llama_session(m).value();
  for (size_t t = 0; t < toks.size(); ++t) {
    ASSERT_TRUE(llama_forward(m, dec, std::span<const int32_t>(&toks[t], 1), &pool).ok());
    ASSERT_EQ(std::memcmp(llama_logits(dec), llama_logits(prefill, t), V * sizeof(float)), 0)
        << "token " << t;
  }
  // Chunked prefill (max_batch 3, threads) of the whole prompt: same last-token logits.
  LlamaSessionOptions chunked;
  chunked.max_batch = 3;
  LlamaSession ch = llama_session(m, chunked).value();
  ASSERT_TRUE(llama_forward(m, ch, toks, &pool).ok());
  EXPECT_EQ(ch.n_past, 20u);
  EXPECT_EQ(std::memcmp(llama_logits(ch), llama_logits(prefill, 19), V * sizeof(float)), 0);
}

TEST(Llama, TruncateReusesThePrefix) {
  TestModel tm = make_model(small_config(), DType::F32, 10);
  LlamaModel m = llama_model(tm.c, tm.w).value();
  std::vector<int32_t> a = some_tokens(12, (int)tm.c.vocab_size, 4);
  std::vector<int32_t> b = a;
  b[10] = (b[10] + 1) % (int32_t)tm.c.vocab_size;  // same 10-token prefix, different tail
  LlamaSession s = llama_session(m).value(), fresh = llama_session(m).value();
  ASSERT_TRUE(llama_forward(m, s, a).ok());
  llama_truncate(s, 10);
  EXPECT_EQ(s.n_past, 10u);
  ASSERT_TRUE(llama_forward(m, s, std::span<const int32_t>(b).subspan(10)).ok());
  ASSERT_TRUE(llama_forward(m, fresh, b).ok());
  EXPECT_EQ(std::memcmp(llama_logits(s), llama_logits(fresh), (size_t)tm.c.vocab_size * 4), 0);
}

TEST(Llama, F16CacheStaysClose) {
  TestModel tm = make_model(small_config(), DType::F32, 11);
  LlamaModel m = llama_model(tm.c, tm.w).value();
  std::vector<int32_t> toks = some_tokens(16, (int)tm.c.vocab_size, 5);
  LlamaSessionOptions o;
  o.kv_type = DType::F16;
  LlamaSession s = llama_session(m, o).value();
  ASSERT_TRUE(llama_forward(m, s, toks).ok());
  Mat ref = forward_ref(tm, toks);
  // Keys and values are rounded to f16 (relative 2^-11) once per layer; that error, through the
  // following layers, dominates f32 arithmetic.
  double scale = 0;
  for (double v : ref[15]) scale = std::max(scale, std::fabs(v));
  const double tol = 4.0 * (double)tm.c.num_hidden_layers * 0x1p-11 * (scale + 1.0);
  expect_logits_near(ref, s, 15, 0, tol, "f16 cache");
}

TEST(Llama, NormRopeOnPermutedQkMatchesNeoxOnHfLayout) {
  // REFERENCE.md §1.9: a llama GGUF holds q/k rows permuted (new 2i = old i, new 2i+1 = old
  // i + hd/2 within each head) and uses NORM rope; the model must then give the same logits.
  TestModel tm = make_model(small_config(/*qwen_bias=*/true), DType::F32, 12);
  TestModel perm;  // views into tm's storage, except the permuted q/k tensors
  perm.c = tm.c;
  perm.map = tm.map;
  const size_t hd = (size_t)tm.c.head_dim, H = (size_t)tm.c.hidden_size;
  auto permute_rows = [&](const std::string& name, size_t row_len) {
    TensorView& v = perm.map[name];
    const float* src = tm.map[name].as<float>();
    std::vector<float> out((size_t)v.numel());
    const size_t rows = (size_t)v.dim(0);
    for (size_t head = 0; head < rows / hd; ++head)
      for (size_t i = 0; i < hd / 2; ++i)
        for (size_t j = 0; j < row_len; ++j) {
          out[(head * hd + 2 * i) * row_len + j] = src[(head * hd + i) * row_len + j];
          out[(head * hd + 2 * i + 1) * row_len + j] = src[(head * hd + i + hd / 2) * row_len + j];
        }
    perm.storage.emplace_back(out.size() * 4);
    std::memcpy(perm.storage.back().data(), out.data(), out.size() * 4);
    v.data = perm.storage.back().data();
  };
  for (int64_t l = 0; l < tm.c.num_hidden_layers; ++l) {
    const std::string p = hf_layer_prefix(l) + "self_attn.";
    permute_rows(p + "q_proj.weight", H);
    permute_rows(p + "k_proj.weight", H);
    permute_rows(p + "q_proj.bias", 1);
    permute_rows(p + "k_proj.bias", 1);
  }
  perm.w = bind_weights(perm.c, perm.map).value();

  LlamaModel neox = llama_model(tm.c, tm.w, RopeMode::Neox).value();
  LlamaModel norm = llama_model(perm.c, perm.w, RopeMode::Norm).value();
  LlamaSession a = llama_session(neox).value(), b = llama_session(norm).value();
  std::vector<int32_t> toks = some_tokens(9, (int)tm.c.vocab_size, 6);
  ASSERT_TRUE(llama_forward(neox, a, toks).ok());
  ASSERT_TRUE(llama_forward(norm, b, toks).ok());
  // Only the order of the q·k sums differs.
  Mat ref = forward_ref(tm, toks);
  double tol = logit_tolerance(tm.c, ref);
  size_t bad = 0;
  for (size_t i = 0; i < (size_t)tm.c.vocab_size; ++i)
    if (std::fabs(llama_logits(a)[i] - llama_logits(b)[i]) > tol) ++bad;
  EXPECT_EQ(bad, 0u);
  // And a wrong mode on permuted weights is visibly wrong (the test can fail).
  LlamaModel wrong = llama_model(perm.c, perm.w, RopeMode::Neox).value();
  LlamaSession w = llama_session(wrong).value();
  ASSERT_TRUE(llama_forward(wrong, w, toks).ok());
  double maxdiff = 0;
  for (size_t i = 0; i < (size_t)tm.c.vocab_size; ++i)
    maxdiff = std::max(maxdiff, (double)std::fabs(llama_logits(a)[i] - llama_logits(w)[i]));
  EXPECT_GT(maxdiff, 100 * tol);
}

TEST(Llama, BadInputReturnsErrorsAndLeavesSessionUnchanged) {
  TestModel tm = make_model(small_config(), DType::F32, 13);
  LlamaModel m = llama_model(tm.c, tm.w).value();
  LlamaSessionOptions o;
  o.max_seq = 8;
  o.max_batch = 4;
  LlamaSession s = llama_session(m, o).value();
  ASSERT_TRUE(llama_forward(m, s, some_tokens(5, 100, 1)).ok());

  std::vector<int32_t> bad_id = {3, (int32_t)tm.c.vocab_size};
  Status st = llama_forward(m, s, bad_id);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("token id 2048 at index 1"), std::string::npos) << st.message();
  st = llama_forward(m, s, some_tokens(4, 100, 2));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("max_seq 8"), std::string::npos) << st.message();
  EXPECT_FALSE(llama_forward(m, s, {}).ok());
  EXPECT_EQ(s.n_past, 5u);

  LlamaSessionOptions all;
  all.all_logits = true;
  all.max_batch = 4;
  LlamaSession s2 = llama_session(m, all).value();
  st = llama_forward(m, s2, some_tokens(5, 100, 3));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("max_batch 4"), std::string::npos) << st.message();

  LlamaSessionOptions bad_kv;
  bad_kv.kv_type = DType::Q8_0;
  EXPECT_FALSE(llama_session(m, bad_kv).ok());

  // A matrix dtype matmul cannot multiply is refused with the tensor's name (block-quantized
  // types run since the quantized kernels landed: tests/model/llama_quant_test.cpp).
  ModelWeights q = tm.w;
  q.layers[1].w_up.dtype = DType::NF4;
  Result<LlamaModel> r = llama_model(tm.c, q);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << r.message();
}

TEST(Llama, DecodingDoesNotAllocate) {
  TestModel tm = make_model(small_config(), DType::BF16, 14);
  LlamaModel m = llama_model(tm.c, tm.w).value();
  LlamaSession s = llama_session(m).value();
  ThreadPool pool(2);
  std::vector<int32_t> toks = some_tokens(12, (int)tm.c.vocab_size, 7);
  ASSERT_TRUE(llama_forward(m, s, std::span<const int32_t>(toks).first(4), &pool).ok());  // warm up
  long before = g_allocs.load();
  for (size_t t = 4; t < toks.size(); ++t)
    ASSERT_TRUE(llama_forward(m, s, std::span<const int32_t>(&toks[t], 1), &pool).ok());
  EXPECT_EQ(g_allocs.load() - before, 0);
}

// Three sessions stacked into each pass (a 7-token prefill next to 1- and 4-token ones, then
// decode steps with a 3-token continuation among them, an f16 cache and an all_logits session):
// every session's logits match the double reference of its own whole sequence, and the decode
// passes allocate nothing.
TEST(Llama, MultiSessionPassMatchesDoubleReferenceAndDoesNotAllocate) {
  TestModel tm = make_model(small_config(), DType::BF16, 15);
  LlamaModel m = llama_model(tm.c, tm.w).value();
  const int V = (int)tm.c.vocab_size;
  LlamaSessionOptions f16, all;
  f16.kv_type = DType::F16;
  all.all_logits = true;
  all.max_batch = 8;
  LlamaSession a = llama_session(m).value(), b = llama_session(m, f16).value(),
               c = llama_session(m, all).value();
  LlamaScratch sc = llama_multi_scratch(m, 16).value();
  ThreadPool pool(2);
  std::vector<LlamaSession*> ss = {&a, &b, &c};
  std::vector<std::vector<int32_t>> seq = {some_tokens(11, V, 21), some_tokens(13, V, 22),
                                           some_tokens(8, V, 23)};
  // Tokens fed per session and pass: 7/1/4, then 1/3/1 four times.
  const size_t first[3] = {7, 1, 4}, then[3] = {1, 3, 1};
  std::vector<std::span<const int32_t>> sp;
  for (size_t i = 0; i < 3; ++i) sp.push_back(std::span<const int32_t>(seq[i]).first(first[i]));
  ASSERT_TRUE(llama_forward_multi(m, ss, sp, sc, &pool).ok());  // also warms up the pool
  const long before = g_allocs.load();
  for (int step = 0; step < 4; ++step) {
    for (size_t i = 0; i < 3; ++i) sp[i] = std::span<const int32_t>(seq[i]).subspan(ss[i]->n_past, then[i]);
    ASSERT_TRUE(llama_forward_multi(m, ss, sp, sc, &pool).ok());
  }
  EXPECT_EQ(g_allocs.load() - before, 0);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(ss[i]->n_past, seq[i].size());
    Mat ref = forward_ref(tm, seq[i]);
    // Session b's f16 cache rounds keys and values: F16CacheStaysClose's bound.
    double scale = 0;
    for (double v : ref.back()) scale = std::max(scale, std::fabs(v));
    const double tol = i == 1 ? 4.0 * (double)tm.c.num_hidden_layers * 0x1p-11 * (scale + 1.0)
                              : logit_tolerance(tm.c, ref);
    const size_t rows = ss[i]->opt.all_logits ? then[i] : 1;
    ASSERT_EQ(ss[i]->n_logits, rows);
    for (size_t r = 0; r < rows; ++r)
      expect_logits_near(ref, *ss[i], seq[i].size() - rows + r, r, tol,
                         "session " + std::to_string(i) + " row " + std::to_string(r));
  }
}
