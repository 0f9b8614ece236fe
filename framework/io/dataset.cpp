// framework/io/dataset.cpp: Dataset helpers, file I/O, and load_dataset.
#include "framework/io/dataset.h"

#include <cstdio>
#include <filesystem>
#include <memory>

#include "framework/io/cifar.h"
#include "framework/io/gzip.h"
#include "framework/io/idx.h"

namespace fw::io {
namespace fsys = std::filesystem;

double Dataset::mean_intensity() const {
  if (pixels.empty()) return 0.0;
  uint64_t s = 0;
  for (uint8_t v : pixels) s += v;
  return double(s) / double(pixels.size()) / 255.0;
}

void Dataset::validate() const {
  if (n <= 0) throw DataError(source + ": empty dataset (0 images)");
  if (c <= 0 || h <= 0 || w <= 0 || uint64_t(pixels.size()) != uint64_t(n * c * h * w))
    throw DataError(source + ": inconsistent dataset: " + std::to_string(pixels.size()) +
                    " pixel bytes for shape (" + std::to_string(n) + ", " + std::to_string(c) +
                    ", " + std::to_string(h) + ", " + std::to_string(w) + ")");
  if (!labels.empty() && int64_t(labels.size()) != n)
    throw DataError(source + ": " + std::to_string(labels.size()) + " labels for " +
                    std::to_string(n) + " images");
}

Dataset Dataset::slice(int64_t begin, int64_t end) const {
  if (begin < 0 || end < begin || end > n)
    throw DataError(source + ": bad slice [" + std::to_string(begin) + ", " + std::to_string(end) +
                    ") of " + std::to_string(n) + " images");
  Dataset d;
  d.n = end - begin;
  d.c = c;
  d.h = h;
  d.w = w;
  d.source = source;
  d.pixels.assign(pixels.begin() + begin * image_size(), pixels.begin() + end * image_size());
  if (!labels.empty()) d.labels.assign(labels.begin() + begin, labels.begin() + end);
  return d;
}

std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes) {
  std::error_code ec;
  if (fsys::is_directory(path, ec)) throw DataError(path + ": is a folder, expected a file");
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) throw DataError(path + ": cannot open file for reading");
  if (std::fseek(f.get(), 0, SEEK_END) != 0) throw DataError(path + ": cannot seek");
  const long len = std::ftell(f.get());
  if (len < 0) throw DataError(path + ": cannot determine file size");
  if (uint64_t(len) > max_bytes)
    throw DataError(path + ": file of " + std::to_string(len) + " bytes exceeds the cap of " +
                    std::to_string(max_bytes) + " bytes");
  std::fseek(f.get(), 0, SEEK_SET);
  std::vector<uint8_t> out(static_cast<size_t>(len));
  if (len > 0 && std::fread(out.data(), 1, out.size(), f.get()) != out.size())
    throw DataError(path + ": read error");
  return out;
}

void write_file_bytes(const std::string& path, const uint8_t* data, size_t size) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), std::fclose);
  if (!f) throw DataError(path + ": cannot open file for writing");
  if (size > 0 && std::fwrite(data, 1, size, f.get()) != size)
    throw DataError(path + ": write error");
  if (std::fclose(f.release()) != 0) throw DataError(path + ": write error on close");
}

namespace {

// ensures: the first existing of base and base + ".gz", or "" when neither exists.
std::string with_gz(const fsys::path& base) {
  std::error_code ec;
  if (fsys::is_regular_file(base, ec)) return base.string();
  fsys::path gz = base;
  gz += ".gz";
  if (fsys::is_regular_file(gz, ec)) return gz.string();
  return "";
}

Dataset load_idx_images_with_labels(const std::string& images, const std::string& labels) {
  if (labels.empty()) return read_idx_images(images);
  return load_idx_pair(images, labels);
}

// Peeks at a file's first 4 (decompressed) bytes.
uint32_t peek_magic(const std::string& path) {
  std::vector<uint8_t> b = read_file_bytes(path, uint64_t(1) << 33);
  if (is_gzip(b.data(), b.size())) b = gunzip(b.data(), b.size(), 4, path, true);
  if (b.size() < 4) return 0xffffffffu;
  return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
}

Dataset load_single_file(const std::string& path) {
  const uint32_t magic = peek_magic(path);
  if (magic == kIdxLabelsMagic)
    throw DataError(path + ": is an IDX label file; pass the matching images file");
  if (magic == kIdxImagesMagic) {
    const fsys::path p(path);
    std::string fname = p.filename().string();
    std::string labels;
    const auto k = fname.find("images-idx3");
    if (k != std::string::npos) {
      std::string lname = fname.substr(0, k) + "labels-idx1" + fname.substr(k + 11);
      if (lname.size() > 3 && lname.compare(lname.size() - 3, 3, ".gz") == 0)
        lname.resize(lname.size() - 3);
      labels = with_gz(p.parent_path() / lname);
    }
    return load_idx_images_with_labels(path, labels);
  }
  return read_cifar_batch(path);
}

}  // namespace

Dataset load_dataset(const std::string& path_in, const std::string& split) {
  if (split != "train" && split != "test")
    throw DataError(path_in + ": unknown split '" + split + "' (use train or test)");
  const std::string& path = path_in;
  std::error_code ec;
  if (!fsys::exists(path, ec)) throw DataError(path + ": no such file or folder");
  Dataset d;
  if (!fsys::is_directory(path, ec)) {
    d = load_single_file(path);
  } else {
    const fsys::path dir(path);
    const std::string prefix = split == "train" ? "train" : "t10k";
    const std::string images = with_gz(dir / (prefix + "-images-idx3-ubyte"));
    if (!images.empty()) {
      d = load_idx_images_with_labels(images, with_gz(dir / (prefix + "-labels-idx1-ubyte")));
      d.source = images;
    } else {
      fsys::path cdir = dir;
      if (fsys::is_directory(dir / "cifar-10-batches-bin", ec)) cdir = dir / "cifar-10-batches-bin";
      std::vector<std::string> batches;
      if (split == "train") {
        for (int i = 1; i <= 5; ++i) {
          const fsys::path b = cdir / ("data_batch_" + std::to_string(i) + ".bin");
          if (fsys::is_regular_file(b, ec)) batches.push_back(b.string());
        }
      } else if (fsys::is_regular_file(cdir / "test_batch.bin", ec)) {
        batches.push_back((cdir / "test_batch.bin").string());
      }
      if (batches.empty())
        throw DataError(path + ": no " + split + " data found (looked for " + prefix +
                        "-images-idx3-ubyte[.gz] and CIFAR-10 " +
                        (split == "train" ? "data_batch_1..5.bin" : "test_batch.bin") +
                        ", also in cifar-10-batches-bin/)");
      d = read_cifar_batches(batches);
    }
  }
  if (d.n == 0) throw DataError(path + ": empty dataset (0 images)");
  d.validate();
  return d;
}

}  // namespace fw::io
