// framework/io/gzip.h: gzip detection, capped decompression and compression via zlib.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fw::io {

// ensures: true when the buffer starts with the gzip magic bytes 1f 8b.
bool is_gzip(const uint8_t* data, size_t size);

// Decompresses one gzip member.
// requires: `name` identifies the source in error messages.
// ensures: the decompressed bytes. When stop_at_max is true, decompression stops
//   after max_out bytes and returns those (used to peek at headers). The output
//   buffer grows with the data actually produced, never by a declared size.
// throws: DataError "<name>: corrupt gzip data (...)" on a zlib error, a truncated
//   stream, or bytes after the end of the gzip stream; "<name>: decompressed data
//   exceeds the cap of N bytes" when more than max_out bytes come out and
//   stop_at_max is false.
std::vector<uint8_t> gunzip(const uint8_t* data, size_t size, uint64_t max_out,
                            const std::string& name, bool stop_at_max = false);

// ensures: `data` compressed as a single gzip member (level 6, no timestamp).
// throws: DataError naming `name` if zlib fails.
std::vector<uint8_t> gzip_compress(const uint8_t* data, size_t size,
                                   const std::string& name = "<memory>");

}  // namespace fw::io
