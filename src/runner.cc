#include "runner.h"

#include <unistd.h>

#include <thread>

#include "backend.h"
#include "decide.h"
#include "deps.h"
#include "html_report.h"
#include "run_log.h"
#include "outputs.h"
#include "report.h"
#include "scheduler.h"
#include "shard.h"
#include "trace.h"
#include "util.h"

namespace fanout {

Runner::Runner(const JobSpec& spec, const RunOptions& options, std::shared_ptr<OutputStore> store,
               std::shared_ptr<Storage> files, Loaded* loaded, BackendFactory backend, Cluster* cluster)
    : spec_(spec),
      options_(options),
      store_(std::move(store)),
      files_(std::move(files)),
      backend_(backend ? std::move(backend) : BackendFactory(NewLocalBackend)),
      cluster_(cluster),
      loaded_(loaded),
      log_(options.events, options.log_format) {
  // Now, not when the job was opened: run ids sort in start order.
  report_.run_id = options.run_id.empty() ? NewRunId() : options.run_id;
  report_.shard = options.shard;
  report_.shards = options.shards;
  report_.job_name = spec.name;
  report_.out_dir = spec.output.dir;
  report_.started_at = NowSeconds();
  report_.memory_limit = spec.run.memory_limit;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) report_.host = host;
  if (cluster_) {  // one run: rank 0's id on every rank
    // Before the collective below: no rank has loaded yet.
    cache_dir_existed_ = !spec.cache.enabled || files_->Exists(spec.cache.dir);
    report_.run_id = cluster_->Share(report_.run_id);
    backend_ = [cluster](const BackendContext& context) { return cluster->NewBackend(context); };
  }
}

Runner::~Runner() = default;

RunReport Runner::Run() {
  Status st = Check();
  if (st.ok()) st = Load();
  if (cluster_) st = AgreeLoaded(st);
  if (st.ok() && Owner()) st = Own();
  if (st.ok() && Owner()) st = Decide();
  if (cluster_) st = JoinRun(st);
  if (!st.ok()) {
    Abandon();
    return Done(st);
  }
  Execute();
  st = Finish();
  if (!st.ok()) return Done(st);
  // Not Done(): the report must stay identical to the manifest just written
  // (`run --json` prints it), so finished_at is not stamped again.
  report_.status = Status::Ok();
  return std::move(report_);
}

RunReport Runner::Done(Status st) {
  report_.status = std::move(st);
  report_.finished_at = NowSeconds();
  return std::move(report_);
}

// Everything that can reject the job before anything is written (a job
// loaded earlier was checked the same way before it loaded).
Status Runner::Check() {
  if (options_.shards > 0 && !spec_.after.empty())
    return Status::Invalid(spec_.after[0].where + ": after: cannot be used with --shard yet (a dependency could be "
                           "in another shard): run the job whole");
  if (cluster_ && !spec_.after.empty())
    return Status::Invalid(spec_.after[0].where + ": after: cannot be used with --backend mpi yet (rank 0 hands "
                           "out iterations without the dependency graph): run the job with --backend local");
  FANOUT_RETURN_IF_ERROR(CheckShardRunId());
  return CheckBeforeLoad(*store_, spec_, options_.only);
}

// A run refused after its inputs loaded: the cache files this load wrote go
// (they would have no sidecar), the engine closes (it spills into the run's
// staging), then the staging goes.
void Runner::Abandon() {
  if (loaded_) {
    for (auto& undo : loaded_->notes.cache_undos) undo();
    loaded_->notes.cache_undos.clear();
    loaded_->con.reset();
    loaded_->db.reset();
  }
  if (began_) (void)store_->EndRun();
  began_ = false;
  if (cluster_) {
    // Every rank has undone its cache files: the folder goes if this run
    // made it (only rmdir: it must be empty).
    (void)cluster_->Agree(Status::Ok());
    if (Owner() && !cache_dir_existed_) (void)files_->RemoveDir(spec_.cache.dir);
  }
}

