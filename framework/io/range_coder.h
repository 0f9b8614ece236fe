// framework/io/range_coder.h: a range coder (an arithmetic coder on bytes) for symbols with integer
// frequencies: 32-bit range, 64-bit low with carry propagation (the LZMA scheme: a cached byte plus a count
// of pending 0xFF bytes, so a carry out of the low word ripples into bytes already produced). Generic: it
// knows nothing of images or models; the caller supplies (cumulative frequency, frequency, total) per symbol.
//
// Contract: totals are at most kMaxTotal (2^16) and every coded symbol has freq >= 1 (quantize_probs gives
// such tables). Encoding n symbols costs at most sum(-log2(freq/total)) + n * 2^-7 + 48 bits (the flush bytes);
// in practice the per-symbol overhead is about total / range <= 2^-8 relative, far smaller on average.
// The decoder never reads outside its buffer: past the end it reads zero bytes and counts them
// (overrun()), so a truncated stream decodes to something (which the caller must detect, e.g. by a checksum
// or by overrun() > 0 after the last symbol) and never crashes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fw::io {

class RangeEncoder {
 public:
  static constexpr uint32_t kMaxTotal = 1u << 16;
  // Codes the symbol occupying [cum, cum + freq) of [0, total). throws std::invalid_argument when
  // freq == 0, cum + freq > total or total > kMaxTotal.
  void encode(uint32_t cum, uint32_t freq, uint32_t total);
  // Flushes the final bytes; returns the coded stream. The encoder must not be used afterwards.
  std::vector<uint8_t> finish();
  size_t bytes() const { return out_.size(); }  // bytes produced so far (without the pending ones)
  // Statistics for tests: carries out of the low word so far, and those that rippled through pending 0xFF bytes.
  size_t carries() const { return carries_; }
  size_t carries_through_ff() const { return carries_ff_; }

 private:
  void shift_low();
  uint64_t low_ = 0;
  uint32_t range_ = 0xFFFFFFFFu;
  uint8_t cache_ = 0;
  uint64_t cache_size_ = 1;
  size_t carries_ = 0, carries_ff_ = 0;
  std::vector<uint8_t> out_;
};

class RangeDecoder {
 public:
  // Reads from data[0 .. size); the buffer must outlive the decoder.
  RangeDecoder(const uint8_t* data, size_t size);
  // The cumulative-frequency slot of the next symbol, in [0, total): the caller finds the symbol s with
  // cum[s] <= slot < cum[s] + freq[s] and then calls consume(cum[s], freq[s], total). total must equal the
  // encoder's. For a corrupt stream the slot is clamped to total - 1, so it always names some symbol.
  uint32_t slot(uint32_t total);
  void consume(uint32_t cum, uint32_t freq, uint32_t total);
  // Convenience: decodes one symbol of a frequency table (freq[k] >= 1 for all k; total = their sum).
  size_t decode(const std::vector<uint32_t>& freq, uint32_t total);
  size_t overrun() const { return overrun_; }  // bytes read past the end of the buffer (0 for a valid stream)
  size_t position() const { return pos_; }     // bytes consumed (may exceed size by overrun())

 private:
  uint8_t next_byte();
  const uint8_t* data_;
  size_t size_, pos_ = 0, overrun_ = 0;
  uint32_t range_ = 0xFFFFFFFFu, code_ = 0;
};

// Quantizes a probability vector p (K >= 1 entries, each finite and >= 0, any positive sum; NaN or negative
// entries count as 0) to integer frequencies summing exactly to total (K <= total <= kMaxTotal), every one >= 1
// (the floor: no symbol is impossible). freq[k] = 1 + floor(x[k]) with x[k] = p[k] / sum * (total - K), plus
// one for the (total - sum of those) symbols with the largest fractional parts x[k] - floor(x[k]) (ties: lower
// index first), so x[k] < freq[k] <= x[k] + 2 (largest remainders). A pure function of its inputs: the
// same p gives the same table on every run (the coder's encoder and decoder rely on this).
// throws std::invalid_argument when K == 0 or total is out of range.
std::vector<uint32_t> quantize_probs(const std::vector<double>& p, uint32_t total);

}  // namespace fw::io
