// plugins/cuda/emu/include/cuda_runtime.h: a CPU stand-in for the parts of the CUDA runtime the plugin uses, so
// that plugins/cuda/emu/run-emulated.sh can run the plugin's own kernel code (index arithmetic, launch geometry,
// reductions) on a machine without a GPU. Not a CUDA implementation: kernels run block by block, threads one after
// the other, except the two kernels with __syncthreads tree reductions (k_sq_partial, k_dbias), which run a block's
// kEmuThreads threads concurrently in a pool with a barrier. A verification aid only; never built by Meson.
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>
#define __global__
#define __device__
#define __host__
#define __shared__ static
typedef enum cudaError { cudaSuccess = 0, cudaErrorMemoryAllocation = 2 } cudaError_t;
typedef void* cudaStream_t;
typedef void* cudaMemPool_t;
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost };
enum cudaMemPoolAttr { cudaMemPoolAttrReleaseThreshold };
struct dim3 { unsigned x = 0, y = 1, z = 1; };
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
inline cudaError_t cudaGetDeviceCount(int* c) { *c = 1; return cudaSuccess; }
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline const char* cudaGetErrorString(cudaError_t) { return "emu error"; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* p, int) { *p = nullptr; return cudaSuccess; }
inline cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t, cudaMemPoolAttr, void*) { return cudaSuccess; }
inline cudaError_t cudaMallocAsync(void** p, size_t n, int) {
  *p = malloc(n);
  memset(*p, 0xA5, n);  // garbage, like device memory
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
template <class T> cudaError_t cudaMallocAsync(T** p, size_t n, int s) { return cudaMallocAsync((void**)p, n, s); }
inline cudaError_t cudaFreeAsync(void* p, int) { free(p); return cudaSuccess; }
inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) { memcpy(d, s, n); return cudaSuccess; }
inline cudaError_t cudaMemsetAsync(void* d, int v, size_t n, int) { memset(d, v, n); return cudaSuccess; }

namespace emu {
// The block size the emulated plugin is compiled with (run-emulated.sh sets kThreads to it).
constexpr int kEmuThreads = 8;
struct Barrier {
  std::mutex m; std::condition_variable cv; int n, waiting = 0; long gen = 0;
  explicit Barrier(int n) : n(n) {}
  void wait() { std::unique_lock<std::mutex> l(m); long g = gen; if (++waiting == n) { waiting = 0; ++gen; cv.notify_all(); } else cv.wait(l, [&] { return gen != g; }); }
};
inline thread_local Barrier* tl_barrier = nullptr;
struct Pool {
  int n; std::vector<std::thread> ts; std::function<void(int)> job; Barrier start, done;
  explicit Pool(int n) : n(n), start(n + 1), done(n + 1) {
    for (int t = 0; t < n; ++t) ts.emplace_back([this, t] { for (;;) { start.wait(); job(t); done.wait(); } });
    for (auto& th : ts) th.detach();
  }
  void run(std::function<void(int)> j) { job = std::move(j); start.wait(); done.wait(); }
};
template <class F> auto launch(long long grid, long long block, const char* name, F f) {
  return [=](auto... args) {
    gridDim.x = unsigned(grid); blockDim.x = unsigned(block);
    const bool threaded = !strcmp(name, "k_sq_partial") || !strcmp(name, "k_dbias");
    for (long long b = 0; b < grid; ++b) {
      if (!threaded) {
        blockIdx.x = unsigned(b);
        for (long long t = 0; t < block; ++t) { threadIdx.x = unsigned(t); f(args...); }
      } else {
        static Barrier bar{kEmuThreads};
        static Pool* pool = new Pool(kEmuThreads);  // never destroyed: its threads wait forever
        pool->run([&](int t) { blockIdx.x = unsigned(b); threadIdx.x = unsigned(t); tl_barrier = &bar; f(args...); });
      }
    }
  };
}
}  // namespace emu
inline void __syncthreads() { emu::tl_barrier->wait(); }
