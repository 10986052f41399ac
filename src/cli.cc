// The `fanout` command: run | validate | plan | status | collect | report.
#include "cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "fanout/fanout.h"
#include "fanout/record.h"
#include "html_report.h"
#include "outputs.h"
#include "report.h"
#include "s3_store.h"
#include "shard.h"
#include "job_internal.h"
#include "cluster.h"
#ifdef FANOUT_WITH_MPI
#include "mpi_backend.h"
#endif
#include "fanout/store.h"
#include "storage.h"

namespace {

std::atomic<bool> g_cancel{false};

// First SIGINT/SIGTERM: stop starting iterations, interrupt the running ones,
// keep what committed. Second: exit at once (staging is never visible).
void OnSignal(int) {
  if (g_cancel.exchange(true)) _exit(130);
  const char msg[] = "\nfanout: interrupted: stopping (again to exit at once)\n";
  ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
}

void InstallSignalHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int ExitCodeOf(const fanout::Status& st) {
  if (st.code() == fanout::Status::Code::kInterrupted) return 130;
  return st.code() == fanout::Status::Code::kInvalid || st.code() == fanout::Status::Code::kBusy ? 2 : 1;
}

int Fail(const fanout::Status& st) {
  fprintf(stderr, "fanout: error: %s\n", st.message().c_str());
  return ExitCodeOf(st);
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// --only 2,56 (repeatable): at least one n, each once.
fanout::Result<std::vector<std::string>> ParseOnly(const std::vector<std::string>& given) {
  std::vector<std::string> out;
  for (const std::string& s : given) {
    size_t start = 0;
    while (start <= s.size()) {
      size_t end = s.find(',', start);
      if (end == std::string::npos) end = s.size();
      std::string n = Trim(s.substr(start, end - start));
      if (!n.empty() && std::find(out.begin(), out.end(), n) != out.end())
        return fanout::Status::Invalid("--only: n = " + n + " is given twice; give each n once");
      if (!n.empty()) out.push_back(n);
      start = end + 1;
    }
  }
  if (out.empty()) return fanout::Status::Invalid("--only needs at least one n, e.g. --only 2,56");
  return out;
}

// --max-workers N: an integer from 1 to kMaxThreads.
fanout::Result<int> ParseMaxWorkers(const std::string& text) {
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < 1 || v > fanout::kMaxThreads)
    return fanout::Status::Invalid("--max-workers must be an integer from 1 to " + std::to_string(fanout::kMaxThreads) +
                                   " (the iterations in flight at once), got '" + text + "'");
  return static_cast<int>(v);
}

// FANOUT_STATUS (as NINJA_STATUS) or the default status line.
std::string StatusFormat() {
  const char* format = std::getenv("FANOUT_STATUS");
  return format && *format ? format : fanout::kDefaultStatus;
}

int PrintRun(const fanout::RunReport& report, bool json);

int RunCommand(const std::string& job, const std::vector<std::string>& sets, fanout::RunOptions options, bool json,
               fanout::ConsoleProgress::Verbosity verbosity, const fanout::CliHooks& hooks) {
  auto spec = fanout::LoadJobSpec(job, sets);
  if (!spec.ok()) return Fail(spec.status());
  fanout::ConsoleProgress progress(stderr, fanout::ConsoleProgress::IsSmartTerminal(stderr), verbosity,
                                   StatusFormat());
  options.events = &progress;
  options.cancel = &g_cancel;
  std::shared_ptr<fanout::Storage> storage = fanout::NewPosixStorage();
  if (hooks.wrap_storage) storage = hooks.wrap_storage(std::move(storage));
  InstallSignalHandlers();
  fanout::RunReport report = fanout::RunJobWith(*spec, options, std::move(storage));
  progress.Done();
  return PrintRun(report, json);
}

// The summary (or with --json the manifest) of a run; its exit code.
int PrintRun(const fanout::RunReport& report, bool json) {
  if (!report.status.ok() && report.iterations.empty()) return Fail(report.status);
  if (!report.status.ok() && report.manifest_path.empty() && report.ExitCode() == 2) return Fail(report.status);
  std::string summary = fanout::FormatSummary(report);
  if (json) {
    fputs(summary.c_str(), stderr);
    fputs(report.ToJson().c_str(), stdout);
  } else {
    fputs(summary.c_str(), stdout);
  }
  if (!report.report_path.empty()) fprintf(stderr, "fanout: report: %s\n", report.report_path.c_str());
  if (!report.status.ok()) fprintf(stderr, "fanout: error: %s\n", report.status.message().c_str());
  return report.ExitCode();
}

// One rank of a run started by mpirun or srun (cluster.h): every rank opens
// the same job and they agree on it before anything loads; rank 0 prints the
// summary; every rank exits with rank 0's code.
int RunRank(fanout::Cluster& cluster, const std::string& job, const std::vector<std::string>& sets,
            fanout::RunOptions options, bool json, fanout::ConsoleProgress::Verbosity verbosity,
            const fanout::CliHooks& hooks) {
  auto spec = fanout::LoadJobSpec(job, sets);
  std::shared_ptr<fanout::Storage> storage = fanout::NewPosixStorage();
  if (hooks.wrap_storage) storage = hooks.wrap_storage(std::move(storage));
  fanout::ConsoleProgress progress(stderr, fanout::ConsoleProgress::IsSmartTerminal(stderr), verbosity,
                                   StatusFormat());
  options.events = cluster.coordinator() ? &progress : nullptr;  // rank 0 sees every outcome
  options.cancel = &g_cancel;
  fanout::Result<std::unique_ptr<fanout::Job>> opened = spec.status();
  if (spec.ok()) opened = fanout::OpenJob(*spec, options, std::move(storage), nullptr, &cluster);
  fanout::Status agreed = cluster.Agree(opened.status());
  int code = 0;
  if (!agreed.ok()) {  // the same on every rank: rank 0 says it
    code = cluster.coordinator() ? Fail(agreed) : ExitCodeOf(agreed);
  } else {
    fanout::RunReport report = (*opened)->Run();
    progress.Done();
    code = cluster.coordinator() ? PrintRun(report, json) : 0;
  }
  return std::atoi(cluster.Share(std::to_string(code)).c_str());
}

// `run` on the cluster this process is a rank of.
int RunOnCluster(const std::string& job, const std::vector<std::string>& sets, const fanout::RunOptions& options,
                 bool json, fanout::ConsoleProgress::Verbosity verbosity, const fanout::CliHooks& hooks,
                 bool coordinator_only) {
#ifdef FANOUT_WITH_MPI
  auto cluster = fanout::StartMpiCluster(&g_cancel, coordinator_only);
  if (!cluster.ok()) return Fail(cluster.status());
  InstallSignalHandlers();
  return RunRank(**cluster, job, sets, options, json, verbosity, hooks);
#else
  (void)job, (void)sets, (void)options, (void)json, (void)verbosity, (void)hooks, (void)coordinator_only;
  return Fail(fanout::Status::Invalid(
      "--backend mpi: this fanout was built without MPI (install libopenmpi-dev, then build it again)"));
#endif
}

// --backend local|mpi|auto: whether this process is a rank of a cluster run.
fanout::Result<bool> UseMpi(const std::string& backend, const fanout::RunOptions& options, bool coordinator_only) {
  bool mpi = backend == "mpi";
  if (backend == "auto") {
    fanout::Launch l = fanout::DetectLaunch([](const char* name) { return std::getenv(name); });
    if (!l.launcher.empty() && options.shards == 0 && !l.problem.empty()) return fanout::Status::Invalid(l.problem);
    mpi = !l.launcher.empty() && options.shards == 0;  // a shard runs alone, even under srun
  }
  if (mpi && options.shards > 0)
    return fanout::Status::Invalid("--shard and --backend mpi: a sharded run has one process per shard; give one");
  if (coordinator_only && !mpi)
    return fanout::Status::Invalid("--coordinator-only is for --backend mpi (rank 0 then runs no iteration)");
  return mpi;
}

int ValidateCommand(const std::string& job, const std::vector<std::string>& sets) {
  auto spec = fanout::LoadJobSpec(job, sets);
  if (!spec.ok()) return Fail(spec.status());
  std::vector<std::string> warnings;
  fanout::Status st = fanout::ValidateJob(*spec, &warnings);
  if (!st.ok()) return Fail(st);
  for (const std::string& w : warnings) fprintf(stderr, "fanout: %s\n", w.c_str());
  printf("%s: valid\n", spec->path.c_str());
  return 0;
}

int PlanCommand(const std::string& job, const std::vector<std::string>& sets, fanout::RunOptions options, bool json) {
  auto spec = fanout::LoadJobSpec(job, sets);
  if (!spec.ok()) return Fail(spec.status());
  std::vector<std::string> warnings;
  auto plan = fanout::PlanJob(*spec, options, &warnings);
  if (!plan.ok()) return Fail(plan.status());
  for (const std::string& w : warnings) fprintf(stderr, "fanout: %s\n", w.c_str());
  if (json) {
    auto a = nlohmann::ordered_json::array();
    for (const auto& p : *plan) {
      nlohmann::ordered_json e;
      e["n"] = nlohmann::json::parse(p.n.ToJson());
      e["kind"] = p.kind;
      e["target"] = p.target;
      e["params"] = nlohmann::json::parse(fanout::Value(fanout::ValueMap(p.params.begin(), p.params.end())).ToJson());
      e["sql"] = p.sql;
      if (!p.after.empty()) e["after"] = p.after;
      e["fuse"] = p.fuse;
      if (options.resume) e["would_run"] = p.would_run, e["reason"] = p.run_reason;
      a.push_back(e);
    }
    printf("%s\n", a.dump(2).c_str());
    return 0;
  }
  printf("job %s: %zu iterations -> %s\n", spec->name.c_str(), plan->size(), spec->output.dir.c_str());
  for (const auto& p : *plan) {
    std::string params;
    for (const auto& [k, v] : p.params)
      if (k != "n" && k != "kind") params += (params.empty() ? "" : " ") + k + "=" + v.ToJson();
    std::string after;
    for (const std::string& d : p.after) after += (after.empty() ? "  after " : ", ") + d;
    printf("  n=%-8s %s%s  %s%s\n", p.n.ToString().c_str(), p.target.c_str(),
           p.kind.empty() ? "" : (" kind=" + p.kind).c_str(), params.c_str(), after.c_str());
    if (options.resume) printf("           %s: %s\n", p.would_run ? "run " : "skip", p.run_reason.c_str());
  }
  // The SQL once per distinct text (every n of a kind shares it; values are bound).
  std::vector<std::string> shown;
  for (const auto& p : *plan) {
    if (std::find(shown.begin(), shown.end(), p.sql) != shown.end()) continue;
    shown.push_back(p.sql);
    printf("\nSQL%s (params bound as $name):\n%s", p.kind.empty() ? "" : (" for kind " + p.kind).c_str(), p.sql.c_str());
    if (!p.fuse.empty()) printf("-- %s\n", p.fuse.c_str());
  }
  return 0;
}

// The store at OUT (s3://... or a folder) and its runs, oldest first; an
// error reaching the store (credentials, no such bucket) says so.
fanout::Result<std::shared_ptr<fanout::OutputStore>> StoreWithRuns(const std::string& out,
                                                                   std::vector<std::string>* runs) {
  auto store = fanout::OpenOutputStore(out);
  if (!store.ok()) return fanout::Status::Invalid(store.status().message());
  auto listing = (*store)->ListRuns();  // sorted: run ids sort by start time
  if (!listing.ok() && fanout::IsS3Location(out))
    return fanout::Status::Invalid("cannot list the runs of " + out + ": " + listing.status().message());
  if (listing.ok()) *runs = *listing;
  if (runs->empty())
    return fanout::Status::Invalid("no run manifests under " + out +
                                   "/_fanout/runs (is this a fanout output folder?)");
  return store;
}

// A manifest that says "running" is a live run only while a process holds
// the output's lock (the kernel drops a killed run's flock); the newest
// manifest is the only one that can be live.
std::string RunState(const fanout::Manifest& m, bool newest, fanout::OutputStore& store) {
  if (m.status != "running") return m.status;
  if (newest) {
    auto held = store.LockHeld();
    if (!held.ok() || *held) return "running";
  }
  return "killed";
}

// The outputs in `out` checked against their _SUCCESS; prints one line each.
// Returns true when all are intact.
bool PrintVerify(fanout::OutputStore& store, const fanout::Manifest& last, bool checksums) {
  auto checks = fanout::VerifyOutputs(store, last, checksums);
  int bad = 0, ok = 0;
  printf("verify (%s):\n", checksums ? "file names, sizes and xxh3 checksums" : "file names and sizes");
  for (const auto& c : checks) {
    const char* label = c.foreign ? "ignored" : c.problem.empty() ? "ok" : "MISMATCH";
    bad += !c.foreign && !c.problem.empty();
    ok += !c.foreign && c.problem.empty();
    printf("  %-12s %-8s %s\n", c.target.c_str(), label, c.problem.c_str());
  }
  printf("%d outputs intact, %d differ from their _SUCCESS%s\n", ok, bad,
         bad ? " (rerun them: fanout run JOB --resume --verify)" : "");
  return bad == 0;
}

std::vector<fanout::ManifestCheck> VerifyChecks(fanout::OutputStore& store, const fanout::Manifest& last,
                                                bool* all_ok) {
  std::vector<fanout::ManifestCheck> checks;
  for (const auto& c : fanout::VerifyOutputs(store, last, true)) {
    if (!c.foreign && !c.problem.empty()) *all_ok = false;
    checks.push_back({c.target, c.foreign ? "ignored" : c.problem.empty() ? "ok" : "mismatch", c.problem});
  }
  return checks;
}

// A killed run's manifest is up to a second behind: an iteration it shows
// pending whose output carries the run's id in its _SUCCESS did commit.
void ReconcileKilled(fanout::OutputStore& store, fanout::Manifest& m) {
  int found = 0;
  for (auto& it : m.iterations) {
    if (it.status != fanout::IterationStatus::kPending) continue;
    auto state = store.Inspect(it.target);
    if (state.kind != fanout::TargetState::Kind::kOurs || state.marker.run_id != m.run_id) continue;
    it.status = fanout::IterationStatus::kCommitted;
    it.rows = state.marker.rows;
    ++found;
  }
  m.counts.committed += found;
}

fanout::Result<fanout::Manifest> ReadManifest(fanout::OutputStore& store, const std::string& run_id) {
  auto text = store.ReadRunFile(run_id + ".json");
  if (!text.ok()) return text.status();
  return fanout::Manifest::FromJson(*text);
}

// The last runs, newest first, one line each: outcome, counts, wall time.
void PrintRuns(fanout::OutputStore& store, const std::string& out, const std::vector<std::string>& runs,
               const fanout::Manifest& last) {
  printf("%zu runs in %s/_fanout/runs (newest first)\n", runs.size(), out.c_str());
  size_t shown = 0;
  for (size_t i = runs.size(); i-- > 0 && shown < 10; ++shown) {
    const bool newest = i + 1 == runs.size();
    auto read = newest ? fanout::Result<fanout::Manifest>(last) : ReadManifest(store, runs[i]);
    if (!read.ok()) continue;
    const fanout::Manifest& m = *read;
    const fanout::ManifestCounts& c = m.counts;
    printf("  %s  %-11s %3lld committed %3lld failed %3lld skipped %3lld cancelled  %.1fs\n", m.run_id.c_str(),
           RunState(m, newest, store).c_str(), static_cast<long long>(c.committed),
           static_cast<long long>(c.failed), static_cast<long long>(c.skipped), static_cast<long long>(c.cancelled),
           m.seconds);
  }
}

// One run's state and iterations.
void PrintRun(const fanout::Manifest& m, const std::string& state, const std::string& out, bool last) {
  printf("%s %s: %s, %.1fs\n", last ? "last run" : "run", m.run_id.c_str(), state.c_str(), m.seconds);
  if (state == "killed")
    printf("  it did not finish: no process holds %s/_fanout/lock (killed, or its machine went down);\n"
           "  the iterations it committed stay, the others left nothing visible: rerun with --resume\n",
           out.c_str());
  else if (state == "running")
    printf("  still running (pid %lld): the iterations below are as of %s\n", static_cast<long long>(m.pid),
           m.updated_at.empty() ? "?" : m.updated_at.c_str());
  int width = 12;
  for (const auto& it : m.iterations) width = std::max(width, static_cast<int>(it.target.size()));
  for (const auto& it : m.iterations) {
    // A pending iteration that had started was in flight when the manifest
    // was last written: running, or (a killed run) stopped while it ran.
    std::string status = fanout::ToString(it.status);
    if (it.status == fanout::IterationStatus::kPending && it.started_at > 0)
      status = state == "running" ? "running" : state == "killed" ? "in flight" : status;
    printf("  %-*s %-10s %10lld rows %8.2fs  %s\n", width, it.target.c_str(), status.c_str(),
           static_cast<long long>(it.rows), it.seconds(), it.error.substr(0, it.error.find('\n')).c_str());
  }
}

// The run `run_id` ("": the last one) of `runs`, read; exits 2 when absent.
fanout::Result<fanout::Manifest> ChosenRun(fanout::OutputStore& store, const std::string& out,
                                           const std::vector<std::string>& runs, const std::string& run_id) {
  const std::string id = run_id.empty() ? runs.back() : run_id;
  if (std::find(runs.begin(), runs.end(), id) == runs.end())
    return fanout::Status::Invalid("no run " + id + " in " + out + "/_fanout/runs (fanout status " + out +
                                   " lists the runs)");
  auto read = ReadManifest(store, id);
  if (!read.ok())
    return fanout::Status::Invalid("cannot read the manifest " + out + "/_fanout/runs/" + id +
                                   ".json: " + read.status().message());
  return read;
}

int StatusCommand(const std::string& out, const std::string& run_id, bool json, bool verify) {
  std::vector<std::string> runs;
  auto opened = StoreWithRuns(out, &runs);
  if (!opened.ok()) return Fail(opened.status());
  auto store = *opened;
  auto read = ChosenRun(*store, out, runs, run_id);
  if (!read.ok()) return Fail(read.status());
  fanout::Manifest& last = *read;
  const bool newest = last.run_id == runs.back();
  const std::string last_state = RunState(last, newest, *store);
  if (last_state == "killed") ReconcileKilled(*store, last);
  if (json) {
    if (last_state == "killed") {
      last.status = "killed";
      last.note = "the run did not finish: no process holds " + out +
                  "/_fanout/lock (killed, or its machine went down); what it committed stays";
    }
    bool all_ok = true;
    if (verify) last.verify = VerifyChecks(*store, last, &all_ok);
    fputs(last.ToJson().c_str(), stdout);
    return all_ok ? 0 : 1;
  }
  if (run_id.empty()) PrintRuns(*store, out, runs, last);
  PrintRun(last, last_state, out, run_id.empty());
  if (verify && !PrintVerify(*store, last, true)) return 1;
  return 0;
}

// --shard K/N|auto and --run-id into `options`.
fanout::Status ParseShardOptions(const std::string& shard, const std::string& run_id, fanout::RunOptions* options) {
  if (shard.empty()) {
    if (!run_id.empty())
      return fanout::Status::Invalid("--run-id names the run that shards share: give it with --shard K/N");
    return fanout::Status::Ok();
  }
  auto choice = shard == "auto" ? fanout::ShardFromLauncher([](const char* name) { return std::getenv(name); })
                                : fanout::ParseShard(shard);
  if (!choice.ok()) return choice.status();
  options->shard = choice->shard;
  options->shards = choice->shards;
  options->run_id = run_id.empty() ? choice->run_id : run_id;
  if (options->run_id.empty())
    return fanout::Status::Invalid("--shard " + shard + ": the shards of one run must agree on its id: give each "
                                   "the same --run-id ID (no launcher job id found)");
  return fanout::CheckRunId(options->run_id);
}

// --wait 90, 90s, 15m, 2h.
fanout::Result<double> ParseWait(const std::string& text) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  double unit = *end == 'h' ? 3600 : *end == 'm' ? 60 : 1;
  if (*end == 's' || *end == 'm' || *end == 'h') ++end;
  if (text.empty() || *end != '\0' || !(v >= 0) || v * unit > 1e7)
    return fanout::Status::Invalid("--wait must be a duration such as 90, 90s, 15m or 2h, got '" + text + "'");
  return v * unit;
}

