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
// The updates run as kernels on the parameter's device (below); the arithmetic is done in double per element and
// stored in the parameter's dtype, so a run is bit-reproducible and resuming gives the uninterrupted updates.
#pragma once
#include "framework/backend/backend_abi.h"

/* ---- kernels (plain C, part of the backend ABI; listed in framework/ops/families.h). All buffers: (n,), the
 * parameter's dtype; param and the state buffers are updated in place. */

/* sgd_update: v = momentum v + g; p -= lr v */
typedef struct fw_sgd_update_params {
  fw_buffer param, grad, momentum_buffer;
  int64_t n;
  double lr, momentum;
} fw_sgd_update_params;

/* rmsprop_update: s = rho s + (1 - rho) g^2; p -= lr g / (sqrt(s) + eps) */
typedef struct fw_rmsprop_update_params {
  fw_buffer param, grad, square_avg;
  int64_t n;
  double lr, rho, eps;
} fw_rmsprop_update_params;

/* adam_update: m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
 * p -= lr (m / bias_correction1) / (sqrt(v / bias_correction2) + eps), bias_correction_i = 1 - beta_i^t */
typedef struct fw_adam_update_params {
  fw_buffer param, grad, exp_avg, exp_avg_sq;
  int64_t n;
  double lr, beta1, beta2, eps, bias_correction1, bias_correction2;
} fw_adam_update_params;

#define FW_OPTIM_KERNELS(X)                                                                                 \
  X(SGD_UPDATE, sgd_update, fw_sgd_update_params, momentum_buffer,                                           \
    FW_WRITES(fw_sgd_update_params, param) | FW_WRITES(fw_sgd_update_params, momentum_buffer))               \
  X(RMSPROP_UPDATE, rmsprop_update, fw_rmsprop_update_params, square_avg,                                    \
    FW_WRITES(fw_rmsprop_update_params, param) | FW_WRITES(fw_rmsprop_update_params, square_avg))            \
  X(ADAM_UPDATE, adam_update, fw_adam_update_params, exp_avg_sq,                                             \
    FW_WRITES(fw_adam_update_params, param) | FW_WRITES(fw_adam_update_params, exp_avg) |                    \
        FW_WRITES(fw_adam_update_params, exp_avg_sq))

#ifdef __cplusplus
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
#endif
