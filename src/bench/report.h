// The study report: report.md and a self-contained report.html (charts embedded as base64 PNG data
// URIs) plus the charts as PNG files, all computed from bench results and eval reports:
// accuracy per variant with 95% CI error bars (Figure 1), memory, speed, load time, energy, the
// two Pareto frontiers (accuracy vs memory, accuracy vs speed) with dominated variants marked, and
// recommendations derived from the numbers (never fixed text).
#pragma once
#include <string>
#include <vector>

#include "bench/bench_result.h"
#include "bench/pareto.h"
#include "core/status.h"

namespace cartlm {

struct ReportInput {
  BenchFile bench;
  std::vector<EvalEntry> evals;  // optional: accuracy per variant and decode mode from `cartlm eval`
  std::string title = "cartlm: accuracy, speed and memory of quantized intent recognizers";
  std::vector<std::string> notes;  // lines printed under the title (run dir, machine, settings)
  double tolerance = 0.01;         // "within one point"
};

// The trade-off points the recommendations use: accuracy = the bench's own accuracy (its decode
// mode) or, when the bench measured none, the eval report for that variant (constrained first);
// memory = median peak RSS; speed = median intents/s.
std::vector<TradeoffPoint> tradeoff_points(const ReportInput& in);

// The recommendation section as Markdown lines (also used for the terminal summary).
std::vector<std::string> recommendation_lines(const std::vector<TradeoffPoint>& points,
                                              const Recommendation& rec);

struct ReportFiles {
  std::string markdown, html;
  std::vector<std::string> charts;  // PNG paths
};
// Writes dir/report.md, dir/report.html and dir/charts/*.png.
Result<ReportFiles> write_report(const std::string& dir, const ReportInput& in);

// A plain-text table (aligned columns) of the variants, for the terminal.
std::string summary_table_text(const ReportInput& in);

}  // namespace cartlm
