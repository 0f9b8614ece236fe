// framework/ops/elementwise.h: elementwise ops with NumPy broadcasting, scalar ops and unary activations.
//
// Binary ops broadcast like NumPy (shapes aligned from the right; a dimension of 1 stretches) and throw
// ShapeError naming the op and both shapes otherwise. Gradients of a broadcast input are summed back to its
// shape. Inputs must share dtype and device.
#pragma once
#include "framework/backend/backend_abi.h"

/* ---- kernels (plain C, part of the backend ABI; listed in framework/ops/families.h) */

typedef enum fw_unary_op {
  FW_U_NEG = 0, FW_U_EXP, FW_U_LOG, FW_U_SIGMOID, FW_U_TANH, FW_U_RELU, FW_U_ADD_SCALAR, FW_U_MUL_SCALAR,
  FW_U_COUNT
} fw_unary_op;
typedef enum fw_binary_op { FW_B_ADD = 0, FW_B_SUB, FW_B_MUL, FW_B_DIV, FW_B_COUNT } fw_binary_op;

/* unary: y = f(x) (fw_unary_op; `scalar` is s of add_scalar / mul_scalar).  y, x: (n,); y may alias x. */
typedef struct fw_unary_params {
  fw_buffer y, x;
  int64_t n;
  int32_t op;
  double scalar;
} fw_unary_params;

/* unary_backward: dx = dy f'(x), written from x and the forward's y.  dx, dy, x, y: (n,) */
typedef struct fw_unary_backward_params {
  fw_buffer dx, dy, x, y;
  int64_t n;
  int32_t op;
  double scalar;
} fw_unary_backward_params;

/* binary: y = a (op) b over shape (ndim <= FW_MAX_DIMS); y contiguous, a and b read with their strides (0 on
 * broadcast dims). y may alias a or b when that operand is contiguous with y's shape (in-place accumulation). */
typedef struct fw_binary_params {
  fw_buffer y, a, b;
  int64_t ndim;
  int64_t shape[FW_MAX_DIMS];
  int64_t a_strides[FW_MAX_DIMS];
  int64_t b_strides[FW_MAX_DIMS];
  int32_t op;
} fw_binary_params;

#define FW_ELEMENTWISE_KERNELS(X)                                                                    \
  X(UNARY, unary, fw_unary_params, x, FW_WRITES(fw_unary_params, y))                                 \
  X(UNARY_BACKWARD, unary_backward, fw_unary_backward_params, y, FW_WRITES(fw_unary_backward_params, dx)) \
  X(BINARY, binary, fw_binary_params, b, FW_WRITES(fw_binary_params, y))

#ifdef __cplusplus
#include "framework/core/tensor.h"

#define FW_ELEMENTWISE_OPS(X)                                  \
  X(add, "elementwise", "a + b, broadcasting")                 \
  X(sub, "elementwise", "a - b, broadcasting")                 \
  X(mul, "elementwise", "a * b, broadcasting")                 \
  X(div, "elementwise", "a / b, broadcasting")                 \
  X(neg, "elementwise", "-x")                                  \
  X(add_scalar, "elementwise", "x + s")                        \
  X(mul_scalar, "elementwise", "x * s")                        \
  X(exp, "elementwise", "e^x")                                 \
  X(log, "elementwise", "natural log")                         \
  X(sigmoid, "elementwise", "1 / (1 + e^-x)")                  \
  X(tanh, "elementwise", "hyperbolic tangent")                 \
  X(relu, "elementwise", "max(x, 0)")

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
// dst += src, same shape, dtype and device, dst contiguous; no graph (gradient accumulation).
void add_into(Tensor& dst, const Tensor& src);
// dst *= s in place, dst contiguous; no graph (gradient clipping).
void scale_into(Tensor& dst, double s);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& a, double s) { return add_scalar(a, s); }
inline Tensor operator*(const Tensor& a, double s) { return mul_scalar(a, s); }
inline Tensor operator*(double s, const Tensor& a) { return mul_scalar(a, s); }

}  // namespace fw
#endif
