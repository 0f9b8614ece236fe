// tools/pixelrnn/model_ops.cpp: dataset NLL and sampling (see model_ops.h).
#include "tools/pixelrnn/model_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "framework/core/autograd.h"
#include "tools/pixelrnn/common.h"

namespace pixelrnn::tool {

namespace {
fw::Device device_of(const PixelModel& model) {
  const std::vector<fw::Tensor> params = model.parameters();
  return params.empty() ? fw::Device::CPU : params.front().device();
}
// Sampling runs on the CPU (docs/cuda.md): a model on a device (--device cuda) is moved to the host for the draw
// and back afterwards, also when the draw throws (a grid that would take too long, a signal).
class OnHostWhileSampling {
 public:
  explicit OnHostWhileSampling(PixelModel& m) : model_(m), device_(device_of(m)) {
    if (device_ != fw::Device::CPU) model_.to_device(fw::Device::CPU);
  }
  ~OnHostWhileSampling() {
    if (device_ == fw::Device::CPU) return;
    try {
      model_.to_device(device_);
    } catch (const std::exception& e) {  // the next step then fails naming its op and the devices
      std::fprintf(stderr, "moving the model back to the device after sampling failed: %s\n", e.what());
    }
  }
  OnHostWhileSampling(const OnHostWhileSampling&) = delete;
  OnHostWhileSampling& operator=(const OnHostWhileSampling&) = delete;

 private:
  PixelModel& model_;
  fw::Device device_;
};
}  // namespace

double bits_per_dim(double nll_nats, int64_t dims) { return nll_nats / (double(dims) * std::log(2.0)); }

std::vector<int64_t> labels_of(const fw::io::Dataset& d, int64_t begin, int64_t end) {
  if (!d.has_labels())
    throw std::runtime_error(d.source + ": no class labels, but the model is class-conditional (trained with "
                                        "--conditional): its likelihood needs a label per image");
  return std::vector<int64_t>(d.labels.begin() + begin, d.labels.begin() + end);
}

NllResult evaluate_nll(PixelModel& model, const fw::io::Dataset& d, int64_t batch, std::vector<float>* per_pixel,
                       const std::function<void(int64_t)>& progress) {
  if (batch <= 0) throw std::invalid_argument("evaluate_nll: batch must be > 0");
  fw::NoGradGuard no_grad;
  const fw::Device device = device_of(model);  // --device: batches go where the model is
  const int64_t isz = d.image_size();
  if (per_pixel) per_pixel->assign(size_t(d.n * isz), 0.0f);
  double total = 0;
  for (int64_t b = 0; b < d.n; b += batch) {
    const int64_t e = std::min(d.n, b + batch);
    const fw::Tensor x = images_tensor(d, b, e).to_device(device);  // x: (e - b, C, H, W)
    const std::vector<float> nll =
        (model.class_conditional() ? model.class_nll(x, labels_of(d, b, e)) : model.nll(x)).to_float_vector();
    if (int64_t(nll.size()) != (e - b) * isz)
      throw std::runtime_error("model returned " + std::to_string(nll.size()) + " NLL values for " +
                               std::to_string((e - b) * isz) + " pixel values");
    for (int64_t i = 0; i < e - b; ++i) {
      double img = 0;
      for (int64_t k = 0; k < isz; ++k) img += nll[size_t(i * isz + k)];
      total += img;
    }
    if (per_pixel) std::copy(nll.begin(), nll.end(), per_pixel->begin() + b * isz);
    if (progress) progress(e);
  }
  NllResult r;
  r.images = d.n;
  r.nll_nats = total / double(d.n);
  r.bits_per_dim = bits_per_dim(r.nll_nats, isz);
  return r;
}

std::vector<uint8_t> sample_images(PixelModel& model, int64_t n, int64_t batch, fw::Rng& rng,
                                   const SampleOptions& opts, const std::vector<int64_t>& labels) {
  if (model.class_conditional() && int64_t(labels.size()) != n)
    throw std::invalid_argument("sample_images: the model is class-conditional: " + std::to_string(n) +
                                " images need " + std::to_string(n) + " labels, got " + std::to_string(labels.size()));
  const ModelConfig& cfg = model.config();
  const int64_t isz = cfg.channels * cfg.height * cfg.width;
  std::vector<uint8_t> out;
  out.reserve(size_t(n * isz));
  fw::NoGradGuard no_grad;
  const OnHostWhileSampling on_host(model);
  const int64_t batches = (n + batch - 1) / batch;
  for (int64_t b = 0; b < n; b += batch) {
    const int64_t m = std::min(batch, n - b), index = b / batch;
    SampleOptions o = opts;
    if (opts.progress)
      o.progress = [&opts, index, batches](int64_t done, int64_t total) {
        opts.progress(index * total + done, batches * total);
      };
    const fw::Tensor canvas = fw::Tensor::zeros({m, cfg.channels, cfg.height, cfg.width});
    const std::vector<uint8_t> px = tensor_bytes(
        model.class_conditional()
            ? model.class_sample(canvas, fw::Tensor(), rng,
                                 std::vector<int64_t>(labels.begin() + b, labels.begin() + b + m), o)
            : model.sample(canvas, fw::Tensor(), rng, o));
    out.insert(out.end(), px.begin(), px.end());
  }
  return out;
}

}  // namespace pixelrnn::tool
