// C++ transforms and C++ functions end to end: the real engine, real files,
// the library's RunJob. A C++ transform's result is committed like a SQL
// one's (staging, _SUCCESS, fingerprint); what its code throws or returns
// fails only its iteration; retries, timeouts and cancel reach it; C++
// scalar and table functions serve SQL transforms on many workers at once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "fanout/fanout.h"
#include "fanout/job.h"
#include "test_util.h"

namespace fanout {
namespace {

using test::Iter;
using test::Rows;
namespace fs = std::filesystem;

const IterationReport* Find(const RunReport& r, int64_t n) {
  for (const auto& it : r.iterations)
    if (it.n == Value(n)) return &it;
  ADD_FAILURE() << "no iteration " << n;
  return nullptr;
}

class CppTransformTest : public test::FanoutTest {
 protected:
  void SetUp() override {
    test::FanoutTest::SetUp();
    // customer, amount
    Write("sales.csv", "customer,amount\n1,10\n1,5\n2,7\n3,4\n3,6\n3,1\n");
  }
  // A job over sales.csv whose transform is `transform` (YAML), plus `extra`.
  void WriteJob(const std::string& transform, const std::string& extra = "", const std::string& seq = "[1, 2, 3]") {
    Write("job.yaml", "name: cpp\ninputs: {sales: sales.csv}\nparams: {scale: 2.0}\nsequence: " + seq +
                          "\ntransform: " + transform + "\noutput: {dir: out}\ncache: false\n" + extra);
  }
  RunReport RunWith(const RunOptions& options) {
    auto spec = LoadJobSpec(Path("job.yaml"));
    EXPECT_TRUE(spec.ok()) << spec.status().message();
    if (!spec.ok()) return {};
    return RunJob(*spec, options);
  }
  Rows ReadOut(const std::string& target, const std::string& order = "1") {
    return Query("SELECT * FROM read_parquet(" + test::SqlQuote(OutPath(target) + "/part-*.parquet") + ") ORDER BY " +
                 order);
  }
};

// Sums each customer's amounts up to customer n, scaled, appended row by row.
CppTransform AppendingScore(std::atomic<int>* calls = nullptr) {
  return {[calls](TransformContext& ctx) -> Status {
            if (calls) ++*calls;
            auto rows = ctx.Query(
                "SELECT customer, sum(amount) AS total FROM sales WHERE customer <= $n GROUP BY customer ORDER BY 1");
            if (!rows.ok()) return rows.status();
            auto out = ctx.ResultTable(
                {{"customer", SqlType::kBigint}, {"score", SqlType::kDouble}, {"label", SqlType::kVarchar}});
            if (!out.ok()) return out.status();
            const double scale = std::get<double>(ctx.params().at("scale").v);
            for (const auto& r : rows->rows) {
              const double total = static_cast<double>(std::get<int64_t>(r[1].v));
              FANOUT_RETURN_IF_ERROR((*out)->Append({r[0], total * scale, Value("n" + ctx.n().ToString())}));
            }
            return Status::Ok();
          },
          "v1"};
}

TEST_F(CppTransformTest, AppendedRowsAreCommittedLikeSqlResults) {
  WriteJob("{cpp: score}");
  RunOptions options;
  options.transforms["score"] = AppendingScore();
  RunReport report = RunWith(options);
  ASSERT_TRUE(report.status.ok()) << report.status.message();
  ASSERT_EQ(report.Count(IterationStatus::kCommitted), 3) << report.ToJson();
  EXPECT_EQ(ReadOut(Iter(1)), (Rows{{int64_t{1}, 30.0, "n1"}}));
  EXPECT_EQ(ReadOut(Iter(3)), (Rows{{int64_t{1}, 30.0, "n3"}, {int64_t{2}, 14.0, "n3"}, {int64_t{3}, 22.0, "n3"}}));
  for (int64_t n : {1, 2, 3}) {
    nlohmann::json marker = ExpectCommitted(Iter(n));
    EXPECT_EQ(marker["rows"], n);
    EXPECT_EQ(marker["fingerprint"], Find(report, n)->fingerprint);
    EXPECT_EQ(Find(report, n)->rows, n);
  }
  // Nothing left in staging.
  EXPECT_TRUE(test::ListDir(OutPath(".fanout-staging/" + report.run_id)).empty());
}

TEST_F(CppTransformTest, ItsVersionIsPartOfTheFingerprint) {
  WriteJob("{cpp: score}");
  std::atomic<int> calls{0};
  RunOptions options;
  options.transforms["score"] = AppendingScore(&calls);
  ASSERT_EQ(RunWith(options).Count(IterationStatus::kCommitted), 3);
  options.resume = true;
  RunReport same = RunWith(options);
  EXPECT_EQ(same.Count(IterationStatus::kSkipped), 3) << same.ToJson();
  EXPECT_EQ(calls.load(), 3);
  options.transforms["score"].version = "v2";
  RunReport changed = RunWith(options);
  EXPECT_EQ(changed.Count(IterationStatus::kCommitted), 3) << changed.ToJson();
  EXPECT_EQ(calls.load(), 6);
  EXPECT_NE(changed.iterations[0].run_reason.find("sql"), std::string::npos) << changed.iterations[0].run_reason;
}

TEST_F(CppTransformTest, ItReadsAnyInputSoTouchingOneRerunsIt) {
  WriteJob("{cpp: score}");
  RunOptions options;
  options.transforms["score"] = AppendingScore();
  ASSERT_EQ(RunWith(options).Count(IterationStatus::kCommitted), 3);
  Write("sales.csv", "customer,amount\n1,11\n2,7\n3,4\n");
  options.resume = true;
  RunReport again = RunWith(options);
  ASSERT_EQ(again.Count(IterationStatus::kCommitted), 3) << again.ToJson();
  EXPECT_EQ(again.iterations[0].run_reason, "changed: inputs");
  EXPECT_EQ(ReadOut(Iter(1)), (Rows{{int64_t{1}, 22.0, "n1"}}));
}

TEST_F(CppTransformTest, OneKindInCppBesideAnotherInSql) {
  Write("job.yaml", R"yaml(name: kinds
inputs: {sales: sales.csv}
params: {scale: 0.5}
sequence: {sql: "SELECT * FROM (VALUES (1, 'sql'), (2, 'cpp'), (3, 'cpp')) t(n, kind)"}
transforms:
  sql: SELECT customer, sum(amount) * $scale AS score, 'sql' AS label FROM sales WHERE customer <= $n GROUP BY 1
  cpp: {cpp: score}
output: {dir: out, name: "{kind}_{n}"}
cache: false
)yaml");
  RunOptions options;
  options.transforms["score"] = AppendingScore();
  RunReport report = RunWith(options);
  ASSERT_EQ(report.Count(IterationStatus::kCommitted), 3) << report.ToJson();
  EXPECT_EQ(ReadOut("sql_1"), (Rows{{int64_t{1}, 7.5, "sql"}}));
  EXPECT_EQ(ReadOut("cpp_2"), (Rows{{int64_t{1}, 7.5, "n2"}, {int64_t{2}, 3.5, "n2"}}));
  EXPECT_EQ(Success("cpp_3")["kind"], "cpp");
}

TEST_F(CppTransformTest, AResultQueryReadsItsTempTablesWithBoundParams) {
  WriteJob("{cpp: q}");
  RunOptions options;
  options.transforms["q"] = {
      [](TransformContext& ctx) -> Status {
        FANOUT_RETURN_IF_ERROR(
            ctx.Execute("CREATE TEMP TABLE mine AS SELECT customer, amount * $factor AS x FROM sales "
                        "WHERE customer = $n",
                        {{"factor", Value(int64_t{3})}}));
        // A value that would break pasted SQL is bound, never pasted.
        return ctx.SetResultQuery("SELECT customer, sum(x) AS x, $tag AS tag FROM mine GROUP BY customer;",
                                  {{"tag", Value("it's; DROP TABLE sales")}});
      },
      "1"};
  RunReport report = RunWith(options);
  ASSERT_EQ(report.Count(IterationStatus::kCommitted), 3) << report.ToJson();
  EXPECT_EQ(ReadOut(Iter(3)), (Rows{{int64_t{3}, 33.0, "it's; DROP TABLE sales"}}));
}

TEST_F(CppTransformTest, AnExceptionOrAnErrorFailsOnlyItsIteration) {
  WriteJob("{cpp: flaky}", "", "[1, 2, 3, 4]");
  RunOptions options;
  CppTransform good = AppendingScore();
  options.transforms["flaky"] = {[good](TransformContext& ctx) -> Status {
                                   if (ctx.n() == Value(int64_t{2})) throw std::runtime_error("customer 2 is broken");
                                   if (ctx.n() == Value(int64_t{3})) throw 42;
                                   if (ctx.n() == Value(int64_t{4})) return Status::Failed("no model for n = 4");
                                   return good.fn(ctx);
                                 },
                                 "1"};
  RunReport report = RunWith(options);
  EXPECT_EQ(report.Count(IterationStatus::kCommitted), 1) << report.ToJson();
  EXPECT_EQ(Find(report, 1)->status, IterationStatus::kCommitted);
  EXPECT_NE(Find(report, 2)->error.find("customer 2 is broken"), std::string::npos) << Find(report, 2)->error;
  EXPECT_NE(Find(report, 2)->error.find("C++ transform 'flaky'"), std::string::npos) << Find(report, 2)->error;
  EXPECT_NE(Find(report, 3)->error.find("not a std::exception"), std::string::npos) << Find(report, 3)->error;
  EXPECT_NE(Find(report, 4)->error.find("no model for n = 4"), std::string::npos) << Find(report, 4)->error;
  EXPECT_EQ(report.ExitCode(), 1);
  EXPECT_EQ(Targets(), (std::vector<std::string>{"iter_1"}));
}

TEST_F(CppTransformTest, ATransientErrorIsRetried) {
  WriteJob("{cpp: once}", "run: {retries: 1, retry_backoff: 0.01s}");
  RunOptions options;
  CppTransform good = AppendingScore();
  options.transforms["once"] = {[good](TransformContext& ctx) -> Status {
                                  if (ctx.attempt() == 1) return Status::Io("the model server did not answer");
                                  return good.fn(ctx);
                                },
                                "1"};
  RunReport report = RunWith(options);
  ASSERT_EQ(report.Count(IterationStatus::kCommitted), 3) << report.ToJson();
  for (const auto& it : report.iterations) EXPECT_EQ(it.attempts, 2);
  EXPECT_EQ(Success(Iter(2))["attempt"], 2);
}

TEST_F(CppTransformTest, ATimeoutInterruptsItsSql) {
  WriteJob("{cpp: slow}", "run: {timeout: 0.5s, max_workers: 2}", "[1, 2, 3, 4]");
  RunOptions options;
  options.transforms["slow"] = {[](TransformContext& ctx) -> Status {
                                  const std::string minutes =  // of work unless interrupted
                                      "SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3";
                                  if (ctx.n() == Value(int64_t{2})) FANOUT_RETURN_IF_ERROR(ctx.Execute(minutes));
                                  if (ctx.n() == Value(int64_t{3})) {
                                    // Ignores the interruption and returns a result: still a timeout.
                                    Status ignored = ctx.Execute(minutes);
                                    EXPECT_FALSE(ignored.ok());
                                    EXPECT_FALSE(ctx.Execute("SELECT 1").ok());  // nothing more runs
                                  }
                                  return ctx.SetResultQuery("SELECT $n AS n");
                                },
                                "1"};
  const auto started = std::chrono::steady_clock::now();
  RunReport report = RunWith(options);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60));
  EXPECT_EQ(Find(report, 2)->status, IterationStatus::kFailed);
  EXPECT_NE(Find(report, 2)->error.find("timeout"), std::string::npos) << Find(report, 2)->error;
  EXPECT_EQ(Find(report, 3)->status, IterationStatus::kFailed);
  EXPECT_NE(Find(report, 3)->error.find("timeout"), std::string::npos) << Find(report, 3)->error;
  EXPECT_EQ(Find(report, 1)->status, IterationStatus::kCommitted);
  EXPECT_EQ(Find(report, 4)->status, IterationStatus::kCommitted);
  EXPECT_EQ(Targets(), (std::vector<std::string>{"iter_1", "iter_4"}));
}

