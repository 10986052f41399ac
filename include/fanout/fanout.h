// fanout: run a model sequence in parallel, commit every iteration atomically,
// return when every iteration has committed or failed.
//
//   auto spec = fanout::LoadJobSpec("job.yaml");
//   fanout::RunReport report = fanout::RunJob(*spec, {});
//   return report.ExitCode();
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fanout/engine.h"
#include "fanout/job_spec.h"
#include "fanout/status.h"
#include "fanout/transform.h"
#include "fanout/value.h"

namespace fanout {

class OutputStore;  // fanout/store.h

enum class IterationStatus { kPending, kCommitted, kFailed, kSkipped, kCancelled };
const char* ToString(IterationStatus s);

// One attempt of one iteration, as it happened: the trace. Times are unix
// seconds taken where each step happens (the scheduler, the executor); 0 when
// the attempt never reached that step.
struct AttemptTrace {
  int attempt = 0;
  std::string status;   // committed | failed | retried | cancelled
  int worker = 0;       // the scheduler thread that ran it (0-based)
  double queued = 0;    // began waiting for a compute slot (a retry: after its backoff)
  double started = 0;   // got one; the attempt begins (creating its staging folder)
  double staged = 0;    // its staging folder exists: the engine's work begins
  double engine_done = 0;  // the engine's statements returned (the output written, in staging)
  double published = 0;    // the store published it (group commit included)
  double finished = 0;     // the scheduler has its outcome
  int64_t rows = 0, bytes = 0;
  int files = 0;
  double cpu_seconds = 0;  // CPU time of the thread that ran its statements (not DuckDB's helper threads)
  std::string error;         // the whole error text
  std::string retry_reason;  // why another attempt follows: "transient I/O", "timeout", "out of memory"
  std::string sql;           // the statement that failed, when one did
  int fused = 0;             // computed in a fused batch of this many iterations (run.fuse); 0: alone
  bool operator==(const AttemptTrace&) const = default;
};

// What an iteration's attempts asked of an S3 output store (fanout's own
// requests, every attempt summed): requests sent (retries included), retries,
// throttled answers (503 SlowDown, 429), bytes sent and received.
struct S3Io {
  int64_t requests = 0, retries = 0, throttles = 0, bytes_sent = 0, bytes_received = 0;
  bool operator==(const S3Io&) const = default;
};

struct IterationReport {
  Value n;
  std::string kind;
  std::string target;  // output dir name, e.g. iter_2
  IterationStatus status = IterationStatus::kPending;
  std::string skip_reason;  // for kSkipped
  // Why it runs when --resume or output.mode: skip_existing could have
  // skipped it: "no output yet", "changed: params", or what differs from its
  // _SUCCESS ("part-00000.parquet: size 1234 on disk, 5678 in _SUCCESS").
  std::string run_reason;
  int64_t rows = 0;
  int64_t bytes = 0;
  int files = 0;
  int attempts = 0;
  double started_at = 0;   // unix seconds
  double finished_at = 0;  // unix seconds
  // Of the committed attempt: creating its staging folder, and from the end
  // of its engine work to its publish (the engine slot is free meanwhile).
  double commit_seconds = 0;
  std::string error;
  std::string fingerprint;
  // Of a sharded run (--shard K/N): the shard (1..N) and host that ran it;
  // 0 and "" otherwise.
  int shard = 0;
  std::string host;
  // Of a run on the MPI backend (--backend mpi): the rank that ran it (and
  // `host` its host); -1 otherwise.
  int rank = -1;
  std::vector<AttemptTrace> trace;  // every attempt, oldest first
  // Of an s3:// output: its requests (manifest "s3"; absent elsewhere, and in
  // manifests written before it).
  std::optional<S3Io> s3;
  double seconds() const { return finished_at > started_at ? finished_at - started_at : 0; }
  bool operator==(const IterationReport&) const = default;
};

struct RunReport {
  std::string run_id;
  std::string job_name;
  std::string out_dir;
  double started_at = 0, finished_at = 0;
  Status status;  // not ok: the job did not run (invalid, busy, interrupted)
  bool interrupted = false;
  std::vector<IterationReport> iterations;
  std::string manifest_path;  // empty when no manifest was written
  std::string report_path;    // the HTML report (beside the manifest); empty when none
  int workers = 0;            // at most this many iterations computed at once (max_workers, resolved)
  int threads = 0;            // the engine's threads while they ran (run.threads, resolved)
  std::string memory_limit;   // engine.memory_limit as the job set it
  std::string host;           // where it ran
  // The manifest of a run still going: written at the start and while the
  // iterations finish, so that a killed run is visible (status "running").
  bool running = false;
  // A shard of a run (--shard K/N): K, N, how many iterations the whole run
  // planned and a digest of who runs which (every shard of one run agrees).
  int shard = 0, shards = 0;
  int64_t shard_total = 0;
  std::string shard_digest;

