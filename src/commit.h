// commit: staging, durability and atomic publish of one iteration's output.
//
//   OUT/.fanout-staging/<run-id>/<target>.<attempt>/   written by the engine
//   fsync every part file, write+fsync _SUCCESS, fsync the staging dir,
//   publish: rename (new) or renameat2(RENAME_EXCHANGE) (replace), fsync OUT,
//   then remove the old output (now in staging).
//
// A reader of OUT/<target> sees the old complete output or the new one: never
// a mix, never a file before its content is durable. Every filesystem call
// goes through Storage.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "storage.h"

namespace fanout {

struct PartFile {
  std::string name;
  int64_t bytes = 0;
  std::string xxh3;
};

struct CommitResult {
  std::vector<PartFile> files;
  int64_t bytes = 0;
};

class Committer {
 public:
  // REQUIRES: the caller holds the output's lock.
  Committer(Storage& storage, std::string out_dir, std::string run_id);

  std::string staging_root() const { return staging_root_; }
  // Creates the run's staging root. Call once before any StagingDir.
  Status Start();
  // Removes staging left by earlier (killed) runs.
  Status RemoveStaleStaging();
  // A fresh staging directory for one attempt of `target` (created).
  Result<std::string> StagingDir(const std::string& target, int attempt);
  // Renames part files to part-00000.<ext>..., syncs them, writes `marker`
  // (plus the file list) as _SUCCESS and publishes atomically to OUT/target.
  Result<CommitResult> Publish(const std::string& staging, const std::string& target, nlohmann::ordered_json marker);
  // Removes a failed attempt's staging directory (best effort).
  void Discard(const std::string& staging);
  // Removes the run's staging root.
  Status Finish();

 private:
  Result<std::vector<PartFile>> SealParts(const std::string& staging);
  Status Swap(const std::string& staging, const std::string& final_path);
  Storage& storage_;
  std::string out_dir_, run_id_, staging_root_;
};

// Writes `data` to `path` atomically and durably (temp, fsync, rename, fsync dir).
Status WriteFileAtomic(Storage& storage, const std::string& path, const std::string& data);

// Reads OUT/<target>/_SUCCESS; null json when absent or unreadable.
nlohmann::json ReadSuccessMarker(Storage& storage, const std::string& out_dir, const std::string& target);

}  // namespace fanout
