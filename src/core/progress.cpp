#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

#include "core/strings.h"

namespace cartlm {

ProgressBar::ProgressBar(std::string label, uint64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled), tty_(::isatty(2)) {}

ProgressBar::~ProgressBar() {
  if (!finished_ && enabled_ && tty_ && last_draw_ >= 0) std::fputc('\n', stderr);
}

void ProgressBar::update(uint64_t done, const std::string& extra) {
  done_ = done;
  if (!enabled_) return;
  double t = timer_.seconds();
  if (tty_) {
    if (last_draw_ >= 0 && t - last_draw_ < 0.1) return;
    last_draw_ = t;
    draw(false, extra);
  } else {
    int decile = total_ ? (int)(10 * done_ / total_) : 0;
    if (decile != last_decile_ && decile < 10) {
      last_decile_ = decile;
      draw(false, extra);
    }
  }
}

void ProgressBar::finish(const std::string& extra) {
  if (finished_) return;
  finished_ = true;
  done_ = total_;
  if (enabled_) draw(true, extra);
}

void ProgressBar::draw(bool final, const std::string& extra) {
  double t = timer_.seconds();
  double frac = total_ ? (double)done_ / total_ : 1.0;
  const int width = 24;
  int fill = (int)(frac * width);
  std::string bar(fill, '#');
  bar.append(width - fill, '.');
  double rate = t > 0 ? done_ / t : 0;
  std::string rate_s = rate >= 1000 ? strformat("%.1fk/s", rate / 1000) : strformat("%.1f/s", rate);
  std::string eta = final ? "in " + human_duration(t)
                          : (rate > 0 ? "ETA " + human_duration((total_ - done_) / rate) : "ETA ?");
  std::string line = strformat("%s [%s] %llu/%llu %3d%% %s %s", label_.c_str(), bar.c_str(),
                               (unsigned long long)done_, (unsigned long long)total_,
                               (int)(frac * 100), rate_s.c_str(), eta.c_str());
  if (!extra.empty()) line += "  " + extra;
  if (tty_)
    std::fprintf(stderr, "\r%s\033[K%s", line.c_str(), final ? "\n" : "");
  else
    std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace cartlm
