// tests/test_tool_runs.cpp: the pixelrnn program's run folders and long waits (issue 11), run as a subprocess on
// tiny generated datasets: the run-folder lock and what kill -9 leaves, a folder without a checkpoint, the memory
// check, PNG size errors, one epoch count, the epoch's mean loss, typed config.json, usage errors naming the flags
// as typed, the data-folder lookup, progress lines and --quiet, the automatic grid, training-only timings, and
// SIGINT inside sampling and inside the epoch grid. No network.
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "framework/io/png.h"
#include "tests/tool_harness.h"
#include "tools/pixelrnn/progress.h"

using namespace tool_harness;

namespace {

using Clock = std::chrono::steady_clock;

// Waits up to `seconds` for pred(); returns whether it became true.
template <class Pred>
bool wait_for(Pred pred, double seconds) {
  const auto start = Clock::now();
  while (!pred()) {
    if (std::chrono::duration<double>(Clock::now() - start).count() > seconds) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// A pid that is certainly not running: a child that has exited and been reaped.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) ::_exit(0);
  wait_rc(pid);
  return pid;
}

// The comma-separated fields of a CSV row.
Strings fields(const std::string& row) {
  Strings out;
  std::string cell;
  std::istringstream in(row);
  while (std::getline(in, cell, ',')) out.push_back(cell);
  if (!row.empty() && row.back() == ',') out.push_back("");
  return out;
}

uint32_t crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

const std::map<std::string, std::string> kNoDataEnv = {{"PIXELRNN_DATA", ""}};

}  // namespace

TEST_CASE("two trainings cannot share a run folder; kill -9 leaves no lock; stale temporaries are removed") {
  Fixture f;
  const std::string out = f.t / "run";
  const pid_t pid = spawn(plus(tiny_train(f, out), {"--steps", "100000000", "--grid", "0"}), f.t / ".o1", f.t / ".e1");
  REQUIRE(wait_for([&] { return csv_rows(out + "/metrics.csv").size() >= 3; }, 120));
  // A second run and a concurrent --resume fail at once, naming the folder and the holder's pid.
  const auto t0 = Clock::now();
  Result r = run(f.t, plus(tiny_train(f, out, "row_lstm"), {"--steps", "60"}));
  CHECK(r.rc == 1);
  CHECK(contains(r.err, out + ": in use by another pixelrnn train (pid " + std::to_string(pid) + ")"));
  r = run(f.t, {"train", "--out", out, "--resume", "--steps", "5"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "(pid " + std::to_string(pid) + ")"));
  CHECK(std::chrono::duration<double>(Clock::now() - t0).count() < 30);
  // kill -9: the operating system releases the lock with the process.
  ::kill(pid, SIGKILL);
  CHECK(wait_rc(pid) == 128 + SIGKILL);
  // Temporaries of a dead writer are removed when the run resumes; those of a live process are kept.
  const std::string dead = std::to_string(dead_pid()), live = std::to_string(::getpid());
  fsys::create_directories(out + "/samples");
  write_text(out + "/.last.safetensors.tmp." + dead + ".0.17", "partial");
  write_text(out + "/samples/.epoch-0001.png.tmp." + dead + ".2.5", "partial");
  write_text(out + "/.last.safetensors.tmp." + live + ".0.9", "in use");
  write_text(out + "/.notes.tmp.x", "not a temporary of ours");
  const int64_t step = std::stoll(load(out + "/last.safetensors").metadata.at("step"));
  r = run(f.t, {"train", "--out", out, "--resume", "--steps", std::to_string(step + 2)});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  CHECK(!fsys::exists(out + "/.last.safetensors.tmp." + dead + ".0.17"));
  CHECK(!fsys::exists(out + "/samples/.epoch-0001.png.tmp." + dead + ".2.5"));
  CHECK(fsys::exists(out + "/.last.safetensors.tmp." + live + ".0.9"));
  CHECK(fsys::exists(out + "/.notes.tmp.x"));
  CHECK(contains(r.err, "temporary file(s) left by a process that died while writing"));  // 2, or 3 when the kill
  for (const auto& e : fsys::recursive_directory_iterator(out))                             // hit a save
    CHECK_MESSAGE(!contains(e.path().filename().string(), ".tmp." + std::to_string(pid) + "."), e.path().string());
  // The folder still holds the first run: pixelcnn, and one metrics row per step.
  const nlohmann::json cfg = nlohmann::json::parse(read_text(out + "/config.json"));
  CHECK(cfg["model"]["model"] == "pixelcnn");
  CHECK(int64_t(csv_rows(out + "/metrics.csv").size()) == step + 3);
}

TEST_CASE("a folder without a checkpoint is not a run: a failed first save leaves it startable") {
  Fixture f;
  const std::string out = f.t / "run";
  fsys::create_directories(out);
  // What a first save that failed (disk full) leaves behind.
  write_text(out + "/metrics.csv", "step,epoch,loss_nats,bits_per_dim,val_nll_nats,val_bits_per_dim,images_per_s,"
                                   "elapsed_s,val_s,grid_s\n1,1,44,1,,,10,0.1,,\n");
  write_text(out + "/config.json", "{}\n");
  Result r = run(f.t, {"train", "--out", out, "--resume"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "no checkpoint to resume"));
  r = run(f.t, plus(tiny_train(f, out), {"--steps", "2"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  CHECK(csv_rows(out + "/metrics.csv").size() == 3);
  CHECK(load(out + "/last.safetensors").metadata.at("step") == "2");
}

TEST_CASE("memory is estimated before allocating: the message names the flag and the bytes") {
  Fixture f;
  Result r = run(f.t, plus(tiny_train(f, f.t / "big"), {"--hidden", "100000"}));
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "--hidden 100000"));
  CHECK(contains(r.err, "parameters"));
  CHECK(contains(r.err, "of memory available"));
  CHECK(!contains(r.err, "bad_alloc"));
  CHECK(!fsys::exists(f.t / "big"));
  // A model that fits with a batch that does not (the available memory capped by PIXELRNN_MEMORY_LIMIT).
  r = run(f.t, plus(tiny_train(f, f.t / "big2"), {"--steps", "1"}), "", {{"PIXELRNN_MEMORY_LIMIT", "30000"}});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "--batch 8: one training step needs"));
  CHECK(contains(r.err, "KiB"));
  CHECK(!fsys::exists(f.t / "big2"));
}

