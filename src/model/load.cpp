#include "model/load.h"
#include "model/load_internal.h"

#include <malloc.h>

#include <filesystem>
#include <fstream>
#include <string_view>

#include "core/file_io.h"
#include "core/strings.h"
#include "formats/hf_config.h"
#include "model/weights.h"

namespace cartlm {

const char* model_format_name(ModelFormat f) {
  switch (f) {
    case ModelFormat::HfDir: return "hf";
    case ModelFormat::Gguf: return "gguf";
    case ModelFormat::Gptq: return "gptq";
  }
  return "?";
}

MapOptions map_options(const LoadOptions& opt) {
  MapOptions m;
  m.mmap = opt.mmap;
  return m;
}

namespace {

Result<std::unique_ptr<LoadedModel>> load_model_any(const std::string& path, LoadOptions opt) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (file_exists(join_path(path, "quantize_config.json"))) return load_model_gptq(path, opt);
    return load_model_hf_dir(path, opt);
  }
  if (!fs::exists(path, ec)) return error(path + ": no such model file or directory");
  if (ends_with(path, ".gguf")) return load_model_gguf(path, opt);
  char head[4] = {};
  std::ifstream in(path, std::ios::binary);
  if (in.read(head, 4) && std::string_view(head, 4) == "GGUF") return load_model_gguf(path, opt);
  return error(path + ": not a model (expected an HF checkpoint directory, a GPTQ directory or a "
                      ".gguf file)");
}

}  // namespace

Result<std::unique_ptr<LoadedModel>> load_model(const std::string& path, LoadOptions opt) {
  auto lm = load_model_any(path, opt);
  release_free_heap();
  return lm;
}

// Loading parses the vocabulary (hundreds of thousands of small strings, and for tokenizer.json
// a JSON tree of a few hundred MB) and frees most of it again; glibc keeps those pages in the
// heap, where the large buffers that follow (weights read with --no-mmap, scratch, KV cache:
// separate mmaps) cannot reuse them. Hand them back so they do not count in the RSS.
void release_free_heap() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

Result<std::unique_ptr<LoadedModel>> load_model_hf_dir(const std::string& dir, LoadOptions opt) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return error(dir + ": no such model directory");
  for (const char* f : {"config.json", "tokenizer.json"})
    if (!file_exists(join_path(dir, f))) return error(join_path(dir, f) + ": missing file");
  if (!file_exists(join_path(dir, "model.safetensors")) &&
      !file_exists(join_path(dir, "model.safetensors.index.json")))
    return error(join_path(dir, "model.safetensors") + ": missing file");
  CARTLM_ASSIGN_OR_RETURN(Config c, load_hf_config(dir));
  auto lm = std::make_unique<LoadedModel>();
  lm->path = dir;
  lm->format = ModelFormat::HfDir;
  // Tokenizer first: parsing tokenizer.json (tens of MB of JSON for a 128k vocabulary) needs a
  // few hundred MB for a moment, which must not add to the weights when --no-mmap has already
  // read them into memory (peak RSS of a 1B F16 model: +246 MB otherwise).
  CARTLM_RETURN_IF_ERROR(load_dir_tokenizer_and_meta(*lm, dir, c));
  CARTLM_ASSIGN_OR_RETURN(lm->checkpoint, load_checkpoint_tensors(dir, map_options(opt)));
  CARTLM_ASSIGN_OR_RETURN(ModelWeights w, bind_weights(c, lm->checkpoint.tensors));
  lm->weight_type = dtype_name(w.layers.empty() ? w.embed.dtype : w.layers[0].wq.dtype);
  for (const auto& [name, view] : lm->checkpoint.tensors) lm->weight_bytes += view.nbytes;
  CARTLM_ASSIGN_OR_RETURN(lm->model, llama_model(c, w));
  return lm;
}

Status load_dir_tokenizer_and_meta(LoadedModel& lm, const std::string& dir, const Config& c) {
  CARTLM_ASSIGN_OR_RETURN(lm.tokenizer, load_tokenizer(dir));
  release_free_heap();
  if (lm.tokenizer.size() > c.vocab_size)
    return error(strformat("%s: tokenizer has %d tokens but config.json vocab_size is %lld",
                           dir.c_str(), lm.tokenizer.size(), (long long)c.vocab_size));
  if (has_intent_meta(dir)) {
    CARTLM_ASSIGN_OR_RETURN(lm.meta, load_intent_meta(dir));
    lm.has_meta = true;
  }
  return Status();
}

}  // namespace cartlm
