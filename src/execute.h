// execute: one attempt of one iteration on the real engine — a fresh
// connection (its temp tables are private), the transform's statements with
// params bound, the last one written by the engine into a staging directory,
// then committed. A transform of a single query (which can create no temp
// table and change no setting) reuses an idle session — connection and
// prepared statement — of an earlier iteration instead. Every engine call of
// an iteration runs on one of `workers` EngineThreads, so that the engine's
// per-thread allocator caches stay bounded by max_workers however many
// threads wait to commit.
#pragma once

#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fanout/store.h"
#include "engine.h"
#include "fanout/job_spec.h"
#include "mutex.h"
#include "scheduler.h"

namespace fanout {

// COPY (\n<query>\n) TO $fanout_target (<output options>): how the last
// statement of a transform is written. The target is bound when it runs.
std::string CopyStatement(const OutputSpec& output, const std::string& query);
// The one file the engine writes for an iteration (part-00000.<ext>); empty
// for split output (max_file_bytes). Where $fanout_target points in `staging`.
std::string SingleFile(const OutputSpec& output);
std::string CopyTarget(const OutputSpec& output, const std::string& staging);
// The _SUCCESS of an attempt of `it` that wrote `rows`, begun at `started`.
Marker IterationMarker(const Iteration& it, const std::string& run_id, int64_t rows, int attempt, double started);

// A fixed set of threads that run the calls given to Run, one at a time each.
// The engine keeps a cache of freed memory per thread that touched it (its
// allocator's thread cache, tens of MiB after an aggregate); running every
// query on the same few threads bounds those caches by these threads plus the
// engine's own (run.threads - 1), not by the scheduler's threads (which are
// many more: they also commit).
class EngineThreads {
 public:
  explicit EngineThreads(int threads);
  ~EngineThreads();  // finishes the calls already given, then joins
  EngineThreads(const EngineThreads&) = delete;
  EngineThreads& operator=(const EngineThreads&) = delete;

  // Runs `fn` on one of the threads; returns once it has returned (an
  // exception it throws is rethrown here). Callers beyond `threads` at once
  // wait their turn, in order.
  void Run(const std::function<void()>& fn) EXCLUDES(mu_);

 private:
  struct Call {
    const std::function<void()>* fn = nullptr;
    bool done = false;         // guarded by EngineThreads::mu_
    std::exception_ptr error;  // what fn threw
    CondVar cv;                // wakes only this call's caller
  };
  void Loop() EXCLUDES(mu_);

  Mutex mu_;
  CondVar work_;
  std::deque<Call*> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

class EngineExecutor : public IterationExecutor {
 public:
  // `engine_threads`: how many threads run the engine's work, at least the
  // scheduler's workers (more would never be used at once).
  EngineExecutor(Database& db, OutputStore& store, const OutputSpec& output, std::string run_id,
                 int engine_threads);
  Status RunAttempt(const Iteration& it, int attempt, Interrupter& stop, ComputeSlot& slot,
                    IterationReport& report) override;

 private:
  struct Session {
    std::unique_ptr<Connection> con;
    std::string sql;  // what `stmt` was prepared from
    std::unique_ptr<PreparedStatement> stmt;
  };
  Result<std::unique_ptr<Session>> OpenSession(bool reuse) EXCLUDES(mu_);
  // Everything the engine does for one attempt: a session, the statements,
  // the session back to the idle list. Runs on one of threads_.
  // `failed_sql` gets the statement that failed (as the transform has it).
  Result<int64_t> Compute(const Iteration& it, int attempt, Interrupter& stop, const std::string& staging,
                          std::string* failed_sql) EXCLUDES(mu_);
  Result<int64_t> Transform(const Iteration& it, Session& session, const std::string& staging,
                            std::string* failed_sql);

  Database& db_;
  OutputStore& store_;
  const OutputSpec& output_;
  std::string run_id_;
  Mutex mu_;
  std::vector<std::unique_ptr<Session>> idle_ GUARDED_BY(mu_);
  EngineThreads threads_;  // last: joined before the sessions close
};

}  // namespace fanout
