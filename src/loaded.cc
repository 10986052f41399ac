#include "loaded.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "deps.h"
#include "fuse.h"
#include "mutex.h"
#include "sequence.h"
#include "s3_inputs.h"
#include "util.h"

namespace fanout {
namespace {

constexpr int64_t kHashInputsUpTo = 64LL << 20;  // content-hash inputs up to 64 MiB

// "75%" -> that share of physical memory in MiB; sizes pass through.
std::string ResolveMemoryLimit(const std::string& limit) {
  if (limit.empty() || limit.back() != '%') return limit;
  double share = std::stod(limit) / 100.0;
  double ram = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
  return std::to_string(static_cast<int64_t>(ram * share / (1 << 20))) + "MiB";
}

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

Status LoadAndPlanOnce(Loaded& l, const std::shared_ptr<Storage>& storage, const JobSpec& spec,
                       const RunOptions& options, bool schema_only, const std::string& spill_dir) {
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

  // s3:// inputs: local copies (s3_inputs.h); their identity is ETag + size.
  FANOUT_ASSIGN_OR_RETURN(FetchedInputs fetched, FetchS3Inputs(spec));
  l.notes.lines.insert(l.notes.lines.end(), fetched.notes.begin(), fetched.notes.end());
  std::vector<std::string> identities = fetched.identities;
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    if (!identities[i].empty()) continue;
    auto id = InputIdentity(*storage, spec.inputs[i], kHashInputsUpTo);
    if (!id.ok()) return id.status();
    identities[i] = *id;
  }
  bool need_rows = spec.sequence.kind == SequenceSpec::Kind::kSql || HasSqlAxis(spec.sequence);
  FANOUT_RETURN_IF_ERROR(
      step(LoadInputs(storage, *l.db, *l.con, fetched.spec, schema_only && !need_rows, identities, &l.notes)));
  FANOUT_RETURN_IF_ERROR(step(RunPrepare(*l.con, spec, /*dry=*/schema_only && !need_rows)));
  auto its = PlanIterations(spec, *l.con, identities, options.transforms);
  if (!its.ok()) return its.status();
  FANOUT_RETURN_IF_ERROR(ResolveDependencies(spec, *its));
  watch.Watch(nullptr);
  FANOUT_RETURN_IF_ERROR(step(DryRunTransforms(*l.db, spec, *its, watch.Watcher(), &l.notes.lines)));
  auto only = FilterOnly(std::move(its).value(), options.only);
  if (!only.ok()) return only.status();
  l.iterations = std::move(only).value();
  return step(PlanFusion(*l.db, spec, l.iterations, watch.Watcher()));
}

}  // namespace

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

int LoadThreads(const JobSpec& spec) { return spec.run.threads > 0 ? spec.run.threads : Cores(); }

JobSpec WithoutCache(const JobSpec& spec) {
  JobSpec copy = spec;
  copy.cache.enabled = false;
  return copy;
}

// A job refused after its inputs loaded leaves no input cache behind either.
Result<Loaded> LoadAndPlan(const std::shared_ptr<Storage>& storage, const JobSpec& spec, const RunOptions& options,
                           bool schema_only, const std::string& spill_dir) {
  Loaded l;
  l.schema_only = schema_only;
  Status st = LoadAndPlanOnce(l, storage, spec, options, schema_only, spill_dir);
  if (st.ok()) return l;
  for (auto& undo : l.notes.cache_undos) undo();
  return st;
}

}  // namespace fanout
