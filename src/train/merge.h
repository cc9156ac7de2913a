// `cartlm merge`: base HF checkpoint + PEFT LoRA adapter -> a plain HF checkpoint directory with
// W' = W + scale · B·A folded into every adapted matrix (REFERENCE.md §5.3), written in f32, f16
// or bf16. config.json is rewritten (torch_dtype follows the output dtype); tokenizer.json,
// tokenizer_config.json, generation_config.json, special_tokens_map.json and cartlm.json are
// copied when present. The result loads with load_model like any HF dir.
#pragma once
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "core/status.h"
#include "formats/config.h"

namespace cartlm {

class ThreadPool;

struct MergeOptions {
  std::string base_dir;
  std::string adapter_dir;
  std::string out_dir;
  DType dtype = DType::F16;  // F32, F16 or BF16
  bool force = false;        // allow writing into a non-empty out_dir
};

struct MergeReport {
  Config config;
  int64_t merged_matrices = 0;  // adapted matrices folded in
  int64_t lora_rank = 0;
  double lora_scale = 0.0;
  uint64_t bytes = 0;    // tensor bytes written
  int copied_files = 0;  // tokenizer / generation / cartlm files copied
};

// "f32" / "f16" / "bf16" (also "float32", "float16", "bfloat16") -> DType; error names the value.
Result<DType> parse_merge_dtype(const std::string& s);

// Errors name the file or tensor at fault (missing base tensor, adapter shape mismatch,
// out_dir not empty without force...). Each output file is written atomically; the merge of one
// matrix runs over `pool` (nullable).
Result<MergeReport> merge_adapter(const MergeOptions& opt, ThreadPool* pool = nullptr);

}  // namespace cartlm
