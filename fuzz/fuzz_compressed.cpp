// fuzz/fuzz_compressed.cpp: libFuzzer target for the decoder side of `pixelrnn decompress` without a model: the
// file parser (tools/pixelrnn/compressed_file.h) and the range decoder (framework/io/range_coder.h) run over the
// payload with fixed binary and 256-way frequency tables. Must never crash, read out of bounds or hit UB; bad
// input must throw CompressedFileError.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "framework/io/range_coder.h"
#include "tools/pixelrnn/compressed_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pixelrnn::tool;
  const uint8_t* payload = nullptr;
  CompressedHeader h;
  try {
    h = parse_compressed(data, size, "fuzz", &payload);
  } catch (const CompressedFileError&) {
    return 0;
  }
  if (payload == nullptr || payload < data || payload + h.payload_size > data + size) __builtin_trap();
  static const std::vector<uint32_t> bin = fw::io::quantize_probs({0.9, 0.1}, 1u << 16);
  static const std::vector<uint32_t> byte = [] {
    std::vector<double> p(256);
    for (size_t k = 0; k < p.size(); ++k) p[k] = 1.0 / double(1 + k);
    return fw::io::quantize_probs(p, 1u << 16);
  }();
  fw::io::RangeDecoder dec(payload, static_cast<size_t>(h.payload_size));
  const int64_t elements = h.count * h.channels * h.height * h.width;
  const int64_t n = elements < 4096 ? elements : 4096;
  for (int64_t i = 0; i < n; ++i) {
    const size_t s = dec.decode(h.levels == 2 ? bin : byte, 1u << 16);
    if (s >= (h.levels == 2 ? 2u : 256u)) __builtin_trap();
  }
  return 0;
}
