// tests/test_checkpoint.cpp: atomic file writing (framework/io/atomic_file.h) and safetensors checkpoints
// (framework/io/safetensors.h): round trips, the byte layout, interoperability with files as the reference
// (Python) implementation writes them, one case per validity check, truncation and byte-flip robustness.
// Files live in a fresh temp folder per test; no network.
#include <doctest/doctest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/io/atomic_file.h"
#include "framework/io/safetensors.h"
#include "framework/ops/view.h"
#include "tests/test_util.h"

using namespace fw;
using namespace fw::io;
using namespace test_util;
namespace fsys = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A file from a header (used as is, not padded) and a buffer; size_field overrides the length field.
Bytes make_file(const std::string& header, const Bytes& buffer = {}, int64_t size_field = -1) {
  const uint64_t n = size_field < 0 ? header.size() : static_cast<uint64_t>(size_field);
  Bytes out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), buffer.begin(), buffer.end());
  return out;
}

}  // namespace

// Every corruption must be reported as CheckpointError "bad.safetensors: ...<problem>...".
#define CHECK_CKPT_ERROR(bytes, problem)                                                              \
  do {                                                                                                \
    const Bytes b_ = (bytes);                                                                         \
    std::string m_ = "<no error>";                                                                    \
    try {                                                                                             \
      parse_safetensors(b_.data(), b_.size(), "bad.safetensors");                                     \
    } catch (const CheckpointError& e) {                                                              \
      m_ = e.what();                                                                                  \
    }                                                                                                 \
    CHECK_MESSAGE(m_.rfind("bad.safetensors: ", 0) == 0, m_);                                         \
    CHECK_MESSAGE(m_.find(problem) != std::string::npos, "expected '" << (problem) << "' in: " << m_); \
  } while (0)

// A one-tensor file: F32 of the given shape text and offsets, with buffer_bytes zero bytes.
static Bytes one_tensor(const std::string& fields, size_t buffer_bytes) {
  return make_file("{\"t\":{" + fields + "}}", Bytes(buffer_bytes, 0));
}

// ------------------------------------------------------------------------------------------ atomic_file

TEST_CASE("write_file_atomic creates, then replaces the content; no temporary is left") {
  TempDir d("pixelrnn_ckpt_");
  const std::string p = d / "out.bin";
  write_file_atomic(p, std::string("old content"));
  CHECK(read_text(p) == "old content");
  for (int i = 0; i < 20; ++i) write_file_atomic(p, "version " + std::to_string(i));
  CHECK(read_text(p) == "version 19");
  write_file_atomic(p, [](AtomicSink& s) {
    s.write("ab", 2);
    s.write(std::string("cd"));
    CHECK(s.bytes_written() == 4);
  });
  CHECK(read_text(p) == "abcd");
  write_file_atomic(p, nullptr, 0);
  CHECK(fsys::file_size(p) == 0);
  CHECK(d.entries() == std::vector<std::string>{"out.bin"});
}

TEST_CASE("write_file_atomic: a missing folder gives IoError naming the path and strerror") {
  TempDir d("pixelrnn_ckpt_");
  const std::string p = d / "no_such_folder/out.bin";
  const std::string m = error_of([&] { write_file_atomic(p, std::string("x")); });
  CHECK_MESSAGE(m.rfind(p + ": ", 0) == 0, m);
  CHECK_MESSAGE(m.find("No such file or directory") != std::string::npos, m);
  CHECK_THROWS_AS(write_file_atomic(p, std::string("x")), IoError);
  CHECK(d.entries().empty());
}

TEST_CASE("write_file_atomic: a folder that is a regular file gives IoError") {
  TempDir d("pixelrnn_ckpt_");
  write_file_atomic(d / "plain", std::string("keep"));
  const std::string m = error_of([&] { write_file_atomic(d / "plain/out.bin", std::string("x")); });
  CHECK_MESSAGE(m.find("Not a directory") != std::string::npos, m);
  CHECK(read_text(d / "plain") == "keep");
}

