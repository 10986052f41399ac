// End to end: the real `fanout` binary on real files. Every test reads the
// outputs back with DuckDB and compares values with expectations computed in
// C++ from the generated input (test_util.h: MakeSales, ExpectedTotals).
#include <string>
#include <vector>

#include "test_util.h"

namespace fanout::test {
namespace {

// kTotalsSql plus the region list and the STRUCT param cfg, through a temp
// table (the same name in every iteration).
constexpr const char* kFilteredSql =
    "CREATE TEMP TABLE picked AS\n"
    "SELECT * FROM sales\n"
    "WHERE day <= $n AND amount >= $min_amount AND list_contains($regions, region);\n"
    "SELECT region, count(*) AS cnt, CAST(sum(amount) AS BIGINT) AS total,\n"
    "       CAST(sum(amount) * $cfg.mult AS BIGINT) AS scaled, $cfg.label AS label, $n AS n\n"
    "FROM picked\n"
    "GROUP BY region\n"
    "ORDER BY region";

class E2eTest : public FanoutTest {
 protected:
  void SetUp() override {
    FanoutTest::SetUp();
    WriteSales();
  }

  // Writes `job`, runs it with `extra` args and expects exit code 0.
  RunResult RunOk(const JobText& job, const std::vector<std::string>& extra = {}) {
    WriteJob(job);
    RunResult r = Run(extra);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return r;
  }

  // Expects out/iter_<n> to hold kTotalsSql's result for `min_amount`.
  void ExpectTotals(int64_t n, int64_t min_amount) {
    SCOPED_TRACE("n = " + std::to_string(n));
    Rows want = ExpectedTotals(sales_, n, min_amount);
    ASSERT_FALSE(want.empty()) << "test data selects nothing";
    EXPECT_EQ(ReadTotals(Iter(n)), want);
    EXPECT_EQ(ExpectCommitted(Iter(n))["rows"], want.size());
  }

  // kFilteredSql's output for iteration n.
  Rows ReadFiltered(int64_t n) {
    return Query("SELECT region, cnt, total, scaled, label, n FROM read_parquet(" +
                 SqlQuote(OutPath(Iter(n)) + "/*.parquet") + ") ORDER BY region");
  }

  // What kFilteredSql returns.
  Rows ExpectedFiltered(int64_t n, int64_t min_amount, const std::set<std::string>& regions, int64_t mult,
                        const std::string& label) {
    Rows rows = ExpectedTotals(sales_, n, min_amount, regions);
    EXPECT_FALSE(rows.empty()) << "test data selects nothing for n = " << n;
    for (auto& row : rows) {
      int64_t scaled = std::get<int64_t>(row[2].v) * mult;
      row.insert(row.end(), {Value(scaled), Value(label), Value(n)});
    }
    return rows;
  }

  // The run_id in every iteration's _SUCCESS, by n.
  std::map<int64_t, std::string> RunIds(const std::vector<int64_t>& ns) {
    std::map<int64_t, std::string> ids;
    for (int64_t n : ns) ids[n] = RunIdOf(Iter(n));
    return ids;
  }

