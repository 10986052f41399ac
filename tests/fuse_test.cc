// Fused execution (#17), differential: every transform shape runs with
// run.fuse: auto and with run.fuse: off through the library on the real
// engine, and each iteration's committed rows must be the same multiset (the
// same file bytes where the transform orders its output). Each shape also
// says whether fanout must fuse it, so a test cannot pass by never fusing.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "engine.h"
#include "fanout/fanout.h"
#include "temp_dir.h"

namespace fanout {
namespace {

namespace fs = std::filesystem;

struct Shape {
  const char* name;
  const char* sql;
  bool fuses;
  bool ordered;  // the transform orders its rows fully: identical bytes
};

// clang-format off
const Shape kShapes[] = {
  {"Filter", "SELECT k, v FROM a WHERE k % $n = 0 ORDER BY k, v", true, true},
  {"GroupBy", "SELECT g, count(*) AS c, sum(v) AS s FROM a WHERE k <= $n * 3 GROUP BY g ORDER BY g", true, true},
  {"Having", "SELECT g, count(*) AS c FROM a GROUP BY g HAVING count(*) > $n ORDER BY g", true, true},
  {"ParamInSelectAndGroup", "SELECT $n AS n, g, round(sum(v) * $scale, 3) AS s FROM a GROUP BY g ORDER BY g", true, true},
  {"InnerJoinOnParam", "SELECT a.k, b.w FROM a JOIN b ON a.k = b.k AND b.w < $n * 10 ORDER BY 1, 2", true, true},
  {"LeftJoinOnParam", "SELECT a.k, b.w FROM a LEFT JOIN b ON a.k = b.k AND b.w > $n ORDER BY 1, 2 NULLS FIRST", true, true},
  {"JoinUsing", "SELECT k, a.v, b.w FROM a JOIN b USING (k) WHERE b.w + $n > 20", true, false},
  {"CteWithoutParams", "WITH x AS (SELECT k, v * 2 AS v2 FROM a) SELECT k, v2 + $n AS y FROM x WHERE k > $n", true, false},
  {"CorrelatedSubquery", "SELECT k FROM a WHERE v > (SELECT avg(v) FROM a a2 WHERE a2.k < $n + 5)", true, false},
  {"InSubquery", "SELECT k, g FROM a WHERE k IN (SELECT k FROM b WHERE w > $n)", true, false},
  {"Distinct", "SELECT DISTINCT g, k % $n AS r FROM a", true, false},
  {"Case", "SELECT k, CASE WHEN k < $n THEN 'lo' WHEN k = $n THEN 'eq' ELSE 'hi' END AS c FROM a ORDER BY k", true, true},
  {"ListParam", "SELECT k FROM a WHERE list_contains($lst, k % 5) AND k > $n", true, false},
  {"StructParam", "SELECT k, v * $st.f AS x FROM a WHERE k > $n AND g = $st.g", true, false},
  {"DateParam", "SELECT k, d FROM a WHERE d > $day AND k % $n = 0", true, false},
  {"NoFrom", "SELECT $n AS n, $scale * 2 AS s, 'x' AS t", true, true},
  {"Star", "SELECT * FROM a WHERE k = $n", true, false},
  {"UnaliasedParam", "SELECT $n, k + $n FROM a WHERE k < 3", true, false},
  {"OrderByPosition", "SELECT g, max(v) AS m FROM a WHERE k > $n GROUP BY g ORDER BY 2 DESC, 1", true, true},
  {"AggregateFilterClause", "SELECT g, count(*) FILTER (WHERE k > $n) AS c FROM a GROUP BY g ORDER BY g", true, true},
  {"NoParamAtAll", "SELECT g, count(*) AS c FROM a GROUP BY g ORDER BY g", true, true},
  // Shapes fanout must not fuse: each would change some iteration's rows.
  {"AggregateWithoutGroupBy", "SELECT count(*) AS c FROM a WHERE k < $n", false, true},
  {"Limit", "SELECT k FROM a ORDER BY k LIMIT $n", false, true},
  {"Window", "SELECT k, row_number() OVER (ORDER BY k) AS r FROM a WHERE k < $n", false, false},
  {"Qualify", "SELECT k FROM a WHERE k < $n QUALIFY row_number() OVER (PARTITION BY g ORDER BY k) = 1", false, false},
  {"Random", "SELECT k, random() < 2 AS r FROM a WHERE k < $n", false, false},
  {"Now", "SELECT k FROM a WHERE d < current_date + CAST($n AS INTEGER)", false, false},
  {"Union", "SELECT k FROM a WHERE k < $n UNION ALL SELECT k FROM b", false, false},
  {"ParamInCte", "WITH x AS (SELECT * FROM a WHERE k < $n) SELECT k FROM x", false, false},
  {"ParamInFromSubquery", "SELECT k FROM (SELECT * FROM a WHERE k < $n) s", false, false},
  {"RightJoin", "SELECT a.k, b.w FROM a RIGHT JOIN b ON a.k = b.k AND b.w > $n", false, false},
  {"FullJoin", "SELECT a.k, b.w FROM a FULL JOIN b ON a.k = b.k AND b.w > $n", false, false},
  {"ParamInRightOperand", "SELECT a.k FROM a JOIN (b JOIN b b2 ON b2.k = b.k AND b2.w > $n) ON a.k = b.k", false, false},
  {"TableFunctionParam", "SELECT range AS r FROM range($n)", false, false},
  {"GroupByAll", "SELECT g, count(*) AS c FROM a WHERE k < $n GROUP BY ALL", false, false},
  {"Rollup", "SELECT g, count(*) AS c FROM a WHERE k < $n GROUP BY ROLLUP (g)", false, false},
  {"DistinctOn", "SELECT DISTINCT ON (g) g, k FROM a WHERE k < $n ORDER BY g, k", false, true},
  {"Sample", "SELECT k FROM a TABLESAMPLE 50% (bernoulli, 7) WHERE k < $n", false, false},
  {"TwoStatements", "CREATE TEMP TABLE t AS SELECT * FROM a WHERE k < $n; SELECT k FROM t", false, false},
};
// clang-format on

void PrintTo(const Shape& s, std::ostream* os) { *os << s.name; }

constexpr const char* kData =
    "k,g,v,d\n1,x,1.5,2024-01-01\n2,y,2.5,2024-01-02\n3,x,3.0,2024-01-03\n4,z,0.5,2024-01-04\n"
    "5,y,7.25,2024-01-05\n6,x,1.0,2024-01-06\n7,z,9.5,2024-01-07\n8,y,4.0,2024-01-08\n"
    "9,x,2.0,2024-01-09\n10,z,6.5,2024-01-10\n11,x,8.0,2024-01-11\n12,y,5.5,2024-01-12\n";
constexpr const char* kOther = "k,w\n1,5\n2,15\n3,25\n5,8\n7,40\n9,12\n11,3\n12,30\n12,31\n";

class FuseTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    Write("a.csv", kData);
    Write("b.csv", kOther);
  }

