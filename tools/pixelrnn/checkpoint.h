// tools/pixelrnn/checkpoint.h: training checkpoints of the pixelrnn program on top of framework/io/safetensors.h.
//
// A checkpoint is one safetensors file (written atomically) holding
//   tensors:  every model parameter under its own name ("blocks.0.conv.weight"; docs/weights.md), and, for
//             training checkpoints, every optimizer state tensor as "optim.<name>" (fw::optim::Optimizer::state(),
//             e.g. "optim.blocks.0.conv.weight.square_avg" and the step count "optim.step", a tensor too).
//   metadata: "format_version" (kFormatVersion), "program" ("pixelrnn <version>"), the model configuration
//             ("model.<field>", ModelConfig::to_metadata), and for training checkpoints: "step", "epoch" (the
//             1-based epoch of the last step, as in metrics.csv; 0 at step 0), "elapsed_s" (training time),
//             "wall_s" (the whole run's time, with validation and grids), "epoch_loss_sum" and
//             "epoch_loss_images" (the current epoch's loss so far), the training options ("train.<option>"),
//             the batch iterator's state ("batches.seed", "batches.epoch", "batches.position") and the sampling
//             RNG's state ("rng.sample": four comma-separated u64 words).
// Everything needed to continue a run bit for bit is in the file; see docs/tool.md.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "framework/io/batches.h"
#include "framework/nn/module.h"
#include "framework/optim/optimizer.h"
#include "models/pixel_model.h"

namespace pixelrnn::tool {

constexpr const char* kFormatVersion = "1";

// Where a training run stands; saved with every training checkpoint.
struct TrainProgress {
  int64_t step = 0;    // optimizer updates done
  int64_t epoch = 0;   // the 1-based epoch of the last step (0 before the first step)
  double elapsed_s = 0;  // training time (steps only) over all runs so far
  double wall_s = 0;     // time of the whole run so far: steps, validation, grids, saves
  double epoch_loss_sum = 0;      // sum over the current epoch's images so far of their loss (nats)
  int64_t epoch_loss_images = 0;  // images in that sum
  fw::io::BatchState batches;
  std::array<uint64_t, 4> sample_rng{};
};

struct Checkpoint {
  std::string path;
  ModelConfig config;  // resolved
  std::map<std::string, std::string> metadata;
  fw::nn::NamedTensors tensors;
};

// The metadata of a checkpoint (see the file comment). train_options may be empty (then no progress keys).
std::map<std::string, std::string> checkpoint_metadata(const ModelConfig& cfg,
                                                       const std::map<std::string, std::string>& train_options,
                                                       const TrainProgress* progress);

// Writes the model's parameters (and the optimizer's state when opt is non-null) with the metadata, atomically.
// throws: fw::io::IoError / fw::io::CheckpointError naming path; an existing file is then left untouched.
void save_checkpoint(const std::string& path, const PixelModel& model, const fw::optim::Optimizer* opt,
                     const std::map<std::string, std::string>& metadata);

// Reads a checkpoint: every check of the safetensors format (framework/io/safetensors.h), then the format
// version and the model configuration in the metadata.
// throws: fw::io::IoError when unreadable; fw::io::CheckpointError naming path and the problem.
Checkpoint read_checkpoint(const std::string& path);

// The metadata value under key. throws: fw::io::CheckpointError naming the file and the missing key.
const std::string& meta(const Checkpoint& ck, const std::string& key);
// The training progress stored in a training checkpoint. throws: CheckpointError on a missing/malformed key.
TrainProgress read_progress(const Checkpoint& ck);

// Builds the checkpoint's model and loads its weights.
// throws: CheckpointError naming the file and each missing, unexpected or mismatched tensor.
std::unique_ptr<PixelModel> load_model(const Checkpoint& ck);
// Copies the checkpoint's parameters into model (same checks as load_model).
void load_weights(const Checkpoint& ck, PixelModel& model);
// Restores the optimizer state from the "optim.*" tensors. throws: CheckpointError naming what is missing.
void load_optimizer(const Checkpoint& ck, fw::optim::Optimizer& opt);

}  // namespace pixelrnn::tool
