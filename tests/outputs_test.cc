// What fanout must never touch, and what it must not trust: the real binary
// on real files.
//   - an output location holding the job's own files is refused (exit 2,
//     nothing written), whatever links or ".." lead there;
//   - a target that is not an output of fanout is never replaced or deleted,
//     in every output.mode, and named in the refusal;
//   - an output whose files differ from its _SUCCESS is rerun by --resume
//     and skip_existing (sizes always, checksums with --verify), and
//     `fanout status --verify` reports it (exit 1);
//   - a killed run is visible to `fanout status`.
#include <sys/stat.h>

#include "test_util.h"

namespace fanout::test {
namespace {

class OutputsTest : public FanoutTest {
 protected:
  void SetUp() override {
    FanoutTest::SetUp();
    WriteSales();
  }

  // Runs `args`, expects exit 2 with every one of `want` in stderr and no
  // change at all under the work folder.
  void ExpectRefused(const std::vector<std::string>& args, const std::vector<std::string>& want) {
    Snapshot before = TakeSnapshot(Path());
    RunResult r = Fanout(args);
    EXPECT_EQ(r.exit_code, 2) << r.Describe();
    for (const std::string& w : want) EXPECT_NE(r.err.find(w), std::string::npos) << "missing: " << w << "\n" << r.err;
    EXPECT_EQ(DiffSnapshots(before, TakeSnapshot(Path())), "");
  }
  void ExpectRunRefused(const JobText& job, const std::vector<std::string>& want, const std::string& extra = "") {
    WriteJob(job);
    std::vector<std::string> args = {"run", Path("job.yaml")};
    if (!extra.empty()) args.push_back(extra);
    ExpectRefused(args, want);
  }

  // A complete fanout output of a job elsewhere, at work/<rel>.
  void MakeFanoutOutputAt(const std::string& rel) {
    JobText job;
    job.sequence = "[1]";
    job.output = {"dir: elsewhere"};
    WriteJob(job, "other.yaml");
    ASSERT_EQ(Run({}, "other.yaml").exit_code, 0);
    fs::rename(Path("elsewhere/iter_1"), Path(rel));
    fs::remove_all(Path("elsewhere"));
    fs::remove(Path("other.yaml"));
  }

