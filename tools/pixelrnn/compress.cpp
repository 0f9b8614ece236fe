// tools/pixelrnn/compress.cpp: `pixelrnn compress` and `pixelrnn decompress`: lossless coding of images with the
// model of a checkpoint (models/lossless.h) into the file format of compressed_file.h. docs/tool.md ("compress")
// describes the commands; the decoded images are checked against the checksum in the file.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>

#include "framework/core/parallel.h"
#include "framework/io/atomic_file.h"
#include "framework/io/idx.h"
#include "framework/io/png.h"
#include "framework/io/range_coder.h"
#include "models/lossless.h"
#include "tools/pixelrnn/checkpoint.h"
#include "tools/pixelrnn/commands.h"
#include "tools/pixelrnn/common.h"
#include "tools/pixelrnn/compressed_file.h"
#include "tools/pixelrnn/data_select.h"
#include "tools/pixelrnn/flags.h"
#include "tools/pixelrnn/progress.h"

namespace pixelrnn::tool {
namespace {

namespace fsys = std::filesystem;
using Clock = std::chrono::steady_clock;

// The weights hash: FNV-1a 64 over the configuration (ModelConfig::describe) and every parameter's name, shape
// and float32 bytes, in the model's parameter order (docs/weights.md).
uint64_t weights_hash(const PixelModel& model) {
  const std::string d = model.config().describe();
  uint64_t h = fnv1a64(reinterpret_cast<const uint8_t*>(d.data()), d.size());
  for (const auto& [name, t] : model.named_parameters()) {
    h = fnv1a64(reinterpret_cast<const uint8_t*>(name.data()), name.size() + 1, h);
    const std::string shape = t.str();
    h = fnv1a64(reinterpret_cast<const uint8_t*>(shape.data()), shape.size(), h);
    const std::vector<float> v = t.to_float_vector();
    h = fnv1a64(reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float), h);
  }
  return h;
}

// The images to compress: PNG files given as arguments (levels 2: pixels must be 0 or 255 unless --binarize is
// given), else the first -n images of the split in the checkpoint's pixel space.
fw::io::Dataset input_images(const Flags& f, const Checkpoint& ck) {
  if (f.args().empty()) return select_images(f, ck, -1, Pick::kFirst);
  const ModelConfig& c = ck.config;
  fw::io::Dataset d;
  d.n = int64_t(f.args().size());
  d.c = c.channels;
  d.h = c.height;
  d.w = c.width;
  d.source = f.args().size() == 1 ? f.args()[0] : "the PNG files";
  for (const std::string& path : f.args()) {
    const fw::io::Image img = fw::io::read_png(path, int(c.channels), c.height, c.width);
    if (c.levels == 2 && !f.has("binarize"))
      for (size_t i = 0; i < img.pixels.size(); ++i)
        if (img.pixels[i] != 0 && img.pixels[i] != 255)
          throw std::runtime_error(path + ": pixel " + std::to_string(i) + " is " + std::to_string(img.pixels[i]) +
                                   "; the levels-2 model of " + ck.path + " codes binary images (0 or 255): "
                                   "pass --binarize threshold|stochastic to binarize it first (lossy)");
    d.pixels.insert(d.pixels.end(), img.pixels.begin(), img.pixels.end());
  }
  if (c.levels == 2 && !f.has("binarize")) {
    for (auto& p : d.pixels) p = p ? 1 : 0;
    return d;
  }
  return to_pixel_space(d, PixelSpace{c.levels, binarize_mode(f, ck)});
}

uint64_t image_checksum(const std::vector<uint8_t>& px) { return fnv1a64(px.data(), px.size()); }

// An IDX output path (else a folder of PNGs).
bool is_idx_path(const std::string& p) {
  auto ends = [&](const std::string& s) { return p.size() >= s.size() && p.compare(p.size() - s.size(), s.size(), s) == 0; };
  return ends(".idx") || ends("-ubyte") || ends(".idx.gz") || ends("-ubyte.gz");
}

}  // namespace

