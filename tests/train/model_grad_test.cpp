// The Llama block and the whole tiny model: gradients (in double) against central differences,
// with GQA, padding, a loss mask, q/k/v bias, tied and untied heads, and LoRA adapters with
// dropout; the f32 path against the double one; the training forward against the inference
// forward (src/model); and a plain-SGD overfit of one batch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/thread_pool.h"
#include "model/llama.h"
#include "model/weights.h"
#include "train/grad_check.h"
#include "train/ops.h"

namespace cartlm {
namespace {

using test::cast_vec;
using test::close_to_f64;
using test::fd_check;
using test::FdEval;
using test::pick_indices;
using test::random_vec;

// The brief's tiny model: 2 layers, hidden 16, 4 heads of 4 (GQA with 2 kv heads), vocab 32.
// intermediate 24 is not a multiple of the kernels' 16-row tiles.
Config tiny_config(bool bias_untied = false) {
  Config c = default_config(Arch::Llama);
  c.vocab_size = 32;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 4;
  c.max_position_embeddings = 16;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = !bias_untied;
  c.attention_bias = bias_untied;
  c.initializer_range = 0.3;  // large enough that every non-linearity is away from its linear part
  return c;
}

// B = 2 sequences of T = 7: the second is padded after 5 tokens. Targets are the next tokens; the
// first two tokens of each sequence are "prompt" (loss mask 0).
struct Batch {
  size_t B = 2, T = 7;
  std::vector<int32_t> tokens, targets, lens = {7, 5};
  std::vector<uint8_t> mask;
};
Batch make_batch(Rng& rng, const Config& c, Batch b = {}) {
  const size_t n = b.B * b.T;
  b.tokens.assign(n, 0);
  b.targets.assign(n, -1);
  b.mask.assign(n, 0);
  for (size_t s = 0; s < b.B; ++s) {
    const size_t len = (size_t)b.lens[s];
    for (size_t t = 0; t < len; ++t)
      b.tokens[s * b.T + t] = (int32_t)rng.uniform((uint64_t)c.vocab_size);
    for (size_t t = 0; t < len; ++t) {
      b.targets[s * b.T + t] =
          t + 1 < len ? b.tokens[s * b.T + t + 1] : (int32_t)rng.uniform((uint64_t)c.vocab_size);
      b.mask[s * b.T + t] = t >= 2;
    }
  }
  return b;
}

// Random weights, plus norms around 1 and random biases so their gradients are generic too.
template <class Real>
void randomize(TrainModel<Real>& m, Rng& rng) {
  train_model_init_random(m, rng);
  for (int t : {kParamLn1w, kParamLn2w, kParamLnfw, kParamBq, kParamBk, kParamBv}) {
    Real* p = m.params.t[t];
    for (size_t i = 0; p && i < m.param_sizes[t]; ++i)
      p[i] = (Real)(float)(t == kParamBq || t == kParamBk || t == kParamBv
                               ? rng.uniform_double() - 0.5
                               : 0.5 + rng.uniform_double());
  }
  // f32-representable values, so an f32 copy of the model is the same model.
  for (size_t i = 0; i < m.params_memory.size(); ++i)
    m.params_memory.data()[i] = (Real)(float)m.params_memory.data()[i];
  if (m.opt.use_lora) {
    train_model_init_lora(m, rng);
    // PEFT starts B at 0, which would make dA vanish; use random B so both are checked.
    for (int s = 0; s < kNumLoraSites; ++s)
      for (size_t i = 0; m.lora.t[2 * s + 1] && i < m.lora_sizes[2 * s + 1]; ++i)
        m.lora.t[2 * s + 1][i] = (Real)(float)(0.5 * (2.0 * rng.uniform_double() - 1.0));
    for (size_t i = 0; i < m.lora_memory.size(); ++i)
      m.lora_memory.data()[i] = (Real)(float)m.lora_memory.data()[i];
  }
}

template <class Real>
TrainModel<Real> create(const Config& c, const Batch& b, const LoraConfig* lora) {
  TrainOptions opt;
  opt.max_batch = b.B;
  opt.max_seq = b.T;
  if (lora) {
    opt.use_lora = true;
    opt.lora = *lora;
  }
  Result<TrainModel<Real>> m = train_model_create<Real>(c, opt);
  CARTLM_CHECK(m.ok());
  return std::move(m.value());
}

// Rounding depth of the model's loss: each layer chains reductions over C, I and T (attention),
// then the head reduces over C and the log-softmax over V.
double model_depth(const Config& c, size_t T) {
  return 2.0 * (double)c.num_hidden_layers *
             (double)(c.hidden_size + c.intermediate_size + (int64_t)T + c.head_dim) +
         (double)(c.hidden_size + c.vocab_size) + 64.0;
}

// Magnitude of the terms the loss is made of: mean over counted rows of |lse| + |logit[target]|
// (read right after a forward).
template <class Real>
double loss_scale(const TrainModel<Real>& m) {
  const size_t V = (size_t)m.config.vocab_size;
  double s = 0.0;
  size_t n = 0;
  for (size_t r = 0; r < m.B * m.T; ++r) {
    if (!m.loss_mask.data()[r]) continue;
    s += std::fabs((double)m.acts.lse[r]) +
         std::fabs((double)m.acts.logits[r * V + (size_t)m.targets.data()[r]]);
    ++n;
  }
  return n ? s / (double)n : 1.0;
}

// ---------------------------------------------------------------------------------------------
// One block
// ---------------------------------------------------------------------------------------------

void check_block(const std::string& name, Config c, const LoraConfig* lora) {
  c.num_hidden_layers = 1;
  Rng rng(21);
  Batch batch = make_batch(rng, c);
  TrainModel<double> m = create<double>(c, batch, lora);
  randomize(m, rng);
  const size_t BT = batch.B * batch.T, C = (size_t)c.hidden_size;
  std::vector<int32_t> positions(BT);
  for (size_t i = 0; i < BT; ++i) positions[i] = (int32_t)(i % batch.T);
  BlockConfig bc = block_config(m.config, batch.B, batch.T, lora);
  bc.lens = batch.lens.data();
  bc.positions = positions.data();
  bc.inv_freq = m.inv_freq.data();
  BlockActs<double>& a = m.acts.layers[0];
  if (lora && lora->dropout > 0) {
    Rng mask_rng(5);
    for (int s = 0; s < kNumLoraSites; ++s) {
      size_t in, out;
      lora_site_dims(c, s, &in, &out);
      lora_dropout_mask(a.lora_mask[s], BT * in, (float)lora->dropout, mask_rng);
    }
  }
  const LayerParams<double> lp = layer_params(m.params, m.config, 0);
  const LayerParams<double> dlp = layer_params(m.grads, m.config, 0);
  LayerLora<double> ll, dll;
  if (lora) {
    ll = layer_lora(m.lora, m.config, *lora, 0);
    dll = layer_lora(m.dlora, m.config, *lora, 0);
  }
  std::vector<double> inp = random_vec(rng, BT * C);
  auto forward = [&]() {
    block_forward(bc, lp, lora ? &ll : nullptr, a, m.acts.scratch, inp.data(), nullptr);
    return std::vector<double>(a.out, a.out + BT * C);
  };
  const std::vector<double> out0 = forward();
  const std::vector<double> w = random_vec(rng, BT * C);
  std::vector<double> dres = w;
  train_model_zero_grad(m);
  block_backward(bc, lp, lora ? nullptr : &dlp, lora ? &ll : nullptr, lora ? &dll : nullptr, a,
                 m.acts.scratch, inp.data(), dres.data(), nullptr);
  auto eval = [&]() {
    const std::vector<double> o = forward();
    FdEval e;
    for (size_t i = 0; i < o.size(); ++i) {
      if (o[i] == out0[i]) continue;
      e.value += w[i] * (o[i] - out0[i]);
      e.scale += std::fabs(w[i]) * (std::fabs(o[i]) + std::fabs(out0[i]));
    }
    return e;
  };
  const double depth =
      2.0 * (double)(c.hidden_size + c.intermediate_size + c.head_dim) + (double)batch.T + 32.0;
  Rng pick(7);
  EXPECT_TRUE(fd_check(name + " dinp", inp.data(), dres.data(), pick_indices(pick, inp.size(), 400),
                       eval, depth));
  if (!lora) {
    for (int t = kParamLn1w; t <= kParamWdown; ++t) {
      if (!m.params.t[t]) continue;
      EXPECT_TRUE(fd_check(name + " d" + param_tensor_name(t), m.params.t[t], m.grads.t[t],
                           pick_indices(pick, m.param_sizes[t], 400), eval, depth));
    }
  } else {
    EXPECT_EQ(m.grads_memory.size(), 0u);  // base frozen: no base gradients exist
    for (int t = 0; t < kNumLoraTensors; ++t) {
      if (!m.lora.t[t]) continue;
      const std::string tn = std::string(lora_site_module(t / 2)) + (t % 2 ? ".B" : ".A");
      EXPECT_TRUE(fd_check(name + " d" + tn, m.lora.t[t], m.dlora.t[t],
                           pick_indices(pick, m.lora_sizes[t], 400), eval, depth));
    }
  }
}

TEST(TrainBlock, Gradient) { check_block("block", tiny_config(), nullptr); }

TEST(TrainBlock, GradientWithQkvBias) { check_block("block_bias", tiny_config(true), nullptr); }

TEST(TrainBlock, GradientLoraWithDropout) {
  LoraConfig lora;
  lora.rank = 3;
  lora.alpha = 6.0;
  lora.dropout = 0.2;
  check_block("block_lora", tiny_config(), &lora);
}

// ---------------------------------------------------------------------------------------------
// The whole model
// ---------------------------------------------------------------------------------------------

// Gradient check of a random subset (up to `per_tensor` elements) of every trainable tensor.
void check_model(const std::string& name, const Config& c, const LoraConfig* lora,
                 size_t per_tensor) {
  Rng rng(31);
  Batch b = make_batch(rng, c);
  TrainModel<double> m = create<double>(c, b, lora);
  randomize(m, rng);
  auto forward = [&]() {
    Rng dropout(77);  // the same masks on every evaluation
    return train_model_forward(m, b.tokens.data(), b.targets.data(), b.mask.data(), b.lens.data(),
                               b.B, b.T, &dropout, nullptr);
  };
  const double loss = forward();
  EXPECT_GT(loss, 0.5);
  const double S = loss_scale(m);
  train_model_zero_grad(m);
  train_model_backward(m, nullptr);
  auto eval = [&]() { return FdEval{forward(), S}; };
  const double depth = model_depth(c, b.T);
  Rng pick(8);
  if (!lora) {
    for (int t = 0; t < kNumParamTensors; ++t) {
      if (!m.params.t[t]) continue;
      EXPECT_TRUE(fd_check(name + " d" + param_tensor_name(t), m.params.t[t], m.grads.t[t],
                           pick_indices(pick, m.param_sizes[t], per_tensor), eval, depth));
    }
  } else {
    EXPECT_EQ(m.grads_memory.size(), 0u);
    for (int t = 0; t < kNumLoraTensors; ++t) {
      if (!m.lora.t[t]) continue;
      const std::string tn = std::string(lora_site_module(t / 2)) + (t % 2 ? ".B" : ".A");
      EXPECT_TRUE(fd_check(name + " d" + tn, m.lora.t[t], m.dlora.t[t],
                           pick_indices(pick, m.lora_sizes[t], per_tensor), eval, depth));
    }
  }
}

TEST(TrainModel, GradientTiedHead) { check_model("model", tiny_config(), nullptr, 48); }

TEST(TrainModel, GradientUntiedHeadWithBias) {
  check_model("model_bias", tiny_config(true), nullptr, 24);
}

TEST(TrainModel, GradientLoraAllSites) {
  LoraConfig lora;
  lora.rank = 2;
  lora.alpha = 5.0;
  lora.dropout = 0.1;
  check_model("model_lora", tiny_config(), &lora, 48);
}

TEST(TrainModel, GradientLoraSomeSitesRslora) {
  LoraConfig lora;
  lora.rank = 4;
  lora.alpha = 8.0;
  lora.use_rslora = true;
  lora.sites = (1u << kLoraQ) | (1u << kLoraV) | (1u << kLoraDown);
  check_model("model_lora_qvd", tiny_config(), &lora, 32);
}

// f32 training path (kernels' matmul, rope, dot) against the double model on the same weights.
void check_f32_model(const std::string& name, const Config& c, const LoraConfig* lora,
                     size_t T = 7) {
  Rng rng(41);
  Batch shape;
  shape.T = T;
  shape.lens = {(int32_t)T, (int32_t)(T - 2)};
  Batch b = make_batch(rng, c, shape);
  TrainModel<double> md = create<double>(c, b, lora);
  randomize(md, rng);
  TrainModel<float> mf = create<float>(c, b, lora);
  for (size_t i = 0; i < md.params_memory.size(); ++i)
    mf.params_memory.data()[i] = (float)md.params_memory.data()[i];
  for (size_t i = 0; i < md.lora_memory.size(); ++i)
    mf.lora_memory.data()[i] = (float)md.lora_memory.data()[i];
  ThreadPool pool(3);
  Rng r1(5), r2(5);
  const double ld = train_model_forward(md, b.tokens.data(), b.targets.data(), b.mask.data(),
                                        b.lens.data(), b.B, b.T, &r1, nullptr);
  const double lf = train_model_forward(mf, b.tokens.data(), b.targets.data(), b.mask.data(),
                                        b.lens.data(), b.B, b.T, &r2, &pool);
  const double depth = model_depth(c, b.T);
  EXPECT_TRUE(close_to_f64(name + " loss", &lf, &ld, 1, depth));
  train_model_zero_grad(md);
  train_model_zero_grad(mf);
  train_model_backward(md, nullptr);
  train_model_backward(mf, &pool);
  // Backward doubles the chain (forward activations, then the gradient back through them).
  if (!lora) {
    for (int t = 0; t < kNumParamTensors; ++t) {
      if (!md.grads.t[t]) continue;
      EXPECT_TRUE(close_to_f64(name + " d" + param_tensor_name(t), mf.grads.t[t], md.grads.t[t],
                               md.param_sizes[t], 2 * depth));
    }
  } else {
    for (int t = 0; t < kNumLoraTensors; ++t) {
      if (!md.dlora.t[t]) continue;
      const std::string tn = std::string(lora_site_module(t / 2)) + (t % 2 ? ".B" : ".A");
      EXPECT_TRUE(close_to_f64(name + " d" + tn, mf.dlora.t[t], md.dlora.t[t], md.lora_sizes[t],
                               2 * depth));
    }
  }
}

TEST(TrainModel, F32MatchesDouble) {
  check_f32_model("f32_model", tiny_config(), nullptr);
  check_f32_model("f32_model_bias", tiny_config(true), nullptr);
  LoraConfig lora;
  lora.rank = 3;
  lora.alpha = 6.0;
  lora.dropout = 0.1;
  check_f32_model("f32_model_lora", tiny_config(), &lora);
}

TEST(TrainModel, F32MatchesDoubleOnTinyPresetShapes) {
  // The preset's real widths (hidden 256, head_dim 32, ffn 768, vocab 2048) run the kernels'
  // full SIMD tiles; one layer keeps the double reference fast.
  Result<Config> c = preset_config("tiny");
  ASSERT_TRUE(c.ok());
  c->num_hidden_layers = 1;
  c->initializer_range = 0.05;
  check_f32_model("f32_tiny_preset", *c, nullptr, 12);
  LoraConfig lora;
  lora.rank = 8;
  lora.alpha = 16.0;
  lora.dropout = 0.05;
  check_f32_model("f32_tiny_preset_lora", *c, &lora, 12);
}

TEST(TrainModel, ThreadCountDoesNotChangeResults) {
  Config c = tiny_config();
  Rng rng(55);
  Batch b = make_batch(rng, c);
  LoraConfig lora;
  lora.rank = 2;
  lora.dropout = 0.1;
  for (const LoraConfig* l : {(const LoraConfig*)nullptr, (const LoraConfig*)&lora}) {
    TrainModel<float> m = create<float>(c, b, l);
    randomize(m, rng);
    auto run = [&](ThreadPool* pool) {
      Rng dropout(9);
      train_model_zero_grad(m);
      const double loss = train_model_forward(m, b.tokens.data(), b.targets.data(), b.mask.data(),
                                              b.lens.data(), b.B, b.T, &dropout, pool);
      train_model_backward(m, pool);
      std::vector<float> g(m.grads_memory.data(), m.grads_memory.data() + m.grads_memory.size());
      g.insert(g.end(), m.lora_grads_memory.data(),
               m.lora_grads_memory.data() + m.lora_grads_memory.size());
      return std::make_pair(loss, g);
    };
    ThreadPool pool2(2), pool3(3);
    const auto r1 = run(nullptr);
    EXPECT_EQ(r1, run(&pool2));
    EXPECT_EQ(r1, run(&pool3));
    EXPECT_FALSE(r1.second.empty());
  }
}

// The LM head on the loss rows only (what the trainer runs) against the head on every row (the
// path the finite-difference checks above cover): the same loss and the same gradients, full and
// LoRA, in double and float.
template <class Real>
void check_head_on_loss_rows(const LoraConfig* lora, double tol) {
  Config c = tiny_config(/*bias_untied=*/lora == nullptr);
  Rng rng(57);
  Batch b = make_batch(rng, c);
  auto run = [&](bool gathered) {
    TrainOptions opt;
    opt.max_batch = b.B;
    opt.max_seq = b.T;
    opt.head_on_loss_rows = gathered;
    if (lora) {
      opt.use_lora = true;
      opt.lora = *lora;
    }
    Result<TrainModel<Real>> m = train_model_create<Real>(c, opt);
    CARTLM_CHECK(m.ok());
    Rng init(5);
    randomize(*m, init);
    Rng dropout(9);
    train_model_zero_grad(*m);
    const double loss = train_model_forward(*m, b.tokens.data(), b.targets.data(), b.mask.data(),
                                            b.lens.data(), b.B, b.T, &dropout, nullptr);
    train_model_backward(*m, nullptr);
    std::vector<double> g(m->trainable_grads(), m->trainable_grads() + m->num_trainable());
    if (gathered) {
      EXPECT_EQ(m->head_rows.size(), 8u);  // (7 - 2) + (5 - 2) rows in the loss
    }
    return std::make_pair(loss, g);
  };
  const auto [loss_all, g_all] = run(false);
  const auto [loss_rows, g_rows] = run(true);
  EXPECT_NEAR(loss_rows, loss_all, tol * std::fabs(loss_all));
  ASSERT_EQ(g_rows.size(), g_all.size());
  double gmax = 0.0, diff = 0.0;
  for (size_t i = 0; i < g_all.size(); ++i) {
    gmax = std::max(gmax, std::fabs(g_all[i]));
    diff = std::max(diff, std::fabs(g_all[i] - g_rows[i]));
  }
  EXPECT_GT(gmax, 0.0);
  EXPECT_LE(diff, tol * gmax);
}

TEST(TrainModel, HeadOnLossRowsMatchesEveryRow) {
  LoraConfig lora;
  lora.rank = 2;
  lora.dropout = 0.1;
  check_head_on_loss_rows<double>(nullptr, 1e-12);
  check_head_on_loss_rows<double>(&lora, 1e-12);
  check_head_on_loss_rows<float>(nullptr, 1e-5);
  check_head_on_loss_rows<float>(&lora, 1e-5);
}

TEST(TrainModel, PaddingAndMaskedTokensDoNotMatter) {
  // Tokens past lens and targets outside the loss mask change neither the loss nor a gradient.
  Config c = tiny_config();
  Rng rng(51);
  Batch b = make_batch(rng, c);
  TrainModel<float> m = create<float>(c, b, nullptr);
  randomize(m, rng);
  auto run = [&](const Batch& x) {
    train_model_zero_grad(m);
    const double loss = train_model_forward(m, x.tokens.data(), x.targets.data(), x.mask.data(),
                                            x.lens.data(), x.B, x.T, nullptr, nullptr);
    train_model_backward(m, nullptr);
    return std::make_pair(
        loss, std::vector<float>(m.grads_memory.data(), m.grads_memory.data() + m.num_parameters));
  };
  const auto [loss, grads] = run(b);
  Batch changed = b;
  for (size_t t = (size_t)b.lens[1]; t < b.T; ++t) changed.tokens[b.T + t] = 7;  // padding
  changed.targets[0] = 3;                                                        // masked target
  const auto [loss2, grads2] = run(changed);
  EXPECT_EQ(loss, loss2);
  EXPECT_EQ(grads, grads2);
  // The loss is the mean over counted tokens of -log p(target).
  double sum = 0.0;
  size_t n = 0;
  for (size_t r = 0; r < b.B * b.T; ++r)
    if (m.loss_mask.data()[r]) sum += m.acts.losses[r], ++n;
  EXPECT_EQ(n, 8u);  // (7 - 2) + (5 - 2)
  EXPECT_NEAR(loss, sum / (double)n, 1e-6);
}

TEST(TrainModel, ZeroLoraMatchesBase) {
  // PEFT init (B = 0): the adapted model computes exactly the base model's loss.
  Config c = tiny_config();
  Rng rng(61);
  Batch b = make_batch(rng, c);
  TrainModel<float> base = create<float>(c, b, nullptr);
  randomize(base, rng);
  LoraConfig lora;
  TrainModel<float> ad = create<float>(c, b, &lora);
  std::copy(base.params_memory.data(), base.params_memory.data() + base.num_parameters,
            ad.params_memory.data());
  Rng init(3);
  train_model_init_lora(ad, init);
  const double l0 = train_model_forward(base, b.tokens.data(), b.targets.data(), b.mask.data(),
                                        b.lens.data(), b.B, b.T, nullptr, nullptr);
  const double l1 = train_model_forward(ad, b.tokens.data(), b.targets.data(), b.mask.data(),
                                        b.lens.data(), b.B, b.T, nullptr, nullptr);
  EXPECT_EQ(l0, l1);
}

TEST(TrainModel, ForwardMatchesInference) {
  // The training forward and the inference forward (src/model, KV cache) give the same logits.
  for (bool bias_untied : {false, true}) {
    Config c = tiny_config(bias_untied);
    Rng rng(71);
    Batch b = make_batch(rng, c);
    TrainModel<float> m = create<float>(c, b, nullptr);
    randomize(m, rng);
    train_model_forward(m, b.tokens.data(), b.targets.data(), b.mask.data(), b.lens.data(), b.B,
                        b.T, nullptr, nullptr);
    TensorMap map;
    for (const ParamSlot& s : param_slots(m.config)) {
      TensorView v;
      v.name = s.name;
      v.dtype = DType::F32;
      v.shape = s.shape;
      v.data = m.params_memory.data() + s.offset;
      v.nbytes = (uint64_t)v.numel() * 4;
      map[s.name] = v;
    }
    Result<ModelWeights> w = bind_weights(m.config, map);
    ASSERT_TRUE(w.ok()) << w.message();
    EXPECT_TRUE(w->unused.empty());
    Result<LlamaModel> lm = llama_model(m.config, *w);
    ASSERT_TRUE(lm.ok()) << lm.message();
    const size_t V = (size_t)c.vocab_size;
    for (size_t s = 0; s < b.B; ++s) {
      LlamaSessionOptions o;
      o.max_seq = b.T;
      o.max_batch = b.T;
      o.all_logits = true;
      Result<LlamaSession> sess = llama_session(*lm, o);
      ASSERT_TRUE(sess.ok()) << sess.message();
      const size_t len = (size_t)b.lens[s];
      ASSERT_TRUE(
          llama_forward(*lm, *sess, std::span<const int32_t>(b.tokens.data() + s * b.T, len)).ok());
      for (size_t t = 0; t < len; ++t) {
        std::vector<double> ref(llama_logits(*sess, t), llama_logits(*sess, t) + V);
        EXPECT_TRUE(close_to_f64(
            "logits vs inference seq" + std::to_string(s) + " t" + std::to_string(t),
            m.acts.logits + (s * b.T + t) * V, ref.data(), V, 2 * model_depth(c, b.T)));
      }
    }
  }
}

TEST(TrainModel, SgdOverfitsOneBatch) {
  // Plain SGD on one batch must memorize it: loss down by more than 90%.
  Config c = tiny_config();
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.head_dim = 8;
  c.initializer_range = 0.1;
  Rng rng(81);
  Batch b = make_batch(rng, c);
  std::fill(b.mask.begin(), b.mask.end(), 1);
  TrainModel<float> m = create<float>(c, b, nullptr);
  train_model_init_random(m, rng);
  const float lr = 0.5f;
  double first = 0.0, loss = 0.0;
  int step = 0;
  for (; step < 300; ++step) {
    train_model_zero_grad(m);
    loss = train_model_forward(m, b.tokens.data(), b.targets.data(), b.mask.data(), b.lens.data(),
                               b.B, b.T, nullptr, nullptr);
    if (step == 0) first = loss;
    if (loss < 0.05 * first) break;
    train_model_backward(m, nullptr);
    for (size_t i = 0; i < m.num_trainable(); ++i) m.trainable()[i] -= lr * m.trainable_grads()[i];
  }
  std::printf("[ sgd  ] loss %.4f -> %.4f after %d steps\n", first, loss, step);
  EXPECT_NEAR(first, std::log((double)c.vocab_size), 0.5);
  EXPECT_LT(loss, 0.1 * first);
}

}  // namespace
}  // namespace cartlm
