// Calibration passes over a model, layer by layer, in f32 with the training ops' block_forward:
// the residual stream of every calibration sequence is kept between layers, so each layer sees the
// outputs of the layers before it exactly as they are after any change made to them (GPTQ's
// "already-quantized layers' outputs as the next inputs").
//
// Used by GPTQ (gptq_run: Hessians of every linear's input, then quantize, REFERENCE.md §6) and by
// imatrix collection (train/imatrix_collect.h: Σ x² per input column).
//
// A calibration sequence is exactly a training sequence: [bos] + render_prompt(meta, text) +
// label_to_json_text(label) + eos (prompt and completion encoded separately, as training does).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "formats/dataset.h"
#include "formats/intent_meta.h"
#include "model/config.h"
#include "model/weights.h"
#include "quant/gptq.h"
#include "tokenizer/tokenizer.h"
#include "train/ops.h"

namespace cartlm {

class ThreadPool;

// Token sequences of `examples` (all of them, in order). Errors: the tokenizer has no eos token.
Result<std::vector<std::vector<int32_t>>> calibration_sequences(
    const std::vector<Example>& examples, const Tokenizer& tok, const IntentMeta& meta);
// n examples drawn without replacement with Rng(seed) (all of them, shuffled, when n >= size).
std::vector<Example> sample_examples(const std::vector<Example>& examples, size_t n, uint64_t seed);

// One layer's weights as f32 copies (converted from F32/F16/BF16 or any GGUF block type).
struct LayerF32 {
  std::vector<float> ln1w, ln2w, bq, bk, bv;
  std::vector<float> w[kNumLoraSites];  // by LoraSite: [out, in]
  LayerParams<float> params() const;
};
Result<LayerF32> layer_f32(const Config& c, const LayerWeights& lw, int64_t layer);

// The residual streams of the calibration sequences and the buffers for one layer's forward.
struct Calibration {
  Config config;
  std::vector<float> inv_freq;
  std::vector<std::vector<int32_t>> seqs;
  std::vector<std::vector<float>> hidden;      // per sequence [len, C]: the next layer's input
  std::vector<std::vector<uint32_t>> batches;  // sequence indices, similar lengths together
  size_t max_B = 0, max_T = 0;
  AlignedArray<float> mem;
  BlockActs<float> acts;
  BlockScratch<float> scratch;  // unused without LoRA
  std::vector<float> inp;       // (max_B*max_T, C)
  std::vector<int32_t> lens, positions;
};
// Embeds the sequences (batches of up to max_batch sequences). Errors: a token outside the
// embedding, an empty sequence, sequences longer than the model's context.
Result<Calibration> calibration_create(const Config& c, const ModelWeights& w,
                                       std::vector<std::vector<int32_t>> seqs, size_t max_batch);

// Where a linear reads its input from in BlockActs.
const float* site_input(const BlockActs<float>& a, int site);
// Runs one layer over every batch. After each batch's forward, `visit(acts, B, T, lens)` sees the
// activations (rows b*T + t for t < lens[b] are real tokens). With update, the layer's output
// becomes the residual stream (the next layer's input).
void calibration_run_layer(
    Calibration& cal, const LayerParams<float>& p, bool update,
    const std::function<void(const BlockActs<float>&, size_t B, size_t T, const int32_t* lens)>& visit,
    ThreadPool* pool);
// Copies the real-token rows of src (B*T, width) into dst (n, width); returns n.
size_t gather_rows(const float* src, size_t width, size_t B, size_t T, const int32_t* lens,
                   std::vector<float>& dst);

// ---------------------------------------------------------------------------------------------
// GPTQ over a whole model
// ---------------------------------------------------------------------------------------------

struct GptqRunOptions {
  GptqOptions gptq;           // grid, bits, group, act_order, damp
  size_t max_batch = 16;      // calibration sequences per forward
  // Q4_K grid: per-tensor importance (e.g. from an imatrix), by GGUF tensor name; may be empty.
  const std::function<const float*(const std::string& gguf_name)>* importance = nullptr;
  bool progress = true;       // progress bar on stderr
  // Which linears to quantize (empty: all). A skipped linear keeps its weights in the calibration
  // forward and gets no sink call (e.g. the tensors a GGUF mix gives a wider type).
  std::function<bool(int64_t layer, int site)> quantize_site;
};

// "blk.3.attn_q.weight" for (3, kLoraQ): llama.cpp's tensor names.
std::string gguf_linear_name(int64_t layer, int site);

// Quantizes every linear of every layer with GPTQ (true sequential: q/k/v, then o, then gate/up,
// then down, each from inputs through the already-quantized parts), calling `sink` once per
// linear in that order. The embedding, norms and LM head are left as they are.
Status gptq_run(const Config& c, const ModelWeights& w, std::vector<std::vector<int32_t>> seqs,
                const GptqRunOptions& opt,
                const std::function<Status(int64_t layer, int site, const GptqResult&)>& sink,
                ThreadPool* pool);

}  // namespace cartlm
