// framework/ops/elementwise.cpp: binary and unary elementwise ops: the CPU kernels (fw_binary_params,
// fw_unary_params, fw_unary_backward_params), then the ops beside their gradients.
#include "framework/ops/elementwise.h"

#include <cmath>

#include "framework/backend/backend.h"
#include "framework/core/autograd.h"
#include "framework/ops/reduce.h"
#include "framework/ops/view.h"

namespace fw {
namespace {

// ---- binary: y = a (op) b over a broadcast index space. y: out shape; a, b: strides 0 on broadcast dims.
template <class T> inline T apply_binary(int op, T a, T b) {
  switch (op) {
    case FW_B_ADD: return a + b;
    case FW_B_SUB: return a - b;
    case FW_B_MUL: return a * b;
    default: return a / b;
  }
}
template <class T>
void binary_forward(T* y, const T* a, const T* b, int nd, const int64_t* shape, const int64_t* sa,
                    const int64_t* sb, int op) {
  int64_t n = 1;
  for (int d = 0; d < nd; ++d) n *= shape[d];
  if (n == 0) return;
  bool flat = true;  // both operands dense over the whole index space
  int64_t acc = 1;
  for (int d = nd - 1; d >= 0; --d) {
    if (shape[d] != 1 && (sa[d] != acc || sb[d] != acc)) flat = false;
    acc *= shape[d];
  }
  if (flat || nd == 0) {
    for (int64_t i = 0; i < n; ++i) y[i] = apply_binary(op, a[i], b[i]);
    return;
  }
  int64_t idx[8] = {0};
  int64_t inner = shape[nd - 1], ia = sa[nd - 1], ib = sb[nd - 1];
  for (int64_t o = 0; o < n; o += inner) {
    int64_t oa = 0, ob = 0;
    for (int d = 0; d < nd - 1; ++d) { oa += idx[d] * sa[d]; ob += idx[d] * sb[d]; }
    for (int64_t j = 0; j < inner; ++j) y[o + j] = apply_binary(op, a[oa + j * ia], b[ob + j * ib]);
    for (int d = nd - 2; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}
// ---- unary: y = f(x); backward dx = dy * f'(x, y).  x, y, dx, dy: (n,)
template <class T> inline T apply_unary(int op, T x, T s) {
  switch (op) {
    case FW_U_NEG: return -x;
    case FW_U_EXP: return std::exp(x);
    case FW_U_LOG: return std::log(x);
    case FW_U_SIGMOID: return x >= 0 ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x));
    case FW_U_TANH: return std::tanh(x);
    case FW_U_RELU: return x > 0 ? x : T(0);
    case FW_U_ADD_SCALAR: return x + s;
    default: return x * s;  // FW_U_MUL_SCALAR
  }
}
template <class T> inline T unary_derivative(int op, T x, T y, T s) {
  switch (op) {
    case FW_U_NEG: return T(-1);
    case FW_U_EXP: return y;
    case FW_U_LOG: return T(1) / x;
    case FW_U_SIGMOID: return y * (T(1) - y);
    case FW_U_TANH: return T(1) - y * y;
    case FW_U_RELU: return x > 0 ? T(1) : T(0);
    case FW_U_ADD_SCALAR: return T(1);
    default: return s;  // FW_U_MUL_SCALAR
  }
}
template <class T> void unary_forward(T* y, const T* x, int64_t n, int op, T s) {
  for (int64_t i = 0; i < n; ++i) y[i] = apply_unary(op, x[i], s);
}
template <class T> void unary_backward(T* dx, const T* dy, const T* x, const T* y, int64_t n, int op, T s) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * unary_derivative(op, x[i], y[i], s);
}
}  // namespace

