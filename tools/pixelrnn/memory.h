// tools/pixelrnn/memory.h: will a training run fit in memory? Checked before anything large is allocated, so an
// absurd --hidden or --batch ends with a message naming the flag and the bytes instead of std::bad_alloc.
//
// Parameters are counted exactly without building the model at its size: a model's parameter count is a
// quadratic polynomial in (hidden, out_hidden) for fixed layers, channels and levels (weights h x h, h x o,
// o x o, biases), so it is fitted on six small models and checked on a seventh. Activations are estimated from
// below: every layer keeps at least a few (N, 2h, H, W) maps for the backward pass. The available memory is
// $PIXELRNN_MEMORY_LIMIT (bytes) when set, else MemAvailable of /proc/meminfo.
#pragma once
#include <cstdint>
#include <string>

#include "models/config.h"

namespace pixelrnn::tool {

// The exact parameter count of a model of cfg (resolved), or -1 when it could not be determined.
int64_t count_parameters(const ModelConfig& cfg);

// Bytes of memory this process may use: $PIXELRNN_MEMORY_LIMIT when set, else MemAvailable; 0 when unknown.
uint64_t available_memory();

// "1.5 GiB", "300 MiB", "12 KiB".
std::string fmt_bytes(double bytes);

struct MemoryEstimate {
  int64_t parameters = -1;
  double model_bytes = 0;       // weights + gradients + optimizer state (slots copies)
  double activation_bytes = 0;  // a lower estimate for one training step of `batch` images
};

// optimizer_slots: per-parameter state tensors (rmsprop 1, adam 2, sgd 0-1).
MemoryEstimate estimate_training_memory(const ModelConfig& cfg, int64_t batch, int optimizer_slots);

// throws: std::runtime_error naming the flags (model_flags, e.g. "--hidden 100000", or "--batch N") and the bytes
//   when the estimate exceeds the available memory.
void check_training_memory(const ModelConfig& cfg, int64_t batch, int optimizer_slots, const std::string& model_flags);

}  // namespace pixelrnn::tool
