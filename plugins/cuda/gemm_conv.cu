// plugins/cuda/gemm_conv.cu: the CUDA plugin's GEMM (cuBLAS), the three convolution kernels (im2col / col2im
// kernels around cuBLAS strided-batched GEMMs, the batch cut into groups so the column buffer stays under
// kColsBytes) and the fused LSTM scan (framework/ops/rnn.h) as a per-step loop: im2col of the previous hidden
// state, one cuBLAS GEMM for the state-to-state convolution, one cell kernel; the backward runs the steps in
// reverse with the transposed GEMMs and a gather col2im. Float32. Sums over the batch and over positions run in
// fixed orders (no atomics), so results are the same run to run.
#include "plugins/cuda/cuda_common.h"

namespace fwcuda {
namespace {

#define GRID_LOOP(i, n) for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); \
                             i += int64_t(blockDim.x) * gridDim.x)

constexpr int64_t kColsBytes = int64_t(256) << 20;

struct Geo {
  int64_t N, Ci, H, W, Co, KH, KW, pt, pl, Ho, Wo;
  int relu;  // input_relu: x is read as relu(x)
  __host__ __device__ int64_t kk() const { return Ci * KH * KW; }  // rows of a column matrix
  __host__ __device__ int64_t hw() const { return Ho * Wo; }       // its columns
};
bool geo_from(const fw_conv2d_geometry& g, Geo& o) {
  o = {g.N, g.Ci, g.H, g.W, g.Co, g.KH, g.KW, g.pad_top, g.pad_left,
       g.H + g.pad_top + g.pad_bottom - g.KH + 1, g.W + g.pad_left + g.pad_right - g.KW + 1, int(g.input_relu)};
  return (g.input_relu == 0 || g.input_relu == 1) && g.N >= 0 && g.Ci >= 1 && g.H >= 1 && g.W >= 1 && g.Co >= 1 && g.KH >= 1 && g.KW >= 1 && g.pad_top >= 0 &&
         g.pad_bottom >= 0 && g.pad_left >= 0 && g.pad_right >= 0 && o.Ho >= 1 && o.Wo >= 1;
}
// Images per group: the column buffer (nb, kk, hw) stays under kColsBytes (at least one image).
int64_t group_size(const Geo& g) {
  const int64_t per = g.kk() * g.hw() * int64_t(sizeof(float));
  int64_t nb = kColsBytes / (per > 0 ? per : 1);
  if (nb < 1) nb = 1;
  return nb < g.N ? nb : g.N;
}

// cols (nb, kk, hw): cols[j, (c, a, b), (i, jj)] = x[n0 + j, c, i + a - pt, jj + b - pl], 0 outside; through the
// ReLU (v > 0 ? v : 0, as the CPU) when g.relu.
__global__ void k_im2col(float* cols, const float* x, Geo g, int64_t n0, int64_t nb) {
  const int64_t kk = g.kk(), hw = g.hw();
  GRID_LOOP(e, nb * kk * hw) {
    const int64_t p = e % hw, r = (e / hw) % kk, j = e / (hw * kk);
    const int64_t oj = p % g.Wo, oi = p / g.Wo;
    const int64_t b = r % g.KW, a = (r / g.KW) % g.KH, c = r / (g.KW * g.KH);
    const int64_t ii = oi + a - g.pt, jj = oj + b - g.pl;
    const float v = (ii >= 0 && ii < g.H && jj >= 0 && jj < g.W) ? x[(((n0 + j) * g.Ci + c) * g.H + ii) * g.W + jj] : 0.0f;
    cols[e] = g.relu ? (v > 0.0f ? v : 0.0f) : v;
  }
}
// dx[n0 + j, c, ii, jj] = sum_{a, b} dcols[j, (c, a, b), (ii - a + pt, jj - b + pl)] (a, b ascending; a gather),
// zero where x <= 0 when g.relu (x: the forward input, (N, Ci, H, W)). Every element of dx is written.
__global__ void k_col2im(float* dx, const float* dcols, const float* x, Geo g, int64_t n0, int64_t nb) {
  const int64_t kk = g.kk(), hw = g.hw();
  GRID_LOOP(e, nb * g.Ci * g.H * g.W) {
    const int64_t jj = e % g.W, ii = (e / g.W) % g.H, c = (e / (g.W * g.H)) % g.Ci, j = e / (g.W * g.H * g.Ci);
    float acc = 0.0f;
    for (int64_t a = 0; a < g.KH; ++a) {
      const int64_t oi = ii - a + g.pt;
      if (oi < 0 || oi >= g.Ho) continue;
      for (int64_t b = 0; b < g.KW; ++b) {
        const int64_t oj = jj - b + g.pl;
        if (oj < 0 || oj >= g.Wo) continue;
        acc += dcols[(j * kk + (c * g.KH + a) * g.KW + b) * hw + oi * g.Wo + oj];
      }
    }
    const int64_t at = n0 * g.Ci * g.H * g.W + e;
    if (g.relu && !(x[at] > 0.0f)) acc = 0.0f;
    dx[at] = acc;
  }
}
__global__ void k_mul(float* y, const float* a, const float* b, int64_t n) {
  GRID_LOOP(i, n) y[i] = a[i] * b[i];
}
// y (N, Co, hw) += bias[o]
__global__ void k_add_bias(float* y, const float* bias, int64_t Co, int64_t hw, int64_t n) {
  GRID_LOOP(i, n) y[i] += bias[(i / hw) % Co];
}
// acc[e] += sum_j parts[j, e], j ascending
__global__ void k_sum_parts(float* acc, const float* parts, int64_t nb, int64_t n) {
  GRID_LOOP(e, n) {
    float s = acc[e];
    for (int64_t j = 0; j < nb; ++j) s += parts[j * n + e];
    acc[e] = s;
  }
}
// dw[e] += (mask ? mask[e] : 1) acc[e]
__global__ void k_add_masked(float* dw, const float* acc, const float* mask, int64_t n) {
  GRID_LOOP(e, n) dw[e] += mask ? mask[e] * acc[e] : acc[e];
}
// dbias[o] += sum_{n, p} dy[n, o, p]: block o, fixed partition over (n, p), fixed tree, in double.
__global__ void k_dbias(float* dbias, const float* dy, int64_t N, int64_t Co, int64_t hw) {
  __shared__ double sh[kThreads];
  const int64_t o = blockIdx.x;
  double acc = 0.0;
  for (int64_t e = threadIdx.x; e < N * hw; e += kThreads) acc += dy[((e / hw) * Co + o) * hw + e % hw];
  sh[threadIdx.x] = acc;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w /= 2) {
    if (threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) dbias[o] = float(double(dbias[o]) + sh[0]);
}

// The effective weight w * mask (scratch slot 0), or w itself.
const float* effective_weight(const fw_buffer& w, const fw_buffer& mask, int64_t n) {
  if (!mask.ptr) return ptr<const float>(w);
  float* we = static_cast<float*>(scratch(0, n * sizeof(float)));
  if (!we) return nullptr;
  k_mul<<<blocks_for(n), kThreads>>>(we, ptr<const float>(w), ptr<const float>(mask), n);
  return we;
}

// ---- LSTM scan. h, dh: (N, h, S, L); gates, dgates: (N, 4h, S, L); acts: (S, N, 6h, L); w: (4h, h, k).
struct Scan {
  int64_t N, h, S, L, k, pb;
  __host__ __device__ int64_t hid(int64_t n, int64_t u, int64_t t) const { return ((n * h + u) * S + t) * L; }
  __host__ __device__ int64_t gate(int64_t n, int64_t q, int64_t t) const { return ((n * 4 * h + q) * S + t) * L; }
  __host__ __device__ int64_t act(int64_t t, int64_t n, int64_t q) const { return ((t * N + n) * 6 * h + q) * L; }
};
// cols (h k, N L): cols[u k + a, n L + l] = h_{t-1}[n, u, l + a - pb], 0 outside [0, L).
__global__ void k_scan_im2col(float* cols, const float* hs, Scan s, int64_t t) {
  const int64_t NL = s.N * s.L;
  GRID_LOOP(e, s.h * s.k * NL) {
    const int64_t col = e % NL, r = e / NL, l = col % s.L, n = col / s.L, a = r % s.k, u = r / s.k;
    const int64_t li = l + a - s.pb;
    cols[e] = (li >= 0 && li < s.L) ? hs[s.hid(n, u, t - 1) + li] : 0.0f;
  }
}
__device__ inline float sig(float x) { return 1.0f / (1.0f + expf(-x)); }
// One (n, u, l): z (4h, N L) is the state-to-state part (unused at t = 0).
__global__ void k_scan_cell(float* hs, float* acts, const float* gates, const float* z, Scan s, int64_t t) {
  const int64_t NL = s.N * s.L, h = s.h;
  GRID_LOOP(e, s.N * h * s.L) {
    const int64_t l = e % s.L, u = (e / s.L) % h, n = e / (s.L * h);
    float zz[4];
    for (int q = 0; q < 4; ++q)
      zz[q] = gates[s.gate(n, q * h + u, t) + l] + (t > 0 ? z[(q * h + u) * NL + n * s.L + l] : 0.0f);
    const float i = sig(zz[0]), f = sig(zz[1]), o = sig(zz[2]), g = tanhf(zz[3]);
    const float cp = t > 0 ? acts[s.act(t - 1, n, 4 * h + u) + l] : 0.0f;
    const float c = f * cp + i * g, tc = tanhf(c);
    float* a = acts + s.act(t, n, u) + l;
    a[0] = i;
    a[h * s.L] = f;
    a[2 * h * s.L] = o;
    a[3 * h * s.L] = g;
    a[4 * h * s.L] = c;
    a[5 * h * s.L] = tc;
    hs[s.hid(n, u, t) + l] = o * tc;
  }
}
// The cell's backward at step t; dhc, dcc: (h, N L) carries from step t + 1 (dcc updated to c_{t-1}'s gradient);
// writes dz (4h, N L) and dgates at t.
__global__ void k_scan_cell_backward(float* dgates, float* dz, float* dcc, const float* dhc, const float* dh,
                                     const float* acts, Scan s, int64_t t) {
  const int64_t NL = s.N * s.L, h = s.h;
  GRID_LOOP(e, s.N * h * s.L) {
    const int64_t l = e % s.L, u = (e / s.L) % h, n = e / (s.L * h);
    const float* a = acts + s.act(t, n, u) + l;
    const float i = a[0], f = a[h * s.L], o = a[2 * h * s.L], g = a[3 * h * s.L], tc = a[5 * h * s.L];
    const float cp = t > 0 ? acts[s.act(t - 1, n, 4 * h + u) + l] : 0.0f;
    const int64_t ci = u * NL + n * s.L + l;
    const float dhv = dh[s.hid(n, u, t) + l] + dhc[ci];
    const float dc = dcc[ci] + dhv * o * (1.0f - tc * tc);
    const float d[4] = {dc * g * (i * (1.0f - i)), dc * cp * (f * (1.0f - f)), dhv * tc * (o * (1.0f - o)),
                        dc * i * (1.0f - g * g)};
    dcc[ci] = dc * f;
    for (int q = 0; q < 4; ++q) {
      dz[(q * h + u) * NL + n * s.L + l] = d[q];
      dgates[s.gate(n, q * h + u, t) + l] = d[q];
    }
  }
}
// dhc[u, n L + li] = sum_a dcols[u k + a, n L + li - a + pb] over a ascending with the column in [0, L).
__global__ void k_scan_col2im(float* dhc, const float* dcols, Scan s) {
  const int64_t NL = s.N * s.L;
  GRID_LOOP(e, s.h * NL) {
    const int64_t col = e % NL, u = e / NL, li = col % s.L, n = col / s.L;
    float acc = 0.0f;
    for (int64_t a = 0; a < s.k; ++a) {
      const int64_t l = li - a + s.pb;
      if (l >= 0 && l < s.L) acc += dcols[(u * s.k + a) * NL + n * s.L + l];
    }
    dhc[e] = acc;
  }
}
__global__ void k_add(float* y, const float* x, int64_t n) {
  GRID_LOOP(i, n) y[i] += x[i];
}
bool scan_from(int64_t N, int64_t h, int64_t S, int64_t L, int64_t k, int64_t pb, Scan& s) {
  s = {N, h, S, L, k, pb};
  return N >= 0 && h >= 1 && S >= 0 && L >= 1 && k >= 1 && pb >= 0 && pb < k;
}

#define FWCUDA_TRY(expr)           \
  do {                             \
    const int r_ = (expr);         \
    if (r_ != FW_OK) return r_;    \
  } while (0)

}  // namespace

int sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (M == 0 || N == 0) return FW_OK;
  // Row-major c = op(a) op(b) is column-major c^T = op(b)^T op(a)^T: swap the operands.
  return check_blas(cublasSgemm_64(blas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K,
                                   &alpha, b, ldb, a, lda, &beta, c, ldc));
}

int sgemm_batched(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t lda,
                  int64_t sa, const float* b, int64_t ldb, int64_t sb, float beta, float* c, int64_t ldc, int64_t sc,
                  int64_t batch) {
  if (M == 0 || N == 0 || batch == 0) return FW_OK;
  return check_blas(cublasSgemmStridedBatched_64(blas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                                 ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, b, ldb, sb, a, lda,
                                                 sa, &beta, c, ldc, sc, batch));
}

int run_gemm(const fw_gemm_params* p) {
  if (p->M < 0 || p->N < 0 || p->K < 0) return FW_ERR_INVALID;
  const int64_t lda = p->trans_a ? p->M : p->K, ldb = p->trans_b ? p->K : p->N;
  return sgemm(p->trans_a != 0, p->trans_b != 0, p->M, p->N, p->K, float(p->alpha), ptr<const float>(p->a),
               lda > 0 ? lda : 1, ptr<const float>(p->b), ldb > 0 ? ldb : 1, float(p->beta), ptr<float>(p->c),
               p->N > 0 ? p->N : 1);
}

