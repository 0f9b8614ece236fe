// framework/optim/optimizer.cpp: SGD with momentum, RMSProp and Adam; state save/restore; global-norm clipping.
//
// All three share one shape: per parameter a fixed list of state slots (zero tensors of the parameter's shape,
// dtype and device, created eagerly) plus one global "step" counter (a 1-element F64 CPU tensor). step() walks
// the parameters in order and launches one update kernel per parameter on its device (the kernels are below,
// update rule beside update rule). The arithmetic is done in double and stored in the parameter's dtype, element
// by element, so a run is bit-reproducible, and continuing after load_state(state()) gives exactly the updates of
// an uninterrupted run.
#include "framework/optim/optimizer.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>

#include "framework/backend/backend.h"
#include "framework/core/autograd.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/reduce.h"

namespace fw {
namespace {

// ---- the update kernels: one element at a time in double, stored back in T.  p, g, slots: (n,)
template <class T> T* buf(const fw_buffer& b) { return static_cast<T*>(b.ptr); }

template <class T> void sgd_update(const fw_sgd_update_params* q) {
  T* p = buf<T>(q->param);
  const T* g = buf<T>(q->grad);
  T* v = buf<T>(q->momentum_buffer);
  for (int64_t i = 0; i < q->n; ++i) {
    const double vi = q->momentum * static_cast<double>(v[i]) + static_cast<double>(g[i]);  // v = mu v + g
    p[i] = static_cast<T>(static_cast<double>(p[i]) - q->lr * vi);                         // p -= lr v
    v[i] = static_cast<T>(vi);
  }
}
template <class T> void rmsprop_update(const fw_rmsprop_update_params* q) {
  T* p = buf<T>(q->param);
  const T* g = buf<T>(q->grad);
  T* s = buf<T>(q->square_avg);
  for (int64_t i = 0; i < q->n; ++i) {
    const double gi = g[i];
    const double si = q->rho * static_cast<double>(s[i]) + (1.0 - q->rho) * gi * gi;  // s = rho s + (1-rho) g^2
    p[i] = static_cast<T>(static_cast<double>(p[i]) - q->lr * gi / (std::sqrt(si) + q->eps));
    s[i] = static_cast<T>(si);
  }
}
template <class T> void adam_update(const fw_adam_update_params* q) {
  T* p = buf<T>(q->param);
  const T* g = buf<T>(q->grad);
  T* m = buf<T>(q->exp_avg);
  T* v = buf<T>(q->exp_avg_sq);
  for (int64_t i = 0; i < q->n; ++i) {
    const double gi = g[i];
    const double mi = q->beta1 * static_cast<double>(m[i]) + (1.0 - q->beta1) * gi;
    const double vi = q->beta2 * static_cast<double>(v[i]) + (1.0 - q->beta2) * gi * gi;
    p[i] = static_cast<T>(static_cast<double>(p[i]) -
                          q->lr * (mi / q->bias_correction1) / (std::sqrt(vi / q->bias_correction2) + q->eps));
    m[i] = static_cast<T>(mi);
    v[i] = static_cast<T>(vi);
  }
}

}  // namespace

int cpu_sgd_update(int32_t dtype, const fw_sgd_update_params* q) {
  if (q->n < 0) return FW_ERR_INVALID;
  if (dtype == FW_F32) sgd_update<float>(q);
  else sgd_update<double>(q);
  return FW_OK;
}
int cpu_rmsprop_update(int32_t dtype, const fw_rmsprop_update_params* q) {
  if (q->n < 0) return FW_ERR_INVALID;
  if (dtype == FW_F32) rmsprop_update<float>(q);
  else rmsprop_update<double>(q);
  return FW_OK;
}
int cpu_adam_update(int32_t dtype, const fw_adam_update_params* q) {
  if (q->n < 0) return FW_ERR_INVALID;
  if (dtype == FW_F32) adam_update<float>(q);
  else adam_update<double>(q);
  return FW_OK;
}

}  // namespace fw

