// framework/optim/optimizer.h: RMSProp (the paper's), Adam, SGD with momentum; clipping by global norm.
//
// An optimizer holds (name, parameter) pairs and one state tensor set per parameter. step() reads each
// parameter's grad (a parameter without grad is skipped) and updates its data in place, outside the graph.
// Update rules (g = grad, lr = learning rate):
//   SGD:      v = mu v + g;                     p -= lr v
//   RMSProp:  s = rho s + (1 - rho) g^2;        p -= lr g / (sqrt(s) + eps)
//   Adam:     m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; t += 1;
//             p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// State is exposed by name ("<param>.<slot>") so checkpoints can save and restore it exactly.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "framework/nn/module.h"

namespace fw::optim {

struct OptimizerOptions {
  std::string name = "rmsprop";  // "rmsprop", "adam", "sgd"
  double lr = 1e-3;
  double momentum = 0.9;         // sgd
  double rho = 0.95;             // rmsprop decay
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  // State tensors by name, including a "step" counter as a 1-element F64 tensor; restoring copies values in.
  virtual nn::NamedTensors state() const = 0;
  void load_state(const nn::NamedTensors& state);  // throws naming the missing or mismatched entry
  const OptimizerOptions& options() const { return opt_; }
  void set_lr(double lr) { opt_.lr = lr; }

 protected:
  Optimizer(nn::NamedTensors params, OptimizerOptions opt) : params_(std::move(params)), opt_(opt) {}
  nn::NamedTensors params_;
  OptimizerOptions opt_;
};

// Throws std::invalid_argument naming the optimizer when unknown or an option is out of range.
std::unique_ptr<Optimizer> make_optimizer(const nn::NamedTensors& params, const OptimizerOptions& opt);

// Scales all grads so their global L2 norm is at most max_norm; returns the norm before clipping.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

}  // namespace fw::optim
