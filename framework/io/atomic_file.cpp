// framework/io/atomic_file.cpp: write_file_atomic on POSIX (open O_EXCL, write, fsync, rename, fsync folder).
#include "framework/io/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace fw::io {
namespace {

std::string sys_error(const std::string& path, const std::string& what, int err) {
  return path + ": " + what + ": " + std::strerror(err);
}

// The folder part of path ("." when there is none); "/" for "/x".
std::string folder_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A name no other writer (thread or process) will pick: pid, a process-wide counter and the clock.
std::string temp_name(const std::string& path) {
  static std::atomic<unsigned long> counter{0};
  const auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
  const size_t slash = path.find_last_of('/');
  const std::string prefix = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  return prefix + "." + base_of(path) + ".tmp." + std::to_string(::getpid()) + "." +
         std::to_string(counter.fetch_add(1)) + "." + std::to_string(static_cast<unsigned long long>(ticks) % 1000003);
}

// Closes the descriptor and unlinks the temporary unless released (the success path).
struct TempGuard {
  int fd = -1;
  std::string name;
  bool armed = true;
  ~TempGuard() {
    if (fd >= 0) ::close(fd);
    if (armed && !name.empty()) ::unlink(name.c_str());
  }
};

}  // namespace

void AtomicSink::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  size_t left = n;
  while (left > 0) {
    const ssize_t k = ::write(fd_, p, left);
    if (k < 0) {
      if (errno == EINTR) continue;
      throw IoError(sys_error(path_, "cannot write the temporary file", errno));
    }
    p += k;
    left -= static_cast<size_t>(k);
  }
  written_ += n;
}

void write_file_atomic(const std::string& path, const std::function<void(AtomicSink&)>& fill) {
  if (path.empty()) throw IoError("write_file_atomic: the path is empty");
  if (path.back() == '/') throw IoError(path + ": the path names a folder, not a file");
  const std::string folder = folder_of(path);

  TempGuard tmp;
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string name = temp_name(path);
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      tmp.fd = fd;
      tmp.name = std::move(name);
      break;
    }
    if (errno != EEXIST && errno != EINTR)
      throw IoError(sys_error(path, "cannot create a temporary file in '" + folder + "'", errno));
  }
  if (tmp.fd < 0) throw IoError(path + ": cannot find an unused temporary file name in '" + folder + "'");

  AtomicSink sink(tmp.fd, path);
  fill(sink);  // may throw: the guard removes the temporary
  if (::fsync(tmp.fd) != 0) throw IoError(sys_error(path, "cannot fsync the temporary file", errno));
  const int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0) throw IoError(sys_error(path, "cannot close the temporary file", errno));
  if (::rename(tmp.name.c_str(), path.c_str()) != 0)
    throw IoError(sys_error(path, "cannot rename the temporary file over the target", errno));
  tmp.armed = false;  // the temporary is now the target

  // Make the rename durable. Some file systems cannot fsync a folder (EINVAL); that is not an error.
  const int dfd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) throw IoError(sys_error(path, "written, but cannot open folder '" + folder + "' to fsync it", errno));
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0 && err != EINVAL)
    throw IoError(sys_error(path, "written, but cannot fsync folder '" + folder + "'", err));
}

void write_file_atomic(const std::string& path, const void* data, size_t n) {
  write_file_atomic(path, [&](AtomicSink& s) { s.write(data, n); });
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  write_file_atomic(path, contents.data(), contents.size());
}

namespace {
// The pid of a temporary file name ".<name>.tmp.<pid>.<counter>.<n>", or -1 when name is not one.
long temp_pid(const std::string& name) {
  if (name.size() < 2 || name[0] != '.') return -1;
  const size_t tmp = name.rfind(".tmp.");
  if (tmp == std::string::npos || tmp == 0) return -1;
  long numbers[3] = {0, 0, 0};
  size_t pos = tmp + 5;
  for (int k = 0; k < 3; ++k) {
    const size_t start = pos;
    while (pos < name.size() && name[pos] >= '0' && name[pos] <= '9') {
      if (pos - start > 18) return -1;
      numbers[k] = numbers[k] * 10 + (name[pos] - '0');
      ++pos;
    }
    if (pos == start) return -1;
    if (k < 2) {
      if (pos >= name.size() || name[pos] != '.') return -1;
      ++pos;
    }
  }
  return pos == name.size() && numbers[0] > 0 ? numbers[0] : -1;
}
}  // namespace

std::vector<std::string> remove_stale_temporaries(const std::string& folder) {
  std::vector<std::string> removed;
  DIR* d = ::opendir(folder.c_str());
  if (!d) return removed;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    const long pid = temp_pid(name);
    if (pid <= 0 || pid == long(::getpid())) continue;
    if (::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to probe): keep
    const std::string path = (folder == "/" ? "" : folder) + "/" + name;
    if (::unlink(path.c_str()) == 0) removed.push_back(path);
  }
  ::closedir(d);
  return removed;
}

}  // namespace fw::io