int CollectCommand(const std::string& out, const std::string& run_id, const std::string& wait, bool json) {
  fanout::CollectOptions co;
  co.run_id = run_id;
  if (!wait.empty()) {
    auto seconds = ParseWait(wait);
    if (!seconds.ok()) return Fail(seconds.status());
    co.wait_seconds = *seconds;
  }
  co.cancel = &g_cancel;
  InstallSignalHandlers();
  auto store = fanout::OpenOutputStore(out);
  if (!store.ok()) return Fail(fanout::Status::Invalid(store.status().message()));
  auto report = fanout::Collect(**store, co);
  if (!report.ok()) return Fail(report.status());
  std::string summary = fanout::FormatSummary(*report);
  fputs(summary.c_str(), json ? stderr : stdout);
  if (json) fputs(report->ToJson().c_str(), stdout);
  if (!report->status.ok()) fprintf(stderr, "fanout: error: %s\n", report->status.message().c_str());
  return report->ExitCode();
}

// `fanout report OUT [--run ID] [-o FILE]`: the HTML report redrawn from the
// manifests (the run's and the one before it), into FILE or beside the
// manifest.
int ReportCommand(const std::string& out, std::string run_id, const std::string& file) {
  std::vector<std::string> runs;
  auto opened = StoreWithRuns(out, &runs);
  if (!opened.ok()) return Fail(opened.status());
  auto store = *opened;
  if (run_id.empty()) run_id = runs.back();
  auto m = ReadManifest(*store, run_id);
  if (!m.ok())
    return Fail(fanout::Status::Invalid("cannot read the manifest " + store->RunFileLocation(run_id + ".json") +
                                        ": " + m.status().message() + " (fanout status " + out + " lists the runs)"));
  auto previous = fanout::PreviousManifest(*store, run_id);
  std::string html = fanout::RenderHtmlReport(*m, previous ? &*previous : nullptr);
  std::string where = file.empty() ? store->RunFileLocation(run_id + ".html") : file;
  fanout::Status st = file.empty() ? store->WriteRunFile(run_id + ".html", html)
                                   : fanout::NewPosixStorage()->WriteFile(file, html);
  if (!st.ok()) return Fail(fanout::Status::Io("cannot write " + where + ": " + st.message()));
  printf("%s\n", where.c_str());
  return 0;
}

