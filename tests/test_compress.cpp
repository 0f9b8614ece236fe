// tests/test_compress.cpp: lossless compression with a model: the generator's choose hook (models/sampler.h),
// model-driven range coding (models/lossless.h) for every model kind, levels 2 and 256, 1 and 3 channels --
// bit-exact round trips of random and natural-looking images, coded size against the model's NLL, identical
// frequencies at 1 and 2 threads -- and the `pixelrnn compress` / `decompress` commands (file format checks:
// wrong model, truncated and corrupt files).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "framework/core/parallel.h"
#include "framework/io/png.h"
#include "framework/ops/reduce.h"
#include "framework/optim/optimizer.h"
#include "models/lossless.h"
#include "models/pixel_model.h"
#include "tests/tool_harness.h"
#include "tools/pixelrnn/compressed_file.h"

using namespace pixelrnn;
using fw::Tensor;

namespace {

ModelConfig tiny(const std::string& model, int64_t channels, int64_t levels, const std::string& inner) {
  ModelConfig c;
  c.model = model;
  c.channels = channels;
  c.levels = levels;
  c.height = c.width = 6;
  c.layers = 2;
  c.hidden = 6;
  c.out_hidden = 12;
  c.inner = inner;
  if (model == "multiscale") c.small = 3;
  return c.resolved();
}

Tensor random_images(int64_t n, int64_t c, int64_t side, int64_t levels, uint64_t seed) {
  fw::Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n * c * side * side));
  for (auto& a : v) a = static_cast<float>(rng.below(static_cast<uint64_t>(levels)));
  return Tensor::from_vector({n, c, side, side}, v);
}

// Natural-looking images: a bright disc on a smooth gradient (levels 256), or its thresholded shape (levels 2);
// the colour channels are shifted copies.
Tensor smooth_images(int64_t n, int64_t C, int64_t side, int64_t levels) {
  std::vector<float> v;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < C; ++ch)
      for (int64_t r = 0; r < side; ++r)
        for (int64_t c = 0; c < side; ++c) {
          const double cr = 1.5 + 0.5 * i, cc = 2.5 + 0.3 * i, d2 = (r - cr) * (r - cr) + (c - cc) * (c - cc);
          const double g = std::min(255.0, 20.0 * (r + c) + 30.0 * ch + (d2 < 4.0 ? 150.0 : 0.0));
          v.push_back(levels == 2 ? (d2 < 4.0 ? 1.0f : 0.0f) : static_cast<float>(std::floor(g)));
        }
  return Tensor::from_vector({n, C, side, side}, v);
}

void train_a_little(PixelModel& m, int64_t levels, uint64_t seed) {
  const ModelConfig& c = m.config();
  fw::optim::OptimizerOptions oo;
  oo.name = "adam";
  oo.lr = 0.05;
  auto opt = fw::optim::make_optimizer(m.named_parameters(), oo);
  Tensor batch = smooth_images(2, c.channels, c.height, levels);
  for (int s = 0; s < 3; ++s) {
    opt->zero_grad();
    fw::sum(m.nll(batch)).backward();
    opt->step();
  }
  (void)seed;
}

struct Case {
  std::string model, inner;
  int64_t channels, levels;
};

std::vector<Case> all_cases() {
  std::vector<Case> cs;
  for (const std::string m : {"pixelcnn", "row_lstm", "diagonal_bilstm"})
    for (auto [C, lv] : {std::pair<int64_t, int64_t>{1, 2}, {1, 256}, {3, 256}}) cs.push_back({m, "row_lstm", C, lv});
  for (const std::string in : {"pixelcnn", "row_lstm", "diagonal_bilstm"}) cs.push_back({"multiscale", in, 1, 2});
  cs.push_back({"multiscale", "pixelcnn", 3, 256});
  return cs;
}

std::vector<uint8_t> encode(PixelModel& m, const Tensor& x, double* ideal = nullptr) {
  fw::io::RangeEncoder enc;
  const double bits = encode_images(m, x, enc);
  if (ideal) *ideal = bits;
  return enc.finish();
}

}  // namespace

