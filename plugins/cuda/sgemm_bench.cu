// plugins/cuda/sgemm_bench.cu: cuBLAS sgemm GFLOP/s on this GPU (plain float32, no TF32: the math mode the plugin uses), the
// yardstick docs/performance.md puts beside `pixelrnn bench --device cuda`. Built and run by run-on-gpu.sh only:
//   nvcc -O3 plugins/cuda/sgemm_bench.cu -lcublas -o sgemm_bench && ./sgemm_bench
// Prints one JSON line per size: {"M", "N", "K", "gflops"} (median of 20 timed calls after 3 warm-up calls).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <vector>

int main() {
  cublasHandle_t h;
  if (cudaSetDevice(0) != cudaSuccess || cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "sgemm_bench: no CUDA device\n");
    return 1;
  }
  cublasSetMathMode(h, CUBLAS_DEFAULT_MATH);
  // Square sizes, then the shapes of PixelCNN h=64's 3x3 convolutions at batch 16 on 28x28 (M = Co, N = HW per
  // image, K = Ci * 9) as one GEMM per image.
  const int sizes[][3] = {{1024, 1024, 1024}, {4096, 4096, 4096}, {128, 784, 1152}, {128, 784, 128}};
  for (const auto& s : sizes) {
    const int M = s[0], N = s[1], K = s[2];
    float *a, *b, *c;
    cudaMalloc(&a, sizeof(float) * M * K);
    cudaMalloc(&b, sizeof(float) * K * N);
    cudaMalloc(&c, sizeof(float) * M * N);
    cudaMemset(a, 0, sizeof(float) * M * K);
    cudaMemset(b, 0, sizeof(float) * K * N);
    const float one = 1, zero = 0;
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    std::vector<float> ms;
    for (int i = 0; i < 23; ++i) {
      cudaEventRecord(e0);
      cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, b, N, a, K, &zero, c, N);
      cudaEventRecord(e1);
      cudaEventSynchronize(e1);
      float t = 0;
      cudaEventElapsedTime(&t, e0, e1);
      if (i >= 3) ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    const double med = ms[ms.size() / 2];
    std::printf("{\"M\": %d, \"N\": %d, \"K\": %d, \"ms\": %.4f, \"gflops\": %.1f}\n", M, N, K, med,
                2.0 * M * N * K / (med * 1e6));
    cudaFree(a);
    cudaFree(b);
    cudaFree(c);
  }
  cublasDestroy(h);
  return 0;
}