int run_conv2d_forward(const fw_conv2d_forward_params* p) {
  Geo g;
  if (!geo_from(p->g, g)) return FW_ERR_INVALID;
  if (g.N == 0) return FW_OK;
  const int64_t kk = g.kk(), hw = g.hw(), nb = group_size(g);
  const float* we = effective_weight(p->w, p->mask, g.Co * kk);
  float* cols = static_cast<float*>(scratch(1, nb * kk * hw * sizeof(float)));
  if (!we || !cols) return FW_ERR_UNSUPPORTED;
  float* y = ptr<float>(p->y);
  for (int64_t n0 = 0; n0 < g.N; n0 += nb) {
    const int64_t cnt = nb < g.N - n0 ? nb : g.N - n0;
    k_im2col<<<blocks_for(cnt * kk * hw), kThreads>>>(cols, ptr<const float>(p->x), g, n0, cnt);
    FWCUDA_TRY(check_launch());
    // y[n] (Co, hw) = we (Co, kk) cols[n] (kk, hw)
    FWCUDA_TRY(sgemm_batched(false, false, g.Co, hw, kk, 1.0f, we, kk, 0, cols, hw, kk * hw, 0.0f,
                             y + n0 * g.Co * hw, hw, g.Co * hw, cnt));
  }
  if (p->bias.ptr) {
    const int64_t n = g.N * g.Co * hw;
    k_add_bias<<<blocks_for(n), kThreads>>>(y, ptr<const float>(p->bias), g.Co, hw, n);
  }
  return check_launch();
}

