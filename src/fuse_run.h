// fuse_run: running fused batches (fuse.h). A batch is one attempt on one
// connection: the sequence table (a row per iteration), the batch query into
// a temp result, then for each iteration a COPY of its rows (WHERE n = $n,
// bound) into its own staging folder, its own _SUCCESS and an atomic publish
// through the OutputStore, exactly as a separate attempt commits. Batches run
// through the scheduler's pool (at most `workers` at once, cancel and a
// timeout of run.timeout per iteration in the batch); a batch that fails
// leaves its iterations not yet committed pending, and the caller runs them
// separately, each with its own retries, timeout and error.
#pragma once

#include <string>
#include <vector>

#include "engine.h"
#include "fanout/store.h"
#include "fuse.h"
#include "plan.h"
#include "scheduler.h"

namespace fanout {

// Creates (or replaces) form.seq_table on `con` with a row per member.
Status CreateSequenceTable(Connection& con, const FusedForm& form, const std::vector<const Iteration*>& members);

// The most iterations in one batch: the temp result of a batch holds all
// their rows at once (the engine spills it beyond memory_limit).
inline constexpr size_t kMaxBatch = 64;

// Runs the pending iterations that have a fused form, in batches; commits
// each through `store` (reports[i] committed, options.events told). Returns
// when every batch has ended; iterations it did not commit stay pending.
void RunFusedBatches(Database& db, OutputStore& store, const OutputSpec& output, const std::string& run_id,
                     const std::vector<Iteration>& iterations, std::vector<IterationReport>& reports,
                     const std::vector<size_t>& order, const SchedulerOptions& options);

}  // namespace fanout
