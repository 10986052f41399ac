// I/O faults injected into the CLI's storage (FANOUT_FAULT_AT=N:eio|enospc,
// once or sticky) at every call N of a run, and real faults: an input deleted
// or corrupt. A fault fails at most the iterations it hits, an old output stays
// byte-identical, and no _SUCCESS appears for a failed iteration.
#include "test_util.h"

namespace fanout::test {
namespace {

class FaultTest : public FanoutTest {
 protected:
  void SetUp() override {
    FanoutTest::SetUp();
    WriteSales();
  }
  void WriteJob(int min_amount) {
    JobText job;
    job.params = {"min_amount: " + std::to_string(min_amount)};
    job.run = {"max_workers: 1"};  // deterministic call order
    job.extra = "cache: false\n";
    FanoutTest::WriteJob(job);
  }

  // Runs every N with `fault` until a run completes untouched; checks each.
  int SweepFaults(const std::string& fault) {
    WriteJob(10);
    EXPECT_EQ(Run().exit_code, 0);
    Snapshot old = TakeSnapshot(OutPath());
    fs::copy(OutPath(), Path("pristine"), fs::copy_options::recursive);
    WriteJob(20);
    int faults = 0;
    for (int n = 1;; ++n) {
      SCOPED_TRACE("FANOUT_FAULT_AT=" + std::to_string(n) + fault);
      fs::remove_all(OutPath());
      fs::copy(Path("pristine"), OutPath(), fs::copy_options::recursive);
      RunResult r = Fanout({"run", Path("job.yaml"), "--json"}, {"FANOUT_FAULT_AT=" + std::to_string(n) + fault});
      if (r.err.find("fanout: injected fault at storage call") == std::string::npos) {
        EXPECT_EQ(r.exit_code, 0) << r.Describe();
        break;  // N is past the run's last call
      }
      ++faults;
      // 0 when the fault hit a call whose failure changes no outcome (removing
      // a replaced output: the next run clears it as stale staging).
      EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1 || r.exit_code == 2) << r.Describe();
      for (const std::string& target : {Iter(1), Iter(2), Iter(3)}) CheckTarget(r, target, old);
      // A failed manifest write (the running one or the last) leaves no temp file.
      for (const auto& name : ListDir(OutPath("_fanout/runs"))) EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
      if (HasFailure()) break;
      EXPECT_LT(n, 300);
      if (n >= 300) break;
    }
    fs::remove_all(Path("pristine"));
    return faults;
  }

