// tests/tool_harness.h: helpers of the pixelrnn program's tests (tests/test_tool*.cpp): running the program as a
// subprocess (its path from $PIXELRNN_BIN, set by tests/meson.build), temporary folders, tiny generated datasets
// and the flags of a tiny training run.
#pragma once
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "framework/io/idx.h"
#include "framework/io/safetensors.h"
#include "tests/test_util.h"

namespace fsys = std::filesystem;
using Strings = std::vector<std::string>;


namespace tool_harness {

inline std::string bin() {
  const char* p = std::getenv("PIXELRNN_BIN");
  REQUIRE_MESSAGE(p != nullptr, "PIXELRNN_BIN is not set (run through meson test)");
  return p;
}

using test_util::TempDir;  // tests/test_util.h
using test_util::contains;

inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

inline void write_text(const std::string& path, const std::string& s) {
  std::ofstream f(path, std::ios::binary);
  f << s;
}

struct Result {
  int rc = -1;
  std::string out, err;
};

// Starts the program with args, stdout/stderr to files; in folder cwd when given, with env set (an empty value
// unsets the variable); returns the pid.
inline pid_t spawn(const Strings& args, const std::string& out_file, const std::string& err_file,
            const std::string& cwd = "", const std::map<std::string, std::string>& env = {}) {
  const std::string exe = bin();
  std::vector<std::string> all{exe};
  all.insert(all.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int o = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0) ::_exit(127);
    ::dup2(o, 1);
    ::dup2(e, 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
    for (const auto& [k, v] : env) {
      if (v.empty()) ::unsetenv(k.c_str());
      else ::setenv(k.c_str(), v.c_str(), 1);
    }
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

inline int wait_rc(pid_t pid) {
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

inline Result run(const TempDir& t, const Strings& args, const std::string& cwd = "",
           const std::map<std::string, std::string>& env = {}) {
  const std::string o = t / ".stdout", e = t / ".stderr";
  Result r;
  r.rc = wait_rc(spawn(args, o, e, cwd, env));
  r.out = read_text(o);
  r.err = read_text(e);
  return r;
}


// n random 8-bit images of side x side, as MNIST-named IDX files (train and t10k) in folder dir.
inline void write_idx_dataset(const std::string& dir, int64_t n_train, int64_t n_test, int64_t side, uint32_t seed) {
  fsys::create_directories(dir);
  uint32_t s = seed;
  auto images = [&](int64_t n) {
    std::vector<uint8_t> px(size_t(n * side * side));
    for (uint8_t& v : px) {
      s = s * 1664525u + 1013904223u;
      v = uint8_t(s >> 24);
    }
    return px;
  };
  const auto tr = images(n_train), te = images(n_test);
  fw::io::write_idx_images(dir + "/train-images-idx3-ubyte", tr.data(), n_train, side, side, false);
  fw::io::write_idx_images(dir + "/t10k-images-idx3-ubyte", te.data(), n_test, side, side, false);
}

// The shared fixture: a dataset of 40 train and 8 test 8x8 images.
struct Fixture {
  TempDir t;
  std::string data = t / "data";
  Fixture() { write_idx_dataset(data, 40, 8, 8, 7); }
};

// Train flags of a tiny model on the fixture's data: 32 training images (8 held out), batch 8 -> 4 steps an epoch.
inline Strings tiny_train(const Fixture& f, const std::string& out, const std::string& model = "pixelcnn") {
  return {"train", "--model", model, "--data", f.data, "--hidden", "3", "--layers", "1", "--out-hidden", "4",
          "--batch", "8", "--val", "8", "--grid", "2", "--threads", "2", "--out", out};
}

inline Strings plus(Strings a, const Strings& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline fw::io::SafetensorsFile load(const std::string& path) { return fw::io::load_safetensors(path); }

inline bool same_tensors(const fw::io::SafetensorsFile& a, const fw::io::SafetensorsFile& b) {
  if (a.tensors.size() != b.tensors.size()) return false;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& [na, ta] = a.tensors[i];
    const auto& [nb, tb] = b.tensors[i];
    if (na != nb || ta.shape() != tb.shape() || ta.dtype() != tb.dtype()) return false;
    const size_t bytes = size_t(ta.numel()) * fw::dtype_size(ta.dtype());
    if (std::memcmp(ta.raw_data(), tb.raw_data(), bytes) != 0) return false;
  }
  return true;
}

inline Strings csv_rows(const std::string& path) {
  std::istringstream in(read_text(path));
  Strings rows;
  for (std::string line; std::getline(in, line);) rows.push_back(line);
  return rows;
}

}  // namespace tool_harness
