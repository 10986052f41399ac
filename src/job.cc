// job: the public entry points. An opened Job loads at most once; a run is
// a Runner (runner.h) over that load. Data flows one way:
//   spec -> load -> plan -> run (backend: scheduler + execute) -> commit -> report
#include "fanout/job.h"

#include <optional>

#include "cpp_transform.h"
#include "decide.h"
#include "deps.h"
#include "fanout/fanout.h"
#include "job_internal.h"
#include "loaded.h"
#include "outputs.h"
#include "posix_store.h"
#include "runner.h"
#include "s3_store.h"
#include "storage.h"
#include "util.h"

namespace fanout {

struct Job::Impl {
  JobSpec spec;
  RunOptions options;
  std::shared_ptr<OutputStore> store;  // outputs, markers, manifests, the lock
  std::shared_ptr<Storage> files;      // the input cache
  BackendFactory backend;              // empty: the local backend
  Cluster* cluster = nullptr;          // one rank of a run (runner.h)
  // Where the engine of a Load() before Run() spills: a private temporary
  // folder, never under OUT (no run holds OUT's lock yet, and another run's
  // start would clear OUT's staging).
  std::string spill;
  std::optional<Loaded> loaded;  // full (Load, Run) or schema only (Validate, Plan)
  bool ran = false;

  ~Impl() {
    loaded.reset();  // the engine first: it may spill there
    if (!spill.empty()) (void)files->RemoveAll(spill);
  }

