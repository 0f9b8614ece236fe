// tests/test_tool.cpp: the pixelrnn program, run as a subprocess (its path comes from $PIXELRNN_BIN, set by
// tests/meson.build) on tiny generated datasets (40 random 8x8 images written as IDX into a temp folder) with tiny
// models and a few steps: train, resume bit-exactness, eval, sample, complete, signals, and every bad-input case
// of docs/tool.md with its exit status, its message and "nothing overwritten". No network.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/io/cifar.h"
#include "framework/io/idx.h"
#include "framework/io/npy.h"
#include "framework/io/png.h"
#include "framework/io/safetensors.h"
#include "tests/tool_harness.h"

using namespace tool_harness;

TEST_CASE("help, version and usage errors") {
  TempDir t;
  Result r = run(t, {"--help"});
  CHECK(r.rc == 0);
  for (const char* c : {"train", "eval", "sample", "complete", "receptive-field"}) CHECK(contains(r.out, c));
  r = run(t, {"--version"});
  CHECK(r.rc == 0);
  CHECK(contains(r.out, "pixelrnn "));
  for (const char* c : {"train", "eval", "sample", "complete", "receptive-field"}) {
    r = run(t, {c, "--help"});
    CHECK_MESSAGE(r.rc == 0, c);
    CHECK(contains(r.out, std::string("usage: pixelrnn ") + c));
  }
  r = run(t, {"frobnicate"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "unknown command 'frobnicate'"));
  r = run(t, {"train", "--bogus", "1"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "unknown flag '--bogus'"));
  r = run(t, {"train", "--model", "nosuchnet", "--data", "x", "--out", t / "o"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "unknown value 'nosuchnet'"));
  CHECK(contains(r.err, "pixelcnn"));
  CHECK(!fsys::exists(t / "o"));
  r = run(t, {"train", "--data", "x"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "--out"));
  r = run(t, {"train", "--data", "x", "--out", t / "o", "--levels", "3"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "--levels"));
  r = run(t, {"train", "--data", "x", "--out", t / "o", "--batch", "many"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "--batch: expected an integer, got 'many'"));
  r = run(t, {"eval"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "--checkpoint"));
  r = run(t, {"sample", "--checkpoint", t / "c.safetensors", "-o"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "-o needs a value"));
}

