// tests/test_data.cpp: the data layer (framework/io): readers, writers, error
// messages, preprocessing and batching. Fixtures are built in a temp folder; no network.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "framework/io/batches.h"
#include "framework/io/cifar.h"
#include "framework/io/dataset.h"
#include "framework/io/gzip.h"
#include "framework/io/idx.h"
#include "framework/io/npy.h"
#include "framework/io/png.h"
#include "framework/io/preprocess.h"
#include "tests/test_util.h"

using namespace fw::io;
using test_util::TempDir;
namespace fsys = std::filesystem;

// Records the largest single allocation made while tracking is on, so tests can
// assert that an oversized header is refused before any large buffer is allocated.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // malloc/free pairs below
#endif
static bool g_track_alloc = false;
static size_t g_max_alloc = 0;
void* operator new(size_t n) {
  if (g_track_alloc && n > g_max_alloc) g_max_alloc = n;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace {

std::vector<uint8_t> ramp(size_t n, int mul = 7) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t((i * mul) & 0xff);
  return v;
}

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
}

std::vector<uint8_t> idx_header(uint32_t magic, std::vector<uint32_t> dims) {
  std::vector<uint8_t> b;
  put_be32(b, magic);
  for (uint32_t d : dims) put_be32(b, d);
  return b;
}

void write(const std::string& path, const std::vector<uint8_t>& b) {
  write_file_bytes(path, b.data(), b.size());
}

// Runs f, requires a DataError whose message contains every needle.
template <class F>
std::string expect_error(F f, std::vector<std::string> needles) {
  std::string msg;
  try {
    f();
  } catch (const DataError& e) {
    msg = e.what();
  }
  INFO("message: " << msg);
  CHECK_FALSE(msg.empty());
  for (const auto& n : needles) CHECK(msg.find(n) != std::string::npos);
  return msg;
}

Dataset make_cifar(int64_t n) {
  Dataset d;
  d.n = n;
  d.c = 3;
  d.h = d.w = 32;
  d.pixels = ramp(size_t(n * 3072), 13);
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(int32_t(i % 10));
  d.source = "made";
  return d;
}

}  // namespace

TEST_CASE("IDX round trip, raw and gzipped, and load_dataset on a folder") {
  TempDir t("pixelrnn_test_data_");
  const auto px = ramp(5 * 4 * 3);
  const std::vector<int32_t> labels = {0, 3, 9, 1, 2};
  for (bool gz : {false, true}) {
    const std::string sfx = gz ? ".gz" : "";
    const std::string img = t / ("train-images-idx3-ubyte" + sfx);
    const std::string lab = t / ("train-labels-idx1-ubyte" + sfx);
    write_idx_images(img, px.data(), 5, 4, 3, gz);
    write_idx_labels(lab, labels, gz);
    const auto bytes = read_file_bytes(img);
    CHECK(is_gzip(bytes.data(), bytes.size()) == gz);
    Dataset d = load_idx_pair(img, lab);
    CHECK(d.n == 5);
    CHECK(d.c == 1);
    CHECK(d.h == 4);
    CHECK(d.w == 3);
    CHECK(d.pixels == px);
    CHECK(d.labels == labels);
    CHECK(d.at(1, 0, 0, 0) == px[12]);
    Dataset e = load_dataset(gz ? img : t.path, "train");
    CHECK(e.pixels == px);
    CHECK(e.labels == labels);
    fsys::remove(img);
    fsys::remove(lab);
  }
  // Unlabelled single file; the file is its own split.
  write_idx_images(t / "x.idx", px.data(), 5, 4, 3, false);
  Dataset u = load_dataset(t / "x.idx", "test");
  CHECK(u.n == 5);
  CHECK_FALSE(u.has_labels());
}

