// tools/pixelrnn/common.cpp: shared helpers of the pixelrnn subcommands (see common.h).
#include "tools/pixelrnn/common.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "framework/backend/backend.h"
#include "framework/io/atomic_file.h"
#include "framework/io/npy.h"
#include "framework/io/png.h"
#include "framework/io/preprocess.h"
#include "tools/pixelrnn/flags.h"

namespace pixelrnn::tool {

fw::io::Dataset to_pixel_space(const fw::io::Dataset& d, const PixelSpace& space) {
  if (space.levels == 256) return d;
  if (space.binarize == "threshold") return fw::io::binarize_threshold(d);
  return fw::io::binarize_stochastic(d, space.seed);
}

fw::io::Dataset load_data(const std::string& path, const std::string& split, const PixelSpace& space) {
  return to_pixel_space(fw::io::load_dataset(path, split), space);
}

ModelConfig resolve_model_config(const ModelConfig& cfg, const std::map<std::string, std::string>& field_flags,
                                 const std::string& context) {
  try {
    return cfg.resolved();
  } catch (const std::invalid_argument& e) {
    std::string msg = e.what(), field;
    const std::string prefix = "ModelConfig.";
    if (msg.rfind(prefix, 0) == 0 && msg.find(": ") != std::string::npos) {
      field = msg.substr(prefix.size(), msg.find(": ") - prefix.size());
      msg = msg.substr(msg.find(": ") + 2);
    }
    auto it = field_flags.find(field);
    if (it != field_flags.end()) throw UsageError(it->second + ": " + msg);
    throw std::runtime_error(context + ": " + (field.empty() ? "" : field + ": ") + msg);
  }
}

int64_t default_levels(int64_t channels) { return channels == 1 ? 2 : 256; }

void check_data_matches(const fw::io::Dataset& d, const ModelConfig& cfg, const std::string& what) {
  if (d.c != cfg.channels || d.h != cfg.height || d.w != cfg.width)
    throw std::runtime_error(what + " is a model of " + std::to_string(cfg.channels) + "x" +
                             std::to_string(cfg.height) + "x" + std::to_string(cfg.width) +
                             " images (channels x height x width), but " + d.source + " holds " +
                             std::to_string(d.c) + "x" + std::to_string(d.h) + "x" + std::to_string(d.w) +
                             " images");
  if (cfg.levels == 2)
    for (uint8_t v : d.pixels)
      if (v > 1) throw std::runtime_error(d.source + ": pixel value " + std::to_string(v) + " in a binary dataset");
}

fw::Tensor images_tensor(const fw::io::Dataset& d, int64_t begin, int64_t end) {
  const int64_t isz = d.image_size();
  std::vector<float> x(size_t((end - begin) * isz));
  const uint8_t* src = d.image(begin);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(src[i]);
  return fw::Tensor::from_vector({end - begin, d.c, d.h, d.w}, x);
}

std::vector<uint8_t> tensor_bytes(const fw::Tensor& t) {
  const std::vector<float> v = t.to_float_vector();
  std::vector<uint8_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const float r = std::nearbyint(v[i]);
    out[i] = uint8_t(std::isnan(r) ? 0.0f : std::clamp(r, 0.0f, 255.0f));
  }
  return out;
}

std::vector<uint8_t> display_bytes(const uint8_t* px, size_t n, int64_t levels) {
  std::vector<uint8_t> out(px, px + n);
  if (levels == 2)
    for (uint8_t& v : out) v = v ? 255 : 0;
  return out;
}

void write_grid_png(const std::string& path, const uint8_t* px, int64_t n, int64_t c, int64_t h, int64_t w,
                    int64_t per_row) {
  if (n <= 0 || (c != 1 && c != 3) || h <= 0 || w <= 0 || per_row <= 0)
    throw std::runtime_error(path + ": cannot draw a grid of " + std::to_string(n) + " images of " +
                             std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w));
  // Same layout as fw::io::write_png_grid (pad 2, grey 128, automatic integer upscale), but written atomically.
  const int64_t pad = 2, scale = std::max<int64_t>(1, std::min<int64_t>(8, 64 / std::max(h, w)));
  const int64_t cols = std::min(n, per_row), rows = (n + per_row - 1) / per_row;
  const int64_t cw = w * scale, chh = h * scale;
  const int64_t W = cols * cw + (cols + 1) * pad, H = rows * chh + (rows + 1) * pad;
  if (W > 32768 || H > 32768)
    throw std::runtime_error(path + ": a grid of " + std::to_string(W) + "x" + std::to_string(H) +
                             " pixels is too large (cap 32768); ask for fewer images");
  std::vector<uint8_t> canvas(size_t(c * H * W), 128);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t oy = pad + (i / per_row) * (chh + pad), ox = pad + (i % per_row) * (cw + pad);
    const uint8_t* img = px + i * c * h * w;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < chh; ++y)
        for (int64_t x = 0; x < cw; ++x)
          canvas[size_t((ch * H + oy + y) * W + ox + x)] = img[(ch * h + y / scale) * w + x / scale];
  }
  const std::vector<uint8_t> bytes = fw::io::encode_png(canvas.data(), c, H, W, path);
  fw::io::write_file_atomic(path, bytes.data(), bytes.size());
}

void write_npy_u8(const std::string& path, const uint8_t* data, const std::vector<int64_t>& shape) {
  const std::vector<uint8_t> b = fw::io::encode_npy("|u1", shape, data, path);
  fw::io::write_file_atomic(path, b.data(), b.size());
}

void write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
  const std::vector<uint8_t> b = fw::io::encode_npy("<f4", shape, data, path);
  fw::io::write_file_atomic(path, b.data(), b.size());
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

