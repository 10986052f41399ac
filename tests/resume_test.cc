// Resume by fingerprint through the library: what reruns after a change, and why.
#include <gtest/gtest.h>

#include "temp_dir.h"

#include <filesystem>
#include <fstream>
#include <thread>

#include "fanout/fanout.h"

namespace fanout {
namespace {

namespace fs = std::filesystem;

class ResumeTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    std::ofstream(dir_ + "/a.csv") << "v\n1\n2\n";
    std::ofstream(dir_ + "/b.csv") << "v\n10\n";
    std::ofstream(dir_ + "/kinds.csv") << "n,kind\n1,fromA\n2,fromA\n3,fromB\n";
  }

  JobSpec Spec(const std::string& extra = "") {
    auto spec = ParseJobSpec(R"(
inputs: {a: a.csv, b: b.csv, kinds: kinds.csv}
params: {scale: 1}
sequence: {sql: "SELECT n, kind FROM kinds ORDER BY n"}
transforms:
  fromA: SELECT sum(v) * $scale AS s, $n AS n FROM a
  fromB: SELECT sum(v) * $scale AS s, $n AS n FROM b
)" + extra, dir_ + "/job.yaml");
    EXPECT_TRUE(spec.ok()) << spec.status().message();
    return *spec;
  }
  // n -> run reason ("up to date" when it would be skipped).
  std::map<std::string, std::string> Plan(const JobSpec& spec) {
    RunOptions options;
    options.resume = true;
    auto plan = PlanJob(spec, options);
    EXPECT_TRUE(plan.ok()) << plan.status().message();
    std::map<std::string, std::string> out;
    for (const auto& p : *plan) out[p.n.ToString()] = p.run_reason;
    return out;
  }
};

TEST_F(ResumeTest, OnlyChangedIterationsRerunWithTheReason) {
  JobSpec spec = Spec();
  ASSERT_EQ(RunJob(spec, {}).ExitCode(), 0);
  EXPECT_EQ(Plan(spec), (std::map<std::string, std::string>{{"1", "up to date"}, {"2", "up to date"}, {"3", "up to date"}}));

  // A changed override reruns only its iteration.
  JobSpec changed = Spec("overrides: {2: {scale: 5}}\n");
  auto reasons = Plan(changed);
  EXPECT_EQ(reasons["1"], "up to date");
  EXPECT_EQ(reasons["2"], "changed: params");
  EXPECT_EQ(reasons["3"], "up to date");

  // Touching an input reruns only the iterations whose transform reads it.
  // (Same size: its time changes, set explicitly rather than by sleeping
  // past the filesystem's clock resolution.)
  auto was = fs::last_write_time(dir_ + "/b.csv");
  std::ofstream(dir_ + "/b.csv") << "v\n11\n";
  fs::last_write_time(dir_ + "/b.csv", was + std::chrono::seconds(2));
  reasons = Plan(spec);
  EXPECT_EQ(reasons["1"], "up to date");
  EXPECT_EQ(reasons["3"], "changed: inputs");

  RunOptions resume;
  resume.resume = true;
  RunReport report = RunJob(spec, resume);
  EXPECT_EQ(report.ExitCode(), 0);
  EXPECT_EQ(report.Count(IterationStatus::kSkipped), 2);
  EXPECT_EQ(report.Count(IterationStatus::kCommitted), 1);
}

TEST_F(ResumeTest, MissingOrDamagedOutputRerunsAndAForeignOneIsRefused) {
  JobSpec spec = Spec();
  ASSERT_EQ(RunJob(spec, {}).ExitCode(), 0);
  fs::remove_all(dir_ + "/out/iter_1");
  std::ofstream(dir_ + "/out/iter_3/part-00000.parquet", std::ios::app) << "appended";
  auto reasons = Plan(spec);
  EXPECT_EQ(reasons["1"], "no output yet");
  EXPECT_EQ(reasons["2"], "up to date");
  EXPECT_NE(reasons["3"].find("part-00000.parquet: size "), std::string::npos) << reasons["3"];

  // Without its _SUCCESS, iter_2 is not fanout's: plan and run refuse it.
  fs::remove(dir_ + "/out/iter_2/_SUCCESS");
  RunOptions resume;
  resume.resume = true;
  auto plan = PlanJob(spec, resume);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), Status::Code::kInvalid);
  EXPECT_NE(plan.status().message().find(dir_ + "/out/iter_2 (a folder without _SUCCESS)"), std::string::npos)
      << plan.status().message();
  RunReport report = RunJob(spec, resume);
  EXPECT_EQ(report.ExitCode(), 2);
  EXPECT_TRUE(fs::exists(dir_ + "/out/iter_2/part-00000.parquet"));
  EXPECT_FALSE(fs::exists(dir_ + "/out/iter_1"));
}

TEST_F(ResumeTest, LongestFirstUsesManifestHistory) {
  // Iteration 3 is slow; the next run starts it first.
  auto spec = ParseJobSpec(R"(
sequence: [1, 2, 3]
transform: SELECT count(*) AS c FROM range(CASE WHEN $n = 3 THEN 100000000 ELSE 10 END)
run: {max_workers: 1}
)", dir_ + "/job.yaml");
  ASSERT_TRUE(spec.ok());
  ASSERT_EQ(RunJob(*spec, {}).ExitCode(), 0);
  RunReport second = RunJob(*spec, {});
  ASSERT_EQ(second.ExitCode(), 0);
  EXPECT_LT(second.iterations[2].started_at, second.iterations[0].started_at);
  EXPECT_LT(second.iterations[2].started_at, second.iterations[1].started_at);
  spec->run.order = RunSpec::Order::kGiven;
  RunReport given = RunJob(*spec, {});
  EXPECT_LT(given.iterations[0].started_at, given.iterations[2].started_at);
}

}  // namespace
}  // namespace fanout
