// tools/pixelrnn/train_options.h: the resolved options of `pixelrnn train`, and how they are stored in (and
// checked against) a checkpoint when a run is resumed.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "framework/core/tensor.h"
#include "models/config.h"

namespace pixelrnn::tool {

struct TrainOptions {
  ModelConfig cfg;  // resolved; channels, height and width come from the data
  // Options that shape the trajectory: stored in the checkpoint as "train.<key>" and, on --resume, required to be
  // the same when given again.
  std::string data;                   // as given to --data
  std::string data_path;              // where it was read from: resolve_data(data), normalised (data_lookup.h)
  std::string binarize = "stochastic";
  int64_t val = -1;                   // validation images held out of the train split; -1: n / 10
  int64_t batch = 16;
  std::string optimizer = "rmsprop";
  double lr = 1e-3;
  double clip = 0;                    // max global gradient norm; 0: no clipping
  uint64_t seed = 0;
  // Stopping rules: totals over the whole run (all resumes); -1 = no limit. Stored; given flags override them.
  int64_t steps = -1, epochs = -1;
  double minutes = -1;
  // Run settings: stored too and taken from the checkpoint on --resume unless given, but free to change (the
  // weights do not depend on them; --grid changes which samples are drawn).
  int threads = 0;
  int64_t save_every_steps = 0;
  double save_every_minutes = 10;
  int64_t log_every = 100;
  int64_t grid = 8;                   // samples drawn into DIR/samples/epoch-NNNN.png; 0: none
  bool grid_auto = true;              // --grid not given: shrink or skip the grid when it would take longer
                                      // than a tenth of the epoch
  // This invocation only.
  std::string out;
  bool resume = false;
  bool json = false;
  bool quiet = false;
  double progress_every_s = 10;       // seconds between plain progress lines of a task (progress.h)
  std::string data_dir;               // --data-dir
  int64_t inject_nan_step = -1;       // testing aid: pretend the loss of this step is NaN
  int inject_nan_rank = -1;           // ... on this rank only (-1: every rank)
  fw::Device device = fw::Device::CPU;  // --device (select_device, common.h); not stored: checkpoints are
                                        // device-independent
};

// The "train.<key>" metadata (without "train."): the trajectory-shaping options, the stopping rules and the run
// settings.
std::map<std::string, std::string> stored_options(const TrainOptions& o);
// Whether a stored option must match on resume (not the stopping rules and run settings; "data" and
// "data_path" are compared as normalised paths by train.cpp).
bool must_match_on_resume(const std::string& key);
// Sets the options from stored metadata keys ("train.<key>" already stripped). throws: std::runtime_error naming
// the key on a malformed value.
void apply_stored_options(TrainOptions& o, const std::map<std::string, std::string>& stored, const std::string& file);

// The options with their types (numbers, strings, booleans; null for "none": no limit, no clipping, off), as
// written to DIR/config.json under "train".
nlohmann::json options_json(const TrainOptions& o);

// The full configuration as human-readable lines ("  model: pixelcnn") for the start of a run.
std::string describe_options(const TrainOptions& o);

}  // namespace pixelrnn::tool
