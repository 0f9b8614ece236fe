// framework/io/safetensors.h: checkpoints in the safetensors format (Hugging Face), F32 and F64 tensors.
//
// Layout (all integers little-endian):
//   bytes [0, 8)        u64 N, the length of the JSON header
//   bytes [8, 8+N)      the header, UTF-8 JSON, possibly padded with trailing spaces
//   bytes [8+N, end)    the byte buffer: every tensor's elements, row-major, back to back
// Header: {"__metadata__": {"key": "value", ...},
//          "<tensor name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
// with offsets relative to the buffer start. See docs/checkpoints.md for the conventions this project uses
// (metadata keys, optimizer-state names) and for the full list of checks the reader applies.
//
// The reader treats a file as untrusted input: it validates every size, offset and type before it allocates
// anything from them, and reports each problem as CheckpointError naming the file and the problem.
// fuzz/fuzz_checkpoint.cpp feeds parse_safetensors random bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "framework/io/atomic_file.h"
#include "framework/nn/module.h"

namespace fw::io {

// A checkpoint file that is malformed, or tensors that cannot be saved. what() starts with the file name
// (or the name given to parse_safetensors), e.g. "ckpt.safetensors: tensor 'w': data_offsets [0, 12] span 12
// bytes but shape [2, 3] of F32 needs 24". Derives from IoError, so `catch (const IoError&)` sees both.
class CheckpointError : public IoError {
 public:
  using IoError::IoError;
};

// The most header bytes a reader accepts (the same cap as the reference implementation).
constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

struct SafetensorsFile {
  nn::NamedTensors tensors;                     // in the order of their data in the buffer
  std::map<std::string, std::string> metadata;  // the "__metadata__" object (empty when absent)
};

// The complete file bytes (header padded with spaces to a multiple of 8 so the buffer is 8-byte aligned,
// "__metadata__" first, then the tensors in the given order, their data contiguous in that order).
// requires: names non-empty, unique, valid UTF-8 and not "__metadata__"; tensors defined, on the CPU, F32
//   or F64 (non-contiguous views are copied); metadata keys and values valid UTF-8.
// throws: CheckpointError naming name_for_errors and the offending tensor or key.
std::vector<uint8_t> encode_safetensors(const nn::NamedTensors& tensors,
                                        const std::map<std::string, std::string>& metadata,
                                        const std::string& name_for_errors = "<memory>");

// Writes encode_safetensors(...) to path atomically (framework/io/atomic_file.h).
// throws: CheckpointError as above (nothing is written); IoError naming path on a file-system failure
//   (an existing file at path is then left untouched).
void save_safetensors(const std::string& path, const nn::NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Parses and validates n bytes of a safetensors file.
// ensures: fresh contiguous CPU tensors (not requiring grad) bitwise equal to the stored data, ordered by
//   their data offset (ties between zero-size tensors in header order); the metadata.
// throws: CheckpointError "<name_for_errors>: <problem>" on any violation listed in docs/checkpoints.md:
//   short file, bad header size, invalid JSON or UTF-8, duplicate keys, a header that is not an object,
//   malformed or unknown tensor fields, unsupported dtype, bad shape, bad or non-contiguous offsets,
//   trailing bytes, malformed metadata.
SafetensorsFile parse_safetensors(const uint8_t* data, size_t n, const std::string& name_for_errors);

// Reads the file at path and parses it.
// throws: IoError naming path when it cannot be read; CheckpointError as parse_safetensors.
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace fw::io
