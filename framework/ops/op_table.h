// framework/ops/op_table.h: THE list of differentiable ops. One line per op: name, the file that implements it
// (forward and backward side by side), and what it computes.
//
// This table is the single source of truth: tests/test_ops.cpp fails when an op here has no registered gradient
// check (tests/grad_*.cpp) and when docs/ops.md does not describe it. Adding an op: docs/adding-an-op.md.
#pragma once

#define FW_OP_TABLE(X)                                                                              \
  X(add, "elementwise", "a + b, broadcasting")                                                      \
  X(sub, "elementwise", "a - b, broadcasting")                                                      \
  X(mul, "elementwise", "a * b, broadcasting")                                                      \
  X(div, "elementwise", "a / b, broadcasting")                                                      \
  X(neg, "elementwise", "-x")                                                                       \
  X(add_scalar, "elementwise", "x + s")                                                             \
  X(mul_scalar, "elementwise", "x * s")                                                             \
  X(exp, "elementwise", "e^x")                                                                      \
  X(log, "elementwise", "natural log")                                                              \
  X(sigmoid, "elementwise", "1 / (1 + e^-x)")                                                       \
  X(tanh, "elementwise", "hyperbolic tangent")                                                      \
  X(relu, "elementwise", "max(x, 0)")                                                               \
  X(copy, "copy", "contiguous copy")                                                                \
  X(convert, "copy", "dtype conversion")                                                            \
  X(sum, "reduce", "sum of all elements, or over dims")                                             \
  X(mean, "reduce", "mean of all elements, or over dims")                                           \
  X(reshape, "view", "new shape, shared storage")                                                   \
  X(permute, "view", "reordered dims, shared storage")                                              \
  X(slice, "view", "a range along one dim, shared storage")                                         \
  X(matmul, "matmul", "(M,K) x (K,N) on BLAS GEMM")                                                 \
  X(conv2d, "conv", "2-D convolution, per-side zero padding, optional weight mask; im2col + GEMM")  \
  X(concat, "spatial", "join along a dim")                                                          \
  X(split, "spatial", "pieces along a dim")                                                         \
  X(shift, "spatial", "shift along a dim with zero fill")                                           \
  X(skew, "spatial", "row r moved right by r: (N,C,H,W) -> (N,C,H,W+H-1)")                           \
  X(unskew, "spatial", "inverse of skew")                                                           \
  X(flip, "spatial", "reverse along a dim")                                                         \
  X(upsample_nearest, "spatial", "nearest-neighbour upsampling by an integer factor")               \
  X(bce_with_logits, "loss", "binary cross-entropy on logits, stable, per element or reduced")      \
  X(softmax_cross_entropy, "loss", "softmax cross-entropy over a class axis, stable (log-sum-exp)")  \
  X(log_softmax, "loss", "log softmax along a dim, stable")
