// job_internal: what in-tree code (the CLI, tests) may do beyond the public
// API: open a job over another file seam (a fault-injecting wrapper).
#pragma once

#include <memory>

#include "fanout/job.h"
#include "storage.h"

namespace fanout {

// Job::Open with every filesystem call of the input cache and (unless
// options.store is given) of outputs, manifests and the lock going through
// `files`.
Result<std::unique_ptr<Job>> OpenJob(const JobSpec& spec, const RunOptions& options, std::shared_ptr<Storage> storage);
// RunJob over `storage`.
RunReport RunJobWith(const JobSpec& spec, const RunOptions& options, std::shared_ptr<Storage> storage);

}  // namespace fanout
