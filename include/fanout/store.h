// OutputStore: where a run's outputs, markers and manifests live, as the
// commit protocol sees it (LevelDB's Env is the model: a public interface, a
// default implementation, wrappers). Not one method per syscall: an object
// store has no rename, exchange or fsync, so the store offers the steps of
// the protocol and each implementation makes them atomic its own way.
//
//   Inspect / Verify        what is at OUT/<target>, and is it intact
//   CreateLayout, Lock      own OUT for one run (one run at a time)
//   BeginRun                clear what killed runs left, open this run's staging
//   Stage → Publish|Discard one attempt: a local folder the engine writes
//                           into, then published with its marker (atomically:
//                           a reader sees the old complete output or the new
//                           one, never a mix) or thrown away
//   Write/ReadRunFile       the run manifest (and other run files), atomic
//   EndRun                  remove this run's staging
//
// NewLocalStore is the local filesystem (POSIX, Linux renameat2). Every
// method is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fanout/record.h"
#include "fanout/status.h"

namespace fanout {

struct JobSpec;

// What is at OUT/<target>. Only an output of fanout (kOurs: a folder with
// fanout's marker) is ever replaced; a foreign one is never touched.
struct TargetState {
  enum class Kind { kAbsent, kOurs, kForeign };
  Kind kind = Kind::kAbsent;
  std::string what;  // kForeign: what is there, e.g. "a regular file"
  bool newer = false;  // kForeign: an output of a newer fanout (its marker's format)
  Marker marker;     // kOurs: its _SUCCESS
};

// One attempt of one iteration, staged: the engine writes its files into
// `dir`, a local folder that exists and is empty.
struct StagedAttempt {
  std::string target;
  int attempt = 0;
  std::string dir;
};

// Held while alive; released on destruction or when the process dies.
class OutputLock {
 public:
  virtual ~OutputLock() = default;
};

class OutputStore {
 public:
  virtual ~OutputStore() = default;

  // OUT as the job names it (output.dir).
  virtual const std::string& location() const = 0;

  // --- Reading: any time, no lock needed ---------------------------------
  virtual TargetState Inspect(const std::string& target) = 0;
  // How many Inspect and Verify calls planning makes at once: 1 for local
  // folders; more where each is a network round trip (S3), so that planning
  // 10,000 iterations does not wait for 10,000 round trips one by one.
  // Inspect and Verify must then be safe to call from several threads.
  virtual int InspectConcurrency() const { return 1; }
  // "" when OUT/<target> holds exactly the files `marker` lists, with their
  // sizes (and with `checksums`, their xxh3); else what differs, e.g.
  // "part-00000.parquet: size 1234 on disk, 5678 in _SUCCESS".
  virtual std::string Verify(const std::string& target, const Marker& marker, bool checksums) = 0;
  // The names of OUT's entries that may be outputs (not fanout's bookkeeping:
  // names starting with '.' or '_'), sorted.
  virtual Result<std::vector<std::string>> ListTargets() = 0;
  // The ids of the runs with a manifest, sorted (oldest first: run ids sort
  // by start time). A shard's manifest (<run-id>.shard-K-of-N.json) is not a
  // run.
  virtual Result<std::vector<std::string>> ListRuns() = 0;
  // A run's file, e.g. "<run-id>.json" (its manifest).
  virtual Result<std::string> ReadRunFile(const std::string& name) = 0;
  // Where a run's file lives, as a user would look for it (messages,
  // RunReport::manifest_path), e.g. "OUT/_fanout/runs/<run-id>.json".
  virtual std::string RunFileLocation(const std::string& name) const = 0;
  // The names of every run file (run manifests, shard manifests), sorted.
  virtual Result<std::vector<std::string>> ListRunFiles() {
    return Status::Failed("this output store cannot list its run files (fanout collect needs it)");
  }
  // Whether a run holds OUT's lock now (false when none ever did).
  virtual Result<bool> LockHeld() = 0;

  // --- Owning OUT for a run ------------------------------------------------
  // Invalid when OUT cannot hold this job's outputs: it is not a folder, or
  // (on a filesystem) it holds or lies inside the job's own files (inputs,
  // job file, includes, transforms, the input cache).
  virtual Status CheckLocation(const JobSpec& spec) = 0;
  // Invalid when fanout's bookkeeping names (OUT/_fanout, its lock, runs
  // folder, staging) are something else (a link, a file): fanout would write
  // through them.
  virtual Status CheckLayout() = 0;
  // Creates OUT and its bookkeeping folders.
  virtual Status CreateLayout() = 0;
  // OUT's run lock, holding `holder` as text. kBusy naming the current
  // holder when another run has it.
  virtual Result<std::unique_ptr<OutputLock>> Lock(const std::string& holder) = 0;
  // --- Shards: parts of one run on several hosts at once (--shard K/N) ------
  // Shares OUT with the other shards of `run_id`: excluded by a whole run's
  // Lock (and excluding it), and a second copy of the same shard is kBusy.
  virtual Result<std::unique_ptr<OutputLock>> LockShard(const std::string& run_id, int shard,
                                                        const std::string& holder) {
    (void)run_id, (void)shard, (void)holder;
    return Status::Invalid("this output store cannot run shards (--shard)");
  }
  // BeginRun for one shard: clears only what an earlier copy of this shard
  // left (the other shards are running) and opens its staging; ScratchDir
  // and Stage then use `ShardKey(run_id, shard)` as the run id.
  virtual Status BeginShard(const std::string& run_id, int shard) {
    (void)run_id, (void)shard;
    return Status::Invalid("this output store cannot run shards (--shard)");
  }
  static std::string ShardKey(const std::string& run_id, int shard) {
    return run_id + ".shard-" + std::to_string(shard);
  }
  // Writes a run's file atomically and durably (a reader sees the old
  // content or the new, never a mix).
  virtual Status WriteRunFile(const std::string& name, const std::string& data) = 0;

  // --- One run's attempts: between BeginRun and EndRun, lock held ----------
  // Removes what killed runs left (their staging, temporary run files) and
  // opens `run_id`'s staging.
  virtual Status BeginRun(const std::string& run_id) = 0;
  // A local folder the engine of run `run_id` may spill into (created by the
  // engine when it needs it; removed with the run's staging).
  virtual std::string ScratchDir(const std::string& run_id) const = 0;
  // A fresh, empty staging folder for one attempt. Each is ended by exactly
  // one Publish or Discard.
  virtual Result<StagedAttempt> Stage(const std::string& target, int attempt) = 0;
  // Seals the files the engine wrote (names them part-00000.<ext>..., sizes,
  // xxh3), completes `marker` with them and publishes the attempt as
  // OUT/<target>, atomically and durably. `single`: the name of the one file
  // the engine wrote ("" when it may have written several). Only an output
  // of fanout is replaced: anything else at OUT/<target> fails the publish
  // (kFailed) untouched. Returns the completed marker. On failure the
  // staging is removed.
  virtual Result<Marker> Publish(const StagedAttempt& staged, Marker marker, const std::string& single) = 0;
  // Throws away an attempt that will not be published (best effort).
  virtual void Discard(const StagedAttempt& staged) = 0;
  // Removes this run's staging.
  virtual Status EndRun() = 0;
};

// The local filesystem at `out_dir`.
std::shared_ptr<OutputStore> NewLocalStore(const std::string& out_dir);

}  // namespace fanout
