// framework/core/autograd.h: the reverse-mode graph.
//
// Ops record a Node on their output when grad mode is on and an input requires grad. A Node keeps edges to its
// inputs (their producers and shapes; the data only of leaves) and a backward function mapping the output's gradient to one gradient per input (an undefined Tensor
// means "no gradient"). backward() runs the nodes in reverse topological order, accumulating (+=) gradients of
// tensors used more than once, writes leaf gradients into Tensor::grad(), and then frees the graph: a second
// backward through the same nodes throws.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace fw {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_out)>;

struct Node {
  const char* op = "";
  std::vector<Tensor> inputs;
  BackwardFn backward;
  Shape out_shape;
  DType out_dtype = DType::F32;
  bool freed = false;
};

bool grad_enabled();
// RAII: disables graph recording in its scope (inference, optimizer steps).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// True when an op over these inputs should record a node.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches a node to `out` when needs_grad(inputs); returns out. The backward function must not capture `out`
// itself (that would be a cycle); capture out.detach() instead.
Tensor record(Tensor out, const char* op, std::vector<Tensor> inputs, BackwardFn fn);

// Runs backprop from `root`. grad_out defaults to 1 for a one-element root; otherwise it is required.
void run_backward(const Tensor& root, const Tensor& grad_out);

// grad += g, allocating grad on first use (used by backward and tests).
void accumulate_into(Tensor& grad, const Tensor& g);

}  // namespace fw
