// tools/pixelrnn/progress.cpp: the progress bar and plain progress lines (see progress.h).
#include "tools/pixelrnn/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tools/pixelrnn/interrupt.h"

namespace pixelrnn::tool {

using Clock = std::chrono::steady_clock;

std::string fmt_duration(double s) {
  if (!(s >= 0) || !std::isfinite(s)) return "?";
  const long t = long(std::lround(s));
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

double training_eta(int64_t step, int64_t total_steps, int64_t per_epoch, double step_s, double val_s,
                    double grid_s) {
  if (total_steps <= 0 || per_epoch <= 0) return -1;
  const int64_t left = std::max<int64_t>(0, total_steps - step);
  const int64_t ends_left = std::max<int64_t>(0, total_steps / per_epoch - step / per_epoch);
  return double(left) * step_s + double(ends_left) * (std::max(0.0, val_s) + std::max(0.0, grid_s));
}

void add_progress_flags(Flags& f) {
  f.flag("quiet", "print no progress and no informational lines on stderr (errors still)");
  f.hidden_value("progress-every");
}

ProgressStyle progress_style(const Flags& f) {
  ProgressStyle s;
  s.tty = ::isatty(2) != 0;
  s.quiet = f.on("quiet");
  s.every_s = f.real("progress-every", 10, 0, 1e9);
  return s;
}

namespace {
std::string bar(int64_t done, int64_t total) {
  if (total <= 0) return "";
  const int width = 24;
  int filled = int(double(width) * double(done) / double(total));
  filled = filled < 0 ? 0 : filled > width ? width : filled;
  return "[" + std::string(size_t(filled), '#') + std::string(size_t(width - filled), '.') + "] ";
}
}  // namespace

Progress::Progress(const ProgressStyle& style, int64_t every) : style_(style), every_(every < 1 ? 1 : every) {}

void Progress::clear() {
  if (style_.tty && bar_shown_) {
    std::fputs("\r\033[K", stderr);
    bar_shown_ = false;
  }
}

void Progress::step(const StepInfo& s) {
  if (style_.quiet) return;
  char total[32] = "";
  if (s.total_steps > 0) std::snprintf(total, sizeof total, "/%lld", (long long)s.total_steps);
  if (style_.tty) {
    const auto now = Clock::now();
    const bool last = s.total_steps > 0 && s.step >= s.total_steps;
    if (bar_shown_ && !last && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    std::fprintf(stderr, "\r\033[K%sstep %lld%s  epoch %lld  loss %.4f (%.4f bits/dim)  %.1f img/s  ETA %s",
                 bar(s.step, s.total_steps).c_str(), (long long)s.step, total, (long long)s.epoch, s.loss,
                 s.bits_per_dim, s.images_per_s, fmt_duration(s.eta_s).c_str());
    std::fflush(stderr);
    bar_shown_ = true;
    return;
  }
  if (s.step % every_ != 0 && s.step != 1 && !(s.total_steps > 0 && s.step == s.total_steps)) return;
  std::fprintf(stderr, "step %lld%s epoch %lld loss %.4f bits/dim %.4f img/s %.1f eta %s\n", (long long)s.step,
               total, (long long)s.epoch, s.loss, s.bits_per_dim, s.images_per_s, fmt_duration(s.eta_s).c_str());
  std::fflush(stderr);
}

void Progress::message(const std::string& line) {
  if (style_.quiet) return;
  warning(line);
}

void Progress::warning(const std::string& line) {
  clear();
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (style_.tty && bar_shown_) {
    std::fputc('\n', stderr);
    bar_shown_ = false;
  }
}

TaskProgress::TaskProgress(const ProgressStyle& style, std::string label, std::string unit)
    : style_(style), label_(std::move(label)), unit_(std::move(unit)), start_(Clock::now()), last_(start_) {}

TaskProgress::~TaskProgress() {
  if (style_.tty && shown_) {  // an exception ended the task: leave the terminal line clean
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
  }
}

double TaskProgress::elapsed_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

void TaskProgress::update(int64_t done, int64_t total, bool poll_signals) {
  if (poll_signals) check_interrupt();
  done_ = done;
  total_ = total;
  if (style_.quiet || finished_) return;
  const auto now = Clock::now();
  const double el = std::chrono::duration<double>(now - start_).count();
  const double eta = done > 0 ? el * double(total - done) / double(done) : -1;
  if (style_.tty) {
    // Quick waits draw nothing; then at most 10 redraws a second.
    if (el < 0.3 || (shown_ && now - last_ < std::chrono::milliseconds(100) && done < total)) return;
    last_ = now;
    std::fprintf(stderr, "\r\033[K%s %s%lld/%lld %s  %s  ETA %s", label_.c_str(), bar(done, total).c_str(),
                 (long long)done, (long long)total, unit_.c_str(), fmt_duration(el).c_str(),
                 fmt_duration(eta).c_str());
    std::fflush(stderr);
    shown_ = true;
    return;
  }
  if (std::chrono::duration<double>(now - last_).count() < style_.every_s) return;
  last_ = now;
  std::fprintf(stderr, "%s: %lld/%lld %s (%.0f%%), %s, ETA %s\n", label_.c_str(), (long long)done, (long long)total,
               unit_.c_str(), total > 0 ? 100.0 * double(done) / double(total) : 0.0, fmt_duration(el).c_str(),
               fmt_duration(eta).c_str());
  std::fflush(stderr);
  printed_ = true;
}

void TaskProgress::finish() {
  if (finished_) return;
  finished_ = true;
  if (style_.quiet) return;
  if (style_.tty && shown_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    shown_ = false;
  } else if (!style_.tty && printed_) {
    std::fprintf(stderr, "%s: %lld/%lld %s %s %s\n", label_.c_str(), (long long)done_, (long long)total_,
                 unit_.c_str(), done_ >= total_ ? "done in" : "stopped after", fmt_duration(elapsed_s()).c_str());
    std::fflush(stderr);
  }
}

}  // namespace pixelrnn::tool