int run_conv2d_backward_data(const fw_conv2d_backward_data_params* p) {
  Geo g;
  if (!geo_from(p->g, g) || (g.relu && !p->x.ptr)) return FW_ERR_INVALID;
  if (g.N == 0) return FW_OK;
  const int64_t kk = g.kk(), hw = g.hw(), nb = group_size(g);
  const float* we = effective_weight(p->w, p->mask, g.Co * kk);
  float* dcols = static_cast<float*>(scratch(1, nb * kk * hw * sizeof(float)));
  if (!we || !dcols) return FW_ERR_UNSUPPORTED;
  for (int64_t n0 = 0; n0 < g.N; n0 += nb) {
    const int64_t cnt = nb < g.N - n0 ? nb : g.N - n0;
    // dcols[n] (kk, hw) = we^T (kk, Co) dy[n] (Co, hw)
    FWCUDA_TRY(sgemm_batched(true, false, kk, hw, g.Co, 1.0f, we, kk, 0, ptr<const float>(p->dy) + n0 * g.Co * hw,
                             hw, g.Co * hw, 0.0f, dcols, hw, kk * hw, cnt));
    k_col2im<<<blocks_for(cnt * g.Ci * g.H * g.W), kThreads>>>(ptr<float>(p->dx), dcols, ptr<const float>(p->x), g,
                                                               n0, cnt);
    FWCUDA_TRY(check_launch());
  }
  return FW_OK;
}

