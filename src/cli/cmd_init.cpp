// `cartlm init`: a randomly initialised HF checkpoint directory for a preset or custom shape.
#include <cstdio>
#include <memory>

#include "cli/cli.h"
#include "core/strings.h"
#include "core/timer.h"
#include "model/init.h"

namespace cartlm::cli {

void register_init(CLI::App& root, int& exit_code) {
  auto o = std::make_shared<InitOptions>();
  CLI::App* cmd = root.add_subcommand(
      "init",
      "Write a randomly initialised HF checkpoint directory (config.json, model.safetensors,\n"
      "generation_config.json, tokenizer.json) for a preset or a custom shape");
  cmd->add_option("--preset", o->preset, "tiny, llama-3.2-1b, smollm2-135m or qwen2.5-0.5b")
      ->capture_default_str();
  cmd->add_option("--out", o->out_dir, "Output directory")->required();
  cmd->add_option("--dtype", o->dtype, "f32, f16 or bf16 (default: f32 for tiny, else bf16)");
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  cmd->add_option("--tokenizer", o->tokenizer,
                  "tokenizer.json, model directory or .gguf to copy (default: train a small BPE)");
  cmd->add_flag("--force", o->force, "Write into a non-empty directory");
  cmd->add_option("--hidden", o->hidden, "Override hidden_size");
  cmd->add_option("--layers", o->layers, "Override num_hidden_layers");
  cmd->add_option("--heads", o->heads, "Override num_attention_heads");
  cmd->add_option("--kv-heads", o->kv_heads, "Override num_key_value_heads");
  cmd->add_option("--ffn", o->ffn, "Override intermediate_size");
  cmd->add_option("--vocab", o->vocab, "Override vocab_size");
  cmd->callback([o, &exit_code] {
    Timer t;
    auto r = init_checkpoint(*o);
    if (!r.ok()) {
      exit_code = fail(r.status());
      return;
    }
    std::fprintf(stderr, "wrote %s: %.1fM parameters, %s weights (%s), %lld-token vocabulary (%d learned), "
                 "in %.2f s\n",
                 o->out_dir.c_str(), r->parameters / 1e6,
                 human_bytes((double)r->bytes).c_str(), r->config.torch_dtype.c_str(),
                 (long long)r->config.vocab_size, r->learned_tokens, t.seconds());
    exit_code = 0;
  });
}

}  // namespace cartlm::cli
