// tools/pixelrnn/distributed.cpp: data-parallel helpers of the program (see distributed.h).
#include "tools/pixelrnn/distributed.h"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include "tools/pixelrnn/commands.h"
#include "tools/pixelrnn/flags.h"

namespace pixelrnn::tool {

DistributedSession::DistributedSession(int* argc, char*** argv) {
  if (!fw::dist::launched_by_mpi()) return;
  if (!fw::dist::mpi_built()) {
    const char* n = std::getenv("OMPI_COMM_WORLD_SIZE");
    if (n && std::atoi(n) > 1)
      throw std::runtime_error("started by mpirun with " + std::string(n) + " processes, but this pixelrnn was "
                               "built without MPI (install libopenmpi-dev and reconfigure with -Dmpi=enabled)");
    return;
  }
  comm_ = fw::dist::make_mpi_communicator(argc, argv);
  fw::dist::set_world(comm_.get());
}

DistributedSession::~DistributedSession() {
  fw::dist::set_world(nullptr);
}

std::string rank_prefix() {
  const fw::dist::Communicator& w = fw::dist::world();
  return w.size() > 1 ? "rank " + std::to_string(w.rank()) + ": " : "";
}

RankFailed::RankFailed(int r)
    : CollectiveError("rank " + std::to_string(r) + " failed (see its message); every rank stopped"), rank(r) {}

void agree_or_throw(std::exception_ptr error, const std::string& who) {
  fw::dist::Communicator& w = fw::dist::world();
  const int failed = w.first_failed(error != nullptr);
  if (failed < 0) return;
  if (w.size() == 1) std::rethrow_exception(error);
  const std::string me = who + ": rank " + std::to_string(w.rank()) + ": ";
  int status = kExitError;
  // Each message goes out in one write, the failing ranks' first, rank 0's summary after a barrier: mpirun
  // forwards every rank's stderr as it comes, so separate writes could interleave.
  std::string msg;
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const UsageError& e) {
      status = kExitUsage;
      if (failed != 0 || w.rank() == 0) msg = me + "usage error: " + e.what() + "\n(see '" + who + " --help')\n";
    } catch (const std::exception& e) {
      msg = me + "error: " + e.what() + "\n";
    } catch (...) {
      msg = me + "error: unknown exception\n";
    }
  }
  if (!msg.empty()) std::cerr << msg << std::flush;
  w.barrier();
  if (!error && w.rank() == 0) std::cerr << (me + "error: " + RankFailed(failed).what() + "\n") << std::flush;
  w.barrier();
  // Every rank exits with the status of the lowest failed rank's kind of error.
  int usage = status == kExitUsage && w.rank() == failed ? 1 : 0;
  double u = usage;
  w.allreduce_sum(&u, 1);
  throw AlreadyReported{u > 0 ? kExitUsage : kExitError};
}

void broadcast_from_rank0(const std::vector<fw::Tensor>& params, fw::optim::Optimizer* opt) {
  fw::dist::Communicator& w = fw::dist::world();
  if (w.size() == 1) return;
  auto bcast = [&](const fw::Tensor& t, const std::string& what) {
    if (!t.is_contiguous())
      throw std::runtime_error("broadcast_from_rank0: " + what + " is not contiguous");
    w.broadcast(t.raw_data(), size_t(t.numel()) * fw::dtype_size(t.dtype()), 0);
  };
  for (const fw::Tensor& p : params) bcast(p, "a parameter");
  if (opt) {
    fw::nn::NamedTensors st = opt->state();
    for (const auto& [name, t] : st) bcast(t, "optimizer state " + name);
    opt->load_state(st);
  }
}

