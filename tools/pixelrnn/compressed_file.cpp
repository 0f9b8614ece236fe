// tools/pixelrnn/compressed_file.cpp: the header of `pixelrnn compress` files (compressed_file.h). Standalone
// (standard library only) so the fuzz target builds it on its own.
#include "tools/pixelrnn/compressed_file.h"

#include <cstdio>
#include <algorithm>
#include <cstring>

namespace pixelrnn::tool {
namespace {

constexpr uint8_t kMagic[8] = {'P', 'X', 'R', 'N', 'N', 'Z', '\r', '\n'};

void put(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t get(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

uint64_t fnv1a64(const uint8_t* data, size_t size, uint64_t h) {
  for (size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string hash_hex(uint64_t h) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::vector<uint8_t> serialize_compressed(const CompressedHeader& h, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out(kMagic, kMagic + 8);
  put(out, h.version, 4);
  put(out, static_cast<uint64_t>(h.height), 4);
  put(out, static_cast<uint64_t>(h.width), 4);
  put(out, static_cast<uint64_t>(h.channels), 4);
  put(out, static_cast<uint64_t>(h.levels), 4);
  put(out, static_cast<uint64_t>(h.chunk), 4);
  put(out, static_cast<uint64_t>(h.count), 8);
  put(out, h.weights_hash, 8);
  put(out, h.checksum, 8);
  put(out, payload.size(), 8);
  put(out, fnv1a64(out.data(), out.size()), 8);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

CompressedHeader parse_compressed(const uint8_t* data, size_t size, const std::string& name,
                                  const uint8_t** payload) {
  auto fail = [&](const std::string& what) { throw CompressedFileError(name + ": " + what); };
  if (size < 8 || std::memcmp(data, kMagic, 8) != 0)
    fail(size < 8 ? "truncated: " + std::to_string(size) + " bytes, not even the magic number"
                  : "not a pixelrnn compressed file (bad magic number)");
  if (size < kCompressedHeaderSize)
    fail("truncated: " + std::to_string(size) + " bytes, the header alone is " +
         std::to_string(kCompressedHeaderSize));
  CompressedHeader h;
  h.version = static_cast<uint32_t>(get(data + 8, 4));
  if (h.version != kCompressedVersion)
    fail("format version " + std::to_string(h.version) + " is not supported (this program reads version " +
         std::to_string(kCompressedVersion) + ")");
  if (get(data + 64, 8) != fnv1a64(data, 64)) fail("corrupt header (its hash does not match)");
  h.height = static_cast<int64_t>(get(data + 12, 4));
  h.width = static_cast<int64_t>(get(data + 16, 4));
  h.channels = static_cast<int64_t>(get(data + 20, 4));
  h.levels = static_cast<int64_t>(get(data + 24, 4));
  h.chunk = static_cast<int64_t>(get(data + 28, 4));
  const uint64_t count = get(data + 32, 8);
  h.weights_hash = get(data + 40, 8);
  h.checksum = get(data + 48, 8);
  h.payload_size = get(data + 56, 8);
  if (h.height < 1 || h.height > 4096 || h.width < 1 || h.width > 4096)
    fail("image size " + std::to_string(h.height) + "x" + std::to_string(h.width) + " out of range (1..4096)");
  if (h.channels != 1 && h.channels != 3) fail("channels " + std::to_string(h.channels) + " (must be 1 or 3)");
  if (h.levels != 2 && h.levels != 256) fail("levels " + std::to_string(h.levels) + " (must be 2 or 256)");
  if (count < 1 || count > (uint64_t(1) << 20)) fail("image count " + std::to_string(count) + " out of range");
  h.count = static_cast<int64_t>(count);
  if (h.chunk < 1 || h.chunk > h.count || h.chunk > kMaxChunk)
    fail("chunk " + std::to_string(h.chunk) + " out of range (1.." + std::to_string(std::min(h.count, kMaxChunk)) +
         ")");
  if (static_cast<uint64_t>(h.count * h.channels) * static_cast<uint64_t>(h.height * h.width) > (uint64_t(1) << 32))
    fail("too many pixel values (" + std::to_string(h.count) + " images of " + std::to_string(h.channels) + "x" +
         std::to_string(h.height) + "x" + std::to_string(h.width) + "; at most 2^32)");
  const uint64_t have = size - kCompressedHeaderSize;
  if (h.payload_size > have)
    fail("truncated: the payload is " + std::to_string(h.payload_size) + " bytes, only " + std::to_string(have) +
         " present");
  if (h.payload_size < have)
    fail(std::to_string(have - h.payload_size) + " unexpected bytes after the payload");
  if (payload) *payload = data + kCompressedHeaderSize;
  return h;
}

}  // namespace pixelrnn::tool
