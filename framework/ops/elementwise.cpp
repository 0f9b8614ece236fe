// framework/ops/elementwise.cpp: binary and unary elementwise ops: the CPU kernels (fw_binary_params,
// fw_unary_params, fw_unary_backward_params), then the ops beside their gradients.
#include "framework/ops/elementwise.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "framework/backend/backend.h"
#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "framework/ops/reduce.h"
#include "framework/ops/vec_math.h"
#include "framework/ops/view.h"

namespace fw {
namespace {

// ---- binary: y = a (op) b over a broadcast index space. y: out shape; a, b: strides 0 on broadcast dims.
// Fast paths: the op is chosen once outside the loops (one loop per op, so each vectorises); dims that are
// contiguous in y, a and b alike are merged, so a bias (1, C, 1, 1) added to (N, C, H, W) becomes rows of
// H*W with a scalar b; the rows are cut into fixed chunks of about kElementwiseChunk elements and run in
// parallel. Every element is computed alone, so the result does not depend on the chunking or the threads.
struct AddOp { template <class T> T operator()(T a, T b) const { return a + b; } };
struct SubOp { template <class T> T operator()(T a, T b) const { return a - b; } };
struct MulOp { template <class T> T operator()(T a, T b) const { return a * b; } };
struct DivOp { template <class T> T operator()(T a, T b) const { return a / b; } };
template <class F> void with_binary_op(int op, F&& body) {
  switch (op) {
    case FW_B_ADD: body(AddOp{}); break;
    case FW_B_SUB: body(SubOp{}); break;
    case FW_B_MUL: body(MulOp{}); break;
    default: body(DivOp{}); break;
  }
}
// One row of `len` elements: y[j] = a[j*ia] (op) b[j*ib]; unit and zero strides get their own loops.
template <class T, class Op>
inline void binary_row(T* y, const T* a, const T* b, int64_t len, int64_t ia, int64_t ib, Op f) {
  if (ia == 1 && ib == 1) {
    for (int64_t j = 0; j < len; ++j) y[j] = f(a[j], b[j]);
  } else if (ia == 1 && ib == 0) {
    const T bv = b[0];
    for (int64_t j = 0; j < len; ++j) y[j] = f(a[j], bv);
  } else if (ia == 0 && ib == 1) {
    const T av = a[0];
    for (int64_t j = 0; j < len; ++j) y[j] = f(av, b[j]);
  } else {
    for (int64_t j = 0; j < len; ++j) y[j] = f(a[j * ia], b[j * ib]);
  }
}
template <class T>
void binary_forward(T* y, const T* a, const T* b, int nd, const int64_t* shape, const int64_t* sa,
                    const int64_t* sb, int op) {
  int64_t n = 1;
  for (int d = 0; d < nd; ++d) n *= shape[d];
  if (n == 0) return;
  // Coalesce: drop size-1 dims, merge dim d into d+1 when both operands step over d as over a block of d+1.
  int64_t sh[8], xa[8], xb[8];
  int m = 0;
  for (int d = 0; d < nd; ++d) {
    if (shape[d] == 1) continue;
    if (m > 0 && xa[m - 1] == sa[d] * shape[d] && xb[m - 1] == sb[d] * shape[d]) {
      sh[m - 1] *= shape[d];
      xa[m - 1] = sa[d];
      xb[m - 1] = sb[d];
      continue;
    }
    sh[m] = shape[d];
    xa[m] = sa[d];
    xb[m] = sb[d];
    ++m;
  }
  if (m == 0) {  // a single element
    sh[0] = 1;
    xa[0] = xb[0] = 0;
    m = 1;
  }
  const int64_t inner = sh[m - 1], ia = xa[m - 1], ib = xb[m - 1], rows = n / inner;
  // Work items: (row, piece of the row). A row longer than a chunk (a same-shape add coalesces into one row of
  // n elements) is cut into pieces of kElementwiseChunk, so it too is shared among the threads; short rows are
  // whole items, grouped into chunks of about kElementwiseChunk elements.
  const int64_t piece = std::min(inner, kElementwiseChunk), pieces = (inner + piece - 1) / piece;
  with_binary_op(op, [&](auto f) {
    parallel_chunks(rows * pieces, std::max<int64_t>(1, kElementwiseChunk / piece), [&](int64_t t0, int64_t t1) {
      int64_t idx[8] = {0};  // the row of item t0 as an index over the outer dims
      for (int64_t d = m - 2, r = t0 / pieces; d >= 0; --d) {
        idx[d] = r % sh[d];
        r /= sh[d];
      }
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t r = t / pieces, j0 = (t % pieces) * piece, j1 = std::min(inner, j0 + piece);
        int64_t oa = j0 * ia, ob = j0 * ib;
        for (int d = 0; d < m - 1; ++d) {
          oa += idx[d] * xa[d];
          ob += idx[d] * xb[d];
        }
        binary_row(y + r * inner + j0, a + oa, b + ob, j1 - j0, ia, ib, f);
        if (j1 < inner) continue;  // next item: the next piece of the same row
        for (int d = m - 2; d >= 0; --d) {
          if (++idx[d] < sh[d]) break;
          idx[d] = 0;
        }
      }
    });
  });
}
// ---- unary: y = f(x); backward dx = dy * f'(x, y).  x, y, dx, dy: (n,)
// The op is chosen once outside the loop (one loop per op: the cheap ones vectorise), and the elements are
// cut into fixed chunks run in parallel; each element is computed alone, so chunking never changes a result.
template <class T> inline T sigmoid_of(T x) {
  return x >= 0 ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x));
}
// Calls body(f) with f(x) the forward function of op (s: the scalar of the *_SCALAR ops). In float, exp,
// sigmoid and tanh are the branch-free versions of vec_math.h, which vectorise (libm's are calls).
template <class T, class F> void with_unary_op(int op, T s, F&& body) {
  constexpr bool f32 = std::is_same<T, float>::value;
  switch (op) {
    case FW_U_NEG: body([](T x) { return -x; }); break;
    case FW_U_EXP:
      if constexpr (f32) body([](T x) { return vec_math::exp(x); });
      else body([](T x) { return std::exp(x); });
      break;
    case FW_U_LOG: body([](T x) { return std::log(x); }); break;
    case FW_U_SIGMOID:
      if constexpr (f32) body([](T x) { return vec_math::sigmoid(x); });
      else body([](T x) { return sigmoid_of(x); });
      break;
    case FW_U_TANH:
      if constexpr (f32) body([](T x) { return vec_math::tanh(x); });
      else body([](T x) { return std::tanh(x); });
      break;
    case FW_U_RELU: body([](T x) { return x > 0 ? x : T(0); }); break;
    case FW_U_ADD_SCALAR: body([s](T x) { return x + s; }); break;
    default: body([s](T x) { return x * s; }); break;  // FW_U_MUL_SCALAR
  }
}
// Calls body(g) with g(dy, x, y) = dy * f'(x, y) for op.
template <class T, class F> void with_unary_derivative(int op, T s, F&& body) {
  switch (op) {
    case FW_U_NEG: body([](T dy, T, T) { return dy * T(-1); }); break;
    case FW_U_EXP: body([](T dy, T, T y) { return dy * y; }); break;
    case FW_U_LOG: body([](T dy, T x, T) { return dy * (T(1) / x); }); break;
    case FW_U_SIGMOID: body([](T dy, T, T y) { return dy * (y * (T(1) - y)); }); break;
    case FW_U_TANH: body([](T dy, T, T y) { return dy * (T(1) - y * y); }); break;
    // relu: dy where x > 0, else +0 (a select, which vectorises; dy * 0 would keep -0 and NaN, as torch does not)
    case FW_U_RELU: body([](T dy, T x, T) { return x > 0 ? dy : T(0); }); break;
    case FW_U_ADD_SCALAR: body([](T dy, T, T) { return dy * T(1); }); break;
    default: body([s](T dy, T, T) { return dy * s; }); break;  // FW_U_MUL_SCALAR
  }
}
template <class T> void unary_forward(T* y, const T* x, int64_t n, int op, T s) {
  with_unary_op<T>(op, s, [&](auto f) {
    parallel_chunks(n, kElementwiseChunk, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) y[i] = f(x[i]);
    });
  });
}
template <class T> void unary_backward(T* dx, const T* dy, const T* x, const T* y, int64_t n, int op, T s) {
  with_unary_derivative<T>(op, s, [&](auto g) {
    parallel_chunks(n, kElementwiseChunk, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) dx[i] = g(dy[i], x[i], y[i]);
    });
  });
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
