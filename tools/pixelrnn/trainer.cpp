// tools/pixelrnn/trainer.cpp: the training loop (see trainer.h).
#include "tools/pixelrnn/trainer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
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
#include "tools/pixelrnn/distributed.h"
#include "tools/pixelrnn/interrupt.h"
#include "tools/pixelrnn/metrics.h"
#include "tools/pixelrnn/model_ops.h"
#include "tools/pixelrnn/progress.h"

namespace pixelrnn::tool {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

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
  const ModelConfig& c = o.cfg;
  j["model"] = {{"model", c.model}, {"channels", c.channels}, {"height", c.height}, {"width", c.width},
                {"levels", c.levels}, {"layers", c.layers}, {"hidden", c.hidden}, {"out_hidden", c.out_hidden},
                {"inner", c.model == "multiscale" ? nlohmann::json(c.inner) : nlohmann::json(nullptr)},
                {"small", c.model == "multiscale" ? nlohmann::json(c.small) : nlohmann::json(nullptr)},
                {"classes", c.classes}};
  j["train"] = options_json(o);
  j["data"] = {{"source", train.source}, {"train_images", train.n}, {"val_images", val.n},
               {"channels", train.c}, {"height", train.h}, {"width", train.w}};
  fw::io::write_file_atomic(o.out + "/config.json", j.dump(2) + "\n");
}

// Thrown from the grid's progress callback when the default grid would take longer than its budget.
struct GridTooSlow {
  double estimate_s;
};

}  // namespace