TEST_CASE("write_file_atomic: an unwritable folder gives IoError and changes nothing") {
  TempDir d("pixelrnn_ckpt_");
  const std::string p = d / "out.bin";
  write_file_atomic(p, std::string("original"));
  REQUIRE(::chmod(d.path.c_str(), 0555) == 0);
  if (::geteuid() == 0) {
    MESSAGE("running as root: permissions do not stop writes, so only the other failure tests apply");
  } else {
    const std::string m = error_of([&] { write_file_atomic(p, std::string("replacement")); });
    CHECK_MESSAGE(m.rfind(p + ": ", 0) == 0, m);
    CHECK_MESSAGE(m.find("Permission denied") != std::string::npos, m);
    CHECK(read_text(p) == "original");
    CHECK(d.entries() == std::vector<std::string>{"out.bin"});
  }
  REQUIRE(::chmod(d.path.c_str(), 0755) == 0);
}

TEST_CASE("write_file_atomic: a failing writer callback leaves the target untouched and no temporary") {
  TempDir d("pixelrnn_ckpt_");
  const std::string p = d / "out.bin";
  write_file_atomic(p, std::string("original"));
  CHECK_THROWS_WITH(write_file_atomic(p, [](AtomicSink& s) {
                      s.write("partial", 7);
                      throw std::runtime_error("writer gave up");
                    }),
                    "writer gave up");
  CHECK(read_text(p) == "original");
  CHECK(d.entries() == std::vector<std::string>{"out.bin"});
}

TEST_CASE("write_file_atomic: a failed write (file size limit) leaves the target untouched") {
  TempDir d("pixelrnn_ckpt_");
  const std::string p = d / "out.bin";
  write_file_atomic(p, std::string("original"));
  // The process file-size limit makes write() fail with EFBIG (SIGXFSZ ignored) even for root.
  rlimit old{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
  rlimit small = old;
  small.rlim_cur = 1000;
  auto* old_handler = ::signal(SIGXFSZ, SIG_IGN);
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  const std::string m = error_of([&] { write_file_atomic(p, std::string(5000, 'z')); });
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, old_handler);
  CHECK_MESSAGE(m.rfind(p + ": cannot write", 0) == 0, m);
  CHECK_MESSAGE(m.find("File too large") != std::string::npos, m);
  CHECK(read_text(p) == "original");
  CHECK(d.entries() == std::vector<std::string>{"out.bin"});
}

TEST_CASE("write_file_atomic: a target that is a folder fails at the rename and is left alone") {
  TempDir d("pixelrnn_ckpt_");
  fsys::create_directory(d / "target");
  write_file_atomic(d / "target/inside", std::string("kept"));
  const std::string m = error_of([&] { write_file_atomic(d / "target", std::string("x")); });
  CHECK_MESSAGE(m.find("cannot rename") != std::string::npos, m);
  CHECK(read_text(d / "target/inside") == "kept");
  CHECK(d.entries() == std::vector<std::string>{"target"});
  CHECK_THROWS_AS(write_file_atomic(d / "target/", std::string("x")), IoError);
  CHECK_THROWS_AS(write_file_atomic("", std::string("x")), IoError);
}

// ------------------------------------------------------------------------------------------ round trips

