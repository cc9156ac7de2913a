// A LoRA / QLoRA TrainModel over a frozen checkpoint: the norms (and q/k/v biases) are copied to
// f32 params (tiny), the matrices stay views into the safetensors mapping or become NF4 tensors,
// and the adapters are the only trained parameters.
#include "train/lora_model.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "core/strings.h"
#include "formats/hf_config.h"
#include "formats/safetensors.h"
#include "kernels/kernels.h"
#include "model/weights.h"

namespace cartlm {

namespace {

// After quantizing a tensor its bf16 pages are not needed again: give them back to the page cache
// so the peak RSS of a QLoRA load is the NF4 base plus about one source tensor, not the whole
// checkpoint. Only whole pages inside the range; a read-only file mapping refaults if touched.
void drop_pages(const TensorView& v) {
  const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t b = ((uintptr_t)v.data + page - 1) / page * page;
  uintptr_t e = ((uintptr_t)v.data + v.nbytes) / page * page;
  if (e > b) madvise((void*)b, e - b, MADV_DONTNEED);
}

// The checkpoint's tensors the layer's LoRA sites multiply, in LoraSite order.
const TensorView* site_view(const LayerWeights& lw, int site) {
  switch (site) {
    case kLoraQ:
      return &lw.wq;
    case kLoraK:
      return &lw.wk;
    case kLoraV:
      return &lw.wv;
    case kLoraO:
      return &lw.wo;
    case kLoraGate:
      return &lw.w_gate;
    case kLoraUp:
      return &lw.w_up;
    case kLoraDown:
      return &lw.w_down;
  }
  return nullptr;
}

FrozenMatrix view_matrix(const TensorView& v) {
  FrozenMatrix f;
  f.dtype = v.dtype;
  f.data = v.data;
  return f;
}

// Small tensors (norms, biases) into the f32 params.
Status copy_small(const TensorView& v, float* dst, size_t n, const std::string& what) {
  if (!v.present() || v.data == nullptr) return error("missing tensor " + what);
  if ((size_t)v.numel() != n)
    return error(strformat("tensor %s has %lld elements, expected %zu", v.name.c_str(),
                           (long long)v.numel(), n));
  if (!matmul_supports(v.dtype))
    return error(strformat("tensor %s has dtype %s; LoRA training reads F32, F16 or BF16",
                           v.name.c_str(), dtype_name(v.dtype)));
  convert_to_f32(v.dtype, v.data, dst, n);
  return {};
}

}  // namespace

Result<TrainModel<float>> train_model_for_adapter(const std::string& base_dir, bool qlora,
                                                  const TrainOptions& options, Rng& rng,
                                                  ThreadPool* pool) {
  CARTLM_ASSIGN_OR_RETURN(Config c, load_hf_config(base_dir));
  auto ckpt = std::make_shared<Checkpoint>();
  CARTLM_ASSIGN_OR_RETURN(*ckpt, load_checkpoint_tensors(base_dir));
  CARTLM_ASSIGN_OR_RETURN(ModelWeights w, bind_weights(c, ckpt->tensors));
  TrainOptions opt = options;
  opt.use_lora = true;
  opt.frozen_base = true;
  CARTLM_ASSIGN_OR_RETURN(TrainModel<float> m, train_model_create<float>(c, opt));
  const Config& mc = m.config;
  const size_t L = (size_t)mc.num_hidden_layers, C = (size_t)mc.hidden_size;
  const size_t QD = (size_t)mc.q_dim(), KD = (size_t)mc.kv_dim();

  auto base = std::make_shared<FrozenBase>();
  base->owner = ckpt;
  for (const TensorView* v : {&w.embed, &w.lm_head})
    if (!matmul_supports(v->dtype))
      return error(strformat("%s: tensor %s has dtype %s; LoRA training reads F32, F16 or BF16",
                             base_dir.c_str(), v->name.c_str(), dtype_name(v->dtype)));
  base->embed = view_matrix(w.embed);
  base->lm_head = view_matrix(w.lm_head);
  base->embed_bytes = w.embed.nbytes + (mc.tie_word_embeddings ? 0 : w.lm_head.nbytes);
  base->layers.assign(L, std::vector<FrozenMatrix>(kNumLoraSites));
  for (size_t l = 0; l < L; ++l) {
    const LayerWeights& lw = w.layers[l];
    for (int s = 0; s < kNumLoraSites; ++s) {
      const TensorView& v = *site_view(lw, s);
      if (!matmul_supports(v.dtype))
        return error(strformat("%s: tensor %s has dtype %s; LoRA training reads F32, F16 or BF16",
                               base_dir.c_str(), v.name.c_str(), dtype_name(v.dtype)));
      size_t in, out;
      lora_site_dims(mc, s, &in, &out);
      base->matrix_params += in * out;
      if (!qlora) {
        base->layers[l][s] = view_matrix(v);
        base->matrix_bytes += v.nbytes;
        continue;
      }
      if ((in * out) % kNf4Block != 0)
        return error(strformat("%s: tensor %s has %zu elements, QLoRA needs a multiple of %zu",
                               base_dir.c_str(), v.name.c_str(), in * out, kNf4Block));
      auto q = std::make_unique<Nf4Tensor>(nf4_quantize(v.dtype, v.data, out, in, true, pool));
      drop_pages(v);
      FrozenMatrix f;
      f.dtype = DType::NF4;
      f.nf4 = q.get();
      base->layers[l][s] = f;
      base->matrix_bytes += q->bytes();
      base->nf4.push_back(std::move(q));
    }
    // Norms and biases (f32 params).
    CARTLM_RETURN_IF_ERROR(copy_small(lw.attn_norm, m.params.t[kParamLn1w] + l * C, C,
                                      hf_layer_prefix((int64_t)l) + "input_layernorm.weight"));
    CARTLM_RETURN_IF_ERROR(
        copy_small(lw.ffn_norm, m.params.t[kParamLn2w] + l * C, C,
                   hf_layer_prefix((int64_t)l) + "post_attention_layernorm.weight"));
    if (mc.attention_bias) {
      const std::string p = hf_layer_prefix((int64_t)l) + "self_attn.";
      CARTLM_RETURN_IF_ERROR(
          copy_small(lw.bq, m.params.t[kParamBq] + l * QD, QD, p + "q_proj.bias"));
      CARTLM_RETURN_IF_ERROR(
          copy_small(lw.bk, m.params.t[kParamBk] + l * KD, KD, p + "k_proj.bias"));
      CARTLM_RETURN_IF_ERROR(
          copy_small(lw.bv, m.params.t[kParamBv] + l * KD, KD, p + "v_proj.bias"));
    }
  }
  CARTLM_RETURN_IF_ERROR(copy_small(w.final_norm, m.params.t[kParamLnfw], C, "model.norm.weight"));
  // NF4 tile scratch, planned once for the largest site at the planned batch.
  size_t scratch = 0;
  for (int s = 0; s < kNumLoraSites && L > 0; ++s) {
    size_t in, out;
    lora_site_dims(mc, s, &in, &out);
    scratch = std::max(scratch, frozen_scratch_floats(base->layers[0][s],
                                                      m.opt.max_batch * m.opt.max_seq, in, out));
  }
  m.frozen_scratch.allocate(scratch);
  m.frozen = std::move(base);
  train_model_init_lora(m, rng);
  return m;
}

}  // namespace cartlm
