// Training ops: the explicit backward pass of every op of the Llama block, the block itself, and a
// whole-model forward/backward (embedding -> L blocks -> final RMSNorm -> LM head -> masked
// cross-entropy), optionally with LoRA adapters on q,k,v,o,gate,up,down. llm.c style: each op is an
// <op>_forward / <op>_backward pair, gradient arguments start with `d`, every tensor argument has
// its shape in a comment, and all memory is planned up front (nothing here allocates after
// train_model_create / make_train_activations).
//
// Letters: B sequences of T tokens (BT = B*T rows), C hidden, OC out features, NH query heads,
// KVH key/value heads, HD head_dim, I intermediate, V vocab, R LoRA rank, L layers.
//
// Conventions
// - Row-major. Weights are [out, in] as HF stores nn.Linear: y = x·Wᵀ (+ b).
// - Every backward ACCUMULATES (+=) into its gradient arguments (the caller zeroes them), so tied
//   weights and branches that share an input just add up. Exceptions say so: rope_backward and
//   cross_entropy_backward work in place / overwrite. A gradient pointer may be nullptr when that
//   gradient is not wanted (frozen weights).
// - `Real` is float (training) or double (gradient checks); both are instantiated. The f32 path
//   calls the kernels engineer's matmul/rope/dot (src/kernels/kernels.h); the double path runs
//   plain loops, so tests can check each backward against central differences in double.
// - Padding is on the right: lens[b] = valid tokens of sequence b, tokens t >= lens[b] are padding
//   (lens == nullptr: all T valid). Padded query rows attend to nothing (zeros) and padded keys are
//   masked. Give padded tokens a loss mask of 0.
// - Deterministic: results do not depend on the thread count (static splits, fixed sum order).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "core/status.h"
#include "model/config.h"
#include "model/weights.h"
#include "quant/nf4.h"