int cmd_compress(const Args& args) {
  Flags f("pixelrnn compress", "--checkpoint FILE (--data DATA [--split S] [-n N] | IMAGE.png ...) -o FILE",
          "Codes images losslessly with the model of a checkpoint: a range coder driven by the model's\n"
          "distribution of every pixel, in the order the model generates them. The file's size is about the\n"
          "model's NLL of the images in bits plus a 72-byte header. pixelrnn decompress with the same checkpoint\n"
          "gives the images back bit for bit. Images come in the checkpoint's pixel space (levels 2: binarized as\n"
          "eval does; see pixelrnn eval --help).");
  f.positionals("IMAGE.png ...", "PNG images of the model's size and channels (instead of --data)");
  f.value("checkpoint", "FILE", "checkpoint (.safetensors) written by pixelrnn train");
  add_data_flags(f, "compress the first N images of the split (default: all)");
  f.value("output", "FILE", "the compressed file to write", "", "o");
  f.value("chunk", "N", "images per generator call, 1..4096 (memory grows with it; decompress uses the same)", "64");
  f.value("threads", "N", "worker threads (0: all cores; the output does not depend on it)", "0");
  add_progress_flags(f);
  f.parse(args);
  if (help_or_version(f)) return kExitOk;
  if (!f.has("checkpoint")) throw UsageError("--checkpoint FILE is required");
  if (!f.has("output")) throw UsageError("-o FILE is required");
  if (!f.args().empty() && (f.has("data") || f.has("count") || f.has("split")))
    throw UsageError("give either PNG files or --data/--split/-n, not both");
  const int64_t chunk_flag = f.integer("chunk", 64, 1, kMaxChunk);
  fw::set_num_threads(int(f.integer("threads", 0, 0, 4096)));
  const ProgressStyle style = progress_style(f);
  check_output_file(f.str("output"), f.shown("output"));

  const Checkpoint ck = read_checkpoint(f.str("checkpoint"));
  if (f.has("binarize") && ck.config.levels != 2)
    throw UsageError("--binarize applies to levels-2 models; " + ck.path + " has levels " +
                     std::to_string(ck.config.levels));
  const fw::io::Dataset d = input_images(f, ck);
  check_data_matches(d, ck.config, ck.path);
  const std::unique_ptr<PixelModel> model = load_model(ck);
  const int64_t chunk = std::min(chunk_flag, d.n);

  const auto t0 = Clock::now();
  fw::io::RangeEncoder enc;
  double ideal_bits = 0;
  TaskProgress progress(style, "compress", "images");
  for (int64_t b = 0; b < d.n; b += chunk) {
    const int64_t e = std::min(d.n, b + chunk);
    ideal_bits += encode_images(*model, images_tensor(d, b, e), enc);
    progress.update(e, d.n);  // throws on SIGINT/SIGTERM: nothing written
  }
  progress.finish();
  const std::vector<uint8_t> payload = enc.finish();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();

  CompressedHeader h;
  h.height = d.h;
  h.width = d.w;
  h.channels = d.c;
  h.levels = ck.config.levels;
  h.chunk = chunk;
  h.count = d.n;
  h.weights_hash = weights_hash(*model);
  h.checksum = image_checksum(d.pixels);
  const std::vector<uint8_t> file = serialize_compressed(h, payload);
  fw::io::write_file_atomic(f.str("output"), file.data(), file.size());
  if (!style.quiet)
    std::cerr << "pixelrnn compress: " << d.n << " images of " << d.source << " -> " << f.str("output") << ": "
              << file.size() << " bytes (" << fmt_short(8.0 * double(payload.size()) / double(d.n), 2)
              << " payload bits per image, ideal " << fmt_short(ideal_bits / double(d.n), 2) << "), "
              << fmt_short(double(d.n) / secs, 1) << " images/s\n";
  return kExitOk;
}

