// tests/test_util.h: helpers shared by the test suites: float64 leaves for gradient checks, error-message
// matchers, exact and approximate tensor comparisons, masked convolution options, a temporary folder.
// Header-only (inline), doctest's macros available; everything in namespace test_util.
#pragma once
#include <doctest/doctest.h>

#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <system_error>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/nn/conv2d.h"
#include "tests/gradcheck.h"

namespace test_util {

// A float64 leaf that requires grad, uniform in [lo, hi), seeded (gradcheck::random).
inline fw::Tensor leaf(const fw::Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  fw::Tensor t = gradcheck::random(shape, seed, lo, hi);
  t.requires_grad_();
  return t;
}

// The message of the exception of type E that f throws, or "" when f returns normally. Other exceptions pass.
template <class E = std::exception, class F> std::string error_of(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// True when f throws E (default fw::ShapeError) with a message containing every piece; a missing piece is
// reported with the whole message.
template <class E = fw::ShapeError, class F> bool throws_with(F f, std::initializer_list<std::string> pieces) {
  try {
    f();
  } catch (const E& e) {
    const std::string m = e.what();
    for (const auto& p : pieces)
      if (!contains(m, p)) {
        MESSAGE("message '" << m << "' lacks '" << p << "'");
        return false;
      }
    return true;
  }
  MESSAGE("no exception thrown");
  return false;
}

// Same dtype, shape and bytes (any layout).
inline bool bitwise_equal(const fw::Tensor& a, const fw::Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const size_t n = static_cast<size_t>(a.numel()) * fw::dtype_size(a.dtype());
  return n == 0 || std::memcmp(a.contiguous().raw_data(), b.contiguous().raw_data(), n) == 0;
}

// max |a - b| over the elements; the shapes must match (REQUIREd).
inline double max_abs_diff(const fw::Tensor& a, const fw::Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> x = a.to_vector(), y = b.to_vector();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::fabs(x[i] - y[i]));
  return m;
}

// Options of an (out, in, k, k) convolution with "same" padding and a raster-order mask: the taps at raster
// index >= first_masked (of k * k) are 0, the others 1 (k = 3: 4 is mask A's "centre off", 5 mask B's).
inline fw::nn::Conv2dOptions raster_masked_conv(int64_t in, int64_t out, int64_t k, int64_t first_masked) {
  fw::nn::Conv2dOptions o;
  o.in = in;
  o.out = out;
  o.kh = o.kw = k;
  o.pad = fw::Padding2d::same(k, k);
  o.mask = fw::Tensor::ones({out, in, k, k});  // (out, in, k, k)
  for (int64_t co = 0; co < out; ++co)
    for (int64_t ci = 0; ci < in; ++ci)
      for (int64_t t = first_masked; t < k * k; ++t) o.mask.set({co, ci, t / k, t % k}, 0.0);
  return o;
}

// A fresh folder under the system's temp directory, named <prefix>XXXXXX, removed with its contents at the end
// of the scope (owner permissions restored first, for tests that make it read-only).
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& prefix = "pixelrnn_test_") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return path + "/" + name; }
  // The names directly inside, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

}  // namespace test_util