// `fanout gc OUT [--dry-run]`: under OUT's run lock, aborts stale multipart
// uploads and removes the attempt objects no marker references, and the
// local staging folders of killed runs; prints each.
int GcCommand(const std::string& out, bool dry_run) {
  if (!fanout::IsS3Location(out))
    return Fail(fanout::Status::Invalid(out + " is not on S3: fanout gc is for s3:// outputs (a local output's "
                                        "leftovers are removed by its next run)"));
  auto store = fanout::OpenOutputStore(out);
  if (!store.ok()) return Fail(fanout::Status::Invalid(store.status().message()));
  auto lock = (*store)->Lock("fanout gc, pid " + std::to_string(getpid()));
  if (!lock.ok()) return Fail(lock.status().code() == fanout::Status::Code::kBusy
                                  ? lock.status()
                                  : fanout::Status::Invalid("cannot lock " + out + ": " + lock.status().message()));
  auto report = fanout::CollectGarbage(**store, dry_run);
  if (!report.ok()) return Fail(report.status());
  const char* verb = dry_run ? "would abort" : "aborted";
  for (const std::string& u : report->aborted) printf("%s multipart upload of %s\n", verb, u.c_str());
  for (const std::string& o : report->removed) printf("%s %s\n", dry_run ? "would remove" : "removed", o.c_str());
  for (const std::string& d : report->staging)
    printf("%s the local staging folder of a killed run %s\n", dry_run ? "would remove" : "removed", d.c_str());
  printf("%s: %lld objects no marker references %s, %lld stale multipart uploads %s, %lld local staging folders of "
         "killed runs %s; committed outputs untouched\n",
         out.c_str(), static_cast<long long>(report->objects), dry_run ? "to remove" : "removed",
         static_cast<long long>(report->uploads), dry_run ? "to abort" : "aborted",
         static_cast<long long>(report->staging.size()), dry_run ? "to remove" : "removed");
  return 0;
}

