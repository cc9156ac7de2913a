// `cartlm data metaprompt`: a dataset written by an LLM behind an OpenAI-compatible endpoint, with
// labels fixed by cartlm (src/data/metaprompt.h).
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/cli.h"
#include "core/strings.h"
#include "data/catalog.h"
#include "data/metaprompt.h"

namespace cartlm::cli {

namespace {

struct MetapromptArgs {
  MetapromptOptions opt;
  std::string api_key_env = "OPENAI_API_KEY";
  std::string catalog;
  bool quiet = false;
};

int run_data_metaprompt(MetapromptArgs& a) {
  if (a.opt.endpoint.empty())
    return fail(error("--endpoint is required; hint: the base URL of an OpenAI-compatible API, "
                      "e.g. http://127.0.0.1:8080/v1"));
  if (a.opt.model.empty())
    return fail(error("--model is required; hint: the model name the endpoint serves"));
  if (!a.api_key_env.empty()) {
    const char* key = std::getenv(a.api_key_env.c_str());
    if (key) a.opt.api_key = trim(key);  // unset is fine: local servers need no key
  }
  a.opt.progress = !a.quiet;
  Result<Catalog> catalog = load_catalog_or_default(a.catalog);
  if (!catalog.ok()) return fail(catalog.status().with_context("--catalog"));
  Result<MetapromptSummary> sum = run_metaprompt(*catalog, a.opt);
  if (!sum.ok()) return fail(sum.status());
  std::fputs(sum->to_text().c_str(), stderr);
  if (sum->too_many_failed)
    return fail(error(strformat("%zu of %zu examples failed or were not attempted (more than "
                                "--max-failed %g); accepted replies are cached in %s, rerun to resume",
                                sum->failed + sum->not_attempted, sum->total, a.opt.max_failed,
                                a.opt.out_dir.c_str())));
  std::fprintf(stderr, "dataset in %s (train.jsonl, val.jsonl)\n", a.opt.out_dir.c_str());
  return 0;
}

}  // namespace

void register_data_metaprompt(CLI::App& data, int& exit_code) {
  // Owned by the subcommand's callback for the life of the program.
  auto args = std::make_shared<MetapromptArgs>();
  MetapromptOptions& o = args->opt;
  o.out_dir = "data/metaprompt";
  CLI::App* cmd = data.add_subcommand(
      "metaprompt",
      "Dataset written by an LLM (the paper's metaprompting): cartlm fixes each label and style,\n"
      "an OpenAI-compatible chat endpoint writes the shopper message");
  cmd->add_option("--endpoint", o.endpoint,
                  "Base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8080/v1 "
                  "(requests go to <endpoint>/chat/completions)");
  cmd->add_option("--model", o.model, "Model name sent with each request");
  cmd->add_option("--api-key-env", args->api_key_env,
                  "Environment variable holding the API key (unset: no Authorization header)")
      ->capture_default_str();
  cmd->add_option("--temperature", o.temperature, "Sampling temperature")->capture_default_str();
  cmd->add_option("--max-tokens", o.max_tokens, "max_tokens per reply (0: not sent)")
      ->capture_default_str();
  cmd->add_option("--parallel", o.parallel, "Concurrent requests")->capture_default_str();
  cmd->add_option("--timeout", o.timeout_s, "Seconds per request")->capture_default_str();
  cmd->add_option("--retries", o.retries,
                  "Extra attempts per example (HTTP errors, timeouts and rejected replies)")
      ->capture_default_str();
  cmd->add_option("--max-failed", o.max_failed,
                  "Largest share of failed examples that still counts as success")
      ->capture_default_str();
  cmd->add_option("--size", o.size, "Number of examples")->capture_default_str();
  cmd->add_option("--val-fraction", o.val_fraction, "Share of examples in val.jsonl")
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed of labels, styles and the split")->capture_default_str();
  cmd->add_option("--out", o.out_dir,
                  "Output directory (train.jsonl, val.jsonl, metaprompt.cache.jsonl)")
      ->capture_default_str();
  cmd->add_option("--catalog", args->catalog, "Product catalog (default: the built-in one)");
  cmd->add_flag("--quiet", args->quiet, "No progress bar");
  cmd->callback([args, &exit_code] { exit_code = run_data_metaprompt(*args); });
}

}  // namespace cartlm::cli
