#include "bench/report.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/file_io.h"
#include "core/strings.h"
#include "plot/plot.h"

namespace cartlm {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

std::string pct(double v) { return std::isfinite(v) ? strformat("%.1f%%", 100 * v) : "n/a"; }
std::string acc_ci(double acc, Interval ci) {
  if (!std::isfinite(acc)) return "n/a";
  return strformat("%.1f%% [%.1f, %.1f]", 100 * acc, 100 * ci.lo, 100 * ci.hi);
}
std::string fmt_num(double v, double scale = 1) {
  if (!std::isfinite(v)) return "n/a";
  double x = v / scale, ax = std::fabs(x);
  if (ax >= 100) return strformat("%.0f", x);
  if (ax >= 10) return strformat("%.1f", x);
  if (ax >= 0.1) return strformat("%.2f", x);
  return strformat("%.3g", x);
}
// "median (min–max)"; the range is left out for a single repetition.
std::string fmt_stat(const Stat& s, double scale = 1) {
  if (!std::isfinite(s.median)) return "n/a";
  std::string out = fmt_num(s.median, scale);
  if (s.n > 1) out += " (" + fmt_num(s.min, scale) + "–" + fmt_num(s.max, scale) + ")";
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}
std::string md_cell(const std::string& s) { return replace_all(s, "|", "\\|"); }

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};
std::string table_md(const Table& t) {
  std::string out = "|";
  for (const auto& h : t.header) out += " " + md_cell(h) + " |";
  out += "\n|";
  for (size_t i = 0; i < t.header.size(); ++i) out += i == 0 ? "---|" : "---:|";
  out += "\n";
  for (const auto& r : t.rows) {
    out += "|";
    for (const auto& c : r) out += " " + md_cell(c) + " |";
    out += "\n";
  }
  return out;
}
std::string table_html(const Table& t) {
  std::string out = "<table>\n<tr>";
  for (const auto& h : t.header) out += "<th>" + html_escape(h) + "</th>";
  out += "</tr>\n";
  for (const auto& r : t.rows) {
    out += "<tr>";
    for (size_t i = 0; i < r.size(); ++i)
      out += (i == 0 ? "<td class=l>" : "<td>") + html_escape(r[i]) + "</td>";
    out += "</tr>\n";
  }
  return out + "</table>\n";
}
std::string table_text(const Table& t) {
  std::vector<size_t> w(t.header.size(), 0);
  auto width = [](const std::string& s) {  // code points, so "–" counts as one column
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  for (size_t i = 0; i < t.header.size(); ++i) w[i] = width(t.header[i]);
  for (const auto& r : t.rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], width(r[i]));
  auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (size_t i = 0; i < r.size(); ++i) {
      std::string pad(w[i] - width(r[i]), ' ');
      out += i == 0 ? r[i] + pad : "  " + pad + r[i];
    }
    return out + "\n";
  };
  std::string out = line(t.header);
  for (const auto& r : t.rows) out += line(r);
  return out;
}

Table variant_table(const ReportInput& in) {
  Table t;
  t.header = {"variant",      "weights",     "accuracy [95% CI]", "model MiB",  "peak RSS MiB",
              "load s",       "prefill tok/s", "decode tok/s",    "p50 ms",     "p95 ms",
              "intents/s",    "energy J/token"};
  for (const VariantResult& v : in.bench.variants) {
    std::string energy = fmt_stat(v.stat("energy_j_per_token"));
    if (energy == "n/a") energy = "not available";
    t.rows.push_back({v.name, v.weight_type, acc_ci(v.accuracy, v.ci95),
                      fmt_stat(v.stat("model_bytes"), kMiB), fmt_stat(v.stat("peak_rss_bytes"), kMiB),
                      fmt_stat(v.stat("load_s")), fmt_stat(v.stat("prefill_tps")),
                      fmt_stat(v.stat("decode_tps")), fmt_stat(v.stat("latency_p50_ms")),
                      fmt_stat(v.stat("latency_p95_ms")), fmt_stat(v.stat("intents_per_s")), energy});
  }
  return t;
}

// Variants in bench order, then any that only have eval entries.
std::vector<std::string> variant_order(const ReportInput& in) {
  std::vector<std::string> names;
  for (const VariantResult& v : in.bench.variants) names.push_back(v.name);
  for (const EvalEntry& e : in.evals)
    if (std::find(names.begin(), names.end(), e.variant) == names.end()) names.push_back(e.variant);
  return names;
}