static nn::NamedTensors sample_tensors() {
  Tensor w = Tensor::from_vector({2, 3}, std::vector<float>{1.5f, -0.0f, 3e-42f, 4, -5, 6});
  std::vector<float> nans = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                             -std::numeric_limits<float>::infinity(), 7};
  Tensor weird = Tensor::from_vector({4}, nans);
  Tensor d = Tensor::from_vector({2, 2, 2}, std::vector<double>{1e-310, -2, 3.25, 4, 5, 6, 7, 8.125});
  Tensor base = Tensor::from_vector({2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  return {{"blocks.0.conv.weight", w},
          {"weird", weird},
          {"scalar32", Tensor::scalar(2.5, DType::F32)},
          {"empty", Tensor::zeros({0}, DType::F32)},
          {"empty3d", Tensor::empty({3, 0, 2}, DType::F64)},  // empty(): core's fill_ rejects this shape
          {"double3d", d},
          {"scalar64", Tensor::scalar(-1.0 / 3.0, DType::F64)},
          {"permuted", permute(base, {1, 0})},  // non-contiguous: saved as its row-major copy
          {"optim.blocks.0.conv.weight.exp_avg", Tensor::full({3}, 0.125)}};
}

TEST_CASE("safetensors round trip: F32 and F64, scalars, zero-size and non-contiguous tensors, metadata") {
  TempDir d("pixelrnn_ckpt_");
  const auto tensors = sample_tensors();
  const std::map<std::string, std::string> meta = {
      {"format_version", "1"}, {"step", "1200"}, {"model.name", "row_lstm"}, {"note", "caf\xc3\xa9"}, {"", "e"}};
  const std::string p = d / "model.safetensors";
  save_safetensors(p, tensors, meta);
  CHECK(d.entries() == std::vector<std::string>{"model.safetensors"});
  const SafetensorsFile f = load_safetensors(p);
  CHECK(f.metadata == meta);
  REQUIRE(f.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    CAPTURE(tensors[i].first);
    CHECK(f.tensors[i].first == tensors[i].first);  // order preserved, zero-size tensors included
    CHECK(bitwise_equal(f.tensors[i].second, tensors[i].second));
    CHECK(f.tensors[i].second.strides() == contiguous_strides(f.tensors[i].second.shape()));
    CHECK_FALSE(f.tensors[i].second.requires_grad());
  }
  CHECK(f.tensors[7].second.at({2, 1}) == 6.0);  // permute(base)[2][1] = base[1][2]
  // Saving again over the file replaces it atomically.
  save_safetensors(p, {{"only", Tensor::ones({1})}});
  const SafetensorsFile g = load_safetensors(p);
  CHECK(g.metadata.empty());
  REQUIRE(g.tensors.size() == 1);
  CHECK(g.tensors[0].second.item() == 1.0);
}

TEST_CASE("safetensors layout: size field, padded JSON header, contiguous offsets in the given order") {
  const nn::NamedTensors t = {{"b", Tensor::zeros({2, 3})}, {"a", Tensor::zeros({5}, DType::F64)},
                              {"z", Tensor::zeros({0})}};
  const Bytes bytes = encode_safetensors(t, {{"step", "7"}});
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(bytes[i]) << (8 * i);
  CHECK(n % 8 == 0);
  REQUIRE(bytes.size() == 8 + n + 24 + 40);
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + n);
  CHECK(header.find_last_not_of(' ') + 1 > n - 8);  // at most 7 padding spaces
  const auto j = nlohmann::ordered_json::parse(header);
  CHECK(j.begin().key() == "__metadata__");
  CHECK(j["__metadata__"] == nlohmann::ordered_json{{"step", "7"}});
  CHECK(j["b"]["dtype"] == "F32");
  CHECK(j["b"]["shape"] == nlohmann::ordered_json::array({2, 3}));
  CHECK(j["b"]["data_offsets"] == nlohmann::ordered_json::array({0, 24}));
  CHECK(j["a"]["dtype"] == "F64");
  CHECK(j["a"]["data_offsets"] == nlohmann::ordered_json::array({24, 64}));
  CHECK(j["z"]["data_offsets"] == nlohmann::ordered_json::array({64, 64}));
  // Without metadata or tensors: "{}" padded to 8 bytes.
  CHECK(encode_safetensors({}, {}) == make_file("{}      "));
  CHECK(parse_safetensors(make_file("{}      ").data(), 16, "x").tensors.empty());
}