TEST_CASE("load_dataset takes a folder or a file; a missing path is named") {
  // Looking a dataset up by name (data folders, $PIXELRNN_DATA) is the program's job (tests/test_tool.cpp).
  TempDir t;
  fsys::create_directories(t / "mnist");
  const auto px = ramp(2 * 28 * 28);
  write_idx_images(t / "mnist/t10k-images-idx3-ubyte.gz", px.data(), 2, 28, 28, true);
  write_idx_labels(t / "mnist/t10k-labels-idx1-ubyte.gz", {4, 5}, true);
  Dataset d = load_dataset(t / "mnist", "test");
  CHECK(d.n == 2);
  CHECK(d.labels == std::vector<int32_t>{4, 5});
  expect_error([&] { load_dataset(t / "mnist", "train"); }, {"mnist", "no train data found"});
  expect_error([&] { load_dataset(t / "mnist", "valid"); }, {"unknown split"});
  expect_error([&] { load_dataset(t / "nosuchset", "train"); }, {"nosuchset", "no such file or folder"});
  setenv("PIXELRNN_DATA", t.path.c_str(), 1);  // the framework ignores it: a bare name is just a relative path
  expect_error([&] { load_dataset("mnist", "test"); }, {"mnist", "no such file or folder"});
  unsetenv("PIXELRNN_DATA");
}

TEST_CASE("IDX: wrong magic") {
  TempDir t("pixelrnn_test_data_");
  const std::string p = t / "bad-magic";
  auto b = idx_header(0x00000802, {1, 2, 2});
  b.resize(b.size() + 4);
  write(p, b);
  expect_error([&] { read_idx_images(p); }, {p, "bad magic", "0x00000802"});
  // A label file passed as images says so.
  write(p, {0, 0, 8, 1, 0, 0, 0, 1, 5});
  expect_error([&] { read_idx_images(p); }, {p, "bad magic", "label file"});
}

TEST_CASE("IDX: truncated file") {
  TempDir t("pixelrnn_test_data_");
  const std::string p = t / "truncated";
  auto b = idx_header(kIdxImagesMagic, {10, 28, 28});
  b.resize(b.size() + 100);
  write(p, b);
  expect_error([&] { read_idx_images(p); }, {p, "truncated", "7840"});
  write(p, {0, 0, 8, 3, 0, 0});
  expect_error([&] { read_idx_images(p); }, {p, "truncated"});
  const std::string l = t / "labels-truncated";
  auto lb = idx_header(kIdxLabelsMagic, {10});
  lb.resize(lb.size() + 3);
  write(l, lb);
  expect_error([&] { read_idx_labels(l); }, {l, "truncated"});
}

TEST_CASE("IDX: trailing bytes") {
  TempDir t("pixelrnn_test_data_");
  const std::string p = t / "trailing";
  auto b = idx_header(kIdxImagesMagic, {1, 2, 2});
  b.resize(b.size() + 4 + 3);
  write(p, b);
  expect_error([&] { read_idx_images(p); }, {p, "3 trailing bytes"});
  // Same when gzipped.
  const std::string g = t / "trailing.gz";
  auto z = gzip_compress(b.data(), b.size());
  write(g, z);
  expect_error([&] { read_idx_images(g); }, {g, "trailing bytes"});
}

TEST_CASE("IDX: dimensions over the cap fail before allocating") {
  TempDir t("pixelrnn_test_data_");
  const std::string p = t / "huge";
  // 2^31 images of 1x1 in a 20-byte file: rejected by the cap at once.
  auto b = idx_header(kIdxImagesMagic, {0x80000000u, 1, 1});
  b.resize(20);
  write(p, b);
  g_max_alloc = 0;
  g_track_alloc = true;
  expect_error([&] { read_idx_images(p); }, {p, "count", "2147483648", "exceeds the cap"});
  g_track_alloc = false;
  CHECK(g_max_alloc < 4096);  // only the 20-byte file and message strings
  // Sides over 4096.
  write(p, idx_header(kIdxImagesMagic, {1, 5000, 28}));
  expect_error([&] { read_idx_images(p); }, {p, "rows", "5000", "exceeds the cap"});
  // All three at their maximum: the product (2^44 bytes) overflows any sane size
  // and is refused by the total cap; nothing is allocated.
  write(p, idx_header(kIdxImagesMagic, {0xffffffffu, 0xffffffffu, 0xffffffffu}));
  expect_error([&] { read_idx_images(p); }, {p, "exceeds the cap"});
  write(p, idx_header(kIdxImagesMagic, {1u << 20, 4096, 4096}));
  expect_error([&] { read_idx_images(p); }, {p, "data size", "exceeds the cap"});
  // Within the caps but far larger than the file: truncated, found from the size.
  write(p, idx_header(kIdxImagesMagic, {1u << 20, 28, 28}));
  expect_error([&] { read_idx_images(p); }, {p, "truncated"});
  // The same claim gzipped: decompression stops at the real data.
  auto h = idx_header(kIdxImagesMagic, {1u << 20, 28, 28});
  write(p + ".gz", gzip_compress(h.data(), h.size()));
  expect_error([&] { read_idx_images(p + ".gz"); }, {p + ".gz", "truncated"});
}