TEST_F(CppTransformTest, ACancelReachesALoopThatPolls) {
  WriteJob("{cpp: loop}", "", "[1]");
  std::atomic<bool> cancel{false};
  std::atomic<bool> saw{false};
  RunOptions options;
  options.cancel = &cancel;
  options.transforms["loop"] = {[&](TransformContext& ctx) -> Status {
                                  cancel = true;
                                  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
                                  while (!ctx.cancelled() && std::chrono::steady_clock::now() < until)
                                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                                  saw = ctx.cancelled();
                                  return ctx.SetResultQuery("SELECT 1 AS x");
                                },
                                "1"};
  RunReport report = RunWith(options);
  EXPECT_TRUE(saw.load());
  EXPECT_TRUE(report.interrupted);
  EXPECT_EQ(report.iterations[0].status, IterationStatus::kCancelled) << report.ToJson();
  EXPECT_TRUE(Targets().empty());
}

TEST_F(CppTransformTest, TheSqlPolicyAppliesToItsSql) {
  WriteJob("{cpp: bad}", "", "[1, 2, 3]");
  RunOptions options;
  const std::string leak = Path("leak.csv");
  options.transforms["bad"] = {[leak](TransformContext& ctx) -> Status {
                                 if (ctx.n() == Value(int64_t{1}))
                                   FANOUT_RETURN_IF_ERROR(ctx.Execute("SET threads = 1"));
                                 if (ctx.n() == Value(int64_t{2}))
                                   FANOUT_RETURN_IF_ERROR(ctx.Execute("DELETE FROM sales"));
                                 if (ctx.n() == Value(int64_t{3}))
                                   FANOUT_RETURN_IF_ERROR(ctx.Execute("COPY sales TO $to", {{"to", Value(leak)}}));
                                 return ctx.SetResultQuery("SELECT 1 AS x");
                               },
                               "1"};
  RunReport report = RunWith(options);
  EXPECT_EQ(report.Count(IterationStatus::kFailed), 3) << report.ToJson();
  for (const auto& it : report.iterations) EXPECT_NE(it.error.find("not allowed"), std::string::npos) << it.error;
  ASSERT_FALSE(Find(report, 1)->trace.empty());
  EXPECT_EQ(Find(report, 1)->trace.back().sql, "SET threads = 1");  // the trace names the statement
  EXPECT_FALSE(fs::exists(Path("leak.csv")));
}

