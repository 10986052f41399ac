// One iteration cannot change another, and validate/plan run nothing a
// user's SQL does (issue #11 items 4, 5, 7, 9): the real binary on real files.
#include "test_util.h"

namespace fanout::test {
namespace {

class IsolationTest : public FanoutTest {
 protected:
  void SetUp() override {
    FanoutTest::SetUp();
    Write("t.csv", "id,v\n1,10\n2,20\n3,30\n");
  }

  // A job over t.csv running `transform` (a literal block) for `sequence`.
  void WriteTJob(const std::string& transform, const std::string& sequence = "[1, 2, 3]",
                 const std::string& extra = "", const std::string& run_line = "") {
    JobText job;
    if (!run_line.empty()) job.run.push_back(run_line);
    job.inputs = {"t: t.csv"};
    job.params = {};
    job.sequence = sequence;
    job.transform = transform;
    job.extra = extra;
    WriteJob(job);
  }

  // validate, plan and run each exit 2 naming `fragments`, and write nothing.
  void ExpectRefused(const std::vector<std::string>& fragments) {
    for (const char* cmd : {"validate", "plan", "run"}) {
      SCOPED_TRACE(cmd);
      Snapshot before = TakeSnapshot(Path());
      RunResult r = Fanout({cmd, Path("job.yaml")});
      EXPECT_EQ(r.exit_code, 2) << r.Describe();
      for (const std::string& f : fragments) EXPECT_NE(r.err.find(f), std::string::npos) << f << "\n" << r.err;
      EXPECT_EQ(DiffSnapshots(before, TakeSnapshot(Path())), "");
    }
  }
};

TEST_F(IsolationTest, StatementsThatReachBeyondTheIterationAreRefusedUpFront) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"SET memory_limit='20MB'", "SET/RESET: it changes a setting"},
      {"RESET threads", "SET/RESET"},
      {"PRAGMA threads=1", "SET/RESET"},
      {"ATTACH ':memory:' AS other", "ATTACH: it changes the databases"},
      {"INSTALL httpfs", "INSTALL/LOAD"},
      {"LOAD parquet", "INSTALL/LOAD"},
      {"COPY (SELECT 1) TO 'side.csv'", "COPY: it writes files fanout does not manage"},
      {"EXPORT DATABASE 'exported'", "EXPORT"},
      {"CHECKPOINT", "not allowed"},
      {"CREATE TABLE leak AS SELECT * FROM t WHERE id = $n", "a transform may create TEMP objects only"},
      {"CREATE OR REPLACE VIEW t AS SELECT 1 AS id, 1 AS v", "a transform may create TEMP objects only"},
      {"INSERT INTO t VALUES (9, 9)", "inputs are shared read-only"},
      {"DROP VIEW t", "inputs are shared read-only"},
  };
  for (const auto& [statement, why] : cases) {
    SCOPED_TRACE(statement);
    WriteTJob(statement + ";\nSELECT * FROM t WHERE id = $n");
    ExpectRefused({"statement 1 (" + statement.substr(0, 20), "is not allowed in a transform", why});
    EXPECT_FALSE(fs::exists(Path("side.csv")));
    EXPECT_FALSE(fs::exists(Path("exported")));
  }
}

TEST_F(IsolationTest, TempTablesArePrivateToTheirIteration) {
  // Every iteration makes its own x with its own rows, changes it, and reads
  // only those: a shared x would mix the iterations' rows.
  WriteTJob(
      "CREATE TEMP TABLE x AS SELECT * FROM t WHERE id = $n;\n"
      "INSERT INTO x SELECT id * 100, v FROM x;\n"
      "UPDATE x SET v = v + 1;\n"
      "SELECT count(*) AS c, sum(v)::BIGINT AS s, min(id) AS id FROM x");
  RunResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  for (int n = 1; n <= 3; ++n) {
    Rows rows = Query("SELECT c, s, id FROM read_parquet(" + SqlQuote(OutPath(Iter(n)) + "/*.parquet") + ")");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0][0], Value(int64_t{2}));
    EXPECT_EQ(rows[0][1], Value(int64_t{2 * (10 * n + 1)}));
    EXPECT_EQ(rows[0][2], Value(int64_t{n}));
  }
}