TEST_CASE("choose hook: the generator takes the chosen values, fast and naive, and checks them") {
  for (const Case& k : {Case{"pixelcnn", "row_lstm", 3, 256}, Case{"multiscale", "row_lstm", 1, 2}}) {
    CAPTURE(k.model);
    fw::Rng init(3);
    auto m = make_model(tiny(k.model, k.channels, k.levels, k.inner), init);
    for (bool naive : {false, true}) {
      // Every element takes value (draw index) mod levels; on_draw reports the chosen value.
      int64_t calls = 0, reported = 0;
      std::vector<int64_t> chosen;
      SampleOptions o;
      o.naive = naive;
      o.choose = [&](const DrawInfo& d) -> int64_t {
        CHECK(d.probs != nullptr);
        CHECK(static_cast<int64_t>(d.probs->size()) == k.levels);
        chosen.push_back((calls * 7 + 1) % k.levels);
        return chosen[static_cast<size_t>(calls++)];
      };
      o.on_draw = [&](const DrawInfo& d) { CHECK(d.value == chosen[static_cast<size_t>(reported++)]); };
      fw::Rng rng(1);
      const Tensor out = m->sample(Tensor::zeros({2, k.channels, 6, 6}), Tensor(), rng, o);
      CHECK(calls == 2 * k.channels * 36);
      CHECK(reported == calls);
      // The images are exactly the chosen values (non-constant, so not the zero canvas by chance).
      const std::vector<float> v = out.to_float_vector();
      std::vector<int64_t> seen(v.begin(), v.end());
      CHECK(*std::max_element(seen.begin(), seen.end()) > 0);
      // visit_elements (the true-value driver) reproduces a given image exactly.
      const Tensor x = random_images(2, k.channels, 6, k.levels, 9);
      SampleOptions o2;
      int64_t n2 = 0;
      visit_elements(*m, x, [&](const DrawInfo&) { ++n2; });
      CHECK(n2 == 2 * k.channels * 36);
    }
    SampleOptions bad;
    bad.choose = [&](const DrawInfo&) -> int64_t { return k.levels; };
    fw::Rng rng(1);
    CHECK_THROWS_WITH_AS(m->sample(Tensor::zeros({1, k.channels, 6, 6}), Tensor(), rng, bad),
                         doctest::Contains("choose hook returned"), std::invalid_argument);
  }
}

TEST_CASE("lossless coding: bit-exact round trips and size ~ NLL for every model kind") {
  for (const Case& k : all_cases()) {
    const std::string name = k.model + "(" + k.inner + ") C=" + std::to_string(k.channels) +
                             " levels=" + std::to_string(k.levels);
    CAPTURE(name);
    fw::Rng init(11);
    auto m = make_model(tiny(k.model, k.channels, k.levels, k.inner), init);
    train_a_little(*m, k.levels, 5);
    for (const Tensor& x : {random_images(3, k.channels, 6, k.levels, 21), smooth_images(3, k.channels, 6, k.levels)}) {
      double ideal = 0;
      const std::vector<uint8_t> bytes = encode(*m, x, &ideal);
      fw::io::RangeDecoder dec(bytes.data(), bytes.size());
      const Tensor y = decode_images(*m, 3, dec);
      REQUIRE(y.to_float_vector() == x.to_float_vector());
      CHECK(dec.overrun() == 0);
      CHECK(dec.position() == bytes.size());
      // Each element's quantized cost q against the model's NLL e of it (nll(), nats -> bits). The quantizer
      // gives frequency f in (p (T - K), p (T - K) + 2] for probability p = 2^-e (T = 2^16, K = levels), so
      //   -log2((p (T - K) + 2) / T) <= q <= e + log2(T / (T - K)),
      // with 1e-4 bits of slack for the float32 rounding between the generator and nll().
      const std::vector<double> nll = m->nll(x).to_vector();  // (N, C, H, W)
      double sum_q = 0;
      int64_t checked = 0;
      const double T = 65536.0, K = static_cast<double>(k.levels);
      visit_elements(*m, x, [&](const DrawInfo& d) {
        const double q = -std::log2(code_frequencies(*d.probs)[static_cast<size_t>(d.value)] / T);
        const double e = nll[static_cast<size_t>(((d.n * k.channels + d.channel) * 6 + d.row) * 6 + d.col)] /
                         std::log(2.0);
        const double p = std::exp2(-e);
        sum_q += q;
        ++checked;
        CHECK(q <= e + std::log2(T / (T - K)) + 1e-4);
        CHECK(q >= -std::log2(std::min(1.0, (p * (T - K) + 2) / T)) - 1e-4);
        if (e < 8.0) CHECK(std::fabs(q - e) <= 0.01 * e + 0.006);  // likely values: within 1%
      });
      CHECK(checked == x.numel());
      CHECK(std::fabs(sum_q - ideal) <= 1e-9 * ideal);
      CHECK(bytes.size() * 8.0 >= ideal);
      CHECK(bytes.size() * 8.0 <= ideal * 1.01 + 48);
      // A different image codes differently and decodes back to itself, not to x.
      Tensor x2 = x.to(fw::DType::F32);
      std::vector<float> v = x2.to_float_vector();
      v[v.size() / 2] = v[v.size() / 2] == 0 ? 1.0f : 0.0f;
      const Tensor x3 = Tensor::from_vector(x.shape(), v);
      const std::vector<uint8_t> b3 = encode(*m, x3);
      CHECK(b3 != bytes);
      fw::io::RangeDecoder d3(b3.data(), b3.size());
      CHECK(decode_images(*m, 3, d3).to_float_vector() == v);
    }
  }
}

