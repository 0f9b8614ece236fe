// framework/optim/optimizer.cpp: SGD with momentum, RMSProp and Adam; state save/restore; global-norm clipping.
//
// All three share one shape: per parameter a fixed list of state slots (zero tensors of the parameter's shape
// and dtype, created eagerly) plus one global "step" counter (a 1-element F64 tensor). step() walks the
// parameters in order and updates each one's storage in place through Tensor::data<T>() loops. The arithmetic
// is done in double and stored in the parameter's dtype, element by element in a fixed order, so a run is
// bit-reproducible, and continuing after load_state(state()) gives exactly the updates of an uninterrupted run.
#include "framework/optim/optimizer.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>

#include "framework/core/autograd.h"

namespace fw::optim {
namespace {

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Base of the three optimizers: owns the slot tensors and the step counter and drives the per-parameter loop.
// CRTP: Rule supplies update_element() (and optionally begin_step()), called without virtual dispatch in the loop.
template <class Rule> class SlotOptimizer : public Optimizer {
 public:
  SlotOptimizer(nn::NamedTensors params, OptimizerOptions opt, std::vector<std::string> slots)
      : Optimizer(std::move(params), std::move(opt)), slot_names_(std::move(slots)) {
    if (slot_names_.size() > kMaxSlots) throw std::logic_error("SlotOptimizer: too many slots");
    step_ = Tensor::zeros({1}, DType::F64);  // (1,) the number of step() calls so far
    for (const auto& [name, p] : params_) {
      std::vector<Tensor> s;
      for (size_t k = 0; k < slot_names_.size(); ++k) s.push_back(Tensor::zeros(p.shape(), p.dtype()));
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
      if (g.shape() != p.shape() || g.dtype() != p.dtype())
        throw std::invalid_argument("Optimizer(" + opt_.name + ")::step: grad " + g.str() + " of parameter '" + name +
                                    "' does not match " + p.str());
      grads[i] = g.is_contiguous() ? g : g.contiguous();
    }
    double* t = step_.data<double>();
    t[0] += 1.0;
    static_cast<Rule*>(this)->begin_step(t[0]);
    for (size_t i = 0; i < params_.size(); ++i) {
      if (!grads[i].defined()) continue;
      if (params_[i].second.dtype() == DType::F32) update<float>(params_[i].second, grads[i], slots_[i]);
      else update<double>(params_[i].second, grads[i], slots_[i]);
    }
  }

 protected:
  static constexpr size_t kMaxSlots = 2;
  // Rule interface: begin_step(t) sets per-step scalars (t is the 1-based step number);
  // update_element(p, g, s) updates one element of the parameter and its slots s[0..], all in double.
  void begin_step(double t) { (void)t; }

 private:
  template <class T> void update(const Tensor& p, const Tensor& g, std::vector<Tensor>& slots) const {
    T* pd = p.data<T>();        // (numel,) parameter storage, contiguous
    const T* gd = g.data<T>();  // (numel,) gradient, contiguous
    std::vector<T*> sd;         // one (numel,) pointer per slot
    for (auto& s : slots) sd.push_back(s.data<T>());
    double sv[kMaxSlots];
    for (int64_t i = 0, n = p.numel(); i < n; ++i) {
      double pv = pd[i];
      for (size_t k = 0; k < sd.size(); ++k) sv[k] = sd[k][i];
      static_cast<const Rule*>(this)->update_element(pv, static_cast<double>(gd[i]), sv);
      pd[i] = static_cast<T>(pv);
      for (size_t k = 0; k < sd.size(); ++k) sd[k][i] = static_cast<T>(sv[k]);
    }
  }

  std::vector<std::string> slot_names_;
  std::vector<std::vector<Tensor>> slots_;  // [param][slot], each of the parameter's shape and dtype
  Tensor step_;
};

// v = mu v + g; p -= lr v
class Sgd final : public SlotOptimizer<Sgd> {
 public:
  Sgd(nn::NamedTensors params, OptimizerOptions opt) : SlotOptimizer(std::move(params), opt, {"momentum_buffer"}) {}
  void update_element(double& p, double g, double* s) const {
    s[0] = opt_.momentum * s[0] + g;
    p -= opt_.lr * s[0];
  }
};

// s = rho s + (1 - rho) g^2; p -= lr g / (sqrt(s) + eps)
class RmsProp final : public SlotOptimizer<RmsProp> {
 public:
  RmsProp(nn::NamedTensors params, OptimizerOptions opt) : SlotOptimizer(std::move(params), opt, {"square_avg"}) {}
  void update_element(double& p, double g, double* s) const {
    s[0] = opt_.rho * s[0] + (1.0 - opt_.rho) * g * g;
    p -= opt_.lr * g / (std::sqrt(s[0]) + opt_.eps);
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
  void update_element(double& p, double g, double* s) const {
    s[0] = opt_.beta1 * s[0] + (1.0 - opt_.beta1) * g;
    s[1] = opt_.beta2 * s[1] + (1.0 - opt_.beta2) * g * g;
    p -= opt_.lr * (s[0] / bc1_) / (std::sqrt(s[1] / bc2_) + opt_.eps);
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
    if (!p.is_leaf() || !p.is_contiguous() || p.device() != Device::CPU)
      throw std::invalid_argument(who + " " + p.str() + " must be a contiguous CPU leaf");
  }
  if (n == "sgd") return std::make_unique<Sgd>(params, opt);
  if (n == "rmsprop") return std::make_unique<RmsProp>(params, opt);
  return std::make_unique<Adam>(params, opt);
}

namespace {
template <class T> double sum_squares(const Tensor& g) {
  const T* d = g.data<T>();  // (numel,) contiguous
  double s = 0;
  for (int64_t i = 0, n = g.numel(); i < n; ++i) s += static_cast<double>(d[i]) * static_cast<double>(d[i]);
  return s;
}
template <class T> void scale_in_place(const Tensor& g, double c) {
  T* d = g.data<T>();  // (numel,) contiguous
  for (int64_t i = 0, n = g.numel(); i < n; ++i) d[i] = static_cast<T>(static_cast<double>(d[i]) * c);
}
}  // namespace

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  if (!(max_norm > 0) || !std::isfinite(max_norm))
    throw std::invalid_argument("clip_grad_norm: max_norm must be finite and > 0, got " + num(max_norm));
  NoGradGuard no_grad;
  double total = 0;
  for (const Tensor& p : params) {
    if (!p.defined()) continue;
    Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor c = g.is_contiguous() ? g : g.contiguous();
    total += c.dtype() == DType::F32 ? sum_squares<float>(c) : sum_squares<double>(c);
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
    if (g.dtype() == DType::F32) scale_in_place<float>(g, scale);
    else scale_in_place<double>(g, scale);
  }
  return norm;
}

}  // namespace fw::optim
