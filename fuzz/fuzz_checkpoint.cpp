// fuzz/fuzz_checkpoint.cpp: libFuzzer target for the safetensors reader (framework/io/safetensors.h).
// Any input either parses or throws CheckpointError; anything else (a crash, a sanitizer report, another
// exception) is a bug. A file that parses must survive a round trip: encoding its tensors and metadata again
// and parsing the result gives the same names, shapes, dtypes, bytes and metadata.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "framework/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fw::io::SafetensorsFile f;
  try {
    f = fw::io::parse_safetensors(data, size, "fuzz");
  } catch (const fw::io::CheckpointError&) {
    return 0;
  }
  // Valid input: the writer must accept what the reader produced, and the reader must read it back.
  const std::vector<uint8_t> again = fw::io::encode_safetensors(f.tensors, f.metadata, "fuzz-reencoded");
  const fw::io::SafetensorsFile g = fw::io::parse_safetensors(again.data(), again.size(), "fuzz-reencoded");
  if (g.metadata != f.metadata || g.tensors.size() != f.tensors.size()) __builtin_trap();
  size_t total = 0;
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    const fw::Tensor& a = f.tensors[i].second;
    const fw::Tensor& b = g.tensors[i].second;
    if (g.tensors[i].first != f.tensors[i].first || a.dtype() != b.dtype() || a.shape() != b.shape()) __builtin_trap();
    const size_t bytes = static_cast<size_t>(a.numel()) * fw::dtype_size(a.dtype());
    if (bytes > 0 && std::memcmp(a.raw_data(), b.raw_data(), bytes) != 0) __builtin_trap();
    total += bytes;
  }
  if (total > size) __builtin_trap();  // the tensors' bytes all come from the input
  return 0;
}