  // The job: 6 iterations (one with an override), the transform `sql`.
  JobSpec Spec(const std::string& sql, const std::string& fuse, const std::string& out,
               const std::string& transform_key = "transform") {
    std::ostringstream y;
    y << "inputs: {a: a.csv, b: b.csv}\n"
      << "params: {scale: 1.5, lst: [1, 3], st: {f: 2.0, g: x}, day: '2024-01-04'}\n"
      << "sequence: {range: [1, 6]}\n"
      << "overrides: {4: {scale: 2.5}}\n"
      << transform_key << ": |\n  " << sql << "\n"
      << "output: {dir: " << out << "}\n"
      << "run: {fuse: " << fuse << ", max_workers: 2}\n"
      << "cache: false\n";
    auto spec = ParseJobSpec(y.str(), dir_ + "/job.yaml");
    EXPECT_TRUE(spec.ok()) << spec.status().message();
    return spec.ok() ? *spec : JobSpec{};
  }

  // Every committed iteration's rows (sorted: a multiset) and file bytes.
  struct Output {
    std::map<std::string, std::vector<std::string>> rows;
    std::map<std::string, std::string> bytes;
  };
  Output Read(const std::string& out) {
    Output o;
    if (!fs::exists(out)) return o;
    auto db = Database::Open({});
    auto con = (*db)->Connect();
    for (const auto& e : fs::directory_iterator(out)) {
      const std::string name = e.path().filename().string();
      if (name[0] == '_' || name[0] == '.') continue;
      const std::string file = e.path().string() + "/part-00000.parquet";
      std::ifstream in(file, std::ios::binary);
      o.bytes[name] = std::string(std::istreambuf_iterator<char>(in), {});
      auto stmt = (*con)->Prepare("SELECT * FROM read_parquet($f)");
      EXPECT_TRUE(stmt.ok());
      EXPECT_TRUE((*stmt)->Bind("f", Value(file)).ok());
      auto t = (*stmt)->Execute();
      EXPECT_TRUE(t.ok()) << t.status().message();
      std::vector<std::string> rows;
      std::string header;
      for (const ResultColumn& c : t->described) header += c.name + " " + c.type.sql + ",";
      rows.push_back("columns: " + header);
      for (const auto& r : t->rows) rows.push_back(Value(r).ToJson());
      std::sort(rows.begin(), rows.end());
      o.rows[name] = rows;
    }
    return o;
  }

