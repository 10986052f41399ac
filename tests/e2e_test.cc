// End to end: the real `fanout` binary on real files, where a case needs C++
// (values taken from earlier runs, computed comparisons, another Parquet
// reader). Most end-to-end cases are data: tests/jobs/e2e_* (README there).
#include <string>
#include <vector>

#include "test_util.h"

namespace fanout::test {
namespace {

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
};

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