TEST_F(CppTransformTest, NoResultOrTwoResultsFail) {
  WriteJob("{cpp: odd}", "", "[1, 2]");
  RunOptions options;
  options.transforms["odd"] = {[](TransformContext& ctx) -> Status {
                                 if (ctx.n() == Value(int64_t{1})) return Status::Ok();
                                 FANOUT_RETURN_IF_ERROR(ctx.SetResultQuery("SELECT 1 AS x"));
                                 return ctx.ResultTable({{"x", SqlType::kBigint}}).status();
                               },
                               "1"};
  RunReport report = RunWith(options);
  EXPECT_NE(Find(report, 1)->error.find("set no result"), std::string::npos) << Find(report, 1)->error;
  EXPECT_NE(Find(report, 2)->error.find("once"), std::string::npos) << Find(report, 2)->error;
}

TEST_F(CppTransformTest, HostileColumnNamesAndRowsAreRefusedOrQuoted) {
  WriteJob("{cpp: odd}", "", "[1, 2, 3]");
  const std::string hostile = "x\" BIGINT); DROP VIEW sales; --";
  RunOptions options;
  options.transforms["odd"] = {[hostile](TransformContext& ctx) -> Status {
                                 auto out = ctx.ResultTable({{hostile, SqlType::kBigint}, {"s", SqlType::kVarchar}});
                                 if (!out.ok()) return out.status();
                                 if (ctx.n() == Value(int64_t{2}))
                                   return (*out)->Append({Value("not a number"), Value("a")});
                                 if (ctx.n() == Value(int64_t{3})) return (*out)->Append({Value(int64_t{1})});
                                 FANOUT_RETURN_IF_ERROR((*out)->Append({Value(int64_t{7}), Value()}));
                                 return (*out)->Append({Value(), Value("'; DROP VIEW sales; --")});
                               },
                               "1"};
  RunReport report = RunWith(options);
  ASSERT_EQ(Find(report, 1)->status, IterationStatus::kCommitted) << Find(report, 1)->error;
  Table t =
      QueryTable("SELECT * FROM read_parquet(" + test::SqlQuote(OutPath("iter_1/part-*.parquet")) + ") ORDER BY 1");
  EXPECT_EQ(t.columns, (std::vector<std::string>{hostile, "s"}));
  EXPECT_EQ(t.rows, (Rows{{int64_t{7}, Value()}, {Value(), "'; DROP VIEW sales; --"}}));
  EXPECT_NE(Find(report, 2)->error.find("expected a BIGINT value"), std::string::npos) << Find(report, 2)->error;
  EXPECT_NE(Find(report, 3)->error.find("a row of 1 values for 2 columns"), std::string::npos)
      << Find(report, 3)->error;
}

