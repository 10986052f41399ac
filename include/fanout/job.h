// Job: a job opened once — its spec validated and its output location
// checked — that loads its inputs at most once and serves validate, plan and
// run from that load.
//
//   auto job = fanout::Job::Open(*fanout::LoadJobSpec("job.yaml"), {});
//   if (!job.ok()) ...;
//   auto plan = (*job)->Plan();          // loads the inputs' schemas only
//   fanout::RunReport report = (*job)->Run();  // loads the rows, runs
//
// Validate and Plan write nothing (not even the input cache): without an
// earlier Load they load schemas only, and a later Run loads the rows. Call
// Load first to validate, plan and run on one full load.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fanout/fanout.h"

namespace fanout {
namespace internal {
struct JobAccess;
}

class Job {
 public:
  // Validates `spec` (as a job file is) and checks where its output goes.
  // Reads no input and writes nothing. `options` holds for every later call.
  static Result<std::unique_ptr<Job>> Open(const JobSpec& spec, const RunOptions& options = {});
  ~Job();
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  const JobSpec& spec() const;

  // Loads the inputs (may write the input cache), runs `prepare` and plans.
  Status Load();
  // What `fanout validate` does: every transform checked without running it.
  // `warnings` (may be null) gets what may not do as the user expects.
  Status Validate(std::vector<std::string>* warnings = nullptr);
  // What `fanout plan` prints: the resolved iterations (with options.resume,
  // whether each would run and why).
  Result<std::vector<PlannedIteration>> Plan(std::vector<std::string>* warnings = nullptr);
  // Runs the job: returns when every iteration has committed, failed, been
  // skipped or cancelled. A job runs at most once (a second call fails).
  RunReport Run();

 private:
  friend struct internal::JobAccess;  // fanout's own (src/job_internal.h)
  struct Impl;
  explicit Job(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fanout
