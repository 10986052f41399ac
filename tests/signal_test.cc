// SIGINT / SIGTERM while queries that would run for minutes are in flight,
// and two runs on one output folder. The bounds on the time to exit are the
// README's promise (Ctrl-C stops a run within 2 s; a second one at once):
// stopping takes milliseconds, so they leave a loaded machine ample room.
#include <algorithm>
#include <set>

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

namespace fanout::test {
namespace {

// Signals and kills while a fused batch (#17) computes or commits. Four
// "fast" iterations (n = 1..4, one tiny batch) and sixteen "slow" ones (two
// batches of eight over a generated range) run on two workers: the fast
// batch and the first slow one start together, so once the fast outputs are
// committed the slow batch is inside its query.
class FusedSignalTest : public FanoutTest {
 protected:
  static constexpr int kFast = 4, kSlow = 16;

  void SetUp() override {
    FanoutTest::SetUp();
    WriteSales();
    std::string kinds = "n,kind\n";
    for (int n = 1; n <= kFast + kSlow; ++n) kinds += std::to_string(n) + (n <= kFast ? ",fast\n" : ",slow\n");
    Write("kinds.csv", kinds);
  }

  // The job with `slow` as the slow kind's transform; fuse: `fuse`, into `out`.
  void WriteFusedJob(const std::string& slow, const std::string& fuse, const std::string& out = "out",
                     const std::string& rel = "job.yaml") {
    JobText job;
    job.inputs = {"sales: sales.csv", "kinds: kinds.csv"};
    job.params = {};
    job.sequence = "{sql: 'SELECT n, kind FROM kinds ORDER BY n'}";
    job.transform = "";
    job.output = {"dir: " + out};
    job.run = {"max_workers: 2", "fuse: " + fuse};
    job.extra = "transforms:\n"
                "  fast: SELECT $n AS n, region, count(*) AS c FROM sales WHERE amount > $n GROUP BY region ORDER BY region\n"
                "  slow: " + slow + "\n"
                "cache: false\n";
    WriteJob(job, rel);
  }

  // A grouped aggregate over 20 M generated rows per n: fused, a batch of
  // eight scans 160 M pairs (about a second on a quiet core).
  static std::string SlowAggregate() {
    return "SELECT $n AS n, i % 7 AS g, count(*) AS c, sum(i) AS s FROM range(0, 20000000) r(i) "
           "WHERE i % 17 <> $n GROUP BY g ORDER BY g";
  }

  // `fanout plan` says every iteration of the job fuses (else the tests
  // below would prove nothing about fused batches).
  void ExpectAllFused() {
    RunResult plan = Fanout({"plan", Path("job.yaml"), "--json"});
    ASSERT_EQ(plan.exit_code, 0) << plan.Describe();
    auto j = nlohmann::json::parse(plan.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << plan.out;
    const nlohmann::json& its = j.is_array() ? j : j["iterations"];
    ASSERT_EQ(its.size(), static_cast<size_t>(kFast + kSlow)) << plan.out;
    for (const auto& it : its) EXPECT_EQ(it.value("fuse", "").rfind("fused:", 0), 0u) << it.dump();
  }

  // Polls (10 ms) until `ready` or 60 s.
  template <typename F>
  bool WaitFor(F ready) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!ready() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return ready();
  }

  bool FastCommitted() {
    for (int n = 1; n <= kFast; ++n)
      if (!fs::exists(OutPath(Iter(n) + "/_SUCCESS"))) return false;
    return true;
  }

  // Every visible output is whole (its _SUCCESS lists exactly its files)
  // and `status --verify` agrees; after a clean exit (not a kill, whose
  // staging the next run clears) no staging is left.
  void ExpectNothingPartial(bool clean_exit = true) {
    for (const auto& target : Targets()) ExpectCommitted(target);
    if (clean_exit) {
      EXPECT_TRUE(!fs::exists(OutPath(".fanout-staging")) || fs::is_empty(OutPath(".fanout-staging")))
          << "staging left: " << ::testing::PrintToString(ListDir(OutPath(".fanout-staging")));
    }
    RunResult verify = Fanout({"status", OutPath(), "--verify"});
    EXPECT_EQ(verify.exit_code, 0) << verify.Describe();
  }

  // The manifest of the only run so far.
  nlohmann::json OnlyManifest() {
    for (const auto& name : ListDir(OutPath("_fanout/runs")))
      if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0)
        return ReadJson(OutPath("_fanout/runs/" + name));
    ADD_FAILURE() << "no manifest";
    return nlohmann::json::object();
  }

