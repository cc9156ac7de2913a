#include "plot/plot.h"

#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "core/file_io.h"
#include "core/strings.h"

namespace cartlm {
namespace {

struct Rgb {
  double r, g, b;
};
// Colour-blind-friendly palette (Okabe-Ito), in a fixed order so a variant keeps its colour.
const Rgb kPalette[] = {{0.00, 0.45, 0.70}, {0.90, 0.62, 0.00}, {0.00, 0.62, 0.45},
                        {0.80, 0.47, 0.65}, {0.34, 0.71, 0.91}, {0.84, 0.37, 0.00},
                        {0.94, 0.89, 0.26}, {0.30, 0.30, 0.30}};
const Rgb kAccent = {0.84, 0.15, 0.16};
const Rgb kGrey = {0.55, 0.55, 0.55};
const Rgb kGrid = {0.90, 0.90, 0.90};
const Rgb kText = {0.10, 0.10, 0.10};

Rgb palette(size_t i) { return kPalette[i % (sizeof kPalette / sizeof kPalette[0])]; }
void set_rgb(cairo_t* cr, Rgb c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

// A data axis mapped onto a pixel range [p0, p1] (p1 < p0 for the y axis, which grows upward).
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  double p0 = 0, p1 = 1;
  double to_px(double v) const {
    double a = log ? std::log10(lo) : lo, b = log ? std::log10(hi) : hi;
    double t = ((log ? std::log10(v) : v) - a) / (b - a);
    return p0 + t * (p1 - p0);
  }
};

// Widens [lo, hi] so a flat or single-point range still gives a usable axis, then pads by 5%.
void pad_range(double& lo, double& hi, bool log) {
  if (log) {
    if (hi <= lo) {
      lo /= 2;
      hi *= 2;
    }
    double f = std::pow(hi / lo, 0.05);
    lo /= f;
    hi *= f;
    return;
  }
  if (hi <= lo) {
    double d = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
  double pad = (hi - lo) * 0.05;
  lo -= pad;
  hi += pad;
}

// About `target` round tick values (1, 2, 5 x 10^k steps) inside [lo, hi].
std::vector<double> linear_ticks(double lo, double hi, int target) {
  double raw = (hi - lo) / std::max(1, target);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> ticks;
  int e0 = static_cast<int>(std::floor(std::log10(lo))), e1 = static_cast<int>(std::ceil(std::log10(hi)));
  bool few_decades = e1 - e0 <= 2;
  for (int e = e0; e <= e1; ++e) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (m != 1.0 && !few_decades) continue;
      double t = m * std::pow(10.0, e);
      if (t >= lo && t <= hi) ticks.push_back(t);
    }
  }
  return ticks;
}

std::vector<double> axis_ticks(const Axis& a) {
  return a.log ? log_ticks(a.lo, a.hi) : linear_ticks(a.lo, a.hi, 6);
}

std::string tick_label(double v) {
  double av = std::fabs(v);
  if (av != 0 && (av >= 1e6 || av < 1e-3)) return strformat("%.1e", v);
  return strformat("%g", std::round(v * 1e6) / 1e6);
}

void text_at(cairo_t* cr, const std::string& s, double x, double y, double size, double align_x,
             double align_y, bool bold = false, double angle = 0) {
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_text_extents_t ext;
  cairo_text_extents(cr, s.c_str(), &ext);
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle);
  // align 0 = left/top, 0.5 = centre, 1 = right/bottom (relative to the text's ink box).
  cairo_move_to(cr, -ext.x_bearing - ext.width * align_x, -ext.y_bearing - ext.height * align_y);
  cairo_show_text(cr, s.c_str());
  cairo_restore(cr);
}

double text_width(cairo_t* cr, const std::string& s, double size) {
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_text_extents_t ext;
  cairo_text_extents(cr, s.c_str(), &ext);
  return ext.x_advance;
}

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

