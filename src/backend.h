// backend: who computes and commits the planned iterations. The runner
// decides what runs and in which order; a backend runs each iteration still
// pending (engine work, then commit through the output store), reports every
// outcome to options.events as it happens, and returns only when every
// iteration has one (the barrier). The local backend is this process: a
// bounded pool of workers (scheduler.h) over the engine (execute.h). Another
// backend (several processes or hosts) hands the same iterations out
// elsewhere; the runner does not change.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fanout/store.h"
#include "engine.h"
#include "fanout/fanout.h"
#include "plan.h"
#include "scheduler.h"

namespace fanout {

class Backend {
 public:
  virtual ~Backend() = default;
  // Runs every report still kPending (reports[i] belongs to iterations[i]),
  // in the order of `order` (indices), with at most options.workers
  // computing at once. Returns true when the run was cancelled.
  virtual bool Run(const std::vector<Iteration>& iterations, std::vector<IterationReport>& reports,
                   const std::vector<size_t>& order, const SchedulerOptions& options) = 0;
};

// This process: `workers` threads of engine work on `db`, committing through
// `store`.
std::unique_ptr<Backend> NewLocalBackend(Database& db, OutputStore& store, const OutputSpec& output,
                                         std::string run_id, int workers);

}  // namespace fanout