// What the command line says, parsed into these.
struct Args {
  std::string job, out;
  std::vector<std::string> sets, only;
  std::string max_workers, shard, run_id, wait;
  std::string backend = "auto";
  bool coordinator_only = false;
  std::string report_file, log_format = "text";
  bool quiet = false, verbose = false, dry_run = false;
  CLI::App* gc = nullptr;
  CLI::App* report = nullptr;
  bool resume = false, json = false, verify = false;
  CLI::App* run = nullptr;
  CLI::App* validate = nullptr;
  CLI::App* plan = nullptr;
  CLI::App* collect = nullptr;
  CLI::Option* run_only = nullptr;
  CLI::Option* plan_only = nullptr;
};

void AddRunAndValidate(CLI::App& app, Args& a) {
  a.run = app.add_subcommand("run", "run every iteration; exit 0 ok, 1 some failed, 2 invalid, 130 interrupted");
  a.run->add_option("job", a.job, "job file (YAML)")->required();
  a.run->add_option("--max-workers", a.max_workers,
                    "iterations in flight at once (1 to " + std::to_string(fanout::kMaxThreads) + ")");
  a.run_only = a.run->add_option("--only", a.only, "run only these n (comma-separated)");
  a.run->add_option("--set", a.sets, "param override, name=value (repeatable)");
  a.run->add_flag("--resume", a.resume, "skip iterations whose _SUCCESS fingerprint matches");
  a.run->add_flag("--verify", a.verify,
                  "before skipping an output (--resume, skip_existing), check its xxh3 checksums too");
  a.run->add_flag("--json", a.json, "print the run manifest as JSON on stdout");
  a.run->add_option("--shard", a.shard,
                    "K/N: run the K-th of N shares of the iterations (array jobs; `fanout collect` merges the N); "
                    "auto: K and N from SLURM_ARRAY_TASK_ID/_MIN/_MAX/_COUNT, or JOB_COMPLETION_INDEX (Kubernetes) "
                    "or AWS_BATCH_JOB_ARRAY_INDEX with FANOUT_SHARDS=N");
  a.run->add_option("--run-id", a.run_id,
                    "with --shard: the run's id, the same for every shard (default: SLURM_ARRAY_JOB_ID, the parent "
                    "of AWS_BATCH_JOB_ID)");
  a.run->add_option("--backend", a.backend,
                    "local: this process runs every iteration; mpi: this process is one rank of a run started by "
                    "mpirun or srun --mpi=pmix (rank 0 hands out the iterations and writes the manifest); auto "
                    "(default): mpi when OMPI_COMM_WORLD_SIZE is set (mpirun) or SLURM_STEP_NUM_TASKS > 1 (srun), "
                    "else local")
      ->check(CLI::IsMember({"local", "mpi", "auto"}));
  a.run->add_flag("--coordinator-only", a.coordinator_only,
                  "with --backend mpi: rank 0 hands out iterations and writes the manifest, and runs none");
  a.run->add_flag("-q,--quiet", a.quiet, "show only failures and warnings while it runs (no status line)");
  a.run->add_flag("-v,--verbose", a.verbose, "show every start too, and whole errors");
  a.run->add_option("--log-format", a.log_format, "the run log OUT/_fanout/runs/<run-id>.log: text or json")
      ->check(CLI::IsMember({"text", "json"}));

  a.validate = app.add_subcommand("validate", "check the job: parse, load schemas, prepare every transform");
  a.validate->add_option("job", a.job, "job file (YAML)")->required();
  a.validate->add_option("--set", a.sets, "param override, name=value (repeatable)");
}

