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
  add_device_flag(f);
  f.flag("naive", "use the reference sampler (one full forward pass per drawn element; slow, same images)");
  add_progress_flags(f);
  f.parse(args);
  if (help_or_version(f)) return kExitOk;
  if (!f.has("checkpoint")) throw UsageError("--checkpoint FILE is required");
  if (!f.has("output") && !f.has("npy")) throw UsageError("-o GRID.png (or --npy FILE) is required");
  const int64_t n = f.integer("count", 16, 1, 4096);
  const uint64_t seed = uint64_t(f.integer("seed", 0, 0));
  const int64_t per_row = f.integer("per-row", 8, 1);
  const int64_t batch = f.integer("batch", n, 1);
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
  fw::Rng rng(seed);
  SampleOptions opts;
  opts.naive = f.on("naive");
  TaskProgress progress(style, "sample", "elements");
  opts.progress = [&](int64_t done, int64_t total) { progress.update(done, total); };  // throws on SIGINT/SIGTERM
  const std::vector<uint8_t> px = sample_images(*model, n, batch, rng, opts);
  progress.finish();
  if (f.has("npy")) write_npy_u8(f.str("npy"), px.data(), {n, c.channels, c.height, c.width});
  if (f.has("output")) {
    const std::vector<uint8_t> shown = display_bytes(px.data(), px.size(), c.levels);
    write_grid_png(f.str("output"), shown.data(), n, c.channels, c.height, c.width, per_row);
  }
  if (!style.quiet)
    std::cerr << "pixelrnn sample: " << n << " images of " << c.channels << "x" << c.height << "x" << c.width
            << " from " << ck.path << " (seed " << seed << ")\n";
  return kExitOk;
}

}  // namespace pixelrnn::tool
