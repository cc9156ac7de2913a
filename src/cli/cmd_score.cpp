// `cartlm score`: exact-match accuracy of a predictions file against gold labels (src/eval/score.h).
#include <cstdio>
#include <memory>

#include "cli/cli.h"
#include "core/file_io.h"
#include "eval/score.h"

namespace cartlm::cli {

namespace {

struct ScoreArgs {
  std::string gold, pred, out;
  bool json = false;
  size_t max_failures = 20;
};

std::string pretty(const json& j) {
  return j.dump(2, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace) + "\n";
}

int run_score(const ScoreArgs& a) {
  if (a.gold.empty())
    return fail(error("--gold is required; hint: the dataset JSONL with the gold labels"));
  if (a.pred.empty())
    return fail(error("--pred is required; hint: the predictions JSONL to score"));
  Result<std::vector<Example>> gold = read_gold(a.gold);
  if (!gold.ok()) return fail(gold.status());
  Result<std::vector<Prediction>> preds = read_predictions(a.pred);
  if (!preds.ok()) return fail(preds.status());
  Result<ScoreReport> report = score(*gold, *preds);
  if (!report.ok()) return fail(report.status());

  const std::vector<std::string>& extra = report->extra_ids;
  if (!extra.empty()) {
    std::string ids;
    for (size_t i = 0; i < extra.size() && i < 3; ++i)
      ids += (i ? ", " : "") + json(extra[i]).dump(-1, ' ', false, json::error_handler_t::replace);
    std::fprintf(stderr, "cartlm: warning: %zu prediction(s) in %s have ids not in %s and were "
                 "ignored (e.g. %s)\n", extra.size(), a.pred.c_str(), a.gold.c_str(), ids.c_str());
  }
  json j = report_to_json(*report);
  if (!a.out.empty()) {
    Status st = write_file_atomic(a.out, pretty(j));
    if (!st.ok()) return fail(st.with_context("--out"));
  }
  std::string text = a.json ? pretty(j) : format_report_text(*report, a.max_failures);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace

void register_score(CLI::App& root, int& exit_code) {
  auto args = std::make_shared<ScoreArgs>();
  CLI::App* cmd = root.add_subcommand(
      "score",
      "Exact-match accuracy (the study's metric) of model outputs against gold labels: an output\n"
      "is correct when it is exactly one JSON object with exactly the keys action, product,\n"
      "quantity (strings, strings, integer) equal to the label. Exit code 0 whenever scoring\n"
      "worked, 1 on bad input.");
  cmd->add_option("--gold", args->gold, "Dataset JSONL with gold labels (e.g. eval.jsonl)");
  cmd->add_option("--pred", args->pred,
                  "Predictions JSONL: {\"id\", \"output\" (raw model text, re-parsed here), "
                  "\"parsed\" (ignored), \"latency_ms\"}; matched to gold by id. Duplicated ids "
                  "are an error; ids not in gold are ignored with a warning; gold ids without a "
                  "prediction fail as \"missing prediction\"");
  cmd->add_flag("--json", args->json, "Print the JSON report instead of the text report");
  cmd->add_option("--out", args->out, "Also write the JSON report to this file");
  cmd->add_option("--max-failures", args->max_failures,
                  "Failures listed in the text report (the JSON report lists all)")
      ->capture_default_str();
  cmd->footer(
      "JSON report keys: n, correct, accuracy, ci95 [lo, hi] (95% Wilson), json_objects,\n"
      "json_object_rate, valid, valid_rate (one JSON object with the 3 keys of the right types),\n"
      "missing_predictions, extra_prediction_ids, by_lang and by_action ({name: {n, correct,\n"
      "accuracy, ci95}}), fields ({action|product|quantity: {correct, accuracy, accuracy_valid}}),\n"
      "reasons ({reason: count}), failures ([{id, lang, text, gold, output, reason}]).");
  cmd->callback([args, &exit_code] { exit_code = run_score(*args); });
}

}  // namespace cartlm::cli
