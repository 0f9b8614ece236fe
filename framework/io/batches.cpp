// framework/io/batches.cpp: BatchIterator.
#include "framework/io/batches.h"

#include <algorithm>
#include <numeric>

#include "framework/io/preprocess.h"

namespace fw::io {

BatchIterator::BatchIterator(const Dataset& d, int64_t batch_size, uint64_t seed, bool shuffle,
                             bool drop_last)
    : d_(&d), batch_size_(batch_size), shuffle_(shuffle), drop_last_(drop_last) {
  d.validate();
  if (batch_size <= 0 || (drop_last && batch_size > d.n))
    throw DataError(d.source + ": bad batch size " + std::to_string(batch_size) + " for " +
                    std::to_string(d.n) + " images");
  state_.seed = seed;
}

void BatchIterator::restore(const BatchState& s) {
  if (s.epoch < 0 || s.position < 0 || s.position > d_->n)
    throw DataError(d_->source + ": bad batch iterator state (epoch " + std::to_string(s.epoch) +
                    ", position " + std::to_string(s.position) + ")");
  state_ = s;
  perm_epoch_ = -1;
}

int64_t BatchIterator::batches_per_epoch() const {
  return drop_last_ ? d_->n / batch_size_ : (d_->n + batch_size_ - 1) / batch_size_;
}

void BatchIterator::make_permutation() {
  perm_.resize(size_t(d_->n));
  std::iota(perm_.begin(), perm_.end(), int64_t(0));
  if (shuffle_) {
    SplitMix64 rng(state_.seed ^ (0xD1B54A32D192ED03ull * uint64_t(state_.epoch + 1)));
    for (int64_t i = d_->n - 1; i > 0; --i)
      std::swap(perm_[size_t(i)], perm_[size_t(rng.below(uint64_t(i) + 1))]);
  }
  perm_epoch_ = state_.epoch;
}

Batch BatchIterator::next() {
  const int64_t n = d_->n;
  const int64_t left = n - state_.position;
  if (left <= 0 || (drop_last_ && left < batch_size_)) {
    ++state_.epoch;
    state_.position = 0;
  }
  if (perm_epoch_ != state_.epoch) make_permutation();
  const int64_t take = std::min(batch_size_, n - state_.position);
  Batch b;
  b.n = take;
  b.c = d_->c;
  b.h = d_->h;
  b.w = d_->w;
  b.epoch = state_.epoch;
  const int64_t isz = d_->image_size();
  b.x.resize(size_t(take * isz));
  b.indices.resize(size_t(take));
  if (d_->has_labels()) b.labels.resize(size_t(take));
  for (int64_t k = 0; k < take; ++k) {
    const int64_t idx = perm_[size_t(state_.position + k)];
    b.indices[size_t(k)] = idx;
    if (d_->has_labels()) b.labels[size_t(k)] = d_->labels[size_t(idx)];
    const uint8_t* src = d_->image(idx);
    std::copy(src, src + isz, b.x.begin() + k * isz);
  }
  state_.position += take;
  return b;
}

}  // namespace fw::io
