// job: the public entry points. Data flows one way:
//   spec -> load -> plan -> run (scheduler + execute) -> commit -> report
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <thread>

#include "commit.h"
#include "engine.h"
#include "execute.h"
#include "fanout/fanout.h"
#include "load.h"
#include "outputs.h"
#include "plan.h"
#include "report.h"
#include "scheduler.h"
#include "storage.h"
#include "util.h"

namespace fanout {
namespace {

constexpr int64_t kHashInputsUpTo = 64LL << 20;  // content-hash inputs up to 64 MiB

// 20261123T054917.123Z-e3d899: fixed width, so run ids (and the manifest file
// names) sort in start order; `fanout status` relies on it to find the last run.
std::string NewRunId() {
  double now = NowSeconds();
  time_t secs = static_cast<time_t>(now);
  int millis = std::min(999, static_cast<int>((now - static_cast<double>(secs)) * 1000));
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t len = strftime(buf, sizeof buf, "%Y%m%dT%H%M%S", &tm);
  std::random_device rd;
  snprintf(buf + len, sizeof buf - len, ".%03dZ-%06x", millis, rd() & 0xffffff);
  return buf;
}

int Cores() { return std::max(1u, std::thread::hardware_concurrency()); }

// The engine's threads while it loads: run.threads, or every core (auto).
int LoadThreads(const JobSpec& spec) { return spec.run.threads > 0 ? spec.run.threads : Cores(); }

// "75%" -> that share of physical memory in MiB; sizes pass through.
std::string ResolveMemoryLimit(const std::string& limit) {
  if (limit.empty() || limit.back() != '%') return limit;
  double share = std::stod(limit) / 100.0;
  double ram = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
  return std::to_string(static_cast<int64_t>(ram * share / (1 << 20))) + "MiB";
}

// The engine, loaded inputs and the plan: everything before the first write.
struct Loaded {
  std::unique_ptr<Database> db;
  std::unique_ptr<Connection> con;
  std::vector<Iteration> iterations;
  LoadNotes notes;  // shown once the job is known to be valid
};

// While loading and planning, interrupts the engine when `cancel` is set: a
// thread polls it every 50 ms and interrupts the connection in use (again at
// every poll, so the next query stops too). When loading takes longer than
// kSayAfter, it says so (a quick job's first line stays its result or error).
class LoadWatch {
 public:
  static constexpr double kSayAfter = 0.25;
  LoadWatch(const std::atomic<bool>* cancel, EventSink* events, std::string what)
      : cancel_(cancel), events_(events), what_(std::move(what)) {
    if (cancel_ || events_) thread_ = std::thread([this] { Loop(); });
  }
  ~LoadWatch() {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    cv_.Signal();
    if (thread_.joinable()) thread_.join();
  }
  // The connection to interrupt from now on (null: none).
  void Watch(Connection* con) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    con_ = con;
  }
  bool cancelled() const { return cancel_ && cancel_->load(); }
  std::function<void(Connection*)> Watcher() {
    return [this](Connection* c) { Watch(c); };
  }