TEST_F(CppTransformTest, PlanShowsItWithoutRunningIt) {
  WriteJob("{cpp: score}");
  std::atomic<int> calls{0};
  RunOptions options;
  options.transforms["score"] = AppendingScore(&calls);
  auto spec = LoadJobSpec(Path("job.yaml"));
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  auto plan = PlanJob(*spec, options);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(plan->size(), 3u);
  EXPECT_EQ((*plan)[0].sql, "-- C++ transform score (version v1)\n");
  EXPECT_FALSE(ValidateJob(*spec).ok());  // without the registration: refused
  EXPECT_TRUE(ValidateJob(*spec, options).ok());
  EXPECT_EQ(calls.load(), 0);
  EXPECT_FALSE(fs::exists(OutPath()));
}

TEST_F(CppTransformTest, ValidateJobWithOptionsChecksTheRegisteredTransforms) {
  WriteJob("SELECT 1 AS x", "transforms: {agg: {cpp: score}}\n", "[{n: 1, kind: agg}, {n: 2, kind: other}]");
  auto spec = LoadJobSpec(Path("job.yaml"));
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  std::atomic<int> calls{0};
  RunOptions options;
  options.transforms["score"] = AppendingScore(&calls);
  Status st = ValidateJob(*spec, options);
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(calls.load(), 0);  // checked, not run
  // An unknown name is refused where the job names it, listing what is registered.
  RunOptions others;
  others.transforms["segment"] = AppendingScore();
  others.transforms["rank"] = AppendingScore();
  st = ValidateJob(*spec, others);
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_NE(st.message().find(Path("job.yaml") + ":8:"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("no C++ transform named 'score' is registered (registered: rank, segment)"),
            std::string::npos)
      << st.message();
  // Without options nothing is registered: the refusal says how to validate.
  st = ValidateJob(*spec);
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_NE(st.message().find("ValidateJob(spec, options)"), std::string::npos) << st.message();
  EXPECT_FALSE(fs::exists(OutPath()));
}

// A C++ transform's result columns are known only when it runs: a SQL
// dependant (after:) is not dry-run against a stand-in but noted, and runs.
TEST_F(CppTransformTest, ADependantOfACppTransformIsNotedNotRefusedByTheDryRun) {
  Write("job.yaml", R"(name: cppdeps
inputs: {sales: sales.csv}
sequence:
  - {n: fit, kind: fit}
  - {n: north, kind: score}
  - {n: all, kind: report}
transforms:
  fit: {cpp: totals}
  score: SELECT $n AS region, sum(total) AS total FROM fit
  report: SELECT region, total * 2 AS doubled FROM north
output: {dir: out, name: "{n}"}
after:
  north: [fit]
  all: [north]
cache: false
)");
  std::atomic<int> calls{0};
  RunOptions options;
  options.transforms["totals"] = {[&calls](TransformContext& ctx) -> Status {
                                    ++calls;
                                    return ctx.SetResultQuery(
                                        "SELECT customer, sum(amount) AS total FROM sales GROUP BY customer");
                                  },
                                  "v1"};
  auto spec = LoadJobSpec(Path("job.yaml"));
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  auto job = Job::Open(*spec, options);
  ASSERT_TRUE(job.ok()) << job.status().message();
  std::vector<std::string> notes;
  Status st = (*job)->Validate(&notes);
  ASSERT_TRUE(st.ok()) << st.message();
  std::string all;
  for (const std::string& n : notes) all += n + "\n";
  EXPECT_NE(all.find(Path("job.yaml") + ":9:"), std::string::npos) << all;  // score, after the C++ fit
  EXPECT_NE(all.find(Path("job.yaml") + ":10:"), std::string::npos) << all;  // report, after score
  EXPECT_NE(all.find("C++ transform 'totals'"), std::string::npos) << all;
  auto plan = PlanJob(*spec, options);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(calls.load(), 0);
  RunReport report = RunJob(*spec, options);
  ASSERT_EQ(report.Count(IterationStatus::kCommitted), 3) << report.ToJson();
  EXPECT_EQ(ReadOut("all"), (Rows{{"north", 66.0}}));
}

TEST_F(CppTransformTest, AnUnknownNameIsRefusedWhereTheJobNamesIt) {
  WriteJob("SELECT 1 AS x", "transforms: {agg: {cpp: scorer}}\n");
  RunReport report = RunWith({});
  EXPECT_EQ(report.ExitCode(), 2);
  EXPECT_EQ(report.status.code(), Status::Code::kInvalid);
  EXPECT_NE(report.status.message().find(Path("job.yaml") + ":8:"), std::string::npos) << report.status.message();
  EXPECT_NE(report.status.message().find("command line has none"), std::string::npos) << report.status.message();
  EXPECT_FALSE(fs::exists(OutPath()));
  // The CLI says the same, exit 2, nothing written.
  test::RunResult cli = Fanout({"validate", Path("job.yaml")});
  EXPECT_EQ(cli.exit_code, 2) << cli.Describe();
  EXPECT_NE(cli.err.find("no C++ transform named 'scorer'"), std::string::npos) << cli.Describe();
  EXPECT_FALSE(fs::exists(OutPath()));
  // A program that registers others is told which.
  RunOptions options;
  options.transforms["score"] = AppendingScore();
  report = RunWith(options);
  EXPECT_NE(report.status.message().find("registered: score"), std::string::npos) << report.status.message();
}

TEST_F(CppTransformTest, TheJobFileRefusesAMalformedCppTransform) {
  for (const char* bad : {"{cpp: ''}", "{cpp: [a]}", "{python: x}", "{}"}) {
    WriteJob(bad);
    auto spec = LoadJobSpec(Path("job.yaml"));
    ASSERT_FALSE(spec.ok()) << bad;
    EXPECT_NE(spec.status().message().find("job.yaml:5:"), std::string::npos) << bad << ": " << spec.status().message();
  }
  WriteJob("SELECT 1 AS x", "prepare: {cpp: setup}\n");  // prepare is SQL only
  auto spec = LoadJobSpec(Path("job.yaml"));
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("job.yaml:8:"), std::string::npos) << spec.status().message();
}

