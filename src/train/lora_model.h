// LoRA / QLoRA on a real checkpoint: the base stays frozen in the checkpoint's own memory (F32/F16/
// BF16 views into the safetensors mmap, or NF4 tensors quantized at load for QLoRA) and only the
// adapters are f32 parameters. The TrainModel this returns holds the mapping alive itself
// (TrainModel::frozen), so callers just keep the TrainModel.
//
// Typical trainer loop:
//   Rng rng(seed);
//   CARTLM_ASSIGN_OR_RETURN(TrainModel<float> m, train_model_for_adapter(dir, qlora, opt, rng));
//   ... train_model_zero_grad / train_model_forward(..., &dropout_rng, pool) / train_model_backward
//       / AdamW over m.trainable() (== the LoRA params) ...
//   CARTLM_RETURN_IF_ERROR(save_peft_adapter(out_dir, m, dir));
#pragma once
#include <string>

#include "core/rng.h"
#include "core/status.h"
#include "train/ops.h"

namespace cartlm {

class ThreadPool;

// Loads base_dir (an HF checkpoint dir: config.json + safetensors; matrices F32/F16/BF16) frozen
// with LoRA adapters per opt.lora on opt.lora.sites. opt.use_lora is forced on; opt.max_batch /
// opt.max_seq size the activations as in train_model_create (set max_seq: 0 means the config's
// max_position_embeddings, far too much for Llama 3). qlora: the seven linear matrices of every
// layer are quantized to NF4 (block 64, double-quantized absmax, bitsandbytes layout) at load; the
// embedding / LM head stay views in the checkpoint dtype, norms are copied to f32. Adapters are
// initialized the PEFT way from `rng` (A ~ U(±1/sqrt(in)), B = 0). pool (nullable) speeds up the
// NF4 quantization. Errors name the file / tensor that is wrong.
Result<TrainModel<float>> train_model_for_adapter(const std::string& base_dir, bool qlora,
                                                  const TrainOptions& opt, Rng& rng,
                                                  ThreadPool* pool = nullptr);

// Writes out_dir/adapter_config.json (PEFT LoraConfig: r, lora_alpha, lora_dropout,
// target_modules, use_rslora, base_model_name_or_path = base_path, peft_type LORA, task_type
// CAUSAL_LM, bias none) and out_dir/adapter_model.safetensors (F32 tensors named
// base_model.model.model.layers.N.<module>.lora_A.weight / lora_B.weight). Creates out_dir.
// Every file is written atomically.
Status save_peft_adapter(const std::string& out_dir, const TrainModel<float>& m,
                         const std::string& base_path);

// Reads a PEFT adapter dir into m's LoRA params (resuming, or evaluating base+adapter). The
// adapter's r, target modules and tensor shapes must match m.opt.lora and m.config (errors name
// the mismatch); its lora_alpha and use_rslora replace m.opt.lora's (the dropout stays: it is a
// training setting the activations were planned for).
// F32/F16/BF16 tensors are accepted.
Status load_peft_adapter(const std::string& adapter_dir, TrainModel<float>& m);

}  // namespace cartlm
