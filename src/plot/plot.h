// Charts drawn with cairo: line charts (loss curves), bar charts (accuracy, memory, speed per
// variant, with error bars) and labelled scatter plots with a frontier line (Pareto plots).
// Each chart renders to PNG or SVG bytes (render_*), which the report embeds as data URIs, or to
// a file (plot_*_png / plot_*_svg), written atomically like every other output.
// Bad data (empty series, mismatched lengths, NaN, non-positive values on a log axis) returns a
// Status naming the series and index; it never aborts.
#pragma once
#include <string>
#include <vector>

#include "core/status.h"

namespace cartlm {

// One line (or one set of points). err_lo / err_hi are optional ABSOLUTE bounds of y (for example
// a confidence interval [lo, hi]); when present they have one entry per point and are drawn as
// error bars.
struct Series {
  std::string name;
  std::vector<double> x, y;
  std::vector<double> err_lo, err_hi;
};

struct ChartSpec {
  std::string title, x_label, y_label;
  int width = 900, height = 540;
  bool log_x = false, log_y = false;
};

// Bars, one per label. err_lo / err_hi: optional absolute bounds (one per bar). highlight:
// optional, one per bar; highlighted bars get the accent colour (e.g. the recommended variant).
// y_from_zero: start the value axis at 0 (true for sizes and rates; false zooms into the data).
struct BarData {
  std::vector<std::string> labels;
  std::vector<double> values;
  std::vector<double> err_lo, err_hi;
  std::vector<bool> highlight;
  bool y_from_zero = true;
  // Printed above each bar, e.g. "%.1f%%"; empty draws no value labels.
  std::string value_format = "%.3g";
};

// A labelled point; `dominated` points are drawn hollow and grey, the others filled.
struct ScatterPoint {
  std::string label;
  double x = 0, y = 0;
  bool dominated = false;
  bool highlight = false;
};

// Points plus an optional frontier polyline (drawn in the order given, as a step line between
// frontier points so the staircase of a Pareto frontier is visible).
struct ScatterData {
  std::vector<ScatterPoint> points;
  std::vector<double> frontier_x, frontier_y;
  std::string frontier_name = "Pareto frontier";
};

enum class ImageFormat { kPng, kSvg };

// Rendered image bytes.
Result<std::string> render_line_chart(ImageFormat format, const ChartSpec& spec,
                                      const std::vector<Series>& series);
Result<std::string> render_bar_chart(ImageFormat format, const ChartSpec& spec,
                                     const BarData& bars);
Result<std::string> render_scatter_chart(ImageFormat format, const ChartSpec& spec,
                                         const ScatterData& data);

// The same, written atomically to `path`.
Status plot_line_chart_png(const std::string& path, const ChartSpec& spec,
                           const std::vector<Series>& series);
Status plot_line_chart_svg(const std::string& path, const ChartSpec& spec,
                           const std::vector<Series>& series);
Status plot_bar_chart_png(const std::string& path, const ChartSpec& spec, const BarData& bars);
Status plot_bar_chart_svg(const std::string& path, const ChartSpec& spec, const BarData& bars);
Status plot_scatter_png(const std::string& path, const ChartSpec& spec, const ScatterData& data);
Status plot_scatter_svg(const std::string& path, const ChartSpec& spec, const ScatterData& data);

// Standard base64 (RFC 4648, with padding), for data: URIs in self-contained HTML.
std::string base64_encode(const std::string& bytes);

}  // namespace cartlm