TEST_CASE("train writes a checkpoint, metrics and sample grids; eval, sample and complete use it") {
  Fixture f;
  const std::string out = f.t / "run";
  Result r = run(f.t, plus(tiny_train(f, out), {"--epochs", "2", "--json"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  CHECK(contains(r.err, "configuration:"));
  CHECK(contains(r.err, "batch: 8"));
  const std::string ckpt = out + "/last.safetensors";
  REQUIRE(fsys::exists(ckpt));
  CHECK(fsys::exists(out + "/config.json"));
  CHECK(fsys::exists(out + "/samples/epoch-0001.png"));
  CHECK(fsys::exists(out + "/samples/epoch-0002.png"));
  const nlohmann::json summary = nlohmann::json::parse(r.out);
  CHECK(summary["steps"] == 8);
  CHECK(summary["epoch"] == 2);
  CHECK(summary["interrupted"].is_null());

  const Strings rows = csv_rows(out + "/metrics.csv");
  REQUIRE(rows.size() == 9);  // header + 8 steps
  CHECK(rows[0] == "step,epoch,loss_nats,bits_per_dim,val_nll_nats,val_bits_per_dim,images_per_s,elapsed_s,val_s,"
                   "grid_s");
  CHECK(rows[1].rfind("1,1,", 0) == 0);
  CHECK(rows[3].find(",,") != std::string::npos);   // no validation mid-epoch
  CHECK(rows[4].find(",,") == std::string::npos);   // validation NLL at the end of epoch 1 (step 4)
  CHECK(rows[8].rfind("8,2,", 0) == 0);

  const auto meta = load(ckpt).metadata;
  CHECK(meta.at("format_version") == "1");
  CHECK(meta.at("step") == "8");
  CHECK(meta.at("epoch") == "2");
  CHECK(meta.at("model.model") == "pixelcnn");
  CHECK(meta.at("train.batch") == "8");
  bool has_optim = false;
  for (const auto& [name, tensor] : load(ckpt).tensors) has_optim = has_optim || name.rfind("optim.", 0) == 0;
  CHECK(has_optim);

  SUBCASE("eval --json and --per-pixel") {
    r = run(f.t, {"eval", "--checkpoint", ckpt, "--data", f.data, "--json", "--per-pixel", f.t / "pp.npy"});
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    REQUIRE(j.contains("nll_nats"));
    REQUIRE(j.contains("bits_per_dim"));
    CHECK(j["images"] == 8);
    const double nll = j["nll_nats"], bpd = j["bits_per_dim"];
    CHECK(nll > 0);
    CHECK(bpd == doctest::Approx(nll / (1 * 8 * 8 * std::log(2.0))).epsilon(1e-12));
    const fw::io::NpyArray a = fw::io::read_npy(f.t / "pp.npy");
    CHECK(a.descr == "<f4");
    CHECK(a.shape == std::vector<int64_t>{8, 1, 8, 8});
    double total = 0;
    for (float v : a.as_f32()) {
      CHECK(v >= 0.0f);
      total += v;
    }
    CHECK(total / 8 == doctest::Approx(nll).epsilon(1e-9));
    // -n picks the first images; the train split works too.
    r = run(f.t, {"eval", "--checkpoint", ckpt, "--data", f.data, "-n", "3", "--split", "train", "--json"});
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    CHECK(nlohmann::json::parse(r.out)["images"] == 3);
  }
  SUBCASE("sample writes a grid of the right size, reproducibly") {
    r = run(f.t, {"sample", "--checkpoint", ckpt, "-n", "5", "--seed", "3", "-o", f.t / "s.png", "--npy", f.t / "s.npy"});
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    const fw::io::Image img = fw::io::read_png(f.t / "s.png", 1);
    CHECK(img.w == 5 * 64 + 6 * 2);  // 8x8 images upscaled 8x, 2 pixels of padding
    CHECK(img.h == 64 + 2 * 2);
    const fw::io::NpyArray a = fw::io::read_npy(f.t / "s.npy");
    CHECK(a.descr == "|u1");
    CHECK(a.shape == std::vector<int64_t>{5, 1, 8, 8});
    for (uint8_t v : a.data) CHECK(v <= 1);
    r = run(f.t, {"sample", "--checkpoint", ckpt, "-n", "5", "--seed", "3", "--npy", f.t / "s2.npy"});
    REQUIRE(r.rc == 0);
    CHECK(read_text(f.t / "s.npy") == read_text(f.t / "s2.npy"));
  }
  SUBCASE("complete keeps the visible pixels exactly (threshold-binarized data)") {
    // A threshold-binarized model so the visible pixels can be computed here.
    const std::string out2 = f.t / "run2";
    r = run(f.t, plus(tiny_train(f, out2), {"--steps", "2", "--binarize", "threshold"}));
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    r = run(f.t, {"complete", "--checkpoint", out2 + "/last.safetensors", "--data", f.data, "-n", "3", "-k", "2",
                  "-o", f.t / "c.png", "--npy", f.t / "c.npy"});
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    const fw::io::NpyArray a = fw::io::read_npy(f.t / "c.npy");
    REQUIRE(a.shape == std::vector<int64_t>{3, 2, 1, 8, 8});
    const fw::io::Dataset test = fw::io::read_idx_images(f.data + "/t10k-images-idx3-ubyte");
    // -n 3 of 8 test images: spread evenly, image floor((i + 1) * 8 / 3) - 1 = 1, 4, 7.
    const int64_t picked[3] = {1, 4, 7};
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 2; ++j)
        for (int64_t y = 0; y < 8; ++y)
          for (int64_t x = 0; x < 8; ++x) {
            const uint8_t got = a.data[size_t(((i * 2 + j) * 8 + y) * 8 + x)];
            if (y < 4) CHECK(got == (test.at(picked[i], 0, y, x) >= 128 ? 1 : 0));
            else CHECK(got <= 1);
          }
    const fw::io::Image grid = fw::io::read_png(f.t / "c.png", 1);
    CHECK(grid.w == 4 * 64 + 5 * 2);  // original | occluded | 2 completions
    CHECK(grid.h == 3 * 64 + 4 * 2);
  }
}

TEST_CASE("complete with 8-bit pixels, a rectangle and PNG inputs") {
  Fixture f;
  const std::string out = f.t / "run";
  Result r = run(f.t, plus(tiny_train(f, out, "row_lstm"), {"--levels", "256", "--steps", "1", "--grid", "0"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  const std::string ckpt = out + "/last.safetensors";
  const fw::io::Dataset test = fw::io::read_idx_images(f.data + "/t10k-images-idx3-ubyte");
  fw::io::write_png(f.t / "a.png", test.image(5), 1, 8, 8);
  fw::io::write_png(f.t / "b.png", test.image(6), 1, 8, 8);
  r = run(f.t, {"complete", "--checkpoint", ckpt, f.t / "a.png", f.t / "b.png", "-k", "3", "--rect", "2,3,4,2",
                "--npy", f.t / "c.npy", "-o", f.t / "c.png"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  const fw::io::NpyArray a = fw::io::read_npy(f.t / "c.npy");
  REQUIRE(a.shape == std::vector<int64_t>{2, 3, 1, 8, 8});
  int64_t changed = 0;
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t y = 0; y < 8; ++y)
        for (int64_t x = 0; x < 8; ++x) {
          const uint8_t got = a.data[size_t(((i * 3 + j) * 8 + y) * 8 + x)], want = test.at(5 + i, 0, y, x);
          const bool hidden = y >= 2 && y < 6 && x >= 3 && x < 5;
          if (!hidden) CHECK(got == want);
          else changed += got != want;
        }
  CHECK(changed > 0);  // 48 hidden values drawn from a 256-way softmax
  // A PNG of the wrong size is refused, naming the file.
  std::vector<uint8_t> px(36, 9);
  fw::io::write_png(f.t / "small.png", px.data(), 1, 6, 6);
  r = run(f.t, {"complete", "--checkpoint", ckpt, f.t / "small.png", "-o", f.t / "d.png"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "small.png"));
  CHECK(!fsys::exists(f.t / "d.png"));
}

TEST_CASE("resume is bit-exact: N steps straight == k steps + resume + N-k steps") {
  Fixture f;
  for (const char* model : {"pixelcnn", "diagonal_bilstm"}) {
    CAPTURE(model);
    const std::string a = f.t / (std::string("straight_") + model);
    Result r = run(f.t, plus(tiny_train(f, a, model), {"--steps", "7", "--seed", "5"}));
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    for (const char* k : {"3", "4"}) {  // mid-epoch and exactly at the end of epoch 1
      CAPTURE(k);
      const std::string b = f.t / (std::string("resumed_") + model + k);
      r = run(f.t, plus(tiny_train(f, b, model), {"--steps", k, "--seed", "5"}));
      REQUIRE_MESSAGE(r.rc == 0, r.err);
      CHECK(load(b + "/last.safetensors").metadata.at("step") == k);
      r = run(f.t, {"train", "--out", b, "--resume", "--steps", "7"});  // everything else from the checkpoint
      REQUIRE_MESSAGE(r.rc == 0, r.err);
      const auto sa = load(a + "/last.safetensors"), sb = load(b + "/last.safetensors");
      CHECK(sb.metadata.at("step") == "7");
      CHECK(same_tensors(sa, sb));
      CHECK(sa.metadata.at("rng.sample") == sb.metadata.at("rng.sample"));
      CHECK(sa.metadata.at("batches.position") == sb.metadata.at("batches.position"));
      // The metrics agree row by row on step, epoch and losses (timings differ).
      const Strings ra = csv_rows(a + "/metrics.csv"), rb = csv_rows(b + "/metrics.csv");
      REQUIRE(ra.size() == 8);
      REQUIRE(rb.size() == 8);
      for (size_t i = 1; i < ra.size(); ++i) {
        auto head = [](const std::string& s) {  // the first six columns
          size_t pos = 0;
          for (int c = 0; c < 6; ++c) pos = s.find(',', pos) + 1;
          return s.substr(0, pos);
        };
        CHECK(head(ra[i]) == head(rb[i]));
      }
    }
  }
}

TEST_CASE("a resumed run refuses a different configuration and leaves the checkpoint alone") {
  Fixture f;
  const std::string out = f.t / "run";
  Result r = run(f.t, plus(tiny_train(f, out), {"--steps", "2"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  const std::string ckpt = out + "/last.safetensors";
  const std::string before = read_text(ckpt), metrics = read_text(out + "/metrics.csv");
  r = run(f.t, {"train", "--out", out, "--resume", "--model", "row_lstm", "--steps", "4"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "pixelcnn"));
  CHECK(contains(r.err, "row_lstm"));
  r = run(f.t, {"train", "--out", out, "--resume", "--batch", "4", "--hidden", "6", "--steps", "4"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "batch: 8 in the checkpoint vs 4 asked"));
  CHECK(contains(r.err, "hidden"));
  // Another image size: the same run resumed on 6x6 images.
  write_idx_dataset(f.t / "six", 40, 8, 6, 1);
  r = run(f.t, {"train", "--out", out, "--resume", "--data", f.t / "six", "--steps", "4"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "height"));
  // A fresh run into the same folder.
  r = run(f.t, plus(tiny_train(f, out), {"--steps", "2"}));
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "already holds a training run"));
  CHECK(read_text(ckpt) == before);
  CHECK(read_text(out + "/metrics.csv") == metrics);
  // Resuming a folder without a checkpoint.
  r = run(f.t, {"train", "--out", f.t / "empty", "--resume"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "no checkpoint to resume"));
}

TEST_CASE("eval, sample and complete refuse a checkpoint for other images") {
  Fixture f;
  const std::string out = f.t / "run";
  Result r = run(f.t, plus(tiny_train(f, out), {"--steps", "1"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  const std::string ckpt = out + "/last.safetensors";
  write_idx_dataset(f.t / "six", 10, 10, 6, 2);
  r = run(f.t, {"eval", "--checkpoint", ckpt, "--data", f.t / "six"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "1x8x8"));
  CHECK(contains(r.err, "1x6x6"));
  // Three channels (a CIFAR-10 batch).
  fw::io::Dataset cifar;
  cifar.n = 2;
  cifar.c = 3;
  cifar.h = cifar.w = 32;
  cifar.pixels.assign(size_t(2 * 3 * 32 * 32), 100);
  cifar.labels = {1, 2};
  fw::io::write_cifar_batch(f.t / "test_batch.bin", cifar);
  write_text(f.t / "keep.png", "old");
  r = run(f.t, {"complete", "--checkpoint", ckpt, "--data", f.t / "test_batch.bin", "-o", f.t / "keep.png"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "3x32x32"));
  CHECK(read_text(f.t / "keep.png") == "old");
  r = run(f.t, {"eval", "--checkpoint", ckpt, "--data", f.data, "-n", "9"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "holds only 8 images"));
}

TEST_CASE("truncated and corrupted checkpoints are refused, naming the file; nothing is overwritten") {
  Fixture f;
  const std::string out = f.t / "run";
  Result r = run(f.t, plus(tiny_train(f, out), {"--steps", "1"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  const std::string good = read_text(out + "/last.safetensors");
  std::string header_size_bad = good, json_bad = good;
  for (int i = 0; i < 8; ++i) header_size_bad[size_t(i)] = char(0x7f);  // a header size far above the cap
  json_bad[8] = '[';                                                       // the header is no longer an object
  // A hand-made file whose tensor's offsets run past the end of the data.
  const std::string hdr = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,800]}})";
  std::string oob(8, '\0');
  for (int i = 0; i < 8; ++i) oob[size_t(i)] = char((hdr.size() >> (8 * i)) & 0xff);
  oob += hdr + std::string(8, '\0');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"truncated.safetensors", good.substr(0, good.size() / 2)},
      {"header_size.safetensors", header_size_bad},
      {"json.safetensors", json_bad},
      {"offsets.safetensors", oob},
      {"empty.safetensors", ""},
  };
  write_text(f.t / "keep.png", "old");
  write_text(f.t / "keep.npy", "old");
  for (const auto& [name, bytes] : cases) {
    CAPTURE(name);
    write_text(f.t / name, bytes);
    r = run(f.t, {"eval", "--checkpoint", f.t / name, "--data", f.data, "--per-pixel", f.t / "keep.npy"});
    CHECK(r.rc == 1);
    CHECK(contains(r.err, name));
    r = run(f.t, {"sample", "--checkpoint", f.t / name, "-o", f.t / "keep.png"});
    CHECK(r.rc == 1);
    CHECK(contains(r.err, name));
    // The same file as the last checkpoint of a run: --resume refuses it and keeps it.
    write_text(out + "/last.safetensors", bytes);
    r = run(f.t, {"train", "--out", out, "--resume", "--steps", "3"});
    CHECK(r.rc == 1);
    CHECK(contains(r.err, "last.safetensors"));
    CHECK(read_text(out + "/last.safetensors") == bytes);
  }
  CHECK(read_text(f.t / "keep.png") == "old");
  CHECK(read_text(f.t / "keep.npy") == "old");
  r = run(f.t, {"eval", "--checkpoint", f.t / "missing.safetensors", "--data", f.data});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "missing.safetensors"));
  r = run(f.t, {"eval", "--checkpoint", f.t.path, "--data", f.data});  // a folder, not a file
  CHECK(r.rc == 1);
}

TEST_CASE("bad data and unwritable outputs give clear errors") {
  Fixture f;
  Result r = run(f.t, plus(tiny_train(f, f.t / "a"), {"--data", f.t / "nothing-here"}));
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "nothing-here"));
  write_text(f.t / "garbage-idx3-ubyte", "this is not an IDX file at all");
  r = run(f.t, plus(tiny_train(f, f.t / "a"), {"--data", f.t / "garbage-idx3-ubyte"}));
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "garbage-idx3-ubyte"));
  // An IDX file that holds no images.
  const std::string empty_idx = std::string("\0\0\x08\x03\0\0\0\0\0\0\0\x08\0\0\0\x08", 16);
  write_text(f.t / "empty-idx3-ubyte", empty_idx);
  r = run(f.t, plus(tiny_train(f, f.t / "a"), {"--data", f.t / "empty-idx3-ubyte"}));
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "empty-idx3-ubyte"));
  r = run(f.t, plus(tiny_train(f, f.t / "a"), {"--batch", "33"}));
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "--batch 33 is larger than the training set: 32 images"));
  CHECK(!fsys::exists(f.t / "a"));
  // An output folder that cannot be created (its parent is a file).
  write_text(f.t / "file", "x");
  r = run(f.t, plus(tiny_train(f, f.t / "file/run"), {"--steps", "1"}));
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "file/run"));
  CHECK(read_text(f.t / "file") == "x");
  // Output files in a folder that does not exist.
  r = run(f.t, plus(tiny_train(f, f.t / "ok"), {"--steps", "1"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  r = run(f.t, {"sample", "--checkpoint", f.t / "ok/last.safetensors", "-o", f.t / "no/such/dir/s.png"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "does not exist"));
  r = run(f.t, {"eval", "--checkpoint", f.t / "ok/last.safetensors", "--per-pixel", f.t / "no/pp.npy"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "no/pp.npy"));
}

TEST_CASE("a NaN loss stops training naming the step and keeps the last good checkpoint") {
  Fixture f;
  const std::string out = f.t / "run";
  // Step 4 ends epoch 1 (a checkpoint); step 6 goes wrong.
  Result r = run(f.t, plus(tiny_train(f, out), {"--steps", "10", "--inject-nan-at", "6"}));
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "step 6: the loss is NaN"));
  const auto ck = load(out + "/last.safetensors");
  CHECK(ck.metadata.at("step") == "4");
  // The run continues from there.
  r = run(f.t, {"train", "--out", out, "--resume", "--steps", "6"});
  CHECK_MESSAGE(r.rc == 0, r.err);
  CHECK(csv_rows(out + "/metrics.csv").size() == 7);
}

