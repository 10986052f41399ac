// loaded: an opened job's engine, loaded inputs and plan — everything a run,
// `validate` and `plan` share, produced once before anything is written.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine.h"
#include "fanout/fanout.h"
#include "load.h"
#include "plan.h"
#include "storage.h"

namespace fanout {

struct Loaded {
  std::unique_ptr<Database> db;
  std::unique_ptr<Connection> con;
  std::vector<Iteration> iterations;
  LoadNotes notes;  // shown once the job is known to be valid
  bool schema_only = false;  // no rows were loaded (validate, plan): cannot run
};

// Opens the engine, loads the inputs, runs `prepare`, plans the iterations
// (limited to options.only) and dry-runs every transform. schema_only loads
// no rows (validate, plan). A job refused after its inputs loaded leaves no
// input cache behind. options.cancel interrupts the engine; a load that takes
// a while says so through options.events. The engine spills to `spill_dir`.
// Every file call of the input cache goes through `storage`.
Result<Loaded> LoadAndPlan(const std::shared_ptr<Storage>& storage, const JobSpec& spec, const RunOptions& options,
                           bool schema_only, const std::string& spill_dir);

// 20261123T054917.123Z-e3d899: fixed width, so run ids (and the manifest file
// names) sort in start order; `fanout status` relies on it to find the last run.
std::string NewRunId();

int Cores();
// The engine's threads while it loads: run.threads, or every core (auto).
int LoadThreads(const JobSpec& spec);

// validate and plan write nothing, not even the input cache.
JobSpec WithoutCache(const JobSpec& spec);

}  // namespace fanout