namespace fw::optim {
namespace {

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Base of the three optimizers: owns the slot tensors and the step counter and drives the per-parameter loop.
// CRTP: Rule supplies update() (and optionally begin_step()), called without virtual dispatch in the loop.
template <class Rule> class SlotOptimizer : public Optimizer {
 public:
  SlotOptimizer(nn::NamedTensors params, OptimizerOptions opt, std::vector<std::string> slots)
      : Optimizer(std::move(params), std::move(opt)), slot_names_(std::move(slots)) {
    if (slot_names_.size() > kMaxSlots) throw std::logic_error("SlotOptimizer: too many slots");
    step_ = Tensor::zeros({1}, DType::F64);  // (1,) the number of step() calls so far
    for (const auto& [name, p] : params_) {
      std::vector<Tensor> s;
      for (size_t k = 0; k < slot_names_.size(); ++k) s.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
      slots_.push_back(std::move(s));
    }
  }

  nn::NamedTensors state() const override {
    nn::NamedTensors out;
    for (size_t i = 0; i < params_.size(); ++i)
      for (size_t k = 0; k < slot_names_.size(); ++k)
        out.emplace_back(params_[i].first + "." + slot_names_[k], slots_[i][k]);
    out.emplace_back("step", step_);
    return out;
  }

  void step() override {
    NoGradGuard no_grad;
    // Check every gradient before touching anything, so a bad one leaves parameters and state as they were.
    std::vector<Tensor> grads(params_.size());
    for (size_t i = 0; i < params_.size(); ++i) {
      const auto& [name, p] = params_[i];
      Tensor g = p.grad();
      if (!g.defined()) continue;  // no gradient this step: parameter and its state are left alone
      if (g.shape() != p.shape() || g.dtype() != p.dtype() || g.device() != p.device())
        throw std::invalid_argument("Optimizer(" + opt_.name + ")::step: grad " + g.str() + " of parameter '" + name +
                                    "' does not match " + p.str());
      grads[i] = g.is_contiguous() ? g : g.contiguous();
    }
    double* t = step_.data<double>();
    t[0] += 1.0;
    static_cast<Rule*>(this)->begin_step(t[0]);
    for (size_t i = 0; i < params_.size(); ++i)
      if (grads[i].defined()) static_cast<const Rule*>(this)->update(params_[i].second, grads[i], slots_[i]);
  }

 protected:
  static constexpr size_t kMaxSlots = 2;
  // Rule interface: begin_step(t) sets per-step scalars (t is the 1-based step number); update(p, g, slots)
  // launches the rule's kernel on p's device (p, g and the slots contiguous, of p's shape, dtype and device).
  void begin_step(double t) { (void)t; }

 private:
  std::vector<std::string> slot_names_;
  std::vector<std::vector<Tensor>> slots_;  // [param][slot], each of the parameter's shape and dtype
  Tensor step_;
};

// v = mu v + g; p -= lr v
class Sgd final : public SlotOptimizer<Sgd> {
 public:
  Sgd(nn::NamedTensors params, OptimizerOptions opt) : SlotOptimizer(std::move(params), opt, {"momentum_buffer"}) {}
  void update(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s) const {
    launch(p.device(), p.dtype(),
           fw_sgd_update_params{buffer_of(p), buffer_of(g), buffer_of(s[0]), p.numel(), opt_.lr, opt_.momentum});
  }
};

// s = rho s + (1 - rho) g^2; p -= lr g / (sqrt(s) + eps)
class RmsProp final : public SlotOptimizer<RmsProp> {
 public:
  RmsProp(nn::NamedTensors params, OptimizerOptions opt) : SlotOptimizer(std::move(params), opt, {"square_avg"}) {}
  void update(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s) const {
    launch(p.device(), p.dtype(),
           fw_rmsprop_update_params{buffer_of(p), buffer_of(g), buffer_of(s[0]), p.numel(), opt_.lr, opt_.rho,
                                    opt_.eps});
  }
};

// m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
class Adam final : public SlotOptimizer<Adam> {
 public:
  Adam(nn::NamedTensors params, OptimizerOptions opt)
      : SlotOptimizer(std::move(params), opt, {"exp_avg", "exp_avg_sq"}) {}
  void begin_step(double t) {
    bc1_ = 1.0 - std::pow(opt_.beta1, t);
    bc2_ = 1.0 - std::pow(opt_.beta2, t);
  }
  void update(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s) const {
    launch(p.device(), p.dtype(),
           fw_adam_update_params{buffer_of(p), buffer_of(g), buffer_of(s[0]), buffer_of(s[1]), p.numel(), opt_.lr,
                                 opt_.beta1, opt_.beta2, opt_.eps, bc1_, bc2_});
  }

