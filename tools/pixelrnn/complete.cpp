// tools/pixelrnn/complete.cpp: `pixelrnn complete`: hides part of each image (the bottom half, or --rect) and lets
// the model fill the hidden pixels k times. Visible pixels are kept exactly as given.
#include <cstdio>
#include <iostream>

#include "framework/core/parallel.h"
#include "framework/io/png.h"
#include "tools/pixelrnn/checkpoint.h"
#include "tools/pixelrnn/commands.h"
#include "tools/pixelrnn/common.h"
#include "tools/pixelrnn/data_select.h"
#include "tools/pixelrnn/flags.h"
#include "tools/pixelrnn/model_ops.h"
#include "tools/pixelrnn/progress.h"

namespace pixelrnn::tool {

namespace {

// The images to complete: PNG files given as arguments, else -n images spread evenly over the split.
fw::io::Dataset input_images(const Flags& f, const Checkpoint& ck) {
  if (f.args().empty()) return select_images(f, ck, 8, Pick::kSpread);
  const ModelConfig& c = ck.config;
  fw::io::Dataset d;
  d.n = int64_t(f.args().size());
  d.c = c.channels;
  d.h = c.height;
  d.w = c.width;
  d.source = f.args().size() == 1 ? f.args()[0] : "the PNG files";
  for (const std::string& path : f.args()) {
    const fw::io::Image img = fw::io::read_png(path, int(c.channels), c.height, c.width);
    d.pixels.insert(d.pixels.end(), img.pixels.begin(), img.pixels.end());
  }
  return to_pixel_space(d, PixelSpace{c.levels, binarize_mode(f, ck)});
}

}  // namespace

int cmd_complete(const Args& args) {
  Flags f("pixelrnn complete", "--checkpoint FILE [--data DATA --split S -n N | IMAGE.png ...] [-k K] -o GRID.png",
          "Hides the bottom half of each image (or --rect) and draws K completions of the hidden pixels from the\n"
          "model of a checkpoint. The grid shows, per row: original | occluded (hidden pixels grey) | K completions.\n"
          "A class-conditional model (train --conditional) completes each image given its label in the data.");
  f.positionals("IMAGE.png ...", "PNG images of the model's size and channels (instead of --data)");
  f.value("checkpoint", "FILE", "checkpoint (.safetensors) written by pixelrnn train");
  add_data_flags(f, "complete N images spread evenly over the split: image floor((i+1)*n/N)-1 for i < N, as the "
                    "validation hold-out (default: 8, or all when fewer)");
  f.value("k", "K", "completions per image", "4", "k");
  f.value("rect", "TOP,LEFT,HEIGHT,WIDTH", "the hidden rectangle, in pixels", "the bottom half");
  f.value("seed", "S", "seed of the sampling RNG", "0");
  f.value("output", "FILE", "PNG grid to write", "", "o");
  f.value("npy", "FILE", "also write the completions as uint8 (N, K, C, H, W) .npy in the model's pixel values "
                         "(0/1 for levels 2, 0..255 for levels 256)");
  f.value("threads", "N", "worker threads (0: all cores)", "0");
  add_device_flag(f);
  f.flag("naive", "use the reference sampler (one full forward pass per drawn element; slow, same images)");
  add_progress_flags(f);
  f.parse(args);
  if (help_or_version(f)) return kExitOk;
  if (!f.has("checkpoint")) throw UsageError("--checkpoint FILE is required");
  if (!f.has("output") && !f.has("npy")) throw UsageError("-o GRID.png (or --npy FILE) is required");
  if (!f.args().empty() && (f.has("data") || f.has("count") || f.has("split")))
    throw UsageError("give either PNG files or --data/--split/-n, not both");
  const int64_t k = f.integer("k", 4, 1, 256);
  const uint64_t seed = uint64_t(f.integer("seed", 0, 0));
  fw::set_num_threads(int(f.integer("threads", 0, 0, 4096)));
  std::vector<int64_t> rect;
  if (f.has("rect")) rect = parse_int_list("--rect", f.str("rect"), 4);
  const ProgressStyle style = progress_style(f);
  if (f.has("output")) check_extension(f, "output", ".png");
  if (f.has("npy")) check_extension(f, "npy", ".npy");
  if (f.has("output")) check_output_file(f.str("output"), f.shown("output"));
  if (f.has("npy")) check_output_file(f.str("npy"), "--npy");

  const Checkpoint ck = read_checkpoint(f.str("checkpoint"));
  const ModelConfig& c = ck.config;
  if (rect.empty()) rect = {c.height / 2, 0, c.height - c.height / 2, c.width};
  const int64_t top = rect[0], left = rect[1], rh = rect[2], rw = rect[3];
  if (top < 0 || left < 0 || rh <= 0 || rw <= 0 || top + rh > c.height || left + rw > c.width)
    throw UsageError("--rect " + f.str("rect") + ": the rectangle must be non-empty and inside the " +
                     std::to_string(c.height) + "x" + std::to_string(c.width) + " image");
  const fw::io::Dataset d = input_images(f, ck);
  // Sampling runs on the CPU whatever --device says (docs/cuda.md): the flag is checked, so --device cuda without
  // a usable GPU still fails as it does for train and eval.
  if (select_device(f.choice("device", "cpu", {"cpu", "cuda", "auto"}), "pixelrnn complete") == fw::Device::CUDA)
    std::fprintf(stderr, "pixelrnn complete: sampling runs on the CPU (docs/cuda.md)\n");
  const std::unique_ptr<PixelModel> model = load_model(ck);

  // Canvas and mask: every image repeated k times; hidden pixels 0 and unknown.
  const int64_t isz = d.image_size(), n = d.n;
  std::vector<float> canvas(size_t(n * k * isz)), known(canvas.size());
  std::vector<uint8_t> hidden(size_t(isz), 0);
  for (int64_t ch = 0; ch < c.channels; ++ch)
    for (int64_t y = top; y < top + rh; ++y)
      for (int64_t x = left; x < left + rw; ++x) hidden[size_t((ch * c.height + y) * c.width + x)] = 1;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j)
      for (int64_t e = 0; e < isz; ++e) {
        const size_t at = size_t((i * k + j) * isz + e);
        known[at] = hidden[size_t(e)] ? 0.0f : 1.0f;
        canvas[at] = hidden[size_t(e)] ? 0.0f : float(d.image(i)[e]);
      }
  const fw::Shape shape{n * k, c.channels, c.height, c.width};
  fw::Rng rng(seed);
  SampleOptions opts;
  opts.naive = f.on("naive");
  TaskProgress progress(style, "complete", "elements");
  opts.progress = [&](int64_t done, int64_t total) { progress.update(done, total); };  // throws on SIGINT/SIGTERM
  const fw::Tensor canvas_t = fw::Tensor::from_vector(shape, canvas), known_t = fw::Tensor::from_vector(shape, known);
  std::vector<int64_t> labels;  // a class-conditional model completes each image given its own label
  if (model->class_conditional())
    for (int64_t label : labels_of(d, 0, n)) labels.insert(labels.end(), size_t(k), label);
  const std::vector<uint8_t> out = tensor_bytes(model->class_conditional()
                                                    ? model->class_sample(canvas_t, known_t, rng, labels, opts)
                                                    : model->sample(canvas_t, known_t, rng, opts));
  progress.finish();
  for (size_t at = 0; at < out.size(); ++at)
    if (known[at] != 0.0f && float(out[at]) != canvas[at])
      throw std::runtime_error("the model changed a visible pixel (element " + std::to_string(at) + ")");