TEST_CASE("IDX: corrupt gzip") {
  TempDir t("pixelrnn_test_data_");
  const std::string p = t / "corrupt.gz";
  auto b = idx_header(kIdxImagesMagic, {2, 4, 4});
  auto px = ramp(32);
  b.insert(b.end(), px.begin(), px.end());
  auto z = gzip_compress(b.data(), b.size());
  auto bad = z;
  for (size_t i = 10; i < bad.size() - 8; ++i) bad[i] ^= 0x5a;
  write(p, bad);
  expect_error([&] { read_idx_images(p); }, {p, "corrupt gzip"});
  // Truncated gzip stream.
  write(p, std::vector<uint8_t>(z.begin(), z.begin() + long(z.size() / 2)));
  expect_error([&] { read_idx_images(p); }, {p, "corrupt gzip"});
  // Bad CRC.
  auto crc = z;
  crc[crc.size() - 6] ^= 0xff;
  write(p, crc);
  expect_error([&] { read_idx_images(p); }, {p, "corrupt gzip"});
}

TEST_CASE("IDX: image/label count mismatch") {
  TempDir t("pixelrnn_test_data_");
  const auto px = ramp(3 * 4);
  write_idx_images(t / "i", px.data(), 3, 2, 2, false);
  write_idx_labels(t / "l", {1, 2}, false);
  expect_error([&] { load_idx_pair(t / "i", t / "l"); },
               {t / "i", t / "l", "3 images", "2 labels", "mismatch"});
}

TEST_CASE("IDX: labels out of range") {
  TempDir t("pixelrnn_test_data_");
  const auto px = ramp(3 * 4);
  write_idx_images(t / "i", px.data(), 3, 2, 2, false);
  write_idx_labels(t / "l", {1, 12, 2}, false);
  expect_error([&] { load_idx_pair(t / "i", t / "l"); }, {t / "l", "label 12", "index 1", "out of range"});
}

TEST_CASE("CIFAR-10 round trip and several batches") {
  TempDir t("pixelrnn_test_data_");
  Dataset a = make_cifar(3), b = make_cifar(2);
  b.pixels[0] = 99;
  write_cifar_batch(t / "data_batch_1.bin", a);
  write_cifar_batch(t / "data_batch_2.bin", b);
  write_cifar_batch(t / "test_batch.bin", b);
  Dataset r = read_cifar_batch(t / "data_batch_1.bin");
  CHECK(r.n == 3);
  CHECK(r.c == 3);
  CHECK(r.h == 32);
  CHECK(r.pixels == a.pixels);
  CHECK(r.labels == a.labels);
  // R plane first: byte 1 of the record is pixel (0, R, 0, 0), byte 1025 is G (0,0).
  const auto raw = read_file_bytes(t / "data_batch_1.bin");
  CHECK(raw.size() == 3 * 3073);
  CHECK(r.at(0, 1, 0, 0) == raw[1 + 1024]);
  Dataset all = load_dataset(t.path, "train");
  CHECK(all.n == 5);
  CHECK(all.pixels[3 * 3072] == 99);
  CHECK(all.labels[3] == 0);
  // Inside cifar-10-batches-bin/.
  TempDir t2("pixelrnn_test_data_");
  fsys::create_directories(t2 / "cifar-10-batches-bin");
  write_cifar_batch(t2 / "cifar-10-batches-bin/test_batch.bin", b);
  CHECK(load_dataset(t2.path, "test").n == 2);
}

TEST_CASE("CIFAR-10: size not a multiple of 3073") {
  TempDir t("pixelrnn_test_data_");
  const std::string p = t / "data_batch_1.bin";
  write(p, std::vector<uint8_t>(3073 * 2 + 5, 1));
  expect_error([&] { read_cifar_batch(p); }, {p, "6151", "not a multiple", "3073"});
}

TEST_CASE("CIFAR-10: Python pickle gets a hint") {
  TempDir t("pixelrnn_test_data_");
  const std::string p = t / "data_batch_1";
  write(p, {0x80, 0x02, 0x7d, 0x71, 0x00});
  expect_error([&] { read_cifar_batch(p); }, {p, "pickle", "CIFAR-10 binary version", "cifar-10-binary.tar.gz"});
}

