// framework/core/autograd.cpp: graph recording and the backward pass.
#include "framework/core/autograd.h"

#include <unordered_map>
#include <unordered_set>

#include "framework/core/profile.h"
#include "framework/ops/elementwise.h"

namespace fw {
namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}
bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(Tensor out, const char* op, std::vector<Tensor> inputs, BackwardFn fn) {
  if (!needs_grad(inputs)) return out;
  auto node = std::make_shared<Node>();
  node->op = op;
  // The graph keeps edges, not data: a non-leaf input is kept as a handle with its shape and producer but no
  // storage, so an activation is freed as soon as no backward function saved it (each op saves only what its
  // gradient reads). Leaves keep their handle (their gradient is stored on them); inputs without grad are dropped.
  node->inputs.reserve(inputs.size());
  for (Tensor& in : inputs) {
    if (!in.defined() || !in.requires_grad()) node->inputs.emplace_back();
    else if (in.is_leaf()) node->inputs.push_back(std::move(in));
    else {
      auto edge = std::make_shared<TensorImpl>();
      edge->shape = in.shape();
      edge->strides = in.strides();
      edge->dtype = in.dtype();
      edge->requires_grad = true;
      edge->grad_fn = in.grad_fn();
      node->inputs.emplace_back(std::move(edge));
    }
  }
  node->backward = std::move(fn);
  node->out_shape = out.shape();
  node->out_dtype = out.dtype();
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
  return out;
}

void accumulate_into(Tensor& grad, const Tensor& g) {
  if (!grad.defined()) {
    grad = g.detach().clone().detach();  // own storage: later += must not write into another tensor
    return;
  }
  NoGradGuard ng;
  add_into(grad, g);
}

void run_backward(const Tensor& root, const Tensor& grad_out) {
  const profile::PhaseScope prof_phase(profile::Phase::Backward);  // kernels below count as backward
  if (!root.defined()) throw ShapeError("backward: undefined tensor");
  if (!root.requires_grad()) throw ShapeError("backward: tensor " + root.str() + " does not require grad");
  Tensor g0 = grad_out;
  if (!g0.defined()) {
    if (root.numel() != 1)
      throw ShapeError("backward: root " + root.str() + " is not a scalar; pass grad_out");
    g0 = Tensor::ones(root.shape(), root.dtype(), root.device());
  } else if (g0.shape() != root.shape()) {
    throw ShapeError("backward: grad_out " + shape_str(g0.shape()) + " does not match root " +
                     shape_str(root.shape()));
  }
  NoGradGuard ng;
  if (!root.grad_fn()) {  // a leaf: its gradient is grad_out itself
    Tensor g = root.grad();
    accumulate_into(g, g0);
    const_cast<Tensor&>(root).set_grad(g);
    return;
  }
  // Iterative post-order DFS over nodes gives a topological order (inputs after... reversed below).
  std::vector<Node*> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<Node*, size_t>> stack{{root.grad_fn().get(), 0}};
  seen.insert(root.grad_fn().get());
  while (!stack.empty()) {
    auto& [n, i] = stack.back();
    if (n->freed) throw ShapeError(std::string("backward: the graph through op '") + n->op +
                                   "' was already freed by an earlier backward()");
    if (i < n->inputs.size()) {
      const Tensor& in = n->inputs[i++];
      Node* c = in.defined() ? in.grad_fn().get() : nullptr;
      if (c && seen.insert(c).second) stack.push_back({c, 0});
    } else {
      order.push_back(n);
      stack.pop_back();
    }
  }
  std::unordered_map<Node*, Tensor> grads;
  grads[root.grad_fn().get()] = g0;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* n = *it;
    auto gi = grads.find(n);
    if (gi == grads.end()) continue;  // no gradient flowed here
    Tensor g = std::move(gi->second);
    grads.erase(gi);
    std::vector<Tensor> in_grads = n->backward(g);
    if (in_grads.size() != n->inputs.size())
      throw ShapeError(std::string("backward of '") + n->op + "' returned " + std::to_string(in_grads.size()) +
                       " gradients for " + std::to_string(n->inputs.size()) + " inputs");
    for (size_t k = 0; k < in_grads.size(); ++k) {
      Tensor& in = n->inputs[k];
      Tensor& gk = in_grads[k];
      if (!gk.defined() || !in.defined() || !in.requires_grad()) continue;
      if (gk.shape() != in.shape())
        throw ShapeError(std::string("backward of '") + n->op + "': gradient " + shape_str(gk.shape()) +
                         " for input " + std::to_string(k) + " of shape " + shape_str(in.shape()));
      if (Node* c = in.grad_fn().get()) {
        auto ci = grads.find(c);
        if (ci == grads.end()) grads.emplace(c, gk);
        else {
          // Accumulate into a fresh tensor: gk or the stored one may alias another tensor's storage.
          ci->second = add(ci->second, gk);
        }
      } else {
        Tensor lg = in.grad();
        accumulate_into(lg, gk);
        in.set_grad(lg);
      }
    }
  }
  // Free the graph: drop saved tensors and closures.
  for (Node* n : order) {
    n->inputs.clear();
    n->backward = nullptr;
    n->freed = true;
  }
}

}  // namespace fw
