#include "owner_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace fanout {

OwnerLock::~OwnerLock() {
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

namespace {

// True when `fd` is still the file at `path` (not removed or replaced).
bool StillAt(int fd, const std::string& path) {
  struct stat by_fd, by_path;
  return ::fstat(fd, &by_fd) == 0 && by_fd.st_nlink > 0 && ::lstat(path.c_str(), &by_path) == 0 &&
         by_fd.st_dev == by_path.st_dev && by_fd.st_ino == by_path.st_ino;
}

}  // namespace

Result<std::unique_ptr<OwnerLock>> HoldOwnerLock(const std::string& path) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    // O_NOFOLLOW: never a lock taken through a link planted at the path.
    // 0666 less the umask: an input's fetched copy is this file, renamed; a
    // cache shared by several users stays readable to them as before.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) return Status::Io("cannot create " + path + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) return Status::Busy(path + " is in use by another fetch or run (this process or another): let it finish, then run again");
      return Status::Io("cannot lock " + path + ": " + std::strerror(err));
    }
    if (StillAt(fd, path)) return std::make_unique<OwnerLock>(fd);
    ::close(fd);  // a sweeper removed it before we held it: take the new one
  }
  return Status::Io("cannot hold " + path + ": it is removed each time it is created");
}

Ownership RemoveIfUnowned(const std::string& lock_path, const std::function<void()>& remove) {
  int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno == ENOENT ? Ownership::kNoLockFile : Ownership::kOwned;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Ownership::kOwned;
  }
  remove();
  ::close(fd);
  return Ownership::kUnowned;
}

bool ProcessGone(long pid) { return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH; }

}  // namespace fanout