// ----- C++ functions from SQL transforms ---------------------------------------

class CppFunctionTest : public CppTransformTest {
 protected:
  // score(customer, weight) -> DOUBLE, tiers(n) -> (tier, label); score
  // throws for customer 7, tiers fails for n = 13.
  static Status Register(Engine& engine, std::atomic<int64_t>* calls) {
    FANOUT_RETURN_IF_ERROR(engine.RegisterScalarFunction(
        "score", {SqlType::kBigint, SqlType::kDouble}, SqlType::kDouble, [calls](const std::vector<Value>& a) {
          ++*calls;
          int64_t customer = std::get<int64_t>(a[0].v);
          if (customer == 7) throw std::invalid_argument("customer 7 has no history");
          return Value(static_cast<double>(customer) * std::get<double>(a[1].v));
        }));
    return engine.RegisterTableFunction("tiers", {SqlType::kBigint},
                                        {{"tier", SqlType::kBigint}, {"label", SqlType::kVarchar}},
                                        [](const std::vector<Value>& a) -> Result<TableRows> {
                                          int64_t n = std::get<int64_t>(a[0].v);
                                          if (n == 13) return Status::Failed("13 is unlucky");
                                          TableRows rows;
                                          for (int64_t i = 1; i <= n % 5 + 1; ++i)
                                            rows.push_back({Value(i), Value("t" + std::to_string(i))});
                                          return rows;
                                        });
  }
};