namespace cartlm {

class ThreadPool;

// ---------------------------------------------------------------------------------------------
// Embedding
// ---------------------------------------------------------------------------------------------

// out (BT, C) = wte[tokens[i]] rows; tokens (BT) each in [0, V) (checked: ids come from our own
// tokenizer, so a bad one is a bug); wte (V, C).
template <class Real>
void embedding_forward(Real* out, const int32_t* tokens, const Real* wte, size_t BT, size_t C,
                       size_t V);
// dwte (V, C) += scatter of dout (BT, C) rows to their token ids.
template <class Real>
void embedding_backward(Real* dwte, const Real* dout, const int32_t* tokens, size_t BT, size_t C,
                        ThreadPool* pool);

// ---------------------------------------------------------------------------------------------
// RMSNorm: out = inp / sqrt(mean(inp²) + eps) · weight
// ---------------------------------------------------------------------------------------------

// out (BT, C), rstd (BT) = 1/sqrt(mean(inp²)+eps) saved for backward, inp (BT, C), weight (C).
template <class Real>
void rmsnorm_forward(Real* out, Real* rstd, const Real* inp, const Real* weight, size_t BT,
                     size_t C, float eps, ThreadPool* pool);
// dinp (BT, C) +=, dweight (C) += (nullable); dout (BT, C), inp (BT, C), weight (C), rstd (BT).
template <class Real>
void rmsnorm_backward(Real* dinp, Real* dweight, const Real* dout, const Real* inp,
                      const Real* weight, const Real* rstd, size_t BT, size_t C, ThreadPool* pool);

// ---------------------------------------------------------------------------------------------
// Matmul: out = inp·weightᵀ + bias
// ---------------------------------------------------------------------------------------------

// out (BT, OC), inp (BT, C), weight (OC, C), bias (OC) or nullptr. Split over output rows.
template <class Real>
void matmul_forward(Real* out, const Real* inp, const Real* weight, const Real* bias, size_t BT,
                    size_t C, size_t OC, ThreadPool* pool);
// dinp (BT, C) += dout·weight; dweight (OC, C) += doutᵀ·inp; dbias (OC) += Σ_rows dout.
// Each of dinp, dweight, dbias may be nullptr. dout (BT, OC), inp (BT, C), weight (OC, C).
template <class Real>
void matmul_backward(Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp,
                     const Real* weight, size_t BT, size_t C, size_t OC, ThreadPool* pool);
// A frozen base weight kept in its checkpoint dtype (F32, F16 or BF16; LoRA on a real model):
// forward, and dinp (BT, C) += dout (BT, OC) · weight (OC, C) converted to f32.
void matmul_forward_frozen(float* out, const float* inp, DType wtype, const void* weight,
                           const float* bias, size_t BT, size_t C, size_t OC, ThreadPool* pool);
void matmul_backward_frozen(float* dinp, const float* dout, DType wtype, const void* weight,
                            size_t BT, size_t C, size_t OC, ThreadPool* pool);
// A frozen base matrix (OC, C): a view in its checkpoint dtype (F32/F16/BF16; the memory belongs
// to the loader's mapping) or an NF4 tensor (QLoRA). NF4 is dequantized a tile of rows at a time
// into f32 and multiplied with the f32 kernels (the tile loop is sequential, each tile's dequant
// and matmul are split over the pool, so results do not depend on the thread count).
struct FrozenMatrix {
  DType dtype = DType::F32;        // F32, F16, BF16 (data) or NF4 (nf4)
  const void* data = nullptr;      // (OC, C) of dtype; nullptr for NF4
  const Nf4Tensor* nf4 = nullptr;  // set when dtype == NF4
  bool present() const { return data != nullptr || nf4 != nullptr; }
};
// Floats of scratch the two calls below need for w (OC, C) with up to BT rows: for NF4 one
// dequantized tile of rows plus the matching dout columns; 0 for views (scratch may be nullptr).
size_t frozen_scratch_floats(const FrozenMatrix& w, size_t BT, size_t C, size_t OC);
void matmul_forward_frozen(float* out, const float* inp, const FrozenMatrix& w, const float* bias,
                           size_t BT, size_t C, size_t OC, float* scratch, ThreadPool* pool);
void matmul_backward_frozen(float* dinp, const float* dout, const FrozenMatrix& w, size_t BT,
                            size_t C, size_t OC, float* scratch, ThreadPool* pool);
// out (BT, C) = rows tokens[i] of a frozen embedding (V, C) (F32/F16/BF16; not NF4), as f32.
void embedding_forward_frozen(float* out, const int32_t* tokens, const FrozenMatrix& wte,
                              size_t BT, size_t C, size_t V);

// ---------------------------------------------------------------------------------------------
// Rope, NEOX (HF rotate_half) order: pair (i, i + HD/2) of a head turns by
// positions[row]·inv_freq[i]
// ---------------------------------------------------------------------------------------------

// x (BT, NHx, HD) rotated in place; positions (BT); inv_freq (HD/2) from rope_inv_freq(config)
// (llama3 scaling already applied). The angle is the f32 product pos·inv_freq as in HF.
template <class Real>
void rope_forward(Real* x, const int32_t* positions, const float* inv_freq, size_t BT, size_t NHx,
                  size_t HD);
// dx (BT, NHx, HD) IN PLACE: the transpose of a rotation is the rotation by the negative angle.
template <class Real>
void rope_backward(Real* dx, const int32_t* positions, const float* inv_freq, size_t BT, size_t NHx,
                   size_t HD);

// ---------------------------------------------------------------------------------------------
// Attention: causal, GQA (query head h reads kv head h / (NH/KVH)), scale 1/sqrt(HD), padding
// ---------------------------------------------------------------------------------------------

// out (B, T, NH, HD); att (B, NH, T, T) softmax probabilities saved for backward (zero outside the
// visible window, all zero on padded query rows); q (B, T, NH, HD); k, v (B, T, KVH, HD);
// lens (B) or nullptr.
template <class Real>
void attention_forward(Real* out, Real* att, const Real* q, const Real* k, const Real* v,
                       const int32_t* lens, size_t B, size_t T, size_t NH, size_t KVH, size_t HD,
                       ThreadPool* pool);
// dq (B, T, NH, HD) +=, dk, dv (B, T, KVH, HD) +=; dout (B, T, NH, HD); out (B, T, NH, HD) is the
// forward output (rowsum(dout ⊙ out) = Σ_j P_j dP_j, so no scratch row is needed).
template <class Real>
void attention_backward(Real* dq, Real* dk, Real* dv, const Real* dout, const Real* q,
                        const Real* k, const Real* v, const Real* att, const Real* out,
                        const int32_t* lens, size_t B, size_t T, size_t NH, size_t KVH, size_t HD,
                        ThreadPool* pool);

// ---------------------------------------------------------------------------------------------
// SwiGLU and residual (elementwise over N values)
// ---------------------------------------------------------------------------------------------

// out (N) = silu(gate) · up; gate, up (N).
template <class Real>
void swiglu_forward(Real* out, const Real* gate, const Real* up, size_t N, ThreadPool* pool);
// dgate, dup (N) +=; dout, gate, up (N).
template <class Real>
void swiglu_backward(Real* dgate, Real* dup, const Real* dout, const Real* gate, const Real* up,
                     size_t N, ThreadPool* pool);
// out (N) = inp1 + inp2 (out may alias either input).
template <class Real>
void residual_forward(Real* out, const Real* inp1, const Real* inp2, size_t N);
// dinp1, dinp2 (N) += dout (N).
template <class Real>
void residual_backward(Real* dinp1, Real* dinp2, const Real* dout, size_t N);

// ---------------------------------------------------------------------------------------------
// Cross-entropy over LM-head logits with a loss mask
// ---------------------------------------------------------------------------------------------

// losses (BT) = logsumexp(logits row) − logit[target] on counted rows, 0 elsewhere; lse (BT) saved
// for backward; logits (BT, V); targets (BT) in [0, V) on counted rows (others ignored);
// mask (BT): nonzero = counted (only completion tokens), nullptr = all. Returns the mean loss over
// counted rows (0 when none). Log-softmax is max-shifted and summed in double.
template <class Real>
double cross_entropy_forward(Real* losses, Real* lse, const Real* logits, const int32_t* targets,
                             const uint8_t* mask, size_t BT, size_t V, ThreadPool* pool);
// dlogits (BT, V) = dloss/n_counted · (softmax(logits) − onehot(target)) on counted rows, 0 on
// the others. OVERWRITES dlogits, which may alias logits (saves a BT·V buffer).
template <class Real>
void cross_entropy_backward(Real* dlogits, const Real* logits, const Real* lse,
                            const int32_t* targets, const uint8_t* mask, size_t BT, size_t V,
                            double dloss, ThreadPool* pool);

// ---------------------------------------------------------------------------------------------
// LoRA: out += scale · B(A(dropout(inp))), base weight frozen; gradients for A, B and inp
// ---------------------------------------------------------------------------------------------

// Inverted dropout keep-mask: mask[i] = 1 with probability 1-p, else 0 (kept inputs are scaled
// by 1/(1-p) in lora_forward); p is rounded to a multiple of 2^-16. mask (n).
void lora_dropout_mask(uint8_t* mask, size_t n, float p, Rng& rng);
// out (BT, OC) +=; h (BT, R) = scale·xd·Aᵀ saved for backward, where xd = inp ⊙ mask/(1-p);
// xd_scratch (BT, max(C, OC)); inp (BT, C); A (R, C); Bw (OC, R);
// mask (BT, C) or nullptr (no dropout: eval, or p = 0).
template <class Real>
void lora_forward(Real* out, Real* h, Real* xd_scratch, const Real* inp, const Real* A,
                  const Real* Bw, const uint8_t* mask, float p, double scale, size_t BT, size_t C,
                  size_t OC, size_t R, ThreadPool* pool);
// dinp (BT, C) += (nullable), dA (R, C) += (nullable), dB (OC, R) += (nullable);
// scratch: dh_scratch (BT, R), bt_scratch (R, OC), x_scratch (BT, C) (used only with a mask);
// dout (BT, OC); inp, h, A, Bw, mask as in forward.
template <class Real>
void lora_backward(Real* dinp, Real* dA, Real* dB, Real* dh_scratch, Real* bt_scratch,
                   Real* x_scratch, const Real* dout, const Real* inp, const Real* h, const Real* A,
                   const Real* Bw, const uint8_t* mask, float p, double scale, size_t BT, size_t C,
                   size_t OC, size_t R, ThreadPool* pool);

// PEFT's LoRA settings (REFERENCE.md §5.1, §5.3).
enum LoraSite : int {
  kLoraQ,     // self_attn.q_proj  C -> NH*HD
  kLoraK,     // self_attn.k_proj  C -> KVH*HD
  kLoraV,     // self_attn.v_proj  C -> KVH*HD
  kLoraO,     // self_attn.o_proj  NH*HD -> C
  kLoraGate,  // mlp.gate_proj     C -> I
  kLoraUp,    // mlp.up_proj       C -> I
  kLoraDown,  // mlp.down_proj     I -> C
  kNumLoraSites
};
constexpr uint32_t kLoraAllSites = (1u << kNumLoraSites) - 1;
struct LoraConfig {
  int64_t rank = 8;
  double alpha = 16.0;
  double dropout = 0.0;            // on the adapter input only, training only
  uint32_t sites = kLoraAllSites;  // bit (1 << LoraSite) set = adapted
  bool use_rslora = false;         // scale alpha/sqrt(r) instead of alpha/r
  double scale() const;
  bool has(int site) const { return (sites >> site) & 1u; }
};
// "self_attn.q_proj", ..., "mlp.down_proj" (the HF module path under model.layers.N.).
const char* lora_site_module(int site);
// in_features / out_features of a site's base linear.
void lora_site_dims(const Config& c, int site, size_t* in, size_t* out);

// ---------------------------------------------------------------------------------------------
// Parameters: one allocation for all tensors (llm.c fill_in_parameter_sizes), another for grads
// ---------------------------------------------------------------------------------------------

// Every layer tensor is stacked over L, so layer l's slice is contiguous.
enum ParamTensor : int {
  kParamWte,     // (V, C) embed_tokens; also the LM head when tied
  kParamLn1w,    // (L, C) input_layernorm
  kParamWq,      // (L, NH*HD, C)
  kParamBq,      // (L, NH*HD) attention_bias only, else size 0
  kParamWk,      // (L, KVH*HD, C)
  kParamBk,      // (L, KVH*HD) or size 0
  kParamWv,      // (L, KVH*HD, C)
  kParamBv,      // (L, KVH*HD) or size 0
  kParamWo,      // (L, C, NH*HD)
  kParamLn2w,    // (L, C) post_attention_layernorm
  kParamWgate,   // (L, I, C)
  kParamWup,     // (L, I, C)
  kParamWdown,   // (L, C, I)
  kParamLnfw,    // (C) model.norm
  kParamLmHead,  // (V, C) lm_head; size 0 when tie_word_embeddings
  kNumParamTensors
};
const char* param_tensor_name(int t);  // "wte", "ln1w", ... (for logs and test messages)
void fill_in_parameter_sizes(size_t sizes[kNumParamTensors], const Config& c);
// LoRA tensors: 2*site = A (L, R, in), 2*site+1 = B (L, out, R); size 0 for sites not adapted.
constexpr int kNumLoraTensors = 2 * kNumLoraSites;
void fill_in_lora_sizes(size_t sizes[kNumLoraTensors], const Config& c, const LoraConfig& lora);

// A zero-filled, 64-byte aligned array: one per lifetime (params, grads, activations).
template <class E>
struct AlignedArray {
  struct Free {
    void operator()(E* p) const { std::free(p); }
  };
  std::unique_ptr<E[], Free> ptr;
  size_t n = 0;
  void allocate(size_t count) {
    const size_t bytes = ((count * sizeof(E) + 63) / 64) * 64;
    ptr.reset(count ? static_cast<E*>(std::aligned_alloc(64, bytes)) : nullptr);
    CARTLM_CHECK(count == 0 || ptr != nullptr);
    if (count) std::memset(static_cast<void*>(ptr.get()), 0, bytes);
    n = count;
  }
  E* data() const { return ptr.get(); }
  size_t size() const { return n; }
};

// Pointers into a params (or grads) allocation; nullptr for size-0 tensors.
template <class Real>
struct ParamTensors {
  Real* t[kNumParamTensors] = {};
  Real* lm_head() const { return t[kParamLmHead] ? t[kParamLmHead] : t[kParamWte]; }
};
template <class Real>
struct LoraTensors {
  Real* t[kNumLoraTensors] = {};
};

// One layer's slices. The same struct carries weights and their gradients.
template <class Real>
struct LayerParams {
  Real* ln1w = nullptr;   // (C)
  Real* wq = nullptr;     // (NH*HD, C)
  Real* bq = nullptr;     // (NH*HD) or nullptr
  Real* wk = nullptr;     // (KVH*HD, C)
  Real* bk = nullptr;     // (KVH*HD) or nullptr
  Real* wv = nullptr;     // (KVH*HD, C)
  Real* bv = nullptr;     // (KVH*HD) or nullptr
  Real* wo = nullptr;     // (C, NH*HD)
  Real* ln2w = nullptr;   // (C)
  Real* wgate = nullptr;  // (I, C)
  Real* wup = nullptr;    // (I, C)
  Real* wdown = nullptr;  // (C, I)
  // Frozen base matrices of this layer, indexed by LoraSite (float only; nullptr: the Real*
  // matrices above are used). When set, wq..wdown are nullptr.
  const FrozenMatrix* frozen = nullptr;
  float* frozen_scratch = nullptr;  // frozen_scratch_floats of the layer's largest NF4 site
};
template <class Real>
struct LayerLora {
  Real* A[kNumLoraSites] = {};  // (R, in) or nullptr where the site is not adapted
  Real* B[kNumLoraSites] = {};  // (out, R)
};
template <class Real>
LayerParams<Real> layer_params(const ParamTensors<Real>& p, const Config& c, size_t l);
template <class Real>
LayerLora<Real> layer_lora(const LoraTensors<Real>& p, const Config& c, const LoraConfig& lora,
                           size_t l);

// ---------------------------------------------------------------------------------------------
// The block
// ---------------------------------------------------------------------------------------------

// Activations one layer saves for backward (views into TrainActivations::mem).
template <class Real>
struct BlockActs {
  Real* ln1 = nullptr;               // (BT, C)
  Real* ln1_rstd = nullptr;          // (BT)
  Real* q = nullptr;                 // (BT, NH*HD) after rope
  Real* k = nullptr;                 // (BT, KVH*HD) after rope
  Real* v = nullptr;                 // (BT, KVH*HD)
  Real* att = nullptr;               // (B, NH, T, T) softmax probabilities
  Real* atty = nullptr;              // (BT, NH*HD) attention output
  Real* res1 = nullptr;              // (BT, C) inp + o_proj(atty)
  Real* ln2 = nullptr;               // (BT, C)
  Real* ln2_rstd = nullptr;          // (BT)
  Real* gate = nullptr;              // (BT, I)
  Real* up = nullptr;                // (BT, I)
  Real* swi = nullptr;               // (BT, I) silu(gate)·up
  Real* out = nullptr;               // (BT, C) res1 + down(swi): the next layer's input
  // Per LoRA site (nullptr where not adapted): h (BT, R), and the dropout keep-mask (BT, in)
  // when the adapters were planned with dropout.
  Real* lora_h[kNumLoraSites] = {};
  uint8_t* lora_mask[kNumLoraSites] = {};
};
// Backward (and LoRA forward) scratch, shared by all layers.
template <class Real>
struct BlockScratch {
  Real* dln = nullptr;      // (BT, C)
  Real* dq = nullptr;       // (BT, NH*HD)
  Real* dk = nullptr;       // (BT, KVH*HD)
  Real* dv = nullptr;       // (BT, KVH*HD)
  Real* datty = nullptr;    // (BT, NH*HD)
  Real* dgate = nullptr;    // (BT, I)
  Real* dup = nullptr;      // (BT, I)
  Real* dswi = nullptr;     // (BT, I)
  Real* lora_x = nullptr;   // (BT, max(C, NH*HD, I)) dropped-out adapter input / h·Bᵀ
  Real* lora_dh = nullptr;  // (BT, R)
  Real* lora_bt = nullptr;  // (R, max(C, NH*HD, I)) Bᵀ and dBᵀ
};

// What a block call needs besides tensors. B, T may be smaller than planned.
struct BlockConfig {
  size_t B = 0, T = 0;
  size_t C = 0, I = 0, NH = 0, KVH = 0, HD = 0;
  float eps = 1e-5f;
  size_t lora_rank = 0;  // 0: no adapters
  double lora_scale = 0.0;
  float lora_dropout = 0.0f;
  const int32_t* lens = nullptr;       // (B) valid tokens per sequence, nullptr = all T
  const int32_t* positions = nullptr;  // (B*T) rope positions
  const float* inv_freq = nullptr;     // (HD/2)
};
BlockConfig block_config(const Config& c, size_t B, size_t T, const LoraConfig* lora);

// Forward of layer: reads inp (BT, C), writes every field of `a` (a.out is the result). lora may
// be nullptr. With lora and a.lora_mask[site] set, dropout uses that mask (filled by the caller).
template <class Real>
void block_forward(const BlockConfig& bc, const LayerParams<Real>& p, const LayerLora<Real>* lora,
                   BlockActs<Real>& a, BlockScratch<Real>& s, const Real* inp, ThreadPool* pool);
// dres (BT, C): on entry dLoss/d(block output), on exit dLoss/d(block input) (in place, the
// residual stream). Weight grads accumulate into dp (nullptr: base frozen) and dlora (nullable).
template <class Real>
void block_backward(const BlockConfig& bc, const LayerParams<Real>& p, const LayerParams<Real>* dp,
                    const LayerLora<Real>* lora, const LayerLora<Real>* dlora,
                    const BlockActs<Real>& a, BlockScratch<Real>& s, const Real* inp, Real* dres,
                    ThreadPool* pool);

// Every activation of the model for up to max_B x max_T, planned once from the Config.
template <class Real>
struct TrainActivations {
  size_t max_B = 0, max_T = 0;
  AlignedArray<Real> mem;       // all Real buffers below
  AlignedArray<uint8_t> masks;  // LoRA dropout masks
  std::vector<BlockActs<Real>> layers;
  BlockScratch<Real> scratch;
  Real* encoded = nullptr;   // (BT, C) embedding output = layer 0 input
  Real* lnf = nullptr;       // (BT, C)
  Real* lnf_rstd = nullptr;  // (BT)
  // With TrainOptions::head_on_loss_rows only the first N rows of logits/losses/lse are used,
  // one per position in the loss (TrainModel::head_rows); head_in holds those rows of lnf.
  Real* head_in = nullptr;   // (BT, C)
  Real* logits = nullptr;    // (BT, V); overwritten by dlogits in backward
  Real* losses = nullptr;    // (BT)
  Real* lse = nullptr;       // (BT)
  Real* dres = nullptr;      // (BT, C) residual-stream gradient
  size_t bytes() const { return mem.size() * sizeof(Real) + masks.size(); }
};
// lora nullptr: no adapter buffers. Dropout masks are planned only when lora->dropout > 0.
template <class Real>
void make_train_activations(TrainActivations<Real>& acts, const Config& c, const LoraConfig* lora,
                            size_t max_B, size_t max_T);

// ---------------------------------------------------------------------------------------------
// The whole model
// ---------------------------------------------------------------------------------------------

struct TrainOptions {
  size_t max_batch = 1;   // B
  size_t max_seq = 0;     // T; 0 = config.max_position_embeddings
  bool use_lora = false;  // true: base frozen (no base grads), adapters trained
  LoraConfig lora;
  // With use_lora, float only: the linear matrices, embedding and LM head are not allocated in
  // params (those tensors get size 0); attach a FrozenBase (TrainModel::frozen) before the first
  // forward. train_model_for_adapter (train/lora_model.h) does both. param_sizes /
  // num_parameters then count only what params holds (norms, q/k/v biases); FrozenBase has the
  // base's size.
  bool frozen_base = false;
  // The LM head and cross-entropy run only on the positions in the loss (completion tokens),
  // gathered into a dense block: the same loss and gradients, without the head's matmuls on
  // prompt and padding positions (about 60% of the rows for the tiny model's data). Off by
  // default because acts.logits then holds only those rows (tests read every position's logits).
  bool head_on_loss_rows = false;
};

// The frozen base of a LoRA / QLoRA model on a real checkpoint: per layer the seven linear
// matrices (indexed by LoraSite), the embedding and LM head (views, never NF4), and whatever owns
// the memory they point into (the checkpoint mapping, the NF4 tensors).
struct FrozenBase {
  std::shared_ptr<void> owner;  // keeps the mapping alive (the safetensors Checkpoint)
  std::vector<std::unique_ptr<Nf4Tensor>> nf4;  // QLoRA storage
  FrozenMatrix embed;    // (V, C)
  FrozenMatrix lm_head;  // (V, C); = embed when tied
  std::vector<std::vector<FrozenMatrix>> layers;  // [L][kNumLoraSites]
  // Bytes of the base matrices as held (NF4 tensors, or the views' bytes in their dtype), and of
  // the embedding / LM head views.
  size_t matrix_bytes = 0, embed_bytes = 0;
  size_t matrix_params = 0;
};

template <class Real>
struct TrainModel {
  Config config;
  TrainOptions opt;
  std::vector<float> inv_freq;  // (HD/2)
  size_t param_sizes[kNumParamTensors] = {};
  size_t num_parameters = 0;
  AlignedArray<Real> params_memory;  // num_parameters
  AlignedArray<Real> grads_memory;   // num_parameters, or empty when base is frozen
  ParamTensors<Real> params, grads;  // grads all nullptr when frozen
  size_t lora_sizes[kNumLoraTensors] = {};
  size_t num_lora_parameters = 0;
  AlignedArray<Real> lora_memory, lora_grads_memory;
  LoraTensors<Real> lora, dlora;
  TrainActivations<Real> acts;
  // The last forward's inputs (copied, so backward does not depend on the caller's buffers).
  AlignedArray<int32_t> tokens, targets, lens, positions;  // (max_B*max_T), lens (max_B)
  AlignedArray<uint8_t> loss_mask;
  // With opt.head_on_loss_rows: the flat (b*T + t) positions in the loss, ascending, and their
  // targets; acts.logits row i belongs to position head_rows[i].
  std::vector<int32_t> head_rows, head_targets;
  size_t B = 0, T = 0;
  bool dropout_active = false;  // the last forward drew LoRA dropout masks
  double loss = 0.0;
  // Set with opt.frozen_base (float only): the base matrices come from here; shared so copies of
  // the model (moves out of a Result) keep the mapping alive.
  std::shared_ptr<const FrozenBase> frozen;
  AlignedArray<float> frozen_scratch;  // NF4 tiles (max frozen_scratch_floats over the sites)
  bool train_base() const { return !opt.use_lora; }
  // The flat arrays an optimizer updates: params/grads (full training) or the LoRA ones. Same
  // layout in both, so AdamW is one loop over num_trainable() elements.
  Real* trainable() const { return train_base() ? params_memory.data() : lora_memory.data(); }
  Real* trainable_grads() const {
    return train_base() ? grads_memory.data() : lora_grads_memory.data();
  }
  size_t num_trainable() const { return train_base() ? num_parameters : num_lora_parameters; }
  // Everything allocated (for the start-up log).
  size_t bytes() const {
    return (params_memory.size() + grads_memory.size() + lora_memory.size() +
            lora_grads_memory.size()) *
               sizeof(Real) +
           acts.bytes() +
           (tokens.size() + targets.size() + lens.size() + positions.size()) * sizeof(int32_t) +
           loss_mask.size();
  }
};

// Plans and allocates everything (params, grads, activations) and fills nothing but zeros.
// Errors name the bad setting (odd head_dim, bad LoRA rank, max_seq 0...).
template <class Real>
Result<TrainModel<Real>> train_model_create(const Config& c, const TrainOptions& opt);
// HF init: linear weights and embeddings ~ N(0, initializer_range), norms 1, biases 0.
template <class Real>
void train_model_init_random(TrainModel<Real>& m, Rng& rng);
// PEFT init: A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform a=sqrt 5), B = 0.
template <class Real>
void train_model_init_lora(TrainModel<Real>& m, Rng& rng);
// Copies (and converts) checkpoint weights into params. F32/F16/BF16 only; errors name the tensor.
Status train_model_load(TrainModel<float>& m, const ModelWeights& w);

// Where each HF tensor lives: the names bind_weights/PEFT use ("model.layers.0.self_attn.q_proj
// .weight", "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"), shapes
// outermost-first, offsets in elements into params_memory (or lora_memory).
struct ParamSlot {
  std::string name;
  std::vector<int64_t> shape;
  size_t offset = 0;
};
std::vector<ParamSlot> param_slots(const Config& c);
std::vector<ParamSlot> lora_slots(const Config& c, const LoraConfig& lora);

// Runs the forward pass on B <= max_batch sequences of T <= max_seq tokens and returns the mean
// loss over counted tokens. tokens (B, T) all in [0, V) (pad positions too: use the pad id);
// targets (B, T) (next tokens; ignored where not counted); loss_mask (B, T) (nullptr: every valid
// token counts); lens (B) (nullptr: all T valid; counted tokens past lens are dropped).
// dropout_rng: LoRA dropout masks are drawn from it when lora.dropout > 0; nullptr = eval.
template <class Real>
double train_model_forward(TrainModel<Real>& m, const int32_t* tokens, const int32_t* targets,
                           const uint8_t* loss_mask, const int32_t* lens, size_t B, size_t T,
                           Rng* dropout_rng, ThreadPool* pool);
// Zeroes the trainable gradients (base grads or LoRA grads).
template <class Real>
void train_model_zero_grad(TrainModel<Real>& m);
// Gradients of the last forward's loss (accumulated into grads / dlora). Overwrites acts.logits.
template <class Real>
void train_model_backward(TrainModel<Real>& m, ThreadPool* pool);

}  // namespace cartlm