void AddPlanAndStatus(CLI::App& app, Args& a) {
  a.plan = app.add_subcommand("plan", "print the resolved iterations, their params and SQL");
  a.plan->add_option("job", a.job, "job file (YAML)")->required();
  a.plan_only = a.plan->add_option("--only", a.only, "only these n (comma-separated)");
  a.plan->add_option("--set", a.sets, "param override, name=value (repeatable)");
  a.plan->add_flag("--resume", a.resume, "show which iterations would run and why");
  a.plan->add_flag("--verify", a.verify, "with --resume: check the outputs' xxh3 checksums too");
  a.plan->add_flag("--json", a.json, "print JSON");

  auto* status =
      app.add_subcommand("status", "what the last runs wrote (a killed run shows as such), from the manifests");
  status->add_option("out", a.out, "output folder")->required();
  status->add_flag("--json", a.json, "print the last manifest (with --run, that run's) as JSON");
  status->add_option("--run", a.run_id, "one run's iterations (its id, as listed)");
  status->add_flag("--verify", a.verify,
                   "check every output in OUT against its _SUCCESS (names, sizes, xxh3); exit 1 if any differs");

  a.collect = app.add_subcommand(
      "collect", "the barrier of a sharded run: wait for every shard, merge their manifests into the run's; exit as run");
  a.collect->add_option("out", a.out, "output folder")->required();
  a.collect->add_option("--wait", a.wait, "wait this long for shards not finished (90, 90s, 15m, 2h); default: not");
  a.collect->add_option("--run-id", a.run_id, "the run to collect (default: the only one not collected yet)");
  a.collect->add_flag("--json", a.json, "print the run manifest as JSON on stdout");
  a.report = app.add_subcommand("report", "(re)draw a run's HTML report from its manifest; prints where it is");
  a.report->add_option("out", a.out, "output folder")->required();
  a.report->add_option("--run", a.run_id, "the run (default: the last one)");
  a.report->add_option("-o,--output", a.report_file, "write it here instead of OUT/_fanout/runs/<run-id>.html");
  a.gc = app.add_subcommand("gc", "s3:// outputs: abort stale multipart uploads, remove objects no marker "
                                  "references (takes the run lock; never touches a committed output)");
  a.gc->add_option("out", a.out, "output location (s3://bucket/prefix)")->required();
  a.gc->add_flag("--dry-run", a.dry_run, "only print what would be removed");
}

}  // namespace

