// `cartlm generate`: sample a continuation of a prompt from an HF checkpoint directory, streaming
// the text to stdout; timings go to stderr.
#include <cstdio>
#include <memory>

#include "cli/cli.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "decode/generate.h"
#include "model/load.h"

namespace cartlm::cli {

namespace {

struct GenerateArgs {
  std::string model;
  std::string prompt;
  GenerateOptions opt;
  LoadOptions load;
  int threads = 0;
};

int run_generate(const GenerateArgs& a) {
  if (a.opt.sampler.top_p <= 0.0f) return fail(error("--top-p must be > 0"));
  if (a.opt.sampler.top_k < 0) return fail(error("--top-k must be >= 0"));
  Timer t;
  auto lm = load_model(a.model, a.load);
  if (!lm.ok()) return fail(lm.status());
  double load_s = t.seconds();
  ThreadPool pool(a.threads);
  auto st = generate(**lm, a.prompt, a.opt, &pool, [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  });
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (!st.ok()) return fail(st.status());
  std::fprintf(stderr,
               "load %.2f s; prefill %zu tokens in %.3f s (%.1f tokens/s); decode %zu tokens in "
               "%.3f s (%.1f tokens/s)%s; %d threads\n",
               load_s, st->prompt_tokens, st->prefill_s,
               st->prefill_s > 0 ? st->prompt_tokens / st->prefill_s : 0.0, st->generated,
               st->decode_s, st->decode_s > 0 ? st->generated / st->decode_s : 0.0,
               st->stopped_at_eog ? ", stopped at end of generation" : "", pool.size());
  return 0;
}

}  // namespace

void register_generate(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* cmd = root.add_subcommand(
      "generate", "Generate text after a prompt with a model directory (streams to stdout)");
  cmd->add_option("--model", a->model, "HF checkpoint directory")->required();
  cmd->add_option("--prompt", a->prompt, "Prompt text")->required();
  cmd->add_option("--max-tokens", a->opt.max_tokens, "Most tokens to generate")->capture_default_str();
  cmd->add_option("--temperature", a->opt.sampler.temperature, "Sampling temperature (0 = greedy)")
      ->capture_default_str();
  cmd->add_option("--top-k", a->opt.sampler.top_k, "Keep the k most likely tokens (0 = off)")
      ->capture_default_str();
  cmd->add_option("--top-p", a->opt.sampler.top_p, "Nucleus sampling mass (1 = off)")
      ->capture_default_str();
  cmd->add_option("--seed", a->opt.sampler.seed, "Sampling seed")->capture_default_str();
  cmd->add_option("--threads", a->threads, "Threads (0 = all cores)")->capture_default_str();
  add_no_mmap_flag(cmd, a->load);
  cmd->callback([a, &exit_code] { exit_code = run_generate(*a); });
}

}  // namespace cartlm::cli
