/* tests/fake_backend_plugin.cpp: a backend plugin for tests, built as a shared module and loaded with dlopen by
 * tests/test_backend.cpp. It claims the CUDA device id but keeps its memory on the host (its own allocations,
 * never the CPU backend's), and runs kernels by handing its own buffers to the CPU reference table the test
 * gives it (fake_backend_configure). What it supports is set by the test: every kernel, none (everything takes
 * the framework's CPU fallback), or one kernel alone. It counts what it is asked to do. */
#include <cstdlib>
#include <cstring>

#include "framework/backend/backend_abi.h"
#include "framework/ops/families.h"

namespace {
enum Mode { kAll = 0, kNone = 1, kOnly = 2 };
int g_mode = kNone, g_only = -1;
const fw_backend_v2* g_cpu = nullptr;
long g_counts[4];        /* kernels run here, supports queries, copies to host, copies from host */
long g_runs[FW_K_COUNT]; /* per kernel id: runs here */

int fake_supports(int32_t id, int32_t dtype, const void* params) {
  g_counts[1]++;
  if (!g_cpu || !g_cpu->supports(id, dtype, params)) return 0;
  return g_mode == kAll || (g_mode == kOnly && id == g_only);
}
int fake_run(int32_t id, int32_t dtype, const void* params) {
  if (!fake_supports(id, dtype, params)) return FW_ERR_UNSUPPORTED;
  g_counts[0]++;
  g_runs[id]++;
  return g_cpu->run(id, dtype, params);
}
void* fake_alloc(size_t n) { return malloc(n ? n : 1); }
void fake_free(void* p) { free(p); }
int fake_to_host(void* dst, const void* src, size_t n) {
  g_counts[2]++;
  if (n) memcpy(dst, src, n);
  return FW_OK;
}
int fake_from_host(void* dst, const void* src, size_t n) {
  g_counts[3]++;
  if (n) memcpy(dst, src, n);
  return FW_OK;
}
int fake_sync() { return FW_OK; }

const fw_backend_v2 kFake = {FW_BACKEND_ABI_VERSION, "fake", FW_CUDA, fake_supports, fake_run,
                             fake_alloc, fake_free, fake_to_host, fake_from_host, fake_sync};

}  // namespace

extern "C" const fw_backend_v2* fw_backend_register_v2() { return &kFake; }

/* Test hooks. mode: 0 every kernel, 1 none, 2 only kernel `only`. cpu: the CPU reference table. */
extern "C" void fake_backend_configure(int mode, int only, const fw_backend_v2* cpu) {
  g_mode = mode;
  g_only = only;
  g_cpu = cpu;
}
extern "C" const long* fake_backend_counts() { return g_counts; }
extern "C" const long* fake_backend_runs() { return g_runs; }