int cpu_binary(int32_t dtype, const fw_binary_params* p) {
  const int nd = static_cast<int>(p->ndim);
  if (nd < 0 || nd > FW_MAX_DIMS || p->op < 0 || p->op >= FW_B_COUNT) return FW_ERR_INVALID;
  if (dtype == FW_F32)
    binary_forward(static_cast<float*>(p->y.ptr), static_cast<const float*>(p->a.ptr),
                   static_cast<const float*>(p->b.ptr), nd, p->shape, p->a_strides, p->b_strides, p->op);
  else
    binary_forward(static_cast<double*>(p->y.ptr), static_cast<const double*>(p->a.ptr),
                   static_cast<const double*>(p->b.ptr), nd, p->shape, p->a_strides, p->b_strides, p->op);
  return FW_OK;
}
int cpu_unary(int32_t dtype, const fw_unary_params* p) {
  if (p->op < 0 || p->op >= FW_U_COUNT || p->n < 0) return FW_ERR_INVALID;
  if (dtype == FW_F32)
    unary_forward(static_cast<float*>(p->y.ptr), static_cast<const float*>(p->x.ptr), p->n, p->op,
                  static_cast<float>(p->scalar));
  else
    unary_forward(static_cast<double*>(p->y.ptr), static_cast<const double*>(p->x.ptr), p->n, p->op, p->scalar);
  return FW_OK;
}
int cpu_unary_backward(int32_t dtype, const fw_unary_backward_params* p) {
  if (p->op < 0 || p->op >= FW_U_COUNT || p->n < 0) return FW_ERR_INVALID;
  if (dtype == FW_F32)
    unary_backward(static_cast<float*>(p->dx.ptr), static_cast<const float*>(p->dy.ptr),
                   static_cast<const float*>(p->x.ptr), static_cast<const float*>(p->y.ptr), p->n, p->op,
                   static_cast<float>(p->scalar));
  else
    unary_backward(static_cast<double*>(p->dx.ptr), static_cast<const double*>(p->dy.ptr),
                   static_cast<const double*>(p->x.ptr), static_cast<const double*>(p->y.ptr), p->n, p->op,
                   p->scalar);
  return FW_OK;
}

namespace {

void check_pair(const Tensor& a, const Tensor& b, const char* op) {
  if (!a.defined() || !b.defined()) throw ShapeError(std::string(op) + ": undefined input");
  if (a.dtype() != b.dtype())
    throw ShapeError(std::string(op) + ": dtypes differ: " + a.str() + " and " + b.str());
  if (a.device() != b.device()) throw ShapeError(std::string(op) + ": inputs on different devices");
}

// The binary kernel's parameters for y = a (op) b, y of the broadcast shape, a and b contiguous.
fw_binary_params binary_params(const Tensor& y, const Tensor& a, const Tensor& b, int op) {
  fw_binary_params p{};
  p.y = buffer_of(y);
  p.a = buffer_of(a);
  p.b = buffer_of(b);
  const Shape& out = y.shape();
  const int nd = static_cast<int>(out.size());
  p.ndim = nd;
  for (int d = 0; d < nd; ++d) {
    p.shape[d] = out[d];
    const int da = d - (nd - static_cast<int>(a.dim())), db = d - (nd - static_cast<int>(b.dim()));
    p.a_strides[d] = (da < 0 || a.shape()[da] == 1) ? 0 : a.strides()[da];
    p.b_strides[d] = (db < 0 || b.shape()[db] == 1) ? 0 : b.strides()[db];
  }
  p.op = op;
  return p;
}

// Runs the binary kernel: y = a (op) b with broadcasting. No graph.
Tensor binary_raw(const Tensor& a0, const Tensor& b0, int op, const char* name) {
  check_pair(a0, b0, name);
  Shape out = broadcast_shapes(a0.shape(), b0.shape(), name);
  if (out.size() > 8) throw ShapeError(std::string(name) + ": more than 8 dimensions");
  Tensor a = a0.contiguous(), b = b0.contiguous();
  Tensor y = Tensor::empty(out, a.dtype(), a.device());
  launch(y.device(), y.dtype(), binary_params(y, a, b, op));
  return y;
}

Tensor unary_raw(const Tensor& x0, int op, double s) {
  Tensor x = x0.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  launch(y.device(), y.dtype(), fw_unary_params{buffer_of(y), buffer_of(x), x.numel(), op, s});
  return y;
}
Tensor unary_grad(const Tensor& dy0, const Tensor& x, const Tensor& y, int op, double s) {
  Tensor dy = dy0.contiguous();
  Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  launch(dx.device(), dx.dtype(),
         fw_unary_backward_params{buffer_of(dx), buffer_of(dy), buffer_of(x), buffer_of(y), x.numel(), op, s});
  return dx;
}

Tensor unary_op(const Tensor& x0, int op, double s, const char* name) {
  if (!x0.defined()) throw ShapeError(std::string(name) + ": undefined input");
  Tensor x = x0.contiguous();
  Tensor y = unary_raw(x, op, s);
  // Save only what the derivative reads (unary_derivative): log reads x; exp, sigmoid, tanh read y; relu reads
  // x > 0, which is y > 0; neg, add_scalar, mul_scalar read neither (the kernel is then given dy in their place).
  const bool reads_x = op == FW_U_LOG, reads_y = op == FW_U_EXP || op == FW_U_SIGMOID || op == FW_U_TANH ||
                                                  op == FW_U_RELU;
  Tensor saved = reads_x ? x.detach() : reads_y ? y.detach() : Tensor();
  return record(y, name, {x0}, [saved, op, s](const Tensor& g) {
    const Tensor& v = saved.defined() ? saved : g;
    return std::vector<Tensor>{unary_grad(g, v, v, op, s)};
  });
}

}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ShapeError(std::string(op) + ": shapes " + shape_str(a) + " and " + shape_str(b) +
                       " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor sum_to_shape(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  size_t lead = g.dim() - shape.size();
  std::vector<int64_t> dims;
  for (size_t d = 0; d < static_cast<size_t>(g.dim()); ++d)
    if (d < lead || (shape[d - lead] == 1 && g.shape()[d] != 1)) dims.push_back(static_cast<int64_t>(d));
  NoGradGuard ng;
  Tensor r = sum_dims(g, dims, /*keepdim=*/true);
  return reshape(r, shape);
}

