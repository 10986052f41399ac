// shard: one run split into N shards started at once by an array launcher
// (Slurm job arrays, Kubernetes indexed jobs, AWS Batch array jobs), and
// `fanout collect`, their barrier.
//
//   ShardFromLauncher  --shard auto: K and N from the launcher's variables
//   AssignShards       which shard runs which iteration: a function of the
//                      targets and past durations only (longest first onto
//                      the least-loaded shard), so every shard of a run
//                      computes the same share whatever the plan's order,
//                      --only (given alike to all) or what --resume skips
//   Collect            waits for the N shard manifests of a run and merges
//                      them into the run manifest
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fanout/fanout.h"
#include "fanout/record.h"
#include "fanout/store.h"
#include "plan.h"

namespace fanout {

struct ShardChoice {
  int shard = 0, shards = 0;  // K of N, 1 <= K <= N
  std::string run_id;         // the launcher's job id ("": none known)
};
using GetEnv = std::function<const char*(const char*)>;

// "K/N" (1 <= K <= N).
Result<ShardChoice> ParseShard(const std::string& text);
// --shard auto: Slurm (SLURM_ARRAY_TASK_ID, _MIN, _MAX, _COUNT, run id
// SLURM_ARRAY_JOB_ID), Kubernetes (JOB_COMPLETION_INDEX, N in FANOUT_SHARDS),
// AWS Batch (AWS_BATCH_JOB_ARRAY_INDEX, N in FANOUT_SHARDS, run id the
// parent of AWS_BATCH_JOB_ID).
Result<ShardChoice> ShardFromLauncher(const GetEnv& env);
// A run id a user or launcher gives: letters, digits, '_' and '-', 1 to 64.
Status CheckRunId(const std::string& id);

struct ShardShare {
  std::vector<int> owner;  // owner[i]: the shard (1..N) of iterations[i]
  std::string digest;      // of every target and its shard
};
ShardShare AssignShards(const std::vector<Iteration>& iterations, const std::map<std::string, double>& past,
                        int shards);

struct CollectOptions {
  std::string run_id;          // "": the one run with shard manifests not yet collected
  double wait_seconds = 0;     // how long to wait for shards still running or missing
  double poll_seconds = 0.5;
  const std::atomic<bool>* cancel = nullptr;
};
// The merged run (its manifest written as <run-id>.json), or why not:
// Invalid for shards that disagree or a run not found, Timeout-like Failed
// naming each shard still missing or running.
Result<RunReport> Collect(OutputStore& store, const CollectOptions& options);

}  // namespace fanout