  // A failed iteration keeps its old output; a committed one is complete.
  // One exception, reported as such: the publish happened, the fsync of OUT
  // failed and so did its undo (the filesystem refuses every call): the new
  // output is complete but its iteration is `failed` ("could not be undone").
  void CheckTarget(const RunResult& r, const std::string& target, const Snapshot& old) {
    std::string status = "failed", error;
    auto m = nlohmann::json::parse(r.out, nullptr, false);
    if (!m.is_discarded() && m.is_object())
      for (const auto& it : m["iterations"])
        if (it["target"] == target) status = it["status"], error = it["error"].is_string() ? it["error"] : "";
    if (error.find("could not be undone") != std::string::npos) status = "committed";
    Snapshot was = {{".", "dir"}};
    for (const auto& [path, sig] : old)
      if (path.rfind(target + "/", 0) == 0) was[path.substr(target.size() + 1)] = sig;
    if (status == "committed") {
      EXPECT_EQ(ExpectCommitted(target)["params"]["min_amount"], 20) << target;
    } else {
      EXPECT_EQ(DiffSnapshots(was, TakeSnapshot(OutPath(target))), "") << target << " is " << status;
    }
  }
};

TEST_F(FaultTest, EioOnceAtEveryCall) {
  int faults = SweepFaults(":eio");
  EXPECT_GE(faults, 20);
  std::cout << "[ faults   ] " << faults << " runs, each with EIO at one storage call\n";
}
TEST_F(FaultTest, EnospcFromThenOnAtEveryCall) {
  int faults = SweepFaults(":enospc:sticky");
  EXPECT_GE(faults, 20);
  std::cout << "[ faults   ] " << faults << " runs, each with ENOSPC from one storage call on\n";
}

TEST_F(FaultTest, FailedFsyncIsNeverReportedAsSuccess) {
  WriteJob(10);
  ASSERT_EQ(Run().exit_code, 0);
  Snapshot old = TakeSnapshot(OutPath(Iter(1)));
  WriteJob(20);
  // Calls of the first iteration: staging mkdir, fsync part, write _SUCCESS,
  // ... — fail them one at a time; the iteration must never be "committed"
  // with the failed call's data unless a fresh attempt redid it.
  for (int n = 1; n <= 12; ++n) {
    SCOPED_TRACE(n);
    RunResult r = Fanout({"run", Path("job.yaml"), "--json", "--only", "1"}, {"FANOUT_FAULT_AT=" + std::to_string(n) + ":eio"});
    auto m = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_TRUE(r.exit_code <= 2) << r.Describe();  // 2: OUT itself could not be prepared
    std::string status = r.exit_code == 2 ? "not run" : m["iterations"][0]["status"].get<std::string>();
    if (status == "committed") {
      EXPECT_EQ(ExpectCommitted(Iter(1))["params"]["min_amount"], 20);  // complete, durable: the fault came later
    } else {
      if (status == "failed") {
        EXPECT_NE(m["iterations"][0]["error"].get<std::string>().find("injected fault"), std::string::npos);
      }
      EXPECT_EQ(DiffSnapshots(old, TakeSnapshot(OutPath(Iter(1)))), "");
    }
  }
}

// Fault injection lives in a test binary only: the shipped `fanout` ignores
// FANOUT_FAULT_AT (a kill at the first storage call would end the run at once).
TEST_F(FaultTest, TheShippedBinaryInjectsNoFaults) {
  WriteJob(10);
  RunResult r = RunProcess({FANOUT_BIN, "run", Path("job.yaml")}, Path() + "/../io", std::chrono::seconds(60),
                           {"FANOUT_FAULT_AT=1:kill"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.err.find("injected fault"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(OutPath("iter_2/_SUCCESS")));
  // The same variable makes the test binary kill itself before its first call.
  fs::remove_all(OutPath());
  RunResult killed = Fanout({"run", Path("job.yaml")}, {"FANOUT_FAULT_AT=1:kill"});
  EXPECT_NE(killed.exit_code, 0) << killed.Describe();
}

TEST_F(FaultTest, InputDeletedBeforeTheRun) {
  WriteJob(10);
  ASSERT_EQ(Fanout({"validate", Path("job.yaml")}).exit_code, 0);
  fs::remove(Path("sales.csv"));
  RunResult r = Run();
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find("input file not found: " + Path("sales.csv")), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(OutPath()));
}

TEST_F(FaultTest, CorruptParquetInput) {
  Write("bad.parquet", "PAR1 this is not a parquet file PAR1");
  JobText job;
  job.inputs = {"bad: bad.parquet"};
  job.params = {};
  job.transform = "SELECT count(*) AS c FROM bad";
  FanoutTest::WriteJob(job);
  RunResult r = Run();
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find("cannot load input 'bad' (" + Path("bad.parquet") + ")"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(OutPath()));
}

TEST_F(FaultTest, ReadOnlyOutputFolder) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  fs::create_directories(Path("ro"));
  if (system(("mount -t tmpfs -o size=4m tmpfs " + Path("ro") + " 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "mount -t tmpfs is not permitted here";
  struct Unmount {
    std::string dir;
    ~Unmount() { (void)!system(("umount " + dir).c_str()); }
  } unmount{Path("ro")};
  JobText job;
  job.output = {"dir: ro/out"};
  job.extra = "cache: false\n";
  FanoutTest::WriteJob(job);
  ASSERT_EQ(Run().exit_code, 0);
  Snapshot before = TakeSnapshot(Path("ro/out"));
  // Root ignores file modes: make the filesystem itself read-only.
  ASSERT_EQ(system(("mount -o remount,ro " + Path("ro")).c_str()), 0);
  RunResult r = Run();
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find("cannot write to the output folder " + Path("ro/out")), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Read-only file system"), std::string::npos) << r.err;
  EXPECT_EQ(DiffSnapshots(before, TakeSnapshot(Path("ro/out"))), "");
}

TEST_F(FaultTest, DiskFullOnASmallTmpfs) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  fs::create_directories(Path("small"));
  if (system(("mount -t tmpfs -o size=256k tmpfs " + Path("small") + " 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "mount -t tmpfs is not permitted here";
  JobText job;
  job.sequence = "[1, 2]";
  job.params = {};
  // n = 1 is tiny, n = 2 cannot fit in 256 KiB.
  job.transform = "SELECT range AS i, md5(range::VARCHAR) AS h FROM range(CASE WHEN $n = 1 THEN 10 ELSE 200000 END)";
  job.output = {"dir: small/out", "compression: uncompressed"};
  job.extra = "cache: false\n";
  FanoutTest::WriteJob(job);
  RunResult r = Run({"--json"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  auto m = nlohmann::json::parse(r.out, nullptr, false);
  if (!m.is_discarded()) {
    EXPECT_EQ(m["iterations"][0]["status"], "committed");
    EXPECT_EQ(m["iterations"][1]["status"], "failed");
  }
  EXPECT_FALSE(fs::exists(Path("small/out/iter_2")));
  EXPECT_TRUE(fs::exists(Path("small/out/iter_1/_SUCCESS")));
  for (const auto& name : ListDir(Path("small/out/_fanout/runs"))) EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
  EXPECT_FALSE(fs::exists(Path("small/out/.fanout-staging")));
  system(("umount " + Path("small")).c_str());
}

}  // namespace
}  // namespace fanout::test