// Creates the surface, lets `draw` paint on it, and returns the encoded PNG or SVG bytes.
Result<std::string> render(ImageFormat format, const ChartSpec& spec,
                           const std::function<void(cairo_t*)>& draw) {
  if (spec.width < 200 || spec.height < 150 || spec.width > 8000 || spec.height > 8000)
    return error(strformat("chart '%s': size %dx%d is outside 200x150 .. 8000x8000",
                           spec.title.c_str(), spec.width, spec.height));
  std::string out;
  cairo_surface_t* surface =
      format == ImageFormat::kPng
          ? cairo_image_surface_create(CAIRO_FORMAT_ARGB32, spec.width, spec.height)
          : cairo_svg_surface_create_for_stream(append_bytes, &out, spec.width, spec.height);
  if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
    std::string why = cairo_status_to_string(cairo_surface_status(surface));
    cairo_surface_destroy(surface);
    return error("chart '" + spec.title + "': cannot create surface: " + why);
  }
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  draw(cr);
  cairo_status_t st = cairo_status(cr);
  cairo_destroy(cr);
  if (st == CAIRO_STATUS_SUCCESS && format == ImageFormat::kPng)
    st = cairo_surface_write_to_png_stream(surface, append_bytes, &out);
  cairo_surface_finish(surface);  // flushes the SVG stream
  if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(surface);
  cairo_surface_destroy(surface);
  if (st != CAIRO_STATUS_SUCCESS)
    return error("chart '" + spec.title + "': cairo: " + cairo_status_to_string(st));
  return out;
}

// Plot-area frame: margins, title, axis labels, grid, ticks. Returns the plot rectangle through
// the axes' pixel ranges.
struct Frame {
  double left = 80, right = 24, top = 48, bottom = 64;
};

void draw_frame(cairo_t* cr, const ChartSpec& spec, const Frame& f, Axis& xa, Axis& ya,
                bool x_ticks) {
  xa.p0 = f.left;
  xa.p1 = spec.width - f.right;
  ya.p0 = spec.height - f.bottom;
  ya.p1 = f.top;
  set_rgb(cr, kText);
  text_at(cr, spec.title, spec.width / 2.0, 14, 17, 0.5, 0, true);
  text_at(cr, spec.y_label, 16, (ya.p0 + ya.p1) / 2, 13, 0.5, 0, false, -M_PI / 2);
  text_at(cr, spec.x_label, (xa.p0 + xa.p1) / 2, spec.height - 8, 13, 0.5, 1);
  cairo_set_line_width(cr, 1);
  for (double t : axis_ticks(ya)) {
    double py = ya.to_px(t);
    set_rgb(cr, kGrid);
    cairo_move_to(cr, xa.p0, py);
    cairo_line_to(cr, xa.p1, py);
    cairo_stroke(cr);
    set_rgb(cr, kText);
    text_at(cr, tick_label(t), xa.p0 - 6, py, 11, 1, 0.5);
  }
  if (x_ticks) {
    for (double t : axis_ticks(xa)) {
      double px = xa.to_px(t);
      set_rgb(cr, kGrid);
      cairo_move_to(cr, px, ya.p0);
      cairo_line_to(cr, px, ya.p1);
      cairo_stroke(cr);
      set_rgb(cr, kText);
      text_at(cr, tick_label(t), px, ya.p0 + 6, 11, 0.5, 0);
    }
  }
  set_rgb(cr, kText);
  cairo_rectangle(cr, xa.p0, ya.p1, xa.p1 - xa.p0, ya.p0 - ya.p1);
  cairo_stroke(cr);
}

// A rectangle in pixels that the legend should not cover (a data point and its label).
struct PxBox {
  double x0, y0, x1, y1;
};

