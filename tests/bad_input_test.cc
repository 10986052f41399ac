// Bad input: every case must exit 2, say what is wrong and where on stderr,
// and write nothing — neither into an output folder that holds an earlier
// run's output nor by creating one that did not exist. Plus the run-time case:
// a transform that fails for one n fails only that iteration (exit 1).
#include <string>
#include <vector>

#include "test_util.h"

namespace fanout::test {
namespace {

// kTotalsSql that raises an error for n = $fail_n.
constexpr const char* kFailingTotalsSql =
    "SELECT region, count(*) AS cnt, CAST(sum(amount) AS BIGINT) AS total\n"
    "FROM sales\n"
    "WHERE day <= $n AND amount >= $min_amount\n"
    "  AND CASE WHEN $n = $fail_n THEN error('boom for n = ' || $n) ELSE true END\n"
    "GROUP BY region\n"
    "ORDER BY region";

class BadInputTest : public FanoutTest {
 protected:
  // A good job whose earlier run left out/iter_2.
  void SetUp() override {
    FanoutTest::SetUp();
    WriteSales();
    good_.params = {"min_amount: 10", "fail_n: 0"};
    good_.transform = kFailingTotalsSql;
    WriteJob(good_);
    RunResult r = Run({"--only", "2"});
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    ASSERT_TRUE(fs::exists(OutPath("iter_2/_SUCCESS")));
    fs::copy(OutPath(), GoodOut(), fs::copy_options::recursive);
  }

  // A copy of out/ as the good run left it (outside the work folder).
  std::string GoodOut() const { return fs::path(Path()).parent_path().string() + "/good-out"; }

  // Runs `fanout args` (default: run job.yaml) twice: with out/ holding the
  // earlier output, then with out/ removed. Each time it must exit 2, print
  // nothing on stdout, print "fanout: error: " and every fragment on stderr,
  // and change nothing in the work folder.
  void ExpectRejected(const std::vector<std::string>& fragments, std::vector<std::string> args = {}) {
    if (args.empty()) args = {"run", Path("job.yaml")};
    for (bool populated : {true, false}) {
      SCOPED_TRACE(populated ? "out/ holds an earlier output" : "out/ does not exist");
      if (populated && !fs::exists(OutPath())) fs::copy(GoodOut(), OutPath(), fs::copy_options::recursive);
      if (!populated) fs::remove_all(OutPath());
      Snapshot before = TakeSnapshot(Path());
      ASSERT_EQ(before.count("out/iter_2/part-00000.parquet"), populated ? 1u : 0u);
      RunResult r = Fanout(args);
      EXPECT_EQ(r.exit_code, 2) << r.Describe();
      EXPECT_EQ(r.out, "");
      EXPECT_EQ(r.err.rfind("fanout: error: ", 0), 0u) << r.err;
      for (const std::string& f : fragments)
        EXPECT_NE(r.err.find(f), std::string::npos) << "no '" << f << "' in\n" << r.err;
      EXPECT_EQ(DiffSnapshots(before, TakeSnapshot(Path())), "");
      if (!populated) {
        EXPECT_FALSE(fs::exists(OutPath()));
      }
    }
  }

  // Writes `job` as job.yaml, then ExpectRejected.
  void ExpectJobRejected(const JobText& job, const std::vector<std::string>& fragments) {
    WriteJob(job);
    ExpectRejected(fragments);
  }

  // "<job.yaml>:<line of the first line containing needle>:<column>".
  std::string WhereIs(const JobText& job, const std::string& needle, int column) const {
    return Path("job.yaml") + ":" + std::to_string(LineOf(job.Render(), needle)) + ":" + std::to_string(column);
  }

  // Where a job's literal-block transform is ("transform: |" is its start).
  std::string WhereIsTransform(const JobText& job) const { return WhereIs(job, "transform: |", 12); }

  // The good job with `transform` instead.
  JobText WithTransform(const std::string& transform) const {
    JobText job = good_;
    job.transform = transform;
    return job;
  }