void add_into(Tensor& dst, const Tensor& src) {
  if (dst.shape() != src.shape()) throw ShapeError("add_into: " + src.str() + " into " + dst.str());
  if (!dst.is_contiguous()) throw ShapeError("add_into: destination " + dst.str() + " is not contiguous");
  check_pair(dst, src, "add_into");
  Tensor s = src.contiguous();
  launch(dst.device(), dst.dtype(), binary_params(dst, dst, s, FW_B_ADD));  // y aliases a: dst += s
}

void scale_into(Tensor& dst, double s) {
  if (!dst.defined() || !dst.is_contiguous()) throw ShapeError("scale_into: destination must be contiguous");
  launch(dst.device(), dst.dtype(),
         fw_unary_params{buffer_of(dst), buffer_of(dst), dst.numel(), FW_U_MUL_SCALAR, s});  // y aliases x
}

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = binary_raw(a, b, FW_B_ADD, "add");
  Shape sa = a.shape(), sb = b.shape();
  return record(y, "add", {a, b}, [sa, sb](const Tensor& g) {
    return std::vector<Tensor>{sum_to_shape(g, sa), sum_to_shape(g, sb)};
  });
}
Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = binary_raw(a, b, FW_B_SUB, "sub");
  Shape sa = a.shape(), sb = b.shape();
  return record(y, "sub", {a, b}, [sa, sb](const Tensor& g) {
    return std::vector<Tensor>{sum_to_shape(g, sa), sum_to_shape(unary_raw(g, FW_U_NEG, 0), sb)};
  });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = binary_raw(a, b, FW_B_MUL, "mul");
  Tensor ad = a.detach(), bd = b.detach();
  return record(y, "mul", {a, b}, [ad, bd](const Tensor& g) {
    return std::vector<Tensor>{sum_to_shape(binary_raw(g, bd, FW_B_MUL, "mul"), ad.shape()),
                               sum_to_shape(binary_raw(g, ad, FW_B_MUL, "mul"), bd.shape())};
  });
}
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = binary_raw(a, b, FW_B_DIV, "div");
  Tensor bd = b.detach(), yd = y.detach();
  Shape sa = a.shape();
  return record(y, "div", {a, b}, [sa, bd, yd](const Tensor& g) {
    Tensor ga = binary_raw(g, bd, FW_B_DIV, "div");                                 // g / b
    Tensor gb = unary_raw(binary_raw(ga, yd, FW_B_MUL, "div"), FW_U_NEG, 0);        // -g a / b^2 = -(g/b) y
    return std::vector<Tensor>{sum_to_shape(ga, sa), sum_to_shape(gb, bd.shape())};
  });
}

Tensor neg(const Tensor& x) { return unary_op(x, FW_U_NEG, 0, "neg"); }
Tensor add_scalar(const Tensor& x, double s) { return unary_op(x, FW_U_ADD_SCALAR, s, "add_scalar"); }
Tensor mul_scalar(const Tensor& x, double s) { return unary_op(x, FW_U_MUL_SCALAR, s, "mul_scalar"); }
Tensor exp(const Tensor& x) { return unary_op(x, FW_U_EXP, 0, "exp"); }
Tensor log(const Tensor& x) { return unary_op(x, FW_U_LOG, 0, "log"); }
Tensor sigmoid(const Tensor& x) { return unary_op(x, FW_U_SIGMOID, 0, "sigmoid"); }
Tensor tanh(const Tensor& x) { return unary_op(x, FW_U_TANH, 0, "tanh"); }
Tensor relu(const Tensor& x) { return unary_op(x, FW_U_RELU, 0, "relu"); }

}  // namespace fw