TEST_F(CppFunctionTest, ScalarAndTableFunctionsServeManyWorkersAtOnce) {
  Write("job.yaml", R"(name: fns
inputs: {sales: sales.csv}
params: {w: 1.5}
sequence: {range: [14, 53]}
transform: |
  SELECT t.tier, t.label, score(t.tier * 100 + $n, $w) AS s, score(NULL, $w) AS nothing
  FROM tiers($n) t ORDER BY t.tier
output: {dir: out}
run: {max_workers: 4}
cache: false
)");
  std::atomic<int64_t> calls{0};
  RunOptions options;
  options.on_engine_ready = [&](Engine& e) { return Register(e, &calls); };
  RunReport report = RunWith(options);
  ASSERT_TRUE(report.status.ok()) << report.status.message();
  ASSERT_EQ(report.Count(IterationStatus::kCommitted), 40) << report.ToJson();
  int64_t expected_calls = 0;
  for (int64_t n = 14; n <= 53; ++n) {
    Rows want;
    for (int64_t i = 1; i <= n % 5 + 1; ++i)
      want.push_back({i, "t" + std::to_string(i), static_cast<double>(i * 100 + n) * 1.5, Value()});
    expected_calls += n % 5 + 1;
    EXPECT_EQ(ReadOut(Iter(n)), want) << n;
  }
  EXPECT_EQ(calls.load(), expected_calls);  // NULL in: no call
}

