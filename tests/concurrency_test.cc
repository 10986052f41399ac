// Concurrency through the library and the real engine: iterations that each
// take ~1 s (a sleep UDF) overlap, never more than max_workers at once, and
// RunJob returns only when all have committed.
#include <gtest/gtest.h>

#include "fakes.h"
#include "temp_dir.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "engine.h"
#include "execute.h"
#include "scheduler.h"
#include "fanout/fanout.h"

namespace fanout {
namespace {

namespace fs = std::filesystem;

class ConcurrencyTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    std::ofstream(dir_ + "/one.csv") << "id\n1\n";
  }

  // Runs `yaml` with two UDFs: sleep_ms(ms), and meet_then_sleep(ms), whose
  // first `meet_` calls wait until all of them are in it at once.
  RunReport Run(const std::string& yaml, std::atomic<bool>* cancel = nullptr, EventSink* events = nullptr) {
    auto spec = ParseJobSpec(yaml, dir_ + "/job.yaml");
    EXPECT_TRUE(spec.ok()) << spec.status().message();
    RunOptions options;
    options.cancel = cancel;
    options.events = events;
    options.on_engine_ready = [this](Engine& db) {
      Status st = db.RegisterScalarFunction("sleep_ms", [](int64_t ms) {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        return ms;
      });
      if (!st.ok()) return st;
      return db.RegisterScalarFunction("meet_then_sleep", [this](int64_t ms) {
        if (!meet_.ArriveAndWait()) met_ = false;
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        return ms;
      });
    };
    return RunJob(*spec, options);
  }

  test::Gate meet_{4};
  std::atomic<bool> met_{true};
};

// Max number of iterations the engine ran at one instant: [start, end -
// commit_seconds) intervals (a finished iteration publishes without a worker).
int MaxOverlap(const nlohmann::json& iterations) {
  std::vector<std::pair<double, int>> events;
  for (const auto& it : iterations) {
    events.emplace_back(it["start_unix"].get<double>(), +1);
    // Less 1 ms: end_unix - commit_seconds is the release time give or take rounding.
    events.emplace_back(it["end_unix"].get<double>() - it["commit_seconds"].get<double>() - 0.001, -1);
  }
  std::sort(events.begin(), events.end());  // an end sorts before a start at the same instant
  int now = 0, peak = 0;
  for (const auto& e : events) peak = std::max(peak, now += e.second);
  return peak;
}

TEST_F(ConcurrencyTest, EightOneSecondIterationsOnFourWorkersOverlap) {
  RunReport report = Run(R"(
inputs: {one: one.csv}
sequence: {range: [1, 8]}
transform: SELECT id, $n AS n, meet_then_sleep(1000) AS slept FROM one
run: {max_workers: 4, threads: 2}
)");
  EXPECT_TRUE(met_) << "four iterations never computed at once";
  ASSERT_TRUE(report.status.ok()) << report.status.message();
  EXPECT_EQ(report.ExitCode(), 0);
  EXPECT_EQ(report.Count(IterationStatus::kCommitted), 8);
  std::ifstream in(report.manifest_path);
  auto manifest = nlohmann::json::parse(in);
  double first_start = 1e300, last_end = 0;
  for (const auto& it : manifest["iterations"]) {
    EXPECT_EQ(it["status"], "committed");
    EXPECT_GE(it["seconds"].get<double>(), 0.95);  // each really took ~1 s
    first_start = std::min(first_start, it["start_unix"].get<double>());
    last_end = std::max(last_end, it["end_unix"].get<double>());
    EXPECT_TRUE(fs::exists(dir_ + "/out/" + it["target"].get<std::string>() + "/_SUCCESS"));
  }
  int peak = MaxOverlap(manifest["iterations"]);
  EXPECT_EQ(peak, 4) << "never more than max_workers in flight, and all of them used";
  // 8 x 1 s on 4 workers is ~2 s, serial is 8 s, two at a time 4 s: 5 s
  // leaves a loaded machine room and still fails anything near serial.
  EXPECT_LT(last_end - first_start, 5.0) << "8 x 1 s on 4 workers is ~2 s, far from serial 8 s";
  EXPECT_GE(report.finished_at, last_end) << "RunJob returned before the last iteration finished";
}

TEST_F(ConcurrencyTest, ManyIterationsManyWorkers) {
  RunReport report = Run(R"(
inputs: {one: one.csv}
sequence: {range: [1, 200]}
transform: |
  CREATE TEMP TABLE t AS SELECT range AS i FROM range($n);
  SELECT $n AS n, count(*) AS c, sum(i) AS s FROM t
run: {max_workers: 16, threads: 2}
)");
  ASSERT_TRUE(report.status.ok()) << report.status.message();
  ASSERT_EQ(report.Count(IterationStatus::kCommitted), 200);
  auto db = Database::Open({});
  auto con = (*db)->Connect();
  auto t = (*con)->Query("SELECT min(c = n AND s = n * (n - 1) // 2), count(*) FROM read_parquet('" + dir_ +
                         "/out/iter_*/*.parquet')");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->rows[0][0], Value(true));
  EXPECT_EQ(t->rows[0][1], Value(200));
}