 private:
  void Loop() EXCLUDES(mu_) {
    const double started = NowSeconds();
    bool said = false;
    MutexLock lock(&mu_);
    for (;;) {
      const auto tick = CondVar::After(0.050);
      while (!stop_ && cv_.WaitUntil(mu_, tick)) {
      }
      if (stop_) return;
      if (con_ && cancelled()) con_->Interrupt();
      if (events_ && !said && NowSeconds() - started >= kSayAfter) {
        said = true;
        events_->OnMessage(what_);
      }
    }
  }
  const std::atomic<bool>* cancel_;
  EventSink* events_;
  std::string what_;
  Mutex mu_;
  CondVar cv_;
  Connection* con_ GUARDED_BY(mu_) = nullptr;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

Status LoadAndPlanOnce(Loaded& l, const JobSpec& spec, const RunOptions& options, bool schema_only,
                               const std::string& spill_dir) {
  Database::Options db_options;
  db_options.threads = LoadThreads(spec);
  db_options.memory_limit = ResolveMemoryLimit(spec.run.memory_limit);
  db_options.temp_directory = spill_dir;
  db_options.timezone = spec.run.timezone;
  auto db = Database::Open(db_options);
  if (!db.ok()) return db.status();
  l.db = std::move(db).value();
  if (options.on_engine_ready) FANOUT_RETURN_IF_ERROR(options.on_engine_ready(*l.db));
  auto con = l.db->Connect();
  if (!con.ok()) return con.status();
  l.con = std::move(con).value();
  LoadWatch watch(options.cancel, options.events,
                  "loading " + std::to_string(spec.inputs.size()) + " input" + (spec.inputs.size() == 1 ? "" : "s") +
                      " and planning (Ctrl-C stops)");
  watch.Watch(l.con.get());
  auto step = [&](Status st) {
    if (st.ok() && watch.cancelled()) return Status::Interrupted("interrupted while loading");
    return st;
  };

  std::vector<std::string> identities;
  for (const InputSpec& in : spec.inputs) {
    auto id = InputIdentity(in, kHashInputsUpTo);
    if (!id.ok()) return id.status();
    identities.push_back(*id);
  }
  bool need_rows = spec.sequence.kind == SequenceSpec::Kind::kSql;
  FANOUT_RETURN_IF_ERROR(
      step(LoadInputs(*l.db, *l.con, spec, schema_only && !need_rows, identities, &l.notes)));
  FANOUT_RETURN_IF_ERROR(step(RunPrepare(*l.con, spec, /*dry=*/schema_only && !need_rows)));
  auto its = PlanIterations(spec, *l.con, identities);
  if (!its.ok()) return its.status();
  watch.Watch(nullptr);
  FANOUT_RETURN_IF_ERROR(step(DryRunTransforms(*l.db, spec, *its, watch.Watcher(), &l.notes.lines)));
  auto only = FilterOnly(std::move(its).value(), options.only);
  if (!only.ok()) return only.status();
  l.iterations = std::move(only).value();
  return Status::Ok();
}

// A job refused after its inputs loaded leaves no input cache behind either.
Result<Loaded> LoadAndPlan(const JobSpec& spec, const RunOptions& options, bool schema_only,
                           const std::string& spill_dir) {
  Loaded l;
  Status st = LoadAndPlanOnce(l, spec, options, schema_only, spill_dir);
  if (st.ok()) return l;
  for (auto& undo : l.notes.cache_undos) undo();
  return st;
}

// Why an iteration runs instead of being skipped; empty `text`: skip it.
struct RunReason {
  std::string text;
  bool damaged = false;  // its output differs from its _SUCCESS
};

// What changed since `marker` was written ("changed: params, inputs"), or "".
std::string FingerprintChange(const Marker& marker, const Iteration& it) {
  if (marker.fingerprint == it.fingerprint) return "";
  std::string changed;
  auto diff = [&](const char* name, const std::string& was, const std::string& now) {
    if (!was.empty() && was == now) return;  // "": the marker has no such part
    changed += (changed.empty() ? "" : ", ") + std::string(name);
  };
  const FingerprintParts& was = marker.fingerprint_parts;
  diff("sql", was.sql, it.fp_sql);
  diff("params", was.params, it.fp_params);
  diff("inputs", was.inputs, it.fp_inputs);
  diff("output", was.output, it.fp_output);
  diff("settings", was.settings, it.fp_settings);
  return "changed: " + (changed.empty() ? std::string("fingerprint") : changed);
}

// OUT/<target> looked at once for both skip rules (resume, skip_existing):
// the target's state, and its comparison with _SUCCESS made at most once.
struct Inspected {
  std::string path;
  TargetState state;
  std::optional<std::string> damaged;  // VerifyOutput's answer, once asked