  std::string Part(int64_t n) const { return OutPath(Iter(n)) + "/part-00000.parquet"; }
};

// The reproduction: output {dir: ".", name: "{n}"} with sequence [data]
// replaced the folder holding the inputs.
TEST_F(OutputsTest, OutputDirHoldingTheInputsIsRefused) {
  fs::create_directories(Path("data"));
  fs::rename(Path("sales.csv"), Path("data/sales.csv"));
  JobText job;
  job.inputs = {"sales: data/sales.csv"};
  job.sequence = "[data]";
  job.transform = "SELECT count(*) AS c, $n AS n FROM sales";
  job.output = {"dir: .", "name: \"{n}\""};
  // With the input cache (beside the job file) the job file check refuses it.
  ExpectRunRefused(job, {"must not be inside output.dir"});
  job.extra = "cache: false\n";
  ExpectRunRefused(job, {"fanout: error: output.dir " + Path(), "input 'sales' " + Path("data/sales.csv"),
                         "the job file " + Path("job.yaml"), "an output folder holds only fanout's outputs"});
  // The job file as a target: refused the same way, before anything.
  job.sequence = "[job.yaml]";
  ExpectRunRefused(job, {"the job file " + Path("job.yaml")});
  // plan and validate say so too.
  ExpectRefused({"plan", Path("job.yaml")}, {"the job file"});
  ExpectRefused({"validate", Path("job.yaml")}, {"the job file"});
}

TEST_F(OutputsTest, OutputDirReachedThroughDotDotOrALinkIsRefused) {
  fs::create_directories(Path("data"));
  fs::rename(Path("sales.csv"), Path("data/sales.csv"));
  JobText job;
  job.inputs = {"sales: data/sales.csv"};
  job.output = {"dir: ./data/../data"};
  ExpectRunRefused(job, {"input 'sales'"});
  fs::create_directory_symlink(Path("data"), Path("linked"));
  job.output = {"dir: linked"};
  ExpectRunRefused(job, {"output.dir " + Path("linked") + " (" + Path("data") + ")", "input 'sales'"});
  fs::create_directory_symlink(Path(), Path("data/up"));
  job.output = {"dir: data/up"};  // the job's own folder, through a link
  ExpectRunRefused(job, {"the job file"});
}

TEST_F(OutputsTest, OutputDirHoldingIncludesTransformsOrTheCacheIsRefused) {
  Write("config/p.json", R"({"min_amount": 20})");
  Write("sql/t.sql", kTotalsSql);
  JobText job;
  job.params = {"include: config/p.json"};
  job.output = {"dir: config"};
  ExpectRunRefused(job, {"the params include " + Path("config/p.json")});

  job.params = {"min_amount: 10"};
  job.transform = "";
  job.extra = "transform: sql/t.sql\n";
  job.output = {"dir: sql"};
  ExpectRunRefused(job, {"the transform " + Path("sql/t.sql")});

  job.extra = "transform: sql/t.sql\ncache: {dir: cachedir}\n";
  job.output = {"dir: cachedir/out"};
  ExpectRunRefused(job, {"is inside the input cache (cache.dir) " + Path("cachedir")});
  // The cache inside the output folder, seen only once the link is resolved.
  fs::create_directories(Path("x"));
  fs::create_directory_symlink(Path("x"), Path("outlink"));
  job.extra = "transform: sql/t.sql\ncache: {dir: x/cache}\n";
  job.output = {"dir: outlink"};
  ExpectRunRefused(job, {"the input cache (cache.dir) " + Path("x/cache")});
}

TEST_F(OutputsTest, OutputDirThatIsAFileIsRefused) {
  Write("out", "a file where the output folder would be");
  JobText job;
  ExpectRunRefused(job, {"output.dir " + OutPath() + " exists and is a regular file, not a folder"});
}

// Every kind of thing fanout did not write, in every mode: refused before
// anything is written, every path named, every byte kept.
TEST_F(OutputsTest, TargetsFanoutDidNotWriteAreNeverReplaced) {
  Write("out/iter_1/notes.txt", "my notes");           // a folder without _SUCCESS
  Write("out/iter_2", "a file named like an output");  // a regular file
  MakeFanoutOutputAt("real_output");                   // a link to a real output
  fs::create_directory_symlink(Path("real_output"), OutPath("iter_3"));
  Write("out/iter_4/_SUCCESS", "");  // Spark's marker
  Write("out/iter_4/part-0000.snappy.parquet", "spark data");
  Write("out/iter_5/_SUCCESS", "{\"fanout_version\": 1, \"run_id\": \"x\", \"files\": [");  // torn
  Write("out/iter_6/_SUCCESS", R"({"fanout_version": 1, "run_id": "x", "files": []})");     // no fingerprint
  JobText job;
  job.sequence = "{range: [1, 7]}";
  const std::vector<std::string> named = {OutPath("iter_1") + " (a folder without _SUCCESS)",
                                          OutPath("iter_2") + " (a regular file)",
                                          OutPath("iter_3") + " (a symbolic link)",
                                          OutPath("iter_4") + " (a folder with an empty _SUCCESS",
                                          OutPath("iter_5") + " (a folder whose _SUCCESS is not fanout's marker)",
                                          OutPath("iter_6") + " (a folder whose _SUCCESS is not fanout's marker)",
                                          "never replaces or deletes them"};
  ExpectRunRefused(job, named);
  ExpectRunRefused(job, named, "--resume");
  job.output = {"dir: out", "mode: skip_existing"};
  ExpectRunRefused(job, named);
  job.output = {"dir: out", "mode: error_if_exists"};
  ExpectRunRefused(job, {"output.mode is error_if_exists", "iter_1, iter_2, iter_3, iter_4, iter_5, iter_6"});
  WriteJob(job);
  ExpectRefused({"plan", Path("job.yaml"), "--resume"}, {OutPath("iter_1") + " (a folder without _SUCCESS)"});
  EXPECT_FALSE(fs::exists(OutPath("iter_7")));
}

// The reproduction: skip_existing replaced a folder without _SUCCESS and
// deleted the file in it.
TEST_F(OutputsTest, SkipExistingRefusesAFolderWithoutSuccess) {
  Write("out/iter_3/part-00000.parquet", "an incomplete output: no _SUCCESS");
  JobText job;
  job.output = {"dir: out", "mode: skip_existing"};
  ExpectRunRefused(job, {OutPath("iter_3") + " (a folder without _SUCCESS)"});
  EXPECT_EQ(ReadFile(OutPath("iter_3/part-00000.parquet")), "an incomplete output: no _SUCCESS");
}

TEST_F(OutputsTest, AFifoAtATargetIsRefusedWithoutOpeningIt) {
  fs::create_directories(OutPath());
  ASSERT_EQ(mkfifo(OutPath("iter_2").c_str(), 0644), 0);
  JobText job;
  WriteJob(job);
  RunResult r = Run();
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find(OutPath("iter_2") + " (a special file (FIFO, socket or device))"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_fifo(OutPath("iter_2")));
  EXPECT_EQ(ListDir(OutPath()), std::vector<std::string>{"iter_2"});
}

// Fanout's own names under OUT are fanout's: a symlinked staging folder is
// refused, not emptied; the lock is never a link followed.
TEST_F(OutputsTest, StagingFolderThatIsALinkIsNeverEmptied) {
  Write("precious/keep.txt", "keep");
  fs::create_directories(OutPath());
  fs::create_directory_symlink(Path("precious"), OutPath(".fanout-staging"));
  JobText job;
  WriteJob(job);
  RunResult r = Run();
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find(OutPath(".fanout-staging") + " is not a folder"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(Path("precious/keep.txt")), "keep");
  EXPECT_EQ(ListDir(Path("precious")), std::vector<std::string>{"keep.txt"});
}

// Damage to a committed output: --resume reruns what differs in names or
// sizes, --verify also what differs in content; plan and status say why.
TEST_F(OutputsTest, ResumeVerifiesOutputsBeforeSkippingThem) {
  JobText job;
  job.sequence = "[1, 2, 3, 4, 5]";
  WriteJob(job);
  ASSERT_EQ(Run().exit_code, 0);
  nlohmann::json m2 = Success(Iter(2));
  fs::remove(Part(1));  // deleted
  std::string data = ReadFile(Part(2));
  fs::resize_file(Part(2), data.size() - 7);  // truncated
  std::string flipped = ReadFile(Part(3));
  flipped[flipped.size() / 2] ^= 0x5a;  // same size, other bytes
  WriteFile(Part(3), flipped);
  Write("out/iter_4/extra.txt", "someone's");  // an extra file

  RunResult plan = Fanout({"plan", Path("job.yaml"), "--resume", "--json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.Describe();
  std::map<int64_t, std::string> reason;
  for (const auto& p : nlohmann::json::parse(plan.out)) reason[p["n"]] = p["reason"];
  EXPECT_EQ(reason[1], "part-00000.parquet: missing (listed in _SUCCESS)");
  EXPECT_EQ(reason[2], "part-00000.parquet: size " + std::to_string(data.size() - 7) + " on disk, " +
                           std::to_string(m2["files"][0]["bytes"].get<int64_t>()) + " in _SUCCESS");
  EXPECT_EQ(reason[3], "up to date");  // only checksums tell
  EXPECT_EQ(reason[4], "extra.txt: not listed in _SUCCESS (an extra file)");
  EXPECT_EQ(reason[5], "up to date");
  RunResult text = Fanout({"plan", Path("job.yaml"), "--resume", "--verify"});
  ASSERT_EQ(text.exit_code, 0) << text.Describe();
  EXPECT_NE(LineWith(text.out, "part-00000.parquet: xxh3").find("run : part-00000.parquet: xxh3 "), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("(same size, other bytes)"), std::string::npos) << text.out;

  RunResult sizes = Fanout({"status", OutPath(), "--verify"});
  EXPECT_EQ(sizes.exit_code, 1) << sizes.Describe();
  std::string verify = sizes.out.substr(std::min(sizes.out.size(), sizes.out.find("verify (")));
  EXPECT_NE(LineWith(verify, "iter_1 ").find("MISMATCH part-00000.parquet: missing"), std::string::npos) << sizes.out;
  EXPECT_NE(LineWith(verify, "iter_3 ").find("MISMATCH part-00000.parquet: xxh3"), std::string::npos) << sizes.out;
  EXPECT_NE(LineWith(verify, "iter_5 ").find(" ok "), std::string::npos) << sizes.out;
  EXPECT_NE(sizes.out.find("1 outputs intact, 4 differ"), std::string::npos) << sizes.out;

  // --resume reruns 1, 2, 4 and says why; 3 looks intact without --verify.
  nlohmann::json first = ManifestOf(Fanout({"run", Path("job.yaml"), "--resume", "--json"}));
  EXPECT_EQ(first["counts"]["committed"], 3);
  EXPECT_EQ(first["counts"]["skipped"], 2);
  EXPECT_EQ(IterationOf(first, 2)["run_reason"], reason[2]);
  EXPECT_EQ(IterationOf(first, 3)["status"], "skipped");
  for (int64_t n : {1, 2, 4}) ExpectCommitted(Iter(n));
  // --verify catches the flipped bytes.
  RunResult verified = Fanout({"run", Path("job.yaml"), "--resume", "--verify", "--json"});
  ASSERT_EQ(verified.exit_code, 0) << verified.Describe();
  EXPECT_NE(
      verified.err.find("rerun  n=3: " + OutPath("iter_3") + " differs from its _SUCCESS: part-00000.parquet: xxh3"),
      std::string::npos)
      << verified.err;
  nlohmann::json second = ManifestOf(verified);
  EXPECT_EQ(second["counts"]["committed"], 1);
  EXPECT_EQ(IterationOf(second, 3)["status"], "committed");
  ExpectCommitted(Iter(3));
  RunResult clean = Fanout({"status", OutPath(), "--verify"});
  EXPECT_EQ(clean.exit_code, 0) << clean.Describe();
  EXPECT_NE(clean.out.find("5 outputs intact, 0 differ"), std::string::npos) << clean.out;
}

TEST_F(OutputsTest, SkipExistingRerunsADamagedOutput) {
  JobText job;
  job.output = {"dir: out", "mode: skip_existing"};
  WriteJob(job);
  ASSERT_EQ(Run().exit_code, 0);
  fs::resize_file(Part(2), 10);
  nlohmann::json m = ManifestOf(Run({"--json"}));
  EXPECT_EQ(m["counts"]["skipped"], 2);
  EXPECT_EQ(IterationOf(m, 2)["status"], "committed");
  EXPECT_NE(IterationOf(m, 2)["run_reason"].get<std::string>().find("size 10 on disk"), std::string::npos);
  ExpectCommitted(Iter(2));
}

TEST_F(OutputsTest, StatusVerifyReportsAMissingOutputAndIgnoresForeignOnes) {
  JobText job;
  WriteJob(job);
  ASSERT_EQ(Run().exit_code, 0);
  fs::remove_all(OutPath("iter_2"));
  Write("out/README.txt", "about this folder");
  RunResult r = Fanout({"status", OutPath(), "--verify", "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  nlohmann::json verify = nlohmann::json::parse(r.out)["verify"];
  std::map<std::string, std::string> by_target;
  for (const auto& v : verify) by_target[v["target"]] = v["status"];
  EXPECT_EQ(by_target, (std::map<std::string, std::string>{
                           {"README.txt", "ignored"}, {"iter_1", "ok"}, {"iter_2", "mismatch"}, {"iter_3", "ok"}}));
}

// A run killed with SIGKILL leaves its manifest saying "running"; `status`
// sees no process holding the lock and shows it killed, with what it
// committed. While it runs, status shows it running.
TEST_F(OutputsTest, AKilledRunIsVisibleInStatus) {
  JobText job;
  job.sequence = "{range: [1, 6]}";
  job.params = {};
  job.transform =
      "SELECT count(*) AS c FROM range(CASE WHEN $n <= 2 THEN 10 ELSE 3000000000 END) t(x) WHERE x % 7 = $n";
  job.run = {"max_workers: 1", "order: given", "threads: 1"};
  WriteJob(job);
  Child child = StartFanout({"run", Path("job.yaml")});
  // Wait until the manifest on disk shows the two quick iterations committed.
  std::string manifest;
  nlohmann::json m = nlohmann::json::object();
  for (int i = 0; i < 3000 && m.value("counts", nlohmann::json::object()).value("committed", 0) < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto runs = ListDir(OutPath("_fanout/runs"));
    // Not a manifest write's temp file (<id>.json.tmp), gone a moment later.
    if (runs.empty() || runs[0].size() < 5 || runs[0].compare(runs[0].size() - 5, 5, ".json") != 0) continue;
    manifest = OutPath("_fanout/runs/" + runs[0]);
    m = nlohmann::json::parse(ReadFile(manifest), nullptr, false);
    if (m.is_discarded()) m = nlohmann::json::object();
  }
  ASSERT_EQ(m["counts"]["committed"], 2) << m.dump(2);
  EXPECT_EQ(m["status"], "running");
  EXPECT_EQ(m["counts"]["pending"], 4);
  EXPECT_TRUE(m["exit_code"].is_null());

  RunResult live = Fanout({"status", OutPath()});
  EXPECT_EQ(live.exit_code, 0) << live.Describe();
  EXPECT_NE(live.out.find("last run " + m["run_id"].get<std::string>() + ": running"), std::string::npos) << live.out;

  kill(child.pid, SIGKILL);
  RunResult killed = WaitProcess(child);
  ASSERT_EQ(killed.exit_code, 128 + SIGKILL);
  EXPECT_EQ(ReadJson(manifest)["status"], "running");
  RunResult status = Fanout({"status", OutPath()});
  EXPECT_EQ(status.exit_code, 0) << status.Describe();
  EXPECT_NE(status.out.find("last run " + m["run_id"].get<std::string>() + ": killed"), std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("it did not finish"), std::string::npos) << status.out;
  EXPECT_NE(LineWith(status.out, "iter_1 ").find("committed"), std::string::npos) << status.out;
  EXPECT_NE(LineWith(status.out, "iter_6 ").find("pending"), std::string::npos) << status.out;
  RunResult json = Fanout({"status", OutPath(), "--json"});
  EXPECT_EQ(nlohmann::json::parse(json.out)["status"], "killed") << json.out;
  ExpectCommitted(Iter(1));
  ExpectCommitted(Iter(2));
  EXPECT_FALSE(fs::exists(OutPath("iter_6")));
}

// Manifest bookkeeping: the staging folder is gone after a run, and no
// temp file of a manifest write is ever left.
TEST_F(OutputsTest, ARunLeavesNoStagingFolderAndNoTempFiles) {
  JobText job;
  WriteJob(job);
  ASSERT_EQ(Run().exit_code, 0);
  EXPECT_EQ(ListDir(OutPath()), (std::vector<std::string>{"_fanout", "iter_1", "iter_2", "iter_3"}));
  Write("out/_fanout/runs/20200101T000000.000Z-000000.json.tmp", "");  // a write that died
  ASSERT_EQ(Run().exit_code, 0);
  for (const auto& name : ListDir(OutPath("_fanout/runs"))) EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
}

}  // namespace
}  // namespace fanout::test
