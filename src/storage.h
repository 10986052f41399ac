// storage: the file seam beneath the local output store (LevelDB's Env
// idea): every filesystem call of outputs, manifests, the lock and the input
// cache. PosixStorage is the real one; tests wrap it (tests/faulty_storage.h
// fails or kills the process at the Nth mutating call) to prove the
// guarantees hold under I/O faults and crashes.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fanout/status.h"

namespace fanout {

struct FileInfo {
  std::string name;  // within its directory
  // What the path itself is (lstat: a symbolic link is never followed).
  bool is_dir = false;
  bool is_file = false;     // a regular file
  bool is_symlink = false;  // neither dir nor file: a link; all false: a FIFO, socket or device
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

// Held while alive; released on destruction or when the process dies.
class StorageLock {
 public:
  virtual ~StorageLock() = default;
};

// Thread-safe: every method may be called from any thread.
class Storage {
 public:
  virtual ~Storage() = default;
  virtual Status CreateDirs(const std::string& path) = 0;
  virtual Result<std::vector<FileInfo>> List(const std::string& dir) = 0;
  // kIo with "not found" when absent.
  virtual Result<FileInfo> Stat(const std::string& path) = 0;
  // The same through links (stat(2)): what a reader of `path` gets (inputs).
  virtual Result<FileInfo> StatFollow(const std::string& path) = 0;
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // Creates or truncates `path`, writes `data`, fsyncs and closes it.
  virtual Status WriteFile(const std::string& path, const std::string& data) = 0;
  // The same without the fsync: durable only after a later SyncFilesystem.
  virtual Status WriteFileNoSync(const std::string& path, const std::string& data) = 0;
  virtual Status SyncDir(const std::string& path) = 0;
  // Makes every file and directory written so far on the filesystem holding
  // `path` durable (syncfs(2): one device flush for all of them).
  virtual Status SyncFilesystem(const std::string& path) = 0;
  // replace=false fails when `to` exists (RENAME_NOREPLACE).
  virtual Status Rename(const std::string& from, const std::string& to, bool replace) = 0;
  // Atomically swaps two existing paths (renameat2 RENAME_EXCHANGE).
  virtual Status Exchange(const std::string& a, const std::string& b) = 0;
  // Removes `path` and, when it is a folder, everything in it; a symbolic
  // link is removed, never followed.
  virtual Status RemoveAll(const std::string& path) = 0;
  // Removes the folder `path` only when it is empty (rmdir(2)).
  virtual Status RemoveDir(const std::string& path) = 0;
  // The absolute path with every symbolic link resolved and "." / ".."
  // folded; the part that does not exist yet is kept as written
  // (std::filesystem::weakly_canonical).
  virtual Result<std::string> Canonical(const std::string& path) = 0;
  // Creates a fresh private folder under $TMPDIR (or /tmp) named
  // `prefix`XXXXXX; returns its path.
  virtual Result<std::string> MakeTempDir(const std::string& prefix) = 0;
  // xxh3-128 of the file's bytes, as hex.
  virtual Result<std::string> HashFile(const std::string& path) = 0;
  // An exclusive lock on `path` (created if needed), holding `holder` as text.
  // kBusy naming the current holder when another process has it. A `path`
  // that is a symbolic link is refused (never followed).
  virtual Result<std::unique_ptr<StorageLock>> Lock(const std::string& path, const std::string& holder) = 0;
  // Whether a process holds the lock on `path` now (false when there is no
  // such file). Takes and drops a shared lock: writes nothing (a run that
  // starts in that instant is refused as busy, and can be started again).
  virtual Result<bool> LockHeld(const std::string& path) = 0;
  // A shared lock on `path` (created when absent): any number of holders,
  // none while Lock's holder has it. kBusy when it does.
  virtual Result<std::unique_ptr<StorageLock>> LockShared(const std::string& path) = 0;

  bool Exists(const std::string& path) { return Stat(path).ok(); }
};

// The local filesystem (POSIX + Linux renameat2).
std::shared_ptr<Storage> NewPosixStorage();

// Forwards every call to `base` (LevelDB's EnvWrapper): a wrapper overrides
// only the calls it changes.
class StorageWrapper : public Storage {
 public:
  explicit StorageWrapper(std::shared_ptr<Storage> base) : base_(std::move(base)) {}

  Status CreateDirs(const std::string& path) override { return base_->CreateDirs(path); }
  Result<std::vector<FileInfo>> List(const std::string& dir) override { return base_->List(dir); }
  Result<FileInfo> Stat(const std::string& path) override { return base_->Stat(path); }
  Result<FileInfo> StatFollow(const std::string& path) override { return base_->StatFollow(path); }
  Result<std::string> ReadFile(const std::string& path) override { return base_->ReadFile(path); }
  Status WriteFile(const std::string& path, const std::string& data) override { return base_->WriteFile(path, data); }
  Status WriteFileNoSync(const std::string& path, const std::string& data) override {
    return base_->WriteFileNoSync(path, data);
  }
  Status SyncDir(const std::string& path) override { return base_->SyncDir(path); }
  Status SyncFilesystem(const std::string& path) override { return base_->SyncFilesystem(path); }
  Status Rename(const std::string& from, const std::string& to, bool replace) override {
    return base_->Rename(from, to, replace);
  }
  Status Exchange(const std::string& a, const std::string& b) override { return base_->Exchange(a, b); }
  Status RemoveAll(const std::string& path) override { return base_->RemoveAll(path); }
  Status RemoveDir(const std::string& path) override { return base_->RemoveDir(path); }
  Result<std::string> Canonical(const std::string& path) override { return base_->Canonical(path); }
  Result<std::string> HashFile(const std::string& path) override { return base_->HashFile(path); }
  Result<std::string> MakeTempDir(const std::string& prefix) override { return base_->MakeTempDir(prefix); }
  Result<std::unique_ptr<StorageLock>> Lock(const std::string& path, const std::string& holder) override {
    return base_->Lock(path, holder);
  }
  Result<bool> LockHeld(const std::string& path) override { return base_->LockHeld(path); }
  Result<std::unique_ptr<StorageLock>> LockShared(const std::string& path) override {
    return base_->LockShared(path);
  }

 protected:
  std::shared_ptr<Storage> base_;
};

}  // namespace fanout
