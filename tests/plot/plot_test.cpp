#include "plot/plot.h"

#include <cairo.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>

#include "core/file_io.h"
#include "temp_dir.h"

namespace cartlm {
namespace {

struct Reader {
  const std::string* bytes;
  size_t pos = 0;
};
cairo_status_t read_bytes(void* closure, unsigned char* data, unsigned int length) {
  auto* r = static_cast<Reader*>(closure);
  if (r->pos + length > r->bytes->size()) return CAIRO_STATUS_READ_ERROR;
  std::memcpy(data, r->bytes->data() + r->pos, length);
  r->pos += length;
  return CAIRO_STATUS_SUCCESS;
}

// Decodes PNG bytes and counts pixels in [x0,x1)x[y0,y1) that are not white.
struct Decoded {
  int width = 0, height = 0;
  long non_white = 0;
  long colored = 0;  // pixels where the channels differ clearly (not grey/black text)
};
Decoded decode(const std::string& png, double fx0, double fy0, double fx1, double fy1) {
  Reader r{&png};
  cairo_surface_t* s = cairo_image_surface_create_from_png_stream(read_bytes, &r);
  Decoded d;
  EXPECT_EQ(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
  if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) return d;
  cairo_surface_flush(s);
  d.width = cairo_image_surface_get_width(s);
  d.height = cairo_image_surface_get_height(s);
  int stride = cairo_image_surface_get_stride(s);
  const unsigned char* px = cairo_image_surface_get_data(s);
  for (int y = int(fy0 * d.height); y < int(fy1 * d.height); ++y) {
    for (int x = int(fx0 * d.width); x < int(fx1 * d.width); ++x) {
      uint32_t v;
      std::memcpy(&v, px + y * stride + x * 4, 4);
      int b = v & 255, g = (v >> 8) & 255, rr = (v >> 16) & 255;
      if (rr < 245 || g < 245 || b < 245) ++d.non_white;
      if (std::max({rr, g, b}) - std::min({rr, g, b}) > 60) ++d.colored;
    }
  }
  cairo_surface_destroy(s);
  return d;
}

bool is_png(const std::string& b) { return b.size() > 8 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0; }

// One directory for the whole test binary, removed at exit.
std::string temp_dir() {
  static ScopedTempDir dir("cartlm_plot_test");
  return dir.path;
}

TEST(Plot, LineChartPngHasCurveInPlotArea) {
  Series s{"loss", {}, {}, {}, {}};
  for (int i = 0; i < 50; ++i) {
    s.x.push_back(i);
    s.y.push_back(3.0 * std::exp(-i / 10.0) + 0.2);
  }
  ChartSpec spec{"Training loss", "step", "loss"};
  auto png = render_line_chart(ImageFormat::kPng, spec, {s});
  ASSERT_TRUE(png.ok()) << png.message();
  ASSERT_TRUE(is_png(*png));
  Decoded d = decode(*png, 0.15, 0.15, 0.9, 0.85);
  EXPECT_EQ(d.width, 900);
  EXPECT_EQ(d.height, 540);
  EXPECT_GT(d.colored, 200) << "the blue curve should cover a few hundred pixels";

  // A flat line elsewhere colours different pixels: the drawing depends on the data.
  Series flat{"flat", {0, 49}, {1, 1}, {}, {}};
  auto png2 = render_line_chart(ImageFormat::kPng, spec, {flat});
  ASSERT_TRUE(png2.ok());
  EXPECT_NE(*png, *png2);
}

TEST(Plot, EmptyChartAreaIsBlankWithoutData) {
  // Sanity check of the pixel probe itself: a chart whose only series is a single point has
  // almost no coloured pixels, so the probe above can fail.
  Series one{"", {1}, {1}, {}, {}};
  auto png = render_line_chart(ImageFormat::kPng, ChartSpec{"t", "x", "y"}, {one});
  ASSERT_TRUE(png.ok()) << png.message();
  Decoded d = decode(*png, 0.15, 0.15, 0.9, 0.85);
  EXPECT_LT(d.colored, 100);
}

TEST(Plot, FilesAreWrittenAsPngAndSvg) {
  std::string dir = temp_dir();
  Series s{"a", {1, 2, 3}, {0.5, 0.7, 0.9}, {0.4, 0.6, 0.85}, {0.6, 0.8, 0.95}};
  ChartSpec spec{"Accuracy", "x", "acc"};
  ASSERT_TRUE(plot_line_chart_png(dir + "/a.png", spec, {s}).ok());
  ASSERT_TRUE(plot_line_chart_svg(dir + "/a.svg", spec, {s}).ok());
  auto png = read_file(dir + "/a.png");
  auto svg = read_file(dir + "/a.svg");
  ASSERT_TRUE(png.ok() && svg.ok());
  EXPECT_TRUE(is_png(*png));
  EXPECT_NE(svg->find("<svg"), std::string::npos);
  EXPECT_NE(svg->find("</svg>"), std::string::npos);
  // No temp files left behind.
  EXPECT_FALSE(file_exists(dir + "/a.png.tmp." + std::to_string(::getpid())));
}

TEST(Plot, BarChartHighlightUsesAccentColour) {
  BarData bars;
  bars.labels = {"F16", "Q8_0", "Q4_K_M"};
  bars.values = {95.0, 94.5, 90.0};
  bars.err_lo = {93.0, 92.5, 87.0};
  bars.err_hi = {96.5, 96.0, 92.5};
  bars.y_from_zero = false;
  ChartSpec spec{"Exact match", "variant", "accuracy (%)"};
  auto plain = render_bar_chart(ImageFormat::kPng, spec, bars);
  ASSERT_TRUE(plain.ok()) << plain.message();
  Decoded d = decode(*plain, 0.1, 0.1, 0.97, 0.88);
  EXPECT_GT(d.colored, 5000) << "three filled bars";
  bars.highlight = {false, true, false};
  auto hl = render_bar_chart(ImageFormat::kPng, spec, bars);
  ASSERT_TRUE(hl.ok());
  EXPECT_NE(*plain, *hl);
  std::string dir = temp_dir();
  ASSERT_TRUE(plot_bar_chart_png(dir + "/b.png", spec, bars).ok());
  ASSERT_TRUE(plot_bar_chart_svg(dir + "/b.svg", spec, bars).ok());
}

TEST(Plot, ScatterWithFrontier) {
  ScatterData data;
  data.points = {{"F16", 250, 0.95, false, false},
                 {"Q8_0", 140, 0.95, false, true},
                 {"Q3_K_M", 60, 0.80, false, false},
                 {"Q5_K_M", 150, 0.90, true, false}};
  data.frontier_x = {60, 140};
  data.frontier_y = {0.80, 0.95};
  ChartSpec spec{"Accuracy vs memory", "peak RSS (MiB)", "accuracy"};
  spec.log_x = true;
  auto png = render_scatter_chart(ImageFormat::kPng, spec, data);
  ASSERT_TRUE(png.ok()) << png.message();
  EXPECT_GT(decode(*png, 0.1, 0.1, 0.97, 0.88).colored, 150);
  auto svg = render_scatter_chart(ImageFormat::kSvg, spec, data);
  ASSERT_TRUE(svg.ok());
  EXPECT_NE(svg->find("<svg"), std::string::npos);
}

TEST(Plot, BadInputReturnsStatus) {
  ChartSpec spec{"t", "x", "y"};
  EXPECT_FALSE(render_line_chart(ImageFormat::kPng, spec, {}).ok());
  auto r = render_line_chart(ImageFormat::kPng, spec, {Series{"s", {1, 2}, {1}, {}, {}}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("series 's'"), std::string::npos) << r.message();
  r = render_line_chart(ImageFormat::kPng, spec, {Series{"s", {1, 2}, {1, NAN}, {}, {}}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("y[1]"), std::string::npos) << r.message();
  spec.log_y = true;
  r = render_line_chart(ImageFormat::kPng, spec, {Series{"s", {1, 2}, {1, 0}, {}, {}}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("log axis"), std::string::npos) << r.message();
  BarData bars;
  bars.labels = {"a", "b"};
  bars.values = {1};
  EXPECT_FALSE(render_bar_chart(ImageFormat::kSvg, spec, bars).ok());
  ChartSpec tiny{"t", "x", "y", 10, 10};
  EXPECT_FALSE(render_line_chart(ImageFormat::kPng, tiny, {Series{"s", {1}, {1}, {}, {}}}).ok());
  EXPECT_FALSE(plot_line_chart_png("/nonexistent-dir/x.png", ChartSpec{"t", "x", "y"},
                                   {Series{"s", {1}, {1}, {}, {}}})
                   .ok());
}

TEST(Plot, Base64) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xff\x00\x10", 3)), "/wAQ");
}

}  // namespace
}  // namespace cartlm
