#include "shard.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "util.h"

namespace fanout {

namespace {

// A whole decimal number from 0 to 1,000,000, or -1.
long Whole(const char* text) {
  if (!text || !*text) return -1;
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  return *end == '\0' && v >= 0 && v <= 1000000 ? v : -1;
}

Status Range(int k, int n, const std::string& given) {
  if (n < 1 || k < 1 || k > n)
    return Status::Invalid("--shard " + given + ": K must be from 1 to N (e.g. --shard 2/3 runs the second of 3 shares)");
  return Status::Ok();
}

// Slurm numbers an array's tasks freely (--array=0-2, 1-3): K counts from its
// first task; a stepped or sparse array cannot be shards of one run.
Result<ShardChoice> FromSlurm(const GetEnv& env) {
  long id = Whole(env("SLURM_ARRAY_TASK_ID")), lo = Whole(env("SLURM_ARRAY_TASK_MIN")),
       hi = Whole(env("SLURM_ARRAY_TASK_MAX")), count = Whole(env("SLURM_ARRAY_TASK_COUNT"));
  if (id < 0 || lo < 0 || hi < lo || count != hi - lo + 1)
    return Status::Invalid("--shard auto: this Slurm array is not numbered 1..N in steps of 1 (SLURM_ARRAY_TASK_ID, "
                           "_MIN, _MAX, _COUNT); submit it as sbatch --array=1-N, or give --shard K/N");
  ShardChoice c{static_cast<int>(id - lo + 1), static_cast<int>(count), ""};
  if (const char* job = env("SLURM_ARRAY_JOB_ID")) c.run_id = std::string("slurm-") + job;
  FANOUT_RETURN_IF_ERROR(Range(c.shard, c.shards, "auto"));
  return c;
}

// Kubernetes and AWS Batch give a 0-based index but not the count.
Result<ShardChoice> FromIndex(const GetEnv& env, const char* index_var, const std::string& run_id) {
  long index = Whole(env(index_var)), count = Whole(env("FANOUT_SHARDS"));
  if (index < 0) return Status::Invalid(std::string("--shard auto: ") + index_var + " is not a whole number");
  if (count < 1)
    return Status::Invalid(std::string("--shard auto: ") + index_var +
                           " gives this shard's index but not how many there are: set FANOUT_SHARDS to the "
                           "array's size (Kubernetes: spec.completions; AWS Batch: arrayProperties.size)");
  ShardChoice c{static_cast<int>(index + 1), static_cast<int>(count), run_id};
  FANOUT_RETURN_IF_ERROR(Range(c.shard, c.shards, "auto"));
  return c;
}

}  // namespace

Result<ShardChoice> ParseShard(const std::string& text) {
  size_t slash = text.find('/');
  long k = slash == std::string::npos ? -1 : Whole(text.substr(0, slash).c_str());
  long n = slash == std::string::npos ? -1 : Whole(text.substr(slash + 1).c_str());
  if (k < 0 || n < 0)
    return Status::Invalid("--shard must be K/N (e.g. 2/3) or auto, got '" + text + "'");
  FANOUT_RETURN_IF_ERROR(Range(static_cast<int>(k), static_cast<int>(n), text));
  return ShardChoice{static_cast<int>(k), static_cast<int>(n), ""};
}

Result<ShardChoice> ShardFromLauncher(const GetEnv& env) {
  if (env("SLURM_ARRAY_TASK_ID")) return FromSlurm(env);
  if (env("JOB_COMPLETION_INDEX")) return FromIndex(env, "JOB_COMPLETION_INDEX", "");
  if (env("AWS_BATCH_JOB_ARRAY_INDEX")) {
    std::string job = env("AWS_BATCH_JOB_ID") ? env("AWS_BATCH_JOB_ID") : "";
    job = job.substr(0, job.find(':'));  // a child is <parent>:<index>
    return FromIndex(env, "AWS_BATCH_JOB_ARRAY_INDEX", job.empty() ? "" : "aws-" + job);
  }
  return Status::Invalid(
      "--shard auto: no array launcher found (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, "
      "AWS_BATCH_JOB_ARRAY_INDEX are unset); give --shard K/N");
}

Status CheckRunId(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 64;
  for (char c : id) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  if (!ok)
    return Status::Invalid("--run-id '" + id + "': use 1 to 64 letters, digits, '_' or '-' (it names files under "
                           "OUT/_fanout/runs)");
  return Status::Ok();
}

ShardShare AssignShards(const std::vector<Iteration>& iterations, const std::map<std::string, double>& past,
                        int shards) {
  // An iteration never seen counts as the mean of those seen (1 s when none).
  double known = 0;
  int seen = 0;
  for (const Iteration& it : iterations)
    if (auto p = past.find(it.target); p != past.end()) known += p->second, ++seen;
  const double unknown = seen ? known / seen : 1.0;
  std::vector<double> cost(iterations.size());
  std::vector<size_t> idx(iterations.size());
  for (size_t i = 0; i < iterations.size(); ++i) {
    auto p = past.find(iterations[i].target);
    cost[i] = p == past.end() ? unknown : p->second;
    idx[i] = i;
  }
  // Targets are unique in a plan: this order does not depend on the plan's.
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    return cost[a] != cost[b] ? cost[a] > cost[b] : iterations[a].target < iterations[b].target;
  });
  ShardShare share;
  share.owner.assign(iterations.size(), 0);
  std::vector<double> load(static_cast<size_t>(shards), 0);
  std::string listing;
  for (size_t i : idx) {
    size_t k = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    load[k] += cost[i];
    share.owner[i] = static_cast<int>(k) + 1;
    listing += iterations[i].target + "\t" + std::to_string(k + 1) + "\n";
  }
  share.digest = HashHex(listing);
  return share;
}

}  // namespace fanout
