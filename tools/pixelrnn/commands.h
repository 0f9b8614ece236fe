// tools/pixelrnn/commands.h: the subcommands of the pixelrnn program. Each takes its arguments (after the
// subcommand name), prints its own --help, and returns the process exit status; errors are thrown (UsageError
// for the command line -> status 2, anything else -> status 1) and reported by main().
#pragma once
#include <string>
#include <vector>

namespace pixelrnn::tool {

using Args = std::vector<std::string>;

int cmd_train(const Args& args);            // train.cpp + trainer.cpp
int cmd_eval(const Args& args);             // eval.cpp
int cmd_sample(const Args& args);           // sample.cpp
int cmd_complete(const Args& args);         // complete.cpp
int cmd_receptive_field(const Args& args);  // receptive_field.cpp
int cmd_bench(const Args& args);            // bench.cpp
int cmd_compress(const Args& args);         // compress.cpp
int cmd_decompress(const Args& args);       // compress.cpp

// Exit statuses (docs/tool.md).
constexpr int kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitSigint = 130, kExitSigterm = 143;

}  // namespace pixelrnn::tool
