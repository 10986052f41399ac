#include "storage.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdlib>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <vector>

namespace fanout {
namespace {

Status Errno(const std::string& what, const std::string& path, int err = errno) {
  return Status::Io(what + " " + path + ": " + std::strerror(err));
}

// Closes a descriptor on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  // Closes now and reports a close error (it can carry a delayed write error).
  Status Close(const std::string& path) {
    int f = fd;
    fd = -1;
    if (::close(f) != 0) return Errno("close", path);
    return Status::Ok();
  }
};

class PosixLock : public StorageLock {
 public:
  explicit PosixLock(int fd) : fd_(fd) {}
  ~PosixLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

class PosixStorage : public Storage {
 public:
  Status CreateDirs(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) == 0) return Status::Ok();  // the usual case: the parent exists
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return Status::Io("cannot create directory " + path + ": " + ec.message());
    return Status::Ok();
  }

  Result<std::vector<FileInfo>> List(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return Errno("cannot list", dir);
    std::vector<FileInfo> out;
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      auto info = Stat(dir + "/" + name);
      if (!info.ok()) continue;  // removed meanwhile
      info->name = name;
      out.push_back(*info);
    }
    ::closedir(d);
    return out;
  }

  Result<FileInfo> Stat(const std::string& path) override { return StatWith(::lstat, path); }
  Result<FileInfo> StatFollow(const std::string& path) override { return StatWith(::stat, path); }

  Result<FileInfo> StatWith(int (*stat_fn)(const char*, struct stat*), const std::string& path) {
    struct stat st;
    if (stat_fn(path.c_str(), &st) != 0) return Errno("not found:", path);
    FileInfo info;
    info.name = std::filesystem::path(path).filename().string();
    info.is_dir = S_ISDIR(st.st_mode);
    info.is_file = S_ISREG(st.st_mode);
    info.is_symlink = S_ISLNK(st.st_mode);
    info.size = st.st_size;
    info.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    return info;
  }

  Result<std::string> ReadFile(const std::string& path) override {
    // Never through a link, never blocking on a FIFO swapped in after a
    // check: only a regular file is read.
    Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (f.fd < 0) return Errno("cannot open", path);
    struct stat st;
    if (::fstat(f.fd, &st) != 0) return Errno("cannot stat", path);
    if (!S_ISREG(st.st_mode)) return Status::Io("cannot read " + path + ": not a regular file");
    std::string out;
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(f.fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("cannot read", path);
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  Status WriteFile(const std::string& path, const std::string& data) override { return Write(path, data, true); }
  Status WriteFileNoSync(const std::string& path, const std::string& data) override {
    return Write(path, data, false);
  }

  Status SyncDir(const std::string& path) override {
    Fd f(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (f.fd < 0) return Errno("cannot open directory", path);
    if (::fsync(f.fd) != 0) return Errno("cannot fsync directory", path);
    return f.Close(path);
  }

  Status SyncFilesystem(const std::string& path) override {
    Fd f(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (f.fd < 0) return Errno("cannot open directory", path);
    // Since Linux 5.8 syncfs also reports writeback errors of the filesystem.
    if (::syncfs(f.fd) != 0) return Errno("cannot sync the filesystem of", path);
    return f.Close(path);
  }

  Status Rename(const std::string& from, const std::string& to, bool replace) override {
    int rc = replace ? ::rename(from.c_str(), to.c_str())
                     : ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE);
    if (rc != 0) return Errno("cannot rename " + from + " to", to);
    return Status::Ok();
  }

  Status Exchange(const std::string& a, const std::string& b) override {
    if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) != 0)
      return Errno("cannot exchange " + a + " with", b);
    return Status::Ok();
  }

  Status RemoveAll(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) return Status::Io("cannot remove " + path + ": " + ec.message());
    return Status::Ok();
  }

  Status RemoveDir(const std::string& path) override {
    if (::rmdir(path.c_str()) != 0) return Errno("cannot remove folder", path);
    return Status::Ok();
  }

  Result<std::string> Canonical(const std::string& path) override {
    std::error_code ec;
    auto c = std::filesystem::weakly_canonical(std::filesystem::absolute(path, ec), ec);
    if (ec) return Status::Io("cannot resolve " + path + ": " + ec.message());
    return c.lexically_normal().string();
  }

  Result<std::string> MakeTempDir(const std::string& prefix) override {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) return Errno("cannot create a temporary folder", pattern);
    return std::string(buf.data());
  }

  Result<std::string> HashFile(const std::string& path) override {
    Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (f.fd < 0) return Errno("cannot open", path);
    XXH3_state_t* state = XXH3_createState();
    XXH3_128bits_reset(state);
    thread_local std::vector<char> buf(1 << 20);  // allocated once per thread
    for (;;) {
      ssize_t n = ::read(f.fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        XXH3_freeState(state);
        return Errno("cannot read", path);
      }
      if (n == 0) break;
      XXH3_128bits_update(state, buf.data(), static_cast<size_t>(n));
    }
    XXH128_hash_t h = XXH3_128bits_digest(state);
    XXH3_freeState(state);
    char hex[33];
    snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
             static_cast<unsigned long long>(h.low64));
    return std::string(hex);
  }

  Result<std::unique_ptr<StorageLock>> Lock(const std::string& path, const std::string& holder) override {
    auto fd = OpenLocked(path, LOCK_EX);
    if (!fd.ok()) return fd.status();
    // The kernel drops a flock when its holder dies: a killed run's lock is
    // taken over here without any stale-lock guessing.
    if (::ftruncate(*fd, 0) != 0 || ::pwrite(*fd, holder.data(), holder.size(), 0) < 0) {
      int err = errno;
      ::close(*fd);
      return Errno("cannot write lock file", path, err);
    }
    return std::unique_ptr<StorageLock>(new PosixLock(*fd));
  }

  Result<std::unique_ptr<StorageLock>> LockShared(const std::string& path) override {
    auto fd = OpenLocked(path, LOCK_SH);
    if (!fd.ok()) return fd.status();
    return std::unique_ptr<StorageLock>(new PosixLock(*fd));
  }

  // `path` opened (created if needed) and flock'ed with `op` (LOCK_EX or
  // LOCK_SH), without waiting. kBusy naming the holder when another has it.
  static Result<int> OpenLocked(const std::string& path, int op) {
    // O_NOFOLLOW: a link planted at the lock's path would have us truncate
    // whatever file it points to.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return Errno("cannot open lock file", path);
    if (::flock(fd, op | LOCK_NB) == 0) return fd;
    int err = errno;
    std::string current;
    char buf[512];
    ssize_t n = ::pread(fd, buf, sizeof buf, 0);
    if (n > 0) current.assign(buf, static_cast<size_t>(n));
    ::close(fd);
    if (err == EWOULDBLOCK)
      return Status::Busy("another fanout run is writing to this output (" + current +
                          "); wait for it to finish or use another output.dir");
    return Errno("cannot lock", path, err);
  }

  Result<bool> LockHeld(const std::string& path) override {
    Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (f.fd < 0 && errno == ENOENT) return false;
    if (f.fd < 0) return Errno("cannot open lock file", path);
    if (::flock(f.fd, LOCK_SH | LOCK_NB) == 0) return false;  // closing drops it
    if (errno == EWOULDBLOCK) return true;
    return Errno("cannot probe the lock", path);
  }

 private:
  static Status Write(const std::string& path, const std::string& data, bool sync) {
    Fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (f.fd < 0) return Errno("cannot create", path);
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(f.fd, data.data() + off, data.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("cannot write", path);
      off += static_cast<size_t>(n);
    }
    if (sync && ::fsync(f.fd) != 0) return Errno("cannot fsync", path);
    return f.Close(path);
  }
};

}  // namespace

std::shared_ptr<Storage> NewPosixStorage() { return std::make_shared<PosixStorage>(); }

}  // namespace fanout