  // An interrupted run's manifest: each iteration committed (its output
  // whole) or cancelled (no output at all); returns how many were cancelled.
  int ExpectInterruptedManifest(const RunResult& r) {
    EXPECT_EQ(r.exit_code, 130) << r.Describe();
    nlohmann::json m = OnlyManifest();
    EXPECT_EQ(m.value("status", ""), "interrupted") << m.dump(1);
    int cancelled = 0, committed = 0;
    for (const auto& it : m["iterations"]) {
      const std::string status = it.value("status", ""), target = Iter(it["n"].get<int64_t>());
      if (status == "committed") {
        ++committed;
        EXPECT_TRUE(fs::exists(OutPath(target + "/_SUCCESS"))) << target;
      } else {
        ++cancelled;
        EXPECT_EQ(status, "cancelled") << it.dump();
        EXPECT_FALSE(fs::exists(OutPath(target))) << target << " is visible but was not committed";
      }
    }
    EXPECT_EQ(committed + cancelled, kFast + kSlow);
    EXPECT_EQ(m["counts"].value("committed", -1), committed) << m["counts"].dump();
    EXPECT_EQ(m["counts"].value("cancelled", -1), cancelled) << m["counts"].dump();
    EXPECT_EQ(static_cast<int>(Targets().size()), committed) << ::testing::PrintToString(Targets());
    return cancelled;
  }

  // `fanout run --resume` commits the rest, and every output holds the rows
  // a separate (fuse: off) run of the same job writes.
  void ExpectResumeMatchesSeparate(const std::string& slow) {
    RunResult resumed = Run({"--resume"});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.Describe();
    WriteFusedJob(slow, "off", "separate", "separate.yaml");
    ASSERT_EQ(Run({}, "separate.yaml").exit_code, 0);
    ASSERT_EQ(Targets().size(), static_cast<size_t>(kFast + kSlow));
    for (int n = 1; n <= kFast + kSlow; ++n) {
      ExpectCommitted(Iter(n));
      auto rows = [&](const std::string& dir) {
        return Query("SELECT * FROM read_parquet(" + SqlQuote(Path(dir + "/" + Iter(n) + "/*.parquet")) +
                     ") ORDER BY ALL");
      };
      Rows fused = rows("out"), separate = rows("separate");
      EXPECT_FALSE(fused.empty()) << Iter(n);
      EXPECT_EQ(fused, separate) << Iter(n);
    }
    EXPECT_FALSE(fs::exists(OutPath(".fanout-staging")));
  }