std::vector<double> allreduce_step(const std::vector<fw::Tensor>& params, double local_loss) {
  fw::dist::Communicator& w = fw::dist::world();
  const int size = w.size();
  if (size == 1) return {local_loss};
  // buf: [gradients of every parameter, flattened in order | has-gradient per parameter | loss per rank]
  size_t total = 0;
  for (const fw::Tensor& p : params) total += size_t(p.numel());
  std::vector<float> buf(total + params.size() + size_t(size), 0.0f);
  size_t at = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const fw::Tensor& p = params[i];
    fw::Tensor g = p.grad();
    if (g.defined()) {
      const std::vector<float> v = g.to_float_vector();
      std::memcpy(buf.data() + at, v.data(), v.size() * sizeof(float));
      buf[total + i] = 1;
    }
    at += size_t(p.numel());
  }
  // The loss travels as float32 like the gradients; per rank, so a NaN names its rank.
  buf[total + params.size() + size_t(w.rank())] = float(local_loss);
  w.allreduce_sum(buf.data(), buf.size());
  at = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    fw::Tensor p = params[i];
    const size_t n = size_t(p.numel());
    if (buf[total + i] > 0) {
      std::vector<float> v(buf.begin() + long(at), buf.begin() + long(at + n));
      p.set_grad(fw::Tensor::from_vector(p.shape(), v));
    } else {
      p.zero_grad();
    }
    at += n;
  }
  std::vector<double> losses(static_cast<size_t>(size));
  for (int r = 0; r < size; ++r) losses[size_t(r)] = buf[total + params.size() + size_t(r)];
  return losses;
}

NllResult evaluate_nll_all_ranks(PixelModel& model, const fw::io::Dataset& d, int64_t batch,
                                 std::vector<float>* per_pixel, const std::function<void(int64_t)>& progress) {
  fw::dist::Communicator& w = fw::dist::world();
  if (w.size() == 1) return evaluate_nll(model, d, batch, per_pixel, progress);
  if (batch <= 0) throw std::invalid_argument("evaluate_nll_all_ranks: batch must be > 0");
  const int64_t batches = (d.n + batch - 1) / batch;
  const fw::dist::Share s = fw::dist::share_of(batches, w.rank(), w.size());
  const int64_t begin = std::min(d.n, s.begin * batch), end = std::min(d.n, s.end * batch);
  const int64_t isz = d.image_size();
  fw::io::Dataset mine;
  mine.n = end - begin;
  mine.c = d.c;
  mine.h = d.h;
  mine.w = d.w;
  mine.source = d.source;
  mine.pixels.assign(d.pixels.begin() + begin * isz, d.pixels.begin() + end * isz);
  // sums: [sum over this rank's images of the per-image NLL]; the one-process mean is the same sum / d.n.
  double sums[1] = {0};
  std::vector<float> px;
  if (mine.n > 0) {
    const NllResult r = evaluate_nll(model, mine, batch, per_pixel ? &px : nullptr, progress);
    sums[0] = r.nll_nats * double(r.images);
  }
  w.allreduce_sum(sums, 1);
  if (per_pixel) {
    // Every other rank contributes zeros to this rank's range: the sum is exact.
    per_pixel->assign(size_t(d.n * isz), 0.0f);
    std::copy(px.begin(), px.end(), per_pixel->begin() + begin * isz);
    w.allreduce_sum(per_pixel->data(), per_pixel->size());
  }
  NllResult r;
  r.images = d.n;
  r.nll_nats = sums[0] / double(d.n);
  r.bits_per_dim = bits_per_dim(r.nll_nats, isz);
  return r;
}

StepAgreement agree_at_step(int local_signal, bool interrupted_in_epoch_end, bool rank0_done) {
  fw::dist::Communicator& w = fw::dist::world();
  StepAgreement a;
  if (w.size() == 1) {
    a.signal = local_signal;
    a.interrupted_in_epoch_end = interrupted_in_epoch_end;
    a.done = rank0_done;
    return a;
  }
  // [ranks with SIGINT, ranks with SIGTERM, ranks interrupted in the epoch end, rank 0's done]
  double v[4] = {local_signal == SIGINT ? 1.0 : 0.0, local_signal == SIGTERM ? 1.0 : 0.0,
                 interrupted_in_epoch_end ? 1.0 : 0.0, w.rank() == 0 && rank0_done ? 1.0 : 0.0};
  w.allreduce_sum(v, 4);
  a.signal = v[1] > 0 ? SIGTERM : v[0] > 0 ? SIGINT : 0;
  a.interrupted_in_epoch_end = v[2] > 0;
  a.done = v[3] > 0;
  return a;
}

}  // namespace pixelrnn::tool