const EvalEntry* find_eval(const ReportInput& in, const std::string& variant, const std::string& mode) {
  for (const EvalEntry& e : in.evals)
    if (e.variant == variant && e.mode == mode) return &e;
  return nullptr;
}

Table eval_table(const ReportInput& in) {
  Table t;
  t.header = {"variant", "free: exact match [95% CI]", "free: valid JSON",
              "constrained: exact match [95% CI]", "n"};
  for (const std::string& name : variant_order(in)) {
    const EvalEntry* f = find_eval(in, name, "free");
    const EvalEntry* c = find_eval(in, name, "constrained");
    if (!f && !c) continue;
    t.rows.push_back({name, f ? acc_ci(f->accuracy, f->ci95) : "n/a",
                      f ? pct(f->valid_rate) : "n/a", c ? acc_ci(c->accuracy, c->ci95) : "n/a",
                      std::to_string(f ? f->n : c->n)});
  }
  return t;
}

struct Chart {
  std::string name, caption;
  std::string png;  // bytes
};

}  // namespace

std::vector<TradeoffPoint> tradeoff_points(const ReportInput& in) {
  std::vector<TradeoffPoint> pts;
  for (const VariantResult& v : in.bench.variants) {
    TradeoffPoint p;
    p.name = v.name;
    p.accuracy = v.accuracy;
    if (!std::isfinite(p.accuracy)) {
      const EvalEntry* e = find_eval(in, v.name, "constrained");
      if (!e) e = find_eval(in, v.name, "free");
      if (e) p.accuracy = e->accuracy;
    }
    p.memory = v.median("peak_rss_bytes");
    p.speed = v.median("intents_per_s");
    pts.push_back(p);
  }
  return pts;
}

std::vector<std::string> recommendation_lines(const std::vector<TradeoffPoint>& pts,
                                              const Recommendation& rec) {
  std::vector<std::string> out;
  if (rec.best_accuracy < 0) {
    out.push_back("- No variant has a measured accuracy, so there is nothing to recommend.");
    return out;
  }
  auto describe = [&](int i) {
    const TradeoffPoint& p = pts[i];
    std::string s = "**" + p.name + "** (" + pct(p.accuracy);
    if (std::isfinite(p.memory)) s += strformat(", %.1f MiB peak RSS", p.memory / kMiB);
    if (std::isfinite(p.speed)) s += strformat(", %.1f intents/s", p.speed);
    return s + ")";
  };
  double pts_tol = rec.tolerance * 100;
  out.push_back("- Best accuracy: " + describe(rec.best_accuracy) + ".");
  if (rec.fastest_within >= 0)
    out.push_back(strformat("- Fastest within %.3g point%s of the best accuracy: ", pts_tol,
                            pts_tol == 1 ? "" : "s") +
                  describe(rec.fastest_within) + ".");
  if (rec.smallest_within >= 0)
    out.push_back(strformat("- Smallest memory within %.3g point%s of the best accuracy: ", pts_tol,
                            pts_tol == 1 ? "" : "s") +
                  describe(rec.smallest_within) + ".");
  auto names = [&](const std::vector<int>& idx) {
    std::vector<std::string> n;
    for (int i : idx) n.push_back(pts[i].name);
    return n.empty() ? std::string("none") : join(n, ", ");
  };
  auto dominated_list = [&](const ParetoResult& r) {
    if (r.dominated.empty()) return std::string("none");
    std::vector<std::string> n;
    for (int i : r.dominated) n.push_back(pts[i].name + " (by " + pts[r.dominated_by[i]].name + ")");
    return join(n, ", ");
  };
  out.push_back("- Pareto frontier, accuracy vs memory: " + names(rec.memory_front.frontier) +
                "; dominated: " + dominated_list(rec.memory_front) + ".");
  out.push_back("- Pareto frontier, accuracy vs speed: " + names(rec.speed_front.frontier) +
                "; dominated: " + dominated_list(rec.speed_front) + ".");
  out.push_back("- Dominated on both (never the right choice here): " + names(rec.dominated_both) +
                ".");
  return out;
}