TEST_CASE("CIFAR-10: labels out of range") {
  TempDir t("pixelrnn_test_data_");
  const std::string p = t / "b.bin";
  std::vector<uint8_t> b(3073 * 2, 0);
  b[3073] = 10;
  write(p, b);
  expect_error([&] { read_cifar_batch(p); }, {p, "label 10", "record 1", "out of range"});
}

TEST_CASE("empty dataset") {
  TempDir t("pixelrnn_test_data_");
  const std::string p = t / "empty-images";
  write(p, idx_header(kIdxImagesMagic, {0, 28, 28}));
  expect_error([&] { read_idx_images(p); }, {p, "empty dataset"});
  expect_error([&] { load_dataset(p, "train"); }, {p, "empty dataset"});
  const std::string c = t / "test_batch.bin";
  write(c, {});
  expect_error([&] { load_dataset(t.path, "test"); }, {c, "empty dataset"});
  TempDir t2("pixelrnn_test_data_");
  expect_error([&] { load_dataset(t2.path, "train"); }, {t2.path, "no train data found"});
}

TEST_CASE("PNG round trip: greyscale and RGB, grid") {
  TempDir t("pixelrnn_test_data_");
  const auto grey = ramp(5 * 7, 3);
  write_png(t / "g.png", grey.data(), 1, 5, 7);
  Image g = read_png(t / "g.png", 1, 5, 7);
  CHECK(g.c == 1);
  CHECK(g.h == 5);
  CHECK(g.w == 7);
  CHECK(g.pixels == grey);
  const auto rgb = ramp(3 * 4 * 6, 11);
  write_png(t / "c.png", rgb.data(), 3, 4, 6);
  Image c = read_png(t / "c.png", 3, 4, 6);
  CHECK(c.pixels == rgb);  // planar (C, H, W), not flipped
  Image c1 = read_png(t / "c.png", 1);  // converted to grey when no size is expected
  CHECK(c1.c == 1);
  // Scaled output.
  write_png(t / "s.png", grey.data(), 1, 5, 7, 3);
  Image s = read_png(t / "s.png", 1);
  CHECK(s.h == 15);
  CHECK(s.w == 21);
  CHECK(s.pixels[size_t(3 * 21 + 3)] == grey[size_t(1 * 7 + 1)]);
  // Grid: 10 binarized 4x4 images, 4 per row, pad 1, scale 2, max_value 1.
  std::vector<uint8_t> bin(10 * 16);
  for (size_t i = 0; i < bin.size(); ++i) bin[i] = uint8_t(i % 2);
  write_png_grid(t / "grid.png", bin.data(), 10, 1, 4, 4, 4, 1, 2, 1);
  Image grid = read_png(t / "grid.png", 1);
  CHECK(grid.w == 4 * 8 + 5);
  CHECK(grid.h == 3 * 8 + 4);
  CHECK(grid.pixels[0] == 128);                // pad
  CHECK(grid.pixels[size_t(1 * grid.w + 1)] == 0);    // image 0, pixel (0,0)
  CHECK(grid.pixels[size_t(1 * grid.w + 3)] == 255);  // image 0, pixel (0,1)
  // Auto scale for 28x28 is 2.
  std::vector<uint8_t> m(3 * 28 * 28, 200);
  write_png_grid(t / "auto.png", m.data(), 3, 1, 28, 28);
  CHECK(read_png(t / "auto.png", 1).w == 3 * 56 + 4 * 2);
}