int run_training(const TrainOptions& o, const fw::io::Dataset& train, const fw::io::Dataset& val,
                 const Checkpoint* ck) {
  const std::string ckpt_path = o.out + "/last.safetensors";
  const std::string samples_dir = o.out + "/samples";
  // Data parallel (distributed.h): rank 0 alone writes (checkpoints, metrics.csv, config.json, grids, progress).
  fw::dist::Communicator& world = fw::dist::world();
  const bool writer = world.rank() == 0, parallel = world.size() > 1;
  if (writer && o.grid > 0 && ::mkdir(samples_dir.c_str(), 0777) != 0 && errno != EEXIST)
    throw std::runtime_error(samples_dir + ": cannot create: " + std::strerror(errno));

  fw::Rng init_rng(o.seed);
  std::unique_ptr<PixelModel> model = make_model(o.cfg, init_rng);
  model->to_device(o.device);  // before the optimizer: its state is made on the parameters' device
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
  broadcast_from_rank0(model->parameters(), opt.get());
  // One epoch count everywhere: the 1-based epoch of the last step (metrics.csv, progress, checkpoint, JSON).
  // Epochs completed (for --epochs): the iterator's epoch, plus one when that epoch's last batch was taken.
  auto epoch_of_last_step = [&] { return p.step == 0 ? int64_t(0) : batches.state().epoch + 1; };
  auto epochs_completed = [&] {
    return batches.state().epoch + (batches.state().position >= train.n ? 1 : 0);
  };
  p.epoch = epoch_of_last_step();

  ProgressStyle style;
  style.tty = ::isatty(2) != 0;
  style.quiet = o.quiet || !writer;
  style.every_s = o.progress_every_s;
  Progress progress(style, o.log_every);
  const int64_t per_epoch = batches.batches_per_epoch();
  progress.message(describe_options(o) + "  parameters: " + std::to_string(model->num_parameters()) +
                   "\n  training images: " + std::to_string(train.n) + ", validation images: " +
                   std::to_string(val.n) + ", steps per epoch: " + std::to_string(per_epoch) +
                   (ck ? "\n  resuming at step " + std::to_string(p.step) + " (epoch " + std::to_string(p.epoch) + ")"
                       : std::string()) +
                   (parallel ? "\n  data parallel: " + std::to_string(world.size()) + " ranks (" + world.name() +
                                   "), " + std::to_string(o.batch / world.size()) + " images per rank per step"
                             : std::string()));
  std::unique_ptr<MetricsLog> metrics;
  if (writer) {
    write_config_json(o, train, val);
    metrics = std::make_unique<MetricsLog>(o.out + "/metrics.csv", ck ? p.step : -1);
  }

  const auto run_start = Clock::now();
  const double train_before = p.elapsed_s, wall_before = p.wall_s;
  double train_s = 0;  // training time of this invocation (steps only)
  auto wall = [&] { return wall_before + seconds_since(run_start); };
  auto last_save_time = Clock::now();
  int64_t last_saved_step = -1;
  auto save = [&] {
    last_saved_step = p.step;
    last_save_time = Clock::now();
    if (!writer) return;
    if (!all_finite(*model))
      throw std::runtime_error("step " + std::to_string(p.step) + ": the weights are no longer finite; training "
                               "stopped and " + ckpt_path + " keeps the last good state");
    p.batches = batches.state();
    p.sample_rng = sample_rng.state();
    p.elapsed_s = train_before + train_s;
    p.wall_s = wall();
    save_checkpoint(ckpt_path, *model, opt.get(), checkpoint_metadata(o.cfg, stored_options(o), &p));
  };
  if (!ck) save();  // step 0: a run always has a checkpoint to resume from

  const int64_t dims = o.cfg.channels * o.cfg.height * o.cfg.width;
  int64_t total_steps = o.steps;
  if (o.epochs >= 0) {
    const int64_t t = o.epochs * per_epoch;
    total_steps = total_steps < 0 ? t : std::min(total_steps, t);
  }
  auto done = [&] {
    return (o.steps >= 0 && p.step >= o.steps) || (o.epochs >= 0 && epochs_completed() >= o.epochs) ||
           (o.minutes >= 0 && wall() >= o.minutes * 60);
  };
  int64_t steps_run = 0, images_run = 0;
  double last_val = std::nan(""), last_val_s = -1, last_grid_s = -1;
  double latest_epoch_loss = p.epoch_loss_images > 0 ? p.epoch_loss_sum / double(p.epoch_loss_images) : std::nan("");
  int interrupted = 0;
  for (;;) {
    // Every rank stops at the same step boundary (rank 0's clock decides --minutes). As in one process: an
    // interruption inside the epoch's end stops the run; otherwise a stopping rule reached ends it normally even
    // with a signal pending; otherwise a signal on any rank stops it.
    const StepAgreement agreed = agree_at_step(interrupted ? interrupted : stop_requested(), interrupted != 0, done());
    if (agreed.interrupted_in_epoch_end || (!agreed.done && agreed.signal)) {
      interrupted = agreed.signal;
      break;
    }
    if (agreed.done) break;
    const auto step_start = Clock::now();
    const fw::io::Batch b = batches.next();
    const int64_t step = p.step + 1;
    // This rank's contiguous share of the global batch; the loss is scaled by the global batch size, so the
    // summed gradients are those of the one-process mean.
    const fw::dist::Share share = fw::dist::share_of(b.n, world.rank(), world.size());
    const int64_t isz = b.c * b.h * b.w;
    opt->zero_grad();
    double local = 0;
    if (share.size() > 0) {
      const std::vector<float> xs(b.x.begin() + share.begin * isz, b.x.begin() + share.end * isz);
      const fw::Tensor x = fw::Tensor::from_vector({share.size(), b.c, b.h, b.w}, xs).to_device(o.device);
      const fw::Tensor nll =
          model->class_conditional()
              ? model->class_nll(x, std::vector<int64_t>(b.labels.begin() + share.begin,
                                                         b.labels.begin() + share.end))  // -log p(x | label)
              : model->nll(x);
      const fw::Tensor loss = fw::mul_scalar(fw::sum(nll), 1.0 / double(b.n));
      local = loss.item();
      if (step == o.inject_nan_step && (o.inject_nan_rank < 0 || o.inject_nan_rank == world.rank()))
        local = std::numeric_limits<double>::quiet_NaN();
      if (std::isfinite(local)) loss.backward();
    }
    // One allreduce: the gradients, which ranks have them, and each rank's loss (distributed.h).
    const std::vector<double> losses = allreduce_step(model->parameters(), local);
    double lv = 0;
    int bad_rank = -1;
    for (size_t r = 0; r < losses.size(); ++r) {
      lv += losses[r];
      if (bad_rank < 0 && !std::isfinite(losses[r])) bad_rank = int(r);
    }
    if (bad_rank >= 0) {
      const double bad = losses[size_t(bad_rank)];
      progress.finish();
      const std::string msg = "step " + std::to_string(step) + ": the loss is " +
                              (std::isnan(bad) ? "NaN" : "infinite") +
                              (parallel ? " on rank " + std::to_string(bad_rank) : std::string()) +
                              "; training stopped. " + ckpt_path + " keeps the last good state (step " +
                              std::to_string(last_saved_step) + "); try a smaller --lr or --clip";
      if (parallel) throw CollectiveError(msg);
      throw std::runtime_error(msg);
    }
    if (o.clip > 0) fw::optim::clip_grad_norm(model->parameters(), o.clip);
    opt->step();
    train_s += seconds_since(step_start);
    p.step = step;
    p.epoch = b.epoch + 1;
    ++steps_run;
    images_run += b.n;
    p.epoch_loss_sum += lv * double(b.n);
    p.epoch_loss_images += b.n;
    latest_epoch_loss = p.epoch_loss_sum / double(p.epoch_loss_images);
    const bool epoch_end = batches.state().position >= train.n;

    MetricsRow row;
    row.step = step;
    row.epoch = p.epoch;
    row.loss_nats = lv;
    row.bits_per_dim = bits_per_dim(lv, dims);
    row.images_per_s = train_s > 0 ? double(images_run) / train_s : 0;
    row.elapsed_s = train_before + train_s;
    // ETA: the steps left at this invocation's speed, plus each epoch end left: a validation (measured, or
    // estimated as a forward pass, a third of a step, per image) and a grid (measured; unknown before).
    const double step_s = train_s / double(steps_run);
    StepInfo info{step, total_steps, p.epoch, lv, row.bits_per_dim, row.images_per_s, -1};
    if (total_steps > 0) {
      const double val_est = last_val_s >= 0 ? last_val_s
                                             : (val.n > 0 && row.images_per_s > 0 ? double(val.n) / row.images_per_s / 3 : 0);
      info.eta_s = training_eta(step, total_steps, per_epoch, step_s, val_est, last_grid_s);
    }
    if (o.minutes >= 0) {
      const double left = std::max(0.0, o.minutes * 60 - wall());
      info.eta_s = info.eta_s < 0 ? left : std::min(info.eta_s, left);
    }
    progress.step(info);

    if (epoch_end) {
      const double epoch_loss = latest_epoch_loss;
      p.epoch_loss_sum = 0;
      p.epoch_loss_images = 0;
      std::string line = "epoch " + std::to_string(p.epoch) + " done at step " + std::to_string(step) +
                         ": train loss " + fmt_short(epoch_loss) + " nats (mean over the epoch)";
      const std::string who = "epoch " + std::to_string(p.epoch);
      try {
        if (val.n > 0) {
          TaskProgress task(style, who + ": validation", "images");
          // Between ranks a signal is acted on at the next step boundary (a rank leaving the validation alone
          // would leave the others waiting in its reduction).
          const NllResult r = evaluate_nll_all_ranks(*model, val, o.batch, nullptr, [&](int64_t n) {
            task.update(n, val.n, !parallel);  // throws on a signal in one process
          });
          task.finish();
          row.val_s = last_val_s = task.elapsed_s();
          row.has_val = true;
          row.val_nll_nats = r.nll_nats;
          row.val_bits_per_dim = r.bits_per_dim;
          last_val = r.nll_nats;
          line += ", validation NLL " + fmt_short(r.nll_nats) + " nats (" + fmt_short(r.bits_per_dim) + " bits/dim)";
        }
        if (o.grid > 0 && writer) {
          // One draw from the sampling stream per epoch seeds the grid, whatever its size or fate, so the stream
          // (and resuming) does not depend on timing.
          const uint64_t grid_seed = sample_rng.next_u64();
          const double budget = 0.1 * step_s * double(per_epoch);
          const auto grid_start = Clock::now();
          int64_t g = o.grid;
          std::vector<uint8_t> s;
          for (int attempt = 0; g > 0 && s.empty(); ++attempt) {
            TaskProgress task(style, who + ": grid of " + std::to_string(g) + " samples", "elements");
            SampleOptions opts;
            opts.progress = [&](int64_t d, int64_t total) {
              task.update(d, total);  // throws on a signal
              if (o.grid_auto && d >= std::max<int64_t>(1, total / 50)) {
                const double est = task.elapsed_s() * double(total) / double(d);
                if (est > budget) throw GridTooSlow{est};
              }
            };
            fw::Rng grid_rng(grid_seed);
            try {
              std::vector<int64_t> labels;  // class-conditional: image i of class i mod classes
              for (int64_t i = 0; model->class_conditional() && i < g; ++i) labels.push_back(i % o.cfg.classes);
              s = sample_images(*model, g, g, grid_rng, opts, labels);
              task.finish();
            } catch (const GridTooSlow& slow) {
              task.finish();
              const int64_t smaller = attempt < 2 ? int64_t(double(g) * budget / slow.estimate_s * 0.8) : 0;
              progress.message(who + ": a grid of " + std::to_string(g) + " samples would take about " +
                               fmt_duration(slow.estimate_s) + ", more than a tenth of the epoch (" +
                               fmt_duration(budget) + "): " +
                               (smaller >= 1 ? "drawing " + std::to_string(smaller) + " instead"
                                             : std::string("skipped (pass --grid N to draw N anyway)")));
              g = smaller;
            }
          }
          if (!s.empty()) {
            const std::vector<uint8_t> shown = display_bytes(s.data(), s.size(), o.cfg.levels);
            char name[32];
            std::snprintf(name, sizeof name, "/epoch-%04lld.png", (long long)p.epoch);
            write_grid_png(samples_dir + name, shown.data(), g, o.cfg.channels, o.cfg.height, o.cfg.width,
                           std::min<int64_t>(g, 8));
          }
          row.grid_s = last_grid_s = seconds_since(grid_start);
        }
      } catch (const Interrupted& e) {
        interrupted = e.signal;  // the step is done: its row and a checkpoint are written below
      }
      if (!interrupted) progress.message(line);
    }
    if (metrics) metrics->add(row);
    const bool timed = o.save_every_minutes > 0 && seconds_since(last_save_time) >= o.save_every_minutes * 60;
    if (!interrupted && (epoch_end || timed || (o.save_every_steps > 0 && step % o.save_every_steps == 0))) save();
  }
  progress.finish();
  if (last_saved_step != p.step || interrupted) save();
  // No rank exits before rank 0 has saved: mpirun ends the job at the first non-zero exit (130 / 143).
  world.barrier();

  auto summary = [&](const char* how) {
    if (!o.json || !writer) return;
    nlohmann::json j = {{"steps", p.step},          {"epoch", p.epoch},   {"elapsed_s", p.elapsed_s},
                        {"wall_s", p.wall_s},       {"checkpoint", ckpt_path}};
    j["interrupted"] = how ? nlohmann::json(how) : nlohmann::json(nullptr);
    j["train_loss_nats"] = std::isfinite(latest_epoch_loss) ? nlohmann::json(latest_epoch_loss) : nlohmann::json(nullptr);
    j["val_nll_nats"] = std::isfinite(last_val) ? nlohmann::json(last_val) : nlohmann::json(nullptr);
    j["val_bits_per_dim"] = std::isfinite(last_val) ? nlohmann::json(bits_per_dim(last_val, dims)) : nlohmann::json(nullptr);
    std::cout << j.dump() << std::endl;
  };
  if (interrupted) {
    // Always said (also with --quiet): it explains the exit status.
    if (writer) std::fprintf(stderr, "pixelrnn train: %s received: checkpoint of step %lld (epoch %lld) saved to %s\n",
                 signal_name(interrupted).c_str(), (long long)p.step, (long long)p.epoch, ckpt_path.c_str());
    summary(signal_name(interrupted).c_str());
    return signal_exit_status(interrupted);
  }
  if (!o.quiet && writer)
    std::fprintf(stderr, "pixelrnn train: done: step %lld, epoch %lld, %.1f s of training (%.1f s in all); checkpoint %s\n",
                 (long long)p.step, (long long)p.epoch, p.elapsed_s, p.wall_s, ckpt_path.c_str());
  summary(nullptr);
  return kExitOk;
}

}  // namespace pixelrnn::tool
