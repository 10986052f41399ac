// The public C++ API used without a job file: a JobSpec built in code is
// checked by fanout::Validate as a job file is (and refused by RunJob,
// ValidateJob and PlanJob with exit 2 when it is wrong), a valid one runs end
// to end; Result<T> never hands out a value it does not have.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "fanout/fanout.h"
#include "temp_dir.h"

namespace fanout {
namespace {

namespace fs = std::filesystem;

class ApiTest : public TempDirTest {
 protected:
  // A valid job: one CSV input, n in 1..3, one transform.
  JobSpec Valid() const {
    JobSpec spec;
    spec.name = "in-code";
    spec.inputs.push_back({"t", dir_ + "/t.csv", "csv", {}});
    spec.params["k"] = Value(int64_t{10});
    spec.sequence.kind = SequenceSpec::Kind::kRange;
    spec.sequence.first = 1;
    spec.sequence.last = 3;
    spec.transform = TransformSpec{"SELECT sum(x) * $k AS total FROM t WHERE x <= $n", ""};
    spec.output.dir = dir_ + "/out";
    spec.cache.dir = dir_ + "/cache";
    return spec;
  }
  // The message Validate gives for Valid() changed by `change` ("" when valid).
  std::string Error(const std::function<void(JobSpec&)>& change) const {
    JobSpec spec = Valid();
    change(spec);
    Status st = Validate(spec);
    if (!st.ok()) {
      EXPECT_EQ(st.code(), Status::Code::kInvalid);
    }
    return st.message();
  }
};

// The change (a lambda, commas and all) is refused with a message holding `text`.
#define EXPECT_REFUSED(text, ...)                                       \
  do {                                                                  \
    std::string e = Error(__VA_ARGS__);                                 \
    EXPECT_NE(e.find(text), std::string::npos) << "got: '" << e << "'"; \
  } while (0)

TEST_F(ApiTest, AValidSpecBuiltInCodeRunsEndToEnd) {
  Write("t.csv", "x\n1\n2\n3\n");
  JobSpec spec = Valid();
  ASSERT_TRUE(Validate(spec).ok()) << Validate(spec).ToString();
  RunReport report = RunJob(spec, RunOptions{});
  ASSERT_TRUE(report.status.ok()) << report.status.ToString();
  EXPECT_EQ(report.Count(IterationStatus::kCommitted), 3);
  EXPECT_EQ(report.ExitCode(), 0);
  for (int n = 1; n <= 3; ++n) {
    EXPECT_TRUE(fs::exists(dir_ + "/out/iter_" + std::to_string(n) + "/_SUCCESS")) << n;
    EXPECT_EQ(report.iterations[n - 1].rows, 1);
  }
  EXPECT_TRUE(ValidateJob(spec).ok());
  auto plan = PlanJob(spec, RunOptions{});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->size(), 3u);
}

TEST_F(ApiTest, NamesAreCheckedAsInAJobFile) {
  EXPECT_REFUSED("input name 'my table' must be a plain identifier", [](JobSpec& s) { s.inputs[0].name = "my table"; });
  EXPECT_REFUSED("input 'T' and 't' differ only in case", [this](JobSpec& s) {
    s.inputs.push_back({"T", dir_ + "/u.csv", "csv", {}});
  });
  EXPECT_REFUSED("reader option 'bad key' is not a valid option name",
                 [](JobSpec& s) { s.inputs[0].options.emplace_back("bad key", Value(true)); });
  EXPECT_REFUSED("param name 'a-b' must be a plain identifier",
                 [](JobSpec& s) { s.params["a-b"] = Value(int64_t{1}); });
  EXPECT_REFUSED("params: 'N' is reserved", [](JobSpec& s) { s.params["N"] = Value(int64_t{1}); });
  EXPECT_REFUSED("param 'k' and 'K' differ only in case", [](JobSpec& s) { s.params["K"] = Value(int64_t{1}); });
  EXPECT_REFUSED("overrides.2: unknown param 'scale' (the job's params: k)",
                 [](JobSpec& s) { s.overrides["2"]["scale"] = Value(1.5); });
  EXPECT_REFUSED("transforms: kind 'big' and 'Big' differ only in case", [](JobSpec& s) {
    s.transform.reset();
    s.transforms["big"] = TransformSpec{"SELECT 1", ""};
    s.transforms["Big"] = TransformSpec{"SELECT 2", ""};
  });
}

TEST_F(ApiTest, SequenceAndTransformsAreChecked) {
  EXPECT_REFUSED("sequence.range is empty: last must be >= first", [](JobSpec& s) { s.sequence.last = 0; });
  EXPECT_REFUSED("sequence.range step must be at least 1", [](JobSpec& s) { s.sequence.step = 0; });
  EXPECT_REFUSED("sequence.range has more than 10 million iterations", [](JobSpec& s) { s.sequence.last = 20000000; });
  EXPECT_REFUSED("sequence is empty", [](JobSpec& s) { s.sequence.kind = SequenceSpec::Kind::kList; });
  EXPECT_REFUSED("each sequence item must be a number (an integer) or a name, got 1.5", [](JobSpec& s) {
    s.sequence.kind = SequenceSpec::Kind::kList;
    s.sequence.items = {Value(1.5)};
  });
  EXPECT_REFUSED("sequence.sql is empty", [](JobSpec& s) { s.sequence.kind = SequenceSpec::Kind::kSql; });
  EXPECT_REFUSED("the job needs a transform", [](JobSpec& s) { s.transform.reset(); });
  EXPECT_REFUSED("transform is empty", [](JobSpec& s) { s.transform->sql = "  \n"; });
}

TEST_F(ApiTest, OutputRunAndCacheAreChecked) {
  EXPECT_REFUSED("output.dir is empty", [](JobSpec& s) { s.output.dir.clear(); });
  EXPECT_REFUSED("output.name must contain {n}", [](JobSpec& s) { s.output.name = "iter"; });
  EXPECT_REFUSED("output.format must be one of parquet | csv | json, got 'xlsx'",
                 [](JobSpec& s) { s.output.format = "xlsx"; });
  EXPECT_REFUSED("output.compression for parquet must be one of", [](JobSpec& s) { s.output.compression = "none"; });
  EXPECT_REFUSED("output.mode must be", [](JobSpec& s) { s.output.mode = static_cast<OutputSpec::Mode>(7); });
  EXPECT_REFUSED("output.max_file_size must be at least 1MiB", [](JobSpec& s) { s.output.max_file_bytes = 1000; });
  EXPECT_REFUSED("inputs.t.format must be one of csv", [](JobSpec& s) { s.inputs[0].format = "xml"; });
  EXPECT_REFUSED("inputs.t.path is empty", [](JobSpec& s) { s.inputs[0].path.clear(); });
  EXPECT_REFUSED("run.max_workers must be from 0 to 1024 (0: auto), got 5000",
                 [](JobSpec& s) { s.run.max_workers = 5000; });
  EXPECT_REFUSED("run.threads must be from 0 to 1024", [](JobSpec& s) { s.run.threads = -1; });
  EXPECT_REFUSED("run.retries must be from 0 to 100", [](JobSpec& s) { s.run.retries = 101; });
  EXPECT_REFUSED("run.retry_backoff must be 0 or more", [](JobSpec& s) { s.run.retry_backoff_seconds = -1; });
  EXPECT_REFUSED("run.timeout must be more than 0", [](JobSpec& s) { s.run.timeout_seconds = 0; });
  EXPECT_REFUSED("run.memory_limit must be a percentage of RAM", [](JobSpec& s) { s.run.memory_limit = "lots"; });
  EXPECT_REFUSED("run.memory_limit must be at least 64MB", [](JobSpec& s) { s.run.memory_limit = "1MB"; });
  EXPECT_REFUSED("run.timezone must be a time zone name", [](JobSpec& s) { s.run.timezone = "Europe Paris"; });
  EXPECT_REFUSED("cache.dir is empty", [](JobSpec& s) { s.cache.dir.clear(); });
  EXPECT_REFUSED("must not be inside output.dir", [this](JobSpec& s) { s.cache.dir = dir_ + "/out/cache"; });
  EXPECT_EQ(Error([](JobSpec& s) {
              s.cache.enabled = false;
              s.cache.dir.clear();
            }),
            "")
      << "no cache, no cache.dir needed";
}

TEST_F(ApiTest, RunValidateAndPlanRefuseABadSpecFirst) {
  Write("t.csv", "x\n1\n");
  JobSpec spec = Valid();
  spec.output.name = "same_for_all";
  RunReport report = RunJob(spec, RunOptions{});
  EXPECT_EQ(report.status.code(), Status::Code::kInvalid);
  EXPECT_NE(report.status.message().find("output.name must contain {n}"), std::string::npos) << report.status.message();
  EXPECT_EQ(report.ExitCode(), 2);
  EXPECT_FALSE(fs::exists(dir_ + "/out")) << "nothing was written";
  EXPECT_EQ(ValidateJob(spec).code(), Status::Code::kInvalid);
  EXPECT_EQ(PlanJob(spec, RunOptions{}).status().code(), Status::Code::kInvalid);
}

TEST_F(ApiTest, AJobFilesSpecChangedInCodeIsCheckedToo) {
  Write("t.csv", "x\n1\n");
  auto spec = ParseJobSpec("inputs: {t: t.csv}\nsequence: [1]\ntransform: SELECT 1\n", dir_ + "/job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_TRUE(Validate(*spec).ok()) << "what a job file passes, Validate passes";
  spec->run.retries = -1;
  EXPECT_EQ(Validate(*spec).message(),
            dir_ + "/job.yaml: run.retries must be from 0 to 100 (retries of transient errors), got -1");
}

Result<int> Half(int x) {
  if (x % 2) return Status::Invalid(std::to_string(x) + " is odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  FANOUT_ASSIGN_OR_RETURN(int half, Half(x));
  FANOUT_ASSIGN_OR_RETURN(half, Half(half));  // an lvalue, a second temporary
  return half;
}

TEST(Result, AssignOrReturnPassesTheValueOrTheError) {
  EXPECT_EQ(*Quarter(12), 3);
  EXPECT_EQ(Quarter(6).status().message(), "3 is odd");
  EXPECT_EQ(Quarter(6).status().code(), Status::Code::kInvalid);
}

TEST(ResultDeathTest, ReadingTheValueOfAnErrorAbortsWithItsMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Result<std::string> r = Status::Io("disk gone");
  EXPECT_DEATH((void)r.value(), "fanout: fatal: .*holds an error: i/o error: disk gone");
  EXPECT_DEATH((void)r->size(), "disk gone");
  EXPECT_DEATH((void)*r, "disk gone");
  EXPECT_DEATH((void)std::move(r).value(), "disk gone");
  Result<int> from_ok = Status::Ok();
  EXPECT_FALSE(from_ok.ok()) << "an ok status without a value is an error, not a value to read";
}

}  // namespace
}  // namespace fanout
