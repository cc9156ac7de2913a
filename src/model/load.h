// One loader for every model format cartlm runs: an HF checkpoint directory (config.json +
// model.safetensors[.index.json] + tokenizer.json, optionally cartlm.json), a GGUF file (any
// quantization llama.cpp writes for the llama architecture), or a GPTQ directory
// (quantize_config.json + AutoGPTQ-layout safetensors). The result owns every mapping and buffer
// the weight views point into, so keep it alive as long as the model is used.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "formats/gguf.h"
#include "formats/intent_meta.h"
#include "formats/safetensors.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"

namespace cartlm {

enum class ModelFormat { HfDir, Gguf, Gptq };
const char* model_format_name(ModelFormat f);  // "hf", "gguf", "gptq"

struct LoadedModel {
  std::string path;
  ModelFormat format = ModelFormat::HfDir;
  std::string weight_type;  // what the matrices are: "BF16", "Q4_K_M" (GGUF file type), "GPTQ-4"...
  // Owners of the memory the weight views point into (only the one for `format` is used).
  Checkpoint checkpoint;
  GgufFile gguf;
  std::vector<std::vector<uint8_t>> owned;  // converted tensors (e.g. GPTQ repacked at load)
  LlamaModel model;
  Tokenizer tokenizer;
  bool has_meta = false;  // cartlm.json / cartlm.* GGUF keys were present
  IntentMeta meta;        // defaults (kDefaultPromptTemplate, no products) when absent
  size_t weight_bytes = 0;  // bytes of all weight tensors as stored
};

struct LoadOptions {
  // true: memory-map the weight files (fast load, pages shared with other processes and left to
  // the page cache). false: read them into this process's own memory (--no-mmap): RAM = file size
  // and the load reads every byte, but the kernel cannot evict the weights, which keeps decode at
  // full speed on machines that do not keep a mapped model resident. Same bytes either way.
  bool mmap = true;
};
MapOptions map_options(const LoadOptions& opt);

// Picks the format from the path: a *.gguf file (or a file starting with "GGUF"), a directory with
// quantize_config.json (GPTQ), or an HF directory. Errors name the missing file or bad tensor.
Result<std::unique_ptr<LoadedModel>> load_model(const std::string& path, LoadOptions opt = {});

Result<std::unique_ptr<LoadedModel>> load_model_hf_dir(const std::string& dir,
                                                       LoadOptions opt = {});
Result<std::unique_ptr<LoadedModel>> load_model_gguf(const std::string& path, LoadOptions opt = {});
Result<std::unique_ptr<LoadedModel>> load_model_gptq(const std::string& dir, LoadOptions opt = {});

}  // namespace cartlm
