// tools/pixelrnn/train.cpp: `pixelrnn train`: the command line, the output folder, the data and the
// configuration (new or resumed); the loop itself is in trainer.cpp.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <tuple>

#include "framework/core/parallel.h"
#include "framework/io/atomic_file.h"
#include "framework/io/preprocess.h"
#include "models/pixel_model.h"
#include "tools/pixelrnn/checkpoint.h"
#include "tools/pixelrnn/commands.h"
#include "tools/pixelrnn/common.h"
#include "tools/pixelrnn/data_lookup.h"
#include "tools/pixelrnn/distributed.h"
#include "tools/pixelrnn/flags.h"
#include "tools/pixelrnn/memory.h"
#include "tools/pixelrnn/progress.h"
#include "tools/pixelrnn/run_lock.h"
#include "tools/pixelrnn/trainer.h"

namespace pixelrnn::tool {

namespace {

Flags train_flags() {
  Flags f("pixelrnn train", "--model NAME --data DATA --out DIR [flags]",
          "Trains a PixelRNN-family model on the train split of DATA (minus a validation hold-out), writing\n"
          "DIR/last.safetensors, DIR/metrics.csv, DIR/config.json and DIR/samples/epoch-NNNN.png.\n"
          "With --resume, continues DIR/last.safetensors exactly where it stopped. One training at a time holds DIR\n"
          "(a lock released by the system when the process ends, however it ends).");
  std::string names;
  for (const std::string& n : model_names()) names += (names.empty() ? "" : ", ") + n;
  f.value("model", "NAME", "model: " + names, "pixelcnn");
  f.value("data", "DATA", "a folder of IDX files or CIFAR-10 batches, one IDX/CIFAR file, or a dataset name "
                          "(mnist, fashion-mnist) looked up in --data-dir, $PIXELRNN_DATA, then ./data");
  add_data_dir_flag(f);
  f.value("levels", "L", "2: binarized images, Bernoulli output; 256: 8-bit images, 256-way softmax",
          "2 for 1 channel, 256 for 3");
  f.value("binarize", "MODE", "stochastic | threshold: how 8-bit images become binary (levels 2)", "stochastic");
  f.value("hidden", "H", "hidden feature maps h", "the model's default");
  f.value("layers", "N", "recurrent / masked layers", "the model's default");
  f.value("out-hidden", "N", "feature maps of the output stack", "the model's default");
  f.value("inner", "KIND", "multiscale: layer kind of both networks", "row_lstm");
  f.value("small", "S", "multiscale: side of the small image", "height / 2");
  f.value("batch", "N", "images per step (under mpirun: over all ranks; must divide by their number)", "16");
  f.value("lr", "X", "learning rate", "0.001");
  f.value("optimizer", "NAME", "rmsprop | adam | sgd", "rmsprop");
  f.value("clip", "X", "clip the global gradient norm to X (0: off)", "0");
  f.value("epochs", "N", "stop after N epochs in total");
  f.value("steps", "N", "stop after N steps in total");
  f.value("minutes", "X", "stop after X minutes in total (wall time, with validations and grids)");
  f.value("val", "N", "images of the train split held out for the validation NLL, evenly spaced over the split "
                      "(image floor((i+1)*n/N)-1 for i < N)", "10%");
  f.value("seed", "N", "seed of the initial weights, the batch order and the samples", "0");
  f.value("threads", "N", "worker threads (0: all cores)", "0");
  add_device_flag(f);
  f.value("out", "DIR", "output folder (created when missing)", "", "o");
  f.flag("conditional", "class-conditional model (data with labels: MNIST, Fashion-MNIST, CIFAR-10): a learned "
                        "per-class bias in every layer; the loss is -log p(x | label)");
  f.flag("resume", "continue the run in DIR from DIR/last.safetensors");
  f.value("save-every-steps", "N", "also save a checkpoint every N steps (0: off)", "0");
  f.value("save-every-minutes", "X", "save a checkpoint every X minutes", "10");
  f.value("log-every", "N", "steps between progress lines when stderr is not a terminal", "100");
  f.value("grid", "N", "samples drawn into the grid after each epoch (0: none); the default grid is shrunk or "
                       "skipped when it would take longer than a tenth of the epoch, a given N never", "8");
  f.flag("json", "print a JSON summary on stdout at the end (also after SIGINT/SIGTERM, with \"interrupted\")");
  add_progress_flags(f);
  f.hidden_value("inject-nan-at");
  f.hidden_value("inject-nan-rank");
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
  if (f.has("grid")) o.grid_auto = false;
  o.json = f.on("json");
  o.quiet = f.on("quiet");
  o.progress_every_s = f.real("progress-every", 10, 0, 1e9);
  o.data_dir = f.str("data-dir");
  o.inject_nan_step = f.integer("inject-nan-at", -1, 1);
  o.inject_nan_rank = int(f.integer("inject-nan-rank", -1, 0, 1 << 20));
}

void apply_model_flags(const Flags& f, ModelConfig& c) {
  if (f.has("model")) c.model = f.str("model");
  if (f.has("levels")) {
    c.levels = f.integer("levels", c.levels);
    if (c.levels != 2 && c.levels != 256)
      throw UsageError(f.shown("levels") + ": must be 2 or 256, got " + std::to_string(c.levels));
  }
  c.hidden = f.integer("hidden", c.hidden, 1);
  c.layers = f.integer("layers", c.layers, 1);
  c.out_hidden = f.integer("out-hidden", c.out_hidden, 1);
  if (f.has("inner")) c.inner = f.str("inner");
  c.small = f.integer("small", c.small, 1);
}

// The flags behind each ModelConfig field, as typed, for errors (resolve_model_config).
std::map<std::string, std::string> model_field_flags(const Flags& f) {
  std::map<std::string, std::string> m;
  for (const auto& [field, flag] : std::map<std::string, std::string>{{"model", "model"}, {"levels", "levels"},
           {"layers", "layers"}, {"hidden", "hidden"}, {"out_hidden", "out-hidden"}, {"inner", "inner"},
           {"small", "small"}})
    m[field] = f.shown(flag) + (f.has(flag) ? " " + f.str(flag) : " (default)");
  return m;
}

// "--hidden 100000 --layers 6" for the model flags given, or "the model" when none.
std::string model_flags_text(const Flags& f) {
  std::string s;
  for (const char* flag : {"model", "hidden", "layers", "out-hidden", "levels", "inner", "small"})
    if (f.has(flag)) s += (s.empty() ? "" : " ") + f.shown(flag) + " " + f.str(flag);
  return s.empty() ? "the default model" : s;
}

bool is_folder(const std::string& p) {
  std::error_code ec;
  return std::filesystem::is_directory(p, ec);
}

// Everything a run needs before the loop: checked options, the data, the checkpoint resumed, the folder's lock.
struct Prepared {
  TrainOptions o;
  fw::io::Dataset train, val;
  Checkpoint ck;
  std::unique_ptr<RunLock> lock;
};

// Checks the command line, reads the data (and the checkpoint when resuming). Under mpirun every rank does this;
// rank 0 alone creates the folder and takes its lock.
void prepare(const Flags& f, Prepared& P) {
  const fw::dist::Communicator& world = fw::dist::world();
  const bool writer = world.rank() == 0;
  if (!f.has("out")) throw UsageError("--out DIR is required");
  if (!f.on("resume") && !f.has("data")) throw UsageError("--data is required (unless --resume)");
  if (f.has("model")) {
    bool known = false;
    for (const std::string& n : model_names()) known = known || n == f.str("model");
    if (!known) f.choice("model", "", model_names());  // throws UsageError listing the models
  }
  // Check every value before touching the file system.
  TrainOptions& o = P.o;
  ModelConfig probe;
  apply_flags(f, o);
  apply_model_flags(f, probe);

  o.out = f.str("out");
  o.resume = f.on("resume");
  const std::string ckpt_path = o.out + "/last.safetensors";
  // The run folder's lock, taken as soon as the folder exists and held to the end (run_lock.h). A folder is a
  // run when it holds a checkpoint; anything else in it (a failed first save's metrics.csv) is not.
  std::unique_ptr<RunLock>& lock = P.lock;
  if (writer && is_folder(o.out)) lock = std::make_unique<RunLock>(o.out);
  Checkpoint& ck = P.ck;
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
    if (file_exists(ckpt_path))
      throw std::runtime_error(o.out + " already holds a training run (" + ckpt_path +
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
  if (o.batch % world.size() != 0)
    throw UsageError(f.shown("batch") + " " + std::to_string(o.batch) + (f.has("batch") ? "" : " (the run's)") +
                     ": the global batch must divide by the " + std::to_string(world.size()) +
                     " ranks (each takes batch / ranks images per step)");
  fw::set_num_threads(o.threads);

  // The data: the train split, in the model's pixel space, minus the validation hold-out.
  std::string stored_path;  // where the checkpoint's data is now ("" when it cannot be found)
  if (o.resume) {
    try {
      stored_path = checkpoint_data(ck.metadata, ckpt_path, o.data_dir);
    } catch (const std::exception&) {
      if (!f.has("data")) throw;
    }
  }
  const std::string path = f.has("data") || !o.resume ? resolve_data(o.data, o.data_dir) : stored_path;
  o.data_path = normalize_path(path);
  const fw::io::Dataset raw = fw::io::load_dataset(path, "train");
  if (o.cfg.levels == 0) o.cfg.levels = default_levels(raw.c);
  if (o.cfg.levels != 2 && f.has("binarize"))
    throw UsageError(f.shown("binarize") + " " + f.str("binarize") + ": binarization applies to levels 2 only, and " +
                     "this run has levels " + std::to_string(o.cfg.levels) +
                     (f.has("levels") ? "" : " (the default for " + std::to_string(raw.c) + "-channel data)"));
  o.cfg.channels = raw.c;
  o.cfg.height = raw.h;
  o.cfg.width = raw.w;
  if (o.resume && f.on("conditional") && o.cfg.classes == 0)
    throw UsageError(f.shown("conditional") + ": the run being resumed is unconditional (trained without it)");
  if (f.on("conditional") || o.cfg.classes > 0) {
    if (!raw.has_labels())
      throw std::runtime_error(raw.source + ": no class labels (" +
                               (o.resume ? std::string("the checkpoint's model is class-conditional") :
                                           f.shown("conditional") + " needs them") +
                               "); MNIST and Fashion-MNIST need their -labels-idx1- files beside the images");
    int32_t top = 0;
    for (int32_t k : raw.labels) {
      if (k < 0) throw std::runtime_error(raw.source + ": negative class label " + std::to_string(k));
      top = std::max(top, k);
    }
    if (!o.resume) o.cfg.classes = int64_t(top) + 1;
    else if (top >= o.cfg.classes)
      throw std::runtime_error(raw.source + ": class label " + std::to_string(top) +
                               " but the checkpoint's model has " + std::to_string(o.cfg.classes) + " classes");
  }
  o.cfg = resolve_model_config(o.cfg, model_field_flags(f), raw.source);
  const fw::io::Dataset all = to_pixel_space(raw, PixelSpace{o.cfg.levels, o.binarize});
  if (o.val < 0) o.val = all.n / 10;
  if (o.val >= all.n)
    throw std::runtime_error("--val " + std::to_string(o.val) + " leaves no training images: " + all.source +
                             " holds " + std::to_string(all.n) + " images");
  std::tie(P.train, P.val) = fw::io::split_train_val(all, o.val);
  const fw::io::Dataset& train = P.train;
  if (o.batch > train.n)
    throw std::runtime_error("--batch " + std::to_string(o.batch) + " is larger than the training set: " +
                             std::to_string(train.n) + " images (" + all.source + ", " + std::to_string(o.val) +
                             " held out for validation)");

  if (o.resume) {
    // Everything that shapes the trajectory must be what the checkpoint was trained with.
    std::string diffs;
    const std::string d = ck.config.diff(o.cfg);
    if (!d.empty()) diffs += "\n  model configuration (checkpoint vs asked): " + d;
    const auto before = stored_options(stored_o), now = stored_options(o);
    for (const auto& [k, v] : now) {
      if (!must_match_on_resume(k) || before.at(k) == v) continue;
      diffs += "\n  " + k + ": " + before.at(k) + " in the checkpoint vs " + v + " asked";
    }
    // The data: the same folder or file, compared as normalised paths (data_lookup.h).
    if (f.has("data") && !stored_path.empty()) {
      if (normalize_path(stored_path) != o.data_path)
        diffs += "\n  data: " + stored_o.data + " (" + normalize_path(stored_path) + ") in the checkpoint vs " +
                 o.data + " (" + o.data_path + ") asked";
      else
        o.data = stored_o.data;  // the same data: the run keeps the name it was started with
    }
    if (!diffs.empty())
      throw std::runtime_error(ckpt_path + ": the checkpoint does not match the configuration asked for:" + diffs);
  }
  // Will it fit? Checked before the model and the step allocate anything large (memory.h).
  check_training_memory(o.cfg, o.batch, o.optimizer == "adam" ? 2 : 1, model_flags_text(f));

  if (!writer) return;
  ensure_output_dir(o.out);
  if (!lock) {
    lock = std::make_unique<RunLock>(o.out);
    if (file_exists(ckpt_path))  // another run started in the folder meanwhile (and has ended)
      throw std::runtime_error(o.out + " already holds a training run (" + ckpt_path +
                               "); pass --resume to continue it, or choose another --out");
  }
  // Temporary files of processes that died while writing (kill -9): nobody else will remove them.
  std::vector<std::string> removed = fw::io::remove_stale_temporaries(o.out);
  for (const std::string& r : fw::io::remove_stale_temporaries(o.out + "/samples")) removed.push_back(r);
  if (!removed.empty() && !o.quiet)
    std::cerr << "removed " << removed.size() << " temporary file(s) left by a process that died while writing: "
              << removed.front() << (removed.size() > 1 ? " ..." : "") << "\n";
}

}  // namespace

int cmd_train(const Args& args) {
  Flags f = train_flags();
  f.parse(args);
  if (help_or_version(f)) return kExitOk;
  Prepared P;
  std::exception_ptr error;
  try {
    prepare(f, P);
  } catch (...) {
    error = std::current_exception();
  }
  agree_or_throw(error, "pixelrnn train");  // a rank that cannot start (its data, its folder) stops every rank
  P.o.device = select_device(f.choice("device", "cpu", {"cpu", "cuda", "auto"}), "pixelrnn train");
  return run_training(P.o, P.train, P.val, P.o.resume ? &P.ck : nullptr);
}

}  // namespace pixelrnn::tool
