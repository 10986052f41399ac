// after: dependencies end to end, on the real engine and files: a dependant
// reads its dependency's committed output, never staging nor an older one,
// also with many iterations in flight and slow dependencies.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "fanout/fanout.h"
#include "temp_dir.h"
#include "test_util.h"

namespace fanout {
namespace {

class AfterTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    Write("one.csv", "id\n1\n");
  }

  RunReport Run(const std::string& yaml, std::vector<std::string> sets = {}, bool resume = false) {
    auto spec = ParseJobSpec(yaml, dir_ + "/job.yaml", sets);
    EXPECT_TRUE(spec.ok()) << spec.status().message();
    if (!spec.ok()) return {};
    RunOptions options;
    options.resume = resume;
    options.max_workers = 8;
    options.on_engine_ready = [](Engine& db) {
      return db.RegisterScalarFunction("sleep_ms", [](int64_t ms) {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        return ms;
      });
    };
    return RunJob(*spec, options);
  }

  // Rows of an output, as text, in a fixed order.
  std::vector<std::string> Rows(const std::string& target, const std::string& columns) {
    auto db = Database::Open({});
    EXPECT_TRUE(db.ok());
    auto con = (*db)->Connect();
    auto t = (*con)->Query("SELECT " + columns + " FROM read_parquet(" + test::SqlQuote(dir_ + "/out/" + target + "/*.parquet") +
                           ") ORDER BY ALL");
    EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.status().message());
    std::vector<std::string> rows;
    if (!t.ok()) return rows;
    for (const auto& row : t->rows) {
      std::string line;
      for (const Value& v : row) line += v.ToJson() + ",";
      rows.push_back(line);
    }
    return rows;
  }

  static const IterationReport* Find(const RunReport& r, const std::string& key) {
    for (const auto& it : r.iterations)
      if (it.n.ToString() == key) return &it;
    return nullptr;
  }
};

// Three slow "mid" iterations (each after a slow fit), 60 leaves each after one
// of them, and one fan-in after every mid; 8 workers. The job runs twice with
// another $v: a leaf that read its dependency before it committed would read
// the first run's rows (or fail on a half-written one).
std::string ManyLeavesJob() {
  std::string y = "inputs: {one: one.csv}\nparams: {v: 1}\nsequence:\n  - {n: fit, kind: fit}\n";
  for (int m = 1; m <= 3; ++m) y += "  - {n: m" + std::to_string(m) + ", kind: mid, k: " + std::to_string(m) + "}\n";
  for (int l = 1; l <= 60; ++l) y += "  - {n: l" + std::to_string(l) + ", kind: leaf" + std::to_string(l % 3 + 1) + "}\n";
  y += "  - {n: all, kind: all}\n";
  y += "transforms:\n"
       "  fit: SELECT $v * 1000 AS base FROM one WHERE sleep_ms(200) > 0\n"
       "  mid: SELECT i, base + $k * 10 + i AS val FROM iter_fit, range(5) t(i) WHERE sleep_ms(100 * $k) > 0\n"
       "  all: SELECT * FROM iter_m1 UNION ALL SELECT * FROM iter_m2 UNION ALL SELECT * FROM iter_m3\n";
  for (int m = 1; m <= 3; ++m)
    y += "  leaf" + std::to_string(m) + ": SELECT $n AS leaf, i, val FROM iter_m" + std::to_string(m) + "\n";
  y += "after:\n  all: {kind: mid}\n";
  for (int m = 1; m <= 3; ++m) y += "  m" + std::to_string(m) + ": [fit]\n";
  for (int l = 1; l <= 60; ++l) y += "  l" + std::to_string(l) + ": [m" + std::to_string(l % 3 + 1) + "]\n";
  return y;
}

TEST_F(AfterTest, NoDependantEverReadsAnUncommittedOrOlderOutput) {
  const std::string job = ManyLeavesJob();
  for (int v : {1, 2}) {
    SCOPED_TRACE("v = " + std::to_string(v));
    RunReport r = Run(job, {"v=" + std::to_string(v)});
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    ASSERT_EQ(r.Count(IterationStatus::kCommitted), 65);
    for (int m = 1; m <= 3; ++m) {
      std::vector<std::string> mid = Rows("iter_m" + std::to_string(m), "i, val");
      ASSERT_EQ(mid.size(), 5u);
      EXPECT_EQ(mid[0], "0," + std::to_string(v * 1000 + m * 10) + ",");
      for (int l = m - 1 == 0 ? 3 : m - 1; l <= 60; l += 3)
        EXPECT_EQ(Rows("iter_l" + std::to_string(l), "i, val"), mid) << "leaf l" << l << " of m" << m;
    }
    EXPECT_EQ(Rows("iter_all", "count(*), min(val) // 1000, max(val) // 1000")[0],
              "15," + std::to_string(v) + "," + std::to_string(v) + ",");
    // Each dependant started only after its dependency's commit.
    for (int l = 1; l <= 60; ++l) {
      const IterationReport* leaf = Find(r, "l" + std::to_string(l));
      const IterationReport* mid = Find(r, "m" + std::to_string(l % 3 + 1));
      ASSERT_TRUE(leaf && mid);
      EXPECT_GE(leaf->started_at, mid->finished_at) << leaf->n.ToString();
    }
  }
}

