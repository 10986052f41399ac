// SIGINT / SIGTERM while queries that would run for minutes are in flight,
// and two runs on one output folder. The bounds on the time to exit are the
// README's promise (Ctrl-C stops a run within 2 s; a second one at once):
// stopping takes milliseconds, so they leave a loaded machine ample room.
#include "test_util.h"

namespace fanout::test {
namespace {

class SignalTest : public FanoutTest {
 protected:
  void SetUp() override {
    FanoutTest::SetUp();
    WriteSales();
    JobText job;
    job.sequence = "[1, 2, 3, 4]";
    job.params = {};
    // n = 1, 2 finish at once; n = 3, 4 would count for minutes.
    job.transform =
        "SELECT count(*) AS c FROM range(CASE WHEN $n <= 2 THEN 1000 ELSE 1000000000000 END) t(i), "
        "(SELECT 1) WHERE i % 7 = $n";
    job.extra = "cache: false\n";
    WriteJob(job);
  }

  // Starts the run and waits until n = 1 and 2 have committed and n = 3 and
  // 4 have started (the progress lines on stderr say so).
  Child StartAndWaitForFastOnes() {
    Child child = StartFanout({"run", Path("job.yaml")});
    auto ready = [&] {
      std::string err = ReadFile(child.base + ".err");
      return fs::exists(OutPath("iter_1/_SUCCESS")) && fs::exists(OutPath("iter_2/_SUCCESS")) &&
             err.find("start  n=3") != std::string::npos && err.find("start  n=4") != std::string::npos;
    };
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!ready() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(ready()) << "n = 1, 2 never committed or n = 3, 4 never started";
    return child;
  }

  // Sends `signals` (spaced by `gap`) and returns the result and the seconds
  // from the first signal to the exit.
  std::pair<RunResult, double> Interrupt(const Child& child, std::vector<int> signals,
                                         std::chrono::milliseconds gap = std::chrono::milliseconds(0)) {
    auto t0 = std::chrono::steady_clock::now();
    for (int sig : signals) {
      kill(child.pid, sig);
      std::this_thread::sleep_for(gap);
    }
    RunResult r = WaitProcess(child, std::chrono::seconds(20));
    return {r, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
  }

  void ExpectNothingPartial() {
    for (const auto& target : Targets()) EXPECT_TRUE(fs::exists(OutPath(target + "/_SUCCESS"))) << target;
  }
};

TEST_F(SignalTest, FirstSigintCancelsWithin2sAndKeepsCommitted) {
  auto [r, seconds] = Interrupt(StartAndWaitForFastOnes(), {SIGINT});
  EXPECT_EQ(r.exit_code, 130) << r.Describe();
  EXPECT_LT(seconds, 2.0);
  ExpectCommitted("iter_1");
  ExpectCommitted("iter_2");
  EXPECT_FALSE(fs::exists(OutPath("iter_3")));
  EXPECT_FALSE(fs::exists(OutPath(".fanout-staging")) && !fs::is_empty(OutPath(".fanout-staging")));
  auto runs = ListDir(OutPath("_fanout/runs"));  // the manifest, then its trace, report and log
  ASSERT_EQ(runs.size(), 4u);
  nlohmann::json m = ReadJson(OutPath("_fanout/runs/" + runs[1]));
  EXPECT_EQ(m["status"], "interrupted");
  EXPECT_EQ(m["counts"]["committed"], 2);
  EXPECT_EQ(m["counts"]["cancelled"], 2);
  EXPECT_NE(r.out.find("SUMMARY: 2/4"), std::string::npos) << r.out;
}

TEST_F(SignalTest, SigtermBehavesLikeSigint) {
  auto [r, seconds] = Interrupt(StartAndWaitForFastOnes(), {SIGTERM});
  EXPECT_EQ(r.exit_code, 130) << r.Describe();
  EXPECT_LT(seconds, 2.0);
  ExpectNothingPartial();
  EXPECT_EQ(ListDir(OutPath("_fanout/runs")).size(), 4u) << "one run: its manifest, trace, report and log";
}

TEST_F(SignalTest, SecondSigintExitsAtOnceLeavingNothingPartial) {
  auto [r, seconds] = Interrupt(StartAndWaitForFastOnes(), {SIGINT, SIGINT}, std::chrono::milliseconds(5));
  EXPECT_EQ(r.exit_code, 130) << r.Describe();
  EXPECT_LT(seconds, 1.0);
  ExpectNothingPartial();
  ExpectCommitted("iter_1");
  // The next run cleans what the hard exit left in staging.
  JobText quick;
  quick.sequence = "[1]";
  quick.params = {};
  quick.transform = "SELECT $n AS n";
  WriteJob(quick, "quick.yaml");
  ASSERT_EQ(Run({}, "quick.yaml").exit_code, 0);
  EXPECT_TRUE(!fs::exists(OutPath(".fanout-staging")) || fs::is_empty(OutPath(".fanout-staging")));
}

TEST_F(SignalTest, SecondRunOnTheSameOutputIsRefusedThenTakesOverAfterAKill) {
  Child first = StartAndWaitForFastOnes();
  JobText quick;
  quick.sequence = "[7]";
  quick.params = {};
  quick.transform = "SELECT $n AS n";
  WriteJob(quick, "quick.yaml");
  RunResult second = Run({}, "quick.yaml");
  EXPECT_EQ(second.exit_code, 2) << second.Describe();
  EXPECT_NE(second.err.find("another fanout run is writing to this output"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("pid " + std::to_string(first.pid)), std::string::npos) << second.err;
  EXPECT_FALSE(fs::exists(OutPath("iter_7")));

  kill(first.pid, SIGKILL);  // the kernel releases its lock
  WaitProcess(first);
  RunResult third = Run({}, "quick.yaml");
  EXPECT_EQ(third.exit_code, 0) << third.Describe();
  ExpectCommitted("iter_7");
  ExpectCommitted("iter_1");
}

}  // namespace
}  // namespace fanout::test
