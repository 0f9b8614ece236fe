// tools/pixelrnn/receptive_field.cpp: `pixelrnn receptive-field`: draws which input pixels the output at one
// pixel (and channel) depends on (models/receptive_field.h), for a freshly initialised model of a given
// configuration or for the model of a checkpoint.
#include <iostream>
#include <map>
#include <stdexcept>

#include "framework/core/parallel.h"
#include "framework/io/atomic_file.h"
#include "framework/io/png.h"
#include "models/receptive_field.h"
#include "tools/pixelrnn/checkpoint.h"
#include "tools/pixelrnn/commands.h"
#include "tools/pixelrnn/common.h"
#include "tools/pixelrnn/flags.h"

namespace pixelrnn::tool {

int cmd_receptive_field(const Args& args) {
  Flags f("pixelrnn receptive-field", "--model M [--hidden H --layers N --channels C --levels L --size S] "
          "--pixel R,C [--channel K] [--checkpoint FILE] -o OUT.png",
          "Draws the receptive field of the output distribution at pixel (R, C), channel K: the input pixels with a\n"
          "nonzero gradient (cyan, brighter = larger), the target (red), the unseen causal past (dark grey) and the\n"
          "future (black). Without --checkpoint the model is freshly initialised from --seed.");
  std::string names;
  for (const std::string& n : model_names()) names += (names.empty() ? "" : ", ") + n;
  f.value("model", "NAME", "model: " + names, "pixelcnn");
  f.value("hidden", "H", "hidden feature maps h", "the model's default");
  f.value("layers", "N", "layers", "the model's default");
  f.value("channels", "C", "image channels: 1 or 3", "1");
  f.value("levels", "L", "2 or 256", "2 for 1 channel, 256 for 3");
  f.value("size", "S", "image side (S x S pixels)", "28");
  f.value("inner", "KIND", "multiscale: layer kind of both networks", "row_lstm");
  f.value("small", "S", "multiscale: side of the small image (must divide --size)", "size / 2");
  f.value("pixel", "R,C", "the output pixel: row, column");
  f.value("channel", "K", "the output channel (0 = R, 1 = G, 2 = B)", "0");
  f.value("checkpoint", "FILE", "take the model (configuration and weights) from a checkpoint");
  f.value("output", "FILE", "PNG to write", "", "o");
  f.value("samples", "N", "random input images the gradient is averaged over", "4");
  f.value("seed", "S", "seed of the weights (without --checkpoint) and of the random inputs", "1");
  f.value("scale", "N", "pixels per image pixel (0: automatic)", "0");
  f.value("threads", "N", "worker threads (0: all cores)", "0");
  f.parse(args);
  if (help_or_version(f)) return kExitOk;
  if (!f.has("pixel")) throw UsageError("--pixel R,C is required");
  if (!f.has("output")) throw UsageError("-o OUT.png is required");
  const std::vector<int64_t> rc = parse_int_list("--pixel", f.str("pixel"), 2);
  const int64_t channel = f.integer("channel", 0, 0, 2);
  const int samples = int(f.integer("samples", 4, 1, 1024));
  const uint64_t seed = uint64_t(f.integer("seed", 1, 0));
  const int scale = int(f.integer("scale", 0, 0, 64));
  fw::set_num_threads(int(f.integer("threads", 0, 0, 4096)));
  if (f.has("model")) f.choice("model", "", model_names());
  check_extension(f, "output", ".png");
  check_output_file(f.str("output"), f.shown("output"));

  // The configuration: from the checkpoint (flags given must agree) or from the flags.
  ModelConfig cfg;
  Checkpoint ck;
  if (f.has("checkpoint")) {
    ck = read_checkpoint(f.str("checkpoint"));
    cfg = ck.config;
  }
  if (f.has("model")) cfg.model = f.str("model");
  cfg.hidden = f.integer("hidden", cfg.hidden, 1);
  cfg.layers = f.integer("layers", cfg.layers, 1);
  cfg.channels = f.integer("channels", f.has("checkpoint") ? cfg.channels : 1, 1, 3);
  cfg.levels = f.integer("levels", f.has("checkpoint") ? cfg.levels : default_levels(cfg.channels));
  if (cfg.levels != 2 && cfg.levels != 256) throw UsageError(f.shown("levels") + ": must be 2 or 256");
  if (f.has("size") || !f.has("checkpoint")) cfg.height = cfg.width = f.integer("size", 28, 1, 4096);
  if (f.has("inner")) cfg.inner = f.str("inner");
  if (f.has("small")) cfg.small = f.integer("small", 0, 1, 4096);
  if (cfg.model == "multiscale" && !f.has("checkpoint")) {
    const int64_t small = cfg.small > 0 ? cfg.small : cfg.height / 2;
    if (small < 1 || small >= cfg.height || cfg.height % small != 0)
      throw UsageError(f.shown("size") + " " + std::to_string(cfg.height) + (f.has("small") ? " " + f.shown("small") + " " + std::to_string(small) : "") +
                       ": the multiscale model needs a small image side (--small, default size / 2 = " +
                       std::to_string(cfg.height / 2) + ") in [1, size) that divides the side; got " +
                       std::to_string(small) + " for side " + std::to_string(cfg.height));
  }
  std::map<std::string, std::string> field_flags;
  for (const auto& [field, flag] : std::map<std::string, std::string>{{"model", "model"}, {"hidden", "hidden"},
           {"layers", "layers"}, {"channels", "channels"}, {"levels", "levels"}, {"height", "size"},
           {"inner", "inner"}, {"small", "small"}})
    field_flags[field] = f.shown(flag) + (f.has(flag) ? " " + f.str(flag) : "");
  cfg = resolve_model_config(cfg, field_flags, f.has("checkpoint") ? f.str("checkpoint") : "receptive-field");
  std::unique_ptr<PixelModel> model;
  if (f.has("checkpoint")) {
    const std::string d = ck.config.diff(cfg);
    if (!d.empty()) throw std::runtime_error(ck.path + ": the checkpoint does not match the flags given: " + d);
    model = load_model(ck);
  } else {
    fw::Rng rng(seed);
    model = make_model(cfg, rng);
  }
  if (rc[0] < 0 || rc[0] >= cfg.height || rc[1] < 0 || rc[1] >= cfg.width || channel >= cfg.channels)
    throw UsageError("--pixel " + f.str("pixel") + " --channel " + std::to_string(channel) + ": outside the " +
                     std::to_string(cfg.channels) + "x" + std::to_string(cfg.height) + "x" +
                     std::to_string(cfg.width) + " image");

  const ReceptiveField rf = receptive_field(*model, rc[0], rc[1], channel, samples, seed);
  int64_t h = 0, w = 0;
  const std::vector<uint8_t> rgb = render_receptive_field(rf, scale, h, w);
  const std::vector<uint8_t> png = fw::io::encode_png(rgb.data(), 3, h, w, f.str("output"));
  fw::io::write_file_atomic(f.str("output"), png.data(), png.size());
  std::cout << cfg.model << ": the output at pixel (" << rc[0] << ", " << rc[1] << "), channel " << channel
            << " sees " << rf.seen_pixels() << " input pixels\n";
  return kExitOk;
}

}  // namespace pixelrnn::tool
