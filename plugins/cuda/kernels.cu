// plugins/cuda/kernels.cu: the CUDA plugin's element-wise, data-movement, reduction, loss and optimizer kernels
// (float32), each the device form of its CPU reference (framework/ops/<family>.cpp, framework/optim/): the same
// formulas; softmax sums in double with k ascending as on the CPU; sum_dim sums r ascending per output; the
// optimizer arithmetic in double per element. No atomics: every reduction has one fixed order.
#include "plugins/cuda/cuda_common.h"

namespace fwcuda {
namespace {

#define GRID_LOOP(i, n) for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); \
                             i += int64_t(blockDim.x) * gridDim.x)

__global__ void k_fill(float* y, int64_t n, float v) {
  GRID_LOOP(i, n) y[i] = v;
}

struct Block {  // copy_block / binary geometry passed by value
  int64_t ndim, shape[FW_MAX_DIMS], s1[FW_MAX_DIMS], s2[FW_MAX_DIMS];
};

__global__ void k_copy_block(float* y, const float* x, Block b, int64_t n) {
  GRID_LOOP(i, n) {
    int64_t rest = i, yo = 0, xo = 0;
    for (int64_t d = b.ndim - 1; d >= 0; --d) {
      const int64_t idx = rest % b.shape[d];
      rest /= b.shape[d];
      yo += idx * b.s1[d];
      xo += idx * b.s2[d];
    }
    y[yo] = x[xo];
  }
}

__device__ inline float unary_f(int op, float x, float s) {
  switch (op) {
    case FW_U_NEG: return -x;
    case FW_U_EXP: return expf(x);
    case FW_U_LOG: return logf(x);
    case FW_U_SIGMOID: return x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
    case FW_U_TANH: return tanhf(x);
    case FW_U_RELU: return x > 0 ? x : 0.0f;
    case FW_U_ADD_SCALAR: return x + s;
    default: return x * s;
  }
}
__device__ inline float unary_d(int op, float x, float y, float s) {
  switch (op) {
    case FW_U_NEG: return -1.0f;
    case FW_U_EXP: return y;
    case FW_U_LOG: return 1.0f / x;
    case FW_U_SIGMOID: return y * (1.0f - y);
    case FW_U_TANH: return 1.0f - y * y;
    case FW_U_RELU: return x > 0 ? 1.0f : 0.0f;
    case FW_U_ADD_SCALAR: return 1.0f;
    default: return s;
  }
}
__global__ void k_unary(float* y, const float* x, int64_t n, int op, float s) {
  GRID_LOOP(i, n) y[i] = unary_f(op, x[i], s);
}
// x or y may be absent (the op reads only what its derivative needs).
__global__ void k_unary_backward(float* dx, const float* dy, const float* x, const float* y, int64_t n, int op,
                                 float s) {
  GRID_LOOP(i, n) dx[i] = dy[i] * unary_d(op, x ? x[i] : 0.0f, y ? y[i] : 0.0f, s);
}

__global__ void k_binary(float* y, const float* a, const float* b, Block g, int64_t n, int op) {
  GRID_LOOP(i, n) {
    int64_t rest = i, ao = 0, bo = 0;
    for (int64_t d = g.ndim - 1; d >= 0; --d) {
      const int64_t idx = rest % g.shape[d];
      rest /= g.shape[d];
      ao += idx * g.s1[d];
      bo += idx * g.s2[d];
    }
    const float av = a[ao], bv = b[bo];
    y[i] = op == FW_B_ADD ? av + bv : op == FW_B_SUB ? av - bv : op == FW_B_MUL ? av * bv : av / bv;
  }
}

// sum_dim: y[o, i] = sum_r x[o, r, i], r ascending.
__global__ void k_sum_dim(float* y, const float* x, int64_t outer, int64_t red, int64_t inner) {
  GRID_LOOP(j, outer * inner) {
    const int64_t o = j / inner, i = j % inner;
    const float* xo = x + o * red * inner + i;
    float acc = 0.0f;
    for (int64_t r = 0; r < red; ++r) acc += xo[r * inner];
    y[j] = acc;
  }
}

// sum of squares in double: fixed partition (block b, thread t takes i = b*kThreads + t + k*stride), fixed tree
// in shared memory, then one thread adds the block partials in block order. Deterministic run to run.
constexpr int kSqBlocks = 256;
__global__ void k_sq_partial(double* parts, const float* x, int64_t n) {
  __shared__ double sh[kThreads];
  double acc = 0.0;
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < n; i += int64_t(kThreads) * kSqBlocks) {
    const double v = x[i];
    acc += v * v;
  }
  sh[threadIdx.x] = acc;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w /= 2) {
    if (threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) parts[blockIdx.x] = sh[0];
}
__global__ void k_sq_final(double* out, const double* parts) {
  double acc = 0.0;
  for (int b = 0; b < kSqBlocks; ++b) acc += parts[b];
  out[0] = acc;
}

