// `cartlm eval`: run a model over a dataset with the intent recognizer and score it (exact match).
#include <cstdio>
#include <memory>

#include "cli/cli.h"
#include "core/file_io.h"
#include "core/strings.h"
#include "core/timer.h"
#include "decode/eval_run.h"
#include "eval/score.h"
#include "model/load.h"

namespace cartlm::cli {

namespace {

struct EvalArgs {
  std::string model, data, out, decode = "constrained";
  RecognizerOptions opt;
  EvalRunOptions run;
  LoadOptions load;
  size_t max_failures = 20;
  bool no_jump_forward = false, no_prefix_cache = false, quiet = false;
};

std::string pretty(const json& j) {
  return j.dump(2, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace) + "\n";
}

int run_eval(EvalArgs& a) {
  Result<DecodeMode> mode = parse_decode_mode(a.decode);
  if (!mode.ok()) return fail(mode.status().with_context("--decode"));
  a.opt.mode = *mode;
  a.opt.jump_forward = !a.no_jump_forward;
  a.opt.prefix_cache = !a.no_prefix_cache;
  a.run.progress = !a.quiet;
  Result<std::vector<Example>> gold = read_gold(a.data);
  if (!gold.ok()) return fail(gold.status());
  if (a.run.limit > 0 && gold->size() > a.run.limit) gold->resize(a.run.limit);

  Timer t;
  auto lm = load_model(a.model, a.load);
  if (!lm.ok()) return fail(lm.status());
  double load_s = t.seconds();
  auto rec = recognizer_create(**lm, a.opt);
  if (!rec.ok()) return fail(rec.status());
  for (const std::string& w : (*rec)->warnings) std::fprintf(stderr, "cartlm: warning: %s\n", w.c_str());

  Result<EvalRunResult> run = eval_run(**rec, *gold, a.run);
  if (!run.ok()) return fail(run.status());
  Result<ScoreReport> report = score(*gold, run->predictions);
  if (!report.ok()) return fail(report.status());

  json j = report_to_json(*report);
  j["model"] = a.model;
  j["model_format"] = model_format_name((*lm)->format);
  j["weight_type"] = (*lm)->weight_type;
  j["data"] = a.data;
  j["decode"] = decode_mode_name(a.opt.mode);
  j["few_shot"] = a.opt.few_shot;
  j["jump_forward"] = a.opt.jump_forward;
  j["load_seconds"] = load_s;
  j["throughput"] = throughput_to_json(run->throughput);
  std::string text = strformat("Model %s (%s, %s), decode %s%s\n", a.model.c_str(),
                               model_format_name((*lm)->format), (*lm)->weight_type.c_str(),
                               decode_mode_name(a.opt.mode),
                               a.opt.few_shot > 0 ? strformat(", %d-shot", a.opt.few_shot).c_str() : "") +
                     format_report_text(*report, a.max_failures) + "\n" +
                     format_throughput_text(run->throughput);
  if (!a.out.empty()) {
    Status st = ensure_dir(a.out);
    if (!st.ok()) return fail(st.with_context("--out"));
    st = write_predictions(join_path(a.out, "predictions.jsonl"), run->predictions);
    if (st.ok()) st = write_file_atomic(join_path(a.out, "report.json"), pretty(j));
    if (st.ok()) st = write_file_atomic(join_path(a.out, "report.txt"), text);
    if (!st.ok()) return fail(st);
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace

void register_eval(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = root.add_subcommand(
      "eval",
      "Run a model over a dataset with the intent recognizer and score it (exact match, as\n"
      "`cartlm score`), with throughput. Works with every model format `load_model` reads (HF\n"
      "directory, GGUF, GPTQ directory).");
  cmd->add_option("--model", a->model, "Model: HF checkpoint directory, .gguf file or GPTQ directory")
      ->required();
  cmd->add_option("--data", a->data, "Dataset JSONL with gold labels (e.g. eval.jsonl)")->required();
  cmd->add_option("--out", a->out,
                  "Directory for predictions.jsonl, report.json (the score report plus model, decode "
                  "and throughput keys) and report.txt; without it only the text report is printed");
  cmd->add_option("--decode", a->decode,
                  "constrained: greedy restricted to valid intents over the model's catalog, with "
                  "jump-forward (always valid JSON); free: plain greedy generation until EOS, parsed "
                  "as is (the study's raw setting)")
      ->capture_default_str();
  cmd->add_option("--threads", a->run.threads,
                  "Threads (0 = all cores); small models run one session per thread, big ones one "
                  "session using all threads")
      ->capture_default_str();
  cmd->add_option("--limit", a->run.limit, "Only the first N examples (0 = all)")->capture_default_str();
  cmd->add_option("--few-shot", a->opt.few_shot,
                  "Put K examples from --few-shot-file in front of the prompt (for base/instruct "
                  "models that were not fine-tuned; chat turns when the tokenizer has a Llama-3 or "
                  "ChatML chat template)")
      ->capture_default_str();
  cmd->add_option("--few-shot-file", a->opt.few_shot_file, "Dataset JSONL to take few-shot examples from (e.g. train.jsonl)");
  cmd->add_option("--max-quantity", a->opt.max_quantity, "Largest quantity the grammar allows")
      ->capture_default_str();
  cmd->add_option("--max-new-tokens", a->opt.max_new_tokens, "Generation cap per intent")
      ->capture_default_str();
  cmd->add_flag("--no-jump-forward", a->no_jump_forward,
                "Feed forced tokens one forward pass each (same output; for measuring)");
  cmd->add_flag("--no-prefix-cache", a->no_prefix_cache,
                "Recompute the whole prompt for every example (same output; for measuring)");
  cmd->add_option("--max-failures", a->max_failures, "Failures listed in the text report")
      ->capture_default_str();
  cmd->add_flag("--quiet", a->quiet, "No progress bar");
  add_no_mmap_flag(cmd, a->load);
  cmd->callback([a, &exit_code] { exit_code = run_eval(*a); });
}

}  // namespace cartlm::cli
