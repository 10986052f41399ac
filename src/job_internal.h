// job_internal: what in-tree code (the CLI, tests) may do beyond the public
// API: open a job over another file seam (a fault-injecting wrapper).
#pragma once

#include <memory>

#include "fanout/job.h"
#include "backend.h"
#include "cluster.h"
#include "storage.h"

namespace fanout {
namespace internal {
// Opens a Job over another file seam and backend (Job's constructor is
// private: this is the one way in besides Job::Open).
struct JobAccess {
  static Result<std::unique_ptr<Job>> Open(const JobSpec& spec, const RunOptions& options,
                                           std::shared_ptr<Storage> files, BackendFactory backend,
                                           Cluster* cluster = nullptr);
};
}  // namespace internal

// Job::Open with every filesystem call of the input cache and (unless
// options.store is given) of outputs, manifests and the lock going through
// `files`.
// `backend` (may be empty): what runs the iterations (empty: this process).
// `cluster` (may be null): this process is one rank of a run (runner.h).
Result<std::unique_ptr<Job>> OpenJob(const JobSpec& spec, const RunOptions& options, std::shared_ptr<Storage> files,
                                     BackendFactory backend = nullptr, Cluster* cluster = nullptr);
// RunJob over `storage`.
RunReport RunJobWith(const JobSpec& spec, const RunOptions& options, std::shared_ptr<Storage> storage);

}  // namespace fanout
