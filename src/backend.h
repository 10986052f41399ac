// backend: who computes and commits the planned iterations. The runner
// decides what runs and in which order; a backend runs each iteration still
// pending (engine work, then commit through the output store), reports every
// outcome to options.events as it happens, and returns only when every
// iteration has one (the barrier). The local backend is this process: a
// bounded pool of workers (scheduler.h) over the engine (execute.h). Another
// backend (several processes or hosts) hands the same iterations out
// elsewhere; the runner does not change.
#pragma once

#include <functional>
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

// What a backend runs with: the loaded engine, the store, the run.
struct BackendContext {
  Database& db;
  OutputStore& store;
  const OutputSpec& output;
  std::string run_id;
  int workers = 1;
};
using BackendFactory = std::function<std::unique_ptr<Backend>(const BackendContext&)>;

// This process: `workers` threads of engine work on the engine, committing
// through the store.
std::unique_ptr<Backend> NewLocalBackend(const BackendContext& context);

}  // namespace fanout
