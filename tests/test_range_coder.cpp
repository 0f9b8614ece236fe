// tests/test_range_coder.cpp: the range coder of framework/io/range_coder.h: round trips over known
// distributions, coded size against the entropy, carry propagation, extreme probabilities, the quantizer's
// floor and exact total, and decoding of truncated / corrupt streams without leaving the buffer.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "framework/io/range_coder.h"

using namespace fw::io;

namespace {

struct Table {
  std::vector<uint32_t> freq, cum;
  uint32_t total = 0;
  explicit Table(std::vector<uint32_t> f) : freq(std::move(f)) {
    for (uint32_t v : freq) {
      cum.push_back(total);
      total += v;
    }
  }
};

std::vector<uint8_t> encode_all(const std::vector<size_t>& syms, const std::vector<Table>& tabs) {
  RangeEncoder enc;
  for (size_t i = 0; i < syms.size(); ++i) {
    const Table& t = tabs[i % tabs.size()];
    enc.encode(t.cum[syms[i]], t.freq[syms[i]], t.total);
  }
  return enc.finish();
}

std::vector<size_t> decode_all(const std::vector<uint8_t>& bytes, size_t n, const std::vector<Table>& tabs,
                               size_t* overrun = nullptr) {
  RangeDecoder dec(bytes.data(), bytes.size());
  std::vector<size_t> out;
  for (size_t i = 0; i < n; ++i) {
    const Table& t = tabs[i % tabs.size()];
    out.push_back(dec.decode(t.freq, t.total));
  }
  if (overrun) *overrun = dec.overrun();
  return out;
}

// Draws n symbols from the table's distribution.
std::vector<size_t> draw(const Table& t, size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::discrete_distribution<size_t> d(t.freq.begin(), t.freq.end());
  std::vector<size_t> s(n);
  for (auto& v : s) v = d(g);
  return s;
}

double info_bits(const std::vector<size_t>& syms, const Table& t) {
  double b = 0;
  for (size_t s : syms) b += -std::log2(double(t.freq[s]) / t.total);
  return b;
}

}  // namespace

TEST_CASE("range coder: round trip and size close to the information content (known distributions)") {
  for (const auto& f : std::vector<std::vector<uint32_t>>{{1, 1},
                                                          {3, 1},
                                                          {1, 2, 3, 4, 5, 6, 7, 8},
                                                          {60000, 5000, 536},
                                                          std::vector<uint32_t>(256, 256)}) {
    const Table t(f);
    const auto syms = draw(t, 20000, 7);
    const auto bytes = encode_all(syms, {t});
    size_t overrun = 99;
    CHECK(decode_all(bytes, syms.size(), {t}, &overrun) == syms);
    CHECK(overrun == 0);
    const double bits = info_bits(syms, t);
    CHECK(bytes.size() * 8.0 >= bits);                       // no coder beats the information content
    CHECK(bytes.size() * 8.0 <= bits * 1.001 + 8 * 6);       // within 0.1% plus the flush bytes
  }
}

TEST_CASE("range coder: uniform 256-way costs 8 bits a symbol") {
  const Table t(std::vector<uint32_t>(256, 1));
  std::vector<size_t> syms(4096);
  for (size_t i = 0; i < syms.size(); ++i) syms[i] = (i * 131 + 7) % 256;
  const auto bytes = encode_all(syms, {t});
  CHECK(bytes.size() >= 4096);
  CHECK(bytes.size() <= 4096 + 6);
  CHECK(decode_all(bytes, syms.size(), {t}) == syms);
}

TEST_CASE("range coder: carries propagate through runs of 0xFF bytes") {
  // Symbols at the very top of the range push low towards 2^32 and produce runs of 0xFF bytes; a later
  // symbol whose cum is large then carries into them. Mixed tables make both happen many times.
  const Table top({1, 65535});       // the likely symbol sits at the top of the interval
  const Table low({65535, 1});
  const Table mid({32768, 32768});
  std::vector<size_t> syms;
  std::vector<Table> tabs = {top, top, top, mid, low, top, mid};
  std::mt19937 g(3);
  for (int i = 0; i < 70000; ++i) syms.push_back(i % 7 == 3 || i % 7 == 6 ? g() % 2 : (i % 7 == 4 ? 0 : 1));
  RangeEncoder enc;
  for (size_t i = 0; i < syms.size(); ++i) {
    const Table& t = tabs[i % tabs.size()];
    enc.encode(t.cum[syms[i]], t.freq[syms[i]], t.total);
  }
  CHECK(enc.carries() > 0);  // the stream really exercised the carry ...
  CHECK(enc.carries_through_ff() > 0);  // ... and carries through pending 0xFF bytes
  const auto bytes = enc.finish();
  CHECK(decode_all(bytes, syms.size(), tabs) == syms);
  // A targeted case: many top symbols (low climbs to 0xFFFF...), then the top slot of a uniform table.
  std::vector<size_t> s2(5000, 1);
  s2.push_back(255);
  std::vector<Table> t2(5000, top);
  t2.push_back(Table(std::vector<uint32_t>(256, 256)));
  RangeEncoder e2;
  for (size_t i = 0; i < s2.size(); ++i) e2.encode(t2[i].cum[s2[i]], t2[i].freq[s2[i]], t2[i].total);
  const auto b2 = e2.finish();
  RangeDecoder d2(b2.data(), b2.size());
  for (size_t i = 0; i < s2.size(); ++i) REQUIRE(d2.decode(t2[i].freq, t2[i].total) == s2[i]);
  CHECK(d2.overrun() == 0);
}

