// runner: one run of an opened job, one short method per phase (Ninja's
// Builder is the model):
//
//   Check    everything that can reject the job before anything is read
//   Load     inputs, prepare, plan (or the job's earlier full load)
//   Own      OUT created and locked, what killed runs left removed
//   Decide   skips (skip_existing, --resume), the manifest says "running"
//   Execute  the backend runs every pending iteration: the barrier
//   Finish   staging removed, the final manifest written
//
// Each phase that fails ends the run with its Status; nothing after it runs.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend.h"
#include "cluster.h"
#include "fanout/store.h"
#include "fanout/fanout.h"
#include "loaded.h"
#include "run_log.h"
#include "scheduler.h"
#include "storage.h"

namespace fanout {

class Runner {
 public:
  // `store`: where outputs, markers, manifests and the lock live. `files`:
  // the file seam of the input cache. `loaded` (may be null): a full load of
  // this job made earlier, used instead of loading again.
  // `backend` (may be empty): makes the backend that runs the iterations;
  // empty: the local one.
  // `cluster` (may be null): this process is one rank of a run started by a
  // launcher (cluster.h): every rank checks and loads, rank 0 alone owns the
  // output and writes the manifest, the cluster's backend runs the
  // iterations (`backend` is then unused).
  Runner(const JobSpec& spec, const RunOptions& options, std::shared_ptr<OutputStore> store,
         std::shared_ptr<Storage> files, Loaded* loaded, BackendFactory backend = nullptr,
         Cluster* cluster = nullptr);
  ~Runner();

  // Runs every phase. Returns when every iteration has an outcome.
  RunReport Run();

 private:
  Status Check();
  Status Load();
  Status Own();
  Status Decide();
  void Execute();
  Status Finish();

  RunReport Done(Status st);
  bool Owner() const { return !cluster_ || cluster_->coordinator(); }
  // On a cluster: every rank loaded the same plan, else the ranks that
  // could not, named (collective).
  Status AgreeLoaded(Status st);
  // On a cluster: rank 0 owned the output, then each other rank opens its
  // staging (collective).
  Status JoinRun(Status st);
  void KeepShare();
  Status CheckShardRunId();
  std::string RunKey() const;  // the run's id, or its shard's key
  void Abandon();
  Status WriteManifest();
  void WriteRunReports();
  std::string ManifestPath() const;
  // The engine's threads while iterations run (may differ from the load's).
  void SetRunThreads(int pending);
  SchedulerOptions Scheduling();

  const JobSpec& spec_;
  const RunOptions& options_;
  std::shared_ptr<OutputStore> store_;
  std::shared_ptr<Storage> files_;
  BackendFactory backend_;
  Cluster* cluster_ = nullptr;
  // On a cluster: whether the input cache's folder existed before any rank
  // loaded (a refused run removes it again when it made it).
  bool cache_dir_existed_ = true;
  RunReport report_;
  std::string manifest_name_;  // in the store's runs: <run-id>.json
  bool began_ = false;         // BeginRun succeeded: EndRun is due
  // Before the engine: released only once the engine has closed.
  std::unique_ptr<OutputLock> lock_;
  Loaded* loaded_ = nullptr;  // loaded_here_ or the job's
  std::optional<Loaded> loaded_here_;
  RunLog log_;                 // in front of options_.events: the run log
  EventSink* events_ = &log_;  // every event goes here
};

}  // namespace fanout