  Inspected(Storage& storage, const std::string& out_dir, const Iteration& it)
      : path(out_dir + "/" + it.target), state(InspectTarget(storage, path)) {}
  // "" when it holds exactly what its _SUCCESS lists (names and sizes; with
  // `verify`, checksums too). REQUIRES: state.kind == kOurs.
  const std::string& Damage(Storage& storage, bool verify) {
    if (!damaged) damaged = VerifyOutput(storage, path, state.marker, verify);
    return *damaged;
  }
};

// Why an iteration would run under --resume ("" when it is up to date): its
// output is missing, foreign, of other inputs or settings, or differs from
// its _SUCCESS.
RunReason ResumeReason(Storage& storage, Inspected& in, const Iteration& it, bool verify) {
  if (in.state.kind == TargetState::Kind::kAbsent) return {"no output yet"};
  if (in.state.kind == TargetState::Kind::kForeign)
    return {"not an output of fanout (" + in.state.what + "): run refuses it"};
  std::string changed = FingerprintChange(in.state.marker, it);
  if (!changed.empty()) return {changed};
  const std::string& damaged = in.Damage(storage, verify);
  return {damaged, !damaged.empty()};
}

// output.mode: skip_existing: "" when OUT/<target> is an intact output of
// fanout (skipped), else why it runs.
RunReason SkipExistingReason(Storage& storage, Inspected& in, bool verify) {
  if (in.state.kind == TargetState::Kind::kAbsent) return {"no output yet"};
  if (in.state.kind == TargetState::Kind::kForeign) return {"not an output of fanout (" + in.state.what + ")"};
  const std::string& damaged = in.Damage(storage, verify);
  return {damaged, !damaged.empty()};
}

// fanout's bookkeeping folders are its own: never followed through a link
// (it writes the lock and manifests there and removes their temp files).
Status CheckBookkeepingFolders(Storage& storage, const std::string& out) {
  for (const std::string& own : {out + "/_fanout", out + "/_fanout/runs"}) {
    auto info = storage.Stat(own);
    if (info.ok() && !info->is_dir)
      return Status::Invalid(own + " is not a folder (a link or a file): fanout keeps its lock and run "
                                   "manifests there; remove or rename it (nothing was written)");
  }
  return Status::Ok();
}

// Seconds each target took when it last committed, from the newest manifests.
std::map<std::string, double> PastDurations(Storage& storage, const std::string& out_dir) {
  std::map<std::string, double> seconds;
  auto runs = storage.List(out_dir + "/_fanout/runs");
  if (!runs.ok()) return seconds;
  std::vector<std::string> names;
  for (const FileInfo& f : *runs)
    if (f.name.size() > 5 && f.name.compare(f.name.size() - 5, 5, ".json") == 0) names.push_back(f.name);
  std::sort(names.rbegin(), names.rend());  // run ids sort by time: newest first
  if (names.size() > 20) names.resize(20);
  for (const std::string& name : names) {
    auto text = storage.ReadFile(out_dir + "/_fanout/runs/" + name);
    if (!text.ok()) continue;
    auto m = Manifest::FromJson(*text);
    if (!m.ok()) continue;  // foreign, torn, hand-edited or of a newer fanout
    for (const IterationReport& it : m->iterations) {
      if (it.status != IterationStatus::kCommitted) continue;
      // The engine's time: the publish after it holds no worker.
      seconds.emplace(it.target, it.seconds() - it.commit_seconds);  // keeps the newest
    }
  }
  return seconds;
}

// Longest first by past duration; iterations never seen before go first (they
// may be long); ties keep the given order.
std::vector<size_t> RunOrder(const std::vector<Iteration>& its, const std::map<std::string, double>& past,
                             RunSpec::Order order) {
  std::vector<size_t> idx(its.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  if (order == RunSpec::Order::kGiven || past.empty()) return idx;
  auto key = [&](size_t i) {
    auto p = past.find(its[i].target);
    return p == past.end() ? std::numeric_limits<double>::infinity() : p->second;
  };
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return key(a) > key(b); });
  return idx;
}

// output.mode: error_if_exists: Invalid naming the outputs that already
// exist (anything at the path, even a dangling link).
Status CheckNoOutputExists(Storage& storage, const OutputSpec& output, const std::vector<std::string>& targets) {
  if (output.mode != OutputSpec::Mode::kErrorIfExists) return Status::Ok();
  std::string list;
  for (const std::string& target : targets)
    if (storage.Exists(output.dir + "/" + target)) list += (list.empty() ? "" : ", ") + target;
  if (list.empty()) return Status::Ok();
  return Status::Invalid("output.mode is error_if_exists and these outputs exist in " + output.dir + ": " + list +
                         " (remove them, or use mode: overwrite or skip_existing)");
}

std::vector<std::string> TargetsOf(const std::vector<Iteration>& iterations) {
  std::vector<std::string> targets;
  for (const Iteration& it : iterations) targets.push_back(it.target);
  return targets;
}

// Before anything is written: error_if_exists refuses anything at a target's
// path; the other modes refuse what fanout did not write there.
Status CheckTargets(Storage& storage, const OutputSpec& output, const std::vector<std::string>& targets) {
  if (output.mode == OutputSpec::Mode::kErrorIfExists) return CheckNoOutputExists(storage, output, targets);
  return RefuseForeignTargets(storage, output.dir, targets);
}

// Decides whether `it` is skipped (output.mode: skip_existing, --resume);
// an iteration whose output is damaged runs again, saying why.
void DecideSkip(Storage& storage, const JobSpec& spec, const RunOptions& options, const Iteration& it,
                IterationReport& r) {
  const std::string& out = spec.output.dir;
  const bool skip_existing = spec.output.mode == OutputSpec::Mode::kSkipExisting;
  if (!skip_existing && !options.resume) return;
  Inspected in(storage, out, it);
  RunReason why;
  if (skip_existing) {
    why = SkipExistingReason(storage, in, options.verify);
    if (why.text.empty()) {
      r.status = IterationStatus::kSkipped;
      r.skip_reason = "exists (output.mode: skip_existing)";
      return;
    }
  }
  if (options.resume) {
    why = ResumeReason(storage, in, it, options.verify);
    if (why.text.empty()) {
      r.status = IterationStatus::kSkipped;
      r.skip_reason = "up to date (--resume)";
      return;
    }
  }
  r.run_reason = why.text;
  if (why.damaged && options.events)
    options.events->OnMessage("rerun  n=" + it.key + ": " + out + "/" + it.target + " differs from its _SUCCESS: " +
                              why.text);
}

// Temp files of manifest writes that failed (a full disk) or were killed.
// REQUIRES: the output's lock.
void RemoveStaleManifestTemps(Storage& storage, const std::string& runs_dir) {
  auto entries = storage.List(runs_dir);
  if (!entries.ok()) return;
  for (const FileInfo& f : *entries)
    if (f.is_file && f.name.size() > 9 && f.name.compare(f.name.size() - 9, 9, ".json.tmp") == 0)
      (void)storage.RemoveAll(runs_dir + "/" + f.name);
}

std::string LockHolder(const std::string& run_id) {
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  return "run " + run_id + ", pid " + std::to_string(getpid()) + " on " + host;
}

// validate and plan write nothing, not even the input cache.
JobSpec WithoutCache(const JobSpec& spec) {
  JobSpec copy = spec;
  copy.cache.enabled = false;
  return copy;
}

}  // namespace