  JobText good_;
};

TEST_F(BadInputTest, MissingJobFile) {
  ExpectRejected({"job file not found: " + Path("nope.yaml")}, {"run", Path("nope.yaml")});
}

TEST_F(BadInputTest, YamlSyntaxErrorShowsLineAndColumn) {
  Write("job.yaml",
        "name: bad\n"
        "params:\n"
        "  min_amount: 10: 20\n"
        "sequence: [1, 2]\n"
        "transform: SELECT 1 AS x\n"
        "output:\n"
        "  dir: out\n");
  ExpectRejected({Path("job.yaml") + ":3:17: YAML syntax error: illegal map value"});
}

TEST_F(BadInputTest, UnknownKey) {
  JobText job = good_;
  job.extra = "transfrom: SELECT 1\n";
  ExpectJobRejected(job, {WhereIs(job, "transfrom", 1) + ": unknown key 'transfrom' in the job file", "transform"});
}

TEST_F(BadInputTest, WrongType) {
  JobText job = good_;
  job.run = {"max_workers: many"};
  ExpectJobRejected(job, {WhereIs(job, "max_workers", 16) + ": run.max_workers must be a positive integer", "'many'"});
}

TEST_F(BadInputTest, MissingInputFile) {
  JobText job = good_;
  job.inputs = {"sales: sales.csv", "regions: data/regions.csv"};
  ExpectJobRejected(job, {WhereIs(job, "regions:", 12) + ": input file not found: " + Path("data/regions.csv")});
}

TEST_F(BadInputTest, MalformedCsvRow) {
  Write("regions.csv", "region,weight\nnorth,1.0\nsouth,1.1,extra\neast,0.9\nwest,1.05\n");
  JobText job = good_;
  job.inputs = {"sales: sales.csv", "regions: regions.csv"};
  ExpectJobRejected(job, {"cannot load input 'regions' (" + Path("regions.csv") +
                          "): line 3: Expected Number of Columns: 2 Found: 3: south,1.1,extra"});
}

TEST_F(BadInputTest, DuplicateN) {
  JobText job = good_;
  job.sequence = "[1, 2, 3, 2]";
  ExpectJobRejected(job, {"sequence: n = 2 appears twice (positions 2 and 4)"});
}

TEST_F(BadInputTest, NThatEscapesTheOutputFolder) {
  JobText job = good_;
  job.sequence = "[1, \"../x\"]";
  ExpectJobRejected(job, {"sequence: n = '../x' cannot name an output folder"});
}

TEST_F(BadInputTest, NWithASlash) {
  JobText job = good_;
  job.sequence = "[1, a/b]";
  ExpectJobRejected(job, {"sequence: n = 'a/b' cannot name an output folder"});
}

TEST_F(BadInputTest, TransformReferencesAnUnknownTable) {
  JobText job = WithTransform("SELECT * FROM no_such_table WHERE $n > 0");
  ExpectJobRejected(job, {WhereIsTransform(job), "transform for n = 1", "no_such_table does not exist"});
}

TEST_F(BadInputTest, TransformReferencesAnUnknownColumn) {
  JobText job = WithTransform("SELECT region, sum(amout) AS total FROM sales WHERE day <= $n GROUP BY region");
  ExpectJobRejected(job, {WhereIsTransform(job), "transform for n = 1", "\"amout\" not found"});
}

TEST_F(BadInputTest, TransformUsesAnUnknownParam) {
  JobText job = WithTransform("SELECT region FROM sales WHERE day <= $n AND amount >= $nope");
  ExpectJobRejected(job, {WhereIsTransform(job) + ": unknown param $nope in the transform for n = 1", "$min_amount"});
}

TEST_F(BadInputTest, IncludeFileThatIsNotJsonOrYaml) {
  Write("params.txt", "min_amount = 10\n");
  JobText job = good_;
  job.params = {"include: params.txt", "fail_n: 0"};
  ExpectJobRejected(job, {WhereIs(job, "include:", 12) + ": params include file " + Path("params.txt") +
                          " must be JSON (.json) or YAML (.yaml, .yml)"});
}

TEST_F(BadInputTest, IncludeFileWithInvalidJson) {
  Write("params.json", "{\"min_amount\": 10,\n");
  JobText job = good_;
  job.params = {"include: params.json", "fail_n: 0"};
  ExpectJobRejected(
      job,
      {WhereIs(job, "include:", 12) + ": params include file " + Path("params.json") + " is not valid JSON", "line 2"});
}

TEST_F(BadInputTest, OutputFolderThatCannotBeCreated) {
  Write("blocker", "a regular file, not a folder\n");
  JobText job = good_;
  job.output = {"dir: blocker/out"};
  ExpectJobRejected(job, {"cannot create the output folder " + Path("blocker/out"), "Not a directory"});
}

TEST_F(BadInputTest, OnlyNamesAnUnknownIteration) {
  ExpectRejected({"--only: n = 9 is not in the sequence"}, {"run", Path("job.yaml"), "--only", "2,9"});
}

// ----- the command line is as strict as the job file ------------------------

// `fanout run job.yaml --set ...` for each of `sets`.
std::vector<std::string> RunWithSets(const std::string& job, const std::vector<std::string>& sets) {
  std::vector<std::string> args = {"run", job};
  for (const auto& s : sets) args.insert(args.end(), {"--set", s});
  return args;
}

TEST_F(BadInputTest, SetOfAnUnknownParam) {
  ExpectRejected({"--set min_amuont=40: unknown param 'min_amuont' (the job's params: fail_n, min_amount)",
                  "under params: in the job file"},
                 RunWithSets(Path("job.yaml"), {"min_amuont=40"}));
  ExpectRejected({"--set Min_Amount=40: unknown param 'Min_Amount': the job's param is 'min_amount'"},
                 RunWithSets(Path("job.yaml"), {"Min_Amount=40"}));
}

TEST_F(BadInputTest, SetWithAnEmptyValue) {
  // It bound NULL and replaced a good output with 0 rows.
  ExpectRejected({"--set min_amount=: the value is empty", "--set 'min_amount=\"\"'"},
                 RunWithSets(Path("job.yaml"), {"min_amount="}));
}

TEST_F(BadInputTest, SetWithAValueOfTheWrongType) {
  ExpectRejected({"--set min_amount=2x: 'min_amount' is an integer, so the value must be an integer (it is 10 in the "
                  "job), got the text '2x'"},
                 RunWithSets(Path("job.yaml"), {"min_amount=2x"}));
  ExpectRejected({"--set min_amount=abc: 'min_amount' is an integer", "got the text 'abc'"},
                 RunWithSets(Path("job.yaml"), {"fail_n=1", "min_amount=abc"}));
}

TEST_F(BadInputTest, SetTwiceOrOfNOrKind) {
  ExpectRejected({"--set min_amount=30: 'min_amount' is set twice (--set min_amount=20 and --set min_amount=30)"},
                 RunWithSets(Path("job.yaml"), {"min_amount=20", "min_amount=30"}));
  ExpectRejected({"--set N=3: 'N' cannot be set: $n and $kind are bound by fanout"},
                 RunWithSets(Path("job.yaml"), {"N=3"}));
  ExpectRejected({"--set kind=x: 'kind' cannot be set"}, RunWithSets(Path("job.yaml"), {"kind=x"}));
}

TEST_F(BadInputTest, SetIsCheckedByValidateAndPlanToo) {
  ExpectRejected({"--set nope=1: unknown param 'nope'"}, {"validate", Path("job.yaml"), "--set", "nope=1"});
  ExpectRejected({"--set min_amount=: the value is empty"}, {"plan", Path("job.yaml"), "--set", "min_amount="});
}

TEST_F(BadInputTest, OnlyWithoutAnN) {
  for (std::string only : {"", ",", " , "}) {
    SCOPED_TRACE("--only '" + only + "'");
    ExpectRejected({"--only needs at least one n"}, {"run", Path("job.yaml"), "--only", only});
  }
  ExpectRejected({"--only needs at least one n"}, {"plan", Path("job.yaml"), "--only", ""});
}

TEST_F(BadInputTest, OnlyWithAnNTwice) {
  ExpectRejected({"--only: n = 2 is given twice"}, {"run", Path("job.yaml"), "--only", "2,3,2"});
  ExpectRejected({"--only: n = 2 is given twice"}, {"run", Path("job.yaml"), "--only", "2", "--only", "2"});
}

TEST_F(BadInputTest, MaxWorkersThatIsNotAPositiveInteger) {
  for (std::string workers : {"0", "-1", "abc", "2x", "", "99999"}) {
    SCOPED_TRACE("--max-workers '" + workers + "'");
    ExpectRejected({"--max-workers must be an integer from 1 to 1024 (the iterations in flight at once), got '" +
                    workers + "'"},
                   {"run", Path("job.yaml"), "--max-workers", workers});
  }
}

TEST_F(BadInputTest, DuplicateKeyInTheJobFile) {
  JobText job = good_;
  job.extra = "transform: SELECT 1 AS x\n";
  ExpectJobRejected(job, {WhereIs(job, "transform: SELECT 1", 1) + ": duplicate key 'transform' (lines " +
                          std::to_string(LineOf(job.Render(), "transform: |")) + " and " +
                          std::to_string(LineOf(job.Render(), "transform: SELECT 1")) + ")"});
}

TEST_F(BadInputTest, DuplicateKeyInParamsAndInIncludeFiles) {
  JobText job = good_;
  job.params = {"min_amount: 10", "fail_n: 0", "min_amount: 40"};
  ExpectJobRejected(job, {WhereIs(job, "min_amount: 40", 3) + ": duplicate key 'min_amount' (lines 5 and 7)"});

  Write("params.json", "{\n  \"min_amount\": 10,\n  \"fail_n\": 0,\n  \"min_amount\": 40\n}\n");
  job.params = {"include: params.json"};
  ExpectJobRejected(job, {Path("params.json") + ":4: duplicate key 'min_amount' (lines 2 and 4)"});
  Write("params.yaml", "min_amount: 10\nfail_n: 0\nmin_amount: 40\n");
  job.params = {"include: params.yaml"};
  ExpectJobRejected(job, {Path("params.yaml") + ":3:1: duplicate key 'min_amount' (lines 1 and 3)"});
}

TEST_F(BadInputTest, InputNamesThatDifferOnlyInCase) {
  JobText job = good_;
  job.inputs = {"sales: sales.csv", "Sales: sales.csv"};
  ExpectJobRejected(job, {WhereIs(job, "Sales:", 3) + ": input 'Sales' and 'sales' (" + WhereIs(job, "sales:", 3) +
                          ") differ only in case: SQL names are case-insensitive"});
}

TEST_F(BadInputTest, ParamNamesThatDifferOnlyInCase) {
  JobText job = good_;
  job.params = {"min_amount: 10", "fail_n: 0", "Min_Amount: 40"};
  ExpectJobRejected(job, {WhereIs(job, "Min_Amount", 3) + ": param 'Min_Amount' and 'min_amount' (" +
                          WhereIs(job, "min_amount: 10", 3) + ") differ only in case"});

  // An include's param and an inline one: the same name overrides, a case variant is rejected.
  Write("params.json", "{\"fail_n\": 0,\n \"Min_amount\": 10}\n");
  job.params = {"include: params.json", "min_amount: 10"};
  ExpectJobRejected(job, {WhereIs(job, "min_amount: 10", 3) + ": param 'min_amount' and 'Min_amount' (" +
                          Path("params.json") + ":2) differ only in case"});
}

TEST_F(BadInputTest, OverrideOfAnUnknownParam) {
  JobText job = good_;
  job.extra = "overrides:\n  2: {min_amout: 40}\n";
  ExpectJobRejected(job, {WhereIs(job, "min_amout", 7) + ": unknown param 'min_amout' in overrides.2 (the job's "
                                                         "params: fail_n, min_amount)"});
}

TEST_F(BadInputTest, CarelessRunAndOutputValues) {
  struct Case {
    std::vector<std::string> run, output;
    std::string key, message;
  };
  for (const Case& c : std::vector<Case>{
           {{"memory_limit: 500%"}, {"dir: out"}, "memory_limit", "run.memory_limit is a share of RAM, so it must be more than 0% and at most 100%"},
           {{"memory_limit: 0MB"}, {"dir: out"}, "memory_limit", "run.memory_limit must be at least 64MB"},
           {{"timeout: 0"}, {"dir: out"}, "timeout", "run.timeout must be more than 0"},
           {{"retries: 1000000"}, {"dir: out"}, "retries", "run.retries must be an integer from 0 to 100"},
           {{"threads: 99999"}, {"dir: out"}, "threads", "run.threads must be a positive integer or 'auto', got '99999' (at most 1024"},
           {{"max_workers: 2"}, {"dir: out", "max_file_size: 0"}, "max_file_size", "output.max_file_size must be at least 1MiB"},
       }) {
    SCOPED_TRACE(c.message);
    JobText job = good_;
    job.run = c.run;
    job.output = c.output;
    std::string line = LineWith(job.Render(), c.key + ":");
    ExpectJobRejected(job, {WhereIs(job, c.key + ":", static_cast<int>(line.find(':') + 3)) + ": " + c.message});
  }
}

TEST_F(BadInputTest, TransformFailingForOneNFailsOnlyThatIteration) {
  RunResult first = Run();  // fail_n = 0: every iteration commits
  ASSERT_EQ(first.exit_code, 0) << first.Describe();
  Snapshot old3 = TakeSnapshot(OutPath("iter_3"));

  RunResult r = Run({"--set", "fail_n=3", "--set", "min_amount=40"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("FAILED n=3: "), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("SUMMARY: 2/3 iterations succeeded (failed: 3)"), std::string::npos) << r.out;
  std::string line3 = LineWith(r.out, "boom for n = 3");
  EXPECT_EQ(line3.rfind("3 ", 0), 0u) << r.out;
  EXPECT_NE(line3.find(" failed "), std::string::npos) << r.out;

  EXPECT_EQ(DiffSnapshots(old3, TakeSnapshot(OutPath("iter_3"))), "");
  std::string manifest_line = LineWith(r.out, "manifest: ");
  ASSERT_FALSE(manifest_line.empty()) << r.out;
  std::string manifest_path = manifest_line.substr(std::string("manifest: ").size());
  nlohmann::json m = ReadJson(manifest_path);
  EXPECT_EQ(m["status"], "failed");
  EXPECT_EQ(m["exit_code"], 1);
  EXPECT_EQ(m["counts"]["committed"], 2);
  EXPECT_EQ(m["counts"]["failed"], 1);
  nlohmann::json failed = IterationOf(m, 3);
  EXPECT_EQ(failed["status"], "failed");
  EXPECT_NE(failed["error"].get<std::string>().find("boom for n = 3"), std::string::npos) << failed.dump();
  for (int64_t n : {1, 2}) {
    SCOPED_TRACE("n = " + std::to_string(n));
    EXPECT_EQ(IterationOf(m, n)["status"], "committed");
    EXPECT_EQ(ExpectCommitted(Iter(n))["run_id"], m["run_id"]);
    EXPECT_EQ(ReadTotals(Iter(n)), ExpectedTotals(sales_, n, 40));
  }
  EXPECT_EQ(ListDir(OutPath(".fanout-staging")), std::vector<std::string>{}) << "staging left behind";
}

}  // namespace
}  // namespace fanout::test
