// plugins/cuda/residual.cu: the fused bottleneck residual block's kernels (framework/ops/residual.h) on the
// plugin, composed from its own convolution kernels (gemm_conv.cu) and three small elementwise kernels: the
// CPU's per-image cache blocking has no GPU counterpart worth its code here, and composing keeps every step
// on the device. Same function as the CPU kernels: ra = relu(conv_a(relu(x))), rb = relu(conv_b(ra)),
// y = x + conv_c(rb); the backward writes dx and the six parameter gradients (zeroed, then accumulated by the
// convolution kernels, which add). Device temporaries d2, d1: (N, F, H, W), scratch slots 8 and 9.
#include "plugins/cuda/cuda_common.h"

namespace fwcuda {
namespace {

#define GRID_LOOP(i, n) for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); \
                             i += int64_t(blockDim.x) * gridDim.x)

__global__ void k_relu_inplace(float* v, int64_t n) {
  GRID_LOOP(i, n) v[i] = v[i] > 0.0f ? v[i] : 0.0f;
}
__global__ void k_where_positive(float* v, const float* x, int64_t n) {
  GRID_LOOP(i, n) v[i] = x[i] > 0.0f ? v[i] : 0.0f;
}
__global__ void k_add_to(float* y, const float* x, int64_t n) {
  GRID_LOOP(i, n) y[i] += x[i];
}

#define FWCUDA_TRY(expr)        \
  do {                          \
    const int r_ = (expr);      \
    if (r_ != FW_OK) return r_; \
  } while (0)

bool valid(const fw_bottleneck_geometry& g) {
  return g.N >= 0 && g.C >= 1 && g.F >= 1 && g.H >= 1 && g.W >= 1 && g.KH >= 1 && g.KW >= 1 && g.pad_top >= 0 &&
         g.pad_bottom >= 0 && g.pad_left >= 0 && g.pad_right >= 0 && g.pad_top + g.pad_bottom == g.KH - 1 &&
         g.pad_left + g.pad_right == g.KW - 1;
}
// The three convolutions' geometries: a (C -> F, 1x1, input ReLU), b (F -> F, KHxKW), c (F -> C, 1x1).
fw_conv2d_geometry geo_a(const fw_bottleneck_geometry& g) {
  return {g.N, g.C, g.H, g.W, g.F, 1, 1, 0, 0, 0, 0, 1};
}
fw_conv2d_geometry geo_b(const fw_bottleneck_geometry& g) {
  return {g.N, g.F, g.H, g.W, g.F, g.KH, g.KW, g.pad_top, g.pad_bottom, g.pad_left, g.pad_right, 0};
}
fw_conv2d_geometry geo_c(const fw_bottleneck_geometry& g) {
  return {g.N, g.F, g.H, g.W, g.C, 1, 1, 0, 0, 0, 0, 0};
}
// The address of a parameter struct built in the call's own expression (it lives until the call returns).
template <class P> const P* ptr_of(const P& p) { return &p; }
int zero(const fw_buffer& b) {
  if (!b.ptr || b.bytes == 0) return FW_OK;
  return cudaMemsetAsync(b.ptr, 0, b.bytes, 0) == cudaSuccess ? FW_OK : FW_ERR_UNSUPPORTED;
}
int launch_1d(void (*k)(float*, const float*, int64_t), float* v, const float* x, int64_t n) {
  if (n == 0) return FW_OK;
  k<<<blocks_for(n), kThreads>>>(v, x, n);
  return check_launch();
}

}  // namespace

int run_bottleneck_forward(const fw_bottleneck_forward_params* p) {
  const fw_bottleneck_geometry& g = p->g;
  if (!valid(g)) return FW_ERR_INVALID;
  if (g.N == 0) return FW_OK;
  const int64_t nh = g.N * g.F * g.H * g.W, nx = g.N * g.C * g.H * g.W;
  FWCUDA_TRY(run_conv2d_forward(ptr_of(fw_conv2d_forward_params{p->ra, p->x, p->wa, p->ba, p->ma, geo_a(g)})));
  if (nh) {
    k_relu_inplace<<<blocks_for(nh), kThreads>>>(ptr<float>(p->ra), nh);
    FWCUDA_TRY(check_launch());
  }
  FWCUDA_TRY(run_conv2d_forward(ptr_of(fw_conv2d_forward_params{p->rb, p->ra, p->wb, p->bb, p->mb, geo_b(g)})));
  if (nh) {
    k_relu_inplace<<<blocks_for(nh), kThreads>>>(ptr<float>(p->rb), nh);
    FWCUDA_TRY(check_launch());
  }
  FWCUDA_TRY(run_conv2d_forward(ptr_of(fw_conv2d_forward_params{p->y, p->rb, p->wc, p->bc, p->mc, geo_c(g)})));
  return launch_1d(k_add_to, ptr<float>(p->y), ptr<const float>(p->x), nx);
}

int run_bottleneck_backward(const fw_bottleneck_backward_params* p) {
  const fw_bottleneck_geometry& g = p->g;
  if (!valid(g)) return FW_ERR_INVALID;
  for (const fw_buffer* b : {&p->dwa, &p->dba, &p->dwb, &p->dbb, &p->dwc, &p->dbc}) FWCUDA_TRY(zero(*b));
  if (g.N == 0) return FW_OK;
  const int64_t nh = g.N * g.F * g.H * g.W, nx = g.N * g.C * g.H * g.W;
  const size_t hb = size_t(nh) * sizeof(float);
  float* d2 = static_cast<float*>(scratch(8, hb));
  float* d1 = static_cast<float*>(scratch(9, hb));
  if (!d2 || !d1) return FW_ERR_UNSUPPORTED;
  const fw_buffer b2{d2, hb}, b1{d1, hb}, none{nullptr, 0};
  // conv_c: its parameter gradients, then d2 = (wc*mc)^T dy, masked by rb > 0
  FWCUDA_TRY(run_conv2d_backward_weight(ptr_of(fw_conv2d_backward_weight_params{
      p->dwc, p->dbc, p->dy, p->rb, p->mc, geo_c(g)})));
  FWCUDA_TRY(run_conv2d_backward_data(ptr_of(fw_conv2d_backward_data_params{
      b2, p->dy, p->wc, p->mc, none, geo_c(g)})));
  FWCUDA_TRY(launch_1d(k_where_positive, d2, ptr<const float>(p->rb), nh));
  // conv_b
  FWCUDA_TRY(run_conv2d_backward_weight(ptr_of(fw_conv2d_backward_weight_params{
      p->dwb, p->dbb, b2, p->ra, p->mb, geo_b(g)})));
  FWCUDA_TRY(run_conv2d_backward_data(ptr_of(fw_conv2d_backward_data_params{b1, b2, p->wb, p->mb, none, geo_b(g)})));
  FWCUDA_TRY(launch_1d(k_where_positive, d1, ptr<const float>(p->ra), nh));
  // conv_a (input through the ReLU); dx = dy + its input gradient
  FWCUDA_TRY(run_conv2d_backward_weight(ptr_of(fw_conv2d_backward_weight_params{
      p->dwa, p->dba, b1, p->x, p->ma, geo_a(g)})));
  if (!p->dx.ptr) return FW_OK;
  FWCUDA_TRY(run_conv2d_backward_data(ptr_of(fw_conv2d_backward_data_params{
      p->dx, b1, p->wa, p->ma, p->x, geo_a(g)})));
  return launch_1d(k_add_to, ptr<float>(p->dx), ptr<const float>(p->dy), nx);
}

}  // namespace fwcuda