TEST_CASE("lossless coding: the same frequencies and bytes at 1 and 2 threads") {
  for (const Case& k : {Case{"diagonal_bilstm", "row_lstm", 3, 256}, Case{"multiscale", "pixelcnn", 1, 256}}) {
    CAPTURE(k.model);
    fw::Rng init(2);
    auto m = make_model(tiny(k.model, k.channels, k.levels, k.inner), init);
    train_a_little(*m, k.levels, 1);
    const Tensor x = random_images(5, k.channels, 6, k.levels, 4);
    auto freqs = [&] {
      std::vector<uint32_t> all;
      visit_elements(*m, x, [&](const DrawInfo& d) {
        const auto f = code_frequencies(*d.probs);
        all.insert(all.end(), f.begin(), f.end());
      });
      return all;
    };
    fw::set_num_threads(1);
    const auto f1 = freqs();
    const auto b1 = encode(*m, x);
    fw::set_num_threads(2);
    const auto f2 = freqs();
    const auto b2 = encode(*m, x);
    fw::set_num_threads(0);
    CHECK(f1 == f2);
    CHECK(b1 == b2);
  }
}

TEST_CASE("compressed file: header round trip; every truncation, bad field and flipped header bit is refused") {
  using namespace pixelrnn::tool;
  CompressedHeader h;
  h.height = 28;
  h.width = 28;
  h.channels = 1;
  h.levels = 2;
  h.chunk = 64;
  h.count = 1000;
  h.weights_hash = 0x0123456789abcdefull;
  h.checksum = 42;
  const std::vector<uint8_t> payload = {1, 2, 3, 4, 5, 6, 7};
  const std::vector<uint8_t> file = serialize_compressed(h, payload);
  REQUIRE(file.size() == kCompressedHeaderSize + payload.size());
  const uint8_t* p = nullptr;
  const CompressedHeader g = parse_compressed(file.data(), file.size(), "f.pxz", &p);
  CHECK(g.height == 28);
  CHECK(g.count == 1000);
  CHECK(g.chunk == 64);
  CHECK(g.weights_hash == h.weights_hash);
  CHECK(g.checksum == 42);
  CHECK(g.payload_size == payload.size());
  CHECK(p == file.data() + kCompressedHeaderSize);
  for (size_t n = 0; n < file.size(); ++n)
    CHECK_THROWS_WITH_AS(parse_compressed(file.data(), n, "f.pxz", &p), doctest::Contains("f.pxz: "),
                         CompressedFileError);
  for (size_t bit = 0; bit < 8 * kCompressedHeaderSize; ++bit) {
    std::vector<uint8_t> b = file;
    b[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    CHECK_THROWS_AS(parse_compressed(b.data(), b.size(), "f.pxz", &p), CompressedFileError);
  }
  // Fields out of range, with a valid header hash.
  auto bad = [&](CompressedHeader x, const std::string& msg) {
    const std::vector<uint8_t> b = serialize_compressed(x, payload);
    CHECK_THROWS_WITH_AS(parse_compressed(b.data(), b.size(), "f.pxz", &p), doctest::Contains(msg.c_str()),
                         CompressedFileError);
  };
  CompressedHeader x = h;
  x.levels = 3;
  bad(x, "levels 3");
  x = h;
  x.channels = 2;
  bad(x, "channels 2");
  x = h;
  x.chunk = 0;
  bad(x, "chunk 0");
  x = h;
  x.chunk = 1001;
  bad(x, "chunk 1001");
  x = h;
  x.count = 0;
  bad(x, "image count 0");
  x = h;
  x.height = 4097;
  bad(x, "out of range");
  x = h;
  x.version = 2;
  bad(x, "version 2");
  x = h;
  x.count = 1 << 20;
  x.height = x.width = 4096;
  bad(x, "too many pixel values");
}

// ---- the commands ----

using namespace tool_harness;

namespace {

std::vector<uint8_t> read_bytes(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void write_bytes(const std::string& p, const std::vector<uint8_t>& b) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace

TEST_CASE("pixelrnn compress / decompress: round trips, wrong model, truncated and corrupt files") {
  Fixture f;
  const std::string run1 = f.t / "run1", run2 = f.t / "run2", run3 = f.t / "run3";
  Result r = run(f.t, plus(tiny_train(f, run1), {"--epochs", "1", "--quiet"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  r = run(f.t, plus(tiny_train(f, run2, "row_lstm"), {"--epochs", "1", "--quiet"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  const std::string ck1 = run1 + "/last.safetensors", ck2 = run2 + "/last.safetensors";
  const std::string z = f.t / "test.pxz";

  // A dataset split (levels 2, binarized as eval does) -> IDX; compressing that IDX again gives the same file.
  r = run(f.t, {"compress", "--checkpoint", ck1, "--data", f.data, "-o", z, "--chunk", "3", "--quiet"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  const std::vector<uint8_t> zb = read_bytes(z);
  REQUIRE(zb.size() > pixelrnn::tool::kCompressedHeaderSize);
  r = run(f.t, {"decompress", "--checkpoint", ck1, z, "-o", f.t / "out-images-idx3-ubyte", "--quiet"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  const fw::io::Dataset back = fw::io::load_dataset(f.t / "out-images-idx3-ubyte", "test");
  CHECK(back.n == 8);
  for (uint8_t v : back.pixels) CHECK((v == 0 || v == 255));
  r = run(f.t, {"compress", "--checkpoint", ck1, "--data", f.t / "out-images-idx3-ubyte", "--binarize", "threshold",
                "-o", f.t / "again.pxz", "--chunk", "3", "--threads", "1", "--quiet"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  CHECK(read_bytes(f.t / "again.pxz") == zb);

  // PNG files -> a folder of PNGs, pixel for pixel (binary PNGs for the levels-2 model).
  std::vector<std::string> pngs;
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> px(64);
    for (size_t j = 0; j < px.size(); ++j) px[j] = ((j * (i + 3) + j / 8) % 5 < 2) ? 255 : 0;
    pngs.push_back(f.t / ("in" + std::to_string(i) + ".png"));
    fw::io::write_png(pngs.back(), px.data(), 1, 8, 8);
  }
  r = run(f.t, plus({"compress", "--checkpoint", ck1, "-o", f.t / "p.pxz", "--quiet"}, pngs));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  r = run(f.t, {"decompress", "--checkpoint", ck1, f.t / "p.pxz", "-o", f.t / "pngs", "--quiet"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  for (int i = 0; i < 3; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%06d.png", i);
    CHECK(fw::io::read_png(f.t / ("pngs/" + std::string(name)), 1).pixels == fw::io::read_png(pngs[i], 1).pixels);
  }
  // Grey PNG pixels for a binary model: refused, naming the file and --binarize.
  std::vector<uint8_t> grey(64, 100);
  fw::io::write_png(f.t / "grey.png", grey.data(), 1, 8, 8);
  r = run(f.t, {"compress", "--checkpoint", ck1, "-o", f.t / "g.pxz", f.t / "grey.png"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "grey.png"));
  CHECK(contains(r.err, "--binarize"));

  // A 256-level model on the same data.
  r = run(f.t, plus(tiny_train(f, run3), {"--epochs", "1", "--levels", "256", "--quiet"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  r = run(f.t, {"compress", "--checkpoint", run3 + "/last.safetensors", "--data", f.data, "-o", f.t / "l.pxz", "--quiet"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  r = run(f.t, {"decompress", "--checkpoint", run3 + "/last.safetensors", f.t / "l.pxz", "-o", f.t / "l.idx", "--quiet"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  CHECK(fw::io::load_dataset(f.t / "l.idx", "test").pixels == fw::io::load_dataset(f.data, "test").pixels);

  // Another model: refused, naming both hashes.
  r = run(f.t, {"decompress", "--checkpoint", ck2, z, "-o", f.t / "x.idx"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "weights hash 0x"));
  CHECK(contains(r.err, ck2 + " has weights hash 0x"));
  // Truncated (header and payload), trailing bytes, a corrupt header, a corrupt payload, not a compressed file.
  struct Bad {
    std::vector<uint8_t> bytes;
    std::string message;
  };
  std::vector<Bad> bad;
  bad.push_back({std::vector<uint8_t>(zb.begin(), zb.begin() + 40), "truncated"});
  bad.push_back({std::vector<uint8_t>(zb.begin(), zb.end() - 3), "truncated"});
  auto trailing = zb;
  trailing.push_back(0);
  bad.push_back({trailing, "unexpected bytes"});
  auto head = zb;
  head[13] ^= 1;  // height
  bad.push_back({head, "corrupt header"});
  auto body = zb;
  body[pixelrnn::tool::kCompressedHeaderSize + (zb.size() - pixelrnn::tool::kCompressedHeaderSize) / 2] ^= 0x10;
  bad.push_back({body, "corrupt"});
  bad.push_back({std::vector<uint8_t>(100, 'x'), "not a pixelrnn compressed file"});
  for (const Bad& b : bad) {
    CAPTURE(b.message);
    write_bytes(f.t / "bad.pxz", b.bytes);
    r = run(f.t, {"decompress", "--checkpoint", ck1, f.t / "bad.pxz", "-o", f.t / "bad-out.idx", "--quiet"});
    CHECK(r.rc == 1);
    CHECK(contains(r.err, "bad.pxz"));
    CHECK(contains(r.err, b.message));
    CHECK(!fsys::exists(f.t / "bad-out.idx"));
  }
}