int run_conv2d_backward_weight(const fw_conv2d_backward_weight_params* p) {
  Geo g;
  if (!geo_from(p->g, g)) return FW_ERR_INVALID;
  if (g.N == 0) return FW_OK;
  const int64_t kk = g.kk(), hw = g.hw(), nb = group_size(g), wn = g.Co * kk;
  const float* dy = ptr<const float>(p->dy);
  if (p->dw.ptr) {
    float* cols = static_cast<float*>(scratch(1, nb * kk * hw * sizeof(float)));
    float* acc = static_cast<float*>(scratch(2, wn * sizeof(float)));
    float* parts = static_cast<float*>(scratch(3, nb * wn * sizeof(float)));
    if (!cols || !acc || !parts) return FW_ERR_UNSUPPORTED;
    if (cudaMemsetAsync(acc, 0, wn * sizeof(float), 0) != cudaSuccess) return FW_ERR_UNSUPPORTED;
    for (int64_t n0 = 0; n0 < g.N; n0 += nb) {
      const int64_t cnt = nb < g.N - n0 ? nb : g.N - n0;
      k_im2col<<<blocks_for(cnt * kk * hw), kThreads>>>(cols, ptr<const float>(p->x), g, n0, cnt);
      FWCUDA_TRY(check_launch());
      // parts[n] (Co, kk) = dy[n] (Co, hw) cols[n]^T (hw, kk)
      FWCUDA_TRY(sgemm_batched(false, true, g.Co, kk, hw, 1.0f, dy + n0 * g.Co * hw, hw, g.Co * hw, cols, hw,
                               kk * hw, 0.0f, parts, kk, wn, cnt));
      k_sum_parts<<<blocks_for(wn), kThreads>>>(acc, parts, cnt, wn);
      FWCUDA_TRY(check_launch());
    }
    k_add_masked<<<blocks_for(wn), kThreads>>>(ptr<float>(p->dw), acc, ptr<const float>(p->mask), wn);
    FWCUDA_TRY(check_launch());
  }
  if (p->dbias.ptr) {
    k_dbias<<<static_cast<unsigned>(g.Co), kThreads>>>(ptr<float>(p->dbias), dy, g.N, g.Co, hw);
    FWCUDA_TRY(check_launch());
  }
  return FW_OK;
}

