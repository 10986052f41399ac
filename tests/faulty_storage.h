// FaultyStorage: a file seam that fails or kills the process at its Nth
// mutating call (test library only: never in the production binary).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "storage.h"

namespace fanout {

// Wraps `base`. Counts mutating calls (CreateDirs, WriteFile,
// WriteFileNoSync, SyncDir, SyncFilesystem, Rename, Exchange,
// RemoveAll, RemoveDir); at call number `fail_at` (1-based):
//   kFail:      the call fails with `error_number` (EIO, ENOSPC, ...) and does
//               nothing; with `sticky` every later call fails too. ENOSPC is
//               a full disk: a write fails after creating its file (empty),
//               and after the first fault removals still work (they free
//               space) as on a real filesystem.
//   kKill:      the process kills itself with SIGKILL before the call.
class FaultyStorage : public StorageWrapper {
 public:
  enum class Action { kFail, kKill };
  FaultyStorage(std::shared_ptr<Storage> base, int64_t fail_at, Action action, int error_number, bool sticky);

  int64_t calls() const { return calls_.load(); }
  int64_t faults() const { return faults_.load(); }

  Status CreateDirs(const std::string& path) override;
  Status WriteFile(const std::string& path, const std::string& data) override;
  Status WriteFileNoSync(const std::string& path, const std::string& data) override;
  Status SyncDir(const std::string& path) override;
  Status SyncFilesystem(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to, bool replace) override;
  Status Exchange(const std::string& a, const std::string& b) override;
  Status RemoveAll(const std::string& path) override;
  Status RemoveDir(const std::string& path) override;

 private:
  Status Check(const char* op, const std::string& path, bool removal = false);
  // Check for a call that frees space (see ENOSPC above).
  Status CheckRemoval(const char* op, const std::string& path);
  // A failed write on a full disk leaves its file created and empty.
  Status FailWrite(const std::string& path, Status fault);
  int64_t fail_at_;
  Action action_;
  int error_number_;
  bool sticky_;
  std::atomic<int64_t> calls_{0};
  std::atomic<int64_t> faults_{0};
};

// Reads FANOUT_FAULT_AT=N[:kill|:eio|:enospc][:sticky] from the environment
// and wraps `base` when it is set (the crash and fault tests use it).
std::shared_ptr<Storage> MaybeFaultyFromEnv(std::shared_ptr<Storage> base);

}  // namespace fanout