  void InterruptWhileComputing(int sig) {
    WriteFusedJob(SlowAggregate(), "always");
    ExpectAllFused();
    Child child = StartFanout({"run", Path("job.yaml")});
    ASSERT_TRUE(WaitFor([&] { return FastCommitted(); })) << "the fast batch never committed";
    kill(child.pid, sig);
    RunResult r = WaitProcess(child);
    // The slow batches take about a second each; the signal lands within it.
    EXPECT_EQ(ExpectInterruptedManifest(r), kSlow);
    // The batch the signal stopped was running: its iterations say so (the
    // other batch may not have started yet).
    int in_batch = 0;
    const nlohmann::json m = OnlyManifest();
    for (const auto& it : m["iterations"])
      in_batch += it["error"] == "cancelled while running (in a fused batch of 8)";
    EXPECT_GE(in_batch, 8) << m["iterations"].dump(1);
    ExpectNothingPartial();
    ExpectResumeMatchesSeparate(SlowAggregate());
  }
};

TEST_F(FusedSignalTest, SigintWhileAFusedBatchComputesCancelsItsIterationsAndResumeFinishes) {
  InterruptWhileComputing(SIGINT);
}

TEST_F(FusedSignalTest, SigtermWhileAFusedBatchComputesCancelsItsIterationsAndResumeFinishes) {
  InterruptWhileComputing(SIGTERM);
}

// The n of the iterations the live manifest on disk shows running: pending,
// with a start (a batch's members from the moment it starts computing).
std::set<int64_t> RunningInLiveManifest(const std::string& runs_dir) {
  std::set<int64_t> running;
  for (const auto& name : ListDir(runs_dir)) {
    if (name.size() < 5 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
    auto m = nlohmann::json::parse(ReadFile(runs_dir + "/" + name), nullptr, false);
    if (m.is_discarded() || !m.contains("iterations")) continue;
    for (const auto& it : m["iterations"])
      if (it.value("status", "") == "pending" && it.contains("started_at") && !it["started_at"].is_null())
        running.insert(it["n"].get<int64_t>());
  }
  return running;
}

TEST_F(FusedSignalTest, KillDuringAFusedBatchLeavesNothingPartialAndResumeFinishes) {
  // Slow batches of about 3 s: the live manifest (rewritten about once a
  // second) shows one computing before it ends.
  const std::string slow = "SELECT $n AS n, i % 7 AS g, count(*) AS c, sum(i) AS s FROM range(0, 60000000) r(i) "
                           "WHERE i % 17 <> $n GROUP BY g ORDER BY g";
  WriteFusedJob(slow, "always");
  ExpectAllFused();
  Child child = StartFanout({"run", Path("job.yaml")});
  ASSERT_TRUE(WaitFor([&] { return FastCommitted(); })) << "the fast batch never committed";
  // While a batch computes, its iterations are running in the live manifest
  // (what `fanout status` reads): a batch of 8 of the slow ones, n > kFast.
  // (The fast ones may still show running: the manifest lags their commit.)
  std::set<int64_t> running;
  ASSERT_TRUE(WaitFor([&] {
    running.clear();
    for (int64_t n : RunningInLiveManifest(OutPath("_fanout/runs")))
      if (n > kFast) running.insert(n);
    return running.size() >= 8;
  })) << "the live manifest never showed a computing batch's iterations as running: "
      << ::testing::PrintToString(running);
  kill(child.pid, SIGKILL);
  EXPECT_EQ(WaitProcess(child).exit_code, 128 + SIGKILL);
  ExpectNothingPartial(/*clean_exit=*/false);
  RunResult status = Fanout({"status", OutPath(), "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.Describe();
  auto last = nlohmann::json::parse(status.out, nullptr, false);
  ASSERT_FALSE(last.is_discarded()) << status.out;
  EXPECT_EQ(last.value("status", ""), "killed") << status.out;
  // What it committed is reported so, found by the run id in each _SUCCESS
  // even when the live manifest had not caught up.
  for (int n = 1; n <= kFast; ++n)
    EXPECT_EQ(IterationOf(last, n).value("status", ""), "committed") << status.out;
  // The text names what was cut off in flight, not "pending".
  RunResult text = Fanout({"status", OutPath()});
  EXPECT_NE(text.out.find("killed"), std::string::npos) << text.Describe();
  int in_flight = 0;
  for (int64_t n : running)
    if (IterationOf(last, static_cast<int>(n)).value("status", "") == "pending")
      for (size_t at = 0, end; at < text.out.size(); at = end + 1) {
        end = std::min(text.out.find('\n', at), text.out.size());
        const std::string line = text.out.substr(at, end - at);
        in_flight += line.rfind("  " + Iter(n) + " ", 0) == 0 && line.find(" in flight ") != std::string::npos;
      }
  EXPECT_GE(in_flight, 1) << text.out;
  ExpectResumeMatchesSeparate(slow);
}

// SIGINT once a batch has started committing its iterations one by one:
// a row-level query with large per-n outputs (fuse: always), so each commit
// (a COPY of 500 k rows out of the batch's result) takes tens of
// milliseconds and the signal lands between the first commit and the last.
TEST_F(FusedSignalTest, SigintWhileAFusedBatchCommitsKeepsWholeOutputsOnly) {
  const std::string slow = "SELECT i, $n AS n, i * $n AS x FROM range(0, 500000) r(i) WHERE i % 1000 <> $n";
  WriteFusedJob(slow, "always");
  ExpectAllFused();
  Child child = StartFanout({"run", Path("job.yaml")});
  auto some_slow = [&] {
    for (int n = kFast + 1; n <= kFast + kSlow; ++n)
      if (fs::exists(OutPath(Iter(n)))) return true;
    return false;
  };
  auto poll_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!some_slow() && std::chrono::steady_clock::now() < poll_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(some_slow()) << "no slow iteration ever committed";
  kill(child.pid, SIGINT);
  RunResult r = WaitProcess(child);
  const int cancelled = ExpectInterruptedManifest(r);
  EXPECT_GT(cancelled, 0) << "the run committed everything before the signal: nothing was tested";
  EXPECT_LT(cancelled, kSlow) << "the signal landed before any slow commit";
  ExpectNothingPartial();
  ExpectResumeMatchesSeparate(slow);
}

}  // namespace
}  // namespace fanout::test
