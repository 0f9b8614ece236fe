// tools/pixelrnn/train.cpp: `pixelrnn train`: the command line, the output folder, the data and the
// configuration (new or resumed); the loop itself is in trainer.cpp.
#include <cstdio>
#include <iostream>
#include <stdexcept>

#include "framework/core/parallel.h"
#include "framework/io/preprocess.h"
#include "models/pixel_model.h"
#include "tools/pixelrnn/checkpoint.h"
#include "tools/pixelrnn/commands.h"
#include "tools/pixelrnn/common.h"
#include "tools/pixelrnn/flags.h"
#include "tools/pixelrnn/trainer.h"

namespace pixelrnn::tool {

namespace {

Flags train_flags() {
  Flags f("pixelrnn train", "--model NAME --data DATA --out DIR [flags]",
          "Trains a PixelRNN-family model on the train split of DATA (minus a validation hold-out), writing\n"
          "DIR/last.safetensors, DIR/metrics.csv, DIR/config.json and DIR/samples/epoch-NNNN.png.\n"
          "With --resume, continues DIR/last.safetensors exactly where it stopped.");
  std::string names;
  for (const std::string& n : model_names()) names += (names.empty() ? "" : ", ") + n;
  f.value("model", "NAME", "model: " + names, "pixelcnn");
  f.value("data", "DATA", "dataset name under the data folder (mnist, fashion-mnist), a folder of IDX files or "
                          "CIFAR-10 batches, or one IDX/CIFAR file");
  f.value("levels", "L", "2: binarized images, Bernoulli output; 256: 8-bit images, 256-way softmax",
          "2 for 1 channel, 256 for 3");
  f.value("binarize", "MODE", "stochastic | threshold: how 8-bit images become binary (levels 2)", "stochastic");
  f.value("hidden", "H", "hidden feature maps h", "the model's default");
  f.value("layers", "N", "recurrent / masked layers", "the model's default");
  f.value("out-hidden", "N", "feature maps of the output stack", "the model's default");
  f.value("inner", "KIND", "multiscale: layer kind of both networks", "row_lstm");
  f.value("small", "S", "multiscale: side of the small image", "height / 2");
  f.value("batch", "N", "images per step", "16");
  f.value("lr", "X", "learning rate", "0.001");
  f.value("optimizer", "NAME", "rmsprop | adam | sgd", "rmsprop");
  f.value("clip", "X", "clip the global gradient norm to X (0: off)", "0");
  f.value("epochs", "N", "stop after N epochs in total");
  f.value("steps", "N", "stop after N steps in total");
  f.value("minutes", "X", "stop after X minutes of training in total");
  f.value("val", "N", "images of the train split held out (the last N) for the validation NLL", "10%");
  f.value("seed", "N", "seed of the initial weights, the batch order and the samples", "0");
  f.value("threads", "N", "worker threads (0: all cores)", "0");
  f.value("out", "DIR", "output folder (created when missing)", "", "o");
  f.flag("resume", "continue the run in DIR from DIR/last.safetensors");
  f.value("save-every-steps", "N", "also save a checkpoint every N steps (0: off)", "0");
  f.value("save-every-minutes", "X", "save a checkpoint every X minutes", "10");
  f.value("log-every", "N", "steps between progress lines when stderr is not a terminal", "100");
  f.value("grid", "N", "samples drawn into the grid after each epoch (0: none)", "8");
  f.flag("json", "print a JSON summary on stdout at the end");
  f.hidden_value("inject-nan-at");
  return f;
}

// Applies the flags that were given on top of o (defaults or the stored options of a resumed run).
void apply_flags(const Flags& f, TrainOptions& o) {
  if (f.has("data")) o.data = f.str("data");
  o.binarize = f.choice("binarize", o.binarize, {"stochastic", "threshold"});
  o.val = f.integer("val", o.val, 0);
  o.batch = f.integer("batch", o.batch, 1);
  o.optimizer = f.choice("optimizer", o.optimizer, {"rmsprop", "adam", "sgd"});
  o.lr = f.real("lr", o.lr, 0, 1e6);
  o.clip = f.real("clip", o.clip, 0, 1e30);
  if (f.has("seed")) o.seed = uint64_t(f.integer("seed", 0, 0));
  o.steps = f.integer("steps", o.steps, 0);
  o.epochs = f.integer("epochs", o.epochs, 0);
  o.minutes = f.real("minutes", o.minutes, 0, 1e9);
  o.threads = int(f.integer("threads", o.threads, 0, 4096));
  o.save_every_steps = f.integer("save-every-steps", o.save_every_steps, 0);
  o.save_every_minutes = f.real("save-every-minutes", o.save_every_minutes, 0, 1e9);
  o.log_every = f.integer("log-every", o.log_every, 1);
  o.grid = f.integer("grid", o.grid, 0, 1024);
  o.json = f.on("json");
  o.inject_nan_step = f.integer("inject-nan-at", -1, 1);
}

void apply_model_flags(const Flags& f, ModelConfig& c) {
  if (f.has("model")) c.model = f.str("model");
  if (f.has("levels")) {
    c.levels = f.integer("levels", c.levels);
    if (c.levels != 2 && c.levels != 256)
      throw UsageError("--levels: must be 2 or 256, got " + std::to_string(c.levels));
  }
  c.hidden = f.integer("hidden", c.hidden, 1);
  c.layers = f.integer("layers", c.layers, 1);
  c.out_hidden = f.integer("out-hidden", c.out_hidden, 1);
  if (f.has("inner")) c.inner = f.str("inner");
  c.small = f.integer("small", c.small, 1);
}

}  // namespace

int cmd_train(const Args& args) {
  Flags f = train_flags();
  f.parse(args);
  if (f.help_requested()) {
    std::cout << f.help();
    return kExitOk;
  }
  if (!f.has("out")) throw UsageError("--out DIR is required");
  if (!f.on("resume") && !f.has("data")) throw UsageError("--data is required (unless --resume)");
  if (f.has("model")) {
    bool known = false;
    for (const std::string& n : model_names()) known = known || n == f.str("model");
    if (!known) f.choice("model", "", model_names());  // throws UsageError listing the models
  }
  // Check every value before touching the file system.
  TrainOptions o;
  ModelConfig probe;
  apply_flags(f, o);
  apply_model_flags(f, probe);

  o.out = f.str("out");
  o.resume = f.on("resume");
  const std::string ckpt_path = o.out + "/last.safetensors";
  Checkpoint ck;
  if (o.resume) {
    if (!file_exists(ckpt_path))
      throw std::runtime_error(ckpt_path + ": no checkpoint to resume (start a run without --resume)");
    ck = read_checkpoint(ckpt_path);
    std::map<std::string, std::string> stored;
    for (const auto& [k, v] : ck.metadata)
      if (k.rfind("train.", 0) == 0) stored[k.substr(6)] = v;
    apply_stored_options(o, stored, ckpt_path);
    o.cfg = ck.config;
  } else {
    for (const char* name : {"/last.safetensors", "/metrics.csv"})
      if (file_exists(o.out + name))
        throw std::runtime_error(o.out + " already holds a training run (" + o.out + name +
                                 "); pass --resume to continue it, or choose another --out");
    o.cfg = ModelConfig();
    o.cfg.levels = 0;  // chosen from the data below unless given
  }
  const TrainOptions stored_o = o;
  // Stopping rules given on the command line replace the stored ones together; a new run without any trains
  // for 10 epochs.
  if (f.has("steps") || f.has("epochs") || f.has("minutes")) {
    o.steps = o.epochs = -1;
    o.minutes = -1;
  } else if (!o.resume) {
    o.epochs = 10;
  }
  apply_flags(f, o);
  apply_model_flags(f, o.cfg);
  fw::set_num_threads(o.threads);

  // The data: the train split, in the model's pixel space, minus the validation hold-out.
  const fw::io::Dataset raw = fw::io::load_dataset(o.data, "train");
  if (o.cfg.levels == 0) o.cfg.levels = default_levels(raw.c);
  o.cfg.channels = raw.c;
  o.cfg.height = raw.h;
  o.cfg.width = raw.w;
  const fw::io::Dataset all = to_pixel_space(raw, PixelSpace{o.cfg.levels, o.binarize});
  if (o.val < 0) o.val = all.n / 10;
  if (o.val >= all.n)
    throw std::runtime_error("--val " + std::to_string(o.val) + " leaves no training images: " + all.source +
                             " holds " + std::to_string(all.n) + " images");
  auto [train, val] = fw::io::split_train_val(all, o.val);
  if (o.batch > train.n)
    throw std::runtime_error("--batch " + std::to_string(o.batch) + " is larger than the training set: " +
                             std::to_string(train.n) + " images (" + all.source + ", " + std::to_string(o.val) +
                             " held out for validation)");
  o.cfg = o.cfg.resolved();

  if (o.resume) {
    // Everything that shapes the trajectory must be what the checkpoint was trained with.
    std::string diffs;
    const std::string d = ck.config.diff(o.cfg);
    if (!d.empty()) diffs += "\n  model configuration (checkpoint vs asked): " + d;
    const auto before = stored_options(stored_o), now = stored_options(o);
    for (const auto& [k, v] : now) {
      if (!must_match_on_resume(k) || before.at(k) == v) continue;
      if (k == "data" && fw::io::resolve_dataset_path(v) == fw::io::resolve_dataset_path(before.at(k))) continue;
      diffs += "\n  " + k + ": " + before.at(k) + " in the checkpoint vs " + v + " asked";
    }
    if (!diffs.empty())
      throw std::runtime_error(ckpt_path + ": the checkpoint does not match the configuration asked for:" + diffs);
  }
  ensure_output_dir(o.out);
  return run_training(o, train, val, o.resume ? &ck : nullptr);
}

}  // namespace pixelrnn::tool