int run_lstm_scan_forward(const fw_lstm_scan_forward_params* p) {
  Scan s;
  if (!scan_from(p->N, p->hidden, p->S, p->L, p->k, p->pad_before, s)) return FW_ERR_INVALID;
  if (s.N == 0 || s.S == 0) return FW_OK;
  const int64_t NL = s.N * s.L, hk = s.h * s.k;
  float* cols = static_cast<float*>(scratch(0, hk * NL * sizeof(float)));
  float* z = static_cast<float*>(scratch(1, 4 * s.h * NL * sizeof(float)));
  if (!cols || !z) return FW_ERR_UNSUPPORTED;
  float* hs = ptr<float>(p->h);
  const float* w = ptr<const float>(p->w);
  for (int64_t t = 0; t < s.S; ++t) {
    if (t > 0) {  // z (4h, N L) = w (4h, h k) cols (h k, N L)
      k_scan_im2col<<<blocks_for(hk * NL), kThreads>>>(cols, hs, s, t);
      FWCUDA_TRY(check_launch());
      FWCUDA_TRY(sgemm(false, false, 4 * s.h, NL, hk, 1.0f, w, hk, cols, NL, 0.0f, z, NL));
    }
    k_scan_cell<<<blocks_for(s.N * s.h * s.L), kThreads>>>(hs, ptr<float>(p->acts), ptr<const float>(p->gates), z,
                                                           s, t);
    FWCUDA_TRY(check_launch());
  }
  return FW_OK;
}

int run_lstm_scan_backward(const fw_lstm_scan_backward_params* p) {
  Scan s;
  if (!scan_from(p->N, p->hidden, p->S, p->L, p->k, p->pad_before, s) || !p->dgates.ptr) return FW_ERR_INVALID;
  if (s.N == 0 || s.S == 0) return FW_OK;
  const int64_t NL = s.N * s.L, hk = s.h * s.k, wn = 4 * s.h * hk;
  float* cols = static_cast<float*>(scratch(0, hk * NL * sizeof(float)));
  float* dz = static_cast<float*>(scratch(1, 4 * s.h * NL * sizeof(float)));
  float* dcols = static_cast<float*>(scratch(2, hk * NL * sizeof(float)));
  float* dhc = static_cast<float*>(scratch(3, s.h * NL * sizeof(float)));
  float* dcc = static_cast<float*>(scratch(4, s.h * NL * sizeof(float)));
  float* dw_acc = static_cast<float*>(scratch(5, wn * sizeof(float)));
  if (!cols || !dz || !dcols || !dhc || !dcc || !dw_acc) return FW_ERR_UNSUPPORTED;
  if (cudaMemsetAsync(dhc, 0, s.h * NL * sizeof(float), 0) != cudaSuccess ||
      cudaMemsetAsync(dcc, 0, s.h * NL * sizeof(float), 0) != cudaSuccess ||
      cudaMemsetAsync(dw_acc, 0, wn * sizeof(float), 0) != cudaSuccess)
    return FW_ERR_UNSUPPORTED;
  const float* hs = ptr<const float>(p->h);
  const float* w = ptr<const float>(p->w);
  for (int64_t t = s.S - 1; t >= 0; --t) {
    k_scan_cell_backward<<<blocks_for(s.N * s.h * s.L), kThreads>>>(
        ptr<float>(p->dgates), dz, dcc, dhc, ptr<const float>(p->dh), ptr<const float>(p->acts), s, t);
    FWCUDA_TRY(check_launch());
    if (t == 0) break;
    // dw += dz (4h, N L) cols^T (N L, h k); dcols = w^T (h k, 4h) dz (4h, N L); dh_{t-1} carry = col2im(dcols)
    k_scan_im2col<<<blocks_for(hk * NL), kThreads>>>(cols, hs, s, t);
    FWCUDA_TRY(check_launch());
    FWCUDA_TRY(sgemm(false, true, 4 * s.h, hk, NL, 1.0f, dz, NL, cols, NL, 1.0f, dw_acc, hk));
    FWCUDA_TRY(sgemm(true, false, hk, NL, 4 * s.h, 1.0f, w, hk, dz, NL, 0.0f, dcols, NL));
    k_scan_col2im<<<blocks_for(s.h * NL), kThreads>>>(dhc, dcols, s);
    FWCUDA_TRY(check_launch());
  }
  if (p->dw.ptr) {
    k_add<<<blocks_for(wn), kThreads>>>(ptr<float>(p->dw), dw_acc, wn);
    return check_launch();
  }
  return FW_OK;
}

}  // namespace fwcuda
