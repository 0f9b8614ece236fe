// tools/pixelrnn/compressed_file.h: the file written by `pixelrnn compress` (docs/tool.md, "compress"): a fixed
// header, then the range-coded payload (models/lossless.h). All integers little-endian.
//
//   offset size  field
//    0      8    magic "PXRNNZ\r\n" (50 58 52 4E 4E 5A 0D 0A)
//    8      4    version (1)
//   12      4    height        (1 .. 4096)
//   16      4    width         (1 .. 4096)
//   20      4    channels      (1 or 3)
//   24      4    levels        (2 or 256)
//   28      4    chunk         images per generator call (1 .. min(count, 4096)); the decoder uses the same
//   32      8    count         images (1 .. 2^20; count x channels x height x width <= 2^32)
//   40      8    weights hash  FNV-1a 64 of the checkpoint's model (weights_hash)
//   48      8    checksum      FNV-1a 64 of the decoded images' bytes (N, C, H, W), levels 2 as 0/1
//   56      8    payload size  bytes after the header; must be exactly what follows
//   64      8    header hash   FNV-1a 64 of bytes 0 .. 63
//   72      -    payload
// parse_compressed never reads outside its input and throws CompressedFileError naming the file and the
// problem; it is the target of fuzz/fuzz_compressed.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace pixelrnn::tool {

class CompressedFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr uint32_t kCompressedVersion = 1;
constexpr size_t kCompressedHeaderSize = 72;
constexpr int64_t kMaxChunk = 4096;

struct CompressedHeader {
  uint32_t version = kCompressedVersion;
  int64_t height = 0, width = 0, channels = 0, levels = 0, chunk = 0, count = 0;
  uint64_t weights_hash = 0, checksum = 0, payload_size = 0;
};

// FNV-1a 64 over bytes, continuing from h.
uint64_t fnv1a64(const uint8_t* data, size_t size, uint64_t h = 0xcbf29ce484222325ull);
// "0x" and 16 hex digits.
std::string hash_hex(uint64_t h);

// The header bytes followed by the payload.
std::vector<uint8_t> serialize_compressed(const CompressedHeader& h, const std::vector<uint8_t>& payload);

// Checks and reads the header of the bytes of a compressed file; *payload / *payload_size point into `data`.
// throws CompressedFileError "<name>: ..." for a short file, wrong magic, unknown version, a header hash
// mismatch (corrupt header), out-of-range fields, or a payload size that differs from the bytes present
// (truncated / trailing data).
CompressedHeader parse_compressed(const uint8_t* data, size_t size, const std::string& name,
                                  const uint8_t** payload);

}  // namespace pixelrnn::tool
