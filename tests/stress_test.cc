// 2,000 iterations on 16 workers with failures injected into ~10% of them:
// exactly the right committed set, the right manifest counts, bounded time,
// and no leaked file descriptors or threads.
#include <dirent.h>

#include "fanout/fanout.h"
#include "temp_dir.h"
#include "test_util.h"

namespace fanout::test {
namespace {

int CountEntries(const char* dir) {
  int n = 0;
  DIR* d = opendir(dir);
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

class StressTest : public TempDirTest {};

TEST_F(StressTest, TwoThousandIterationsSixteenWorkersTenPercentFailures) {
  auto spec = ParseJobSpec(R"(
sequence: {range: [1, 2000]}
transform: |
  CREATE TEMP TABLE t AS SELECT range AS i FROM range($n % 50);
  SELECT $n AS n, count(*) AS c, CASE WHEN hash($n) % 10 = 0 THEN error('injected failure ' || $n) END AS e FROM t
run: {max_workers: 16, threads: 2}
)", dir_ + "/job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  // Which n fail, computed independently by the engine.
  std::set<int64_t> failing;
  {
    auto db = Database::Open({});
    auto con = (*db)->Connect();
    auto t = (*con)->Query("SELECT range FROM range(1, 2001) WHERE hash(range) % 10 = 0");
    ASSERT_TRUE(t.ok());
    for (const auto& row : t->rows) failing.insert(std::get<int64_t>(row[0].v));
  }
  ASSERT_GT(failing.size(), 150u);
  ASSERT_LT(failing.size(), 250u);

  // Warm up once so lazily created process-wide state is not counted as a leak.
  RunReport warm = RunJob(*ParseJobSpec("sequence: [1]\ntransform: SELECT 1\n", dir_ + "/warm.yaml"), {});
  ASSERT_EQ(warm.ExitCode(), 0);
  int fds_before = CountEntries("/proc/self/fd"), threads_before = CountEntries("/proc/self/task");

  auto t0 = std::chrono::steady_clock::now();
  RunReport report = RunJob(*spec, {});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(seconds, 120.0);
  EXPECT_EQ(report.ExitCode(), 1);
  EXPECT_EQ(report.Count(IterationStatus::kFailed), static_cast<int>(failing.size()));
  EXPECT_EQ(report.Count(IterationStatus::kCommitted), 2000 - static_cast<int>(failing.size()));
  for (const IterationReport& r : report.iterations) {
    int64_t n = std::get<int64_t>(r.n.v);
    bool exists = fs::exists(dir_ + "/out/" + r.target + "/_SUCCESS");
    if (failing.count(n)) {
      EXPECT_EQ(r.status, IterationStatus::kFailed) << n;
      EXPECT_NE(r.error.find("injected failure " + std::to_string(n)), std::string::npos) << r.error;
      EXPECT_FALSE(fs::exists(dir_ + "/out/" + r.target)) << n;
    } else {
      EXPECT_EQ(r.status, IterationStatus::kCommitted) << n;
      EXPECT_TRUE(exists) << n;
    }
  }
  nlohmann::json m = ReadJson(report.manifest_path);
  EXPECT_EQ(m["counts"]["failed"], failing.size());
  EXPECT_EQ(m["counts"]["committed"], 2000 - failing.size());
  EXPECT_FALSE(fs::exists(dir_ + "/out/.fanout-staging") && !fs::is_empty(dir_ + "/out/.fanout-staging"));
  EXPECT_EQ(CountEntries("/proc/self/fd"), fds_before) << "leaked file descriptors";
  EXPECT_EQ(CountEntries("/proc/self/task"), threads_before) << "leaked threads";
  std::cout << "[ stress   ] 2000 iterations, " << failing.size() << " injected failures, " << seconds << " s\n";
}

}  // namespace
}  // namespace fanout::test
