// tools/pixelrnn/trainer.cpp: the training loop (see trainer.h).
#include "tools/pixelrnn/trainer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "framework/io/atomic_file.h"
#include "framework/io/batches.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/reduce.h"
#include "framework/optim/optimizer.h"
#include "tools/pixelrnn/commands.h"
#include "tools/pixelrnn/common.h"
#include "tools/pixelrnn/metrics.h"
#include "tools/pixelrnn/model_ops.h"
#include "tools/pixelrnn/progress.h"

namespace pixelrnn::tool {

namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_stop_signal(int sig) { g_signal = sig; }

// Installs the SIGINT/SIGTERM handlers for the lifetime of a training run. SA_RESETHAND: a second signal while
// the checkpoint is being saved gets the default action (the process ends; the atomic write keeps the old file).
class StopSignals {
 public:
  StopSignals() {
    g_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

// Seeds derived from --seed for the streams other than the initial weights (fw::Rng(seed)).
constexpr uint64_t kSampleSeedSalt = 0x9E3779B97F4A7C15ull;

bool all_finite(const PixelModel& m) {
  for (const fw::Tensor& p : m.parameters())
    for (float v : p.to_float_vector())
      if (!std::isfinite(v)) return false;
  return true;
}

void write_config_json(const TrainOptions& o, const fw::io::Dataset& train, const fw::io::Dataset& val) {
  nlohmann::json j;
  for (const auto& [k, v] : o.cfg.to_metadata()) j["model"][k] = v;
  for (const auto& [k, v] : stored_options(o)) j["train"][k] = v;
  j["data"] = {{"source", train.source}, {"train_images", train.n}, {"val_images", val.n},
               {"channels", train.c}, {"height", train.h}, {"width", train.w}};
  j["threads"] = o.threads;
  fw::io::write_file_atomic(o.out + "/config.json", j.dump(2) + "\n");
}

}  // namespace

int run_training(const TrainOptions& o, const fw::io::Dataset& train, const fw::io::Dataset& val,
                 const Checkpoint* ck) {
  using Clock = std::chrono::steady_clock;
  const std::string ckpt_path = o.out + "/last.safetensors";
  const std::string samples_dir = o.out + "/samples";
  if (o.grid > 0 && ::mkdir(samples_dir.c_str(), 0777) != 0 && errno != EEXIST)
    throw std::runtime_error(samples_dir + ": cannot create: " + std::strerror(errno));

  fw::Rng init_rng(o.seed);
  std::unique_ptr<PixelModel> model = make_model(o.cfg, init_rng);
  fw::optim::OptimizerOptions oo;
  oo.name = o.optimizer;
  oo.lr = o.lr;
  std::unique_ptr<fw::optim::Optimizer> opt = fw::optim::make_optimizer(model->named_parameters(), oo);
  fw::io::BatchIterator batches(train, o.batch, o.seed, /*shuffle=*/true, /*drop_last=*/false);
  fw::Rng sample_rng(o.seed ^ kSampleSeedSalt);
  TrainProgress p;
  if (ck) {
    load_weights(*ck, *model);
    load_optimizer(*ck, *opt);
    p = read_progress(*ck);
    batches.restore(p.batches);
    sample_rng.set_state(p.sample_rng);
  }

  Progress progress(::isatty(2) != 0, o.log_every);
  progress.message(describe_options(o) + "  parameters: " + std::to_string(model->num_parameters()) +
                   "\n  training images: " + std::to_string(train.n) + ", validation images: " +
                   std::to_string(val.n) + ", steps per epoch: " + std::to_string(batches.batches_per_epoch()) +
                   (ck ? "\n  resuming at step " + std::to_string(p.step) + " (epoch " + std::to_string(p.epoch) + ")"
                       : std::string()));
  write_config_json(o, train, val);
  MetricsLog metrics(o.out + "/metrics.csv", ck ? p.step : -1);

  const auto run_start = Clock::now();
  const double elapsed_before = p.elapsed_s;
  auto run_seconds = [&] { return std::chrono::duration<double>(Clock::now() - run_start).count(); };
  auto last_save_time = Clock::now();
  int64_t last_saved_step = -1;
  auto save = [&] {
    if (!all_finite(*model))
      throw std::runtime_error("step " + std::to_string(p.step) + ": the weights are no longer finite; training "
                               "stopped and " + ckpt_path + " keeps the last good state");
    p.batches = batches.state();
    p.sample_rng = sample_rng.state();
    p.elapsed_s = elapsed_before + run_seconds();
    save_checkpoint(ckpt_path, *model, opt.get(), checkpoint_metadata(o.cfg, stored_options(o), &p));
    last_saved_step = p.step;
    last_save_time = Clock::now();
  };
  StopSignals signals;
  if (!ck) save();  // step 0: a run always has a checkpoint to resume from

  const int64_t dims = o.cfg.channels * o.cfg.height * o.cfg.width;
  int64_t total_steps = o.steps;
  if (o.epochs >= 0) {
    const int64_t t = o.epochs * batches.batches_per_epoch();
    total_steps = total_steps < 0 ? t : std::min(total_steps, t);
  }
  auto done = [&] {
    return (o.steps >= 0 && p.step >= o.steps) || (o.epochs >= 0 && p.epoch >= o.epochs) ||
           (o.minutes >= 0 && elapsed_before + run_seconds() >= o.minutes * 60);
  };
  int64_t steps_run = 0, images_run = 0;
  double last_loss = std::nan(""), last_val = std::nan("");
  while (!done() && !g_signal) {
    const fw::io::Batch b = batches.next();
    const int64_t step = p.step + 1;
    const fw::Tensor x = fw::Tensor::from_vector({b.n, b.c, b.h, b.w}, b.x);
    opt->zero_grad();
    const fw::Tensor loss = fw::mul_scalar(fw::sum(model->nll(x)), 1.0 / double(b.n));
    double lv = loss.item();
    if (step == o.inject_nan_step) lv = std::numeric_limits<double>::quiet_NaN();
    if (!std::isfinite(lv)) {
      progress.finish();
      throw std::runtime_error("step " + std::to_string(step) + ": the loss is " + (std::isnan(lv) ? "NaN" : "infinite") +
                               "; training stopped. " + ckpt_path + " keeps the last good state (step " +
                               std::to_string(last_saved_step) + "); try a smaller --lr or --clip");
    }
    loss.backward();
    if (o.clip > 0) fw::optim::clip_grad_norm(model->parameters(), o.clip);
    opt->step();
    p.step = step;
    ++steps_run;
    images_run += b.n;
    last_loss = lv;
    const bool epoch_end = batches.state().position >= train.n;
    if (epoch_end) ++p.epoch;

    const double secs = run_seconds();
    MetricsRow row;
    row.step = step;
    row.epoch = b.epoch + 1;
    row.loss_nats = lv;
    row.bits_per_dim = bits_per_dim(lv, dims);
    row.images_per_s = secs > 0 ? double(images_run) / secs : 0;
    row.elapsed_s = elapsed_before + secs;
    StepInfo info{step, total_steps, b.epoch + 1, lv, row.bits_per_dim, row.images_per_s, -1};
    if (total_steps > 0) info.eta_s = double(total_steps - step) * secs / double(steps_run);
    if (o.minutes >= 0) {
      const double left = std::max(0.0, o.minutes * 60 - row.elapsed_s);
      info.eta_s = info.eta_s < 0 ? left : std::min(info.eta_s, left);
    }
    progress.step(info);

    if (epoch_end) {
      std::string line = "epoch " + std::to_string(p.epoch) + " done at step " + std::to_string(step) +
                         ": train loss " + fmt_short(lv) + " nats";
      if (val.n > 0) {
        const NllResult r = evaluate_nll(*model, val, o.batch, nullptr);
        row.has_val = true;
        row.val_nll_nats = r.nll_nats;
        row.val_bits_per_dim = r.bits_per_dim;
        last_val = r.nll_nats;
        line += ", validation NLL " + fmt_short(r.nll_nats) + " nats (" + fmt_short(r.bits_per_dim) + " bits/dim)";
      }
      if (o.grid > 0) {
        const std::vector<uint8_t> s = sample_images(*model, o.grid, o.grid, sample_rng);
        const std::vector<uint8_t> shown = display_bytes(s.data(), s.size(), o.cfg.levels);
        char name[32];
        std::snprintf(name, sizeof name, "/epoch-%04lld.png", (long long)p.epoch);
        write_grid_png(samples_dir + name, shown.data(), o.grid, o.cfg.channels, o.cfg.height, o.cfg.width,
                       std::min<int64_t>(o.grid, 8));
      }
      progress.message(line);
    }
    metrics.add(row);
    const bool timed = o.save_every_minutes > 0 &&
                       std::chrono::duration<double>(Clock::now() - last_save_time).count() >= o.save_every_minutes * 60;
    if (epoch_end || timed || (o.save_every_steps > 0 && step % o.save_every_steps == 0)) save();
  }
  progress.finish();
  if (last_saved_step != p.step) save();

  if (g_signal) {
    const int sig = g_signal;
    std::fprintf(stderr, "pixelrnn train: %s received: checkpoint of step %lld saved to %s\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)p.step, ckpt_path.c_str());
    return sig == SIGINT ? kExitSigint : kExitSigterm;
  }
  std::fprintf(stderr, "pixelrnn train: done: step %lld, epoch %lld, %.1f s; checkpoint %s\n", (long long)p.step,
               (long long)p.epoch, p.elapsed_s, ckpt_path.c_str());
  if (o.json) {
    nlohmann::json j = {{"steps", p.step}, {"epochs", p.epoch}, {"elapsed_s", p.elapsed_s},
                        {"checkpoint", ckpt_path}};
    j["train_loss_nats"] = std::isfinite(last_loss) ? nlohmann::json(last_loss) : nlohmann::json(nullptr);
    j["val_nll_nats"] = std::isfinite(last_val) ? nlohmann::json(last_val) : nlohmann::json(nullptr);
    j["val_bits_per_dim"] = std::isfinite(last_val) ? nlohmann::json(bits_per_dim(last_val, dims)) : nlohmann::json(nullptr);
    std::cout << j.dump() << std::endl;
  }
  return kExitOk;
}

}  // namespace pixelrnn::tool
