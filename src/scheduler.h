// scheduler: a bounded pool of workers that runs iterations, with retries,
// per-iteration timeouts and cancellation. It does no I/O itself: it talks to
// an IterationExecutor (the engine + commit, or a fake in tests) and an
// EventSink. RunIterations returns only when every iteration has an outcome
// (the barrier).
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "fanout/fanout.h"
#include "mutex.h"
#include "plan.h"

namespace fanout {

// The error of an iteration stopped by cancellation while it ran (a batch
// of fused iterations gets it too: fuse_run.cc tells its iterations).
inline constexpr const char* kCancelledWhileRunning = "cancelled while running";

// Lets another thread stop the step an attempt is running. Thread-safe.
class Interrupter {
 public:
  // Installs `fn` as the way to stop the current step. Returns false (and
  // installs nothing) when the interrupter has already fired.
  bool Arm(std::function<void()> fn) EXCLUDES(mu_);
  void Disarm() EXCLUDES(mu_);
  // Stops the current step (if any) and every later Arm fails. `kind` says
  // why: kInterrupted (cancelled) or kTimeout (run.timeout).
  void Fire(const std::string& reason, ErrorKind kind = ErrorKind::kInterrupted) EXCLUDES(mu_);
  bool fired() const EXCLUDES(mu_);
  std::string reason() const EXCLUDES(mu_);
  // The status of a stopped step: kInterrupted, of the kind it was fired with.
  Status why() const EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  std::function<void()> fn_ GUARDED_BY(mu_);
  bool fired_ GUARDED_BY(mu_) = false;
  std::string reason_ GUARDED_BY(mu_);
  ErrorKind kind_ GUARDED_BY(mu_) = ErrorKind::kInterrupted;
};

// An attempt's claim on one of the `workers` compute slots. The executor
// releases it as soon as its engine work has succeeded, so the next iteration
// starts computing while this one commits (file I/O, fsync); otherwise the
// scheduler releases it when the attempt returns. Used by one thread.
class ComputeSlot {
 public:
  explicit ComputeSlot(std::function<void()> release) : release_(std::move(release)) {}
  void Release() {
    if (release_) std::exchange(release_, nullptr)();
  }

 private:
  std::function<void()> release_;
};

class IterationExecutor {
 public:
  virtual ~IterationExecutor() = default;
  // Runs one attempt of `it` and commits it. Fills rows, bytes, files of
  // `report`. Returns stop.why() when `stop` fired; otherwise the error's
  // kind decides: kTransientIo is retried, kOutOfMemory gets another attempt
  // with fewer computing at once, anything else fails the iteration.
  virtual Status RunAttempt(const Iteration& it, int attempt, Interrupter& stop, ComputeSlot& slot,
                            IterationReport& report) = 0;
};

struct SchedulerOptions {
  int workers = 1;     // attempts computing at once (engine work)
  int committers = 0;  // more attempts that may be committing meanwhile
  int retries = 0;
  double backoff_seconds = 1.0;
  double timeout_seconds = 0;  // 0: none
  bool stop_on_failure = false;
  const std::atomic<bool>* cancel = nullptr;
  EventSink* events = nullptr;
  // Pull-based: when set, a thread whose compute slot is free asks `next` for
  // the index of its next iteration (instead of taking `order`'s next) and
  // stops at nullopt. A distributed backend hands out iterations this way,
  // one request at a time. Called from the pool's threads.
  std::function<std::optional<size_t>()> next;
};

// The defaults of run.max_workers and run.threads (`auto`) on `cores` cores.
// Workers: min(iterations, max(2, cores)). Threads: the engine's own threads,
// shared by the queries in flight. With many iterations per worker the queue
// keeps every core busy with one query each, and threads beyond
// cores - workers + 1 only add contention (and a hash table per thread per
// query); with few, the last iterations run alone and need every core.
int AutoWorkers(int cores, int iterations);
int AutoThreads(int cores, int workers, int iterations);
// What a run uses: --max-workers (`option`) or run.max_workers when > 0, else
// AutoWorkers; never more than there is to run. run.threads when > 0, else
// AutoThreads.
int ChooseWorkers(int option, int spec_workers, int cores, int pending);
int ChooseThreads(int spec_threads, int cores, int workers, int pending);

// Runs every report still kPending (reports[i] belongs to iterations[i]),
// in the order of `order` (indices). Returns true when the run was cancelled.
bool RunIterations(const std::vector<Iteration>& iterations, std::vector<IterationReport>& reports,
                   const std::vector<size_t>& order, IterationExecutor& executor, const SchedulerOptions& options);

}  // namespace fanout
