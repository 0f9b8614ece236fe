// framework/io/gzip.cpp: gzip via zlib (inflate/deflate with a gzip wrapper).
#include "framework/io/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <limits>

#include "framework/io/dataset.h"

namespace fw::io {

bool is_gzip(const uint8_t* data, size_t size) {
  return size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

namespace {
struct Inflater {
  z_stream s{};
  bool live = false;
  ~Inflater() {
    if (live) inflateEnd(&s);
  }
};
}  // namespace

std::vector<uint8_t> gunzip(const uint8_t* data, size_t size, uint64_t max_out,
                            const std::string& name, bool stop_at_max) {
  Inflater inf;
  // 16 + MAX_WBITS: expect a gzip wrapper (not raw deflate, not zlib).
  if (inflateInit2(&inf.s, 16 + MAX_WBITS) != Z_OK)
    throw DataError(name + ": cannot initialise zlib inflate");
  inf.live = true;
  std::vector<uint8_t> out;
  const uint64_t kChunk = 1 << 16;
  // One byte past the cap is requested so that exceeding it is detected.
  const uint64_t limit = stop_at_max ? max_out : max_out + 1;
  size_t in_pos = 0;
  for (;;) {
    if (out.size() >= limit) {
      if (stop_at_max) return out;
      throw DataError(name + ": decompressed data exceeds the cap of " +
                      std::to_string(max_out) + " bytes");
    }
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(kChunk, limit - out.size()));
    const size_t old = out.size();
    out.resize(old + chunk);
    const size_t in_left = size - in_pos;
    const uInt feed = static_cast<uInt>(std::min<size_t>(in_left, 1u << 30));
    inf.s.next_in = const_cast<Bytef*>(data + in_pos);
    inf.s.avail_in = feed;
    inf.s.next_out = out.data() + old;
    inf.s.avail_out = static_cast<uInt>(chunk);
    const int rc = inflate(&inf.s, Z_NO_FLUSH);
    in_pos += feed - inf.s.avail_in;
    out.resize(old + (chunk - inf.s.avail_out));
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      std::string why = inf.s.msg ? inf.s.msg : ("zlib error " + std::to_string(rc));
      throw DataError(name + ": corrupt gzip data (" + why + ")");
    }
    if (inf.s.avail_out != 0 && in_pos >= size)
      throw DataError(name + ": corrupt gzip data (truncated stream)");
  }
  if (out.size() > max_out) {
    if (stop_at_max) {
      out.resize(static_cast<size_t>(max_out));
      return out;
    }
    throw DataError(name + ": decompressed data exceeds the cap of " +
                    std::to_string(max_out) + " bytes");
  }
  if (in_pos != size)
    throw DataError(name + ": corrupt gzip data (" + std::to_string(size - in_pos) +
                    " trailing bytes after the gzip stream)");
  return out;
}

std::vector<uint8_t> gzip_compress(const uint8_t* data, size_t size, const std::string& name) {
  z_stream s{};
  if (deflateInit2(&s, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw DataError(name + ": cannot initialise zlib deflate");
  std::vector<uint8_t> out;
  size_t in_pos = 0;
  int rc = Z_OK;
  do {
    const size_t in_left = size - in_pos;
    const uInt feed = static_cast<uInt>(std::min<size_t>(in_left, 1u << 30));
    s.next_in = const_cast<Bytef*>(data + in_pos);
    s.avail_in = feed;
    const int flush = (in_pos + feed == size) ? Z_FINISH : Z_NO_FLUSH;
    do {
      const size_t old = out.size();
      out.resize(old + (1 << 16));
      s.next_out = out.data() + old;
      s.avail_out = 1 << 16;
      rc = deflate(&s, flush);
      out.resize(old + ((1 << 16) - s.avail_out));
      if (rc == Z_STREAM_ERROR) {
        deflateEnd(&s);
        throw DataError(name + ": zlib deflate failed");
      }
    } while (s.avail_out == 0);
    in_pos += feed - s.avail_in;
  } while (rc != Z_STREAM_END);
  deflateEnd(&s);
  return out;
}

}  // namespace fw::io
