// The forward pass on block-quantized weights, and the kernels' quantized dots against the quant
// module's weight quantizers (this test links both):
//   - every table's qdot on real quantized weights equals dequantize-then-f32 up to the
//     activation quantization error;
//   - a small random model quantized to each type gives logits close to the same model with the
//     dequantized weights in f32, the fast table agrees with the scalar table, and prefill equals
//     token-by-token decode bit for bit with and without a thread pool.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/llama.h"
#include "quant/quant.h"

using namespace cartlm;

namespace {

const DType kWeightTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                              DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};

std::vector<float> normal_vec(Rng& rng, size_t n, double sd = 1.0) {
  std::vector<float> v(n);
  for (float& f : v) f = (float)(sd * rng.normal());
  return v;
}

std::vector<uint8_t> quantize(DType t, const std::vector<float>& x, size_t rows, size_t cols) {
  std::vector<uint8_t> q(rows * quantized_row_bytes(t, (int64_t)cols).value());
  EXPECT_TRUE(quantize_tensor(t, x.data(), (int64_t)rows, (int64_t)cols, q.data()).ok());
  return q;
}

TEST(QuantKernels, EveryTableMatchesDequantizeThenF32) {
  Rng rng(23);
  const size_t n = 2048;
  for (DType t : kWeightTypes) {
    const QuantTraits* tr = quant_traits(t);
    const QuantTraits* at = quant_traits(tr->act_type);
    for (int rep = 0; rep < 5; ++rep) {
      std::vector<float> w = normal_vec(rng, n, 0.05), x = normal_vec(rng, n);
      std::vector<uint8_t> wq = quantize(t, w, 1, n);
      std::vector<float> wd(n), xd(n);
      tr->dequantize_row(wq.data(), wd.data(), (int64_t)n);
      std::vector<uint8_t> xq(quantized_act_bytes(tr->act_type, n));
      at->quantize_row_ref(x.data(), xq.data(), (int64_t)n);
      at->dequantize_row(xq.data(), xd.data(), (int64_t)n);
      double exact = 0, act_err = 0, mag = 0, s_err = 0;
      const size_t bs = (size_t)at->block_size;
      for (size_t b = 0; b < n; b += bs) {
        double wmax = 0, xsum = 0;
        for (size_t i = b; i < b + bs; ++i) {
          exact += (double)wd[i] * x[i];
          act_err += std::fabs((double)wd[i]) * std::fabs((double)x[i] - xd[i]);
          mag += std::fabs((double)wd[i] * xd[i]);
          wmax = std::max(wmax, std::fabs((double)wd[i]));
          xsum += std::fabs((double)xd[i]);
        }
        s_err += 0x1p-11 * wmax * xsum;
      }
      const double tol = act_err + s_err + 1e-5 * mag;
      for (const KernelTable* k : supported_kernel_tables()) {
        const float got = qdot_fn(*k, t)(wq.data(), xq.data(), n);
        EXPECT_NEAR(got, exact, tol) << k->isa << " " << tr->name << " rep " << rep;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Whole model
// ---------------------------------------------------------------------------------------------

// A random tiny-shaped model: every matrix stored as `t` (quantized from the same f32 values for
// every t), norms f32. `dequantized` keeps f32 copies of the quantized matrices instead.
struct QModel {
  Config c;
  std::vector<std::vector<uint8_t>> storage;
  TensorMap map;
  ModelWeights w;
};

QModel make_qmodel(DType t, bool dequantized, uint64_t seed = 5) {
  QModel m;
  m.c = preset_config("tiny").value();
  m.c.num_hidden_layers = 2;
  m.c.max_position_embeddings = 64;
  m.c.tie_word_embeddings = false;
  Rng rng(seed);
  for (const ExpectedTensor& e : expected_tensors(m.c)) {
    size_t n = 1;
    for (int64_t d : e.shape) n *= (size_t)d;
    const bool vec = e.shape.size() == 1;
    std::vector<float> v(n);
    if (vec) {
      for (float& f : v) f = (float)(1.0 + 0.2 * (2 * rng.uniform_double() - 1));
    } else {
      const double sd = e.name.find("embed") != std::string::npos ? 1.0 : 1.0 / std::sqrt((double)e.shape[1]);
      for (float& f : v) f = (float)(sd * rng.normal());
    }
    DType st = DType::F32;
    std::vector<uint8_t> bytes;
    if (vec) {
      bytes.resize(n * 4);
      std::memcpy(bytes.data(), v.data(), n * 4);
    } else {
      const size_t rows = (size_t)e.shape[0], cols = (size_t)e.shape[1];
      bytes = quantize(t, v, rows, cols);
      st = t;
      if (dequantized) {
        std::vector<float> d(n);
        EXPECT_TRUE(dequantize_tensor(t, bytes.data(), (int64_t)rows, (int64_t)cols, d.data()).ok());
        bytes.resize(n * 4);
        std::memcpy(bytes.data(), d.data(), n * 4);
        st = DType::F32;
      }
    }
    m.storage.push_back(std::move(bytes));
    TensorView tv;
    tv.name = e.name;
    tv.dtype = st;
    tv.shape = e.shape;
    tv.data = m.storage.back().data();
    tv.nbytes = m.storage.back().size();
    m.map[e.name] = tv;
  }
  m.w = bind_weights(m.c, m.map).value();
  return m;
}

std::vector<int32_t> prompt() { return {1, 17, 300, 4, 1999, 42, 7, 1024, 5, 99}; }

// Logits of every prompt token, fed at once (prefill) or one by one (decode).
std::vector<float> run(const LlamaModel& lm, bool prefill, ThreadPool* pool) {
  LlamaSessionOptions o;
  o.max_seq = 32;
  o.all_logits = true;
  LlamaSession s = llama_session(lm, o).value();
  const std::vector<int32_t> p = prompt();
  std::vector<float> out;
  if (prefill) {
    EXPECT_TRUE(llama_forward(lm, s, p, pool).ok());
    out.assign(s.logits.begin(), s.logits.begin() + p.size() * s.vocab);
  } else {
    for (int32_t tok : p) {
      EXPECT_TRUE(llama_forward(lm, s, std::span<const int32_t>(&tok, 1), pool).ok());
      out.insert(out.end(), s.logits.begin(), s.logits.begin() + s.vocab);
    }
  }
  return out;
}

double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    den += (double)b[i] * b[i];
  }
  return std::sqrt(num / den);
}

// Relative L2 distance between the quantized model's logits and those of the same weights
// dequantized to f32: what quantizing the activations to 8 bits costs. Bounds are a few times
// the measured values (Q8_0 activations: 32-element blocks; Q8_K: 256-element blocks, coarser).
double logit_tolerance(DType t) {
  return qdot_act_type(t) == DType::Q8_K ? 0.05 : 0.03;
}

TEST(LlamaQuant, LogitsCloseToDequantizedF32Model) {
  ThreadPool pool(2);
  for (DType t : kWeightTypes) {
    QModel q = make_qmodel(t, false), f = make_qmodel(t, true);
    LlamaModel lq = llama_model(q.c, q.w).value();
    LlamaModel lf = llama_model(f.c, f.w).value();
    const std::vector<float> yq = run(lq, true, &pool), yf = run(lf, true, &pool);
    const double d = rel_l2(yq, yf);
    EXPECT_LT(d, logit_tolerance(t)) << dtype_name(t);
    std::printf("%-5s rel L2 quantized vs dequantized-f32 logits: %.5f\n", dtype_name(t), d);
  }
}

TEST(LlamaQuant, PrefillEqualsDecodeAndThreadCountDoesNotMatter) {
  ThreadPool pool(3);
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q4_K, DType::Q6_K}) {
    QModel q = make_qmodel(t, false);
    LlamaModel lq = llama_model(q.c, q.w).value();
    const std::vector<float> a = run(lq, true, nullptr), b = run(lq, false, nullptr),
                             c = run(lq, true, &pool), d = run(lq, false, &pool);
    EXPECT_EQ(a, b) << dtype_name(t);
    EXPECT_EQ(a, c) << dtype_name(t);
    EXPECT_EQ(a, d) << dtype_name(t);
  }
}

