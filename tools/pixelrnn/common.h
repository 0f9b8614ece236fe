// tools/pixelrnn/common.h: helpers shared by the pixelrnn subcommands: loading a dataset in the model's pixel
// space, converting between datasets, tensors and 8-bit images, and writing PNG grids and .npy files atomically.
//
// Pixel spaces: a model with levels 2 sees binary pixels {0, 1}; with levels 256 it sees 0..255. Files written
// as .npy hold values in the model's space; PNG files are always shown as 8-bit (0/1 -> 0/255).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/io/dataset.h"
#include "models/config.h"

namespace pixelrnn::tool {

// The seed of stochastic binarization: fixed, so every run (and eval after train) sees the same binary images.
constexpr uint64_t kBinarizeSeed = 0;

// How 8-bit images become the model's pixels.
struct PixelSpace {
  int64_t levels = 2;                  // 2 or 256
  std::string binarize = "stochastic";  // stochastic | threshold (levels 2 only)
  uint64_t seed = kBinarizeSeed;        // of stochastic binarization
};

// Loads one split of a dataset folder or file (resolve_data, data_lookup.h, turns --data into the path;
// fw::io::load_dataset) and maps it into the pixel space.
// throws: fw::io::DataError naming the data and the problem (missing, unreadable, empty, malformed).
fw::io::Dataset load_data(const std::string& path, const std::string& split, const PixelSpace& space);
// Maps an 8-bit dataset into the pixel space (binarizes for levels 2, else a copy).
fw::io::Dataset to_pixel_space(const fw::io::Dataset& d, const PixelSpace& space);

// cfg.resolved(), with its errors ("ModelConfig.<field>: problem") turned into ones the user can act on: a field
// in field_flags (e.g. {"hidden", "--hidden 7"}, the flag as typed with its value) gives a UsageError
// "--hidden 7: problem"; any other field a std::runtime_error "<context>: <field>: problem".
ModelConfig resolve_model_config(const ModelConfig& cfg, const std::map<std::string, std::string>& field_flags,
                                 const std::string& context);

// The default levels for a dataset with c channels: 2 (binary, as the paper's MNIST) for 1, 256 for 3.
int64_t default_levels(int64_t channels);

// requires nothing. throws: std::runtime_error saying how the images of d differ from what cfg (from the
// checkpoint `what`) expects (channels, height, width), and, for levels 2, non-binary pixels.
void check_data_matches(const fw::io::Dataset& d, const ModelConfig& cfg, const std::string& what);

// Images [begin, end) of d as a float tensor (n, c, h, w) of pixel values.
fw::Tensor images_tensor(const fw::io::Dataset& d, int64_t begin, int64_t end);
// A tensor of whole-number pixel values back to bytes (rounded, clamped to 0..255).
std::vector<uint8_t> tensor_bytes(const fw::Tensor& t);
// Pixel values in the model's space to 8-bit display values (levels 2: 0/1 -> 0/255).
std::vector<uint8_t> display_bytes(const uint8_t* px, size_t n, int64_t levels);

// Writes n 8-bit images (n, c, h, w) as a grid PNG, per_row images a row, 2 grey pixels of padding, upscaled
// like fw::io::write_png_grid (scale 0: automatic). Atomic: the file is either the old one or the complete new
// one. throws: std::runtime_error / fw::io::IoError naming path.
void write_grid_png(const std::string& path, const uint8_t* px, int64_t n, int64_t c, int64_t h, int64_t w,
                    int64_t per_row);
// .npy writers (framework/io/npy.h encoding), atomic.
void write_npy_u8(const std::string& path, const uint8_t* data, const std::vector<int64_t>& shape);
void write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape);

// Checks, before any work is done, that an output file can be written later: its folder exists and is writable
// and the path is not a folder. throws: std::runtime_error naming path and the reason.
void check_output_file(const std::string& path, const std::string& flag);
// Creates the folder (and parents) when missing and checks it is writable by creating and removing a probe
// file. throws: std::runtime_error naming the folder and the system's reason.
void ensure_output_dir(const std::string& dir);
bool file_exists(const std::string& path);

// Round-trippable decimal text of a double ("%.17g") and of an unsigned 64-bit integer.
std::string fmt_double(double v);
// Short human-readable decimal ("%.4f"-ish) for progress and summaries.
std::string fmt_short(double v, int digits = 4);

// ---- --device (train, eval, bench; sample and complete accept it and draw on the CPU). docs/cuda.md.
class Flags;
// Declares --device cpu|cuda|auto (default cpu) on f.
void add_device_flag(Flags& f);
// The CUDA plugin to load: $PIXELRNN_CUDA_PLUGIN when set, else the first that exists of: the installed plugin
// beside an installed program (<root>/<libdir>/libpixelrnn_cuda.so for <root>/<bindir>/pixelrnn), the one this
// build made (build/plugins/cuda/libpixelrnn_cuda.so), the one installed at <prefix>/<libdir> (compile-time paths);
// "" when none exists.
std::string cuda_plugin_path();
// Where `command` ("pixelrnn train") runs for --device `choice`: cpu: the CPU, silently. cuda: loads the plugin
// (fw::load_backend_plugin) and returns Device::CUDA, or throws std::runtime_error "--device cuda: ..." naming the
// plugin and the reason (not built, not loadable, no GPU). auto: cuda when that works, else the CPU; either way one
// line on stderr says which device and, for the CPU, why.
fw::Device select_device(const std::string& choice, const std::string& command);
const char* device_name(fw::Device d);

}  // namespace pixelrnn::tool
