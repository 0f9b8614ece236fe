// framework/ops/elementwise.h: elementwise ops with NumPy broadcasting, scalar ops and unary activations.
//
// Binary ops broadcast like NumPy (shapes aligned from the right; a dimension of 1 stretches) and throw
// ShapeError naming the op and both shapes otherwise. Gradients of a broadcast input are summed back to its
// shape. Inputs must share dtype and device.
#pragma once
#include "framework/core/tensor.h"

namespace fw {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);

Tensor neg(const Tensor& x);
Tensor add_scalar(const Tensor& x, double s);
Tensor mul_scalar(const Tensor& x, double s);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor relu(const Tensor& x);

// Sums g over the dimensions that were broadcast to reach g's shape from `shape` (no graph).
Tensor sum_to_shape(const Tensor& g, const Shape& shape);
// dst += src, same shape, dst contiguous; no graph (gradient accumulation, optimizers).
void add_into(Tensor& dst, const Tensor& src);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& a, double s) { return add_scalar(a, s); }
inline Tensor operator*(const Tensor& a, double s) { return mul_scalar(a, s); }
inline Tensor operator*(double s, const Tensor& a) { return mul_scalar(a, s); }

}  // namespace fw