  if (f.has("npy")) write_npy_u8(f.str("npy"), out.data(), {n, k, c.channels, c.height, c.width});
  if (f.has("output")) {
    // Rows: original | occluded | k completions, as 8-bit display values.
    std::vector<uint8_t> grid;
    grid.reserve(size_t(n * (k + 2) * isz));
    for (int64_t i = 0; i < n; ++i) {
      const std::vector<uint8_t> orig = display_bytes(d.image(i), size_t(isz), c.levels);
      grid.insert(grid.end(), orig.begin(), orig.end());
      for (int64_t e = 0; e < isz; ++e) grid.push_back(hidden[size_t(e)] ? 128 : orig[size_t(e)]);
      const std::vector<uint8_t> done = display_bytes(out.data() + i * k * isz, size_t(k * isz), c.levels);
      grid.insert(grid.end(), done.begin(), done.end());
    }
    write_grid_png(f.str("output"), grid.data(), n * (k + 2), c.channels, c.height, c.width, k + 2);
  }
  if (!style.quiet)
    std::cerr << "pixelrnn complete: " << n << " images x " << k << " completions of the rectangle rows [" << top << ", "
            << top + rh << ") columns [" << left << ", " << left + rw << ") from " << ck.path << "\n";
  return kExitOk;
}

}  // namespace pixelrnn::tool
