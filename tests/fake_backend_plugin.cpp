/* tests/fake_backend_plugin.cpp: a backend plugin for tests, built as a shared module and loaded with dlopen by
 * tests/test_core.cpp. It claims the CUDA device id but keeps memory on the host, implements only FW_K_FILL
 * (so every other kernel exercises the framework's CPU fallback), and counts what it is asked to do. */
#include <cstdlib>
#include <cstring>

#include "framework/backend/backend_abi.h"

namespace {
int g_counts[4]; /* fills run, supports queries, copies to host, copies from host */

int fake_supports(int32_t id, int32_t dtype) {
  g_counts[1]++;
  return id == FW_K_FILL && (dtype == FW_F32 || dtype == FW_F64);
}
int fake_run(int32_t id, const fw_kernel_args* a) {
  if (id != FW_K_FILL) return FW_ERR_UNSUPPORTED;
  g_counts[0]++;
  for (int64_t i = 0; i < a->i[0]; ++i) {
    if (a->dtype == FW_F32) (static_cast<float*>(a->b[0]))[i] = static_cast<float>(a->s[0]);
    else (static_cast<double*>(a->b[0]))[i] = a->s[0];
  }
  return FW_OK;
}
void* fake_alloc(size_t n) { return malloc(n ? n : 1); }
void fake_free(void* p) { free(p); }
int fake_to_host(void* dst, const void* src, size_t n) {
  g_counts[2]++;
  memcpy(dst, src, n);
  return FW_OK;
}
int fake_from_host(void* dst, const void* src, size_t n) {
  g_counts[3]++;
  memcpy(dst, src, n);
  return FW_OK;
}
int fake_sync() { return FW_OK; }

const fw_backend_v1 kFake = {FW_BACKEND_ABI_VERSION, "fake", FW_CUDA, fake_supports, fake_run,
                                    fake_alloc, fake_free, fake_to_host, fake_from_host, fake_sync};

}  // namespace

extern "C" const fw_backend_v1* fw_backend_register_v1() { return &kFake; }
/* Test hook: counters as above. */
extern "C" const int* fake_backend_counts() { return g_counts; }