// The legend goes into the corner of the plot area where it covers the least of `avoid`
// (top right first on ties), so it never hides a point that has a free corner to go to.
void draw_legend(cairo_t* cr, const std::vector<std::pair<std::string, Rgb>>& entries,
                 const Axis& xa, const Axis& ya, const std::vector<PxBox>& avoid) {
  if (entries.empty()) return;
  double w = 0;
  for (const auto& e : entries) w = std::max(w, text_width(cr, e.first, 11));
  double box_w = w + 34, box_h = 18.0 * entries.size() + 8;
  const double left = xa.p0 + 8, right = xa.p1 - box_w - 8;
  const double top = ya.p1 + 8, bottom = ya.p0 - box_h - 8;
  const double corners[4][2] = {{right, top}, {left, top}, {right, bottom}, {left, bottom}};
  double x0 = right, y0 = top, best = INFINITY;
  for (const auto& c : corners) {
    double covered = 0;
    for (const PxBox& b : avoid) {
      double ox = std::min(c[0] + box_w, b.x1) - std::max(c[0], b.x0);
      double oy = std::min(c[1] + box_h, b.y1) - std::max(c[1], b.y0);
      if (ox > 0 && oy > 0) covered += ox * oy;
    }
    if (covered < best) {
      best = covered;
      x0 = c[0];
      y0 = c[1];
    }
  }
  cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
  cairo_rectangle(cr, x0, y0, box_w, box_h);
  cairo_fill_preserve(cr);
  set_rgb(cr, kGrey);
  cairo_set_line_width(cr, 0.8);
  cairo_stroke(cr);
  for (size_t i = 0; i < entries.size(); ++i) {
    double y = y0 + 13 + 18.0 * i;
    set_rgb(cr, entries[i].second);
    cairo_set_line_width(cr, 2.5);
    cairo_move_to(cr, x0 + 6, y);
    cairo_line_to(cr, x0 + 24, y);
    cairo_stroke(cr);
    set_rgb(cr, kText);
    text_at(cr, entries[i].first, x0 + 28, y, 11, 0, 0.5);
  }
}

Status check_value(double v, bool log, const std::string& what, size_t i) {
  if (!std::isfinite(v)) return error(strformat("%s[%zu] is not a finite number", what.c_str(), i));
  if (log && v <= 0)
    return error(strformat("%s[%zu] = %g cannot be drawn on a log axis (must be > 0)", what.c_str(),
                           i, v));
  return {};
}

void draw_error_bar(cairo_t* cr, double px, double py_lo, double py_hi, double half) {
  cairo_move_to(cr, px, py_lo);
  cairo_line_to(cr, px, py_hi);
  cairo_move_to(cr, px - half, py_lo);
  cairo_line_to(cr, px + half, py_lo);
  cairo_move_to(cr, px - half, py_hi);
  cairo_line_to(cr, px + half, py_hi);
  cairo_stroke(cr);
}

Status write_rendered(const std::string& path, const Result<std::string>& bytes) {
  if (!bytes.ok()) return bytes.status();
  return write_file_atomic(path, *bytes);
}

}  // namespace