  std::string FuseNote(const JobSpec& spec) {
    auto plan = PlanJob(spec, RunOptions{});
    EXPECT_TRUE(plan.ok()) << plan.status().message();
    return plan.ok() && !plan->empty() ? (*plan)[0].fuse : "";
  }

  // Runs `sql` both ways; returns whether auto fused it.
  bool Differential(const std::string& sql, bool ordered, const std::string& key = "transform") {
    JobSpec fused = Spec(sql, "always", dir_ + "/fused", key), separate = Spec(sql, "off", dir_ + "/separate", key);
    const std::string note = FuseNote(fused);
    RunReport a = RunJob(fused, RunOptions{}), b = RunJob(separate, RunOptions{});
    EXPECT_EQ(a.ExitCode(), 0) << sql << "\n" << a.status.message();
    EXPECT_EQ(b.ExitCode(), 0) << sql << "\n" << b.status.message();
    Output fo = Read(dir_ + "/fused"), so = Read(dir_ + "/separate");
    EXPECT_EQ(fo.rows.size(), 6u) << sql;
    EXPECT_EQ(fo.rows, so.rows) << sql << "\n" << note;
    if (ordered) {
      EXPECT_TRUE(fo.bytes == so.bytes) << sql << ": the files differ";
    }
    // What the plan says is what ran: each iteration's attempt says whether
    // a fused batch computed it.
    const bool fuses = note.rfind("fused", 0) == 0;
    for (const IterationReport& r : a.iterations)
      EXPECT_EQ(!r.trace.empty() && r.trace.back().fused > 0, fuses) << sql << ": n = " << r.n.ToString();
    for (const IterationReport& r : b.iterations) EXPECT_TRUE(r.trace.empty() || r.trace.back().fused == 0);
    return fuses;
  }
};

class FuseShapeTest : public FuseTest, public ::testing::WithParamInterface<Shape> {};

TEST_P(FuseShapeTest, FusedAndSeparateWriteTheSameRows) {
  const Shape& s = GetParam();
  EXPECT_EQ(Differential(s.sql, s.ordered), s.fuses) << s.sql << "\n" << FuseNote(Spec(s.sql, "auto", dir_ + "/x"));
}

INSTANTIATE_TEST_SUITE_P(Corpus, FuseShapeTest, ::testing::ValuesIn(kShapes),
                         [](const ::testing::TestParamInfo<Shape>& info) { return std::string(info.param.name); });

// The explicit batch form: written once over fanout_sequence; run alone it
// sees a one-row fanout_sequence; fused it runs once for all n.
TEST_F(FuseTest, BatchTransformGivesEachIterationItsRowsFusedOrNot) {
  const std::string sql =
      "SELECT s.n, s.scale, count(*) AS c, sum(a.v) AS total FROM fanout_sequence s JOIN a ON a.k <= s.n * 2 "
      "GROUP BY s.n, s.scale ORDER BY s.n";
  EXPECT_TRUE(Differential(sql, /*ordered=*/true, "batch_transform"));
  // n = 4 has its override: the row says so, in its own output only.
  auto db = Database::Open({});
  auto con = (*db)->Connect();
  auto t = (*con)->Query("SELECT n, scale, c FROM read_parquet('" + dir_ + "/fused/iter_4/part-00000.parquet')");
  ASSERT_TRUE(t.ok()) << t.status().message();
  ASSERT_EQ(t->rows.size(), 1u);
  EXPECT_EQ(t->rows[0][1].ToString(), "2.5");
  EXPECT_EQ(t->rows[0][2].ToString(), "8");
}

