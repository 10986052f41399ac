// commit: staging, durability and atomic publish of iteration outputs.
//
//   OUT/.fanout-staging/<run-id>/<target>.<attempt>/   written by the engine
//   hash the part files, write _SUCCESS, then, as a group with every other
//   iteration ready to publish (group commit, as LevelDB's log writer):
//   syncfs (every staged file and directory durable, one device flush),
//   publish each: rename (new) or renameat2(RENAME_EXCHANGE) (replace),
//   fsync OUT once, then each removes its old output (now in staging).
//   While other attempts hold a staging directory, a group's leader waits
//   for them to join, at most as long as the previous group's publish (sync,
//   renames, fsync of OUT) took
//   (capped): a slow device gets fewer, larger groups; a fast one (a sync
//   under kMinSyncToWait) no wait.
//
// A reader of OUT/<target> sees the old complete output or the new one: never
// a mix, never a file before its content is durable. Every filesystem call
// goes through Storage.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "fanout/record.h"
#include "mutex.h"
#include "storage.h"

namespace fanout {

using PartFile = MarkerFile;  // as _SUCCESS lists it

struct CommitResult {
  std::vector<PartFile> files;
  int64_t bytes = 0;
};

// Thread-safe.
class Committer {
 public:
  // The longest a group's leader waits for other attempts to join.
  static constexpr double kMaxGroupWait = 0.010;
  // When the previous group took less (tmpfs: about 30 us), a sync costs
  // about what waiting and waking would: the leader does not wait.
  static constexpr double kMinSyncToWait = 0.000250;

  // REQUIRES: the caller holds the output's lock.
  Committer(Storage& storage, std::string out_dir, std::string run_id, double max_group_wait = kMaxGroupWait);

  std::string staging_root() const { return staging_root_; }
  // Creates the run's staging root. Call once before any StagingDir.
  Status Start();
  // Removes staging left by earlier (killed) runs: everything in
  // OUT/.fanout-staging but this run's folder. Fails (removing nothing) when
  // OUT/.fanout-staging is not a folder (e.g. a link).
  Status RemoveStaleStaging();
  // A fresh staging directory for one attempt of `target` (created). Each one
  // is ended by exactly one Publish or Discard.
  Result<std::string> StagingDir(const std::string& target, int attempt) EXCLUDES(mu_);
  // Renames part files to part-00000.<ext>..., hashes them, writes `marker`
  // (with the files and their total filled in) as _SUCCESS and publishes atomically and durably to
  // OUT/target, together with the other threads publishing meanwhile. Only
  // an output of fanout is replaced: anything else at OUT/target (see
  // outputs.h) fails the publish (kFailed), untouched.
  // `single`: the name of the one file the engine wrote (no listing needed).
  // On failure the staging directory is removed.
  Result<CommitResult> Publish(const std::string& staging, const std::string& target, Marker marker,
                               const std::string& single = "") EXCLUDES(mu_);
  // Removes the staging directory of an attempt that will not be published
  // (best effort).
  void Discard(const std::string& staging) EXCLUDES(mu_);
  // Removes the run's staging root, and OUT/.fanout-staging when empty.
  Status Finish() EXCLUDES(mu_);

 private:
  struct Pending {
    std::string staging, final_path;
    bool replaced = false;  // an old output was exchanged into `staging`
    bool keep = false;      // `staging` holds someone else's folder: never removed
    Status status;
    bool done = false;  // guarded by Committer::mu_ (which the analysis cannot name from here)
    CondVar cv;         // done, or this one leads the next group
  };
  Result<std::vector<PartFile>> SealParts(const std::string& staging, const std::string& single);
  // Queues `p`; the first thread in the queue publishes everything queued.
  Status PublishInGroup(Pending* p) EXCLUDES(mu_);
  void PublishGroup(const std::vector<Pending*>& group);
  // Renames (new) or exchanges (an output of fanout) one into place.
  Status PublishOne(Pending* p);
  // One attempt fewer still to come (queued or discarded).
  void Arrived() REQUIRES(mu_);

  Storage& storage_;
  std::string out_dir_, run_id_, staging_root_;
  const double max_group_wait_;
  Mutex mu_;
  std::deque<Pending*> queue_ GUARDED_BY(mu_);  // front: the group's leader
  int coming_ GUARDED_BY(mu_) = 0;                 // staged, neither queued nor discarded
  double last_group_seconds_ GUARDED_BY(mu_) = 0;  // how long the previous group's publish took
  std::vector<std::string> kept_ GUARDED_BY(mu_);  // staging dirs holding someone else's folder
};

// Writes `data` to `path` atomically and durably (temp, fsync, rename, fsync
// dir). On failure the temp file is removed (best effort) and `path` is as it
// was.
Status WriteFileAtomic(Storage& storage, const std::string& path, const std::string& data);

}  // namespace fanout