std::string summary_table_text(const ReportInput& in) {
  Table t;
  t.header = {"variant", "accuracy", "free", "constrained", "peak RSS MiB", "decode tok/s",
              "intents/s", "p50 ms", "load s"};
  for (const std::string& name : variant_order(in)) {
    const VariantResult* v = nullptr;
    for (const VariantResult& x : in.bench.variants)
      if (x.name == name) v = &x;
    const EvalEntry* f = find_eval(in, name, "free");
    const EvalEntry* c = find_eval(in, name, "constrained");
    auto med = [&](const char* key, double scale = 1) {
      return v ? fmt_num(v->median(key), scale) : std::string("n/a");
    };
    t.rows.push_back({name, v ? pct(v->accuracy) : "n/a", f ? pct(f->accuracy) : "n/a",
                      c ? pct(c->accuracy) : "n/a", med("peak_rss_bytes", kMiB), med("decode_tps"),
                      med("intents_per_s"), med("latency_p50_ms"), med("load_s")});
  }
  return table_text(t);
}

namespace {

// Bars of one metric's median with min–max error bars; nothing when no variant has the metric.
Result<std::optional<Chart>> metric_chart(const ReportInput& in, const std::string& name,
                                          const std::string& key, const std::string& title,
                                          const std::string& y_label, double scale,
                                          const std::string& caption, int highlight) {
  BarData bars;
  bars.value_format = "%.3g";
  for (size_t i = 0; i < in.bench.variants.size(); ++i) {
    const VariantResult& v = in.bench.variants[i];
    const Stat& s = v.stat(key);
    if (!std::isfinite(s.median)) continue;
    bars.labels.push_back(v.name);
    bars.values.push_back(s.median / scale);
    bars.err_lo.push_back(s.min / scale);
    bars.err_hi.push_back(s.max / scale);
    bars.highlight.push_back(static_cast<int>(i) == highlight);
  }
  if (bars.labels.empty()) return std::optional<Chart>();
  ChartSpec spec{title, "variant", y_label};
  CARTLM_ASSIGN_OR_RETURN(std::string png, render_bar_chart(ImageFormat::kPng, spec, bars));
  return std::optional<Chart>(Chart{name, caption, std::move(png)});
}

Result<std::optional<Chart>> accuracy_chart(const std::string& name, const std::string& title,
                                            const std::vector<std::string>& labels,
                                            const std::vector<double>& acc,
                                            const std::vector<Interval>& ci,
                                            const std::string& caption) {
  BarData bars;
  bars.value_format = "%.1f";
  bars.y_from_zero = false;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!std::isfinite(acc[i])) continue;
    bars.labels.push_back(labels[i]);
    bars.values.push_back(100 * acc[i]);
    bars.err_lo.push_back(100 * ci[i].lo);
    bars.err_hi.push_back(100 * ci[i].hi);
  }
  if (bars.labels.empty()) return std::optional<Chart>();
  ChartSpec spec{title, "variant", "exact match (%), 95% Wilson CI"};
  CARTLM_ASSIGN_OR_RETURN(std::string png, render_bar_chart(ImageFormat::kPng, spec, bars));
  return std::optional<Chart>(Chart{name, caption, std::move(png)});
}

Result<std::optional<Chart>> pareto_chart(const std::vector<TradeoffPoint>& pts,
                                          const ParetoResult& pr, bool memory, int highlight) {
  ScatterData d;
  for (size_t i = 0; i < pts.size(); ++i) {
    double x = memory ? pts[i].memory / kMiB : pts[i].speed;
    if (!std::isfinite(x) || !std::isfinite(pts[i].accuracy)) continue;
    d.points.push_back({pts[i].name, x, 100 * pts[i].accuracy, pr.dominated_by[i] >= 0,
                        static_cast<int>(i) == highlight});
  }
  if (d.points.empty()) return std::optional<Chart>();
  for (int i : pr.frontier) {
    d.frontier_x.push_back(memory ? pts[i].memory / kMiB : pts[i].speed);
    d.frontier_y.push_back(100 * pts[i].accuracy);
  }
  ChartSpec spec{memory ? "Accuracy vs memory" : "Accuracy vs speed",
                 memory ? "peak RSS (MiB)" : "intents/s", "exact match (%)"};
  CARTLM_ASSIGN_OR_RETURN(std::string png, render_scatter_chart(ImageFormat::kPng, spec, d));
  std::string caption = memory
      ? "Pareto frontier of accuracy against memory (peak RSS): up and to the left is better; "
        "hollow points are dominated."
      : "Pareto frontier of accuracy against speed (intents/s): up and to the right is better; "
        "hollow points are dominated.";
  return std::optional<Chart>(Chart{memory ? "pareto_memory" : "pareto_speed", caption, std::move(png)});
}

}  // namespace