TEST_F(CppFunctionTest, AFunctionsExceptionOrErrorFailsOnlyItsIteration) {
  Write("job.yaml", R"(name: fns
inputs: {sales: sales.csv}
params: {w: 2.0}
sequence: {range: [1, 15]}
transform: SELECT t.tier, score($n, $w) AS s FROM tiers($n) t
output: {dir: out}
run: {max_workers: 3}
cache: false
)");
  std::atomic<int64_t> calls{0};
  RunOptions options;
  options.on_engine_ready = [&](Engine& e) { return Register(e, &calls); };
  RunReport report = RunWith(options);
  ASSERT_TRUE(report.status.ok()) << report.status.message();
  EXPECT_EQ(report.Count(IterationStatus::kCommitted), 13) << report.ToJson();
  EXPECT_NE(Find(report, 7)->error.find("score(): customer 7 has no history"), std::string::npos)
      << Find(report, 7)->error;
  EXPECT_NE(Find(report, 13)->error.find("13 is unlucky"), std::string::npos) << Find(report, 13)->error;
  EXPECT_FALSE(fs::exists(OutPath(Iter(7))));
  EXPECT_FALSE(fs::exists(OutPath(Iter(13))));
  EXPECT_EQ(ReadOut(Iter(8)), (Rows{{int64_t{1}, 16.0}, {int64_t{2}, 16.0}, {int64_t{3}, 16.0}, {int64_t{4}, 16.0}}));
}

// A Job validated (schema only) before it loads opens two engines: the hook
// registers the functions on each, once, and on no other.
TEST_F(CppFunctionTest, OnEngineReadyRunsOncePerEngine) {
  Write("job.yaml", R"(name: fns
inputs: {sales: sales.csv}
params: {w: 1.5}
sequence: [1, 2]
transform: SELECT score($n, $w) AS s
output: {dir: out}
cache: false
)");
  std::atomic<int64_t> calls{0};
  int ready = 0;
  RunOptions options;
  options.on_engine_ready = [&](Engine& e) {
    ++ready;
    return Register(e, &calls);
  };
  auto spec = LoadJobSpec(Path("job.yaml"));
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  auto job = Job::Open(*spec, options);
  ASSERT_TRUE(job.ok()) << job.status().message();
  EXPECT_EQ(ready, 0);  // Open loads nothing
  ASSERT_TRUE((*job)->Validate().ok());
  ASSERT_TRUE((*job)->Plan().ok());
  ASSERT_TRUE((*job)->Validate().ok());
  EXPECT_EQ(ready, 1);  // one schema-only engine serves all three
  ASSERT_TRUE((*job)->Load().ok());
  EXPECT_EQ(ready, 2);  // the engine that runs
  ASSERT_TRUE((*job)->Plan().ok());
  ASSERT_TRUE((*job)->Validate().ok());
  RunReport report = (*job)->Run();
  EXPECT_EQ(report.Count(IterationStatus::kCommitted), 2) << report.ToJson();
  EXPECT_EQ(ready, 2);
  EXPECT_EQ(ReadOut(Iter(2)), (Rows{{3.0}}));
}

TEST_F(CppFunctionTest, AWrongTypeFromAFunctionIsAnErrorNotACrash) {
  Write("job.yaml", R"(name: fns
inputs: {sales: sales.csv}
sequence: [1, 2]
transform: SELECT bad($n) AS x
output: {dir: out}
cache: false
)");
  RunOptions options;
  options.on_engine_ready = [](Engine& e) {
    return e.RegisterScalarFunction("bad", {SqlType::kBigint}, SqlType::kBigint, [](const std::vector<Value>& a) {
      return a[0] == Value(int64_t{1}) ? Value("text") : a[0];
    });
  };
  RunReport report = RunWith(options);
  EXPECT_NE(Find(report, 1)->error.find("wrong type"), std::string::npos) << Find(report, 1)->error;
  EXPECT_EQ(Find(report, 2)->status, IterationStatus::kCommitted);
}

}  // namespace
}  // namespace fanout
