// tools/pixelrnn/sample.cpp: `pixelrnn sample`: draws images from the model of a checkpoint into a PNG grid and
// optionally a .npy file, reproducibly for a given --seed.
#include <cstdio>
#include <iostream>

#include "framework/core/parallel.h"
#include "tools/pixelrnn/checkpoint.h"
#include "tools/pixelrnn/commands.h"
#include "tools/pixelrnn/common.h"
#include "tools/pixelrnn/flags.h"
#include "tools/pixelrnn/model_ops.h"
#include "tools/pixelrnn/progress.h"

namespace pixelrnn::tool {

int cmd_sample(const Args& args) {
  Flags f("pixelrnn sample", "--checkpoint FILE [-n N] [--seed S] -o GRID.png [--npy FILE.npy]",
          "Draws N images from the model of a checkpoint, pixel by pixel in raster order, into a PNG grid.");
  f.value("checkpoint", "FILE", "checkpoint (.safetensors) written by pixelrnn train");
  f.value("count", "N", "images to draw", "16", "n");
  f.value("seed", "S", "seed of the sampling RNG", "0");
  f.value("output", "FILE", "PNG grid to write", "", "o");
  f.value("npy", "FILE", "also write the images as uint8 (N, C, H, W) .npy in the model's pixel values "
                         "(0/1 for levels 2, 0..255 for levels 256)");
  f.value("per-row", "N", "images per grid row", "8");
  f.value("batch", "N", "images drawn at once (the result depends on it, like on the seed)", "N");
  f.value("threads", "N", "worker threads (0: all cores)", "0");
  f.value("class", "K|all", "class-conditional models: draw every image of class K, or with 'all' --per-row images "
                            "of each class, one grid row per class (then -n does not apply)");
  add_device_flag(f);
  f.flag("naive", "use the reference sampler (one full forward pass per drawn element; slow, same images)");
  add_progress_flags(f);
  f.parse(args);
  if (help_or_version(f)) return kExitOk;
  if (!f.has("checkpoint")) throw UsageError("--checkpoint FILE is required");
  if (!f.has("output") && !f.has("npy")) throw UsageError("-o GRID.png (or --npy FILE) is required");
  int64_t n = f.integer("count", 16, 1, 4096);
  const uint64_t seed = uint64_t(f.integer("seed", 0, 0));
  const int64_t per_row = f.integer("per-row", 8, 1);
  const bool all_classes = f.has("class") && f.str("class") == "all";
  if (all_classes && f.has("count"))
    throw UsageError(f.shown("class") + " all draws " + f.shown("per-row") + " images of each class; " +
                     f.shown("count") + " does not apply");
  fw::set_num_threads(int(f.integer("threads", 0, 0, 4096)));
  const ProgressStyle style = progress_style(f);
  if (f.has("output")) check_extension(f, "output", ".png");
  if (f.has("npy")) check_extension(f, "npy", ".npy");
  if (f.has("output")) check_output_file(f.str("output"), f.shown("output"));
  if (f.has("npy")) check_output_file(f.str("npy"), "--npy");

  const Checkpoint ck = read_checkpoint(f.str("checkpoint"));
  // Sampling runs on the CPU whatever --device says (docs/cuda.md): the flag is checked, so --device cuda without
  // a usable GPU still fails as it does for train and eval.
  if (select_device(f.choice("device", "cpu", {"cpu", "cuda", "auto"}), "pixelrnn sample") == fw::Device::CUDA)
    std::fprintf(stderr, "pixelrnn sample: sampling runs on the CPU (docs/cuda.md)\n");
  const std::unique_ptr<PixelModel> model = load_model(ck);
  const ModelConfig& c = ck.config;
  // The labels: one per image for a class-conditional model (--class K or all), none otherwise.
  std::vector<int64_t> labels;
  if (f.has("class") && c.classes == 0)
    throw UsageError(f.shown("class") + ": the model of " + ck.path + " is unconditional (trained without " +
                     "--conditional); it cannot be given a class");
  if (c.classes > 0) {
    if (!f.has("class"))
      throw UsageError("the model of " + ck.path + " is class-conditional (" + std::to_string(c.classes) +
                       " classes): give " + f.shown("class") + " K (0.." + std::to_string(c.classes - 1) +
                       ") or " + f.shown("class") + " all");
    if (all_classes) {
      n = c.classes * per_row;
      for (int64_t k = 0; k < c.classes; ++k) labels.insert(labels.end(), size_t(per_row), k);
    } else {
      const int64_t k = f.integer("class", 0, 0, c.classes - 1);  // UsageError naming the flag and the range
      labels.assign(size_t(n), k);
    }
  }
  const int64_t batch = f.integer("batch", n, 1);
  fw::Rng rng(seed);
  SampleOptions opts;
  opts.naive = f.on("naive");
  TaskProgress progress(style, "sample", "elements");
  opts.progress = [&](int64_t done, int64_t total) { progress.update(done, total); };  // throws on SIGINT/SIGTERM
  const std::vector<uint8_t> px = sample_images(*model, n, batch, rng, opts, labels);
  progress.finish();
  if (f.has("npy")) write_npy_u8(f.str("npy"), px.data(), {n, c.channels, c.height, c.width});
  if (f.has("output")) {
    const std::vector<uint8_t> shown = display_bytes(px.data(), px.size(), c.levels);
    write_grid_png(f.str("output"), shown.data(), n, c.channels, c.height, c.width, per_row);
  }
  if (!style.quiet)
    std::cerr << "pixelrnn sample: " << n << " images of " << c.channels << "x" << c.height << "x" << c.width
            << " from " << ck.path << " (seed " << seed
            << (labels.empty() ? std::string()
                               : all_classes ? ", one row per class" : ", class " + std::to_string(labels[0]))
            << ")\n";
  return kExitOk;
}

}  // namespace pixelrnn::tool