// Per (o, i): the log-sum-exp over k (max, then the sum of exp in double, k ascending), as the CPU.
__device__ inline double lse_at(const float* xo, int64_t K, int64_t inner, int64_t i) {
  double m = -INFINITY;
  for (int64_t k = 0; k < K; ++k) m = fmax(m, double(xo[k * inner + i]));
  double s = 0.0;
  for (int64_t k = 0; k < K; ++k) s += exp(double(xo[k * inner + i]) - m);
  return m + log(s);
}
__global__ void k_log_softmax(float* y, const float* x, int64_t outer, int64_t K, int64_t inner) {
  GRID_LOOP(j, outer * inner) {
    const int64_t o = j / inner, i = j % inner, row = o * K * inner;
    const double lse = lse_at(x + row, K, inner, i);
    for (int64_t k = 0; k < K; ++k) y[row + k * inner + i] = float(x[row + k * inner + i] - lse);
  }
}
__global__ void k_log_softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int64_t K,
                                       int64_t inner) {
  GRID_LOOP(j, outer * inner) {
    const int64_t o = j / inner, i = j % inner, row = o * K * inner;
    double acc = 0.0;
    for (int64_t k = 0; k < K; ++k) acc += dy[row + k * inner + i];
    for (int64_t k = 0; k < K; ++k) {
      const int64_t e = row + k * inner + i;
      dx[e] = float(dy[e] - exp(double(y[e])) * acc);
    }
  }
}
// bad: set to 1 when a target is not a class index (then the outputs are unspecified, as on the CPU).
__global__ void k_xent(float* loss, const float* x, const float* t, int64_t outer, int64_t K, int64_t inner,
                       int* bad) {
  GRID_LOOP(j, outer * inner) {
    const int64_t o = j / inner, i = j % inner, row = o * K * inner;
    const float ti = t[j];
    if (!(ti >= 0 && ti < K)) {
      *bad = 1;
      continue;
    }
    const double lse = lse_at(x + row, K, inner, i);
    loss[j] = float(lse - x[row + int64_t(ti) * inner + i]);
  }
}
__global__ void k_xent_backward(float* dx, const float* dl, const float* x, const float* t, int64_t outer,
                                int64_t K, int64_t inner, int* bad) {
  GRID_LOOP(j, outer * inner) {
    const int64_t o = j / inner, i = j % inner, row = o * K * inner;
    const float ti = t[j];
    if (!(ti >= 0 && ti < K)) {
      *bad = 1;
      continue;
    }
    const double lse = lse_at(x + row, K, inner, i);
    const int64_t tk = int64_t(ti);
    for (int64_t k = 0; k < K; ++k) {
      const int64_t e = row + k * inner + i;
      const double p = exp(double(x[e]) - lse);
      dx[e] = float(dl[j] * (p - (tk == k ? 1.0 : 0.0)));
    }
  }
}
__global__ void k_bce(float* l, const float* x, const float* t, int64_t n) {
  GRID_LOOP(i, n) l[i] = fmaxf(x[i], 0.0f) - x[i] * t[i] + log1pf(expf(-fabsf(x[i])));
}
__global__ void k_bce_backward(float* dx, const float* dl, const float* x, const float* t, int64_t n) {
  GRID_LOOP(i, n) {
    const float e = expf(-fabsf(x[i]));
    const float s = x[i] >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
    dx[i] = dl[i] * (s - t[i]);
  }
}

