// A one-line progress bar on stderr for long work: "label [#####.....] 512/2700 19% 3.1k/s ETA 4.2 s"
// On a terminal it redraws in place (at most 10 times a second); when stderr is not a terminal
// (CI logs, pipes) it prints a line at each 10% step so logs stay short.
#pragma once
#include <cstdint>
#include <string>

#include "core/timer.h"

namespace cartlm {

class ProgressBar {
 public:
  ProgressBar(std::string label, uint64_t total, bool enabled = true);
  ~ProgressBar();
  // Sets the number of finished units; `extra` is appended (e.g. "loss 1.23").
  void update(uint64_t done, const std::string& extra = "");
  void finish(const std::string& extra = "");

 private:
  void draw(bool final, const std::string& extra);
  std::string label_;
  uint64_t total_, done_ = 0;
  bool enabled_, tty_, finished_ = false;
  int last_decile_ = -1;
  double last_draw_ = -1;
  Timer timer_;
};

}  // namespace cartlm
