// bench/bench_step.cpp: a fixed amount of training work for instruction counting under callgrind (a program,
// not a test; wall-clock timings on a shared machine mean nothing, instruction counts do).
//
// One warm-up training step, then --steps measured steps inside measured_steps(), the function to collect:
//   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_steps*' \
//     build/bench/bench_step --model pixelcnn --steps 1
//   callgrind_annotate --inclusive=yes callgrind.out.<pid>
// A step is what bench/bench_train.cpp times: zero_grad, forward nll, loss = sum / batch, backward, RMSProp step.
// Prints the loss of every measured step (%.9g), so two builds can be checked to compute the same thing.
//
// usage: bench_step --model pixelcnn|row_lstm|diagonal_bilstm [--hidden 16] [--layers 7] [--batch 16]
//                   [--steps 1] [--threads 1]
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
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

struct Job {
  pixelrnn::PixelModel* model;
  fw::optim::Optimizer* opt;
  fw::Tensor x;  // x: (batch, 1, 28, 28)
  int64_t batch;
};

double train_step(const Job& j) {
  j.opt->zero_grad();
  const fw::Tensor loss = fw::mul_scalar(fw::sum(j.model->nll(j.x)), 1.0 / double(j.batch));
  loss.backward();
  j.opt->step();
  return loss.item();
}

// The steps callgrind collects (--toggle-collect='*measured_steps*').
__attribute__((noinline)) std::vector<double> measured_steps(const Job& j, int steps) {
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) losses.push_back(train_step(j));
  return losses;
}

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --model pixelcnn|row_lstm|diagonal_bilstm [--hidden H] [--layers L] [--batch B]\n"
               "          [--steps S] [--threads T]\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_name;
  int64_t hidden = 16, layers = 7, batch = 16;
  int threads = 1, steps = 1;
  for (int a = 1; a < argc; ++a) {
    const std::string s = argv[a];
    const bool has_value = a + 1 < argc;
    if (s == "--model" && has_value) model_name = argv[++a];
    else if (s == "--hidden" && has_value) hidden = std::atoll(argv[++a]);
    else if (s == "--layers" && has_value) layers = std::atoll(argv[++a]);
    else if (s == "--batch" && has_value) batch = std::atoll(argv[++a]);
    else if (s == "--steps" && has_value) steps = std::atoi(argv[++a]);
    else if (s == "--threads" && has_value) threads = std::atoi(argv[++a]);
    else return usage(argv[0]);
  }
  if (model_name.empty() || hidden < 1 || layers < 1 || batch < 1 || steps < 1) return usage(argv[0]);
  try {
    fw::set_num_threads(threads);
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
    oo.rho = 0.99;
    oo.eps = 1e-8;
    std::unique_ptr<fw::optim::Optimizer> opt = fw::optim::make_optimizer(model->named_parameters(), oo);
    fw::Rng data_rng(0);
    std::vector<float> xv(static_cast<size_t>(batch * 28 * 28));
    for (float& v : xv) v = data_rng.uniform() < 0.3 ? 1.0f : 0.0f;  // binarized, P(1) = 0.3 as in the twin
    const Job job{model.get(), opt.get(), fw::Tensor::from_vector({batch, 1, 28, 28}, xv), batch};
    std::printf("warm-up loss: %.9g\n", train_step(job));
    for (double l : measured_steps(job, steps)) std::printf("loss: %.9g\n", l);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_step: %s\n", e.what());
    return 1;
  }
  return 0;
}