TEST_CASE("range coder: extreme probabilities (frequency 1 of 65536) both ways") {
  const Table t({1, 65535});
  std::vector<size_t> syms(3000, 1);
  for (size_t i = 0; i < syms.size(); i += 97) syms[i] = 0;  // the near-impossible symbol, 31 times
  const auto bytes = encode_all(syms, {t});
  CHECK(decode_all(bytes, syms.size(), {t}) == syms);
  const double bits = info_bits(syms, t);  // ~ 31 * 16 bits
  CHECK(bytes.size() * 8.0 <= bits * 1.01 + 48);
  // All near-impossible symbols in a row: 16 bits each.
  std::vector<size_t> rare(500, 0);
  const auto b2 = encode_all(rare, {t});
  CHECK(b2.size() >= 1000);
  CHECK(b2.size() <= 1006);
  CHECK(decode_all(b2, rare.size(), {t}) == rare);
}

TEST_CASE("range coder: bad symbols are refused") {
  RangeEncoder enc;
  CHECK_THROWS_AS(enc.encode(0, 0, 10), std::invalid_argument);
  CHECK_THROWS_AS(enc.encode(8, 3, 10), std::invalid_argument);
  CHECK_THROWS_AS(enc.encode(0, 1, 70000), std::invalid_argument);
}

TEST_CASE("range coder: truncated and corrupt streams decode inside the buffer") {
  const Table t({1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  const auto syms = draw(t, 5000, 11);
  const auto bytes = encode_all(syms, {t});
  // Truncated: the decoder reads zeros past the end and reports it.
  const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + bytes.size() / 2);
  size_t overrun = 0;
  const auto got = decode_all(cut, syms.size(), {t}, &overrun);
  CHECK(overrun > 0);
  CHECK(got != syms);
  // Empty input and random garbage: every decoded symbol is a valid index.
  for (const auto& junk : std::vector<std::vector<uint8_t>>{{}, {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
                                                            std::vector<uint8_t>(100, 0xAB)}) {
    const auto d = decode_all(junk, 1000, {t});
    for (size_t s : d) CHECK(s < t.freq.size());
  }
  // One flipped byte in the middle changes the decoded sequence.
  auto bad = bytes;
  bad[bad.size() / 2] ^= 0x5A;
  CHECK(decode_all(bad, syms.size(), {t}) != syms);
}

TEST_CASE("quantize_probs: exact total, floor of one, deterministic") {
  const std::vector<double> p = {0.5, 0.25, 0.125, 0.125, 0.0};
  const auto f = quantize_probs(p, 1024);
  uint32_t s = 0;
  for (uint32_t v : f) {
    CHECK(v >= 1);
    s += v;
  }
  CHECK(s == 1024);
  CHECK(f[4] == 1);                 // probability 0 still gets the floor
  CHECK(f[0] > f[1]);
  CHECK(f[1] > f[2]);
  CHECK(f == quantize_probs(p, 1024));
  // Largest remainders: every frequency within (x, x + 2] of its exact share x = p (total - K); a flat
  // distribution over 256 values is not skewed towards one of them.
  std::vector<double> flat(256);
  for (size_t k = 0; k < flat.size(); ++k) flat[k] = 1.0 + 0.001 * double(k % 7);
  double fs = 0;
  for (double v : flat) fs += v;
  const auto ff = quantize_probs(flat, 65536);
  uint32_t fsum = 0;
  for (size_t k = 0; k < ff.size(); ++k) {
    const double x = flat[k] / fs * (65536 - 256);
    CHECK(ff[k] > x);
    CHECK(ff[k] <= x + 2);
    fsum += ff[k];
  }
  CHECK(fsum == 65536);
  // Extreme: one symbol certain out of 256.
  std::vector<double> q(256, 0.0);
  q[17] = 1.0;
  const auto g = quantize_probs(q, 65536);
  CHECK(g[17] == 65536 - 255);
  CHECK(g[0] == 1);
  // Bernoulli with p = 1 - 1e-12: the unlikely side keeps frequency 1.
  const auto b = quantize_probs({1e-12, 1.0 - 1e-12}, 65536);
  CHECK(b[0] == 1);
  CHECK(b[1] == 65535);
  // Unnormalised, NaN and negative entries.
  const auto u = quantize_probs({2.0, std::nan(""), -1.0, 2.0}, 100);
  CHECK(u[1] == 1);
  CHECK(u[2] == 1);
  CHECK(u[0] + u[1] + u[2] + u[3] == 100);
  CHECK(u[0] >= 48);
  CHECK_THROWS_AS(quantize_probs({}, 100), std::invalid_argument);
  CHECK_THROWS_AS(quantize_probs(std::vector<double>(300, 1.0), 256), std::invalid_argument);
  CHECK_THROWS_AS(quantize_probs({1.0}, 70000), std::invalid_argument);
}