  // Runs a one-iteration job in `format` and reads its output back with `reader`.
  void ExpectOutputFormat(const std::string& format, const std::string& part, const std::string& reader) {
    JobText job;
    job.sequence = "[12]";
    job.output = {"dir: out", "format: " + format};
    RunOk(job);
    EXPECT_EQ(ListDir(OutPath("iter_12")), (std::vector<std::string>{"_SUCCESS", part}));
    EXPECT_EQ(ReadTotals("iter_12", reader), ExpectedTotals(sales_, 12, 10));
    ExpectCommitted("iter_12");
  }
};

TEST_F(E2eTest, AggregatesEachIterationWithListAndMapParams) {
  JobText job;
  job.params = {"min_amount: 15", "regions: [north, south, west]", "cfg: {mult: 3, label: q1}"};
  job.sequence = "[3, 7, 12, 30]";
  job.transform = kFilteredSql;
  job.run = {"max_workers: 4"};
  RunResult r = RunOk(job);
  EXPECT_NE(r.out.find("SUMMARY: 4/4 iterations succeeded"), std::string::npos) << r.out;

  EXPECT_EQ(Targets(), (std::vector<std::string>{"iter_12", "iter_3", "iter_30", "iter_7"}));
  for (int64_t n : {3, 7, 12, 30}) {
    SCOPED_TRACE("n = " + std::to_string(n));
    Rows want = ExpectedFiltered(n, 15, {"north", "south", "west"}, 3, "q1");
    EXPECT_EQ(ReadFiltered(n), want);
    nlohmann::json marker = ExpectCommitted(Iter(n));
    EXPECT_EQ(marker["rows"], want.size());
    EXPECT_EQ(marker["n"], n);
    EXPECT_EQ(marker["params"]["regions"], nlohmann::json({"north", "south", "west"}));
    EXPECT_EQ(marker["params"]["cfg"], nlohmann::json({{"mult", 3}, {"label", "q1"}}));
  }
}

TEST_F(E2eTest, TempTablesWithTheSameNameDoNotCollideAcrossIterations) {
  JobText job;
  job.sequence = "{range: [1, 12]}";
  job.transform =
      "CREATE TEMP TABLE scratch AS SELECT range + 1 AS k FROM range($n);\n"
      "INSERT INTO scratch VALUES ($n * 1000);\n"
      "SELECT count(*) AS cnt, CAST(sum(k) AS BIGINT) AS total FROM scratch";
  job.run = {"max_workers: 4"};
  RunOk(job);
  for (int64_t n = 1; n <= 12; ++n) {
    SCOPED_TRACE("n = " + std::to_string(n));
    Rows got = Query("SELECT cnt, total FROM read_parquet(" + SqlQuote(OutPath(Iter(n)) + "/*.parquet") + ")");
    EXPECT_EQ(got, (Rows{{Value(n + 1), Value(n * (n + 1) / 2 + n * 1000)}}));
  }
}

TEST_F(E2eTest, IncludesParamsFromJsonAndYamlFiles) {
  Write("config/p.json", R"({"min_amount": 20, "cfg": {"mult": 2, "label": "json"}, "label_only_json": "x"})");
  Write("config/p.yaml", "regions: [east, west]\nmin_amount: 30\n");
  JobText job;
  // Later includes win over earlier ones; params written inline win over both.
  job.params = {"include: [config/p.json, config/p.yaml]", "cfg: {mult: 5, label: inline}"};
  job.sequence = "[10, 20]";
  job.transform = kFilteredSql;
  RunOk(job);
  for (int64_t n : {10, 20}) {
    SCOPED_TRACE("n = " + std::to_string(n));
    EXPECT_EQ(ReadFiltered(n), ExpectedFiltered(n, 30, {"east", "west"}, 5, "inline"));
    EXPECT_EQ(ExpectCommitted(Iter(n))["params"]["label_only_json"], "x");
  }
}

TEST_F(E2eTest, OverrideChangesOnlyItsIteration) {
  JobText job;
  job.sequence = "[2, 5, 9]";
  job.extra = "overrides:\n  5: {min_amount: 60}\n";
  RunOk(job);
  ExpectTotals(2, 10);
  ExpectTotals(5, 60);
  ExpectTotals(9, 10);
  EXPECT_EQ(Success("iter_5")["params"]["min_amount"], 60);
  EXPECT_EQ(Success("iter_9")["params"]["min_amount"], 10);
}

TEST_F(E2eTest, RangeSequenceRunsBothEnds) {
  JobText job;
  job.sequence = "{range: [1, 5]}";
  RunOk(job);
  EXPECT_EQ(Targets(), (std::vector<std::string>{"iter_1", "iter_2", "iter_3", "iter_4", "iter_5"}));
  for (int64_t n = 1; n <= 5; ++n) ExpectTotals(n, 10);
}

TEST_F(E2eTest, SqlSequenceWithATransformPerKind) {
  Write("plan.csv", "n,kind\n4,sums\n9,counts\n16,sums\n25,counts\n");
  JobText job;
  job.inputs = {"sales: sales.csv", "plan: plan.csv"};
  job.sequence = "{sql: \"SELECT n, kind FROM plan ORDER BY n\"}";
  job.transform = "";
  job.output = {"dir: out", "name: \"{kind}_{n}\""};
  job.extra =
      "transforms:\n"
      "  sums: SELECT $kind AS kind, 'sum' AS how, CAST(sum(amount) AS BIGINT) AS v FROM sales WHERE day <= $n\n"
      "  counts: SELECT $kind AS kind, 'count' AS how, count(*) AS v FROM sales WHERE day <= $n\n";
  RunResult r = RunOk(job, {"--json"});
  EXPECT_EQ(Targets(), (std::vector<std::string>{"counts_25", "counts_9", "sums_16", "sums_4"}));

  nlohmann::json manifest = ManifestOf(r);
  for (int64_t n : {4, 9, 16, 25}) {
    SCOPED_TRACE("n = " + std::to_string(n));
    bool sums = n == 4 || n == 16;
    std::string kind = sums ? "sums" : "counts", target = kind + "_" + std::to_string(n);
    int64_t count = 0, sum = 0;
    for (const Sale& s : sales_)
      if (s.day <= n) ++count, sum += s.amount;
    Rows got = Query("SELECT kind, how, v FROM read_parquet(" + SqlQuote(OutPath(target) + "/*.parquet") + ")");
    EXPECT_EQ(got, (Rows{{Value(kind), Value(sums ? "sum" : "count"), Value(sums ? sum : count)}}));
    EXPECT_EQ(ExpectCommitted(target)["kind"], kind);
    nlohmann::json it = IterationOf(manifest, n);
    EXPECT_EQ(it["kind"], kind);
    EXPECT_EQ(it["target"], target);
  }
}

TEST_F(E2eTest, WritesCsvOutput) { ExpectOutputFormat("csv", "part-00000.csv", "read_csv"); }

TEST_F(E2eTest, WritesJsonOutput) { ExpectOutputFormat("json", "part-00000.json", "read_json"); }

TEST_F(E2eTest, OverwriteReplacesTheOldOutputCompletely) {
  JobText job;
  job.sequence = "[1, 2]";
  job.output = {"dir: out", "format: csv"};
  RunOk(job);
  Write("out/iter_2/stale.txt", "left by someone");

  job.params = {"min_amount: 50"};
  job.output = {"dir: out", "format: parquet", "mode: overwrite"};
  RunOk(job);
  for (int64_t n : {1, 2}) {
    EXPECT_EQ(ListDir(OutPath(Iter(n))), (std::vector<std::string>{"_SUCCESS", "part-00000.parquet"}));
    ExpectTotals(n, 50);
  }
}

TEST_F(E2eTest, ErrorIfExistsRefusesAndChangesNothing) {
  JobText job;
  job.output = {"dir: out", "mode: error_if_exists"};
  RunOk(job, {"--only", "2"});  // nothing exists yet: runs
  ExpectTotals(2, 10);

  Snapshot before = TakeSnapshot(Path());
  RunResult r = Run();
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find("fanout: error: output.mode is error_if_exists"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(": iter_2 "), std::string::npos) << r.err;
  EXPECT_EQ(DiffSnapshots(before, TakeSnapshot(Path())), "");
}

TEST_F(E2eTest, SkipExistingKeepsCommittedIterations) {
  JobText job;
  job.output = {"dir: out", "mode: skip_existing"};
  RunOk(job, {"--only", "2"});
  std::string first_run = RunIdOf("iter_2");
  // (A folder without _SUCCESS at a target is refused: OutputsTest.)

  RunResult r = RunOk(job, {"--json"});
  nlohmann::json manifest = ManifestOf(r);
  EXPECT_EQ(manifest["counts"]["committed"], 2);
  EXPECT_EQ(manifest["counts"]["skipped"], 1);
  nlohmann::json skipped = IterationOf(manifest, 2);
  EXPECT_EQ(skipped["status"], "skipped");
  EXPECT_NE(skipped.value("skip_reason", "").find("skip_existing"), std::string::npos) << skipped.dump();
  EXPECT_EQ(RunIdOf("iter_2"), first_run);
  for (int64_t n : {1, 3}) {
    ExpectTotals(n, 10);
    EXPECT_EQ(RunIdOf(Iter(n)), manifest["run_id"]);
  }
}

TEST_F(E2eTest, OnlyRunsTheListedIterations) {
  JobText job;
  job.sequence = "[1, 2, 3, 4]";
  RunResult r = RunOk(job, {"--only", "2,4", "--json"});
  EXPECT_EQ(Targets(), (std::vector<std::string>{"iter_2", "iter_4"}));
  EXPECT_EQ(ManifestOf(r)["counts"]["total"], 2);
  ExpectTotals(2, 10);
  ExpectTotals(4, 10);
}

TEST_F(E2eTest, SetOverridesParamsFromTheCommandLine) {
  JobText job;
  job.params = {"min_amount: 10", "regions: [north]", "cfg: {mult: 1, label: a}"};
  job.sequence = "[15, 30]";
  job.transform = kFilteredSql;
  RunOk(job, {"--set", "min_amount=55", "--set", "regions=[east, south]"});
  for (int64_t n : {15, 30}) {
    SCOPED_TRACE("n = " + std::to_string(n));
    EXPECT_EQ(ReadFiltered(n), ExpectedFiltered(n, 55, {"east", "south"}, 1, "a"));
    nlohmann::json params = ExpectCommitted(Iter(n))["params"];
    EXPECT_EQ(params["min_amount"], 55);
    EXPECT_EQ(params["regions"], nlohmann::json({"east", "south"}));
  }
}

TEST_F(E2eTest, ResumeRerunsOnlyTheIterationWhoseOverrideChanged) {
  const std::vector<int64_t> ns = {1, 2, 3, 4};
  JobText job;
  job.sequence = "[1, 2, 3, 4]";
  job.extra = "overrides:\n  3: {min_amount: 20}\n";
  RunOk(job);
  std::map<int64_t, std::string> first = RunIds(ns);

  nlohmann::json unchanged = ManifestOf(RunOk(job, {"--resume", "--json"}));
  EXPECT_EQ(unchanged["counts"]["skipped"], 4);
  EXPECT_EQ(RunIds(ns), first);

  job.extra = "overrides:\n  3: {min_amount: 70}\n";
  WriteJob(job);
  RunResult plan = Fanout({"plan", Path("job.yaml"), "--resume", "--json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.Describe();
  for (const auto& p : nlohmann::json::parse(plan.out)) {
    SCOPED_TRACE(p.dump());
    EXPECT_EQ(p["would_run"], p["n"] == 3);
    if (p["n"] == 3) {
      EXPECT_NE(p["reason"].get<std::string>().find("params"), std::string::npos);
    }
  }

  nlohmann::json resumed = ManifestOf(RunOk(job, {"--resume", "--json"}));
  EXPECT_EQ(resumed["counts"]["committed"], 1);
  EXPECT_EQ(resumed["counts"]["skipped"], 3);
  EXPECT_EQ(IterationOf(resumed, 3)["status"], "committed");
  std::map<int64_t, std::string> now = RunIds(ns);
  for (int64_t n : {1, 2, 4}) EXPECT_EQ(now[n], first[n]) << "n = " << n << " was rerun";
  EXPECT_EQ(now[3], resumed["run_id"]);
  ExpectTotals(3, 70);
  ExpectTotals(4, 10);
}

TEST_F(E2eTest, ValidateChecksTheJobAndWritesNothing) {
  JobText job;
  WriteJob(job);
  Snapshot before = TakeSnapshot(Path());
  RunResult ok = Fanout({"validate", Path("job.yaml")});
  EXPECT_EQ(ok.exit_code, 0) << ok.Describe();
  EXPECT_EQ(ok.out, Path("job.yaml") + ": valid\n");

  job.transform = "SELECT region, sum(amout) FROM sales WHERE day <= $n GROUP BY region";
  WriteJob(job);
  before = TakeSnapshot(Path());
  RunResult bad = Fanout({"validate", Path("job.yaml")});
  EXPECT_EQ(bad.exit_code, 2) << bad.Describe();
  EXPECT_NE(bad.err.find("n = 1"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("amout"), std::string::npos) << bad.err;
  EXPECT_EQ(DiffSnapshots(before, TakeSnapshot(Path())), "");
}

TEST_F(E2eTest, PlanPrintsTheResolvedIterations) {
  JobText job;
  job.params = {"min_amount: 10", "regions: [north, east]"};
  job.sequence = "[1, 5]";
  job.extra = "overrides:\n  5: {min_amount: 40}\n";
  WriteJob(job);
  Snapshot before = TakeSnapshot(Path());

  RunResult text = Fanout({"plan", Path("job.yaml")});
  ASSERT_EQ(text.exit_code, 0) << text.Describe();
  EXPECT_NE(text.out.find("2 iterations -> " + OutPath()), std::string::npos) << text.out;
  size_t at5 = text.out.find("n=5");
  ASSERT_NE(at5, std::string::npos) << text.out;
  std::string plan5 = text.out.substr(at5);
  EXPECT_NE(plan5.find("iter_5"), std::string::npos) << text.out;
  EXPECT_NE(plan5.find("min_amount=40"), std::string::npos) << text.out;

  RunResult json = Fanout({"plan", Path("job.yaml"), "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.Describe();
  nlohmann::json plan = nlohmann::json::parse(json.out);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0]["n"], 1);
  EXPECT_EQ(plan[0]["target"], "iter_1");
  EXPECT_EQ(plan[0]["params"]["min_amount"], 10);
  EXPECT_EQ(plan[1]["params"]["min_amount"], 40);
  EXPECT_EQ(plan[1]["params"]["n"], 5);
  EXPECT_EQ(plan[1]["params"]["regions"], nlohmann::json({"north", "east"}));
  EXPECT_NE(plan[1]["sql"].get<std::string>().find("GROUP BY region"), std::string::npos);
  EXPECT_EQ(DiffSnapshots(before, TakeSnapshot(Path())), "");
}

TEST_F(E2eTest, StatusDescribesTheLastRun) {
  JobText job;
  nlohmann::json first = ManifestOf(RunOk(job, {"--json"}));
  nlohmann::json second = ManifestOf(RunOk(job, {"--only", "2", "--json"}));

  RunResult text = Fanout({"status", OutPath()});
  ASSERT_EQ(text.exit_code, 0) << text.Describe();
  EXPECT_NE(text.out.find("2 runs in"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(first["run_id"].get<std::string>()), std::string::npos) << text.out;
  size_t last = text.out.find("last run " + second["run_id"].get<std::string>() + ":");
  ASSERT_NE(last, std::string::npos) << text.out;
  std::string last_run = text.out.substr(last);
  EXPECT_NE(last_run.find("iter_2"), std::string::npos) << text.out;
  EXPECT_EQ(last_run.find("iter_1"), std::string::npos) << text.out;

  RunResult json = Fanout({"status", OutPath(), "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.Describe();
  EXPECT_EQ(nlohmann::json::parse(json.out), second);

  RunResult none = Fanout({"status", Path()});
  EXPECT_EQ(none.exit_code, 2) << none.Describe();
  EXPECT_NE(none.err.find("fanout: error: no run manifests under " + Path()), std::string::npos) << none.err;
}

TEST_F(E2eTest, JsonManifestDescribesEveryIteration) {
  JobText job;
  job.sequence = "[3, 1, 2]";
  RunResult r = RunOk(job, {"--json"});
  EXPECT_NE(r.err.find("SUMMARY: 3/3 iterations succeeded"), std::string::npos) << r.err;

  nlohmann::json m = ManifestOf(r);
  EXPECT_EQ(m["status"], "succeeded");
  EXPECT_EQ(m["exit_code"], 0);
  EXPECT_EQ(m["job"], "test-job");
  EXPECT_EQ(m["out_dir"], OutPath());
  EXPECT_EQ(m["counts"],
            nlohmann::json({{"total", 3}, {"committed", 3}, {"failed", 0}, {"skipped", 0}, {"cancelled", 0}}));
  ASSERT_EQ(m["iterations"].size(), 3u);
  std::vector<int64_t> order;
  for (const auto& it : m["iterations"]) {
    int64_t n = it["n"];
    SCOPED_TRACE("n = " + std::to_string(n));
    order.push_back(n);
    nlohmann::json marker = ExpectCommitted(Iter(n));
    EXPECT_EQ(it["target"], Iter(n));
    EXPECT_EQ(it["status"], "committed");
    EXPECT_EQ(it["rows"], ExpectedTotals(sales_, n, 10).size());
    EXPECT_EQ(it["rows"], marker["rows"]);
    EXPECT_EQ(it["bytes"], marker["bytes"]);
    EXPECT_EQ(it["fingerprint"], marker["fingerprint"]);
    EXPECT_EQ(marker["run_id"], m["run_id"]);
    EXPECT_EQ(it["attempts"], 1);
    EXPECT_TRUE(it["error"].is_null());
    EXPECT_GT(it["start_unix"].get<double>(), 0);
    EXPECT_LE(it["start_unix"].get<double>(), it["end_unix"].get<double>());
  }
  EXPECT_EQ(order, (std::vector<int64_t>{3, 1, 2}));
}

// Reads a part file with another Parquet implementation (hyparquet, in
// JavaScript; installed by scripts/bootstrap.sh) and checks the row count and
// the sum of txns.
void ExpectReadableByHyparquet(const std::string& file, const nlohmann::json& rows, const Value& txns) {
  const std::string script = std::string(FANOUT_SOURCE_DIR) + "/tests/parquet_reader/read.mjs";
  RunResult r = RunProcess({"/usr/bin/env", "node", script, file}, fs::path(file).parent_path().parent_path().string());
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  nlohmann::json got = nlohmann::json::parse(r.out);
  EXPECT_EQ(got["rows"], rows);
  EXPECT_EQ(got["sums"]["txns"].get<double>(), static_cast<double>(std::get<int64_t>(txns.v)));
}

TEST_F(E2eTest, ExampleJobCommitsAllNineIterations) {
  const std::string example = std::string(FANOUT_SOURCE_DIR) + "/examples/model_sequence";
  for (const char* part : {"job.yaml", "config", "data", "transforms"})
    fs::copy(example + "/" + part, Path(part), fs::copy_options::recursive);

  RunResult r = Fanout({"run", Path("job.yaml"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  nlohmann::json m = ManifestOf(r);
  EXPECT_EQ(m["counts"]["total"], 9);
  EXPECT_EQ(m["counts"]["committed"], 9);

  const std::vector<int64_t> ns = {2, 3, 4, 56, 22, 15, 6, 7, 9};
  std::vector<std::string> want_targets;
  for (int64_t n : ns) want_targets.push_back(Iter(n));
  std::sort(want_targets.begin(), want_targets.end());
  EXPECT_EQ(Targets(), want_targets);
  for (int64_t n : ns) {
    SCOPED_TRACE("n = " + std::to_string(n));
    nlohmann::json marker = ExpectCommitted(Iter(n));
    EXPECT_EQ(marker["params"]["scale"], n == 56 ? 2.0 : 1.5);
    // Transactions in the window, counted straight from the CSVs.
    std::string expected_txns = "SELECT count(*) FROM read_csv(" + SqlQuote(Path("data/transactions.csv")) +
                                ") t JOIN read_csv(" + SqlQuote(Path("data/customers.csv")) +
                                ") c USING (customer_id) WHERE t.txn_date > DATE '2026-03-31' - " + std::to_string(n) +
                                " AND t.txn_date <= DATE '2026-03-31' AND t.amount >= 5.0";
    Rows got = Query("SELECT CAST(sum(txns) AS BIGINT), min(iteration), max(iteration) FROM read_parquet(" +
                     SqlQuote(OutPath(Iter(n)) + "/*.parquet") + ")");
    Rows want = Query(expected_txns);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(want.size(), 1u);
    EXPECT_EQ(got[0], (std::vector<Value>{want[0][0], Value(n), Value(n)}));
    ExpectReadableByHyparquet(OutPath(Iter(n)) + "/part-00000.parquet", marker["rows"], got[0][0]);
  }
}

}  // namespace
}  // namespace fanout::test