TEST_F(IsolationTest, PrepareMayNotChangeInputsOrTheEngine) {
  for (const char* prepare : {"CREATE OR REPLACE VIEW T AS SELECT 1 AS id", "SET threads = 1",
                              "COPY (SELECT 1) TO 'side.csv'", "ATTACH 'other.db' AS other", "DELETE FROM t"}) {
    SCOPED_TRACE(prepare);
    WriteTJob("SELECT * FROM t WHERE id = $n", "[1]", std::string("prepare: \"") + prepare + "\"\n");
    ExpectRefused({"prepare: statement 1", "is not allowed in prepare"});
    EXPECT_FALSE(fs::exists(Path("side.csv")));
    EXPECT_FALSE(fs::exists(Path("other.db")));
  }
}

// A statement that would raise an error if any row were computed: validate and
// plan pass (they only bind), the run fails the iterations.
TEST_F(IsolationTest, ValidateAndPlanExecuteNothing) {
  const std::string raises = "CASE WHEN range >= 0 THEN error('executed') END";
  WriteTJob("CREATE TEMP TABLE x AS SELECT " + raises + " AS c FROM range(10);\n"
            "INSERT INTO x SELECT " + raises + " FROM range(5);\n"
            "SELECT " + raises + " AS c, $n AS n FROM range(1000000000000)",
            "[1, 2]",
            "prepare: |\n  CREATE TABLE d AS SELECT count(*) AS c FROM range(1000000000000) WHERE " + raises + "\n"
            "  ;SELECT " + raises + " FROM range(3)\n");
  for (const char* cmd : {"validate", "plan"}) {
    RunResult r = Fanout({cmd, Path("job.yaml")});
    EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.Describe();
  }
  EXPECT_FALSE(fs::exists(OutPath()));
  RunResult run = Run();
  EXPECT_EQ(run.exit_code, 2) << run.Describe();  // prepare runs for real and raises
  EXPECT_NE(run.err.find("executed"), std::string::npos) << run.err;
}

TEST_F(IsolationTest, OnlyAQueryCanBeTheLastStatement) {
  for (const char* last : {"DESCRIBE t", "SUMMARIZE t", "SHOW TABLES", "PRAGMA table_info('t')", "EXPLAIN SELECT 1",
                           "CALL pragma_version()"}) {
    SCOPED_TRACE(last);
    WriteTJob(last, "[1]");
    ExpectRefused({"last statement"});
  }
  WriteTJob("SELECT * FROM (DESCRIBE t)", "[1]");  // what the message suggests
  RunResult r = Run();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
}

// Output folders that differ only in case would be one folder on a
// case-insensitive filesystem: refused, from a list or from sequence.sql.
TEST_F(IsolationTest, TargetsThatDifferOnlyInCaseAreRefused) {
  for (const char* seq : {"[a, b, A]", "{sql: \"SELECT * FROM (VALUES ('x'), ('X')) v(n)\"}"}) {
    SCOPED_TRACE(seq);
    WriteTJob("SELECT $n AS n", seq);
    ExpectRefused({"differ only in case"});
  }
}

TEST_F(IsolationTest, SequenceSqlMustBeOneQuery) {
  for (const char* seq : {"{sql: \"COPY (SELECT 1 AS n) TO 'side.csv'\"}", "{sql: \"SELECT 1 AS n; SELECT 2 AS n\"}"}) {
    SCOPED_TRACE(seq);
    WriteTJob("SELECT * FROM t WHERE id = $n", seq);
    ExpectRefused({"sequence.sql must be"});
    EXPECT_FALSE(fs::exists(Path("side.csv")));
  }
}

