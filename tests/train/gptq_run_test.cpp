// GPTQ calibration driver and imatrix collection on the tiny random model.
#include "train/gptq_run.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "core/rng.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "model/config.h"
#include "train/imatrix_collect.h"
#include "train/ops.h"

namespace cartlm {
namespace {

struct Tiny {
  Config c;
  TrainModel<float> m;
  TensorMap views;
  ModelWeights w;
};

std::unique_ptr<Tiny> make_tiny(size_t max_seq) {
  auto t = std::make_unique<Tiny>();
  t->c = preset_config("tiny").value();
  TrainOptions to;
  to.max_batch = 1;
  to.max_seq = max_seq;
  t->m = std::move(train_model_create<float>(t->c, to).value());
  Rng rng(7);
  train_model_init_random(t->m, rng);
  for (const ParamSlot& s : param_slots(t->c)) {
    TensorView v;
    v.name = s.name;
    v.dtype = DType::F32;
    v.shape = s.shape;
    v.data = t->m.params_memory.data() + s.offset;
    v.nbytes = (uint64_t)v.numel() * 4;
    t->views[s.name] = v;
  }
  t->w = bind_weights(t->c, t->views).value();
  return t;
}

std::vector<std::vector<int32_t>> random_seqs(size_t n, Rng& rng, int64_t vocab) {
  std::vector<std::vector<int32_t>> seqs(n);
  for (auto& s : seqs) {
    s.resize((size_t)rng.range(4, 24));
    for (auto& t : s) t = (int32_t)rng.uniform((uint64_t)vocab);
  }
  return seqs;
}

std::string hf_name(int64_t l, int site) {
  return hf_layer_prefix(l) + lora_site_module(site) + ".weight";
}

// logits of every sequence, one by one, through the whole-model training forward.
std::vector<float> all_logits(TrainModel<float>& m, const std::vector<std::vector<int32_t>>& seqs) {
  std::vector<float> out;
  const size_t V = (size_t)m.config.vocab_size;
  for (const auto& s : seqs) {
    std::vector<int32_t> targets(s.size(), 0);
    train_model_forward(m, s.data(), targets.data(), nullptr, nullptr, 1, s.size(), nullptr, nullptr);
    out.insert(out.end(), m.acts.logits, m.acts.logits + s.size() * V);
  }
  return out;
}

TEST(Imatrix, EqualsSumsOfSquaredLinearInputsFromTheWholeModelForward) {
  auto t = make_tiny(32);
  Rng rng(1);
  const auto seqs = random_seqs(7, rng, t->c.vocab_size);
  ImatrixOptions o;
  o.max_batch = 3;  // padded batches of different lengths
  o.chunk_size = 16;
  o.progress = false;
  ThreadPool pool(2);
  auto im = collect_imatrix(t->c, t->w, seqs, o, &pool);
  ASSERT_TRUE(im.ok()) << im.status().message();
  int64_t tokens = 0;
  for (const auto& s : seqs) tokens += (int64_t)s.size();
  EXPECT_EQ(im->chunk_count, (tokens + 15) / 16);
  EXPECT_EQ(im->entries.size(), (size_t)(7 * t->c.num_hidden_layers));

  // Direct: run each sequence through the whole model and sum squares of each linear's input.
  const size_t L = (size_t)t->c.num_hidden_layers, C = 256, I = 768, QD = 256;
  std::map<std::string, std::vector<double>> direct;
  for (const auto& s : seqs) {
    std::vector<int32_t> targets(s.size(), 0);
    train_model_forward(t->m, s.data(), targets.data(), nullptr, nullptr, 1, s.size(), nullptr, nullptr);
    for (size_t l = 0; l < L; ++l) {
      const BlockActs<float>& a = t->m.acts.layers[l];
      auto add = [&](const char* site, const float* x, size_t width) {
        auto& v = direct[strformat("blk.%zu.%s.weight", l, site)];
        v.resize(width, 0.0);
        for (size_t r = 0; r < s.size(); ++r)
          for (size_t j = 0; j < width; ++j) v[j] += (double)x[r * width + j] * x[r * width + j];
      };
      for (const char* site : {"attn_q", "attn_k", "attn_v"}) add(site, a.ln1, C);
      add("attn_output", a.atty, QD);
      for (const char* site : {"ffn_gate", "ffn_up"}) add(site, a.ln2, C);
      add("ffn_down", a.swi, I);
    }
  }
  for (const auto& [name, want] : direct) {
    auto it = im->entries.find(name);
    ASSERT_NE(it, im->entries.end()) << name;
    ASSERT_EQ(it->second.counts, std::vector<int64_t>{tokens}) << name;
    ASSERT_EQ(it->second.sums.size(), want.size()) << name;
    for (size_t j = 0; j < want.size(); ++j)
      ASSERT_NEAR(it->second.sums[j], want[j], 1e-4 * want[j] + 1e-6) << name << " column " << j;
  }
}

TEST(Imatrix, LimitToChunksKeepsWholeSequences) {
  std::vector<std::vector<int32_t>> s = {std::vector<int32_t>(10), std::vector<int32_t>(10),
                                         std::vector<int32_t>(10)};
  EXPECT_EQ(limit_to_chunks(s, 1, 15).size(), 2u);
  EXPECT_EQ(limit_to_chunks(s, 2, 10).size(), 2u);
  EXPECT_EQ(limit_to_chunks(s, 0, 10).size(), 3u);
}

TEST(GptqRun, QuantizesEveryLinearTrueSequentiallyAndBeatsRoundToNearest) {
  auto t = make_tiny(32);
  Rng rng(2);
  const auto seqs = random_seqs(24, rng, t->c.vocab_size);
  GptqRunOptions o;
  o.gptq.bits = 4;
  o.gptq.group_size = 32;
  o.max_batch = 8;
  o.progress = false;
  std::vector<std::pair<int64_t, int>> order;
  std::map<std::string, std::vector<float>> gptq_w;
  ThreadPool pool(2);
  Status st = gptq_run(
      t->c, t->w, seqs, o,
      [&](int64_t l, int site, const GptqResult& r) {
        order.push_back({l, site});
        size_t in, out;
        lora_site_dims(t->c, site, &in, &out);
        EXPECT_EQ(r.rows, (int64_t)out);
        EXPECT_EQ(r.cols, (int64_t)in);
        gptq_w[hf_name(l, site)] = r.w_hat;
        return Status();
      },
      &pool);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(order.size(), (size_t)(7 * t->c.num_hidden_layers));
  for (size_t i = 0; i < order.size(); ++i) {
    EXPECT_EQ(order[i].first, (int64_t)(i / 7));
    EXPECT_EQ(order[i].second, (int)(i % 7));
  }

  // The same model with GPTQ weights and with round-to-nearest weights on the same grid.
  const std::vector<float> ref = all_logits(t->m, seqs);
  std::vector<float> original(t->m.params_memory.data(), t->m.params_memory.data() + t->m.num_parameters);
  auto set_weights = [&](bool use_gptq) {
    std::memcpy(t->m.params_memory.data(), original.data(), original.size() * 4);
    for (const ParamSlot& s : param_slots(t->c)) {
      auto it = gptq_w.find(s.name);
      if (it == gptq_w.end()) continue;
      float* dst = t->m.params_memory.data() + s.offset;
      if (use_gptq) {
        std::memcpy(dst, it->second.data(), it->second.size() * 4);
      } else {
        auto r = rtn_quantize(dst, s.shape[0], s.shape[1], o.gptq);
        ASSERT_TRUE(r.ok());
        std::memcpy(dst, r->w_hat.data(), r->w_hat.size() * 4);
      }
    }
  };
  auto err = [&](const std::vector<float>& got) {
    double e = 0, n = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      e += (double)(got[i] - ref[i]) * (got[i] - ref[i]);
      n += (double)ref[i] * ref[i];
    }
    return e / n;
  };
  set_weights(true);
  const double e_gptq = err(all_logits(t->m, seqs));
  set_weights(false);
  const double e_rtn = err(all_logits(t->m, seqs));
  std::printf("tiny model, relative logit error on the calibration data: gptq %.3e  rtn %.3e\n",
              e_gptq, e_rtn);
  EXPECT_LT(e_gptq, 0.8 * e_rtn);
  EXPECT_GT(e_gptq, 0.0);
}

}  // namespace
}  // namespace cartlm