static std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void check_output_file(const std::string& path, const std::string& flag) {
  if (path.empty()) throw std::runtime_error(flag + ": empty output path");
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw std::runtime_error(path + ": is a folder, not a file (" + flag + ")");
  const std::string dir = parent_dir(path);
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw std::runtime_error(path + ": cannot write: folder '" + dir + "' does not exist (" + flag + ")");
  if (::access(dir.c_str(), W_OK) != 0)
    throw std::runtime_error(path + ": cannot write in folder '" + dir + "': " + std::strerror(errno) + " (" +
                             flag + ")");
}

void ensure_output_dir(const std::string& dir) {
  if (dir.empty()) throw std::runtime_error("--out: empty folder name");
  // mkdir -p, one component at a time.
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string part = dir.substr(0, pos);
    struct stat st;
    if (::stat(part.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) throw std::runtime_error(dir + ": cannot create the output folder: '" + part + "' is not a folder");
      continue;
    }
    if (::mkdir(part.c_str(), 0777) != 0 && errno != EEXIST)
      throw std::runtime_error(dir + ": cannot create the output folder: " + std::strerror(errno));
  }
  const std::string probe = dir + "/.pixelrnn-write-test." + std::to_string(::getpid());
  FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f) throw std::runtime_error(dir + ": the output folder is not writable: " + std::strerror(errno));
  std::fclose(f);
  std::remove(probe.c_str());
}

std::string fmt_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string fmt_short(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// ---- --device

#ifndef PIXELRNN_CUDA_PLUGIN_PATH
#define PIXELRNN_CUDA_PLUGIN_PATH ""
#endif
#ifndef PIXELRNN_CUDA_PLUGIN_NAME
#define PIXELRNN_CUDA_PLUGIN_NAME ""
#endif
#ifndef PIXELRNN_PREFIX
#define PIXELRNN_PREFIX ""
#endif
#ifndef PIXELRNN_BINDIR
#define PIXELRNN_BINDIR "bin"
#endif
#ifndef PIXELRNN_LIBDIR
#define PIXELRNN_LIBDIR "lib"
#endif

void add_device_flag(Flags& f) {
  f.value("device", "D", "cpu | cuda | auto: where the model runs (cuda: the CUDA plugin, docs/cuda.md; auto: cuda "
          "when the plugin loads and finds a GPU, else the CPU)", "cpu");
}

const char* device_name(fw::Device d) { return d == fw::Device::CUDA ? "cuda" : "cpu"; }

// The installed plugin of an installed program: <root>/<libdir>/<name> when this program is <root>/<bindir>/<exe>
// (so a tree installed with DESTDIR, or moved, finds its own plugin); "" when the program does not sit in a bindir
// (e.g. it runs from the build directory) or bindir / libdir are absolute paths.
static std::string installed_plugin_beside_program(const std::string& name) {
  const std::string bindir = PIXELRNN_BINDIR, libdir = PIXELRNN_LIBDIR;
  if (name.empty() || bindir.empty() || libdir.empty() || bindir[0] == '/' || libdir[0] == '/') return "";
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  const std::string exe(buf, static_cast<size_t>(n));
  const size_t slash = exe.rfind('/');
  if (slash == std::string::npos) return "";
  const std::string dir = exe.substr(0, slash), tail = "/" + bindir;
  if (dir.size() < tail.size() || dir.compare(dir.size() - tail.size(), tail.size(), tail) != 0) return "";
  return dir.substr(0, dir.size() - tail.size()) + "/" + libdir + "/" + name;
}

std::string cuda_plugin_path() {
  const char* env = std::getenv("PIXELRNN_CUDA_PLUGIN");
  if (env && *env) return env;
  const std::string name = PIXELRNN_CUDA_PLUGIN_NAME, prefix = PIXELRNN_PREFIX, libdir = PIXELRNN_LIBDIR;
  std::vector<std::string> candidates = {installed_plugin_beside_program(name), PIXELRNN_CUDA_PLUGIN_PATH};
  if (!name.empty() && !prefix.empty())
    candidates.push_back((libdir[0] == '/' ? libdir : prefix + "/" + libdir) + "/" + name);
  for (const std::string& c : candidates)
    if (!c.empty() && file_exists(c)) return c;
  return "";
}

fw::Device select_device(const std::string& choice, const std::string& command) {
  if (choice == "cpu") return fw::Device::CPU;
  if (choice != "cuda" && choice != "auto")
    throw UsageError("--device: expected cpu, cuda or auto, got '" + choice + "'");
  std::string why;
  if (fw::backend_for(FW_CUDA)) return fw::Device::CUDA;  // loaded already
  const std::string path = cuda_plugin_path();
  if (path.empty()) {
    why = "no CUDA plugin: this build has none (nvcc was not found, or -Dcuda=disabled) and PIXELRNN_CUDA_PLUGIN "
          "is not set";
  } else {
    try {
      fw::load_backend_plugin(path);
    } catch (const std::exception& e) {
      why = e.what();
      if (why.find("returned no backend") != std::string::npos)
        why = path + ": no usable CUDA GPU (the plugin loaded but found no device)";
    }
  }
  if (why.empty() && fw::backend_for(FW_CUDA)) {
    if (choice == "auto") std::fprintf(stderr, "%s: --device auto: running on cuda (%s)\n", command.c_str(), path.c_str());
    return fw::Device::CUDA;
  }
  if (why.empty()) why = path + ": the plugin registered no CUDA device";
  if (choice == "cuda") throw std::runtime_error("--device cuda: " + why);
  std::fprintf(stderr, "%s: --device auto: running on the CPU (%s)\n", command.c_str(), why.c_str());
  return fw::Device::CPU;
}

}  // namespace pixelrnn::tool