__global__ void k_sgd(float* p, const float* g, float* v, int64_t n, double lr, double mu) {
  GRID_LOOP(i, n) {
    const double vi = mu * double(v[i]) + double(g[i]);
    v[i] = float(vi);
    p[i] = float(double(p[i]) - lr * vi);
  }
}
__global__ void k_rmsprop(float* p, const float* g, float* s, int64_t n, double lr, double rho, double eps) {
  GRID_LOOP(i, n) {
    const double gi = g[i];
    const double si = rho * double(s[i]) + (1.0 - rho) * gi * gi;
    s[i] = float(si);
    p[i] = float(double(p[i]) - lr * gi / (sqrt(si) + eps));
  }
}
__global__ void k_adam(float* p, const float* g, float* m, float* v, int64_t n, double lr, double b1, double b2,
                       double eps, double bc1, double bc2) {
  GRID_LOOP(i, n) {
    const double gi = g[i];
    const double mi = b1 * double(m[i]) + (1.0 - b1) * gi;
    const double vi = b2 * double(v[i]) + (1.0 - b2) * gi * gi;
    m[i] = float(mi);
    v[i] = float(vi);
    p[i] = float(double(p[i]) - lr * (mi / bc1) / (sqrt(vi / bc2) + eps));
  }
}

int* bad_flag() {
  int* f = static_cast<int*>(scratch(7, sizeof(int)));
  if (f) cudaMemsetAsync(f, 0, sizeof(int), 0);
  return f;
}
int read_bad_flag(int* f) {
  int r = check_launch();
  if (r != FW_OK) return r;
  int bad = 0;
  if (cudaMemcpy(&bad, f, sizeof(int), cudaMemcpyDeviceToHost) != cudaSuccess) return FW_ERR_UNSUPPORTED;
  return bad ? FW_ERR_INVALID : FW_OK;
}
bool bad_dims(int64_t outer, int64_t K, int64_t inner) { return outer < 0 || K < 1 || inner < 0; }

// gate (framework/ops/gate.h): y = tanh(x_f) sigmoid(x_g); x: (N, 2c, inner), y/dy: (N, c, inner).
__device__ inline float sigmoid_f(float x) { return 1.0f / (1.0f + expf(-x)); }
__global__ void k_gate(float* y, const float* x, int64_t c, int64_t inner, int64_t n) {
  GRID_LOOP(e, n) {
    const int64_t img = e / (c * inner), r = e % (c * inner);
    const float* xi = x + img * 2 * c * inner;
    y[e] = tanhf(xi[r]) * sigmoid_f(xi[c * inner + r]);
  }
}
__global__ void k_gate_backward(float* dx, const float* dy, const float* x, int64_t c, int64_t inner, int64_t n) {
  GRID_LOOP(e, n) {
    const int64_t img = e / (c * inner), r = e % (c * inner);
    const float* xi = x + img * 2 * c * inner;
    float* dxi = dx + img * 2 * c * inner;
    const float t = tanhf(xi[r]), s = sigmoid_f(xi[c * inner + r]);
    dxi[r] = dy[e] * s * (1.0f - t * t);
    dxi[c * inner + r] = dy[e] * t * s * (1.0f - s);
  }
}

}  // namespace

int run_fill(const fw_fill_params* p) {
  if (p->n < 0) return FW_ERR_INVALID;
  if (p->n == 0) return FW_OK;
  k_fill<<<blocks_for(p->n), kThreads>>>(ptr<float>(p->y), p->n, float(p->value));
  return check_launch();
}

int run_copy_block(const fw_copy_block_params* p) {
  int64_t n = 1;
  Block b{};
  b.ndim = p->ndim;
  for (int64_t d = 0; d < p->ndim; ++d) {
    if (p->shape[d] < 0) return FW_ERR_INVALID;
    n *= p->shape[d];
    b.shape[d] = p->shape[d];
    b.s1[d] = p->y_strides[d];
    b.s2[d] = p->x_strides[d];
  }
  if (n == 0) return FW_OK;
  k_copy_block<<<blocks_for(n), kThreads>>>(ptr<float>(p->y) + p->y_offset, ptr<const float>(p->x) + p->x_offset,
                                             b, n);
  return check_launch();
}

