// GGUF import: any llama/qwen2 GGUF that llama.cpp (or cartlm's exporter) wrote. The file stays
// mapped, or read into memory with LoadOptions::mmap = false (LoadedModel::gguf); the tensors are
// bound under their HF names with outermost-first shapes (the GGUF reader already reversed ne), so
// the forward pass sees the same layout as for a safetensors checkpoint. Arch "llama" files carry
// the converter's q/k permutation, which is exactly what RopeMode::Norm (adjacent pairs) expects;
// qwen2 files are not permuted (Neox).
#include <algorithm>
#include <filesystem>

#include "core/strings.h"
#include "model/gguf_export.h"
#include "model/load.h"
#include "model/weights.h"
#include "quant/mix.h"

namespace cartlm {

Result<std::unique_ptr<LoadedModel>> load_model_gguf(const std::string& path, LoadOptions opt) {
  auto lm = std::make_unique<LoadedModel>();
  lm->path = path;
  lm->format = ModelFormat::Gguf;
  CARTLM_ASSIGN_OR_RETURN(lm->gguf, open_gguf(path, {}, map_options(opt)));
  const GgufFile& f = lm->gguf;
  CARTLM_ASSIGN_OR_RETURN(Config c, config_from_gguf(f));

  TensorMap tensors;
  for (const GgufTensor& t : f.tensors) {
    if (t.view.name == "rope_freqs.weight") continue;  // folded into the config
    std::string hf = hf_tensor_name(t.view.name);
    if (hf.empty()) return error(path + ": unexpected tensor " + t.view.name);
    TensorView v = t.view;
    v.name = hf;
    tensors.emplace(hf, v);
  }
  auto w = bind_weights(c, tensors);
  if (!w.ok()) return error(path + ": " + w.message());
  for (const auto& [name, view] : tensors) lm->weight_bytes += view.nbytes;
  const RopeMode mode = c.arch == Arch::Llama ? RopeMode::Norm : RopeMode::Neox;
  auto model = llama_model(c, *w, mode);
  if (!model.ok()) return error(path + ": " + model.message());
  lm->model = std::move(*model);

  CARTLM_ASSIGN_OR_RETURN(uint32_t ftype, f.get_u32_or("general.file_type", 0xffffffffu));
  lm->weight_type = ftype == 0xffffffffu
                        ? std::string(dtype_name(w->layers.empty() ? w->embed.dtype
                                                                   : w->layers[0].wq.dtype))
                        : file_type_name(ftype);

  auto tok = tokenizer_from_gguf(f);
  if (!tok.ok()) return error(path + ": " + tok.message());
  lm->tokenizer = std::move(*tok);
  // The vocabulary arrays now live in the tokenizer; their parsed copies would cost another
  // ~8 MB for a 128k vocabulary (more with 280k merges) for as long as the model is loaded.
  // export_gguf, the one reader of the raw KVs, parses them again from the mapped file.
  auto& kvs = lm->gguf.kvs;
  kvs.erase(std::remove_if(kvs.begin(), kvs.end(), [](const GgufKV& kv) {
              return kv.key == "tokenizer.ggml.tokens" || kv.key == "tokenizer.ggml.merges" ||
                     kv.key == "tokenizer.ggml.token_type";
            }),
            kvs.end());
  kvs.shrink_to_fit();
  if (lm->tokenizer.size() > c.vocab_size)
    return error(strformat("%s: tokenizer has %d tokens but the model has %lld rows",
                           path.c_str(), lm->tokenizer.size(), (long long)c.vocab_size));
  if (f.has(kGgufKeyPromptTemplate) || f.has(kGgufKeyProducts)) {
    IntentMeta meta;
    CARTLM_ASSIGN_OR_RETURN(meta.prompt_template,
                            f.get_string_or(kGgufKeyPromptTemplate, kDefaultPromptTemplate));
    if (f.has(kGgufKeyProducts)) {
      CARTLM_ASSIGN_OR_RETURN(auto products, f.get_array_strings(kGgufKeyProducts));
      meta.products.assign(products.begin(), products.end());
    }
    if (f.has(kGgufKeyTextNormalization)) {
      CARTLM_ASSIGN_OR_RETURN(std::string name, f.get_string_or(kGgufKeyTextNormalization, "none"));
      auto n = parse_text_normalization(name);
      if (!n.ok()) return error(path + ": " + kGgufKeyTextNormalization + ": " + n.message());
      meta.text_normalization = *n;
    }
    auto st = validate_intent_meta(meta);
    if (!st.ok()) return error(path + ": " + st.message());
    lm->meta = std::move(meta);
    lm->has_meta = true;
  }
  return lm;
}

}  // namespace cartlm