Status Runner::Load() {
  log_.Log(RunLog::Level::kInfo, "run " + report_.run_id + " of " + spec_.name + " (fanout " + std::string(FanoutRelease()) + ")");
  if (!loaded_ || loaded_->schema_only) {
    log_.Log(RunLog::Level::kInfo, "loading inputs");
    auto loaded = LoadAndPlan(files_, spec_, options_, /*schema_only=*/false, store_->ScratchDir(RunKey()));
    if (!loaded.ok()) {
      report_.interrupted = loaded.status().code() == Status::Code::kInterrupted;
      return loaded.status();
    }
    loaded_here_ = std::move(loaded).value();
    loaded_ = &*loaded_here_;
  }
  if (options_.shards > 0) KeepShare();
  if (cluster_) {
    // Sealed now, not while the iterations run: the other ranks wait for
    // the cache file's lock before they load (load.cc), and the agreement
    // that follows waits for them.
    for (auto& seal : loaded_->notes.cache_seals) seal(&loaded_->notes.lines);
    loaded_->notes.cache_seals.clear();
  }
  for (const Iteration& it : loaded_->iterations) {
    IterationReport r;
    r.shard = options_.shard;
    if (options_.shards > 0) r.host = HostName();
    r.n = it.n;
    r.kind = it.kind;
    r.target = it.target;
    r.fingerprint = it.fingerprint;
    report_.iterations.push_back(r);
  }
  return Status::Ok();
}

// Owns the output: creates it, locks it, clears what killed runs left. A job
// whose targets hold what fanout did not write (or, with error_if_exists,
// anything) writes nothing, not even the lock; error_if_exists is checked
// again under the lock for runs that raced us, and every publish checks its
// target again (OutputStore::Publish).
Status Runner::Own() {
  const std::string& out = spec_.output.dir;
  const std::vector<std::string> targets = TargetsOf(loaded_->iterations);
  // Targets known only from the plan (an SQL sequence, parameter sets).
  if (spec_.sequence.kind != SequenceSpec::Kind::kList && spec_.sequence.kind != SequenceSpec::Kind::kRange)
    FANOUT_RETURN_IF_ERROR(CheckTargets(*store_, spec_.output, targets));
  Status st = store_->CreateLayout();
  if (!st.ok())
    return Status::Invalid("cannot create the output folder " + out + ": " + st.message() +
                           " (check output.dir and its permissions)");
  auto lock = options_.shards > 0 ? store_->LockShard(report_.run_id, options_.shard, LockHolder(report_.run_id))
                                  : store_->Lock(LockHolder(report_.run_id));
  if (!lock.ok() && lock.status().code() == Status::Code::kBusy) return lock.status();
  if (!lock.ok())  // e.g. a read-only OUT: nothing can be written, nothing was
    return Status::Invalid("cannot write to the output folder " + out + ": " + lock.status().message() +
                           " (check that output.dir is writable)");
  lock_ = std::move(lock).value();
  FANOUT_RETURN_IF_ERROR(CheckNoOutputExists(*store_, spec_.output, targets));
  st = options_.shards > 0 ? store_->BeginShard(report_.run_id, options_.shard) : store_->BeginRun(report_.run_id);
  if (!st.ok()) return Status::Invalid("cannot prepare staging under " + out + ": " + st.message());
  began_ = true;
  return Status::Ok();
}

// Decides what runs (output.mode, --resume); from here on the manifest says
// "running", so a run killed from now is visible to `fanout status`. A run
// that cannot write it runs nothing.
Status Runner::Decide() {
  if (events_)
    for (const std::string& line : loaded_->notes.lines) events_->OnMessage(line);
  if (spec_.output.mode == OutputSpec::Mode::kSkipExisting || options_.resume)
    ParallelFor(loaded_->iterations.size(), store_->InspectConcurrency(), [this](size_t i) {
      DecideSkip(*store_, spec_, options_, loaded_->iterations[i], report_.iterations[i]);
    });
  if (!spec_.after.empty()) DecideDependencies(*store_, loaded_->iterations, report_.iterations);
  if (events_) events_->OnPlanned(report_.iterations);
  manifest_name_ = options_.shards > 0 ? ShardManifestName(report_.run_id, options_.shard, options_.shards)
                                       : report_.run_id + ".json";
  report_.running = true;
  Status st = WriteManifest();
  report_.running = false;
  if (!st.ok())
    return Status::Invalid("cannot write the run manifest " + ManifestPath() + ": " + st.message() +
                           " (check the free space and permissions of output.dir; nothing was run)");
  return Status::Ok();
}

