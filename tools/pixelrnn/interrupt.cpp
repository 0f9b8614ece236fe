// tools/pixelrnn/interrupt.cpp: recording SIGINT / SIGTERM (see interrupt.h).
#include "tools/pixelrnn/interrupt.h"

#include <csignal>

#include "tools/pixelrnn/commands.h"

namespace pixelrnn::tool {

namespace {
volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_stop_signal(int sig) { g_signal = sig; }
}  // namespace

Interrupted::Interrupted(int sig) : std::runtime_error("interrupted by " + signal_name(sig)), signal(sig) {}

struct StopSignals::Saved {
  struct sigaction old_int {}, old_term {};
};

StopSignals::StopSignals() : saved_(new Saved) {
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, &saved_->old_int);
  sigaction(SIGTERM, &sa, &saved_->old_term);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &saved_->old_int, nullptr);
  sigaction(SIGTERM, &saved_->old_term, nullptr);
  delete saved_;
}

int stop_requested() { return int(g_signal); }

void check_interrupt() {
  if (const int sig = stop_requested()) throw Interrupted(sig);
}

std::string signal_name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal " + std::to_string(sig); }

int signal_exit_status(int sig) { return sig == SIGINT ? kExitSigint : kExitSigterm; }

}  // namespace pixelrnn::tool