  int Count(IterationStatus s) const;
  // 0 all ok, 1 some iteration failed, 2 invalid job / inputs, 130 interrupted.
  int ExitCode() const;
  std::string ToJson() const;
};

// Progress events. Called from worker threads: implementations synchronise.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void OnPlanned(const std::vector<IterationReport>& iterations) { (void)iterations; }
  virtual void OnStarted(const IterationReport& it) { (void)it; }
  virtual void OnRetry(const IterationReport& it, const std::string& error, double delay_s) {
    (void)it, (void)error, (void)delay_s;
  }
  virtual void OnFinished(const IterationReport& it) { (void)it; }
  virtual void OnMessage(const std::string& line) { (void)line; }
  // Before the first iteration starts: what each target's engine work took in
  // earlier runs on this output, when known (by target; for an ETA).
  virtual void OnEstimates(const std::map<std::string, double>& past_seconds) { (void)past_seconds; }
};

struct RunOptions {
  int max_workers = 0;               // overrides run.max_workers when > 0
  std::vector<std::string> only;     // run only these n (as text)
  bool resume = false;               // skip iterations whose fingerprint matches
  // Before an output is trusted (--resume, skip_existing) its files are
  // checked against its _SUCCESS: names and sizes always; with verify, their
  // xxh3 checksums too.
  bool verify = false;
  EventSink* events = nullptr;       // may be null
  // The run log, OUT/_fanout/runs/<run-id>.log: one line per event, as text
  // ("2026-11-23T05:49:17.123Z INFO  message") or one JSON object a line.
  enum class LogFormat { kText, kJson };
  LogFormat log_format = LogFormat::kText;
  const std::atomic<bool>* cancel = nullptr;  // set to true to cancel the run
  // Where outputs, markers, manifests and the lock live: null for the local
  // filesystem at output.dir (NewLocalStore); a store given must be of
  // output.dir (its location()).
  std::shared_ptr<OutputStore> store;
  // Called once per engine, with it, before its inputs load and anything runs
  // on it: register C++ scalar and table functions there (fanout/engine.h).
  // A run opens one engine; a Job validated or planned before Load() opens
  // two (a schema-only one for those, then the one that runs), and the hook
  // registers the functions on each.
  std::function<Status(Engine&)> on_engine_ready;
  // C++ transforms by name, for `transform: {cpp: name}` (fanout/transform.h).
  std::map<std::string, CppTransform> transforms;
  // One shard of a run started N times at once (array jobs): runs shard K of
  // `shards` (1 <= shard <= shards), a deterministic share of the plan, and
  // writes a shard manifest; `fanout collect` merges them. 0: the whole run.
  int shard = 0, shards = 0;
  // The run's id ("": a new one). Shards of one run must be given the same.
  std::string run_id;
};

// Loads inputs once, plans, runs every iteration with at most max_workers in
// flight, commits each atomically and writes the run manifest. Returns when
// every iteration has committed, failed, been skipped or cancelled.
RunReport RunJob(const JobSpec& spec, const RunOptions& options);

// What `fanout validate` does: load schemas, run prepare, plan, prepare every
// transform. Writes nothing.
// `warnings` (may be null) gets what the job may not do as the user expects
// (a column Parquet cannot hold exactly, ...).
// With `options`, as the run would be given them: its C++ transforms
// (`options.transforms`) are the registered ones, and `on_engine_ready`
// registers its functions for the check. Without, nothing is registered: a
// job naming a C++ transform is refused.
Status ValidateJob(const JobSpec& spec, const RunOptions& options, std::vector<std::string>* warnings = nullptr);
Status ValidateJob(const JobSpec& spec, std::vector<std::string>* warnings = nullptr);

struct PlannedIteration {
  Value n;
  std::string kind;
  std::string target;
  Params params;
  std::string sql;
  std::string run_reason;  // with resume: why it would run, or "up to date"
  bool would_run = true;
  std::vector<std::string> after;  // the n of each iteration it waits for (after:)
  std::string fuse;  // "fused: ..." or "separate: <why>" (run.fuse)
};
// What `fanout plan` prints: the resolved iterations.
Result<std::vector<PlannedIteration>> PlanJob(const JobSpec& spec, const RunOptions& options,
                                              std::vector<std::string>* warnings = nullptr);

}  // namespace fanout