// The process's TZ never changes a result: the engine runs in run.timezone
// (UTC by default), and the zone is part of the fingerprint.
TEST_F(IsolationTest, TimeZoneIsFixedAndPartOfTheFingerprint) {
  const std::string sql = "SELECT (TIMESTAMPTZ '2024-01-01 00:30:00+00')::DATE::VARCHAR AS d, $n AS n";
  WriteTJob(sql, "[1]");
  auto day = [&] {
    Rows rows = Query("SELECT d FROM read_parquet(" + SqlQuote(OutPath("iter_1") + "/*.parquet") + ")");
    return rows.empty() ? std::string() : rows[0][0].ToString();
  };
  for (const char* tz : {"TZ=America/New_York", "TZ=Asia/Tokyo"}) {
    RunResult r = Fanout({"run", Path("job.yaml")}, {tz});
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_EQ(day(), "2024-01-01") << tz;
  }
  WriteTJob(sql, "[1]", "", "timezone: America/New_York");
  RunResult plan = Fanout({"plan", Path("job.yaml"), "--resume"});
  EXPECT_NE(plan.out.find("changed: settings"), std::string::npos) << plan.Describe();
  RunResult r = Run({"--resume"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(day(), "2023-12-31");
  WriteTJob(sql, "[1]", "", "timezone: Mars/Olympus_Mons");
  ExpectRefused({"run.timezone 'Mars/Olympus_Mons'"});
}

// query_table($src) reads an input the text does not name: every input is
// then part of the fingerprint, so editing it reruns the iteration.
TEST_F(IsolationTest, ResumeSeesInputsReadByValue) {
  Write("prices.csv", "p\n1\n2\n");
  JobText job;
  job.inputs = {"t: t.csv", "prices: prices.csv"};
  job.params = {"src: prices"};
  job.sequence = "[1]";
  job.transform = "SELECT sum(p)::BIGINT AS s, $n AS n FROM query_table($src)";
  WriteJob(job);
  ASSERT_EQ(Run().exit_code, 0);
  RunResult same = Fanout({"plan", Path("job.yaml"), "--resume"});
  EXPECT_NE(same.out.find("up to date"), std::string::npos) << same.Describe();
  Write("prices.csv", "p\n1\n2\n3\n");
  RunResult plan = Fanout({"plan", Path("job.yaml"), "--resume"});
  EXPECT_NE(plan.out.find("changed: inputs"), std::string::npos) << plan.Describe();
  ASSERT_EQ(Run({"--resume"}).exit_code, 0);
  Rows rows = Query("SELECT s FROM read_parquet(" + SqlQuote(OutPath("iter_1") + "/*.parquet") + ")");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].ToString(), "6");
}

// SIGINT while the inputs load or prepare runs: exit 130 within 2 s (the
// README's promise, kept as the bound: stopping takes milliseconds), nothing
// under OUT; the run says it is loading while it loads.
TEST_F(IsolationTest, SigintWhileLoadingStopsWithin2s) {
  WriteTJob("SELECT * FROM d WHERE c = $n", "[1]",
            "prepare: CREATE TABLE d AS SELECT count(*) AS c FROM range(100000000000) t(i) WHERE i % 7 = 3\n");
  Child child = StartFanout({"run", Path("job.yaml")});
  // The message is the event to wait for: prepare then counts for minutes.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string err;
  while ((err = ReadFile(child.base + ".err")).find("loading 1 input and planning") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_NE(err.find("loading 1 input and planning"), std::string::npos) << err;
  auto t0 = std::chrono::steady_clock::now();
  kill(child.pid, SIGINT);
  RunResult r = WaitProcess(child, std::chrono::seconds(30));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.exit_code, 130) << r.Describe();
  EXPECT_LT(seconds, 2.0);
  EXPECT_FALSE(fs::exists(OutPath()));
}

}  // namespace
}  // namespace fanout::test