TEST_CASE("safetensors interop: a file exactly as Python's safetensors writes it loads") {
  // safetensors.numpy.save_file({"bias": f32[2], "weight": f64[2, 2]}, path, metadata={"format": "np"}):
  // compact JSON, tensors sorted by dtype (largest first) then name, header padded with spaces to 8 bytes.
  const std::string json =
      "{\"__metadata__\":{\"format\":\"np\"},\"weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]},"
      "\"bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[32,40]}}";
  std::string header = json;
  header.append((8 - header.size() % 8) % 8, ' ');
  REQUIRE(header.size() % 8 == 0);
  Bytes buffer(40);
  const double w[4] = {1, -2, 0.5, 4};
  const float b[2] = {0.25f, -8};
  std::memcpy(buffer.data(), w, 32);
  std::memcpy(buffer.data() + 32, b, 8);
  const Bytes file = make_file(header, buffer);
  const SafetensorsFile f = parse_safetensors(file.data(), file.size(), "python.safetensors");
  CHECK(f.metadata == std::map<std::string, std::string>{{"format", "np"}});
  REQUIRE(f.tensors.size() == 2);
  CHECK(f.tensors[0].first == "weight");
  CHECK(f.tensors[0].second.dtype() == DType::F64);
  CHECK(f.tensors[0].second.to_vector() == std::vector<double>{1, -2, 0.5, 4});
  CHECK(f.tensors[1].first == "bias");
  CHECK(f.tensors[1].second.shape() == Shape{2});
  CHECK(f.tensors[1].second.to_vector() == std::vector<double>{0.25, -8});
  // No __metadata__ at all, offsets listed out of order in the header, and an unpadded header: also valid.
  const Bytes g = make_file(
      "{\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
      Bytes(8, 0));
  const SafetensorsFile h = parse_safetensors(g.data(), g.size(), "g");
  CHECK(h.metadata.empty());
  REQUIRE(h.tensors.size() == 2);
  CHECK(h.tensors[0].first == "a");  // data order
  CHECK(h.tensors[1].second.shape().empty());
}

TEST_CASE("the fuzz seed corpus (written by Python's json module) holds valid checkpoints") {
  const std::string dir = "fuzz/corpus/fuzz_checkpoint";
  REQUIRE(fsys::is_directory(dir));  // tests run from the repository root
  int files = 0;
  for (const auto& e : fsys::directory_iterator(dir)) {
    CAPTURE(e.path().string());
    CHECK_NOTHROW(load_safetensors(e.path().string()));
    ++files;
  }
  CHECK(files >= 3);
  const SafetensorsFile m = load_safetensors(dir + "/mixed.safetensors");
  REQUIRE(m.tensors.size() == 5);
  CHECK(m.tensors[0].second.to_vector() == std::vector<double>{1, 2, 3, 4});
  CHECK(m.tensors[3].first == "z");
  CHECK(m.tensors[4].first == "optim.w.exp_avg");
  CHECK(m.metadata.at("model.kind") == "row_lstm");
}

TEST_CASE("safetensors: zero-element tensors, several at one offset, are valid") {
  const Bytes b = make_file(
      "{\"e1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
      "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
      "\"e2\":{\"dtype\":\"F64\",\"shape\":[5,0],\"data_offsets\":[4,4]},"
      "\"e0\":{\"dtype\":\"F64\",\"shape\":[0],\"data_offsets\":[0,0]}}",
      Bytes(4, 0));
  const SafetensorsFile f = parse_safetensors(b.data(), b.size(), "z");
  REQUIRE(f.tensors.size() == 4);
  CHECK(f.tensors[0].first == "e0");
  CHECK(f.tensors[1].first == "x");
  CHECK(f.tensors[2].first == "e1");  // ties in header order
  CHECK(f.tensors[3].first == "e2");
  CHECK(f.tensors[3].second.shape() == Shape{5, 0});
}

// ------------------------------------------------------------------------------------------ corruptions

static const std::string kOk = "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]";

TEST_CASE("corrupt: file shorter than the 8-byte size field") {
  CHECK_CKPT_ERROR(Bytes{}, "file is 0 bytes, shorter than the 8-byte header-size field");
  CHECK_CKPT_ERROR(Bytes(7, 0), "file is 7 bytes, shorter than the 8-byte header-size field");
}

TEST_CASE("corrupt: header size 0") { CHECK_CKPT_ERROR(make_file("", Bytes(8, 0), 0), "header size is 0"); }

TEST_CASE("corrupt: header size above the cap, refused before reading or allocating") {
  CHECK_CKPT_ERROR(make_file("{}", {}, int64_t(kMaxSafetensorsHeader) + 1),
                   "header size 100000001 exceeds the limit of 100000000 bytes");
  CHECK_CKPT_ERROR(make_file("{}", {}, std::numeric_limits<int64_t>::max()), "exceeds the limit");
}