Result<std::string> render_line_chart(ImageFormat format, const ChartSpec& spec,
                                      const std::vector<Series>& series) {
  if (series.empty()) return error("chart '" + spec.title + "': no series to draw");
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (const Series& s : series) {
    std::string name = "chart '" + spec.title + "' series '" + s.name + "'";
    if (s.x.size() != s.y.size())
      return error(strformat("%s: %zu x values but %zu y values", name.c_str(), s.x.size(),
                             s.y.size()));
    if (s.x.empty()) return error(name + ": no points");
    bool has_err = !s.err_lo.empty() || !s.err_hi.empty();
    if (has_err && (s.err_lo.size() != s.y.size() || s.err_hi.size() != s.y.size()))
      return error(name + ": err_lo/err_hi need one entry per point");
    for (size_t i = 0; i < s.x.size(); ++i) {
      CARTLM_RETURN_IF_ERROR(check_value(s.x[i], spec.log_x, name + " x", i));
      CARTLM_RETURN_IF_ERROR(check_value(s.y[i], spec.log_y, name + " y", i));
      xlo = std::min(xlo, s.x[i]);
      xhi = std::max(xhi, s.x[i]);
      ylo = std::min(ylo, s.y[i]);
      yhi = std::max(yhi, s.y[i]);
      if (has_err) {
        CARTLM_RETURN_IF_ERROR(check_value(s.err_lo[i], spec.log_y, name + " err_lo", i));
        CARTLM_RETURN_IF_ERROR(check_value(s.err_hi[i], spec.log_y, name + " err_hi", i));
        ylo = std::min(ylo, s.err_lo[i]);
        yhi = std::max(yhi, s.err_hi[i]);
      }
    }
  }
  pad_range(xlo, xhi, spec.log_x);
  pad_range(ylo, yhi, spec.log_y);
  return render(format, spec, [&](cairo_t* cr) {
    Axis xa{xlo, xhi, spec.log_x}, ya{ylo, yhi, spec.log_y};
    draw_frame(cr, spec, Frame{}, xa, ya, true);
    cairo_save(cr);
    cairo_rectangle(cr, xa.p0, ya.p1, xa.p1 - xa.p0, ya.p0 - ya.p1);
    cairo_clip(cr);
    std::vector<std::pair<std::string, Rgb>> legend;
    std::vector<PxBox> avoid;
    for (size_t k = 0; k < series.size(); ++k) {
      const Series& s = series[k];
      for (size_t i = 0; i < s.x.size(); ++i) {
        double px = xa.to_px(s.x[i]), py = ya.to_px(s.y[i]);
        avoid.push_back({px - 4, py - 4, px + 4, py + 4});
      }
      Rgb c = palette(k);
      set_rgb(cr, c);
      cairo_set_line_width(cr, 2);
      cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
      for (size_t i = 0; i < s.x.size(); ++i) {
        double px = xa.to_px(s.x[i]), py = ya.to_px(s.y[i]);
        if (i == 0) cairo_move_to(cr, px, py);
        else cairo_line_to(cr, px, py);
      }
      if (s.x.size() == 1) cairo_arc(cr, xa.to_px(s.x[0]), ya.to_px(s.y[0]), 3, 0, 2 * M_PI);
      cairo_stroke(cr);
      if (!s.err_lo.empty()) {
        cairo_set_line_width(cr, 1.2);
        for (size_t i = 0; i < s.x.size(); ++i)
          draw_error_bar(cr, xa.to_px(s.x[i]), ya.to_px(s.err_lo[i]), ya.to_px(s.err_hi[i]), 4);
      }
      if (!s.name.empty()) legend.push_back({s.name, c});
    }
    cairo_restore(cr);
    draw_legend(cr, legend, xa, ya, avoid);
  });
}