TEST_CASE("a PNG larger than the cap is refused with its size") {
  Fixture f;
  const std::string out = f.t / "run";
  Result r = run(f.t, plus(tiny_train(f, out), {"--steps", "1", "--grid", "0"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  // A 16x16 PNG whose header says 10000x10000 (with a valid CRC); stb refuses such sides as "too large".
  std::vector<uint8_t> px(256, 7);
  fw::io::write_png(f.t / "small.png", px.data(), 1, 16, 16);
  std::string b = read_text(f.t / "small.png");
  for (int k = 0; k < 2; ++k)
    for (int i = 0; i < 4; ++i) b[size_t(16 + 4 * k + i)] = char((10000u >> (24 - 8 * i)) & 0xff);
  const uint32_t crc = crc32(reinterpret_cast<const uint8_t*>(b.data()) + 12, 17);
  for (int i = 0; i < 4; ++i) b[size_t(29 + i)] = char((crc >> (24 - 8 * i)) & 0xff);
  write_text(f.t / "huge.png", b);
  r = run(f.t, {"complete", "--checkpoint", out + "/last.safetensors", f.t / "huge.png", "-o", f.t / "c.png"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "huge.png: PNG size 10000x10000"));
  CHECK(contains(r.err, "4096"));
  CHECK(!fsys::exists(f.t / "c.png"));
}

TEST_CASE("one epoch count everywhere, the epoch's mean loss, typed config.json") {
  Fixture f;
  const std::string out = f.t / "run";
  // 32 training images, batch 12: an epoch is 3 steps of 12, 12 and 8 images.
  Result r = run(f.t, plus(tiny_train(f, out), {"--batch", "12", "--steps", "4", "--grid", "0", "--json"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  const nlohmann::json s = nlohmann::json::parse(r.out);
  CHECK(s["epoch"] == 2);
  CHECK(load(out + "/last.safetensors").metadata.at("epoch") == "2");
  const Strings rows = csv_rows(out + "/metrics.csv");
  REQUIRE(rows.size() == 5);
  CHECK(fields(rows[4])[1] == "2");
  CHECK(contains(r.err, "done: step 4, epoch 2"));
  // The end-of-epoch train loss is the mean over the epoch's 32 images, not the last (8-image) batch's loss.
  const double l1 = std::stod(fields(rows[1])[2]), l2 = std::stod(fields(rows[2])[2]), l3 = std::stod(fields(rows[3])[2]);
  const double mean = (12 * l1 + 12 * l2 + 8 * l3) / 32;
  const size_t at = r.err.find("epoch 1 done at step 3: train loss ");
  REQUIRE(at != std::string::npos);
  const double shown = std::stod(r.err.substr(at + std::strlen("epoch 1 done at step 3: train loss ")));
  CHECK(shown == doctest::Approx(mean).epsilon(0).scale(0).epsilon(1e-6));
  CHECK(std::fabs(shown - l3) > 1e-4);
  CHECK(s["train_loss_nats"].get<double>() == doctest::Approx(std::stod(fields(rows[4])[2])));  // epoch 2 so far
  // A run shorter than an epoch is in epoch 1.
  r = run(f.t, plus(tiny_train(f, f.t / "short"), {"--steps", "2", "--grid", "0", "--json"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  CHECK(nlohmann::json::parse(r.out)["epoch"] == 1);
  CHECK(contains(r.err, "done: step 2, epoch 1"));
  // config.json holds numbers as numbers and null for none.
  const nlohmann::json c = nlohmann::json::parse(read_text(out + "/config.json"));
  CHECK(c["train"]["batch"] == 12);
  CHECK(c["train"]["batch"].is_number_integer());
  CHECK(c["train"]["lr"].is_number_float());
  CHECK(c["train"]["steps"] == 4);
  CHECK(c["train"]["epochs"].is_null());
  CHECK(c["train"]["minutes"].is_null());
  CHECK(c["train"]["clip"].is_null());
  CHECK(c["train"]["grid"] == 0);
  CHECK(c["model"]["hidden"] == 3);
  CHECK(c["model"]["model"] == "pixelcnn");
}

TEST_CASE("usage problems are usage errors (exit 2) naming the flags as typed") {
  Fixture f;
  const std::string out = f.t / "run";
  Result r = run(f.t, plus(tiny_train(f, out), {"--levels", "256", "--steps", "1", "--grid", "0"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  const std::string ckpt = out + "/last.safetensors";
  r = run(f.t, {"receptive-field", "--model", "multiscale", "--size", "7", "--pixel", "3,3", "-o", f.t / "rf.png"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "--size 7"));
  CHECK(!contains(r.err, "ModelConfig"));
  r = run(f.t, plus(tiny_train(f, f.t / "ms"), {"--model", "multiscale", "--small", "3"}));
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "--small 3"));
  // --binarize means nothing for 256 levels: refused, not ignored.
  r = run(f.t, plus(tiny_train(f, f.t / "b"), {"--levels", "256", "--binarize", "threshold"}));
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "--binarize threshold"));
  r = run(f.t, {"eval", "--checkpoint", ckpt, "--binarize", "threshold"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "levels 2 only"));
  // Errors name -n / -k when those were typed.
  r = run(f.t, {"sample", "--checkpoint", ckpt, "-n", "0", "-o", f.t / "s.png"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "-n: must be"));
  CHECK(!contains(r.err, "--count"));
  r = run(f.t, {"complete", "--checkpoint", ckpt, "-k", "x", "-o", f.t / "s.png"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "-k: expected an integer"));
  r = run(f.t, {"eval", "--checkpoint", ckpt, "--data", f.data, "-n", "9"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "-n 9"));
  // Output extensions are checked before any work.
  r = run(f.t, {"sample", "--checkpoint", ckpt, "-o", f.t / "s.jpg"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "-o"));
  CHECK(contains(r.err, ".png"));
  CHECK(!fsys::exists(f.t / "s.jpg"));
  r = run(f.t, {"sample", "--checkpoint", ckpt, "--npy", f.t / "s.png"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, ".npy"));
  r = run(f.t, {"complete", "--checkpoint", ckpt, "--output", f.t / "c.PNG", "--npy", f.t / "c.txt"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "--npy"));
  r = run(f.t, {"eval", "--checkpoint", ckpt, "--per-pixel", f.t / "p.csv"});
  CHECK(r.rc == 2);
  r = run(f.t, {"receptive-field", "--pixel", "1,1", "-o", f.t / "rf.gif"});
  CHECK(r.rc == 2);
  // A flag before the command, --version after it.
  r = run(f.t, {"--bogus"});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "unknown flag '--bogus'"));
  CHECK(!contains(r.err, "unknown command"));
  for (const char* c : {"train", "eval", "sample", "complete", "receptive-field"}) {
    r = run(f.t, {c, "--version"});
    CHECK_MESSAGE(r.rc == 0, c);
    CHECK(contains(r.out, "pixelrnn "));
  }
}

TEST_CASE("the data folder: --data-dir, PIXELRNN_DATA, ./data; paths compared after normalisation") {
  Fixture f;
  const std::string sets = f.t / "sets", elsewhere = f.t / "elsewhere";
  fsys::create_directories(elsewhere);
  write_idx_dataset(sets + "/tiny", 40, 8, 8, 7);
  auto train_args = [&](const std::string& data, const std::string& out) {
    return Strings{"train", "--data", data, "--hidden", "3", "--layers", "1", "--out-hidden", "4", "--batch", "8",
                   "--val", "8", "--grid", "0", "--steps", "2", "--out", out};
  };
  Result r = run(f.t, plus(train_args("tiny", f.t / "a"), {"--data-dir", sets}), elsewhere, kNoDataEnv);
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  r = run(f.t, train_args("tiny", f.t / "b"), elsewhere, {{"PIXELRNN_DATA", sets}});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  write_idx_dataset(f.t / "w/data/tiny", 40, 8, 8, 7);
  r = run(f.t, train_args("tiny", f.t / "c"), f.t / "w", kNoDataEnv);
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  // --data-dir comes before PIXELRNN_DATA.
  r = run(f.t, plus(train_args("tiny", f.t / "d"), {"--data-dir", f.t / "w/data"}), elsewhere, {{"PIXELRNN_DATA", sets}});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  CHECK(nlohmann::json::parse(read_text(f.t / "d/config.json"))["train"]["data_path"] ==
        fsys::weakly_canonical(f.t / "w/data/tiny").string());
  r = run(f.t, train_args("nosuchset", f.t / "e"), elsewhere, kNoDataEnv);
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "nosuchset: dataset not found"));
  CHECK(contains(r.err, "tools/fetch-data"));
  CHECK(contains(r.err, "PIXELRNN_DATA"));
  // Resuming from another folder, without --data-dir: the checkpoint knows where its data was.
  r = run(f.t, {"train", "--out", f.t / "a", "--resume", "--steps", "3"}, f.t.path, kNoDataEnv);
  CHECK_MESSAGE(r.rc == 0, r.err);
  // The same folder written another way is the same data; another folder is not.
  r = run(f.t, {"train", "--out", f.t / "a", "--resume", "--steps", "4", "--data", sets + "/./tiny/"}, "", kNoDataEnv);
  CHECK_MESSAGE(r.rc == 0, r.err);
  write_idx_dataset(sets + "/other", 40, 8, 8, 7);
  r = run(f.t, {"train", "--out", f.t / "a", "--resume", "--steps", "5", "--data", sets + "/other"}, "", kNoDataEnv);
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "data: tiny"));
  // eval without --data finds the training data from anywhere too.
  r = run(f.t, {"eval", "--checkpoint", f.t / "a/last.safetensors", "--json"}, elsewhere, kNoDataEnv);
  CHECK_MESSAGE(r.rc == 0, r.err);
}

TEST_CASE("the training ETA counts the validations and grids still to come") {
  using pixelrnn::tool::training_eta;
  // Step 3 of 12, epochs of 4 steps: 9 steps and 3 epoch ends (steps 4, 8, 12) left.
  CHECK(training_eta(3, 12, 4, 1.0, 5.0, 7.0) == doctest::Approx(9 + 3 * 12));
  CHECK(training_eta(4, 12, 4, 1.0, 5.0, 7.0) == doctest::Approx(8 + 2 * 12));  // epoch 1's end is done
  CHECK(training_eta(12, 12, 4, 1.0, 5.0, 7.0) == doctest::Approx(0));
  CHECK(training_eta(0, 10, 4, 2.0, 1.0, -1.0) == doctest::Approx(20 + 2 * 1));  // grid time unknown: 0
  CHECK(training_eta(0, -1, 4, 2.0, 1.0, 1.0) < 0);                              // no total: unknown
}

TEST_CASE("progress lines for every wait, --quiet; the automatic grid; training-only timings") {
  Fixture f;
  const std::string out = f.t / "run";
  Result r = run(f.t, plus(tiny_train(f, out), {"--steps", "5", "--progress-every", "0"}));
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  CHECK(contains(r.err, "epoch 1: validation: "));
  CHECK(contains(r.err, "epoch 1: grid of 2 samples: "));
  CHECK(contains(r.err, "ETA"));
  const std::string ckpt = out + "/last.safetensors";
  r = run(f.t, {"sample", "--checkpoint", ckpt, "-n", "3", "--batch", "1", "-o", f.t / "s.png", "--progress-every", "0"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  CHECK(contains(r.err, "sample: 64/192 elements"));
  CHECK(contains(r.err, "ETA"));
  r = run(f.t, {"complete", "--checkpoint", ckpt, "-n", "2", "-k", "1", "-o", f.t / "c.png", "--progress-every", "0"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  CHECK(contains(r.err, "complete: "));
  r = run(f.t, {"eval", "--checkpoint", ckpt, "--batch", "2", "--progress-every", "0"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  CHECK(contains(r.err, "eval: 2/8 images"));
  // Quick waits print no progress lines by default (every 10 s), and --quiet prints nothing at all.
  r = run(f.t, {"sample", "--checkpoint", ckpt, "-n", "3", "-o", f.t / "s.png"});
  REQUIRE(r.rc == 0);
  CHECK(!contains(r.err, "elements"));
  r = run(f.t, {"sample", "--checkpoint", ckpt, "-n", "3", "-o", f.t / "s.png", "--quiet"});
  REQUIRE(r.rc == 0);
  CHECK(r.err.empty());
  r = run(f.t, plus(tiny_train(f, f.t / "q"), {"--steps", "5", "--quiet"}));
  REQUIRE(r.rc == 0);
  CHECK(r.err.empty());

  SUBCASE("the default grid is skipped or shrunk when slower than a tenth of the epoch; a given one is not") {
    // An epoch is 4 tiny steps; the default grid (8 images, 64 forward passes of the sampler) takes far longer.
    Strings args = tiny_train(f, f.t / "auto");
    args.erase(std::find(args.begin(), args.end(), "--grid"), std::find(args.begin(), args.end(), "--grid") + 2);
    r = run(f.t, plus(args, {"--steps", "4"}));
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    CHECK(contains(r.err, "epoch 1: a grid of 8 samples would take about"));
    CHECK(contains(r.err, "more than a tenth of the epoch"));
    r = run(f.t, plus(args, {"--steps", "4", "--grid", "8", "--out", f.t / "fixed"}));
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    CHECK(!contains(r.err, "more than a tenth"));
    CHECK(fsys::exists(f.t / "fixed/samples/epoch-0001.png"));
  }
  SUBCASE("metrics.csv: speed and elapsed time count training only; validation and grid have their columns") {
    r = run(f.t, plus(tiny_train(f, f.t / "timed"), {"--steps", "5", "--grid", "1024"}));
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    const Strings rows = csv_rows(f.t / "timed/metrics.csv");
    REQUIRE(rows.size() == 6);
    const Strings end = fields(rows[4]), next = fields(rows[5]), mid = fields(rows[2]);
    REQUIRE(end.size() == 10);
    REQUIRE(!end[8].empty());
    REQUIRE(!end[9].empty());
    CHECK(mid[8].empty());
    CHECK(mid[9].empty());
    const double grid_s = std::stod(end[9]);
    REQUIRE(grid_s > 0.05);  // 1024 images, 64 elements each: far slower than a tiny step
    // Between step 4 and step 5 lies the grid; the training time grows by one step only.
    CHECK(std::stod(next[7]) - std::stod(end[7]) < grid_s / 2);
  }
}

TEST_CASE("SIGINT is honoured inside sampling and inside the epoch grid") {
  TempDir t;
  write_idx_dataset(t / "data", 24, 8, 28, 3);
  const std::string out = t / "run";
  const Strings train = {"train", "--data", t / "data", "--hidden", "3", "--layers", "1", "--out-hidden", "4",
                         "--batch", "8", "--val", "8", "--threads", "2", "--out", out, "--progress-every", "0"};
  SUBCASE("sample exits 130 without writing anything") {
    Result r = run(t, plus(train, {"--steps", "1", "--grid", "0"}));
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    const pid_t pid = spawn({"sample", "--checkpoint", out + "/last.safetensors", "-n", "4096", "-o", t / "s.png",
                             "--npy", t / "s.npy", "--threads", "2", "--progress-every", "0"},
                            t / ".o", t / ".e");
    REQUIRE(wait_for([&] { return contains(read_text(t / ".e"), "sample: "); }, 120));
    const auto sent = Clock::now();
    ::kill(pid, SIGINT);
    CHECK(wait_rc(pid) == 130);
    CHECK(std::chrono::duration<double>(Clock::now() - sent).count() < 10);
    CHECK(contains(read_text(t / ".e"), "interrupted by SIGINT"));
    CHECK(!fsys::exists(t / "s.png"));
    CHECK(!fsys::exists(t / "s.npy"));
  }
  SUBCASE("train saves the epoch's checkpoint, exits 130 and says so in --json") {
    // 16 training images, batch 8: epoch 1 ends at step 2, then a grid of 1024 28x28 images (minutes).
    const pid_t pid = spawn(plus(train, {"--epochs", "3", "--grid", "1024", "--json"}), t / ".o", t / ".e");
    REQUIRE(wait_for([&] { return contains(read_text(t / ".e"), "grid of 1024 samples: "); }, 120));
    const auto sent = Clock::now();
    ::kill(pid, SIGINT);
    CHECK(wait_rc(pid) == 130);
    CHECK(std::chrono::duration<double>(Clock::now() - sent).count() < 10);
    CHECK(load(out + "/last.safetensors").metadata.at("step") == "2");
    CHECK(csv_rows(out + "/metrics.csv").size() == 3);
    CHECK(!fsys::exists(out + "/samples/epoch-0001.png"));
    const nlohmann::json j = nlohmann::json::parse(read_text(t / ".o"));
    CHECK(j["interrupted"] == "SIGINT");
    CHECK(j["steps"] == 2);
    CHECK(j["epoch"] == 1);
  }
}

TEST_CASE("SIGINT is honoured inside validation and inside eval") {
  TempDir t;
  // 2016 28x28 images, 2000 held out: an epoch is 2 steps, its validation 250 forward passes of a larger model.
  write_idx_dataset(t / "data", 2016, 8, 28, 5);
  const std::string out = t / "run";
  const Strings train = {"train", "--data", t / "data", "--hidden", "16", "--layers", "4", "--out-hidden", "16",
                         "--batch", "8", "--val", "2000", "--threads", "2", "--grid", "0", "--out", out,
                         "--progress-every", "0"};
  SUBCASE("train") {
    const pid_t pid = spawn(plus(train, {"--epochs", "2"}), t / ".o", t / ".e");
    REQUIRE(wait_for([&] { return contains(read_text(t / ".e"), "epoch 1: validation: "); }, 120));
    const auto sent = Clock::now();
    ::kill(pid, SIGTERM);
    const int rc = wait_rc(pid);
    CHECK(rc == 143);
    CHECK(std::chrono::duration<double>(Clock::now() - sent).count() < 10);
    CHECK(load(out + "/last.safetensors").metadata.at("step") == "2");
    const Strings rows = csv_rows(out + "/metrics.csv");
    REQUIRE(rows.size() == 3);
    CHECK(fields(rows[2])[4].empty());  // no validation NLL: it was interrupted
  }
  SUBCASE("eval") {
    Result r = run(t, plus(train, {"--steps", "1", "--val", "8"}));
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    const pid_t pid = spawn({"eval", "--checkpoint", out + "/last.safetensors", "--split", "train", "--batch", "1",
                             "--per-pixel", t / "pp.npy", "--json", "--progress-every", "0", "--threads", "2"},
                            t / ".o", t / ".e");
    REQUIRE(wait_for([&] { return contains(read_text(t / ".e"), "eval: "); }, 120));
    const auto sent = Clock::now();
    ::kill(pid, SIGINT);
    CHECK(wait_rc(pid) == 130);
    CHECK(std::chrono::duration<double>(Clock::now() - sent).count() < 10);
    CHECK(read_text(t / ".o").empty());
    CHECK(!fsys::exists(t / "pp.npy"));
  }
}
