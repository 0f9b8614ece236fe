// tools/pixelrnn/progress.cpp: the progress bar and plain progress lines (see progress.h).
#include "tools/pixelrnn/progress.h"

#include <cmath>
#include <cstdio>

namespace pixelrnn::tool {

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

Progress::Progress(bool tty, int64_t every) : tty_(tty), every_(every < 1 ? 1 : every) {}

void Progress::clear() {
  if (tty_ && bar_shown_) {
    std::fputs("\r\033[K", stderr);
    bar_shown_ = false;
  }
}

void Progress::step(const StepInfo& s) {
  char total[32] = "";
  if (s.total_steps > 0) std::snprintf(total, sizeof total, "/%lld", (long long)s.total_steps);
  if (tty_) {
    const auto now = std::chrono::steady_clock::now();
    const bool last = s.total_steps > 0 && s.step >= s.total_steps;
    if (bar_shown_ && !last && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    std::string bar;
    if (s.total_steps > 0) {
      const int width = 24, filled = int(double(width) * double(s.step) / double(s.total_steps));
      bar = "[" + std::string(size_t(filled > width ? width : filled), '#') +
            std::string(size_t(filled > width ? 0 : width - filled), '.') + "] ";
    }
    std::fprintf(stderr, "\r\033[K%sstep %lld%s  epoch %lld  loss %.4f (%.4f bits/dim)  %.1f img/s  ETA %s",
                 bar.c_str(), (long long)s.step, total, (long long)s.epoch, s.loss, s.bits_per_dim, s.images_per_s,
                 fmt_duration(s.eta_s).c_str());
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
  clear();
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (tty_ && bar_shown_) {
    std::fputc('\n', stderr);
    bar_shown_ = false;
  }
}

}  // namespace pixelrnn::tool
