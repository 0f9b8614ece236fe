// tools/pixelrnn/run_lock.h: the lock that keeps two trainings out of one run folder.
//
// `train` (new or --resume) holds an exclusive flock(2) on DIR/.lock for the whole run; the file holds the
// holder's pid (for the message). The operating system releases the lock when the process ends in any way,
// kill -9 included, so a lock is never stale; the file itself stays and means nothing on its own.
#pragma once
#include <string>

namespace pixelrnn::tool {

class RunLock {
 public:
  // Takes the lock on dir/.lock (creating the file), without waiting.
  // throws: std::runtime_error "DIR: in use by another pixelrnn train (pid N) ..." when another process holds
  //   it, or naming the file and the system's reason when it cannot be created or locked.
  explicit RunLock(const std::string& dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace pixelrnn::tool
