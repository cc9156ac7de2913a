// `cartlm init`: a fresh, randomly initialised HF checkpoint directory (config.json,
// model.safetensors, generation_config.json, tokenizer.json + tokenizer_config.json) for a preset
// or a custom shape. Weights follow the HF init: normal(0, initializer_range) for matrices and
// embeddings, ones for norms, zeros for biases, drawn with cartlm::Rng (one forked stream per
// tensor), so a seed reproduces the checkpoint bit for bit.
#pragma once
#include <cstdint>
#include <string>

#include "core/status.h"
#include "formats/config.h"
#include "tokenizer/tokenizer.h"

namespace cartlm {

struct InitOptions {
  std::string preset = "tiny";
  std::string out_dir;
  std::string dtype;      // "f32", "f16", "bf16"; "" = f32 for tiny, bf16 otherwise
  uint64_t seed = 42;
  std::string tokenizer;  // tokenizer.json / directory / .gguf to copy; "" = train a small BPE
  bool force = false;     // allow writing into a non-empty out_dir
  // Shape overrides (0 = keep the preset's value).
  int64_t hidden = 0, layers = 0, heads = 0, kv_heads = 0, ffn = 0, vocab = 0;
  bool progress = true;
};

struct InitReport {
  Config config;
  int64_t parameters = 0;
  uint64_t bytes = 0;      // model.safetensors tensor bytes
  int32_t learned_tokens = 0;  // tokenizer tokens before filler padding (0 when copied)
};

// The tokenizer `cartlm init` trains when none is given: a byte-level BPE on a built-in en/hr/es
// shopping text, padded with "<|reserved_N|>" Control tokens to exactly `vocab_size` tokens. The
// specials <|pad|>, <|begin_of_text|>, <|end_of_text|> get ids special_at .. special_at+2 (init uses
// 0 for tiny, the preset's bos id - 1 otherwise, e.g. bos 128000 for Llama 3.2).
Result<Tokenizer> init_tokenizer(int64_t vocab_size, int64_t special_at,
                                 int32_t* learned_tokens = nullptr);

Result<InitReport> init_checkpoint(const InitOptions& opt);

}  // namespace cartlm