TEST_F(FuseTest, BatchTransformWithoutNIsRefusedBeforeAnythingIsWritten) {
  JobSpec spec = Spec("SELECT count(*) AS c FROM fanout_sequence", "auto", dir_ + "/out", "batch_transform");
  RunReport r = RunJob(spec, RunOptions{});
  EXPECT_EQ(r.ExitCode(), 2);
  EXPECT_NE(r.status.message().find("must return a column n"), std::string::npos) << r.status.message();
  EXPECT_FALSE(fs::exists(dir_ + "/out"));
}

TEST_F(FuseTest, BatchTransformReadsParamsFromTheSequenceTableNotAsDollarNames) {
  JobSpec spec = Spec("SELECT n FROM fanout_sequence WHERE n > $scale", "auto", dir_ + "/out", "batch_transform");
  auto plan = PlanJob(spec, RunOptions{});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("fanout_sequence.scale instead of $scale"), std::string::npos)
      << plan.status().message();
}

TEST_F(FuseTest, BatchTransformAndTransformTogetherAreRefusedWithTheLine) {
  auto spec = ParseJobSpec("inputs: {a: a.csv}\nsequence: [1]\ntransform: SELECT 1 AS x\n"
                           "batch_transform: SELECT n FROM fanout_sequence\n", dir_ + "/job.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("job.yaml:4:"), std::string::npos) << spec.status().message();
}

TEST_F(FuseTest, AutoFusesAGroupedAggregateAndSaysWhyNotARowLevelQuery) {
  EXPECT_EQ(FuseNote(Spec("SELECT g, sum(v) AS s FROM a WHERE k < $n GROUP BY g", "auto", dir_ + "/o")),
            "fused: 6 iterations share one query");
  const std::string rows = FuseNote(Spec("SELECT k FROM a WHERE k < $n", "auto", dir_ + "/o"));
  EXPECT_EQ(rows.rfind("separate: not a grouped aggregate", 0), 0u) << rows;
  const std::string distinct = FuseNote(Spec("SELECT g, count(DISTINCT k) AS c FROM a WHERE k < $n GROUP BY g", "auto", dir_ + "/o"));
  EXPECT_EQ(distinct.rfind("separate: a DISTINCT aggregate", 0), 0u) << distinct;
  EXPECT_EQ(FuseNote(Spec("SELECT g, sum(v) AS s FROM a WHERE k < $n GROUP BY g", "off", dir_ + "/o")),
            "separate: run.fuse: off");
}

// Fingerprints do not depend on the mode: a fused run resumes a separate one
// and the other way round.
TEST_F(FuseTest, FusedAndSeparateRunsResumeEachOther) {
  const std::string sql = "SELECT g, sum(v) * $scale AS s FROM a WHERE k <= $n GROUP BY g ORDER BY g";
  for (const char* first : {"off", "auto"}) {
    const std::string second = std::string(first) == "off" ? "auto" : "off";
    const std::string out = dir_ + "/out_" + first;
    ASSERT_EQ(RunJob(Spec(sql, first, out), RunOptions{}).ExitCode(), 0);
    RunOptions resume;
    resume.resume = true;
    RunReport again = RunJob(Spec(sql, second, out), resume);
    ASSERT_EQ(again.ExitCode(), 0);
    for (const IterationReport& r : again.iterations)
      EXPECT_EQ(r.status, IterationStatus::kSkipped) << first << " then " << second << ": n = " << r.n.ToString();
  }
}

// One n fails at run time inside a fused batch: the batch reruns separately,
// so only that n fails, with its own error; the others commit.
TEST_F(FuseTest, AFailureInAFusedBatchFailsOnlyItsIteration) {
  const std::string sql =
      "SELECT g, count(*) AS c, CAST(CASE WHEN $n = 3 THEN 'three' ELSE '1' END AS INTEGER) AS one FROM a "
      "GROUP BY g ORDER BY g";
  JobSpec spec = Spec(sql, "auto", dir_ + "/out");
  ASSERT_EQ(FuseNote(spec), "fused: 6 iterations share one query");
  RunReport r = RunJob(spec, RunOptions{});
  EXPECT_EQ(r.ExitCode(), 1);
  for (const IterationReport& it : r.iterations) {
    if (it.n.ToString() == "3") {
      EXPECT_EQ(it.status, IterationStatus::kFailed);
      EXPECT_NE(it.error.find("three"), std::string::npos) << it.error;
    } else {
      EXPECT_EQ(it.status, IterationStatus::kCommitted) << it.n.ToString() << ": " << it.error;
    }
  }
  EXPECT_FALSE(fs::exists(dir_ + "/out/iter_3"));
}

// A batch too big for run.memory_limit is split in halves, each a batch of
// its own (measured: 8 of these iterations at once do not fit in 64 MB, 4
// do); every iteration commits, fused, with the rows it gets alone.
TEST_F(FuseTest, ABatchThatRunsOutOfMemoryIsSplitInHalves) {
  std::ostringstream y;
  y << "sequence: {range: [1, 8]}\n"
    << "transform: |\n  SELECT r.range % 4 AS g, $n AS n, length(string_agg(CAST(r.range AS VARCHAR), ',')) AS len\n"
    << "  FROM range(0, 600000) r WHERE r.range % $n >= 0 GROUP BY g ORDER BY g\n"
    << "output: {dir: " << dir_ << "/out}\n"
    << "run: {fuse: always, max_workers: 1, threads: 1, memory_limit: 64MB}\n";
  auto spec = ParseJobSpec(y.str(), dir_ + "/job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  ASSERT_EQ(FuseNote(*spec), "fused: 8 iterations share one query");
  RunReport r = RunJob(*spec, RunOptions{});
  ASSERT_EQ(r.ExitCode(), 0) << r.status.message();
  for (const IterationReport& it : r.iterations) {
    ASSERT_EQ(it.status, IterationStatus::kCommitted) << it.n.ToString() << ": " << it.error;
    ASSERT_EQ(it.trace.size(), 1u);
    EXPECT_EQ(it.trace[0].fused, 4) << "n = " << it.n.ToString();
    EXPECT_EQ(it.rows, 4);
  }
  Output o = Read(dir_ + "/out");
  ASSERT_EQ(o.rows.size(), 8u);
  // Four groups in each output, as alone.
  for (const auto& [name, rows] : o.rows) EXPECT_EQ(rows.size(), 5u) << name;  // the columns line and 4 rows
}

TEST_F(FuseTest, KindsAndTheirTransformsFuseByKind) {
  Write("kinds.csv", "n,kind\n1,lo\n2,lo\n3,lo\n4,lo\n5,hi\n6,hi\n7,hi\n8,hi\n9,hi\n");
  for (const char* fuse : {"always", "off"}) {
    std::ostringstream y;
    y << "inputs: {a: a.csv, kinds: kinds.csv}\nparams: {scale: 2}\n"
      << "sequence: {sql: 'SELECT n, kind FROM kinds ORDER BY n'}\n"
      << "transforms:\n  lo: SELECT $kind AS kind, g, sum(v) * $scale AS s FROM a WHERE k <= $n GROUP BY g ORDER BY g\n"
      << "  hi: SELECT k, $n AS n FROM a WHERE k % $n = 1 ORDER BY k\n"
      << "output: {dir: " << dir_ << "/" << fuse << ", name: '{kind}_{n}'}\nrun: {fuse: " << fuse << "}\ncache: false\n";
    auto spec = ParseJobSpec(y.str(), dir_ + "/job.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status().message();
    ASSERT_EQ(RunJob(*spec, RunOptions{}).ExitCode(), 0);
  }
  Output fused = Read(dir_ + "/always"), separate = Read(dir_ + "/off");
  EXPECT_EQ(fused.rows.size(), 9u);
  EXPECT_EQ(fused.rows, separate.rows);
  EXPECT_TRUE(fused.bytes == separate.bytes);
}

// A generated corpus: random combinations of predicates, joins, grouping and
// ordering from a fixed seed (FANOUT_FUSE_SEED picks another), each run both
// ways.
TEST_F(FuseTest, GeneratedShapesWriteTheSameRowsFusedOrNot) {
  const char* env = std::getenv("FANOUT_FUSE_SEED");
  std::mt19937 rng(env ? static_cast<unsigned>(std::stoul(env)) : 17u);
  const std::vector<std::string> preds = {"a.k % $n = 0", "a.k <= $n * 2", "a.v > $n / 2.0", "a.g = $st.g",
                                          "list_contains($lst, a.k % 5)", "a.d > CAST($day AS DATE) - CAST($n AS INTEGER)",
                                          "a.v * $scale < 10", "a.k BETWEEN $n AND $n + 4"};
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  for (int i = 0; i < 10; ++i) {
    std::string where = pick(preds) + (rng() % 2 ? " AND " + pick(preds) : "");
    const bool join = rng() % 2, grouped = rng() % 2, ordered = rng() % 2;
    std::string from = join ? "a JOIN b ON a.k = b.k AND b.w > $n" : "a";
    std::string sql = grouped ? "SELECT a.g, count(*) AS c, round(sum(a.v), 3) AS s FROM " + from + " WHERE " + where +
                                    " GROUP BY a.g" + (rng() % 2 ? " HAVING count(*) >= $n % 3" : "") +
                                    (ordered ? " ORDER BY a.g" : "")
                              : std::string("SELECT a.k, a.g, a.v") + (join ? ", b.w" : "") + " FROM " + from +
                                    " WHERE " + where + (ordered ? (join ? " ORDER BY 1, 2, 3, 4" : " ORDER BY 1, 2, 3") : "");
    SCOPED_TRACE(sql);
    fs::remove_all(dir_ + "/fused");
    fs::remove_all(dir_ + "/separate");
    EXPECT_TRUE(Differential(sql, ordered)) << FuseNote(Spec(sql, "always", dir_ + "/x"));
  }
}

// An iteration in an after: graph (waiting or waited for) never fuses: a
// batch would run it before its dependencies or commit it outside the order
// its dependants wait on. The others still share one query, and the run
// writes what a separate run writes.
TEST_F(FuseTest, IterationsInAnAfterGraphRunSeparately) {
  const std::string sql = "SELECT g, sum(v) * $scale AS s FROM a WHERE k <= $n GROUP BY g ORDER BY g";
  auto with_after = [&](const std::string& fuse, const std::string& out) {
    JobSpec spec = Spec(sql, fuse, out);
    std::ostringstream y;
    y << "inputs: {a: a.csv, b: b.csv}\n"
      << "params: {scale: 1.5}\nsequence: {range: [1, 6]}\n"
      << "transform: |\n  " << sql << "\n"
      << "after: {6: [1]}\n"
      << "output: {dir: " << out << "}\nrun: {fuse: " << fuse << ", max_workers: 2}\ncache: false\n";
    auto parsed = ParseJobSpec(y.str(), dir_ + "/job.yaml");
    EXPECT_TRUE(parsed.ok()) << parsed.status().message();
    return parsed.ok() ? *parsed : spec;
  };
  JobSpec fused = with_after("always", dir_ + "/fused");
  auto plan = PlanJob(fused, RunOptions{});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  for (const PlannedIteration& p : *plan) {
    const std::string n = p.n.ToString();
    if (n == "1" || n == "6")
      EXPECT_EQ(p.fuse, "separate: in an after: graph") << "n = " << n;
    else
      EXPECT_EQ(p.fuse, "fused: 4 iterations share one query") << "n = " << n;
  }
  RunReport a = RunJob(fused, RunOptions{});
  RunReport b = RunJob(with_after("off", dir_ + "/separate"), RunOptions{});
  ASSERT_EQ(a.ExitCode(), 0) << a.status.message();
  ASSERT_EQ(b.ExitCode(), 0) << b.status.message();
  EXPECT_EQ(Read(dir_ + "/fused").rows, Read(dir_ + "/separate").rows);
}

}  // namespace
}  // namespace fanout
