// tools/pixelrnn/interrupt.h: SIGINT / SIGTERM for every subcommand. The handlers only record the signal; long
// waits poll it (stop_requested(), check_interrupt()) at least about once a second: between training steps, after
// every batch of a validation or an eval, after every drawn element of sampling. Training then saves a checkpoint
// and exits 130 / 143; sample, complete and eval exit 130 / 143 without writing their outputs (main() turns
// Interrupted into that status). SA_RESETHAND: a second signal gets the default action and ends the process at
// once (files are written atomically, so nothing is left half-written).
#pragma once
#include <stdexcept>
#include <string>

namespace pixelrnn::tool {

// Thrown by check_interrupt() once a stop signal has arrived.
struct Interrupted : std::runtime_error {
  explicit Interrupted(int sig);
  int signal;
};

// Installs the handlers for the lifetime of the object (the previous ones are restored after).
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct Saved;
  Saved* saved_;
};

// The signal received (SIGINT or SIGTERM), 0 when none.
int stop_requested();
// throws: Interrupted when a stop signal has arrived.
void check_interrupt();
// "SIGINT" / "SIGTERM".
std::string signal_name(int sig);
// The exit status for a signal: 130 for SIGINT, 143 for SIGTERM.
int signal_exit_status(int sig);

}  // namespace pixelrnn::tool
