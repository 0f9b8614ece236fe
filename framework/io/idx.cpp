// framework/io/idx.cpp: IDX reader/writer.
#include "framework/io/idx.h"

#include <cstdio>

#include "framework/io/gzip.h"

namespace fw::io {
namespace {

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(uint8_t(v >> 24));
  out.push_back(uint8_t(v >> 16));
  out.push_back(uint8_t(v >> 8));
  out.push_back(uint8_t(v));
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// A parsed header plus the payload (which may be decompressed).
struct Body {
  std::vector<uint8_t> owned;  // decompressed file when gzipped
  const uint8_t* payload = nullptr;
  uint64_t payload_size = 0;
  std::vector<uint32_t> dims;
};

// Reads the header of an IDX file with the given magic and `ndims` dimensions,
// checks each dimension against `caps`, and makes sure exactly
// product(dims) payload bytes follow.
Body parse_body(const uint8_t* data, size_t size, const std::string& name, uint32_t magic,
                const std::vector<uint64_t>& caps, const char* what) {
  const size_t header = 4 + 4 * caps.size();
  const bool gz = is_gzip(data, size);
  Body b;
  std::vector<uint8_t> head;
  const uint8_t* hp = data;
  size_t hsize = size;
  if (gz) {
    head = gunzip(data, size, header, name, /*stop_at_max=*/true);
    hp = head.data();
    hsize = head.size();
  }
  if (hsize < 4)
    throw DataError(name + ": truncated IDX " + what + " file (" + std::to_string(hsize) +
                    " bytes, header needs " + std::to_string(header) + ")");
  const uint32_t m = be32(hp);
  if (m != magic) {
    std::string msg = name + ": bad magic number " + hex32(m) + " (expected " + hex32(magic) +
                      " for IDX " + what + ")";
    if (m == kIdxLabelsMagic) msg += "; this is an IDX label file";
    if (m == kIdxImagesMagic) msg += "; this is an IDX image file";
    throw DataError(msg);
  }
  if (hsize < header)
    throw DataError(name + ": truncated IDX " + what + " file (header needs " +
                    std::to_string(header) + " bytes, file has " + std::to_string(hsize) + ")");
  uint64_t total = 1;
  static const char* kDimNames[] = {"count", "rows", "cols"};
  for (size_t i = 0; i < caps.size(); ++i) {
    const uint32_t d = be32(hp + 4 + 4 * i);
    const std::string dn = i < 3 ? kDimNames[i] : "dim";
    if (d == 0)
      throw DataError(name + ": empty dataset (IDX " + what + " header has " + dn + " = 0)");
    if (d > caps[i])
      throw DataError(name + ": IDX " + what + " dimension " + dn + " = " + std::to_string(d) +
                      " exceeds the cap of " + std::to_string(caps[i]));
    // caps keep the product far below 2^64; check anyway.
    if (__builtin_mul_overflow(total, uint64_t(d), &total))
      throw DataError(name + ": IDX " + what + " dimensions overflow");
    b.dims.push_back(d);
  }
  if (total > kMaxPixelBytes)
    throw DataError(name + ": IDX " + what + " data size " + std::to_string(total) +
                    " bytes exceeds the cap of " + std::to_string(kMaxPixelBytes));
  b.payload_size = total;
  if (gz) {
    // At most header + total + 1 bytes are produced: the +1 detects trailing data.
    b.owned = gunzip(data, size, header + total + 1, name, /*stop_at_max=*/true);
    data = b.owned.data();
    size = b.owned.size();
  }
  const uint64_t have = size - header;
  if (have < total)
    throw DataError(name + ": truncated IDX " + what + " file (header declares " +
                    std::to_string(total) + " data bytes, only " + std::to_string(have) +
                    " present)");
  if (have > total)
    throw DataError(name + ": " + (gz && have == total + 1 ? std::string("at least 1")
                                                           : std::to_string(have - total)) +
                    " trailing bytes after the IDX " + what + " data");
  b.payload = data + header;
  return b;
}

}  // namespace

Dataset parse_idx_images(const uint8_t* data, size_t size, const std::string& name) {
  Body b = parse_body(data, size, name, kIdxImagesMagic,
                      {uint64_t(kMaxImages), uint64_t(kMaxSide), uint64_t(kMaxSide)}, "images");
  Dataset d;
  d.n = b.dims[0];
  d.c = 1;
  d.h = b.dims[1];
  d.w = b.dims[2];
  d.pixels.assign(b.payload, b.payload + b.payload_size);
  d.source = name;
  return d;
}

std::vector<int32_t> parse_idx_labels(const uint8_t* data, size_t size, const std::string& name) {
  Body b = parse_body(data, size, name, kIdxLabelsMagic, {uint64_t(kMaxImages)}, "labels");
  return std::vector<int32_t>(b.payload, b.payload + b.payload_size);
}

Dataset read_idx_images(const std::string& path) {
  const auto bytes = read_file_bytes(path);
  return parse_idx_images(bytes.data(), bytes.size(), path);
}

std::vector<int32_t> read_idx_labels(const std::string& path) {
  const auto bytes = read_file_bytes(path);
  return parse_idx_labels(bytes.data(), bytes.size(), path);
}

Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path,
                      int32_t max_label) {
  Dataset d = read_idx_images(images_path);
  std::vector<int32_t> labels = read_idx_labels(labels_path);
  if (int64_t(labels.size()) != d.n)
    throw DataError(images_path + " has " + std::to_string(d.n) + " images but " + labels_path +
                    " has " + std::to_string(labels.size()) + " labels (count mismatch)");
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] > max_label)
      throw DataError(labels_path + ": label " + std::to_string(labels[i]) + " at index " +
                      std::to_string(i) + " is out of range 0.." + std::to_string(max_label));
  d.labels = std::move(labels);
  return d;
}

void write_idx_images(const std::string& path, const uint8_t* pixels, int64_t n, int64_t h,
                      int64_t w, bool gzip) {
  if (n <= 0 || h <= 0 || w <= 0 || n > kMaxImages || h > kMaxSide || w > kMaxSide)
    throw DataError(path + ": cannot write IDX images with shape (" + std::to_string(n) + ", " +
                    std::to_string(h) + ", " + std::to_string(w) + ")");
  std::vector<uint8_t> out;
  const size_t total = size_t(n * h * w);
  out.reserve(16 + total);
  put_be32(out, kIdxImagesMagic);
  put_be32(out, uint32_t(n));
  put_be32(out, uint32_t(h));
  put_be32(out, uint32_t(w));
  out.insert(out.end(), pixels, pixels + total);
  if (gzip) out = gzip_compress(out.data(), out.size(), path);
  write_file_bytes(path, out.data(), out.size());
}

void write_idx_labels(const std::string& path, const std::vector<int32_t>& labels, bool gzip) {
  if (labels.empty() || int64_t(labels.size()) > kMaxImages)
    throw DataError(path + ": cannot write " + std::to_string(labels.size()) + " IDX labels");
  std::vector<uint8_t> out;
  put_be32(out, kIdxLabelsMagic);
  put_be32(out, uint32_t(labels.size()));
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] > 255)
      throw DataError(path + ": label " + std::to_string(labels[i]) + " at index " +
                      std::to_string(i) + " does not fit in a byte");
    out.push_back(uint8_t(labels[i]));
  }
  if (gzip) out = gzip_compress(out.data(), out.size(), path);
  write_file_bytes(path, out.data(), out.size());
}

}  // namespace fw::io
