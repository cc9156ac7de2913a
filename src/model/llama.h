// The Llama-family forward pass for inference (Llama 3.x, SmolLM2, TinyLlama, Qwen2 with q/k/v
// bias, the tiny preset), with a KV cache.
//
//   LlamaModel    the config, the bound weight views, and the few small tensors (norms, biases,
//                 rope frequencies) converted to f32 once. Read-only: one model serves many
//                 sessions and threads.
//   LlamaSession  one sequence: its KV cache and every activation buffer, all sized at creation
//                 from max_seq and max_batch. llama_forward() never allocates.
//
// llama_forward() feeds tokens at the next positions and leaves logits in the session. Results
// do not depend on how a prompt is split into calls, nor on the thread count: feeding a prompt at
// once or token by token gives bit-identical logits (the kernels keep one reduction order).
// It and llama_forward_multi() (model/llama_multi.h) run the same step (llama_step,
// model/llama_internal.h): a single session is the one-row-group case of several.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "kernels/kernels.h"
#include "model/config.h"
#include "model/weights.h"

namespace cartlm {

class ThreadPool;

struct LlamaLayerSmall {
  std::vector<float> attn_norm, ffn_norm;  // [hidden]
  std::vector<float> bq, bk, bv;           // [q_dim], [kv_dim], [kv_dim]; empty without bias
};

struct LlamaModel {
  Config config;
  ModelWeights weights;  // views into the loader's mapping: keep it alive
  // Neox for HF-layout q/k (safetensors, Qwen2 GGUF); Norm for llama.cpp GGUFs of arch "llama",
  // whose q/k rows were permuted by the converter (REFERENCE.md §1.9).
  RopeMode rope_mode = RopeMode::Neox;
  std::vector<float> inv_freq;  // head_dim/2, from rope_inv_freq(config)
  std::vector<LlamaLayerSmall> layers;
  std::vector<float> final_norm;
};

// Checks that the forward pass can run these weights (matrix dtypes matmul_accepts: F32, F16,
// BF16 and the GGUF block types Q4_0..Q8_0, Q2_K..Q6_K with rows a multiple of the block size;
// the embedding may be any of those, one row is dequantized per token; head_dim even and
// <= 1024) and converts the small tensors. Errors name the tensor.
Result<LlamaModel> llama_model(const Config& config, const ModelWeights& weights,
                               RopeMode rope_mode = RopeMode::Neox);

struct LlamaSessionOptions {
  size_t max_seq = 0;      // KV cache positions; 0 means config.max_position_embeddings
  size_t max_batch = 64;   // tokens per internal step; longer inputs are fed in chunks
  DType kv_type = DType::F32;  // F32 or F16 cache
  bool all_logits = false;     // keep logits of every token of a call (then a call may hold at
                               // most max_batch tokens); otherwise only the last token's
};

// Activation buffers for up to max_rows tokens of one step (row-major [rows, width]), sized once
// so that no forward pass allocates. Each LlamaSession holds one for its own steps (max_rows =
// max_batch, no logits rows: its logits go straight to the session); llama_forward_multi()
// (model/llama_multi.h) takes one shared by every session of a pass, whose `logits` collect the
// rows of all of them for one lm_head matmul.
struct LlamaScratch {
  size_t max_rows = 0;
  std::vector<float> x, xn, q, k, v, att, proj, gate, up;
  std::vector<int32_t> positions;
  std::vector<float> logits;  // [max_rows, vocab] with stacked logits, else empty
  size_t bytes() const;
};

// Error: max_rows 0.
Result<LlamaScratch> llama_scratch(const LlamaModel& m, size_t max_rows, bool stacked_logits);

struct LlamaSession {
  LlamaSessionOptions opt;
  size_t n_past = 0;    // tokens in the cache (positions 0 .. n_past-1)
  size_t n_logits = 0;  // logit rows written by the last llama_forward
  size_t vocab = 0;
  // KV cache per layer: [max_seq, n_kv, head_dim] of opt.kv_type, layers back to back.
  std::vector<uint8_t> k_cache, v_cache;
  size_t layer_cache_bytes = 0;
  LlamaScratch scratch;       // activations for max_batch tokens
  std::vector<float> logits;  // [max_batch or 1, vocab]
  size_t bytes() const;       // everything above, for logs
};

Result<LlamaSession> llama_session(const LlamaModel& m, const LlamaSessionOptions& opt = {});

// Runs `tokens` at positions n_past .. n_past+n-1, appends their keys/values to the cache and
// advances n_past. Afterwards llama_logits(s, i) is row i of the logits: with all_logits the
// i-th token of this call, else row 0 = the last token. Bad input (empty, ids outside the
// vocabulary, past max_seq, too many tokens for all_logits) returns an error and leaves the
// session unchanged. `pool` nullptr runs on the calling thread.
Status llama_forward(const LlamaModel& m, LlamaSession& s, std::span<const int32_t> tokens,
                     ThreadPool* pool = nullptr);

// Drops cached tokens from position n on (n <= n_past), e.g. to reuse a shared prompt prefix.
void llama_truncate(LlamaSession& s, size_t n);

inline const float* llama_logits(const LlamaSession& s, size_t row = 0) {
  return s.logits.data() + row * s.vocab;
}

}  // namespace cartlm