// A shard runs only its share of the plan (shard.h: the same in every
// shard of the run, computed before anything is skipped).
void Runner::KeepShare() {
  std::vector<Iteration>& all = loaded_->iterations;
  ShardShare share = AssignShards(all, PastDurations(*store_), options_.shards);
  report_.shard_total = static_cast<int64_t>(all.size());
  report_.shard_digest = share.digest;
  std::vector<Iteration> mine;
  for (size_t i = 0; i < all.size(); ++i)
    if (share.owner[i] == options_.shard) mine.push_back(std::move(all[i]));
  all = std::move(mine);
}

// A shard's run id names the run all its shards share: once collected, it
// is a finished run, not one to add to.
Status Runner::CheckShardRunId() {
  if (options_.shards == 0) return Status::Ok();
  if (!store_->ReadRunFile(report_.run_id + ".json").ok()) return Status::Ok();
  return Status::Invalid("run " + report_.run_id + " was already collected (" +
                         store_->RunFileLocation(report_.run_id + ".json") +
                         "): give the shards of a new run another --run-id (nothing was written)");
}

std::string Runner::RunKey() const {
  if (cluster_ && !cluster_->coordinator()) return OutputStore::ShardKey(report_.run_id, cluster_->rank());
  return options_.shards > 0 ? OutputStore::ShardKey(report_.run_id, options_.shard) : report_.run_id;
}

Status Runner::AgreeLoaded(Status st) {
  std::string digest;
  if (st.ok())
    for (const Iteration& it : loaded_->iterations) digest += it.target + " " + it.fingerprint + "\n";
  digest = HashHex(digest);
  const std::string root = cluster_->Share(st.ok() ? digest : "");
  if (st.ok() && !root.empty() && root != digest)
    st = Status::Invalid("planned other iterations than rank 0 (another job file, --set, --only or inputs on "
                         "this host: every rank must see the same job and inputs, on storage they share)");
  return cluster_->Agree(st);
}

Status Runner::JoinRun(Status st) {
  FANOUT_RETURN_IF_ERROR(cluster_->Agree(st));
  Status mine = Status::Ok();
  if (!cluster_->coordinator()) {
    mine = store_->BeginShard(report_.run_id, cluster_->rank());
    if (mine.ok()) began_ = true;
    else mine = Status::Invalid("cannot prepare staging under " + spec_.output.dir + ": " + mine.message());
  }
  return cluster_->Agree(mine);
}

Status Runner::WriteManifest() { return store_->WriteRunFile(manifest_name_, report_.ToJson()); }

std::string Runner::ManifestPath() const { return store_->RunFileLocation(manifest_name_); }

// The load ran on every core; the iterations may want fewer engine threads.
// Only a tuning knob: if the engine refuses, the run goes on as loaded.
void Runner::SetRunThreads(int pending) {
  const int load_threads = LoadThreads(spec_);
  report_.threads = ChooseThreads(spec_.run.threads, Cores(), report_.workers, pending);
  if (report_.threads == load_threads) return;
  Status set = loaded_->db->SetThreads(*loaded_->con, report_.threads);
  if (set.ok()) return;
  if (events_)
    events_->OnMessage("warning: kept " + std::to_string(load_threads) + " engine threads: " + set.message());
  report_.threads = load_threads;
}

SchedulerOptions Runner::Scheduling() {
  SchedulerOptions so;
  so.workers = report_.workers;
  // Threads that commit (file I/O, fsync) while the workers compute: the more
  // wait to publish, the larger each group commit (one syncfs + one fsync).
  // Blocked threads cost next to nothing; 30 committing beside 2 workers ran
  // 10,000 trivial iterations ~12% faster than 10 (BENCHMARKS.md).
  so.committers = std::max(32, 4 * so.workers);
  so.retries = spec_.run.retries;
  so.backoff_seconds = spec_.run.retry_backoff_seconds;
  so.timeout_seconds = spec_.run.timeout_seconds;
  so.stop_on_failure = spec_.run.stop_on_failure;
  so.cancel = options_.cancel;
  return so;
}