TEST_CASE("corrupt: header size larger than the rest of the file") {
  CHECK_CKPT_ERROR(make_file("{}", {}, 3), "header size 3 exceeds the 2 bytes after the size field");
}

TEST_CASE("corrupt: invalid JSON, including bad UTF-8 and junk after the object") {
  CHECK_CKPT_ERROR(make_file("{\"t\":"), "header is not valid JSON");
  CHECK_CKPT_ERROR(make_file("{} x"), "header is not valid JSON");
  // nlohmann stops at a NUL byte as if the input ended there, so the reader rejects NUL bytes itself.
  CHECK_CKPT_ERROR(make_file(std::string("{}\0\0", 4)), "header is not valid JSON: NUL byte at header offset 2");
  CHECK_CKPT_ERROR(make_file(std::string("{} \0{\"t\":{}}", 12)), "NUL byte at header offset 3");
  CHECK_CKPT_ERROR(make_file("{\"__metadata__\":{\"k\":\"\xff\"}}"), "header is not valid JSON");
}

TEST_CASE("corrupt: header is not an object") {
  CHECK_CKPT_ERROR(make_file("[1, 2]   "), "header is a JSON array, not an object");
  CHECK_CKPT_ERROR(make_file("\"text\""), "header is a JSON string, not an object");
  CHECK_CKPT_ERROR(make_file("[{\"a\":1,\"a\":2}]"), "duplicate key 'a' inside a header entry");
}

TEST_CASE("corrupt: tensor entry that is not an object") {
  CHECK_CKPT_ERROR(make_file("{\"t\":[1]}"), "tensor 't': entry is a array, not an object");
}

TEST_CASE("corrupt: tensor entry missing a field") {
  CHECK_CKPT_ERROR(one_tensor("\"shape\":[2],\"data_offsets\":[0,8]", 8), "tensor 't': missing field 'dtype'");
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":\"F32\",\"data_offsets\":[0,8]", 8), "tensor 't': missing field 'shape'");
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":\"F32\",\"shape\":[2]", 8), "tensor 't': missing field 'data_offsets'");
}

TEST_CASE("corrupt: tensor entry with an unexpected field") {
  CHECK_CKPT_ERROR(one_tensor(kOk + ",\"extra\":1", 8), "tensor 't': unexpected field 'extra'");
}

TEST_CASE("corrupt: tensor fields of the wrong type") {
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]", 8),
                   "tensor 't': field 'dtype' is a number, not a string");
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]", 8),
                   "tensor 't': field 'shape' is a string, not an array");
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]", 8),
                   "tensor 't': a shape entry is a number, not an integer");
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":\"F32\",\"shape\":[[2]],\"data_offsets\":[0,8]", 8),
                   "a shape entry is a array, not an integer");
  for (const char* off : {"\"0,8\"", "[0]", "[0,8,8]", "[0,-8]", "[-1,7]", "[0,8.0]", "[0,null]"})
    CHECK_CKPT_ERROR(one_tensor(std::string("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":") + off, 8),
                     "tensor 't': field 'data_offsets' is not [begin, end] with non-negative integers");
}

TEST_CASE("corrupt: unknown or unsupported dtype") {
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]", 8),
                   "tensor 't': unsupported dtype 'F16' (supported: F32, F64)");
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]", 8), "unsupported dtype 'f32'");
}

TEST_CASE("corrupt: negative shape dimension") {
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]", 8),
                   "tensor 't': negative dimension -1 in the shape");
}

TEST_CASE("corrupt: huge shape dimension") {
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":\"F32\",\"shape\":[18446744073709551615],\"data_offsets\":[0,8]", 8),
                   "tensor 't': dimension 18446744073709551615 is too large");
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":\"F32\",\"shape\":[1e30],\"data_offsets\":[0,8]", 8), "not an integer");
}