int run_unary(const fw_unary_params* p) {
  if (p->n < 0) return FW_ERR_INVALID;
  if (p->n == 0) return FW_OK;
  k_unary<<<blocks_for(p->n), kThreads>>>(ptr<float>(p->y), ptr<const float>(p->x), p->n, p->op,
                                          float(p->scalar));
  return check_launch();
}

int run_unary_backward(const fw_unary_backward_params* p) {
  if (p->n < 0) return FW_ERR_INVALID;
  if (p->n == 0) return FW_OK;
  k_unary_backward<<<blocks_for(p->n), kThreads>>>(ptr<float>(p->dx), ptr<const float>(p->dy),
                                                   ptr<const float>(p->x), ptr<const float>(p->y), p->n, p->op,
                                                   float(p->scalar));
  return check_launch();
}

int run_binary(const fw_binary_params* p) {
  int64_t n = 1;
  Block b{};
  b.ndim = p->ndim;
  for (int64_t d = 0; d < p->ndim; ++d) {
    if (p->shape[d] < 0) return FW_ERR_INVALID;
    n *= p->shape[d];
    b.shape[d] = p->shape[d];
    b.s1[d] = p->a_strides[d];
    b.s2[d] = p->b_strides[d];
  }
  if (n == 0) return FW_OK;
  k_binary<<<blocks_for(n), kThreads>>>(ptr<float>(p->y), ptr<const float>(p->a), ptr<const float>(p->b), b, n,
                                        p->op);
  return check_launch();
}

int run_sum_dim(const fw_sum_dim_params* p) {
  if (p->outer < 0 || p->red < 0 || p->inner < 0) return FW_ERR_INVALID;
  const int64_t n = p->outer * p->inner;
  if (n == 0) return FW_OK;
  k_sum_dim<<<blocks_for(n), kThreads>>>(ptr<float>(p->y), ptr<const float>(p->x), p->outer, p->red, p->inner);
  return check_launch();
}

int sum_squares_f32(double* out, const float* x, int64_t n) {
  double* parts = static_cast<double*>(scratch(6, sizeof(double) * kSqBlocks));
  if (!parts) return FW_ERR_UNSUPPORTED;
  k_sq_partial<<<kSqBlocks, kThreads>>>(parts, x, n);
  k_sq_final<<<1, 1>>>(out, parts);
  return check_launch();
}

int run_sum_squares(const fw_sum_squares_params* p) {
  if (p->n < 0) return FW_ERR_INVALID;
  return sum_squares_f32(ptr<double>(p->out), ptr<const float>(p->x), p->n);
}

int run_log_softmax(const fw_log_softmax_params* p) {
  if (bad_dims(p->outer, p->classes, p->inner)) return FW_ERR_INVALID;
  const int64_t n = p->outer * p->inner;
  if (n == 0) return FW_OK;
  k_log_softmax<<<blocks_for(n), kThreads>>>(ptr<float>(p->y), ptr<const float>(p->x), p->outer, p->classes,
                                             p->inner);
  return check_launch();
}

int run_log_softmax_backward(const fw_log_softmax_backward_params* p) {
  if (bad_dims(p->outer, p->classes, p->inner)) return FW_ERR_INVALID;
  const int64_t n = p->outer * p->inner;
  if (n == 0) return FW_OK;
  k_log_softmax_backward<<<blocks_for(n), kThreads>>>(ptr<float>(p->dx), ptr<const float>(p->dy),
                                                      ptr<const float>(p->y), p->outer, p->classes, p->inner);
  return check_launch();
}