TEST_CASE("PNG: corrupt file") {
  TempDir t("pixelrnn_test_data_");
  const std::string p = t / "bad.png";
  write(p, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  expect_error([&] { read_png(p, 1); }, {p, "corrupt PNG"});
  const auto grey = ramp(16 * 16, 3);
  write_png(p, grey.data(), 1, 16, 16);
  auto b = read_file_bytes(p);
  const auto whole = b;
  b.resize(b.size() / 2);  // cut in the middle of the image data
  write(p, b);
  expect_error([&] { read_png(p, 1); }, {p, "corrupt PNG"});
  // A chunk claiming 2 GiB in a small file is refused before stb sees it.
  b = whole;
  b[33] = 0x7f;  // first byte of the length of the chunk after IHDR (8 + 25)
  write(p, b);
  expect_error([&] { read_png(p, 1); }, {p, "corrupt PNG", "runs past the end"});
  // Bit flips in the image data.
  b = whole;
  for (size_t i = 45; i < b.size() - 16; ++i) b[i] ^= 0x33;
  write(p, b);
  expect_error([&] { read_png(p, 1); }, {p, "corrupt PNG"});
}

TEST_CASE("PNG: wrong size or channel count") {
  TempDir t("pixelrnn_test_data_");
  const std::string p = t / "img.png";
  const auto rgb = ramp(3 * 8 * 8);
  write_png(p, rgb.data(), 3, 8, 8);
  expect_error([&] { read_png(p, 3, 28, 28); }, {p, "8x8", "wrong size"});
  expect_error([&] { read_png(p, 1, 8, 8); }, {p, "3 colour channel", "wrong channel count"});
  CHECK(read_png(p, 3, 8, 8).pixels == rgb);
}

TEST_CASE("npy round trip and header bytes") {
  TempDir t("pixelrnn_test_data_");
  const std::vector<float> f = {0.5f, -1.25f, 3.0f, 1e-3f, 7.f, 8.f};
  write_npy_f32(t / "f.npy", f.data(), {2, 3});
  const auto b = read_file_bytes(t / "f.npy");
  REQUIRE(b.size() == 128 + 24);  // header padded to a multiple of 64
  CHECK(std::memcmp(b.data(), "\x93NUMPY\x01\x00", 8) == 0);
  CHECK(b[8] == 118);  // header length (little-endian): 128 - 10
  CHECK(b[9] == 0);
  const std::string h(b.begin() + 10, b.begin() + 128);
  CHECK(h.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0) == 0);
  CHECK(h.back() == '\n');
  CHECK(b[128] == 0x00);
  CHECK(b[131] == 0x3f);  // 0.5f = 0x3f000000, little-endian
  NpyArray a = read_npy(t / "f.npy");
  CHECK(a.shape == std::vector<int64_t>{2, 3});
  CHECK(a.as_f32() == f);
  const auto u = ramp(7);
  write_npy_u8(t / "u.npy", u.data(), {7});
  NpyArray ua = read_npy(t / "u.npy");
  CHECK(ua.descr == "|u1");
  CHECK(ua.shape == std::vector<int64_t>{7});
  CHECK(ua.data == u);
  const auto ub = read_file_bytes(t / "u.npy");
  CHECK(std::string(ub.begin() + 10, ub.begin() + 128).find("'shape': (7,)") != std::string::npos);
  write_npy_u8(t / "s.npy", u.data(), {});
  CHECK(read_npy(t / "s.npy").numel() == 1);
  // Bad inputs.
  auto bad = b;
  bad[1] = 'X';
  write(t / "bad.npy", bad);
  expect_error([&] { read_npy(t / "bad.npy"); }, {t / "bad.npy", "bad .npy magic"});
  bad = b;
  bad[6] = 3;
  write(t / "bad.npy", bad);
  expect_error([&] { read_npy(t / "bad.npy"); }, {t / "bad.npy", "version"});
  bad = b;
  bad[10 + 12] = 'i';  // '<i4'
  write(t / "bad.npy", bad);
  expect_error([&] { read_npy(t / "bad.npy"); }, {t / "bad.npy", "dtype"});
  bad = b;
  bad.pop_back();
  write(t / "bad.npy", bad);
  expect_error([&] { read_npy(t / "bad.npy"); }, {t / "bad.npy", "truncated"});
}

