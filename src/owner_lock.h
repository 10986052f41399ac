// owner_lock: telling a live process's local leftovers from a dead one's.
//
// A SIGKILLed run skips every cleanup: its S3 staging folder under TMPDIR and
// its half-fetched input copy stay. The next run removes them only when no
// process owns them any more. Ownership is an exclusive flock(2) the owner
// holds while it uses the file or folder: the kernel drops it however the
// owner ends, a reused pid does not hold it, and it works across pid
// namespaces sharing the folder (where kill(pid, 0) would answer about
// another process). The local store needs none of this: its staging lies
// under OUT, behind the output's own flock (posix_store.cc).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "fanout/status.h"

namespace fanout {

// An exclusive flock on a file, held while this lives.
class OwnerLock {
 public:
  explicit OwnerLock(int fd) : fd_(fd) {}
  ~OwnerLock();
  OwnerLock(const OwnerLock&) = delete;
  OwnerLock& operator=(const OwnerLock&) = delete;

 private:
  int fd_;
};

// Creates `path` (if missing) and holds its flock. Makes sure the file
// locked is still the one at `path`: a sweeper that removed it between the
// open and the flock is noticed and the lock taken again. kBusy when
// another process holds it.
Result<std::unique_ptr<OwnerLock>> HoldOwnerLock(const std::string& path);

enum class Ownership {
  kNoLockFile,  // `lock_path` does not exist (the caller decides)
  kOwned,       // a live process holds it, or it could not be probed: keep
  kUnowned,     // nobody held it: `remove` ran while this process held it
};
// Takes the flock of the existing file `lock_path` without waiting; when
// that succeeds, runs `remove` while holding it (so no owner can start
// using it meanwhile; HoldOwnerLock notices the removal).
Ownership RemoveIfUnowned(const std::string& lock_path, const std::function<void()>& remove);

// True only when no process with this id exists (kill(pid, 0) says ESRCH).
bool ProcessGone(long pid);

}  // namespace fanout