// The active (widest) table against the scalar table. They differ only in the f32 rounding of the
// block sums, but an activation that lands near a rounding boundary of the 8-bit quantizer can
// move one step, so the bound is small but not ulp-level.
TEST(LlamaQuant, FastTableAgreesWithScalarTable) {
  for (DType t : kWeightTypes) {
    QModel q = make_qmodel(t, false);
    LlamaModel lq = llama_model(q.c, q.w).value();
    const std::vector<float> fast = run(lq, true, nullptr);
    ASSERT_TRUE(select_kernels("scalar").ok());
    const std::vector<float> slow = run(lq, true, nullptr);
    ASSERT_TRUE(select_kernels("auto").ok());
    const double d = rel_l2(fast, slow);
    EXPECT_LT(d, 2e-3) << dtype_name(t);
    std::printf("%-5s rel L2 %s vs scalar table: %.2e\n", dtype_name(t), kernels().isa, d);
  }
}

TEST(LlamaQuant, RejectsRowsThatAreNotWholeBlocks) {
  QModel q = make_qmodel(DType::F32, false);
  // Every tiny width is a multiple of 256, so relabel a view with 128 columns as Q4_K.
  ModelWeights w = q.w;
  w.layers[0].wq.dtype = DType::Q4_K;
  w.layers[0].wq.shape = {256, 128};
  auto r = llama_model(q.c, w);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("not a multiple of the Q4_K block size"), std::string::npos)
      << r.message();
  w = q.w;
  w.layers[1].w_up.dtype = DType::NF4;
  r = llama_model(q.c, w);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("NF4"), std::string::npos) << r.message();
}

}  // namespace
