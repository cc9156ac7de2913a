// Binding: checks that a tensor map (HF names, outermost-first shapes) holds every tensor a Config
// needs with the right shape and a usable dtype, and hands out plain per-layer views for the
// forward pass. Nothing is copied: the views point into the loader's mapping (keep the Checkpoint
// or GGUF file alive as long as the ModelWeights).
//
// HF shapes (linear weights are [out, in], y = x W^T):
//   embed [vocab, hidden]; lm_head [vocab, hidden] (= embed when tied)
//   wq [heads*head_dim, hidden]  wk, wv [kv_heads*head_dim, hidden]  wo [hidden, heads*head_dim]
//   bq [heads*head_dim]  bk, bv [kv_heads*head_dim]  (attention_bias only, else absent)
//   w_gate, w_up [intermediate, hidden]  w_down [hidden, intermediate]
//   attn_norm, ffn_norm, final_norm [hidden]
#pragma once
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor_view.h"
#include "formats/config.h"

namespace cartlm {

struct LayerWeights {
  TensorView attn_norm;  // input_layernorm
  TensorView wq, wk, wv, wo;
  TensorView bq, bk, bv;  // !present() unless config.attention_bias
  TensorView ffn_norm;    // post_attention_layernorm
  TensorView w_gate, w_up, w_down;
};

struct ModelWeights {
  TensorView embed;       // model.embed_tokens.weight
  TensorView final_norm;  // model.norm.weight
  TensorView lm_head;     // lm_head.weight, or a copy of `embed` when tied
  std::vector<LayerWeights> layers;
  std::vector<std::string> unused;  // names in the map that no field took (e.g. rotary inv_freq)
};

// HF tensor names for layer `i`: hf_layer_prefix(3) == "model.layers.3."
std::string hf_layer_prefix(int64_t layer);

// First problem wins, naming tensor, expected and actual: "missing tensor
// model.layers.3.mlp.up_proj.weight" / "tensor model.layers.0.self_attn.k_proj.weight has shape
// [2048, 2048], expected [512, 2048]" / "... has dtype I32, expected F32, F16, BF16 or a GGUF
// block type". Matrices may be F32/F16/BF16 or any block-quantized DType (GGUF); norms and biases
// must be F32/F16/BF16.
Result<ModelWeights> bind_weights(const Config& c, const TensorMap& tensors);

// The names and shapes bind_weights expects, in file order (embed, layers..., norm, lm_head).
// Writers (init, merge) use it to lay out a checkpoint.
struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
};
std::vector<ExpectedTensor> expected_tensors(const Config& c);

}  // namespace cartlm
