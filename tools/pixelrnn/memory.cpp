// tools/pixelrnn/memory.cpp: memory estimates before training (see memory.h).
#include "tools/pixelrnn/memory.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "framework/core/rng.h"
#include "models/pixel_model.h"

namespace pixelrnn::tool {

namespace {

int64_t params_at(ModelConfig c, int64_t h, int64_t o) {
  c.hidden = h;
  c.out_hidden = o;
  fw::Rng rng(0);
  return make_model(c, rng)->num_parameters();
}

// Solves the 6x6 system a x = b by Gaussian elimination with partial pivoting; false when singular.
bool solve6(std::array<std::array<double, 7>, 6> a, std::array<double, 6>& x) {
  for (int col = 0; col < 6; ++col) {
    int piv = col;
    for (int r = col + 1; r < 6; ++r)
      if (std::fabs(a[size_t(r)][size_t(col)]) > std::fabs(a[size_t(piv)][size_t(col)])) piv = r;
    if (std::fabs(a[size_t(piv)][size_t(col)]) < 1e-12) return false;
    std::swap(a[size_t(piv)], a[size_t(col)]);
    for (int r = 0; r < 6; ++r) {
      if (r == col) continue;
      const double f = a[size_t(r)][size_t(col)] / a[size_t(col)][size_t(col)];
      for (int k = col; k < 7; ++k) a[size_t(r)][size_t(k)] -= f * a[size_t(col)][size_t(k)];
    }
  }
  for (int r = 0; r < 6; ++r) x[size_t(r)] = a[size_t(r)][6] / a[size_t(r)][size_t(r)];
  return true;
}

}  // namespace

int64_t count_parameters(const ModelConfig& cfg) {
  try {
    // 3 channels need multiples of 3 (R, G, B groups).
    const int64_t u = cfg.channels == 3 ? 3 : 1;
    const int64_t pts[6][2] = {{1, 1}, {2, 1}, {3, 1}, {1, 2}, {1, 3}, {2, 2}};
    std::array<std::array<double, 7>, 6> a{};
    for (int i = 0; i < 6; ++i) {
      const double h = double(pts[i][0] * u), o = double(pts[i][1] * u);
      a[size_t(i)] = {h * h, h, o * o, o, h * o, 1, double(params_at(cfg, pts[i][0] * u, pts[i][1] * u))};
    }
    std::array<double, 6> x{};
    if (!solve6(a, x)) return -1;
    auto eval = [&](double h, double o) { return x[0] * h * h + x[1] * h + x[2] * o * o + x[3] * o + x[4] * h * o + x[5]; };
    const int64_t check = params_at(cfg, 3 * u, 3 * u);
    if (std::llround(eval(double(3 * u), double(3 * u))) != check) return -1;  // not quadratic: unknown
    const double n = eval(double(cfg.hidden), double(cfg.out_hidden));
    if (!(n >= 0) || n > 9e18) return -1;
    return std::llround(n);
  } catch (const std::exception&) {
    return -1;
  }
}

uint64_t available_memory() {
  if (const char* env = std::getenv("PIXELRNN_MEMORY_LIMIT"); env && *env) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(env, &end, 10);
    if (end && *end == '\0') return v;
  }
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t value = 0;
  std::string unit;
  while (in >> key >> value >> unit)
    if (key == "MemAvailable:") return value * 1024;
  return 0;
}

std::string fmt_bytes(double b) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int k = 0;
  while (b >= 1024 && k < 6) {
    b /= 1024;
    ++k;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, k == 0 ? "%.0f %s" : "%.1f %s", b, units[k]);
  return buf;
}

MemoryEstimate estimate_training_memory(const ModelConfig& cfg, int64_t batch, int optimizer_slots) {
  MemoryEstimate e;
  e.parameters = count_parameters(cfg);
  if (e.parameters >= 0) e.model_bytes = double(e.parameters) * 4.0 * double(2 + optimizer_slots);
  // At least the layer outputs and their gradients, (N, 2h, H, W) each, in every layer (both networks of the
  // Multi-scale model), the output stack's maps, and the output distribution with its gradient.
  const double pixels = double(batch) * double(cfg.height) * double(cfg.width);
  const double layers = double(cfg.layers) * (cfg.model == "multiscale" ? 2.0 : 1.0);
  e.activation_bytes = 4.0 * pixels *
                       (2.0 * layers * 2.0 * double(cfg.hidden) + 2.0 * 2.0 * double(cfg.out_hidden) +
                        2.0 * double(cfg.channels) * double(cfg.levels == 2 ? 1 : cfg.levels));
  return e;
}

void check_training_memory(const ModelConfig& cfg, int64_t batch, int optimizer_slots,
                           const std::string& model_flags) {
  const uint64_t avail = available_memory();
  if (avail == 0) return;
  const MemoryEstimate e = estimate_training_memory(cfg, batch, optimizer_slots);
  if (e.model_bytes > double(avail))
    throw std::runtime_error(model_flags + ": the model has " + std::to_string(e.parameters) +
                             " parameters; its weights, gradients and optimizer state need about " +
                             fmt_bytes(e.model_bytes) + ", more than the " + fmt_bytes(double(avail)) +
                             " of memory available; choose a smaller model");
  if (e.model_bytes + e.activation_bytes > double(avail))
    throw std::runtime_error("--batch " + std::to_string(batch) + ": one training step needs at least about " +
                             fmt_bytes(e.activation_bytes) + " of activations (" + std::to_string(batch) +
                             " images of " + std::to_string(cfg.channels) + "x" + std::to_string(cfg.height) + "x" +
                             std::to_string(cfg.width) + ") beside the model's " + fmt_bytes(e.model_bytes) +
                             ", more than the " + fmt_bytes(double(avail)) +
                             " of memory available; use a smaller --batch (or a smaller model)");
}

}  // namespace pixelrnn::tool