// A single-query transform reuses idle sessions (connection + prepared
// statement): each iteration must still get its own params and target, and a
// failed one must not spoil the session of the next.
TEST_F(ConcurrencyTest, SingleQueryIterationsReusingSessionsKeepTheirOwnParamsAndTargets) {
  RunReport report = Run(R"(
inputs: {one: one.csv}
params: {k: 3}
overrides:
  7: {k: 5}
sequence: {range: [1, 300]}
transform: SELECT $n AS n, $k AS k, CASE WHEN $n % 50 = 0 THEN CAST(error('boom ' || $n) AS INTEGER) END AS e FROM one
run: {max_workers: 2, threads: 2}
)");
  ASSERT_TRUE(report.status.ok()) << report.status.message();
  EXPECT_EQ(report.Count(IterationStatus::kCommitted), 294);
  for (const IterationReport& r : report.iterations) {
    if (r.status != IterationStatus::kFailed) continue;
    EXPECT_EQ(std::get<int64_t>(r.n.v) % 50, 0);
    EXPECT_NE(r.error.find("boom " + r.n.ToString()), std::string::npos) << r.error;
  }
  auto db = Database::Open({});
  auto con = (*db)->Connect();
  auto stmt = (*con)->Prepare(
      "SELECT count(*) FILTER (WHERE n = CAST(regexp_extract(filename, 'iter_([0-9]+)', 1) AS BIGINT) "
      "AND k = CASE WHEN n = 7 THEN 5 ELSE 3 END), count(*) FROM read_parquet($glob, filename = true)");
  ASSERT_TRUE(stmt.ok()) << stmt.status().message();
  ASSERT_TRUE((*stmt)->Bind("glob", Value(dir_ + "/out/iter_*/*.parquet")).ok());
  auto t = (*stmt)->Execute();
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->rows[0][0], Value(294)) << "rows whose n and k match their own iteration";
  EXPECT_EQ(t->rows[0][1], Value(294));
}

// The engine keeps a cache of freed memory per thread it ran on; fanout runs
// every query on max_workers threads of its own, not on the many scheduler
// threads that also commit, so that memory stays bounded by max_workers.
// (threads: 1 leaves the engine no threads of its own: each query runs
// entirely on the thread that called it.)
TEST_F(ConcurrencyTest, QueriesRunOnAtMostMaxWorkersThreads) {
  std::mutex mu;
  std::set<std::thread::id> seen;
  auto spec = ParseJobSpec(R"(
inputs: {one: one.csv}
sequence: {range: [1, 80]}
transform: SELECT id, $n AS n, record_thread($n) AS r FROM one
run: {max_workers: 2, threads: 1}
)", dir_ + "/job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  RunOptions options;
  options.on_engine_ready = [&](Engine& db) {
    return db.RegisterScalarFunction("record_thread", [&](int64_t n) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // let commits pile up beside the queries
      std::lock_guard<std::mutex> lock(mu);
      seen.insert(std::this_thread::get_id());
      return n;
    });
  };
  RunReport report = RunJob(*spec, options);
  ASSERT_TRUE(report.status.ok()) << report.status.message();
  EXPECT_EQ(report.Count(IterationStatus::kCommitted), 80);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_LE(seen.size(), 2u) << "queries ran on " << seen.size() << " threads with max_workers: 2";
}

// run.threads: what the manifest records is what the engine ran the
// iterations with, auto (AutoThreads, tested in scheduler_test.cc) or set.
TEST_F(ConcurrencyTest, IterationsRunWithTheThreadsTheManifestRecords) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  struct Case {
    std::string range, threads;
    int want;
  };
  for (const Case& c : {Case{"[1, 64]", "auto", AutoThreads(cores, 2, 64)}, Case{"[1, 3]", "auto", cores},
                        Case{"[1, 64]", "3", 3}}) {
    SCOPED_TRACE("range " + c.range + ", threads: " + c.threads);
    fs::remove_all(dir_ + "/out");
    RunReport report = Run("inputs: {one: one.csv}\nsequence: {range: " + c.range +
                           "}\ntransform: SELECT $n AS n, CAST(current_setting('threads') AS BIGINT) AS t FROM one\n"
                           "run: {max_workers: 2, threads: " + c.threads + "}\n");
    ASSERT_TRUE(report.status.ok()) << report.status.message();
    EXPECT_EQ(report.threads, c.want);
    EXPECT_EQ(report.workers, 2);
    std::ifstream in(report.manifest_path);
    auto manifest = nlohmann::json::parse(in);
    EXPECT_EQ(manifest["threads"], c.want);
    EXPECT_EQ(manifest["max_workers"], 2);
    auto db = Database::Open({});
    auto con = (*db)->Connect();
    auto t = (*con)->Query("SELECT min(t), max(t), count(*) FROM read_parquet('" + dir_ + "/out/iter_*/*.parquet')");
    ASSERT_TRUE(t.ok()) << t.status().message();
    EXPECT_EQ(t->rows[0][0], Value(int64_t{c.want}));
    EXPECT_EQ(t->rows[0][1], Value(int64_t{c.want}));
  }
}

