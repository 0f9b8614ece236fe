// tests/test_core.cpp: tensors, views, autograd mechanics (accumulation, graph freeing, no-grad), the CPU
// backend's caching allocator (framework/backend/host_memory.h).
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "framework/backend/host_memory.h"
#include "framework/core/autograd.h"
#include "framework/ops/elementwise.h"
#include "framework/ops/reduce.h"
#include "framework/ops/view.h"

using namespace fw;

TEST_CASE("tensor creation and views share storage") {
  Tensor t = Tensor::from_vector({2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(t.is_contiguous());
  Tensor p = permute(t, {1, 0});
  CHECK(p.shape() == Shape{3, 2});
  CHECK_FALSE(p.is_contiguous());
  CHECK(p.at({2, 1}) == 6);
  Tensor s = slice(t, 1, 1, 3);
  CHECK(s.shape() == Shape{2, 2});
  CHECK(s.at({1, 0}) == 5);
  t.set({1, 1}, 50);
  CHECK(s.at({1, 0}) == 50);
  Tensor r = reshape(p, {6});
  CHECK(r.to_vector() == std::vector<double>{1, 4, 2, 50, 3, 6});
  CHECK_THROWS_AS(reshape(t, {4}), ShapeError);
  CHECK_THROWS_AS(slice(t, 1, 2, 4), ShapeError);
}

TEST_CASE("gradient accumulates when a tensor is used twice, and the graph is freed") {
  Tensor x = Tensor::from_vector({3}, std::vector<double>{1, 2, 3});
  x.requires_grad_();
  Tensor y = sum(mul(x, x) + x);  // dy/dx = 2x + 1
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<double>{3, 5, 7});
  CHECK_THROWS_AS(y.backward(), ShapeError);
  Tensor z = sum(x);
  z.backward();  // accumulates into the existing grad
  CHECK(x.grad().to_vector() == std::vector<double>{4, 6, 8});
}

TEST_CASE("no-grad mode records nothing") {
  Tensor x = Tensor::ones({2}, DType::F64);
  x.requires_grad_();
  NoGradGuard ng;
  Tensor y = mul(x, x);
  CHECK_FALSE(y.requires_grad());
  CHECK_FALSE(static_cast<bool>(y.grad_fn()));
}

TEST_CASE("broadcast errors name the op and shapes") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  try {
    add(a, b);
    FAIL("no throw");
  } catch (const ShapeError& e) {
    std::string m = e.what();
    CHECK(m.find("add") != std::string::npos);
    CHECK(m.find("(2, 3)") != std::string::npos);
    CHECK(m.find("(4,)") != std::string::npos);
  }
}

namespace {
// Turns the host cache on for a test (it is off by default under AddressSanitizer) and restores it.
struct HostCacheOn {
  bool prev = fw::host_memory::stats().enabled;
  HostCacheOn() { fw::host_memory::set_enabled(true); }
  ~HostCacheOn() { fw::host_memory::set_enabled(prev); }
};
}  // namespace

TEST_CASE("host memory: a released large block is reused for the next request of its size") {
  HostCacheOn on;
  namespace hm = fw::host_memory;
  const size_t n = (size_t(3) << 20) + 12345;  // rounded up to whole pages: 3 MiB + 16 KiB
  void* a = hm::allocate(n);
  REQUIRE(a != nullptr);
  CHECK(reinterpret_cast<uintptr_t>(a) % 64 == 0);
  const hm::Stats s0 = hm::stats();
  hm::release(a);
  const hm::Stats s1 = hm::stats();
  CHECK(s1.live_bytes == s0.live_bytes - (size_t(3) << 20) - 16384);
  CHECK(s1.cached_bytes == s0.cached_bytes + (size_t(3) << 20) + 16384);
  void* b = hm::allocate(n - 10);  // the same rounded size
  CHECK(b == a);
  CHECK(hm::stats().hits == s1.hits + 1);
  CHECK(hm::stats().cached_bytes == s0.cached_bytes);
  std::memset(b, 1, n - 10);  // the whole block is usable
  hm::release(b);
  hm::trim();
  CHECK(hm::stats().cached_bytes == 0);
}

TEST_CASE("host memory: the cache stays under the high-water mark of live bytes, small blocks bypass it") {
  HostCacheOn on;
  namespace hm = fw::host_memory;
  hm::trim();
  const size_t small = hm::kMinCachedBytes / 2;
  const hm::Stats s0 = hm::stats();
  void* p = hm::allocate(small);
  CHECK(hm::stats().live_bytes == s0.live_bytes);  // not counted: straight to aligned_alloc
  hm::release(p);
  CHECK(hm::stats().cached_bytes == 0);
  // A cache of many blocks of one size, then a request of another size larger than the high-water mark allows:
  // blocks are freed so that cached <= max(high water, live + request) - request.
  const size_t one = size_t(1) << 20, big = hm::stats().high_water_bytes + (size_t(8) << 20);
  std::vector<void*> blocks;
  for (int i = 0; i < 4; ++i) blocks.push_back(hm::allocate(one));
  for (void* b : blocks) hm::release(b);
  CHECK(hm::stats().cached_bytes == 4 * one);
  const hm::Stats before = hm::stats();
  void* q = hm::allocate(big);  // beyond the high-water mark: the cache is emptied first
  const hm::Stats after = hm::stats();
  CHECK(after.evictions == before.evictions + 4);
  CHECK(after.cached_bytes == 0);
  CHECK(after.high_water_bytes >= after.live_bytes);
  hm::release(q);
  CHECK(hm::stats().cached_bytes <= hm::stats().high_water_bytes);
  hm::trim();
}

TEST_CASE("host memory: turned off, blocks go straight back to the system") {
  namespace hm = fw::host_memory;
  const bool prev = hm::stats().enabled;
  hm::set_enabled(false);
  CHECK(hm::stats().cached_bytes == 0);  // turning it off trims
  void* a = hm::allocate(size_t(2) << 20);
  hm::release(a);
  CHECK(hm::stats().cached_bytes == 0);
  hm::set_enabled(prev);
}

TEST_CASE("host memory: tensors recycle their storage across identical steps") {
  HostCacheOn on;
  namespace hm = fw::host_memory;
  auto step = [] {
    Tensor x = Tensor::ones({64, 1024});  // 256 KiB: cached sizes
    x.requires_grad_();
    Tensor y = fw::sum(fw::mul(fw::relu(x), x));
    y.backward();
  };
  step();
  const hm::Stats s0 = hm::stats();
  step();
  const hm::Stats s1 = hm::stats();
  CHECK(s1.misses == s0.misses);  // the second identical step allocates nothing new
  CHECK(s1.hits > s0.hits);
}