Result<ReportFiles> write_report(const std::string& dir, const ReportInput& in) {
  std::vector<TradeoffPoint> pts = tradeoff_points(in);
  Recommendation rec = recommend(pts, in.tolerance);
  std::vector<Chart> charts;
  auto add = [&](Result<std::optional<Chart>> c) -> Status {
    if (!c.ok()) return c.status();
    if (c->has_value()) charts.push_back(std::move(**c));
    return {};
  };
  // Figure 1: accuracy per variant with CI, per decode mode when eval reports exist.
  for (const char* mode : {"free", "constrained"}) {
    std::vector<std::string> labels;
    std::vector<double> acc;
    std::vector<Interval> ci;
    for (const std::string& name : variant_order(in)) {
      if (const EvalEntry* e = find_eval(in, name, mode)) {
        labels.push_back(name);
        acc.push_back(e->accuracy);
        ci.push_back(e->ci95);
      }
    }
    if (labels.empty()) continue;
    CARTLM_RETURN_IF_ERROR(add(accuracy_chart(
        std::string("fig1_accuracy_") + mode,
        std::string("Exact match per variant (") + mode + " decoding)", labels, acc, ci,
        std::string("Figure 1") + (std::string(mode) == "free" ? "a" : "b") +
            ": exact-match accuracy per variant, " + mode +
            " decoding, with 95% Wilson confidence intervals.")));
  }
  if (in.evals.empty()) {
    std::vector<std::string> labels;
    std::vector<double> acc;
    std::vector<Interval> ci;
    for (const VariantResult& v : in.bench.variants) {
      labels.push_back(v.name);
      acc.push_back(v.accuracy);
      ci.push_back(v.ci95);
    }
    CARTLM_RETURN_IF_ERROR(add(accuracy_chart(
        "fig1_accuracy", "Exact match per variant", labels, acc, ci,
        "Figure 1: exact-match accuracy per variant (the benchmark's decoding), with 95% Wilson "
        "confidence intervals.")));
  }
  int hl = rec.fastest_within;
  CARTLM_RETURN_IF_ERROR(add(metric_chart(in, "memory", "peak_rss_bytes", "Peak memory (VmHWM)",
                                          "peak RSS (MiB)", kMiB,
                                          "Peak resident memory of a fresh process that loads the "
                                          "model and runs the benchmark; bars = median, whiskers = "
                                          "min–max over repetitions.",
                                          rec.smallest_within)));
  CARTLM_RETURN_IF_ERROR(add(metric_chart(in, "model_size", "model_bytes", "Model size on disk",
                                          "MiB", kMiB, "Size of the model file or directory.", -1)));
  CARTLM_RETURN_IF_ERROR(add(metric_chart(in, "decode_speed", "decode_tps", "Decode speed",
                                          "tokens/s", 1,
                                          "Single-token decode steps per second after a 64-token "
                                          "prompt (median, min–max).",
                                          -1)));
  CARTLM_RETURN_IF_ERROR(add(metric_chart(in, "prefill_speed", "prefill_tps", "Prefill speed",
                                          "tokens/s", 1, "Prompt tokens per second (64-token prompt).",
                                          -1)));
  CARTLM_RETURN_IF_ERROR(add(metric_chart(in, "intents_per_s", "intents_per_s",
                                          "Intent throughput", "intents/s", 1,
                                          "End-to-end intents per second on the evaluation set "
                                          "(one session, sequential requests).",
                                          hl)));
  CARTLM_RETURN_IF_ERROR(add(metric_chart(in, "load_time", "load_s", "Load time", "seconds", 1,
                                          "Time to load the model in a fresh process.", -1)));
  CARTLM_RETURN_IF_ERROR(add(metric_chart(in, "energy", "energy_j_per_token", "Energy per token",
                                          "joules", 1,
                                          "Package energy (RAPL) per decoded token; includes "
                                          "everything else the CPU package did meanwhile.",
                                          -1)));
  CARTLM_RETURN_IF_ERROR(add(pareto_chart(pts, rec.memory_front, true, rec.best_accuracy)));
  CARTLM_RETURN_IF_ERROR(add(pareto_chart(pts, rec.speed_front, false, rec.best_accuracy)));

  ReportFiles files;
  std::string chart_dir = join_path(dir, "charts");
  CARTLM_RETURN_IF_ERROR(ensure_dir(chart_dir));
  for (const Chart& c : charts) {
    std::string p = join_path(chart_dir, c.name + ".png");
    CARTLM_RETURN_IF_ERROR(write_file_atomic(p, c.png));
    files.charts.push_back(p);
  }

  bool energy_any = false;
  std::string energy_note;
  for (const VariantResult& v : in.bench.variants) {
    energy_any = energy_any || std::isfinite(v.median("energy_j_per_token"));
    if (energy_note.empty()) energy_note = v.energy_note;
  }
  Table vt = variant_table(in), et = eval_table(in);
  std::vector<std::string> recs = recommendation_lines(pts, rec);
  std::string method = strformat(
      "Each variant ran %d time(s) in a fresh process (`cartlm bench-worker`); numbers are the "
      "median with the min–max range in parentheses. Accuracy is exact match on %s with a 95%% "
      "Wilson interval. Memory is the peak resident set size (VmHWM) of that process. Speed: a "
      "64-token prompt (prefill) and 32 single-token decode steps; intent latency and intents/s "
      "over the evaluation examples.",
      in.bench.reps, in.bench.data.empty() ? "the evaluation set" : ("`" + in.bench.data + "`").c_str());
  std::string energy_line = energy_any
      ? "Energy comes from the RAPL powercap counters (whole CPU package, wrap-around corrected)."
      : "Energy: " + (energy_note.empty() ? std::string("not available") : energy_note) +
            " — no energy numbers are reported.";

  // Markdown.
  std::string md = "# " + in.title + "\n\n";
  for (const auto& n : in.notes) md += n + "  \n";
  if (!in.notes.empty()) md += "\n";
  md += "## Recommendation\n\n";
  for (const auto& l : recs) md += l + "\n";
  md += "\n## Results\n\n" + table_md(vt) + "\n";
  if (!et.rows.empty()) md += "### Accuracy by decoding mode\n\n" + table_md(et) + "\n";
  md += method + "\n\n" + energy_line + "\n\n## Charts\n\n";
  for (const Chart& c : charts)
    md += "![" + c.name + "](charts/" + c.name + ".png)\n\n*" + c.caption + "*\n\n";

  // HTML: the same content, charts inline so the file stands alone.
  std::string html =
      "<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>" + html_escape(in.title) +
      "</title>\n<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222;"
      "padding:0 1em}table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px "
      "solid #ccc;padding:4px 8px;text-align:right}td.l,th:first-child{text-align:left}"
      "th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee}figure{margin:1.5em 0}"
      "figcaption{color:#555;font-size:14px}</style></head><body>\n<h1>" +
      html_escape(in.title) + "</h1>\n";
  for (const auto& n : in.notes) html += "<p>" + html_escape(n) + "</p>\n";
  html += "<h2>Recommendation</h2>\n<ul>\n";
  for (std::string l : recs) {
    if (starts_with(l, "- ")) l = l.substr(2);
    std::string e = html_escape(l);
    // **bold** -> <b>bold</b>
    std::string out;
    bool open = false;
    for (size_t i = 0; i < e.size(); ++i) {
      if (e.compare(i, 2, "**") == 0) {
        out += open ? "</b>" : "<b>";
        open = !open;
        ++i;
      } else {
        out += e[i];
      }
    }
    html += "<li>" + out + "</li>\n";
  }
  html += "</ul>\n<h2>Results</h2>\n" + table_html(vt);
  if (!et.rows.empty()) html += "<h3>Accuracy by decoding mode</h3>\n" + table_html(et);
  html += "<p>" + html_escape(replace_all(method, "`", "")) + "</p>\n<p>" +
          html_escape(energy_line) + "</p>\n<h2>Charts</h2>\n";
  for (const Chart& c : charts)
    html += "<figure><img alt=\"" + html_escape(c.name) + "\" src=\"data:image/png;base64," +
            base64_encode(c.png) + "\"><figcaption>" + html_escape(c.caption) +
            "</figcaption></figure>\n";
  html += "</body></html>\n";

  files.markdown = join_path(dir, "report.md");
  files.html = join_path(dir, "report.html");
  CARTLM_RETURN_IF_ERROR(write_file_atomic(files.markdown, md));
  CARTLM_RETURN_IF_ERROR(write_file_atomic(files.html, html));
  return files;
}

}  // namespace cartlm