// a's $v comes from an override: changing it changes a's params only.
std::string ChainJob(int a_v = 1) {
  return "inputs: {one: one.csv}\nparams: {v: 1, w: 1}\noverrides: {a: {v: " + std::to_string(a_v) + "}}\n"
         "sequence:\n  - {n: a, kind: a}\n  - {n: b, kind: b}\n  - {n: c, kind: c}\n  - {n: x, kind: x}\n"
         "transforms:\n"
         "  a: SELECT $v AS v FROM one\n"
         "  b: SELECT v + 1 AS v FROM iter_a\n"
         "  c: SELECT v * 10 AS v FROM iter_b\n"
         "  x: SELECT $w AS w FROM one\n"
         "after: {b: [a], c: [b]}\n";
}

TEST_F(AfterTest, ResumeRerunsTheDependantsOfAChangedDependencyOnly) {
  RunReport first = Run(ChainJob());
  ASSERT_EQ(first.Count(IterationStatus::kCommitted), 4);
  EXPECT_EQ(Rows("iter_c", "v"), std::vector<std::string>{"20,"});
  RunReport same = Run(ChainJob(), {}, /*resume=*/true);
  EXPECT_EQ(same.Count(IterationStatus::kSkipped), 4);

  RunReport changed = Run(ChainJob(5), {}, /*resume=*/true);
  EXPECT_EQ(Find(changed, "a")->run_reason, "changed: params");
  EXPECT_EQ(Find(changed, "b")->run_reason, "changed: inputs");  // a's fingerprint is part of b's
  EXPECT_EQ(Find(changed, "c")->status, IterationStatus::kCommitted);
  EXPECT_EQ(Find(changed, "x")->status, IterationStatus::kSkipped);
  EXPECT_EQ(Rows("iter_c", "v"), std::vector<std::string>{"60,"});

  // a's output damaged (same fingerprint): a reruns, and so do b and c.
  std::filesystem::remove(dir_ + "/out/iter_a/part-00000.parquet");
  RunReport damaged = Run(ChainJob(5), {}, /*resume=*/true);
  EXPECT_EQ(Find(damaged, "a")->status, IterationStatus::kCommitted);
  EXPECT_EQ(Find(damaged, "b")->run_reason, "dependency n=a runs");
  EXPECT_EQ(Find(damaged, "c")->run_reason, "dependency n=b runs");
  EXPECT_EQ(Find(damaged, "x")->status, IterationStatus::kSkipped);
}

TEST_F(AfterTest, OnlyRunsADependantOnAnUpToDateDependencyAndSkipsItOtherwise) {
  ASSERT_EQ(Run(ChainJob()).Count(IterationStatus::kCommitted), 4);
  auto spec = ParseJobSpec(ChainJob(7), dir_ + "/job.yaml");
  ASSERT_TRUE(spec.ok());
  RunOptions options;
  options.only = {"c"};
  RunReport stale = RunJob(*spec, options);  // b's output is of a's v=1; with v=7 it is not up to date
  ASSERT_EQ(stale.iterations.size(), 1u);
  EXPECT_EQ(stale.iterations[0].status, IterationStatus::kSkipped);
  EXPECT_EQ(stale.iterations[0].skip_reason,
            "dependency n=b is not in this run (--only) and its output is not up to date: run it too");
  EXPECT_EQ(Rows("iter_c", "v"), std::vector<std::string>{"20,"});  // untouched
  EXPECT_EQ(stale.ExitCode(), 1);  // what was asked for was not made

  auto same = ParseJobSpec(ChainJob(), dir_ + "/job.yaml");
  ASSERT_TRUE(same.ok());
  options.only = {"c", "x"};
  RunReport fresh = RunJob(*same, options);
  EXPECT_EQ(fresh.Count(IterationStatus::kCommitted), 2);
  EXPECT_EQ(fresh.ExitCode(), 0);
}

}  // namespace
}  // namespace fanout
