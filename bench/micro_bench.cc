// fanout_micro_bench: micro-benchmarks of fanout's own per-iteration costs,
// without the engine (Google Benchmark):
//   BM_RunIterations  the scheduler (RunIterations) with a fake executor that
//                     does nothing: queueing, threads, bookkeeping.
//   BM_Publish        Committer::Publish of one small staged file on the local
//                     filesystem: new output (rename) or replacing one
//                     (RENAME_EXCHANGE), with real fsyncs or with them skipped.
// The commit benchmarks write under $FANOUT_BENCH_TMP (default: /tmp).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "commit.h"
#include "scheduler.h"
#include "storage.h"

namespace fanout {
namespace {

namespace fs = std::filesystem;

// ----- scheduler ----------------------------------------------------------------

class NoopExecutor : public IterationExecutor {
 public:
  Status RunAttempt(const Iteration&, int, Interrupter& stop, IterationReport& report) override {
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

// The local filesystem with every fsync skipped (SyncFile, SyncDir and the one
// in WriteFile): what the commit path costs besides durability.
class NoSyncStorage : public Storage {
 public:
  explicit NoSyncStorage(std::shared_ptr<Storage> base) : base_(std::move(base)) {}
  Status CreateDirs(const std::string& p) override { return base_->CreateDirs(p); }
  Result<std::vector<FileInfo>> List(const std::string& d) override { return base_->List(d); }
  Result<FileInfo> Stat(const std::string& p) override { return base_->Stat(p); }
  Result<std::string> ReadFile(const std::string& p) override { return base_->ReadFile(p); }
  Status WriteFile(const std::string& p, const std::string& data) override {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << data;
    return out.flush() ? Status::Ok() : Status::Io("cannot write " + p);
  }
  Status SyncFile(const std::string&) override { return Status::Ok(); }
  Status SyncDir(const std::string&) override { return Status::Ok(); }
  Status Rename(const std::string& a, const std::string& b, bool replace) override {
    return base_->Rename(a, b, replace);
  }
  Status Exchange(const std::string& a, const std::string& b) override { return base_->Exchange(a, b); }
  Status RemoveAll(const std::string& p) override { return base_->RemoveAll(p); }
  Result<std::string> HashFile(const std::string& p) override { return base_->HashFile(p); }
  Result<std::unique_ptr<StorageLock>> Lock(const std::string& p, const std::string& holder) override {
    return base_->Lock(p, holder);
  }

 private:
  std::shared_ptr<Storage> base_;
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
nlohmann::ordered_json Marker(int64_t n) {
  nlohmann::ordered_json m;
  m["fanout_version"] = 1;
  m["run_id"] = "bench";
  m["n"] = n;
  m["kind"] = "";
  m["rows"] = 1;
  m["attempt"] = 1;
  m["fingerprint"] = std::string(32, 'f');
  m["params"] = {{"n", n}, {"scale", 1.0}};
  m["engine"] = "duckdb";
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
    auto result = committer.Publish(*staging, target, Marker(i));
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

}  // namespace
}  // namespace fanout

BENCHMARK_MAIN();
