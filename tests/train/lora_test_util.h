// Helpers for the LoRA / QLoRA / merge tests: a small random HF checkpoint written from a full
// TrainModel (so the tests also have the exact f32 reference), a synthetic next-token task, and a
// plain Adam step over a flat parameter array.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "core/rng.h"
#include "formats/config.h"
#include "formats/hf_config.h"
#include "formats/safetensors.h"
#include "kernels/kernels.h"
#include "train/ops.h"

namespace cartlm::test {

// A fresh temp dir /tmp/cartlm_lora_test_<pid>/<name> (the parent is removed at exit).
inline std::string lora_temp_dir(const std::string& name) {
  namespace fs = std::filesystem;
  // One parent per process, removed at exit.
  static const fs::path parent = [] {
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(
          fs::temp_directory_path() / ("cartlm_lora_test_" + std::to_string(::getpid())), ec);
    });
    return fs::temp_directory_path() / ("cartlm_lora_test_" + std::to_string(::getpid()));
  }();
  const fs::path p = parent / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// hidden 64, 2 layers, 4 heads / 2 kv heads of 16, ffn 128, vocab 96: every matrix a multiple of
// 64 elements (NF4 blocks).
inline Config lora_test_config(bool tied = true, bool bias = false) {
  Config c = default_config(Arch::Llama);
  c.vocab_size = 96;
  c.hidden_size = 64;
  c.intermediate_size = 128;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.max_position_embeddings = 64;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = tied;
  c.attention_bias = bias;
  c.initializer_range = 0.05;
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  c.pad_token_id = 0;
  c.torch_dtype = "float32";
  EXPECT_TRUE(finalize_config(c, "test").ok());
  return c;
}

// Writes dir/config.json + dir/model.safetensors from a full model's params, in `dtype`
// (F32/F16/BF16). Norms get a random spread around 1 so they are not all ones.
inline void write_test_checkpoint(const std::string& dir, TrainModel<float>& full, DType dtype) {
  std::vector<TensorView> views;
  std::vector<std::vector<uint16_t>> half;
  for (const ParamSlot& s : param_slots(full.config)) {
    TensorView v;
    v.name = s.name;
    v.shape = s.shape;
    const size_t n = (size_t)v.numel();
    float* src = full.params_memory.data() + s.offset;
    if (dtype == DType::F32) {
      v.dtype = DType::F32;
      v.data = src;
      v.nbytes = n * 4;
    } else {
      half.emplace_back(n);
      if (dtype == DType::F16)
        f32_to_f16(src, half.back().data(), n);
      else
        f32_to_bf16(src, half.back().data(), n);
      // The reference model must see exactly the rounded values.
      convert_to_f32(dtype, half.back().data(), src, n);
      v.dtype = dtype;
      v.data = half.back().data();
      v.nbytes = n * 2;
    }
    views.push_back(v);
  }
  ASSERT_TRUE(write_safetensors(join_path(dir, "model.safetensors"), views).ok());
  ASSERT_TRUE(save_hf_config(join_path(dir, "config.json"), full.config).ok());
}

// A full-parameter f32 model with random HF init (norm weights jittered), no adapters.
inline TrainModel<float> random_full_model(const Config& c, uint64_t seed, size_t B, size_t T) {
  TrainOptions opt;
  opt.max_batch = B;
  opt.max_seq = T;
  Result<TrainModel<float>> r = train_model_create<float>(c, opt);
  EXPECT_TRUE(r.ok()) << r.message();
  TrainModel<float> m = std::move(*r);
  Rng rng(seed);
  train_model_init_random(m, rng);
  for (int t : {kParamLn1w, kParamLn2w, kParamLnfw})
    for (size_t i = 0; i < m.param_sizes[t]; ++i)
      m.params.t[t][i] = (float)(1.0 + 0.2 * (rng.uniform_double() - 0.5));
  return m;
}

// Synthetic task: tokens drawn from 16 ids (3..18); the target at every position is another id,
// f(token) = 20 + (7·(token − 3) + 2) mod 16, counted from position T/4 on. The base knows nothing
// of it (loss ≈ ln V); adapters learn it by reading the current token.
struct LoraBatch {
  std::vector<int32_t> tokens, targets;
  std::vector<uint8_t> mask;
};
inline LoraBatch lora_task_batch(Rng& rng, size_t B, size_t T, int64_t V) {
  EXPECT_GE(V, 36);
  LoraBatch b;
  b.tokens.resize(B * T);
  b.targets.resize(B * T);
  b.mask.resize(B * T);
  for (size_t s = 0; s < B; ++s)
    for (size_t t = 0; t < T; ++t) {
      const int32_t tok = (int32_t)(3 + rng.uniform(16));
      b.tokens[s * T + t] = tok;
      b.targets[s * T + t] = 20 + (7 * (tok - 3) + 2) % 16;
      b.mask[s * T + t] = t >= T / 4 ? 1 : 0;
    }
  return b;
}

// Adam (no weight decay) over n params.
struct LoraAdam {
  std::vector<float> mom, var;
  int step = 0;
  void update(float* p, const float* g, size_t n, float lr) {
    if (mom.empty()) mom.assign(n, 0.0f), var.assign(n, 0.0f);
    ++step;
    const float b1 = 0.9f, b2 = 0.999f;
    const float c1 = 1.0f - std::pow(b1, (float)step), c2 = 1.0f - std::pow(b2, (float)step);
    for (size_t i = 0; i < n; ++i) {
      mom[i] = b1 * mom[i] + (1 - b1) * g[i];
      var[i] = b2 * var[i] + (1 - b2) * g[i] * g[i];
      p[i] -= lr * (mom[i] / c1) / (std::sqrt(var[i] / c2) + 1e-8f);
    }
  }
};

}  // namespace cartlm::test
