// tools/pixelrnn/main.cpp: the pixelrnn program: dispatches to a subcommand and turns errors into messages on
// stderr and exit statuses (0 success, 1 error, 2 usage error, 130/143 training stopped by SIGINT/SIGTERM after
// saving a checkpoint; sample, complete and eval interrupted, nothing written). See docs/tool.md. Started by mpirun
// (a build with MPI), every rank runs the command data-parallel (docs/distributed.md); errors then name the rank.
#include <malloc.h>

#include <cstdio>
#include <exception>
#include <iostream>
#include <new>
#include <memory>
#include <string>

#include "tools/pixelrnn/commands.h"
#include "tools/pixelrnn/distributed.h"
#include "tools/pixelrnn/flags.h"
#include "tools/pixelrnn/interrupt.h"

namespace {

using namespace pixelrnn::tool;

struct Command {
  const char* name;
  int (*run)(const Args&);
  const char* summary;
};

const Command kCommands[] = {
    {"train", cmd_train, "train a model (or --resume a run) and write checkpoints, metrics and sample grids"},
    {"eval", cmd_eval, "negative log-likelihood of a dataset split, in nats per image and bits per dimension"},
    {"sample", cmd_sample, "draw images from a checkpoint into a PNG grid"},
    {"complete", cmd_complete, "fill in the hidden part (bottom half or a rectangle) of images"},
    {"receptive-field", cmd_receptive_field, "draw which pixels a model's output at one pixel can see"},
    {"compress", cmd_compress, "code images losslessly with a model (file size ~ the model's NLL in bits)"},
    {"decompress", cmd_decompress, "decode a file written by compress, checked bit for bit, into PNGs or IDX"},
    {"bench", cmd_bench, "training and sampling speed on random inputs, checked against the reference kernels"},
};

void print_help() {
  std::cout << "usage: pixelrnn <command> [flags]   (pixelrnn <command> --help for its flags)\n\n"
               "Pixel Recurrent Neural Networks (van den Oord et al., 2016): train, evaluate and sample.\n\n"
               "commands:\n";
  for (const Command& c : kCommands) std::printf("  %-16s %s\n", c.name, c.summary);
  std::cout << "\nflags:\n  --version        print the version and exit\n  -h, --help       show this help\n"
               "\nexit status: 0 success, 1 error, 2 usage error, 130 / 143 interrupted by SIGINT / SIGTERM\n"
               "(train saves a checkpoint first; sample, complete and eval write nothing)\n";
}

}  // namespace

int main(int argc, char** argv) {
  // Training allocates and frees the same large activations every step. By default glibc serves blocks over
  // 128 KiB with fresh mmaps and returns freed heap tops to the kernel, so every step page-faults its
  // activations in again (25-30% of a step, measured in docs/models.md). Keeping them in the heap avoids that.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  const Args all(argv + 1, argv + argc);
  if (all.empty()) {
    print_help();
    return kExitUsage;
  }
  const std::string& first = all[0];
  if (first == "--help" || first == "-h" || first == "help") {
    print_help();
    return kExitOk;
  }
  if (first == "--version") {
    std::cout << version_line() << "\n";
    return kExitOk;
  }
  std::string names;
  for (const Command& c : kCommands) names += (names.empty() ? "" : ", ") + std::string(c.name);
  if (first.size() > 1 && first[0] == '-') {
    std::cerr << "pixelrnn: usage error: unknown flag '" << first << "' (the flags of a command go after it: "
              << "pixelrnn <command> [flags]; commands: " << names << "; see 'pixelrnn --help')\n";
    return kExitUsage;
  }
  for (const Command& c : kCommands) {
    if (first != c.name) continue;
    std::string who = std::string("pixelrnn ") + c.name;
    std::unique_ptr<DistributedSession> session;  // MPI when started by mpirun (finalised last)
    try {
      session = std::make_unique<DistributedSession>(&argc, &argv);
    } catch (const std::exception& e) {
      std::cerr << who << ": error: " << e.what() << "\n";
      return kExitError;
    }
    const std::string rank = rank_prefix();
    if (!rank.empty()) who += ": " + rank.substr(0, rank.size() - 2);
    const StopSignals signals;  // SIGINT / SIGTERM are polled by every long wait (interrupt.h)
    try {
      return c.run(Args(all.begin() + 1, all.end()));
    } catch (const AlreadyReported& r) {
      return r.status;  // every failing rank said why (distributed.h)
    } catch (const CollectiveError& e) {
      // Every rank throws it alike: said once, by rank 0, before any rank exits (mpirun ends the job at the first
      // non-zero exit).
      if (fw::dist::world().rank() == 0) std::cerr << (who + ": error: " + e.what() + "\n") << std::flush;
      fw::dist::world().barrier();
      return kExitError;
    } catch (const UsageError& e) {
      std::cerr << who << ": usage error: " << e.what() << "\n(see '" << who << " --help')\n";
      return kExitUsage;
    } catch (const Interrupted& e) {
      std::cerr << who << ": " << e.what() << "; stopped, no output written\n";
      return signal_exit_status(e.signal);
    } catch (const std::bad_alloc&) {
      std::cerr << who << ": error: out of memory (an allocation failed); try a smaller model (--hidden, "
                << "--layers, --out-hidden) or fewer images at once (--batch, -n)\n";
      return kExitError;
    } catch (const std::exception& e) {
      std::cerr << who << ": error: " << e.what() << "\n";
      return kExitError;
    }
  }
  std::cerr << "pixelrnn: unknown command '" << first << "' (commands: " << names << "; see 'pixelrnn --help')\n";
  return kExitUsage;
}
