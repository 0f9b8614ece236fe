// framework/backend/host_memory.cpp: the CPU backend's caching allocator (contract in host_memory.h).
#include "framework/backend/host_memory.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define FW_HOST_CACHE_DEFAULT false
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FW_HOST_CACHE_DEFAULT false
#endif
#endif
#ifndef FW_HOST_CACHE_DEFAULT
#define FW_HOST_CACHE_DEFAULT true
#endif

namespace fw::host_memory {
namespace {

constexpr size_t kPage = 4096;

struct Pool {
  std::mutex mu;
  bool enabled = FW_HOST_CACHE_DEFAULT;
  std::unordered_map<void*, size_t> large;     // live large blocks -> rounded size
  std::map<size_t, std::vector<void*>> free_;  // rounded size -> cached blocks (most recently released last)
  Stats st;

  Pool() {
    const char* e = std::getenv("PIXELRNN_HOST_CACHE");
    if (e && std::strcmp(e, "0") == 0) enabled = false;
  }
  // Frees cached blocks, largest first, until cached <= keep. Caller holds mu.
  void evict_to(size_t keep) {
    while (st.cached_bytes > keep && !free_.empty()) {
      auto it = std::prev(free_.end());
      std::free(it->second.back());
      it->second.pop_back();
      st.cached_bytes -= it->first;
      ++st.evictions;
      if (it->second.empty()) free_.erase(it);
    }
  }
};
Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: tensors may be released during static destruction
  return *p;
}

void* checked(void* p) {
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace

void* allocate(size_t bytes) {
  const size_t n = std::max<size_t>(64, (bytes + 63) / 64 * 64);
  Pool& P = pool();
  if (n < kMinCachedBytes) return checked(std::aligned_alloc(64, n));
  const size_t r = (n + kPage - 1) / kPage * kPage;  // r: the rounded size, the cache's key
  std::lock_guard<std::mutex> lock(P.mu);
  if (!P.enabled) return checked(std::aligned_alloc(64, n));
  void* p = nullptr;
  auto it = P.free_.find(r);
  if (it != P.free_.end()) {
    p = it->second.back();
    it->second.pop_back();
    if (it->second.empty()) P.free_.erase(it);
    P.st.cached_bytes -= r;
    ++P.st.hits;
  } else {
    // Keep the cache at most the high-water mark of live bytes.
    P.evict_to(std::max(P.st.high_water_bytes, P.st.live_bytes + r) - r);
    p = std::aligned_alloc(kPage, r);
    if (!p) {  // out of memory: give back the whole cache and try once more
      P.evict_to(0);
      p = checked(std::aligned_alloc(kPage, r));
    }
    ++P.st.misses;
  }
  P.large.emplace(p, r);
  P.st.live_bytes += r;
  P.st.high_water_bytes = std::max(P.st.high_water_bytes, P.st.live_bytes);
  return p;
}

void release(void* p) {
  if (!p) return;
  Pool& P = pool();
  {
    std::lock_guard<std::mutex> lock(P.mu);
    auto it = P.large.find(p);
    if (it != P.large.end()) {
      const size_t r = it->second;
      P.large.erase(it);
      P.st.live_bytes -= r;
      if (P.enabled) {
        P.free_[r].push_back(p);
        P.st.cached_bytes += r;
        return;
      }
    }
  }
  std::free(p);
}

Stats stats() {
  Pool& P = pool();
  std::lock_guard<std::mutex> lock(P.mu);
  Stats s = P.st;
  s.enabled = P.enabled;
  return s;
}

void trim() {
  Pool& P = pool();
  std::lock_guard<std::mutex> lock(P.mu);
  P.evict_to(0);
}

void set_enabled(bool on) {
  Pool& P = pool();
  std::lock_guard<std::mutex> lock(P.mu);
  P.enabled = on;
  if (!on) P.evict_to(0);
}

}  // namespace fw::host_memory
