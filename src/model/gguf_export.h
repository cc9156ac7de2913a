// GGUF export in llama.cpp's layout, and the pieces the GGUF importer shares with it.
//
// export_gguf writes a model (an HF checkpoint directory or a GGUF, as loaded by load_model) as a
// GGUF file llama.cpp loads: llama.cpp's tensor names (token_embd, blk.N.attn_q, ..., output_norm,
// output), q/k rows permuted for arch "llama" (REFERENCE.md §1.9; qwen2 is not permuted),
// rope_freqs for llama3 rope scaling, the architecture keys convert_hf_to_gguf.py writes, the full
// tokenizer (tokenizer_gguf_kvs) and cartlm.prompt_template / cartlm.products. Matrices get the
// types of a quantization mix (quant/mix.h: the same per-tensor choices as llama-quantize) and are
// quantized with the byte-exact quantizers of quant/quant.h, with importance weights when an
// imatrix is given. Tensors are written in llama-quantize's order.
//
// From a GGUF source the KVs are copied as llama-quantize does (general.file_type and
// general.quantization_version updated), tensors keep their names and layout (no re-permutation),
// so `quantize --type Q4_K_M F16.gguf` gives the same tensor bytes as llama-quantize on that file.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "formats/config.h"
#include "formats/gguf.h"
#include "quant/imatrix_file.h"

namespace cartlm {

struct LoadedModel;

// HF -> GGUF tensor name: "model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight",
// "model.embed_tokens.weight" -> "token_embd.weight", "lm_head.weight" -> "output.weight",
// "model.norm.weight" -> "output_norm.weight". "" for names llama.cpp has no tensor for.
// (imatrix files are keyed by these names.)
std::string gguf_tensor_name(const std::string& hf_name);
// The inverse ("" when unknown); "rope_freqs.weight" has no HF name.
std::string hf_tensor_name(const std::string& gguf_name);

// llama.cpp's converter permutation of q/k rows (REFERENCE.md §1.9): for each of n_head heads of
// head_dim rows, new row 2i = old row i, new row 2i+1 = old row i + head_dim/2. `row_bytes` bytes
// per row (any dtype: rows move whole; a bias has one element per row). unpermute is the inverse.
void permute_qk_rows(const uint8_t* src, uint8_t* dst, int64_t n_head, int64_t head_dim,
                     size_t row_bytes);
void unpermute_qk_rows(const uint8_t* src, uint8_t* dst, int64_t n_head, int64_t head_dim,
                       size_t row_bytes);

// The architecture KVs (general.architecture ... {arch}.rope.dimension_count) for a config, in
// the converter's order, with general.file_type = file_type. Does not include tokenizer keys.
std::vector<GgufKV> gguf_arch_kvs(const Config& c, uint32_t file_type, const std::string& name);
// Config from GGUF metadata (general.architecture llama or qwen2). Errors name the file and key.
// tie_word_embeddings is set when the file has no output.weight tensor.
Result<Config> config_from_gguf(const GgufFile& f);
// The llama3 rope divisors llama.cpp stores as rope_freqs.weight (head_dim/2 floats); empty
// unless rope_scaling is llama3.
std::vector<float> llama3_rope_freqs(const Config& c);

struct GgufExportOptions {
  std::string type = "F16";         // a quant/mix.h name: F32 F16 BF16 Q8_0 Q4_K_M ...
  const Imatrix* imatrix = nullptr;  // per-column importance for the quantizers
  int threads = 0;                  // 0 = all cores
  std::string model_name;           // general.name (HF source); default: the directory name
  // Called after each tensor with (done, total) tensor bytes of the source; may be empty.
  std::function<void(uint64_t, uint64_t)> progress;
};

struct GgufExportStats {
  size_t tensors = 0;
  uint64_t bytes_in = 0, bytes_out = 0;  // tensor data before / after
  int n_fallback = 0;                   // tensors that needed a fallback type
  int imatrix_used = 0;                 // tensors quantized with importance weights
  std::vector<std::string> imatrix_missing;  // quantized tensors the imatrix has no entry for
  std::vector<std::pair<std::string, DType>> types;  // GGUF name -> type, in file order
};

// Writes `m` to `out_path` atomically. Errors: unknown type, a tensor whose type cannot be made
// (e.g. a source quantized type with no dequantizer), an imatrix entry of the wrong size.
Result<GgufExportStats> export_gguf(const LoadedModel& m, const std::string& out_path,
                                    const GgufExportOptions& opt);

}  // namespace cartlm
