// tools/pixelrnn/progress.h: progress on stderr for every long wait: training steps (Progress) and any counted
// task (TaskProgress: validation, the epoch grid, sampling, completion, eval).
//
// On a terminal: one line redrawn in place (a bar when the total is known, counts, ETA), at most ~10 times a
// second. Otherwise (a log file, a pipe): plain lines, for training every --log-every steps, for a task every
// `every_s` seconds of it (the default 10 s: a task shorter than that prints nothing). --quiet prints none of it.
// message() prints a whole line (clearing the bar first) so that summaries and warnings do not mix with the bar.
// TaskProgress::update also polls SIGINT / SIGTERM (interrupt.h) and throws Interrupted, so every wait that
// reports progress can be interrupted within one update.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "tools/pixelrnn/flags.h"

namespace pixelrnn::tool {

struct ProgressStyle {
  bool tty = false;     // redraw one line in place (stderr is a terminal)
  bool quiet = false;   // print no progress and no informational lines (errors still go to stderr)
  double every_s = 10;  // seconds between plain task lines when not a terminal
};

// Declares --quiet (and the hidden testing aid --progress-every SECONDS) on f.
void add_progress_flags(Flags& f);
// The style from the flags: tty = isatty(2), quiet = --quiet, every_s = --progress-every (default 10).
ProgressStyle progress_style(const Flags& f);

struct StepInfo {
  int64_t step = 0, total_steps = -1;  // total -1: unknown
  int64_t epoch = 0;                   // 1-based epoch the step belongs to
  double loss = 0;                     // nats per image
  double bits_per_dim = 0;
  double images_per_s = 0;             // training only
  double eta_s = -1;                   // -1: unknown; includes validation and grids
};

class Progress {
 public:
  // every: steps between plain lines (>= 1).
  Progress(const ProgressStyle& style, int64_t every);
  void step(const StepInfo& s);
  // An informational line (silenced by --quiet).
  void message(const std::string& line);
  // A line printed even with --quiet (warnings).
  void warning(const std::string& line);
  // Ends the bar line (if any).
  void finish();
  const ProgressStyle& style() const { return style_; }

 private:
  void clear();
  ProgressStyle style_;
  int64_t every_;
  bool bar_shown_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

// Progress of one counted wait: "LABEL [bar] DONE/TOTAL UNIT, ELAPSED, ETA ...".
class TaskProgress {
 public:
  TaskProgress(const ProgressStyle& style, std::string label, std::string unit);
  ~TaskProgress();
  TaskProgress(const TaskProgress&) = delete;
  TaskProgress& operator=(const TaskProgress&) = delete;
  // Reports done of total (total > 0). throws: Interrupted when SIGINT / SIGTERM has arrived.
  // poll_signals false: no check_interrupt() (data-parallel work acts on signals at step boundaries only).
  void update(int64_t done, int64_t total, bool poll_signals = true);
  // Clears the bar (terminal) or prints a last line when any line was printed (otherwise).
  void finish();
  double elapsed_s() const;

 private:
  ProgressStyle style_;
  std::string label_, unit_;
  std::chrono::steady_clock::time_point start_, last_;
  bool shown_ = false, printed_ = false, finished_ = false;
  int64_t done_ = 0, total_ = 0;
};

// The ETA of a training run after `step` of `total_steps` (> 0) steps, epochs of per_epoch steps: the steps left
// at step_s seconds each, plus, for every epoch end still to come (steps that are multiples of per_epoch), a
// validation of val_s and a grid of grid_s seconds.
double training_eta(int64_t step, int64_t total_steps, int64_t per_epoch, double step_s, double val_s, double grid_s);

// "1h02m", "3m05s", "12s".
std::string fmt_duration(double seconds);

}  // namespace pixelrnn::tool