  // A load that serves validate and plan: the job's own when it has one,
  // else one of schemas only (writes nothing, not even the input cache).
  Result<Loaded*> ForInspection() {
    if (!loaded) {
      auto l = LoadAndPlan(files, WithoutCache(spec), options, /*schema_only=*/true, "");
      if (!l.ok()) return l.status();
      loaded = std::move(l).value();
    }
    return &*loaded;
  }
};

Result<std::unique_ptr<Job>> internal::JobAccess::Open(const JobSpec& spec, const RunOptions& options,
                                                       std::shared_ptr<Storage> files, BackendFactory backend,
                                                       Cluster* cluster) {
  // A spec built in code gets the checks a job file gets.
  FANOUT_RETURN_IF_ERROR(Validate(spec));
  FANOUT_RETURN_IF_ERROR(CheckCppTransforms(spec, options.transforms));
  std::shared_ptr<OutputStore> store = options.store;
  if (!store) {
    FANOUT_ASSIGN_OR_RETURN(store, OpenOutputStore(spec.output.dir, files));
  }
  if (store->location() != spec.output.dir)
    return Status::Invalid("RunOptions::store is at " + store->location() + " but the job's output.dir is " +
                           spec.output.dir + ": give a store of output.dir, or none");
  FANOUT_RETURN_IF_ERROR(store->CheckLocation(spec));
  auto impl = std::make_unique<Job::Impl>();
  impl->spec = spec;
  impl->options = options;
  impl->store = std::move(store);
  impl->files = std::move(files);
  impl->backend = std::move(backend);
  impl->cluster = cluster;
  return std::unique_ptr<Job>(new Job(std::move(impl)));
}

Result<std::unique_ptr<Job>> OpenJob(const JobSpec& spec, const RunOptions& options, std::shared_ptr<Storage> files,
                                     BackendFactory backend, Cluster* cluster) {
  return internal::JobAccess::Open(spec, options, std::move(files), std::move(backend), cluster);
}

Result<std::unique_ptr<Job>> Job::Open(const JobSpec& spec, const RunOptions& options) {
  return OpenJob(spec, options, NewPosixStorage());
}

Job::Job(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Job::~Job() = default;

const JobSpec& Job::spec() const { return impl_->spec; }

Status Job::Load() {
  if (impl_->loaded && !impl_->loaded->schema_only) return Status::Ok();
  if (impl_->ran) return Status::Invalid("this job has already run: open it again to load it again");
  // What a run would refuse before loading, Load refuses too: the load may
  // write the input cache.
  FANOUT_RETURN_IF_ERROR(CheckBeforeLoad(*impl_->store, impl_->spec, impl_->options.only));
  if (impl_->spill.empty()) {
    auto dir = impl_->files->MakeTempDir("fanout-spill-");
    if (!dir.ok()) return dir.status();
    impl_->spill = *dir;
  }
  impl_->loaded.reset();  // a schema-only load goes before the full one opens
  auto l = LoadAndPlan(impl_->files, impl_->spec, impl_->options, /*schema_only=*/false, impl_->spill);
  if (!l.ok()) return l.status();
  impl_->loaded = std::move(l).value();
  return Status::Ok();
}

Status Job::Validate(std::vector<std::string>* warnings) {
  auto loaded = impl_->ForInspection();
  if (!loaded.ok()) return loaded.status();
  if (warnings) *warnings = (*loaded)->notes.lines;
  return Status::Ok();
}

namespace {

// What `run --resume` would do about dependencies (deps.h): a dependant of an
// iteration that runs runs too; one whose dependency cannot be had is skipped.
void PlanDependencies(OutputStore& store, const std::vector<Iteration>& its, std::vector<PlannedIteration>& out) {
  std::vector<IterationReport> reports(its.size());
  for (size_t i = 0; i < its.size(); ++i)
    if (!out[i].would_run) reports[i].status = IterationStatus::kSkipped, reports[i].skip_reason = kUpToDate;
  DecideDependencies(store, its, reports);
  for (size_t i = 0; i < its.size(); ++i) {
    if (out[i].would_run && reports[i].status == IterationStatus::kSkipped)
      out[i].would_run = false, out[i].run_reason = reports[i].skip_reason;
    if (!out[i].would_run && reports[i].status == IterationStatus::kPending)
      out[i].would_run = true, out[i].run_reason = reports[i].run_reason;
  }
}

}  // namespace

Result<std::vector<PlannedIteration>> Job::Plan(std::vector<std::string>* warnings) {
  auto loaded = impl_->ForInspection();
  if (!loaded.ok()) return loaded.status();
  if (warnings) *warnings = (*loaded)->notes.lines;
  OutputStore& store = *impl_->store;
  // What run would refuse, plan refuses too (error_if_exists aside: plan
  // shows what would run).
  FANOUT_RETURN_IF_ERROR(RefuseForeignTargets(store, TargetsOf((*loaded)->iterations)));
  const std::vector<Iteration>& its = (*loaded)->iterations;
  std::vector<PlannedIteration> out;
  for (const Iteration& it : its) {
    PlannedIteration p{it.n, it.kind, it.target, it.params, "", "", true, {}, it.fuse_note};
    for (const auto& s : it.statements) p.sql += s + ";\n";
    if (it.cpp) p.sql = "-- C++ transform " + it.cpp->name + " (version " + it.cpp->transform.version + ")\n";
    for (const Dependency& d : it.deps) p.after.push_back(d.key);
    out.push_back(std::move(p));
  }
  if (impl_->options.resume)
    ParallelFor(its.size(), store.InspectConcurrency(), [&](size_t i) {
      Inspected in(store, its[i]);
      PlannedIteration& p = out[i];
      p.run_reason = ResumeReason(store, in, its[i], impl_->options.verify).text;
      p.would_run = !p.run_reason.empty();
      if (!p.would_run) p.run_reason = "up to date";
    });
  if (impl_->options.resume) PlanDependencies(store, (*loaded)->iterations, out);
  return out;
}

RunReport Job::Run() {
  if (impl_->ran) {
    RunReport report;
    report.status = Status::Invalid("this job has already run: open it again to run it again");
    return report;
  }
  impl_->ran = true;
  // A schema-only load (Validate, Plan) cannot run: it closes before the
  // runner opens a full one.
  if (impl_->loaded && impl_->loaded->schema_only) impl_->loaded.reset();
  Loaded* loaded = impl_->loaded ? &*impl_->loaded : nullptr;
  Runner runner(impl_->spec, impl_->options, impl_->store, impl_->files, loaded, impl_->backend, impl_->cluster);
  return runner.Run();
}

Status ValidateJob(const JobSpec& spec, const RunOptions& options, std::vector<std::string>* warnings) {
  auto job = Job::Open(spec, options);
  if (!job.ok()) return job.status();
  return (*job)->Validate(warnings);
}

Status ValidateJob(const JobSpec& spec, std::vector<std::string>* warnings) {
  return ValidateJob(spec, RunOptions{}, warnings);
}

Result<std::vector<PlannedIteration>> PlanJob(const JobSpec& spec, const RunOptions& options,
                                              std::vector<std::string>* warnings) {
  auto job = Job::Open(spec, options);
  if (!job.ok()) return job.status();
  return (*job)->Plan(warnings);
}

RunReport RunJob(const JobSpec& spec, const RunOptions& options) {
  return RunJobWith(spec, options, NewPosixStorage());
}

RunReport RunJobWith(const JobSpec& spec, const RunOptions& options, std::shared_ptr<Storage> storage) {
  auto job = OpenJob(spec, options, std::move(storage));
  if (!job.ok()) {
    RunReport report;
    report.job_name = spec.name;
    report.out_dir = spec.output.dir;
    report.status = job.status();
    return report;
  }
  return (*job)->Run();
}

}  // namespace fanout
