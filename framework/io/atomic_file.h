// framework/io/atomic_file.h: crash-safe file replacement (write a temporary, fsync, rename).
//
// A checkpoint written while the process is killed, the disk fills up or the power fails must never leave a
// half-written file where a good one used to be. write_file_atomic therefore:
//   1. creates a uniquely named temporary file in the SAME folder as the target (rename is only atomic within
//      one file system), ".<name>.tmp.<pid>.<counter>.<random>";
//   2. writes all the bytes (retrying short writes and EINTR) and fsyncs the file;
//   3. renames the temporary over the target (atomic on POSIX: readers see the old or the new file, never a mix);
//   4. fsyncs the folder so that the rename itself is durable.
// On any failure before the rename the temporary is removed and the target is left exactly as it was.
//
// Notes: the new file gets mode 0666 & ~umask (an existing target's mode is not copied); when the target is a
// symbolic link the link itself is replaced, not the file it points to.
#pragma once
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace fw::io {

// Thrown on file-system failures; what() names the path and the system's reason (strerror), e.g.
// "runs/a.ckpt: cannot create a temporary file in 'runs': No such file or directory".
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The destination handed to a writer callback; each write() goes to the temporary file.
class AtomicSink {
 public:
  // ensures: the n bytes at data are appended to the temporary file.
  // throws: IoError naming the target path and strerror on a failed write (e.g. disk full).
  void write(const void* data, size_t n);
  void write(const std::string& s) { write(s.data(), s.size()); }
  size_t bytes_written() const { return written_; }

 private:
  friend void write_file_atomic(const std::string&, const std::function<void(AtomicSink&)>&);
  AtomicSink(int fd, const std::string& path) : fd_(fd), path_(path) {}
  int fd_;
  const std::string& path_;
  size_t written_ = 0;
};

// Replaces (or creates) the file at path with the bytes produced by fill.
// requires: path names a file (not a folder) whose folder exists and is writable.
// ensures: on return, path holds exactly what fill wrote, durably (file and folder fsynced), and no temporary
//   file is left behind.
// throws: IoError naming path and strerror when the temporary cannot be created, written, synced or renamed,
//   or when the folder cannot be synced after the rename (the new content is then in place but possibly not
//   durable). Any exception thrown by fill is propagated unchanged. In every case but the last the temporary is
//   removed and an existing target is left untouched.
void write_file_atomic(const std::string& path, const std::function<void(AtomicSink&)>& fill);

// Convenience overloads: the whole content at once. Same guarantees and errors as above.
void write_file_atomic(const std::string& path, const void* data, size_t n);
void write_file_atomic(const std::string& path, const std::string& contents);

// Removes the temporary files that write_file_atomic left in folder when their process died before the rename
// (kill -9, power loss): names ".<name>.tmp.<pid>.<counter>.<n>" whose pid is no running process (kill(pid, 0)
// fails with ESRCH). Temporaries of running processes (including this one) and every other file are left alone.
// ensures: the paths removed. Errors (an unreadable folder, a file that cannot be removed) are skipped.
std::vector<std::string> remove_stale_temporaries(const std::string& folder);

}  // namespace fw::io
