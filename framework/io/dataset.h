// framework/io/dataset.h: the in-memory image dataset (uint8 pixels, (N, C, H, W)),
// the data-layer error type, and loading a dataset from a folder or a file. (Where a program looks for its data
// by name is the program's business: pixelrnn's lookup is tools/pixelrnn/data_lookup.h.)
// This layer is self-contained: it does not depend on the tensor code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace fw::io {

// Every reader in fw::io throws DataError; what() starts with the file (or source
// name) and then says what is wrong with it, e.g. "data/x.idx: truncated ...".
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Caps applied by every reader before it allocates.
constexpr int64_t kMaxImages = int64_t(1) << 20;   // images per file / dataset
constexpr int64_t kMaxSide = 4096;                 // height and width
constexpr int64_t kMaxChannels = 4;
constexpr uint64_t kMaxPixelBytes = uint64_t(1) << 32;  // total pixel bytes

struct Dataset {
  int64_t n = 0, c = 0, h = 0, w = 0;
  std::vector<uint8_t> pixels;   // (N, C, H, W) row-major, n*c*h*w bytes
  std::vector<int32_t> labels;   // empty, or n entries
  std::string source;            // where it came from (file or folder)

  // ensures: c*h*w (bytes per image).
  int64_t image_size() const { return c * h * w; }
  // ensures: true when labels has one entry per image.
  bool has_labels() const { return !labels.empty(); }
  // requires: 0 <= i < n. ensures: pointer to image i's c*h*w bytes.
  const uint8_t* image(int64_t i) const { return pixels.data() + i * image_size(); }
  uint8_t* image(int64_t i) { return pixels.data() + i * image_size(); }
  // requires: 0 <= i < n, has_labels(). ensures: label of image i.
  int32_t label(int64_t i) const { return labels.at(static_cast<size_t>(i)); }
  // ensures: pixel value at (i, ch, y, x); bounds are not checked.
  uint8_t at(int64_t i, int64_t ch, int64_t y, int64_t x) const {
    return pixels[static_cast<size_t>(((i * c + ch) * h + y) * w + x)];
  }
  // ensures: the mean pixel value / 255 over the dataset (0 when empty).
  double mean_intensity() const;
  // throws: DataError naming `source` when sizes are inconsistent
  // (pixels.size() != n*c*h*w, labels neither empty nor n entries) or n == 0.
  void validate() const;
  // requires: 0 <= begin <= end <= n. ensures: images [begin, end) with their labels.
  Dataset slice(int64_t begin, int64_t end) const;
};

// Loads one split of a dataset.
// requires: split is "train" or "test"; path is
//   - a folder with MNIST-named IDX files ({train,t10k}-images-idx3-ubyte[.gz] and
//     optional {train,t10k}-labels-idx1-ubyte[.gz] beside them), or
//   - a folder with CIFAR-10 binary batches (data_batch_1..5.bin for "train",
//     test_batch.bin for "test"), directly or in cifar-10-batches-bin/, or
//   - a single IDX image file (labels picked up beside it when the matching
//     -labels-idx1- file exists) or a single CIFAR-10 batch: the file is its own
//     split and `split` is only checked for validity.
// ensures: a validated Dataset with n > 0; labels present when found.
// throws: DataError (unknown split, no such path, nothing found, empty dataset, any reader error).
Dataset load_dataset(const std::string& path, const std::string& split);

// Reads a whole file. throws: DataError naming the file when it cannot be opened
// or read, or when it is larger than max_bytes.
std::vector<uint8_t> read_file_bytes(const std::string& path,
                                     uint64_t max_bytes = uint64_t(1) << 33);
// Writes a whole file (creating/truncating). throws: DataError naming the file.
void write_file_bytes(const std::string& path, const uint8_t* data, size_t size);

}  // namespace fw::io
