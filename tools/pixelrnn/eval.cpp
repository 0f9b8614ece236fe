// tools/pixelrnn/eval.cpp: `pixelrnn eval`: the negative log-likelihood of a dataset split under a checkpoint, in
// nats per image and bits per dimension, optionally per pixel into a .npy file.
#include <iostream>
#include <nlohmann/json.hpp>

#include "framework/core/parallel.h"
#include "tools/pixelrnn/checkpoint.h"
#include "tools/pixelrnn/commands.h"
#include "tools/pixelrnn/common.h"
#include "tools/pixelrnn/data_select.h"
#include "tools/pixelrnn/distributed.h"
#include "tools/pixelrnn/flags.h"
#include "tools/pixelrnn/interrupt.h"
#include "tools/pixelrnn/model_ops.h"
#include "tools/pixelrnn/progress.h"

namespace pixelrnn::tool {

int cmd_eval(const Args& args) {
  Flags f("pixelrnn eval", "--checkpoint FILE [--data DATA] [--split test] [-n N] [--json] [--per-pixel FILE.npy]",
          "Computes -log p(x) of the images of a dataset split under the model of a checkpoint: the mean over\n"
          "images in nats, and in bits per dimension (nats / (C*H*W*ln 2)). For a class-conditional model (train\n"
          "--conditional) it is the conditional NLL -log p(x | label), with the split's class labels.\n"
          "For a levels-2 model the 8-bit images are binarized first, as in training: --binarize stochastic draws\n"
          "each pixel as 1 with probability value/255 from the seed stored in the checkpoint (train.binarize_seed,\n"
          "always 0), drawn once over the whole split in order, so every eval of a split sees the same binary\n"
          "images; threshold maps values >= 128 to 1.\n"
          "Under mpirun the batches are shared out over the ranks (rank 0 prints and writes).");
  f.value("checkpoint", "FILE", "checkpoint (.safetensors) written by pixelrnn train; it gives the model");
  add_data_flags(f, "evaluate the first N images of the split (default: all)");
  f.value("batch", "N", "images per forward pass", "64");
  f.value("threads", "N", "worker threads (0: all cores)", "0");
  add_device_flag(f);
  f.flag("json", "print {\"nll_nats\", \"bits_per_dim\", \"images\"} as JSON on stdout");
  f.value("per-pixel", "FILE", "write the per-pixel (per-channel) NLL in nats as float32 (N, C, H, W) .npy");
  add_progress_flags(f);
  f.parse(args);
  if (help_or_version(f)) return kExitOk;
  if (!f.has("checkpoint")) throw UsageError("--checkpoint FILE is required");
  const int64_t batch = f.integer("batch", 64, 1);
  fw::set_num_threads(int(f.integer("threads", 0, 0, 4096)));
  f.choice("split", "test", {"train", "test"});
  if (f.has("binarize")) f.choice("binarize", "", {"stochastic", "threshold"});
  const ProgressStyle style = progress_style(f);
  const std::string per_pixel = f.str("per-pixel");
  if (f.has("per-pixel")) check_extension(f, "per-pixel", ".npy");
  if (f.has("per-pixel")) check_output_file(per_pixel, "--per-pixel");

  const Checkpoint ck = read_checkpoint(f.str("checkpoint"));
  const fw::io::Dataset d = select_images(f, ck, -1);
  const std::unique_ptr<PixelModel> model = load_model(ck);
  model->to_device(select_device(f.choice("device", "cpu", {"cpu", "cuda", "auto"}), "pixelrnn eval"));
  std::vector<float> px;
  TaskProgress progress(style, "eval", "images");
  // Under mpirun the batches are shared out over the ranks and the sums reduced (distributed.h); rank 0 reports.
  const bool parallel = fw::dist::world().size() > 1, writer = fw::dist::world().rank() == 0;
  const NllResult r = evaluate_nll_all_ranks(*model, d, batch, f.has("per-pixel") ? &px : nullptr,
                                             [&](int64_t done) {
                                               if (writer) progress.update(done, d.n, !parallel);
                                             });  // throws on SIGINT/SIGTERM in one process
  progress.finish();
  if (parallel) check_interrupt();  // every rank got the signal from mpirun
  if (!writer) return kExitOk;
  if (f.has("per-pixel")) write_npy_f32(per_pixel, px.data(), {d.n, d.c, d.h, d.w});
  if (f.on("json")) {
    nlohmann::json j = {{"nll_nats", r.nll_nats}, {"bits_per_dim", r.bits_per_dim}, {"images", r.images}};
    if (model->class_conditional()) j["conditional"] = true;  // -log p(x | label)
    std::cout << j.dump() << std::endl;
  } else {
    std::cout << (model->class_conditional() ? "conditional NLL -log p(x | label) " : "NLL ")
              << fmt_short(r.nll_nats) << " nats per image, " << fmt_short(r.bits_per_dim) << " bits/dim over "
              << r.images << " images of " << d.source
              << (model->class_conditional() ? " (given their class labels)" : "") << "\n";
  }
  return kExitOk;
}

}  // namespace pixelrnn::tool