Result<std::string> render_bar_chart(ImageFormat format, const ChartSpec& spec,
                                     const BarData& bars) {
  std::string name = "bar chart '" + spec.title + "'";
  size_t n = bars.labels.size();
  if (n == 0) return error(name + ": no bars to draw");
  if (bars.values.size() != n)
    return error(strformat("%s: %zu labels but %zu values", name.c_str(), n, bars.values.size()));
  bool has_err = !bars.err_lo.empty() || !bars.err_hi.empty();
  if (has_err && (bars.err_lo.size() != n || bars.err_hi.size() != n))
    return error(name + ": err_lo/err_hi need one entry per bar");
  if (!bars.highlight.empty() && bars.highlight.size() != n)
    return error(name + ": highlight needs one entry per bar");
  double ylo = INFINITY, yhi = -INFINITY;
  for (size_t i = 0; i < n; ++i) {
    CARTLM_RETURN_IF_ERROR(check_value(bars.values[i], spec.log_y, name + " value", i));
    ylo = std::min(ylo, bars.values[i]);
    yhi = std::max(yhi, bars.values[i]);
    if (has_err) {
      CARTLM_RETURN_IF_ERROR(check_value(bars.err_lo[i], spec.log_y, name + " err_lo", i));
      CARTLM_RETURN_IF_ERROR(check_value(bars.err_hi[i], spec.log_y, name + " err_hi", i));
      ylo = std::min(ylo, bars.err_lo[i]);
      yhi = std::max(yhi, bars.err_hi[i]);
    }
  }
  pad_range(ylo, yhi, spec.log_y);
  if (bars.y_from_zero && !spec.log_y) {
    ylo = std::min(0.0, ylo);
    if (yhi < 0) yhi = 0;
  }
  return render(format, spec, [&](cairo_t* cr) {
    Frame f;
    // Long labels are drawn slanted; reserve room for them below the axis.
    double max_label = 0;
    for (const auto& l : bars.labels) max_label = std::max(max_label, text_width(cr, l, 11));
    double slot = (spec.width - f.left - f.right) / static_cast<double>(n);
    bool slant = max_label > slot - 6;
    if (slant) f.bottom = std::min(spec.height * 0.4, 40 + max_label * 0.6);
    Axis xa{0, 1, false}, ya{ylo, yhi, spec.log_y};
    draw_frame(cr, spec, f, xa, ya, false);
    double base = ya.to_px(spec.log_y ? ya.lo : std::max(ylo, std::min(0.0, yhi)));
    for (size_t i = 0; i < n; ++i) {
      double cx = xa.p0 + slot * (i + 0.5), bw = slot * 0.62;
      double top = ya.to_px(bars.values[i]);
      bool hi = !bars.highlight.empty() && bars.highlight[i];
      set_rgb(cr, hi ? kAccent : palette(0));
      cairo_rectangle(cr, cx - bw / 2, std::min(top, base), bw, std::fabs(base - top));
      cairo_fill(cr);
      if (has_err) {
        set_rgb(cr, kText);
        cairo_set_line_width(cr, 1.3);
        draw_error_bar(cr, cx, ya.to_px(bars.err_lo[i]), ya.to_px(bars.err_hi[i]),
                       std::min(8.0, bw / 4));
      }
      set_rgb(cr, kText);
      if (!bars.value_format.empty()) {
        double label_y = has_err ? std::min(top, ya.to_px(bars.err_hi[i])) : top;
        text_at(cr, strformat(bars.value_format.c_str(), bars.values[i]), cx, label_y - 4, 10,
                0.5, 1);
      }
      if (slant)
        text_at(cr, bars.labels[i], cx + 4, ya.p0 + 8, 11, 1, 0, false, -M_PI / 6);
      else
        text_at(cr, bars.labels[i], cx, ya.p0 + 6, 11, 0.5, 0);
    }
  });
}