int fanout::CliMain(int argc, char** argv, const CliHooks& hooks) {
  CLI::App app{"fanout: run a model sequence in parallel; every iteration committed atomically"};
  app.require_subcommand(1);
  Args a;
  AddRunAndValidate(app, a);
  AddPlanAndStatus(app, a);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  fanout::RunOptions options;
  if (a.run->count("--max-workers")) {
    auto workers = ParseMaxWorkers(a.max_workers);
    if (!workers.ok()) return Fail(workers.status());
    options.max_workers = *workers;
  }
  if (a.run_only->count() + a.plan_only->count() > 0) {
    auto wanted = ParseOnly(a.only);
    if (!wanted.ok()) return Fail(wanted.status());
    options.only = std::move(wanted).value();
  }
  options.resume = a.resume;
  options.verify = a.verify;
  if (*a.collect) return CollectCommand(a.out, a.run_id, a.wait, a.json);
  options.log_format = a.log_format == "json" ? fanout::RunOptions::LogFormat::kJson : fanout::RunOptions::LogFormat::kText;
  if (a.quiet && a.verbose) return Fail(fanout::Status::Invalid("--quiet and --verbose: give one of them"));
  using Verbosity = fanout::ConsoleProgress::Verbosity;
  const Verbosity verbosity = a.quiet ? Verbosity::kQuiet : a.verbose ? Verbosity::kVerbose : Verbosity::kNormal;
  if (*a.run) {
    if (fanout::Status st = ParseShardOptions(a.shard, a.run_id, &options); !st.ok()) return Fail(st);
    auto mpi = UseMpi(a.backend, options, a.coordinator_only);
    if (!mpi.ok()) return Fail(mpi.status());
    if (*mpi) return RunOnCluster(a.job, a.sets, options, a.json, verbosity, hooks, a.coordinator_only);
    return RunCommand(a.job, a.sets, options, a.json, verbosity, hooks);
  }
  if (*a.validate) return ValidateCommand(a.job, a.sets);
  if (*a.plan) return PlanCommand(a.job, a.sets, options, a.json);
  if (*a.report) return ReportCommand(a.out, a.run_id, a.report_file);
  if (*a.gc) return GcCommand(a.out, a.dry_run);
  return StatusCommand(a.out, a.run_id, a.json, a.verify);
}