TEST_CASE("SIGTERM and SIGINT save a loadable checkpoint and exit with 143 / 130") {
  Fixture f;
  for (const int sig : {SIGTERM, SIGINT}) {
    CAPTURE(sig);
    const std::string out = f.t / ("run" + std::to_string(sig));
    const pid_t pid = spawn(plus(tiny_train(f, out), {"--steps", "100000000", "--grid", "0"}), f.t / ".o", f.t / ".e");
    // Wait until a few steps have been logged (at most 120 s).
    const auto start = std::chrono::steady_clock::now();
    while (csv_rows(out + "/metrics.csv").size() < 4 &&
           std::chrono::steady_clock::now() - start < std::chrono::seconds(120))
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE(csv_rows(out + "/metrics.csv").size() >= 4);
    ::kill(pid, sig);
    const int rc = wait_rc(pid);
    CHECK(rc == (sig == SIGTERM ? 143 : 130));
    CHECK(contains(read_text(f.t / ".e"), sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    const auto ck = load(out + "/last.safetensors");
    const int64_t step = std::stoll(ck.metadata.at("step"));
    CHECK(step >= 3);
    CHECK(int64_t(csv_rows(out + "/metrics.csv").size()) == step + 1);
    const Result r = run(f.t, {"train", "--out", out, "--resume", "--steps", std::to_string(step + 2)});
    CHECK_MESSAGE(r.rc == 0, r.err);
    CHECK(load(out + "/last.safetensors").metadata.at("step") == std::to_string(step + 2));
  }
}

TEST_CASE("receptive-field draws a PNG and counts the pixels seen") {
  TempDir t;
  Result r = run(t, {"receptive-field", "--model", "pixelcnn", "--hidden", "3", "--layers", "1", "--size", "8",
                     "--pixel", "4,4", "--scale", "4", "-o", t / "rf.png"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  const fw::io::Image img = fw::io::read_png(t / "rf.png", 3);
  CHECK(img.h == 32);
  CHECK(img.w == 32);
  CHECK(contains(r.out, "sees "));
  r = run(t, {"receptive-field", "--model", "pixelcnn", "--size", "8", "--pixel", "8,0", "-o", t / "rf2.png"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "outside"));
  CHECK(!fsys::exists(t / "rf2.png"));
}

TEST_CASE("a checkpoint whose tensors do not fit its configuration is refused, naming the tensors") {
  Fixture f;
  const std::string out = f.t / "run";
  Result r = run(f.t, plus(tiny_train(f, out), {"--steps", "1"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  // The same tensors under another model's configuration.
  fw::io::SafetensorsFile ck = load(out + "/last.safetensors");
  ck.metadata["model.model"] = "row_lstm";
  fw::io::save_safetensors(f.t / "other.safetensors", ck.tensors, ck.metadata);
  r = run(f.t, {"eval", "--checkpoint", f.t / "other.safetensors"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "other.safetensors"));
  CHECK(contains(r.err, "row_lstm"));
  CHECK(contains(r.err, "unexpected tensor 'blocks.0.conv.weight'"));
  // Without the format version it is not a pixelrnn checkpoint.
  ck.metadata.erase("format_version");
  fw::io::save_safetensors(f.t / "nover.safetensors", ck.tensors, ck.metadata);
  r = run(f.t, {"sample", "--checkpoint", f.t / "nover.safetensors", "-o", f.t / "s.png"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "format_version"));
  // eval without --data uses the data the checkpoint was trained on (its test split: 8 images).
  r = run(f.t, {"eval", "--checkpoint", out + "/last.safetensors", "--json"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  CHECK(nlohmann::json::parse(r.out)["images"] == 8);
  // An unreadable checkpoint (permissions do not apply to root, so only checked for other users).
  if (::geteuid() != 0) {
    fsys::copy_file(out + "/last.safetensors", f.t / "locked.safetensors");
    fsys::permissions(f.t / "locked.safetensors", fsys::perms::none);
    r = run(f.t, {"eval", "--checkpoint", f.t / "locked.safetensors"});
    CHECK(r.rc == 1);
    CHECK(contains(r.err, "locked.safetensors"));
  }
}

TEST_CASE("class conditioning: train --conditional, sample --class K / all, eval's conditional NLL, clear errors") {
  Fixture f;
  // Labels beside the fixture's images (0..3), so the data is like MNIST's.
  std::vector<int32_t> tr(40), te(8);
  for (size_t i = 0; i < tr.size(); ++i) tr[i] = int32_t(i % 4);
  for (size_t i = 0; i < te.size(); ++i) te[i] = int32_t(i % 4);
  fw::io::write_idx_labels(f.data + "/train-labels-idx1-ubyte", tr, false);
  fw::io::write_idx_labels(f.data + "/t10k-labels-idx1-ubyte", te, false);
  const std::string out = f.t / "cond";
  Result r = run(f.t, plus(tiny_train(f, out, "gated_pixelcnn"), {"--steps", "2", "--conditional"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  const std::string ckpt = out + "/last.safetensors";
  CHECK(load(ckpt).metadata.at("model.classes") == "4");
  // One class: every image from p(x | 2); all classes: --per-row images of each, one grid row per class.
  r = run(f.t, {"sample", "--checkpoint", ckpt, "--class", "2", "-n", "3", "--npy", f.t / "k.npy", "--quiet"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  r = run(f.t, {"sample", "--checkpoint", ckpt, "--class", "all", "--per-row", "2", "-o", f.t / "all.png",
                "--npy", f.t / "all.npy", "--quiet"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  CHECK(fw::io::read_npy(f.t / "all.npy").shape == std::vector<int64_t>{8, 1, 8, 8});
  r = run(f.t, {"sample", "--checkpoint", ckpt, "--class", "all", "-n", "4", "-o", f.t / "x.png"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "-n does not apply"));
  r = run(f.t, {"sample", "--checkpoint", ckpt, "-o", f.t / "x.png"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "class-conditional (4 classes): give --class K (0..3) or --class all"));
  r = run(f.t, {"sample", "--checkpoint", ckpt, "--class", "4", "-o", f.t / "x.png"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "--class"));
  // eval: the conditional NLL, said so.
  r = run(f.t, {"eval", "--checkpoint", ckpt, "--data", f.data, "--quiet"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  CHECK(contains(r.out, "conditional NLL -log p(x | label)"));
  r = run(f.t, {"eval", "--checkpoint", ckpt, "--data", f.data, "--json", "--quiet"});
  CHECK(nlohmann::json::parse(r.out).at("conditional") == true);
  // complete: each test image completed given its own label.
  r = run(f.t, {"complete", "--checkpoint", ckpt, "--data", f.data, "-n", "2", "-k", "1", "--npy", f.t / "c.npy",
                "--quiet"});
  CHECK_MESSAGE(r.rc == 0, r.err);
  // An unconditional model given --class; --conditional on data without labels.
  const std::string plain = f.t / "plain";
  r = run(f.t, plus(tiny_train(f, plain), {"--steps", "1"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  r = run(f.t, {"sample", "--checkpoint", plain + "/last.safetensors", "--class", "1", "-o", f.t / "x.png"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "is unconditional (trained without --conditional)"));
  write_idx_dataset(f.t / "nolabels", 20, 4, 8, 3);
  r = run(f.t, plus(tiny_train(f, f.t / "nl"), {"--data", f.t / "nolabels", "--steps", "1", "--conditional"}));
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "no class labels"));
}