// Runs every pending iteration on the backend: the barrier is its Run
// returning. Meanwhile the manifest is kept current and the input cache's
// sidecars (a hash of each new file) are written.
void Runner::Execute() {
  int pending = 0;
  for (const IterationReport& r : report_.iterations) pending += r.status == IterationStatus::kPending;
  report_.workers = ChooseWorkers(options_.max_workers, spec_.run.max_workers, Cores(), pending);
  SetRunThreads(pending);
  // From here no statement can change an engine setting (SqlPolicy rejects
  // them up front; this is the engine's own guard).
  Status locked = loaded_->db->LockConfiguration(*loaded_->con);
  if (cluster_) locked = cluster_->Agree(locked);
  if (!locked.ok()) {
    report_.status = locked;
    return;
  }
  SchedulerOptions so = Scheduling();
  LiveManifest live(report_, events_, [this](const std::string& json) {
    return Owner() ? store_->WriteRunFile(manifest_name_, json) : Status::Ok();  // rank 0 writes the manifest
  });
  so.events = Owner() ? &live : nullptr;
  const std::map<std::string, double> past = PastDurations(*store_);
  std::vector<size_t> order = RunOrder(loaded_->iterations, past, spec_.run.order);
  if (events_) events_->OnEstimates(past);
  std::vector<std::string> cache_notes;
  std::thread cache_writer([&] {
    for (auto& seal : loaded_->notes.cache_seals) seal(&cache_notes);
  });
  {
    // Its idle sessions close here, before the engine does.
    auto backend = backend_(BackendContext{*loaded_->db, *store_, spec_.output, report_.run_id, so.workers});
    backend->Run(loaded_->iterations, report_.iterations, order, so);
  }
  live.Stop();  // the final manifest is written by Finish
  cache_writer.join();
  if (events_)
    for (const std::string& line : cache_notes) events_->OnMessage(line);
  report_.interrupted = options_.cancel && options_.cancel->load();
}

// Cleans up and writes the final manifest (atomically, like every output).
Status Runner::Finish() {
  // The engine goes first: it spills into the run's staging.
  loaded_->con.reset();
  loaded_->db.reset();
  Status cleanup = store_->EndRun();
  began_ = false;
  report_.finished_at = NowSeconds();
  if (!Owner()) return report_.status;  // rank 0 writes the manifest
  if (!report_.status.ok()) {  // the engine could not be locked: nothing ran
    (void)WriteManifest();     // no longer "running"
    return report_.status;
  }
  report_.manifest_path = ManifestPath();
  Status manifest = WriteManifest();
  if (!manifest.ok()) {
    report_.manifest_path.clear();
    return Status::Io("cannot write the run manifest: " + manifest.message());
  }
  if (!cleanup.ok() && events_) events_->OnMessage("warning: " + cleanup.message());
  WriteRunReports();
  return Status::Ok();
}

// Beside the manifest: the trace (one row per attempt), the HTML report and
// the run log. None is needed to resume or verify, so failing to write one is
// a warning.
void Runner::WriteRunReports() {
  const double t0 = NowSeconds();
  // Drawn from the manifest as written and read back, so that `fanout report`
  // redraws the very same page from the file (times keep the file's rounding).
  Manifest m = ManifestOf(report_, report_.finished_at);
  if (auto read_back = Manifest::FromJson(m.ToJson()); read_back.ok()) m = std::move(read_back).value();
  std::optional<Manifest> previous = PreviousManifest(*store_, report_.run_id);
  const std::string html = report_.run_id + ".html";
  auto write = [this](const std::string& name, const std::string& text) {
    Status st = store_->WriteRunFile(name, text);
    if (!st.ok())
      events_->OnMessage("warning: cannot write " + store_->RunFileLocation(name) + ": " + st.message());
    return st.ok();
  };
  write(report_.run_id + ".trace.tsv", TraceTsv(m));
  const std::string page = RenderHtmlReport(m, previous ? &*previous : nullptr);
  if (write(html, page)) report_.report_path = store_->RunFileLocation(html);
  char took[128];
  snprintf(took, sizeof took, "wrote the trace and the report (%zu bytes) in %.3fs", page.size(), NowSeconds() - t0);
  log_.Log(RunLog::Level::kDebug, took);
  const ManifestCounts& c = m.counts;
  log_.Log(c.failed || c.cancelled ? RunLog::Level::kWarn : RunLog::Level::kInfo,
           "summary: " + m.status + ", " + std::to_string(c.committed) + " committed, " + std::to_string(c.failed) +
               " failed, " + std::to_string(c.skipped) + " skipped, " + std::to_string(c.cancelled) +
               " cancelled of " + std::to_string(c.total) + " in " + std::to_string(m.seconds) + "s");
  write(report_.run_id + ".log", log_.Text());
}

}  // namespace fanout
