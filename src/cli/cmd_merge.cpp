// `cartlm merge`: fold a PEFT LoRA adapter into its base checkpoint (src/train/merge.h).
#include <cstdio>
#include <memory>
#include <string>

#include "cli/cli.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "train/merge.h"

namespace cartlm::cli {

namespace {

struct MergeArgs {
  std::string base, adapter, out, dtype = "f16";
  bool force = false;
  int threads = 0;
};

int run_merge(const MergeArgs& a) {
  if (a.base.empty())
    return fail(
        error("--base is required; hint: the HF checkpoint dir the adapter was trained on"));
  if (a.adapter.empty())
    return fail(
        error("--adapter is required; hint: a dir with adapter_config.json and "
              "adapter_model.safetensors"));
  if (a.out.empty())
    return fail(error("--out is required; hint: the directory to write the merged model to"));
  Result<DType> dt = parse_merge_dtype(a.dtype);
  if (!dt.ok()) return fail(dt.status());
  MergeOptions mo;
  mo.base_dir = a.base;
  mo.adapter_dir = a.adapter;
  mo.out_dir = a.out;
  mo.dtype = *dt;
  mo.force = a.force;
  Timer t;
  ThreadPool pool(a.threads);
  Result<MergeReport> rep = merge_adapter(mo, &pool);
  if (!rep.ok()) return fail(rep.status());
  std::printf(
      "merged %lld matrices (LoRA r=%lld, scale %g) into %s: %.1f MB of %s tensors, %d "
      "tokenizer/metadata file(s) copied, %.2f s\n",
      (long long)rep->merged_matrices, (long long)rep->lora_rank, rep->lora_scale, a.out.c_str(),
      (double)rep->bytes / 1e6, dtype_name(*dt), rep->copied_files, t.seconds());
  return 0;
}

}  // namespace

void register_merge(CLI::App& root, int& exit_code) {
  auto args = std::make_shared<MergeArgs>();
  CLI::App* cmd = root.add_subcommand(
      "merge",
      "Fold a PEFT LoRA adapter into its base model: every adapted matrix becomes\n"
      "W + (lora_alpha / r) · B·A (alpha/sqrt(r) with use_rslora), computed in f32, and the whole\n"
      "model is written as a plain HF checkpoint directory (config.json, model.safetensors) that\n"
      "loads anywhere a model is accepted. tokenizer.json, tokenizer_config.json,\n"
      "generation_config.json, special_tokens_map.json and cartlm.json are copied when present.");
  cmd->add_option("--base", args->base, "Base HF checkpoint directory (F32/F16/BF16 safetensors)");
  cmd->add_option("--adapter", args->adapter,
                  "PEFT adapter directory (adapter_config.json + adapter_model.safetensors), e.g. "
                  "from `cartlm train --mode lora|qlora`");
  cmd->add_option("--out", args->out, "Output directory (must be empty unless --force)");
  cmd->add_option("--dtype", args->dtype, "Output weight dtype: f32, f16 or bf16")
      ->capture_default_str();
  cmd->add_flag("--force", args->force, "Write into a non-empty --out directory");
  cmd->add_option("--threads", args->threads, "Threads (0 = all cores)")->capture_default_str();
  cmd->callback([args, &exit_code] { exit_code = run_merge(*args); });
}

}  // namespace cartlm::cli