 private:
  double bc1_ = 1.0, bc2_ = 1.0;  // bias corrections 1 - b^t of the current step
};

void check_range(const OptimizerOptions& o, const char* what, double v, double lo, bool lo_open, double hi,
                 bool hi_open) {
  bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  if (!ok)
    throw std::invalid_argument("Optimizer(" + o.name + "): option " + what + " = " + num(v) + " is out of range " +
                                (lo_open ? "(" : "[") + num(lo) + ", " + num(hi) + (hi_open ? ")" : "]"));
}

}  // namespace

void Optimizer::zero_grad() {
  for (auto& [name, p] : params_) p.zero_grad();
}

void Optimizer::load_state(const nn::NamedTensors& state) {
  const std::string who = "Optimizer(" + opt_.name + ")::load_state: ";
  std::map<std::string, Tensor> given;
  for (const auto& [name, t] : state) {
    if (!t.defined()) throw std::invalid_argument(who + "entry '" + name + "' is undefined");
    if (!given.emplace(name, t).second) throw std::invalid_argument(who + "duplicate entry '" + name + "'");
  }
  nn::NamedTensors live = this->state();
  // Validate everything before copying anything, so a failed load leaves the optimizer unchanged.
  for (const auto& [name, dst] : live) {
    auto it = given.find(name);
    if (it == given.end()) throw std::invalid_argument(who + "missing entry '" + name + "'");
    const Tensor& src = it->second;
    if (src.shape() != dst.shape() || src.dtype() != dst.dtype())
      throw std::invalid_argument(who + "entry '" + name + "' is " + src.str() + ", expected " + dst.str());
    if (name == "step") {
      double t = src.item();
      if (!(t >= 0) || t != std::floor(t))
        throw std::invalid_argument(who + "entry 'step' = " + num(t) + " is not a non-negative integer");
    }
  }
  if (given.size() != live.size()) {
    std::map<std::string, bool> known;
    for (const auto& e : live) known[e.first] = true;
    for (const auto& e : given)
      if (!known.count(e.first)) throw std::invalid_argument(who + "unexpected entry '" + e.first + "'");
  }
  NoGradGuard no_grad;
  for (auto& [name, dst] : live) dst.copy_(given.at(name).detach());
}

std::unique_ptr<Optimizer> make_optimizer(const nn::NamedTensors& params, const OptimizerOptions& opt) {
  const std::string& n = opt.name;
  if (n != "sgd" && n != "rmsprop" && n != "adam")
    throw std::invalid_argument("make_optimizer: unknown optimizer '" + n + "' (known: sgd, rmsprop, adam)");
  check_range(opt, "lr", opt.lr, 0.0, false, HUGE_VAL, true);
  // eps > 0: with eps = 0 a zero gradient (e.g. a masked weight) would give 0 / 0 in RMSProp and Adam.
  if (n != "sgd") check_range(opt, "eps", opt.eps, 0.0, true, HUGE_VAL, true);
  if (n == "sgd") check_range(opt, "momentum", opt.momentum, 0.0, false, 1.0, true);
  if (n == "rmsprop") check_range(opt, "rho", opt.rho, 0.0, false, 1.0, true);
  if (n == "adam") {
    check_range(opt, "beta1", opt.beta1, 0.0, false, 1.0, true);
    check_range(opt, "beta2", opt.beta2, 0.0, false, 1.0, true);
  }
  std::map<std::string, bool> seen;
  for (const auto& [name, p] : params) {
    const std::string who = "make_optimizer(" + n + "): parameter '" + name + "'";
    if (name.empty()) throw std::invalid_argument("make_optimizer(" + n + "): a parameter has an empty name");
    if (!seen.emplace(name, true).second) throw std::invalid_argument(who + " is listed twice");
    if (!p.defined()) throw std::invalid_argument(who + " is undefined");
    if (!p.is_leaf() || !p.is_contiguous())
      throw std::invalid_argument(who + " " + p.str() + " must be a contiguous leaf");
  }
  if (n == "sgd") return std::make_unique<Sgd>(params, opt);
  if (n == "rmsprop") return std::make_unique<RmsProp>(params, opt);
  return std::make_unique<Adam>(params, opt);
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  if (!(max_norm > 0) || !std::isfinite(max_norm))
    throw std::invalid_argument("clip_grad_norm: max_norm must be finite and > 0, got " + num(max_norm));
  NoGradGuard no_grad;
  double total = 0;
  for (const Tensor& p : params) {
    if (!p.defined()) continue;
    Tensor g = p.grad();
    if (!g.defined()) continue;
    total += sum_squares(g);
  }
  const double norm = std::sqrt(total);
  if (!std::isfinite(norm) || norm <= max_norm) return norm;  // non-finite: grads left as they are
  const double scale = max_norm / norm;
  for (const Tensor& p : params) {
    if (!p.defined()) continue;
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (!g.is_contiguous()) {
      g = g.contiguous().detach();
      Tensor(p).set_grad(g);
    }
    scale_into(g, scale);
  }
  return norm;
}

}  // namespace fw::optim
