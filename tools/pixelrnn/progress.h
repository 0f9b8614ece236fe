// tools/pixelrnn/progress.h: training progress on stderr.
//
// On a terminal: one line redrawn in place (a bar, step, epoch, loss, images/s, ETA), at most ~10 times a
// second. Otherwise (a log file, a pipe): a plain line every `every` steps. message() prints a whole line
// (clearing the bar first) so that epoch summaries and warnings do not mix with the bar.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace pixelrnn::tool {

struct StepInfo {
  int64_t step = 0, total_steps = -1;  // total -1: unknown
  int64_t epoch = 0;                   // 1-based epoch the step belongs to
  double loss = 0;                     // nats per image
  double bits_per_dim = 0;
  double images_per_s = 0;
  double eta_s = -1;                   // -1: unknown
};

class Progress {
 public:
  // tty: draw a bar (usually isatty(2)); every: steps between plain lines (>= 1).
  Progress(bool tty, int64_t every);
  void step(const StepInfo& s);
  void message(const std::string& line);
  // Ends the bar line (if any).
  void finish();

 private:
  void clear();
  bool tty_;
  int64_t every_;
  bool bar_shown_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

// "1h02m", "3m05s", "12s".
std::string fmt_duration(double seconds);

}  // namespace pixelrnn::tool