TEST(EngineThreadsTest, RunsEveryCallOnItsThreadsAtMostThatManyAtOnce) {
  EngineThreads threads(3);
  std::mutex mu;
  std::set<std::thread::id> ran_on, caller_ids;
  std::atomic<int> running{0}, peak{0}, done{0}, calls{0};
  // The first three calls wait until all three run at once: every thread is
  // used and the peak is reached whatever the machine's load.
  test::Gate three_at_once(3);
  std::atomic<bool> met{true};
  std::vector<std::thread> callers;
  for (int c = 0; c < 12; ++c) {
    callers.emplace_back([&] {
      {
        std::lock_guard<std::mutex> lock(mu);
        caller_ids.insert(std::this_thread::get_id());
      }
      for (int i = 0; i < 20; ++i) {
        bool finished = false;
        threads.Run([&] {
          int now = ++running;
          test::RaiseTo(peak, now);
          if (++calls <= 3 && !three_at_once.ArriveAndWait()) met = false;
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          {
            std::lock_guard<std::mutex> lock(mu);
            ran_on.insert(std::this_thread::get_id());
          }
          --running;
          finished = true;
        });
        EXPECT_TRUE(finished) << "Run returned before its call had";
        ++done;
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(done, 240);
  EXPECT_TRUE(met) << "three calls never ran at once";
  EXPECT_LE(peak, 3);
  EXPECT_GE(peak, 2) << "12 callers should keep the threads busy at once";
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(ran_on.size(), 3u);
  for (const auto& id : caller_ids) EXPECT_EQ(ran_on.count(id), 0u) << "a call ran on its caller's thread";
}

TEST_F(ConcurrencyTest, CancelStopsLongQueriesQuickly) {
  std::atomic<bool> cancel{false};
  test::RecordingEventSink events;
  std::chrono::steady_clock::time_point cancelled_at;
  // Cancels once two of the (endless) queries have started.
  std::thread canceller([&] {
    EXPECT_TRUE(events.WaitFor("started", 2)) << "no two iterations started";
    cancelled_at = std::chrono::steady_clock::now();
    cancel = true;
  });
  RunReport report = Run(R"(
inputs: {one: one.csv}
sequence: {range: [1, 6]}
transform: SELECT count(*) AS c FROM range(1000000000000) t(i), one WHERE i % 7 = $n
run: {max_workers: 2, threads: 2}
)", &cancel, &events);
  canceller.join();
  // A generous bound: the queries would count for minutes; interrupted,
  // they stop within milliseconds.
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - cancelled_at).count();
  EXPECT_LT(took, 5.0);
  EXPECT_EQ(report.ExitCode(), 130);
  EXPECT_EQ(report.Count(IterationStatus::kCancelled), 6);
  EXPECT_FALSE(fs::exists(dir_ + "/out/iter_1"));
  EXPECT_FALSE(fs::exists(dir_ + "/out/.fanout-staging"));  // removed at the end when empty
}

}  // namespace
}  // namespace fanout

namespace fanout {
namespace {

TEST_F(ConcurrencyTest, TimeoutInterruptsOnlyTheLongQuery) {
  auto t0 = std::chrono::steady_clock::now();
  RunReport report = Run(R"(
inputs: {one: one.csv}
sequence: [1, 2, 3]
transform: |
  SELECT count(*) AS c FROM range(CASE WHEN $n = 2 THEN 1000000000000 ELSE 1000 END) t(i), one WHERE i % 7 = 1
run: {max_workers: 3, threads: 2, timeout: 1s}
)");
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(took, 10.0) << "a generous bound: the long query would count for minutes";
  EXPECT_EQ(report.ExitCode(), 1);
  EXPECT_EQ(report.iterations[1].status, IterationStatus::kFailed);
  EXPECT_NE(report.iterations[1].error.find("timed out after 1s"), std::string::npos) << report.iterations[1].error;
  EXPECT_EQ(report.iterations[0].status, IterationStatus::kCommitted);
  EXPECT_EQ(report.iterations[2].status, IterationStatus::kCommitted);
  EXPECT_FALSE(fs::exists(dir_ + "/out/iter_2"));
}

}  // namespace
}  // namespace fanout

namespace fanout {
namespace {

TEST(EngineThreadsTest, AnExceptionReachesTheCallerAndTheThreadCarriesOn) {
  EngineThreads threads(1);
  EXPECT_THROW(threads.Run([] { throw std::runtime_error("boom"); }), std::runtime_error);
  int ran = 0;
  threads.Run([&] { ++ran; });
  EXPECT_EQ(ran, 1);
}

}  // namespace
}  // namespace fanout
