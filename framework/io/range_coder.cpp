// framework/io/range_coder.cpp: the range coder of range_coder.h (LZMA-style carry handling) and the
// probability quantizer.
#include "framework/io/range_coder.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace fw::io {
namespace {
constexpr uint32_t kTop = 1u << 24;  // renormalise when the range drops below 2^24 (one byte of headroom)
}

void RangeEncoder::encode(uint32_t cum, uint32_t freq, uint32_t total) {
  if (freq == 0 || total == 0 || total > kMaxTotal || cum > total || freq > total - cum)
    throw std::invalid_argument("RangeEncoder::encode: symbol [" + std::to_string(cum) + ", +" +
                                std::to_string(freq) + ") of total " + std::to_string(total) +
                                " (need freq >= 1, cum + freq <= total <= 65536)");
  const uint32_t r = range_ / total;  // >= 2^8: range >= 2^24, total <= 2^16
  low_ += static_cast<uint64_t>(r) * cum;
  range_ = r * freq;
  while (range_ < kTop) {
    range_ <<= 8;
    shift_low();
  }
}

// Moves the top byte of the 32-bit low word out. A byte is held back (cache_) together with any 0xFF bytes
// after it (cache_size_ - 1 of them) until it is known whether a carry (bit 32 of low_) will reach it.
void RangeEncoder::shift_low() {
  if (static_cast<uint32_t>(low_) < 0xFF000000u || (low_ >> 32) != 0) {
    const uint8_t carry = static_cast<uint8_t>(low_ >> 32);
    carries_ += carry;
    if (carry && cache_size_ > 1) ++carries_ff_;
    uint8_t temp = cache_;
    do {
      out_.push_back(static_cast<uint8_t>(temp + carry));
      temp = 0xFF;
    } while (--cache_size_ != 0);
    cache_ = static_cast<uint8_t>(low_ >> 24);
  }
  ++cache_size_;
  low_ = (low_ & 0x00FFFFFFu) << 8;
}

std::vector<uint8_t> RangeEncoder::finish() {
  for (int i = 0; i < 5; ++i) shift_low();
  return std::move(out_);
}

RangeDecoder::RangeDecoder(const uint8_t* data, size_t size) : data_(data), size_(size) {
  // The encoder's first output byte is the initial cache (always 0), then 4 bytes of the code.
  for (int i = 0; i < 5; ++i) code_ = (code_ << 8) | next_byte();
}

uint8_t RangeDecoder::next_byte() {
  if (pos_ < size_) return data_[pos_++];
  ++pos_;
  ++overrun_;
  return 0;
}

uint32_t RangeDecoder::slot(uint32_t total) {
  if (total == 0 || total > RangeEncoder::kMaxTotal)
    throw std::invalid_argument("RangeDecoder::slot: total " + std::to_string(total) + " not in 1..65536");
  const uint32_t r = range_ / total;
  const uint32_t v = code_ / r;
  return v < total ? v : total - 1;  // v >= total only for a corrupt stream
}

void RangeDecoder::consume(uint32_t cum, uint32_t freq, uint32_t total) {
  if (freq == 0 || total == 0 || total > RangeEncoder::kMaxTotal || cum > total || freq > total - cum)
    throw std::invalid_argument("RangeDecoder::consume: symbol [" + std::to_string(cum) + ", +" +
                                std::to_string(freq) + ") of total " + std::to_string(total));
  const uint32_t r = range_ / total;
  code_ -= r * cum;  // corrupt streams may wrap here; unsigned arithmetic, still defined
  range_ = r * freq;
  while (range_ < kTop) {
    range_ <<= 8;
    code_ = (code_ << 8) | next_byte();
  }
}

size_t RangeDecoder::decode(const std::vector<uint32_t>& freq, uint32_t total) {
  const uint32_t s = slot(total);
  uint32_t cum = 0;
  size_t k = 0;
  for (; k + 1 < freq.size(); ++k) {
    if (s < cum + freq[k]) break;
    cum += freq[k];
  }
  if (freq.empty() || cum + freq[k] > total)
    throw std::invalid_argument("RangeDecoder::decode: frequency table does not sum to total " +
                                std::to_string(total));
  consume(cum, freq[k], total);
  return k;
}

std::vector<uint32_t> quantize_probs(const std::vector<double>& p, uint32_t total) {
  const size_t K = p.size();
  if (K == 0 || total < K || total > RangeEncoder::kMaxTotal)
    throw std::invalid_argument("quantize_probs: " + std::to_string(K) + " symbols with total " +
                                std::to_string(total) + " (need 1 <= symbols <= total <= 65536)");
  double sum = 0;
  for (double v : p)
    if (std::isfinite(v) && v > 0) sum += v;
  std::vector<uint32_t> f(K, 1);
  std::vector<double> frac(K, 0.0);
  const uint32_t spare = total - static_cast<uint32_t>(K);
  uint32_t used = static_cast<uint32_t>(K);
  for (size_t k = 0; k < K; ++k) {
    const double v = std::isfinite(p[k]) && p[k] > 0 && sum > 0 ? p[k] / sum : 0.0;
    const double x = std::min(v * spare, static_cast<double>(spare));
    const double extra = std::floor(x);
    frac[k] = x - extra;
    f[k] += static_cast<uint32_t>(extra);
    used += static_cast<uint32_t>(extra);
  }
  if (used > total) {  // only through rounding of the shares' sum; take from the largest
    uint32_t over = used - total;
    while (over > 0) {
      size_t big = 0;
      for (size_t k = 1; k < K; ++k)
        if (f[k] > f[big]) big = k;
      --f[big];
      --over;
    }
    return f;
  }
  // Largest remainders: the (total - used) < K symbols with the largest fractional parts get one more (ties: the
  // lower index first), so every frequency is within one of 1 + its exact share p (total - K).
  const uint32_t left = total - used;
  if (left > 0) {
    std::vector<uint32_t> order(K);
    for (size_t k = 0; k < K; ++k) order[k] = static_cast<uint32_t>(k);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return frac[a] > frac[b]; });
    for (uint32_t i = 0; i < left; ++i) ++f[order[i % K]];
  }
  return f;
}

}  // namespace fw::io