TEST_CASE("corrupt: shape product overflow, also next to a zero dimension") {
  const std::string big = "4294967296";  // 2^32: two of them exceed the element limit
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":\"F32\",\"shape\":[" + big + "," + big + "],\"data_offsets\":[0,8]", 8),
                   "tensor 't': the product of the shape overflows");
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":\"F32\",\"shape\":[0," + big + "," + big + "],\"data_offsets\":[0,0]", 0),
                   "the product of the shape overflows");
}

TEST_CASE("corrupt: data_offsets with begin > end") {
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]", 8),
                   "tensor 't': data_offsets [8, 0] have begin > end");
}

TEST_CASE("corrupt: data_offsets span differs from the shape's byte count") {
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]", 8),
                   "tensor 't': data_offsets [0, 8] span 8 bytes but shape [3] of F32 needs 12");
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]", 8),
                   "span 8 bytes but shape [2] of F64 needs 16");
  // A huge claimed tensor in a small file is refused by the offset checks, before any allocation.
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":\"F32\",\"shape\":[1073741824],\"data_offsets\":[0,4294967296]", 8),
                   "tensor data ends at byte 4294967296 of the buffer but the buffer holds 8 bytes");
}

TEST_CASE("corrupt: data offsets that do not start at 0") {
  CHECK_CKPT_ERROR(one_tensor("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]", 12),
                   "data offsets do not start at 0: tensor 't' starts at byte 4");
}

TEST_CASE("corrupt: gap between tensors") {
  CHECK_CKPT_ERROR(make_file("{\"a\":{" + kOk + "},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}",
                             Bytes(16, 0)),
                   "gap in the data offsets: tensor 'b' starts at byte 12 but the previous tensor ends at byte 8");
}

