// plugins/cuda/backend.cu: the CUDA backend plugin's table (ABI v2, framework/backend/backend_abi.h): device
// detection, memory (stream-ordered cudaMallocAsync pool), host copies, synchronize, supports() and the run()
// dispatch to the kernels in kernels.cu and gemm_conv.cu. fw_backend_register_v2 returns NULL when there is no
// usable device, so the framework reports "no device" and the tools fall back to the CPU (docs/cuda.md).
#include <cstdio>
#include <cstring>

#include "plugins/cuda/cuda_common.h"

namespace fwcuda {
namespace {

cublasHandle_t g_blas = nullptr;
cudaError_t g_sticky = cudaSuccess;  // the first asynchronous error seen, reported by synchronize()
void* g_scratch[10] = {};
size_t g_scratch_bytes[10] = {};

bool init() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) {
    cudaGetLastError();  // clear
    return false;
  }
  if (cudaSetDevice(0) != cudaSuccess) return false;
  if (cublasCreate(&g_blas) != CUBLAS_STATUS_SUCCESS) return false;
  cublasSetStream(g_blas, 0);
  // Plain float32 (the default math mode never uses TF32 tensor cores for sgemm), so results match the CPU within
  // float32 tolerances.
  cublasSetMathMode(g_blas, CUBLAS_DEFAULT_MATH);
  cublasSetPointerMode(g_blas, CUBLAS_POINTER_MODE_HOST);
  // Keep freed memory in the pool (tensors are allocated and freed every step).
  cudaMemPool_t pool;
  if (cudaDeviceGetDefaultMemPool(&pool, 0) == cudaSuccess) {
    uint64_t threshold = UINT64_MAX;
    cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold);
  }
  return true;
}

int status(cudaError_t e) {
  if (e == cudaSuccess) return FW_OK;
  if (g_sticky == cudaSuccess) g_sticky = e;
  std::fprintf(stderr, "cuda backend: %s\n", cudaGetErrorString(e));
  return FW_ERR_UNSUPPORTED;
}

void* dev_alloc(size_t bytes) {
  void* p = nullptr;
  if (bytes == 0) bytes = 1;
  if (cudaMallocAsync(&p, bytes, 0) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return p;
}
void dev_free(void* p) {
  if (p) cudaFreeAsync(p, 0);
}
int to_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return FW_OK;
  return status(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}
int from_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return FW_OK;
  return status(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}
int sync() {
  const int r = status(cudaDeviceSynchronize());
  if (r != FW_OK) return r;
  if (g_sticky != cudaSuccess) return FW_ERR_UNSUPPORTED;
  return FW_OK;
}

int supports(int32_t kernel, int32_t dtype, const void* params) {
  if (dtype != FW_F32 || params == nullptr || kernel < 0 || kernel >= FW_K_COUNT) return 0;
  if (kernel == FW_K_UNARY) {
    const int32_t op = static_cast<const fw_unary_params*>(params)->op;
    return op >= 0 && op < FW_U_COUNT;
  }
  if (kernel == FW_K_UNARY_BACKWARD) {
    const int32_t op = static_cast<const fw_unary_backward_params*>(params)->op;
    return op >= 0 && op < FW_U_COUNT;
  }
  if (kernel == FW_K_BINARY) {
    const auto* p = static_cast<const fw_binary_params*>(params);
    return p->op >= 0 && p->op < FW_B_COUNT && p->ndim >= 0 && p->ndim <= FW_MAX_DIMS;
  }
  if (kernel == FW_K_COPY_BLOCK) {
    const auto* p = static_cast<const fw_copy_block_params*>(params);
    return p->ndim >= 0 && p->ndim <= FW_MAX_DIMS;
  }
  return 1;
}

int run(int32_t kernel, int32_t dtype, const void* params) {
  if (!supports(kernel, dtype, params)) return FW_ERR_UNSUPPORTED;
  switch (kernel) {
#define FWCUDA_CASE(ID, name, P, last, writes) \
  case FW_K_##ID: return run_##name(static_cast<const P*>(params));
    FW_KERNEL_LIST(FWCUDA_CASE)
#undef FWCUDA_CASE
    default: return FW_ERR_UNSUPPORTED;
  }
}

const fw_backend_v2 kTable = {FW_BACKEND_ABI_VERSION, "cuda", FW_CUDA, supports, run, dev_alloc, dev_free,
                              to_host, from_host, sync};

}  // namespace

cublasHandle_t blas() { return g_blas; }

void* scratch(int slot, size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (g_scratch_bytes[slot] < bytes) {
    if (g_scratch[slot]) cudaFreeAsync(g_scratch[slot], 0);  // stream-ordered: earlier kernels finish first
    g_scratch[slot] = nullptr;
    g_scratch_bytes[slot] = 0;
    if (cudaMallocAsync(&g_scratch[slot], bytes, 0) != cudaSuccess) {
      cudaGetLastError();
      g_scratch[slot] = nullptr;
      return nullptr;
    }
    g_scratch_bytes[slot] = bytes;
  }
  return g_scratch[slot];
}

int check_launch() { return status(cudaGetLastError()); }
int check_blas(cublasStatus_t s) {
  if (s == CUBLAS_STATUS_SUCCESS) return FW_OK;
  std::fprintf(stderr, "cuda backend: cuBLAS error %d\n", static_cast<int>(s));
  return FW_ERR_UNSUPPORTED;
}

}  // namespace fwcuda

extern "C" __attribute__((visibility("default"))) const fw_backend_v2* fw_backend_register_v2(void) {
  static const bool ok = fwcuda::init();
  return ok ? &fwcuda::kTable : nullptr;
}
