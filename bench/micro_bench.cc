// fanout_micro_bench: micro-benchmarks of fanout's own per-iteration costs
// (Google Benchmark):
//   BM_RunIterations    the scheduler (RunIterations) with a fake executor that
//                       does nothing: queueing, threads, bookkeeping.
//   BM_Publish          Committer::Publish of one small staged file on the local
//                       filesystem: new output (rename) or replacing one
//                       (RENAME_EXCHANGE), with real fsyncs or with them skipped.
//   BM_EngineIteration  one trivial COPY on the engine wrapper, with a fresh
//                       connection and prepare per iteration (as fanout does) or
//                       one reused prepared statement (as the engine floor does).
//   BM_RunJob           RunJob end to end on 500 trivial iterations, with real
//                       fsyncs or with them skipped: how much of the per-iteration
//                       cost is durability.
//   BM_ManifestToJson   the run manifest of 10,000 committed iterations serialised
//                       (RunReport::ToJson), as the running manifest is rewritten.
// Everything is written under $FANOUT_BENCH_TMP (default: /tmp).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "commit.h"
#include "engine.h"
#include "fanout/fanout.h"
#include "scheduler.h"
#include "storage.h"

namespace fanout {
namespace {

namespace fs = std::filesystem;

// ----- scheduler ----------------------------------------------------------------

class NoopExecutor : public IterationExecutor {
 public:
  Status RunAttempt(const Iteration&, int, Interrupter& stop, ComputeSlot&, IterationReport& report) override {
    stop.Arm([] {});  // what a real attempt does around its query
    stop.Disarm();
    report.rows = 1;
    return Status::Ok();
  }
};

// range(0): iterations per run; range(1): workers.
void BM_RunIterations(benchmark::State& state) {
  const auto count = static_cast<size_t>(state.range(0));
  std::vector<Iteration> iterations(count);
  std::vector<IterationReport> pending(count);
  std::vector<size_t> order(count);
  for (size_t i = 0; i < count; ++i) {
    iterations[i].index = i;
    iterations[i].n = Value(static_cast<int64_t>(i));
    iterations[i].key = std::to_string(i);
    pending[i].n = iterations[i].n;
    order[i] = i;
  }
  SchedulerOptions options;
  options.workers = static_cast<int>(state.range(1));
  NoopExecutor executor;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<IterationReport> reports = pending;
    state.ResumeTiming();
    RunIterations(iterations, reports, order, executor, options);
    benchmark::DoNotOptimize(reports.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(count));
}
BENCHMARK(BM_RunIterations)->ArgNames({"iterations", "workers"})->ArgsProduct({{1, 100, 10000}, {1, 2, 8}})
    ->UseRealTime();

// ----- commit -------------------------------------------------------------------

// The local filesystem with every fsync skipped (SyncDir, SyncFilesystem and
// the one in WriteFile): what the commit path costs besides durability.
class NoSyncStorage : public StorageWrapper {
 public:
  explicit NoSyncStorage(std::shared_ptr<Storage> base) : StorageWrapper(std::move(base)) {}
  Status WriteFile(const std::string& p, const std::string& data) override {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << data;
    return out.flush() ? Status::Ok() : Status::Io("cannot write " + p);
  }
  Status WriteFileNoSync(const std::string& p, const std::string& data) override { return WriteFile(p, data); }
  Status SyncDir(const std::string&) override { return Status::Ok(); }
  Status SyncFilesystem(const std::string&) override { return Status::Ok(); }
};

std::string ScratchDir() {
  const char* root = std::getenv("FANOUT_BENCH_TMP");
  fs::path base = root && *root ? root : fs::temp_directory_path().string();
  fs::create_directories(base);
  std::string tmpl = (base / "fanout-micro-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) std::abort();
  return tmpl;
}

// A _SUCCESS marker shaped like the one EngineExecutor writes.
Marker BenchMarker(int64_t n) {
  Marker m;
  m.run_id = "bench";
  m.n = Value(n);
  m.rows = 1;
  m.attempt = 1;
  m.fingerprint = std::string(32, 'f');
  m.params = {{"n", Value(n)}, {"scale", Value(1.0)}};
  m.engine = "duckdb";
  return m;
}

// range(0): 1 replaces one output again and again, 0 publishes a new one each
// time. range(1): 1 with fsync, 0 without. Timed: a staging dir, one 1 KiB
// part file written as the engine would (no fsync), Publish.
void BM_Publish(benchmark::State& state) {
  const bool replace = state.range(0) != 0;
  const bool sync = state.range(1) != 0;
  std::string out = ScratchDir();
  std::shared_ptr<Storage> storage = NewPosixStorage();
  if (!sync) storage = std::make_shared<NoSyncStorage>(storage);
  Committer committer(*storage, out, "bench");
  if (!committer.Start().ok()) state.SkipWithError("cannot create staging");
  const std::string part(1024, 'x');
  int64_t i = 0;
  for (auto _ : state) {
    std::string target = "iter_" + std::to_string(replace ? 0 : i);
    auto staging = committer.StagingDir(target, 1);
    if (!staging.ok()) {
      state.SkipWithError(staging.status().message().c_str());
      break;
    }
    std::ofstream(*staging + "/part-0.parquet", std::ios::binary) << part;
    auto result = committer.Publish(*staging, target, BenchMarker(i));
    if (!result.ok()) {
      state.SkipWithError(result.status().message().c_str());
      break;
    }
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  (void)committer.Finish();
  fs::remove_all(out);
}
BENCHMARK(BM_Publish)->ArgNames({"replace", "fsync"})->ArgsProduct({{0, 1}, {0, 1}})->UseRealTime();

// ----- engine and whole runs ---------------------------------------------------------

constexpr char kTrivialCopy[] = "COPY (SELECT $n AS n) TO $target (FORMAT parquet, COMPRESSION zstd)";

// range(0): 1 opens a connection and prepares for every iteration, 0 reuses one.
void BM_EngineIteration(benchmark::State& state) {
  const bool fresh = state.range(0) != 0;
  std::string dir = ScratchDir();
  Database::Options options;
  options.threads = 2;
  auto db = Database::Open(options);
  if (!db.ok()) return state.SkipWithError(db.status().message().c_str());
  std::unique_ptr<Connection> con;
  std::unique_ptr<PreparedStatement> stmt;
  int64_t i = 0;
  for (auto _ : state) {
    if (fresh || !stmt) {
      stmt.reset();
      con = std::move((*db)->Connect()).value();
      stmt = std::move(con->Prepare(kTrivialCopy)).value();
    }
    Status st = stmt->Bind("n", Value(i));
    if (st.ok()) st = stmt->Bind("target", Value(dir + "/" + std::to_string(i++) + ".parquet"));
    if (st.ok()) st = stmt->Execute().status();
    if (!st.ok()) return state.SkipWithError(st.message().c_str());
  }
  state.SetItemsProcessed(state.iterations());
  stmt.reset();
  con.reset();
  fs::remove_all(dir);
}
BENCHMARK(BM_EngineIteration)->ArgName("fresh_connection")->Arg(0)->Arg(1)->UseRealTime();

// range(0): 1 with fsync, 0 without. Each run starts from an empty output folder.
void BM_RunJob(benchmark::State& state) {
  constexpr int kIterations = 500;
  std::string dir = ScratchDir();
  auto spec = ParseJobSpec("sequence: {range: [1, " + std::to_string(kIterations) +
                               "]}\ntransform: SELECT $n AS n\nrun: {max_workers: 2}\n",
                           dir + "/job.yaml");
  if (!spec.ok()) return state.SkipWithError(spec.status().message().c_str());
  RunOptions options;
  options.storage = NewPosixStorage();
  if (state.range(0) == 0) options.storage = std::make_shared<NoSyncStorage>(options.storage);
  for (auto _ : state) {
    state.PauseTiming();
    fs::remove_all(dir + "/out");
    state.ResumeTiming();
    RunReport report = RunJob(*spec, options);
    if (report.ExitCode() != 0) return state.SkipWithError(report.status.message().c_str());
  }
  state.SetItemsProcessed(state.iterations() * kIterations);
  fs::remove_all(dir);
}
BENCHMARK(BM_RunJob)->ArgName("fsync")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// ----- run manifest -------------------------------------------------------------

// range(0): iterations in the run, each committed with every field set.
void BM_ManifestToJson(benchmark::State& state) {
  RunReport report;
  report.run_id = "20261123T054917.123Z-e3d899";
  report.job_name = "bench";
  report.out_dir = "/tmp/out";
  report.started_at = 1795000000.25;
  report.finished_at = 1795000100.5;
  report.workers = 2;
  report.threads = 2;
  for (int64_t i = 0; i < state.range(0); ++i) {
    IterationReport r;
    r.n = Value(i);
    r.target = "iter_" + std::to_string(i);
    r.status = IterationStatus::kCommitted;
    r.rows = 1;
    r.bytes = 321;
    r.files = 1;
    r.attempts = 1;
    r.started_at = report.started_at + static_cast<double>(i) * 0.01;
    r.finished_at = r.started_at + 0.0123;
    r.commit_seconds = 0.0004;
    r.fingerprint = std::string(32, 'f');
    report.iterations.push_back(r);
  }
  size_t bytes = 0;
  for (auto _ : state) {
    std::string json = report.ToJson();
    bytes = json.size();
    benchmark::DoNotOptimize(json.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_ManifestToJson)->ArgName("iterations")->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fanout

BENCHMARK_MAIN();