int cmd_decompress(const Args& args) {
  Flags f("pixelrnn decompress", "--checkpoint FILE COMPRESSED -o OUT",
          "Decodes a file written by pixelrnn compress with the same checkpoint (its weights hash must match) and\n"
          "writes the images: OUT ending in .idx, -ubyte (or those plus .gz) gives one IDX image file (greyscale\n"
          "only), anything else a folder of PNGs 000000.png, 000001.png, ... Binary (levels 2) images are written\n"
          "as 0/255. The decoded images are checked against the checksum in the file.");
  f.positionals("COMPRESSED", "the file written by pixelrnn compress");
  f.value("checkpoint", "FILE", "checkpoint (.safetensors) the file was compressed with");
  f.value("output", "OUT", "a folder of PNGs, or an IDX file (.idx / -ubyte, optionally .gz)", "", "o");
  f.value("threads", "N", "worker threads (0: all cores; the output does not depend on it)", "0");
  add_progress_flags(f);
  f.parse(args);
  if (help_or_version(f)) return kExitOk;
  if (!f.has("checkpoint")) throw UsageError("--checkpoint FILE is required");
  if (!f.has("output")) throw UsageError("-o OUT is required");
  if (f.args().size() != 1) throw UsageError("give exactly one compressed file");
  fw::set_num_threads(int(f.integer("threads", 0, 0, 4096)));
  const ProgressStyle style = progress_style(f);
  const std::string in = f.args()[0], out = f.str("output");
  const bool idx = is_idx_path(out);
  if (idx) check_output_file(out, f.shown("output"));

  const std::vector<uint8_t> bytes = fw::io::read_file_bytes(in);
  const uint8_t* payload = nullptr;
  const CompressedHeader h = parse_compressed(bytes.data(), bytes.size(), in, &payload);
  const Checkpoint ck = read_checkpoint(f.str("checkpoint"));
  const ModelConfig& c = ck.config;
  if (c.height != h.height || c.width != h.width || c.channels != h.channels || c.levels != h.levels)
    throw std::runtime_error(in + ": holds " + std::to_string(h.channels) + "x" + std::to_string(h.height) + "x" +
                             std::to_string(h.width) + " images of " + std::to_string(h.levels) +
                             " levels, but the model of " + ck.path + " is " + c.describe());
  const std::unique_ptr<PixelModel> model = load_model(ck);
  const uint64_t wh = weights_hash(*model);
  if (wh != h.weights_hash)
    throw std::runtime_error(in + ": compressed with the model of weights hash " + hash_hex(h.weights_hash) +
                             ", but " + ck.path + " has weights hash " + hash_hex(wh) +
                             "; decompress with the checkpoint it was compressed with");
  if (idx && h.channels != 1)
    throw UsageError(f.shown("output") + " " + out + ": IDX holds greyscale images; these have " +
                     std::to_string(h.channels) + " channels (give a folder for PNGs)");
  if (!idx) ensure_output_dir(out);

  const auto t0 = Clock::now();
  fw::io::RangeDecoder dec(payload, static_cast<size_t>(h.payload_size));
  std::vector<uint8_t> px;
  px.reserve(static_cast<size_t>(h.count * h.channels * h.height * h.width));
  TaskProgress progress(style, "decompress", "images");
  for (int64_t b = 0; b < h.count; b += h.chunk) {
    const int64_t e = std::min(h.count, b + h.chunk);
    const std::vector<uint8_t> got = tensor_bytes(decode_images(*model, e - b, dec));
    px.insert(px.end(), got.begin(), got.end());
    progress.update(e, h.count);
    if (dec.overrun() > 8)  // far past the end: no point decoding the rest
      throw std::runtime_error(in + ": corrupt or truncated payload (the decoder ran past its end)");
  }
  progress.finish();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (dec.overrun() > 0 || dec.position() != h.payload_size)
    throw std::runtime_error(in + ": corrupt payload (the decoder used " + std::to_string(dec.position()) +
                             " of its " + std::to_string(h.payload_size) + " bytes)");
  if (image_checksum(px) != h.checksum)
    throw std::runtime_error(in + ": corrupt payload: the decoded images' checksum " +
                             hash_hex(image_checksum(px)) + " differs from the file's " + hash_hex(h.checksum));

  const std::vector<uint8_t> shown = display_bytes(px.data(), px.size(), h.levels);
  if (idx) {
    const bool gz = out.size() > 3 && out.compare(out.size() - 3, 3, ".gz") == 0;
    fw::io::write_idx_images(out, shown.data(), h.count, h.height, h.width, gz);
  } else {
    const int64_t isz = h.channels * h.height * h.width;
    for (int64_t i = 0; i < h.count; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "%06lld.png", static_cast<long long>(i));
      const std::vector<uint8_t> png =
          fw::io::encode_png(shown.data() + i * isz, h.channels, h.height, h.width, name);
      fw::io::write_file_atomic((fsys::path(out) / name).string(), png.data(), png.size());
    }
  }
  if (!style.quiet)
    std::cerr << "pixelrnn decompress: " << h.count << " images -> " << out << ", checksum "
              << hash_hex(h.checksum) << " verified, " << fmt_short(double(h.count) / secs, 1) << " images/s\n";
  return kExitOk;
}

}  // namespace pixelrnn::tool