Status ValidateJob(const JobSpec& spec, std::vector<std::string>* warnings) {
  FANOUT_RETURN_IF_ERROR(Validate(spec));
  FANOUT_RETURN_IF_ERROR(CheckOutputLocation(*NewPosixStorage(), spec));
  auto loaded = LoadAndPlan(WithoutCache(spec), RunOptions{}, /*schema_only=*/true, "");
  if (loaded.ok() && warnings) *warnings = loaded->notes.lines;
  return loaded.status();
}

Result<std::vector<PlannedIteration>> PlanJob(const JobSpec& spec, const RunOptions& options,
                                              std::vector<std::string>* warnings) {
  FANOUT_RETURN_IF_ERROR(Validate(spec));
  FANOUT_RETURN_IF_ERROR(CheckOutputLocation(options.storage ? *options.storage : *NewPosixStorage(), spec));
  auto loaded = LoadAndPlan(WithoutCache(spec), options, /*schema_only=*/true, "");
  if (!loaded.ok()) return loaded.status();
  if (warnings) *warnings = loaded->notes.lines;
  auto storage = options.storage ? options.storage : NewPosixStorage();
  // What run would refuse, plan refuses too (error_if_exists aside: plan
  // shows what would run).
  FANOUT_RETURN_IF_ERROR(RefuseForeignTargets(*storage, spec.output.dir, TargetsOf(loaded->iterations)));
  std::vector<PlannedIteration> out;
  for (const Iteration& it : loaded->iterations) {
    PlannedIteration p{it.n, it.kind, it.target, it.params, "", "", true};
    for (const auto& s : it.statements) p.sql += s + ";\n";
    if (options.resume) {
      Inspected in(*storage, spec.output.dir, it);
      p.run_reason = ResumeReason(*storage, in, it, options.verify).text;
      p.would_run = !p.run_reason.empty();
      if (!p.would_run) p.run_reason = "up to date";
    }
    out.push_back(std::move(p));
  }
  return out;
}