TEST_CASE("corrupt: overlapping tensors") {
  CHECK_CKPT_ERROR(make_file("{\"a\":{" + kOk + "},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                             Bytes(8, 0)),
                   "overlap in the data offsets: tensor 'b' starts at byte 4 but the previous tensor ends at byte 8");
  CHECK_CKPT_ERROR(make_file("{\"a\":{" + kOk + "},\"b\":{" + kOk + "}}", Bytes(8, 0)), "overlap");
}

TEST_CASE("corrupt: trailing bytes after the last tensor") {
  CHECK_CKPT_ERROR(one_tensor(kOk, 9), "1 trailing bytes after the last tensor's data");
  CHECK_CKPT_ERROR(make_file("{}", Bytes(3, 0)), "3 trailing bytes");
}

TEST_CASE("corrupt: buffer shorter than the offsets claim") {
  CHECK_CKPT_ERROR(one_tensor(kOk, 7), "tensor data ends at byte 8 of the buffer but the buffer holds 7 bytes");
}

TEST_CASE("corrupt: __metadata__ not an object of strings") {
  CHECK_CKPT_ERROR(make_file("{\"__metadata__\":[\"a\"]}"), "__metadata__ is a array, not an object of strings");
  CHECK_CKPT_ERROR(make_file("{\"__metadata__\":null}"), "__metadata__ is a null, not an object of strings");
  CHECK_CKPT_ERROR(make_file("{\"__metadata__\":{\"step\":12}}"),
                   "__metadata__ value for key 'step' is a number, not a string");
}

TEST_CASE("corrupt: duplicate names and keys (nlohmann alone would keep the last)") {
  CHECK_CKPT_ERROR(make_file("{\"t\":{" + kOk + "},\"t\":{" + kOk + "}}", Bytes(8, 0)),
                   "duplicate tensor name 't' in the header");
  CHECK_CKPT_ERROR(one_tensor(kOk + ",\"dtype\":\"F64\"", 8), "duplicate key 'dtype' inside a header entry");
  CHECK_CKPT_ERROR(make_file("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}"), "duplicate key 'k'");
  CHECK_CKPT_ERROR(make_file("{\"__metadata__\":{},\"__metadata__\":{}}"), "duplicate tensor name '__metadata__'");
}

TEST_CASE("corrupt: empty tensor name; control bytes in names are escaped in messages") {
  CHECK_CKPT_ERROR(make_file("{\"\":{" + kOk + "}}", Bytes(8, 0)), "a tensor has an empty name");
  CHECK_CKPT_ERROR(make_file("{\"a\\nb\":{\"dtype\":\"I8\",\"shape\":[8],\"data_offsets\":[0,8]}}", Bytes(8, 0)),
                   "tensor 'a\\x0ab': unsupported dtype 'I8'");
}

TEST_CASE("writer: invalid tensors and names are refused and nothing is written") {
  TempDir d("pixelrnn_ckpt_");
  const std::string p = d / "c.safetensors";
  save_safetensors(p, {{"x", Tensor::ones({2})}});
  const Bytes before = encode_safetensors({{"x", Tensor::ones({2})}}, {});
  auto save_err = [&](const nn::NamedTensors& t, const std::map<std::string, std::string>& m = {}) {
    return error_of([&] { save_safetensors(p, t, m); });
  };
  CHECK(save_err({{"", Tensor::ones({1})}}) == p + ": a tensor has an empty name");
  CHECK(save_err({{"a", Tensor::ones({1})}, {"a", Tensor::ones({1})}}) == p + ": duplicate tensor name 'a'");
  CHECK(save_err({{"__metadata__", Tensor::ones({1})}}).find("reserves") != std::string::npos);
  CHECK(save_err({{"a\xff", Tensor::ones({1})}}).find("is not valid UTF-8") != std::string::npos);
  CHECK(save_err({{"u", Tensor()}}) == p + ": tensor 'u' is undefined");
  CHECK(save_err({}, {{"k", "\xc3"}}) == p + ": metadata value for key 'k' is not valid UTF-8");
  const std::string text = read_text(p);
  CHECK(Bytes(text.begin(), text.end()) == before);
  CHECK(d.entries() == std::vector<std::string>{"c.safetensors"});
  CHECK_THROWS_AS(save_safetensors(d / "missing/c.safetensors", {}), IoError);
}

TEST_CASE("load_safetensors: unreadable files give IoError, bad contents CheckpointError naming the path") {
  TempDir d("pixelrnn_ckpt_");
  const std::string missing = d / "nope.safetensors";
  const std::string m = error_of([&] { load_safetensors(missing); });
  CHECK(m == missing + ": cannot open: No such file or directory");
  CHECK_THROWS_AS(load_safetensors(d.path), IoError);  // a folder: read fails with EISDIR
  write_file_atomic(d / "junk", std::string("0123456789"));
  CHECK_THROWS_AS(load_safetensors(d / "junk"), CheckpointError);
  CHECK(error_of([&] { load_safetensors(d / "junk"); }).rfind(d / "junk: header size ", 0) == 0);
}

// ------------------------------------------------------------------------------------------ robustness

TEST_CASE("every truncation of a valid file is an error, never a crash") {
  const Bytes full = encode_safetensors(sample_tensors(), {{"step", "3"}, {"model.kind", "row_lstm"}});
  REQUIRE(full.size() > 200);
  CHECK(parse_safetensors(full.data(), full.size(), "full").tensors.size() == sample_tensors().size());
  for (size_t len = 0; len < full.size(); ++len) {
    const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));  // exact-size copy for ASan
    CAPTURE(len);
    CHECK_THROWS_AS(parse_safetensors(cut.data(), cut.size(), "cut"), CheckpointError);
  }
}

TEST_CASE("random byte flips never crash; a file that still parses is self-consistent") {
  const Bytes full = encode_safetensors(sample_tensors(), {{"step", "3"}});
  std::mt19937 rng(12345);
  int parsed = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    Bytes b = full;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    try {
      const SafetensorsFile f = parse_safetensors(b.data(), b.size(), "flipped");
      size_t bytes = 0;
      for (const auto& [name, t] : f.tensors) bytes += static_cast<size_t>(t.numel()) * dtype_size(t.dtype());
      uint64_t n = 0;
      for (int i = 0; i < 8; ++i) n |= uint64_t(b[i]) << (8 * i);
      CHECK(8 + n + bytes == b.size());
      ++parsed;
    } catch (const CheckpointError&) {
      ++rejected;
    }
  }
  CHECK(parsed > 0);  // flips in the data bytes keep the file valid
  CHECK(rejected > 0);
}
