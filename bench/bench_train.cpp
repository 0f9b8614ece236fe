// bench/bench_train.cpp: training speed of the PixelRNN models, side by side with the PyTorch twin in
// ../shared/bench/torch_twin.py (same models, greyscale masks, 28x28, levels 2, random binarized inputs).
//
// One training step = zero_grad, forward nll, loss = sum over pixels / batch, backward, RMSProp step (lr 1e-3,
// rho 0.99 = PyTorch's default alpha, eps 1e-8), exactly what tools/pixelrnn/trainer.cpp does minus data loading.
// Timing follows the twin: 3 warm-up steps, then steps until the --seconds budget is spent (at least 5, at
// most 200); train_images_per_s = batch / median step time. peak_rss_mb is getrusage's ru_maxrss;
// rss_growth_mb is ru_maxrss at the end minus ru_maxrss before the model is built (the twin's definition).
// --sample: 16 images drawn by model->sample on an empty canvas (the naive sampler, one full forward pass per
// pixel, as the twin does). --phases adds the median forward / backward / optimizer times per step.
//
// usage: bench_train --model pixelcnn|row_lstm|diagonal_bilstm [--hidden 16] [--layers 7] [--batch 16]
//                    [--threads 2] [--seconds 10] [--sample] [--phases] [--json]
// A program, not a test. See docs/benchmarks.md ("Training speed vs the PyTorch twin").
#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/core/rng.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/reduce.h"
#include "framework/optim/optimizer.h"
#include "models/pixel_model.h"

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --model pixelcnn|row_lstm|diagonal_bilstm [--hidden H] [--layers L] [--batch B]\n"
               "          [--threads T] [--seconds S] [--sample] [--phases] [--json]\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // As tools/pixelrnn/main.cpp: keep the per-step activations in the heap instead of fresh mmaps every step.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  std::string model_name;
  int64_t hidden = 16, layers = 7, batch = 16;
  int threads = 2;
  double budget = 10.0;
  bool do_sample = false, phases = false, json = false;
  for (int a = 1; a < argc; ++a) {
    const std::string s = argv[a];
    const bool has_value = a + 1 < argc;
    if (s == "--json") json = true;
    else if (s == "--sample") do_sample = true;
    else if (s == "--phases") phases = true;
    else if (s == "--model" && has_value) model_name = argv[++a];
    else if (s == "--hidden" && has_value) hidden = std::atoll(argv[++a]);
    else if (s == "--layers" && has_value) layers = std::atoll(argv[++a]);
    else if (s == "--batch" && has_value) batch = std::atoll(argv[++a]);
    else if (s == "--threads" && has_value) threads = std::atoi(argv[++a]);
    else if (s == "--seconds" && has_value) budget = std::atof(argv[++a]);
    else return usage(argv[0]);
  }
  if (model_name.empty() || hidden < 1 || layers < 1 || batch < 1) return usage(argv[0]);

  try {
    fw::set_num_threads(threads);
    const double rss_base = peak_rss_mb();

    pixelrnn::ModelConfig cfg;
    cfg.model = model_name;
    cfg.channels = 1;
    cfg.height = 28;
    cfg.width = 28;
    cfg.levels = 2;
    cfg.layers = layers;
    cfg.hidden = hidden;
    fw::Rng rng(0);
    std::unique_ptr<pixelrnn::PixelModel> model = pixelrnn::make_model(cfg, rng);
    fw::optim::OptimizerOptions oo;
    oo.name = "rmsprop";
    oo.lr = 1e-3;
    oo.rho = 0.99;  // torch.optim.RMSprop's default alpha
    oo.eps = 1e-8;
    std::unique_ptr<fw::optim::Optimizer> opt = fw::optim::make_optimizer(model->named_parameters(), oo);

    // Random binarized inputs, P(1) = 0.3 as in the twin.
    fw::Rng data_rng(0);
    std::vector<float> xv(static_cast<size_t>(batch * 28 * 28));
    for (float& v : xv) v = data_rng.uniform() < 0.3 ? 1.0f : 0.0f;
    const fw::Tensor x = fw::Tensor::from_vector({batch, 1, 28, 28}, xv);

    std::vector<double> t_fwd, t_bwd, t_opt;
    auto step = [&](bool record) {
      auto t0 = Clock::now();
      opt->zero_grad();
      const fw::Tensor loss = fw::mul_scalar(fw::sum(model->nll(x)), 1.0 / double(batch));
      auto t1 = Clock::now();
      loss.backward();
      auto t2 = Clock::now();
      opt->step();
      auto t3 = Clock::now();
      if (record) {
        t_fwd.push_back(std::chrono::duration<double>(t1 - t0).count());
        t_bwd.push_back(std::chrono::duration<double>(t2 - t1).count());
        t_opt.push_back(std::chrono::duration<double>(t3 - t2).count());
      }
      return std::chrono::duration<double>(t3 - t0).count();
    };

    for (int i = 0; i < 3; ++i) step(false);
    std::vector<double> times;
    const auto t_start = Clock::now();
    while (times.size() < 5 || (since(t_start) < budget && times.size() < 200)) times.push_back(step(true));
    const double train_ips = double(batch) / median(times);

    double sample_ips = -1;
    if (do_sample) {
      fw::Rng srng(1);
      const fw::Tensor canvas = fw::Tensor::zeros({16, 1, 28, 28});
      const auto t0 = Clock::now();
      const fw::Tensor out = model->sample(canvas, fw::Tensor(), srng);
      sample_ips = 16.0 / since(t0);
    }
    const double peak = peak_rss_mb();
    const double growth = peak - rss_base;
    const int64_t params = model->num_parameters();

    if (json) {
      std::printf("{\"model\": \"%s\", \"hidden\": %lld, \"layers\": %lld, \"batch\": %lld, \"levels\": 2, "
                  "\"threads\": %d, \"parameters\": %lld, \"steps_timed\": %zu, \"train_images_per_s\": %.4f",
                  model_name.c_str(), (long long)hidden, (long long)layers, (long long)batch, fw::num_threads(),
                  (long long)params, times.size(), train_ips);
      if (phases)
        std::printf(", \"forward_ms\": %.3f, \"backward_ms\": %.3f, \"optimizer_ms\": %.3f", 1e3 * median(t_fwd),
                    1e3 * median(t_bwd), 1e3 * median(t_opt));
      if (do_sample) std::printf(", \"naive_sample_images_per_s\": %.4f", sample_ips);
      std::printf(", \"peak_rss_mb\": %.2f, \"rss_growth_mb\": %.2f}\n", peak, growth);
    } else {
      std::printf("model: %s\nhidden: %lld\nlayers: %lld\nbatch: %lld\nlevels: 2\nthreads: %d\nparameters: %lld\n"
                  "steps_timed: %zu\ntrain_images_per_s: %.2f\n",
                  model_name.c_str(), (long long)hidden, (long long)layers, (long long)batch, fw::num_threads(),
                  (long long)params, times.size(), train_ips);
      if (phases)
        std::printf("forward_ms: %.3f\nbackward_ms: %.3f\noptimizer_ms: %.3f\n", 1e3 * median(t_fwd),
                    1e3 * median(t_bwd), 1e3 * median(t_opt));
      if (do_sample) std::printf("naive_sample_images_per_s: %.2f\n", sample_ips);
      std::printf("peak_rss_mb: %.2f\nrss_growth_mb: %.2f\n", peak, growth);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train: %s\n", e.what());
    return 1;
  }
  return 0;
}
