// Crash safety: `fanout run` is SIGKILLed at many points — before each
// filesystem call of the commit path (FANOUT_FAULT_AT=N:kill) and at timed
// moments while the engine writes part files. After every kill each OUT/iter_n
// is absent, the previous complete output (byte-identical) or the new complete
// output; `fanout run --resume` then finishes the job and leaves no staging.
#include "test_util.h"

namespace fanout::test {
namespace {

class CrashTest : public FanoutTest {
 protected:
  void SetUp() override {
    FanoutTest::SetUp();
    WriteSales();
  }

  // Six iterations; `rows` copies of each sale make the part files bigger.
  void WriteJob(int min_amount, int rows) {
    JobText job;
    job.sequence = "{range: [1, 6]}";
    job.params = {"min_amount: " + std::to_string(min_amount), "rows: " + std::to_string(rows)};
    job.transform = "SELECT s.*, r.range AS copy, $n AS n FROM sales s, range($rows) r WHERE s.amount >= $min_amount";
    job.extra = "cache: false\n";
    FanoutTest::WriteJob(job);
  }

  // The old state: a complete run with min_amount 10, kept as a pristine copy.
  void MakeOldOutput(int rows) {
    WriteJob(10, rows);
    ASSERT_EQ(Run().exit_code, 0);
    old_ = TakeSnapshot(OutPath());
    fs::remove_all(Path("pristine"));
    fs::copy(OutPath(), Path("pristine"), fs::copy_options::recursive);
    WriteJob(20, rows);  // the new job: different content
  }
  void RestoreOldOutput() {
    fs::remove_all(OutPath());
    fs::copy(Path("pristine"), OutPath(), fs::copy_options::recursive);
  }

  // "" when out/<target> is the old output, a complete new commit, or absent
  // when it had no old output (an existing output is never lost).
  std::string CheckTarget(const std::string& target) {
    if (!fs::exists(OutPath(target))) return old_.count(target) ? target + ": the old output is gone" : "";
    Snapshot now = TakeSnapshot(OutPath(target));
    Snapshot was = {{".", "dir"}};
    for (const auto& [path, sig] : old_)
      if (path.rfind(target + "/", 0) == 0) was[path.substr(target.size() + 1)] = sig;
    if (now == was) return "";
    auto marker = nlohmann::json::parse(ReadFile(OutPath(target) + "/_SUCCESS"), nullptr, false);
    if (marker.is_discarded()) return target + ": differs from the old output and has no valid _SUCCESS";
    if (marker["params"]["min_amount"] != 20) return target + ": _SUCCESS is not the new run's";
    std::set<std::string> listed = {"_SUCCESS"};
    for (const auto& f : marker["files"]) {
      std::string data = ReadFile(OutPath(target) + "/" + f["name"].get<std::string>());
      if (static_cast<int64_t>(data.size()) != f["bytes"].get<int64_t>() || HashHex(data) != f["xxh3"])
        return target + "/" + f["name"].get<std::string>() + ": size or checksum differs from _SUCCESS";
      listed.insert(f["name"].get<std::string>());
    }
    for (const auto& name : ListDir(OutPath(target)))
      if (!listed.count(name)) return target + "/" + name + ": not listed in _SUCCESS";
    Rows rows = Query("SELECT count(*) FROM read_parquet(" + SqlQuote(OutPath(target) + "/*.parquet") + ")");
    if (rows.empty() || rows[0][0] != Value(marker["rows"].get<int64_t>())) return target + ": row count differs";
    return "";
  }

  // Invariants after a kill, then a resume that must complete the job.
  void CheckAfterKillAndResume(const std::string& what) {
    SCOPED_TRACE(what);
    for (int n = 1; n <= 6; ++n) EXPECT_EQ(CheckTarget(Iter(n)), "");
    // The killed run's manifest, if it got to write one, shows it killed.
    RunResult status = Fanout({"status", OutPath(), "--json"});
    EXPECT_EQ(status.exit_code, 0) << status.Describe();
    auto last = nlohmann::json::parse(status.out, nullptr, false);
    if (!last.is_discarded()) {
      EXPECT_NE(last.value("status", ""), "running") << status.out;
    }
    RunResult resumed = Run({"--resume"});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.Describe();
    for (int n = 1; n <= 6; ++n) {
      nlohmann::json marker = ExpectCommitted(Iter(n));
      EXPECT_EQ(marker["params"]["min_amount"], 20);
    }
    EXPECT_FALSE(fs::exists(OutPath(".fanout-staging")));
    // A manifest write the kill cut short is cleared by the next run.
    for (const auto& name : ListDir(OutPath("_fanout/runs"))) EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
  }

  Snapshot old_;
};

TEST_F(CrashTest, KillBeforeEveryStorageCall) {
  MakeOldOutput(/*rows=*/3);
  int kills = 0;
  for (int n = 1;; ++n) {
    RestoreOldOutput();
    RunResult killed = Fanout({"run", Path("job.yaml")}, {"FANOUT_FAULT_AT=" + std::to_string(n) + ":kill"});
    if (killed.exit_code != 128 + SIGKILL) {
      ASSERT_EQ(killed.exit_code, 0) << killed.Describe();  // past the last call: a clean run
      break;
    }
    ++kills;
    CheckAfterKillAndResume("killed before storage call " + std::to_string(n));
    if (HasFailure()) break;
    ASSERT_LT(n, 500) << "the run never finished";
  }
  // Per iteration at least: mkdir staging, write _SUCCESS, publish, remove
  // the old output; plus a syncfs and an OUT fsync per group commit.
  EXPECT_GE(kills, 6 * 4 + 2);
  RecordProperty("kill_points", kills);
  std::cout << "[ crash    ] " << kills << " kill points before storage calls\n";
}

TEST_F(CrashTest, KillWhileTheEngineWritesPartFiles) {
  MakeOldOutput(/*rows=*/4000);
  RestoreOldOutput();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(Run().exit_code, 0);
  auto full = std::chrono::steady_clock::now() - t0;
  const int kPoints = 20;
  for (int k = 1; k <= kPoints; ++k) {
    RestoreOldOutput();
    Child child = StartFanout({"run", Path("job.yaml")});
    std::this_thread::sleep_for(full * k / (kPoints + 1));
    kill(child.pid, SIGKILL);
    RunResult killed = WaitProcess(child);
    CheckAfterKillAndResume("killed at " + std::to_string(k) + "/" + std::to_string(kPoints + 1) + " of a run");
    if (HasFailure()) break;
  }
  std::cout << "[ crash    ] " << kPoints << " timed kill points over a " <<
      std::chrono::duration_cast<std::chrono::milliseconds>(full).count() << " ms run\n";
}

}  // namespace
}  // namespace fanout::test