RunReport RunJob(const JobSpec& spec, const RunOptions& options) {
  RunReport report;
  report.run_id = NewRunId();
  report.job_name = spec.name;
  report.out_dir = spec.output.dir;
  report.started_at = NowSeconds();
  auto finish = [&](Status st) {
    report.status = std::move(st);
    report.finished_at = NowSeconds();
    return report;
  };
  if (Status valid = Validate(spec); !valid.ok()) return finish(valid);
  const std::string& out = spec.output.dir;
  std::string spill = out + "/.fanout-staging/" + report.run_id + "/spill";

  // 1. Everything that can reject the job, before anything is written. The
  // targets of a list or range are known before loading (which may write
  // the input cache); a sequence: {sql} needs its inputs first.
  std::shared_ptr<Storage> storage = options.storage ? options.storage : NewPosixStorage();
  Status st = CheckOutputLocation(*storage, spec);
  if (st.ok()) st = CheckBookkeepingFolders(*storage, out);
  if (st.ok()) st = CheckTargets(*storage, spec.output, KnownTargets(spec, options.only));
  if (!st.ok()) return finish(st);
  auto loaded = LoadAndPlan(spec, options, /*schema_only=*/false, spill);
  if (!loaded.ok()) {
    report.interrupted = loaded.status().code() == Status::Code::kInterrupted;
    return finish(loaded.status());
  }
  for (const Iteration& it : loaded->iterations) {
    IterationReport r;
    r.n = it.n;
    r.kind = it.kind;
    r.target = it.target;
    r.fingerprint = it.fingerprint;
    report.iterations.push_back(r);
  }

  // 2. Own the output: create it, lock it, clear what killed runs left. A job
  // whose targets hold what fanout did not write (or, with error_if_exists,
  // anything) writes nothing, not even the lock; error_if_exists is checked
  // again under the lock for runs that raced us, and every publish checks
  // its target again (Committer::PublishGroup).
  if (spec.sequence.kind == SequenceSpec::Kind::kSql)
    st = CheckTargets(*storage, spec.output, TargetsOf(loaded->iterations));
  if (!st.ok()) return finish(st);
  st = storage->CreateDirs(out + "/_fanout/runs");
  if (!st.ok())
    return finish(Status::Invalid("cannot create the output folder " + out + ": " + st.message() +
                                  " (check output.dir and its permissions)"));
  auto lock = storage->Lock(out + "/_fanout/lock", LockHolder(report.run_id));
  if (!lock.ok() && lock.status().code() == Status::Code::kBusy) return finish(lock.status());
  if (!lock.ok())  // e.g. a read-only OUT: nothing can be written, nothing was
    return finish(Status::Invalid("cannot write to the output folder " + out + ": " + lock.status().message() +
                                  " (check that output.dir is writable)"));
  st = CheckNoOutputExists(*storage, spec.output, TargetsOf(loaded->iterations));
  if (!st.ok()) return finish(st);
  Committer committer(*storage, out, report.run_id);
  st = committer.RemoveStaleStaging();
  if (st.ok()) st = committer.Start();
  if (!st.ok()) return finish(Status::Invalid("cannot prepare staging under " + out + ": " + st.message()));
  RemoveStaleManifestTemps(*storage, out + "/_fanout/runs");

  // 3. Decide what runs: output.mode and --resume.
  if (options.events)
    for (const std::string& line : loaded->notes.lines) options.events->OnMessage(line);
  if (spec.output.mode == OutputSpec::Mode::kSkipExisting || options.resume)
    for (size_t i = 0; i < loaded->iterations.size(); ++i)
      DecideSkip(*storage, spec, options, loaded->iterations[i], report.iterations[i]);
  if (options.events) options.events->OnPlanned(report.iterations);

  // The manifest says "running" from here on: a run killed from now is
  // visible to `fanout status`. A run that cannot write it runs nothing.
  const std::string manifest_path = out + "/_fanout/runs/" + report.run_id + ".json";
  auto write_manifest = [&storage, manifest_path](const std::string& json) {
    return WriteFileAtomic(*storage, manifest_path, json);
  };
  report.running = true;
  st = write_manifest(report.ToJson());
  report.running = false;
  if (!st.ok()) {
    (void)committer.Finish();
    return finish(Status::Invalid("cannot write the run manifest " + manifest_path + ": " + st.message() +
                                  " (check the free space and permissions of output.dir; nothing was run)"));
  }

  // 4. Run: the barrier is RunIterations returning.
  SchedulerOptions so;
  int pending = 0;
  for (const IterationReport& r : report.iterations) pending += r.status == IterationStatus::kPending;
  so.workers = options.max_workers > 0 ? options.max_workers
               : spec.run.max_workers > 0 ? spec.run.max_workers
                                          : AutoWorkers(Cores(), pending);
  so.workers = std::min(so.workers, std::max(1, pending));  // never more than there is to run
  report.workers = so.workers;
  // The load ran on every core; the iterations may want fewer engine threads.
  // Only a tuning knob: if the engine refuses, the run goes on as loaded.
  const int load_threads = LoadThreads(spec);
  report.threads = spec.run.threads > 0 ? spec.run.threads : AutoThreads(Cores(), so.workers, pending);
  if (report.threads != load_threads) {
    Status set = loaded->db->SetThreads(*loaded->con, report.threads);
    if (!set.ok()) {
      if (options.events) options.events->OnMessage("warning: kept " + std::to_string(load_threads) +
                                                    " engine threads: " + set.message());
      report.threads = load_threads;
    }
  }
  // From here no statement can change an engine setting (SqlPolicy rejects
  // them up front; this is the engine's own guard).
  Status locked = loaded->db->LockConfiguration(*loaded->con);
  if (!locked.ok()) return finish(locked);
  // Threads that commit (file I/O, fsync) while the workers compute: the more
  // wait to publish, the larger each group commit (one syncfs + one fsync).
  // Blocked threads cost next to nothing; 30 committing beside 2 workers ran
  // 10,000 trivial iterations ~12% faster than 10 (BENCHMARKS.md).
  so.committers = std::max(32, 4 * so.workers);
  so.retries = spec.run.retries;
  so.backoff_seconds = spec.run.retry_backoff_seconds;
  so.timeout_seconds = spec.run.timeout_seconds;
  so.stop_on_failure = spec.run.stop_on_failure;
  so.cancel = options.cancel;
  LiveManifest live(report, options.events, write_manifest);
  so.events = &live;
  std::vector<size_t> order = RunOrder(loaded->iterations, PastDurations(*storage, out), spec.run.order);
  // The input cache's sidecars (a hash of each new file) are written beside the run.
  std::vector<std::string> cache_notes;
  std::thread cache_writer([&] {
    for (auto& seal : loaded->notes.cache_seals) seal(&cache_notes);
  });
  {
    // Its idle sessions close here, before the engine does.
    EngineExecutor executor(*loaded->db, committer, spec.output, report.run_id, so.workers);
    RunIterations(loaded->iterations, report.iterations, order, executor, so);
  }
  live.Stop();  // the final manifest is written below
  cache_writer.join();
  if (options.events)
    for (const std::string& line : cache_notes) options.events->OnMessage(line);
  report.interrupted = options.cancel && options.cancel->load();

  // 5. Clean up and write the manifest (atomically, like every output).
  loaded->con.reset();
  loaded->db.reset();
  Status cleanup = committer.Finish();
  report.finished_at = NowSeconds();
  report.manifest_path = manifest_path;
  Status manifest = write_manifest(report.ToJson());
  if (!manifest.ok()) {
    report.manifest_path.clear();
    return finish(Status::Io("cannot write the run manifest: " + manifest.message()));
  }
  if (!cleanup.ok() && options.events) options.events->OnMessage("warning: " + cleanup.message());
  // Not finish(): the report must stay identical to the manifest just written
  // (`run --json` prints it), so finished_at is not stamped again.
  report.status = Status::Ok();
  return report;
}

}  // namespace fanout