int run_softmax_xent(const fw_softmax_xent_params* p) {
  if (bad_dims(p->outer, p->classes, p->inner)) return FW_ERR_INVALID;
  const int64_t n = p->outer * p->inner;
  if (n == 0) return FW_OK;
  int* bad = bad_flag();
  if (!bad) return FW_ERR_UNSUPPORTED;
  k_xent<<<blocks_for(n), kThreads>>>(ptr<float>(p->loss), ptr<const float>(p->x), ptr<const float>(p->target),
                                      p->outer, p->classes, p->inner, bad);
  return read_bad_flag(bad);
}

int run_softmax_xent_backward(const fw_softmax_xent_backward_params* p) {
  if (bad_dims(p->outer, p->classes, p->inner)) return FW_ERR_INVALID;
  const int64_t n = p->outer * p->inner;
  if (n == 0) return FW_OK;
  int* bad = bad_flag();
  if (!bad) return FW_ERR_UNSUPPORTED;
  k_xent_backward<<<blocks_for(n), kThreads>>>(ptr<float>(p->dx), ptr<const float>(p->dloss), ptr<const float>(p->x),
                                               ptr<const float>(p->target), p->outer, p->classes, p->inner, bad);
  return read_bad_flag(bad);
}

int run_bce_logits(const fw_bce_logits_params* p) {
  if (p->n < 0) return FW_ERR_INVALID;
  if (p->n == 0) return FW_OK;
  k_bce<<<blocks_for(p->n), kThreads>>>(ptr<float>(p->loss), ptr<const float>(p->x), ptr<const float>(p->target),
                                        p->n);
  return check_launch();
}

int run_bce_logits_backward(const fw_bce_logits_backward_params* p) {
  if (p->n < 0) return FW_ERR_INVALID;
  if (p->n == 0) return FW_OK;
  k_bce_backward<<<blocks_for(p->n), kThreads>>>(ptr<float>(p->dx), ptr<const float>(p->dloss),
                                                 ptr<const float>(p->x), ptr<const float>(p->target), p->n);
  return check_launch();
}

int run_sgd_update(const fw_sgd_update_params* p) {
  if (p->n < 0) return FW_ERR_INVALID;
  if (p->n == 0) return FW_OK;
  k_sgd<<<blocks_for(p->n), kThreads>>>(ptr<float>(p->param), ptr<const float>(p->grad),
                                        ptr<float>(p->momentum_buffer), p->n, p->lr, p->momentum);
  return check_launch();
}

int run_rmsprop_update(const fw_rmsprop_update_params* p) {
  if (p->n < 0) return FW_ERR_INVALID;
  if (p->n == 0) return FW_OK;
  k_rmsprop<<<blocks_for(p->n), kThreads>>>(ptr<float>(p->param), ptr<const float>(p->grad),
                                            ptr<float>(p->square_avg), p->n, p->lr, p->rho, p->eps);
  return check_launch();
}

int run_adam_update(const fw_adam_update_params* p) {
  if (p->n < 0) return FW_ERR_INVALID;
  if (p->n == 0) return FW_OK;
  k_adam<<<blocks_for(p->n), kThreads>>>(ptr<float>(p->param), ptr<const float>(p->grad), ptr<float>(p->exp_avg),
                                         ptr<float>(p->exp_avg_sq), p->n, p->lr, p->beta1, p->beta2, p->eps,
                                         p->bias_correction1, p->bias_correction2);
  return check_launch();
}

int run_gate_forward(const fw_gate_forward_params* p) {
  if (p->N < 0 || p->c < 0 || p->inner < 0) return FW_ERR_INVALID;
  const int64_t n = p->N * p->c * p->inner;
  if (n == 0) return FW_OK;
  k_gate<<<blocks_for(n), kThreads>>>(ptr<float>(p->y), ptr<const float>(p->x), p->c, p->inner, n);
  return check_launch();
}

int run_gate_backward(const fw_gate_backward_params* p) {
  if (p->N < 0 || p->c < 0 || p->inner < 0) return FW_ERR_INVALID;
  const int64_t n = p->N * p->c * p->inner;
  if (n == 0) return FW_OK;
  k_gate_backward<<<blocks_for(n), kThreads>>>(ptr<float>(p->dx), ptr<const float>(p->dy), ptr<const float>(p->x),
                                               p->c, p->inner, n);
  return check_launch();
}

}  // namespace fwcuda