Result<std::string> render_scatter_chart(ImageFormat format, const ChartSpec& spec,
                                         const ScatterData& data) {
  std::string name = "scatter '" + spec.title + "'";
  if (data.points.empty()) return error(name + ": no points to draw");
  if (data.frontier_x.size() != data.frontier_y.size())
    return error(name + ": frontier_x and frontier_y differ in length");
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (size_t i = 0; i < data.points.size(); ++i) {
    const ScatterPoint& p = data.points[i];
    CARTLM_RETURN_IF_ERROR(check_value(p.x, spec.log_x, name + " x", i));
    CARTLM_RETURN_IF_ERROR(check_value(p.y, spec.log_y, name + " y", i));
    xlo = std::min(xlo, p.x);
    xhi = std::max(xhi, p.x);
    ylo = std::min(ylo, p.y);
    yhi = std::max(yhi, p.y);
  }
  for (size_t i = 0; i < data.frontier_x.size(); ++i) {
    CARTLM_RETURN_IF_ERROR(check_value(data.frontier_x[i], spec.log_x, name + " frontier x", i));
    CARTLM_RETURN_IF_ERROR(check_value(data.frontier_y[i], spec.log_y, name + " frontier y", i));
  }
  pad_range(xlo, xhi, spec.log_x);
  pad_range(ylo, yhi, spec.log_y);
  // Extra room on the right for point labels.
  if (!spec.log_x) xhi += (xhi - xlo) * 0.08;
  else xhi *= std::pow(xhi / xlo, 0.08);
  return render(format, spec, [&](cairo_t* cr) {
    Axis xa{xlo, xhi, spec.log_x}, ya{ylo, yhi, spec.log_y};
    draw_frame(cr, spec, Frame{}, xa, ya, true);
    std::vector<std::pair<std::string, Rgb>> legend;
    if (data.frontier_x.size() >= 2) {
      set_rgb(cr, kAccent);
      cairo_set_line_width(cr, 1.8);
      double dash[] = {6, 4};
      cairo_set_dash(cr, dash, 2, 0);
      for (size_t i = 0; i < data.frontier_x.size(); ++i) {
        double px = xa.to_px(data.frontier_x[i]), py = ya.to_px(data.frontier_y[i]);
        if (i == 0) {
          cairo_move_to(cr, px, py);
        } else {
          double prev_py = ya.to_px(data.frontier_y[i - 1]);
          cairo_line_to(cr, px, prev_py);  // step: move along x first, then up/down
          cairo_line_to(cr, px, py);
        }
      }
      cairo_stroke(cr);
      cairo_set_dash(cr, nullptr, 0, 0);
      legend.push_back({data.frontier_name, kAccent});
    }
    bool any_dominated = false;
    std::vector<PxBox> avoid;
    for (const ScatterPoint& p : data.points) {
      double px = xa.to_px(p.x), py = ya.to_px(p.y);
      avoid.push_back({px - 8, py - 8, px + 12 + text_width(cr, p.label, 11), py + 8});
      cairo_new_path(cr);
      cairo_arc(cr, px, py, p.highlight ? 7 : 5.5, 0, 2 * M_PI);
      if (p.dominated) {
        any_dominated = true;
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_fill_preserve(cr);
        set_rgb(cr, kGrey);
        cairo_set_line_width(cr, 1.6);
        cairo_stroke(cr);
      } else {
        set_rgb(cr, p.highlight ? kAccent : palette(0));
        cairo_fill(cr);
      }
      set_rgb(cr, p.dominated ? kGrey : kText);
      text_at(cr, p.label, px + 9, py, 11, 0, 0.5);  // hollow marker + legend say "dominated"
    }
    legend.push_back({"variant", palette(0)});
    if (any_dominated) legend.push_back({"dominated variant (hollow)", kGrey});
    draw_legend(cr, legend, xa, ya, avoid);
  });
}

Status plot_line_chart_png(const std::string& path, const ChartSpec& spec,
                           const std::vector<Series>& series) {
  return write_rendered(path, render_line_chart(ImageFormat::kPng, spec, series));
}
Status plot_line_chart_svg(const std::string& path, const ChartSpec& spec,
                           const std::vector<Series>& series) {
  return write_rendered(path, render_line_chart(ImageFormat::kSvg, spec, series));
}
Status plot_bar_chart_png(const std::string& path, const ChartSpec& spec, const BarData& bars) {
  return write_rendered(path, render_bar_chart(ImageFormat::kPng, spec, bars));
}
Status plot_bar_chart_svg(const std::string& path, const ChartSpec& spec, const BarData& bars) {
  return write_rendered(path, render_bar_chart(ImageFormat::kSvg, spec, bars));
}
Status plot_scatter_png(const std::string& path, const ChartSpec& spec, const ScatterData& data) {
  return write_rendered(path, render_scatter_chart(ImageFormat::kPng, spec, data));
}
Status plot_scatter_svg(const std::string& path, const ChartSpec& spec, const ScatterData& data) {
  return write_rendered(path, render_scatter_chart(ImageFormat::kSvg, spec, data));
}

std::string base64_encode(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= uint8_t(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace cartlm