TEST_CASE("binarization is deterministic and unbiased") {
  Dataset d;
  d.n = 50;
  d.c = 1;
  d.h = d.w = 20;
  d.pixels = ramp(50 * 400, 37);
  d.source = "ramp";
  Dataset a = binarize_stochastic(d, 1234), b = binarize_stochastic(d, 1234);
  Dataset c = binarize_stochastic(d, 99);
  CHECK(a.pixels == b.pixels);
  CHECK(a.pixels != c.pixels);
  int64_t ones = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    REQUIRE(a.pixels[i] <= 1);
    if (d.pixels[i] == 0) CHECK(a.pixels[i] == 0);
    if (d.pixels[i] == 255) CHECK(a.pixels[i] == 1);
    ones += a.pixels[i];
  }
  const double frac = double(ones) / double(a.pixels.size());
  CHECK(frac == doctest::Approx(d.mean_intensity()).epsilon(0.02));
  // Fixed values pin the generator: SplitMix64(0) first output.
  SplitMix64 g(0);
  CHECK(g.next() == 0xE220A8397B1DCDAFull);
  // Threshold at 0.5: v >= 128.
  Dataset e;
  e.n = 1;
  e.c = 1;
  e.h = 1;
  e.w = 4;
  e.pixels = {0, 127, 128, 255};
  e.source = "t";
  CHECK(binarize_threshold(e).pixels == std::vector<uint8_t>{0, 0, 1, 1});
  // Train/validation split: 10 of 50 images, evenly spaced: images 4, 9, ..., 49.
  auto [tr, va] = split_train_val(d, 10);
  CHECK(tr.n == 40);
  CHECK(va.n == 10);
  CHECK(tr.pixels.size() == size_t(40 * 400));
  CHECK(va.pixels.size() == size_t(10 * 400));
  for (int i = 0; i < 10; ++i) {
    const size_t src = size_t(5 * i + 4) * 400;
    CHECK(std::equal(va.pixels.begin() + i * 400, va.pixels.begin() + (i + 1) * 400, d.pixels.begin() + src));
  }
  // The training set is every other image, in order: image 5 is its 5th (index 4).
  CHECK(std::equal(tr.pixels.begin() + 4 * 400, tr.pixels.begin() + 5 * 400, d.pixels.begin() + 5 * 400));
  // A class-sorted file (labels 0..4, ten images each) validates on every class.
  Dataset sorted = d;
  sorted.labels.resize(50);
  for (int k = 0; k < 50; ++k) sorted.labels[k] = k / 10;
  auto [tr2, va2] = split_train_val(sorted, 5);
  CHECK(va2.labels == std::vector<int32_t>{0, 1, 2, 3, 4});
  CHECK(tr2.labels.size() == 45);
  expect_error([&] { split_train_val(d, 50); }, {"ramp", "validation size"});
}

TEST_CASE("batch iterator: deterministic, covers each epoch, resumes exactly") {
  Dataset d;
  d.n = 10;
  d.c = 1;
  d.h = 2;
  d.w = 2;
  d.pixels = ramp(40);
  for (int i = 0; i < 10; ++i) d.labels.push_back(i % 10);
  d.source = "tiny";
  BatchIterator it(d, 4, 7), it2(d, 4, 7);
  CHECK(it.batches_per_epoch() == 3);
  std::vector<Batch> first;
  for (int k = 0; k < 7; ++k) first.push_back(it.next());
  for (int k = 0; k < 7; ++k) CHECK(it2.next().indices == first[size_t(k)].indices);
  // Each epoch is a permutation; sizes 4, 4, 2.
  std::set<int64_t> seen;
  for (int k = 0; k < 3; ++k)
    for (int64_t i : first[size_t(k)].indices) seen.insert(i);
  CHECK(seen.size() == 10);
  CHECK(first[2].n == 2);
  CHECK(first[3].epoch == 1);
  CHECK(first[0].indices != first[3].indices);  // a new permutation each epoch
  // Values and labels follow the indices.
  const Batch& b0 = first[0];
  CHECK(b0.x.size() == 16);
  CHECK(b0.x[4] == float(d.pixels[size_t(b0.indices[1] * 4)]));
  CHECK(b0.labels[1] == d.labels[size_t(b0.indices[1])]);
  // Resume: state after batch 4, new iterator restored, continues identically.
  BatchIterator a(d, 4, 7);
  for (int k = 0; k < 4; ++k) a.next();
  BatchState s = a.state();
  CHECK(s.epoch == 1);
  CHECK(s.position == 4);
  BatchIterator r(d, 4, 0);
  r.restore(s);
  for (int k = 4; k < 7; ++k) {
    Batch br = r.next();
    CHECK(br.indices == first[size_t(k)].indices);
    CHECK(br.x == first[size_t(k)].x);
  }
  // Another seed, another order; no shuffle, file order.
  BatchIterator o(d, 4, 8);
  CHECK(o.next().indices != first[0].indices);
  BatchIterator ns(d, 4, 7, false);
  CHECK(ns.next().indices == std::vector<int64_t>{0, 1, 2, 3});
  BatchIterator dl(d, 4, 7, true, true);
  CHECK(dl.batches_per_epoch() == 2);
  dl.next();
  dl.next();
  CHECK(dl.next().epoch == 1);
}
