// What an adversarial pass over the hardened binary found, each kept as a
// test: the real binary on real files.
#include "test_util.h"

namespace fanout::test {
namespace {

class AdversarialTest : public FanoutTest {
 protected:
  void SetUp() override {
    FanoutTest::SetUp();
    Write("a.csv", "id,v\n1,10\n2,20\n");
  }

  // A job over a.csv; `body` holds every other key (YAML, verbatim).
  void WriteBody(const std::string& body) { Write("job.yaml", "inputs: {a: a.csv}\n" + body); }

  // `cmd` exits 2 and changes nothing in the work folder.
  void ExpectRefused(const char* cmd, const std::string& fragment) {
    Snapshot before = TakeSnapshot(Path());
    RunResult r = Fanout({cmd, Path("job.yaml")});
    EXPECT_EQ(r.exit_code, 2) << cmd << "\n" << r.Describe();
    EXPECT_NE(r.err.find(fragment), std::string::npos) << fragment << "\n" << r.err;
    EXPECT_EQ(DiffSnapshots(before, TakeSnapshot(Path())), "") << cmd;
  }
  void ExpectRefusedEverywhere(const std::string& fragment) {
    for (const char* cmd : {"validate", "plan", "run"}) ExpectRefused(cmd, fragment);
  }
};

// A column named `rename` made ALTER TABLE x RENAME COLUMN rename TO y look
// like a rename of the table: DELETE FROM y then reached prepare's table.
TEST_F(AdversarialTest, RenameColumnIsNoRenameOfTheTable) {
  WriteBody(
      "prepare: CREATE TABLE enriched AS SELECT id, v * 2 AS w FROM a\n"
      "sequence: [1, 2]\n"
      "transform: |\n"
      "  CREATE TEMP TABLE t AS SELECT 1 AS rename;\n"
      "  ALTER TABLE t RENAME COLUMN rename TO enriched;\n"
      "  DELETE FROM enriched WHERE $n = 1;\n"
      "  SELECT $n AS n, (SELECT count(*) FROM enriched) AS shared_rows\n");
  ExpectRefusedEverywhere("DELETE may only change a TEMP table or view this transform created");
  WriteBody(
      "prepare: |\n"
      "  CREATE TABLE t1 AS SELECT 1 AS rename;\n"
      "  ALTER TABLE t1 RENAME COLUMN rename TO a;\n"
      "  DROP VIEW a\n"
      "sequence: [1]\n"
      "transform: SELECT * FROM a\n");
  ExpectRefusedEverywhere("is not allowed in prepare");
}

TEST_F(AdversarialTest, DropMacroTableNamesTheMacroAfterTable) {
  WriteBody(
      "prepare: CREATE MACRO tm() AS TABLE SELECT 42 AS x\n"
      "sequence: [1]\n"
      "transform: |\n"
      "  CREATE TEMP MACRO \"table\"() AS 1;\n"
      "  DROP MACRO TABLE tm;\n"
      "  SELECT $n AS n\n");
  ExpectRefusedEverywhere("DROP may only change a macro this transform created");
}

// enable_logging() in a query changed the engine's log settings for every
// iteration and appended to any file (an input, at validate too).
TEST_F(AdversarialTest, LoggingFunctionsAreRefusedAndWriteNothing) {
  WriteBody(
      "sequence: [1]\n"
      "transform: |\n"
      "  SELECT $n AS n, (SELECT count(*) FROM enable_logging(storage := 'file', "
      "storage_config := {'path': 'a.csv'})) AS c\n");
  ExpectRefusedEverywhere("enable_logging() changes the engine every iteration shares");
  WriteBody(
      "sequence: {sql: \"SELECT 1 AS n FROM enable_logging(storage := 'file', storage_config := {'path': "
      "'victim.csv'}) RIGHT JOIN (SELECT 1) ON true\"}\n"
      "transform: SELECT $n AS n\n");
  ExpectRefusedEverywhere("sequence.sql calls enable_logging()");
  EXPECT_EQ(ReadFile(Path("a.csv")), "id,v\n1,10\n2,20\n");
  EXPECT_FALSE(fs::exists(Path("victim.csv")));
}

// The CSV sniffer started at a later row and dropped the header and the rows
// before it (exit 0, three rows): the header is the first line.
TEST_F(AdversarialTest, CsvHeaderIsTheFirstLine) {
  Write("a.csv", "id,name\n1,a\n2,b,x\n3,c,x\n4,d,x\n5,e,x\n");
  for (const char* cache : {"true", "false"}) {
    SCOPED_TRACE(cache);
    WriteBody(std::string("sequence: [1]\ntransform: SELECT * FROM a\ncache: ") + cache + "\n");
    RunResult r = Run();
    EXPECT_EQ(r.exit_code, 2) << r.Describe();
    EXPECT_NE(r.err.find("line 3"), std::string::npos) << r.err;
  }
}

// SqlWords ends a -- comment at \n only: an input named after a comment
// ended by \r was left out of the fingerprint, and --resume kept a stale
// output.
TEST_F(AdversarialTest, ResumeSeesInputsTheWordsCannotTell) {
  Write("b.csv", "v\n100\n");
  Write("job.yaml",
        "inputs: {a: a.csv, b: b.csv}\n"
        "sequence: [1]\n"
        "transform: \"SELECT $n AS n, (SELECT sum(v) FROM a)::BIGINT AS s --note\\r, "
        "(SELECT sum(v) FROM b)::BIGINT AS t\"\n");
  ASSERT_EQ(Run().exit_code, 0);
  Write("b.csv", "v\n555\n");
  RunResult plan = Fanout({"plan", Path("job.yaml"), "--resume"});
  EXPECT_NE(plan.out.find("changed: inputs"), std::string::npos) << plan.Describe();
}

// A hand-edited or foreign manifest in OUT/_fanout/runs crashed every run
// (exit 134) while reading the durations of earlier runs.
TEST_F(AdversarialTest, MalformedOlderManifestsAreIgnored) {
  WriteBody("sequence: [1, 2]\ntransform: SELECT $n AS n\n");
  ASSERT_EQ(Run().exit_code, 0);
  Write("out/_fanout/runs/20200101T000000.000Z-000000.json", "[1,2,3]");
  Write("out/_fanout/runs/20200101T000000.001Z-000000.json",
        R"({"iterations": [{"n": 1, "target": "iter_1", "seconds": "x", "status": "committed"}, 7]})");
  RunResult r = Run();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
}

// A _SUCCESS listing no file (fanout never writes one) is not an intact
// output: --resume reruns it, status --verify reports it.
TEST_F(AdversarialTest, AMarkerListingNoFileIsNotTrusted) {
  WriteBody("sequence: [1]\ntransform: SELECT $n AS n\n");
  ASSERT_EQ(Run().exit_code, 0);
  nlohmann::json marker = Success("iter_1");
  marker["files"] = nlohmann::json::array();
  Write("out/iter_1/_SUCCESS", marker.dump());
  fs::remove(OutPath("iter_1/part-00000.parquet"));
  RunResult status = Fanout({"status", OutPath(), "--verify"});
  EXPECT_EQ(status.exit_code, 1) << status.Describe();
  RunResult plan = Fanout({"plan", Path("job.yaml"), "--resume"});
  EXPECT_EQ(plan.out.find("up to date"), std::string::npos) << plan.Describe();
}

// OUT/_fanout as a link was followed: the lock and manifests went elsewhere
// and a *.json.tmp there was removed.
TEST_F(AdversarialTest, FanoutFolderThatIsALinkIsRefused) {
  WriteBody("sequence: [1]\ntransform: SELECT $n AS n\n");
  Write("elsewhere/runs/important.json.tmp", "keep");
  fs::create_directories(OutPath());
  fs::create_directory_symlink(Path("elsewhere"), OutPath("_fanout"));
  ExpectRefused("run", "_fanout is not a folder");
  EXPECT_EQ(ReadFile(Path("elsewhere/runs/important.json.tmp")), "keep");
}

// cache.dir on a folder of the user's: the cache removed files it took for
// its own temp files (<input>-*.tmp-<pid> of a dead pid).
TEST_F(AdversarialTest, CacheKeepsFilesItDidNotWrite) {
  Write("data/a.csv", "id,v\n1,10\n");
  Write("data/a-draft.tmp-77777", "mine");
  Write("data/a-notes.parquet", "mine too");
  Write("job.yaml",
        "inputs: {a: data/a.csv}\nsequence: [1]\ntransform: SELECT $n AS n FROM a\ncache: {dir: data}\n");
  RunResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ReadFile(Path("data/a-draft.tmp-77777")), "mine");
  EXPECT_EQ(ReadFile(Path("data/a-notes.parquet")), "mine too");
}

// kill -9 within the manifest's one-second refresh: status still shows the
// iteration that committed (its _SUCCESS carries the run's id).
TEST_F(AdversarialTest, StatusOfAKilledRunShowsWhatItCommittedSinceTheLastRefresh) {
  WriteBody(
      "sequence: [1, 2]\n"
      "transform: SELECT count(*) AS c FROM range(CASE WHEN $n = 1 THEN 10 ELSE 1000000000000 END)\n"
      "run: {max_workers: 2, order: given}\n");
  Child child = StartFanout({"run", Path("job.yaml")});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(OutPath("iter_1/_SUCCESS")) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(child.pid, SIGKILL);
  WaitProcess(child);
  RunResult status = Fanout({"status", OutPath(), "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.Describe();
  nlohmann::json m = nlohmann::json::parse(status.out);
  EXPECT_EQ(m["status"], "killed");
  EXPECT_EQ(IterationOf(m, 1)["status"], "committed") << status.out;
  EXPECT_EQ(IterationOf(m, 2)["status"], "pending") << status.out;
}

// 1e400 became Infinity and ran (exit 0).
TEST_F(AdversarialTest, NumbersBeyondADoubleAreRefused) {
  WriteBody("params: {scale: 1.5, big: 1e999}\nsequence: [1]\ntransform: SELECT $n * $scale AS x\n");
  ExpectRefused("validate", "1e999 is out of the range of a number");
  WriteBody("params: {scale: 1.5}\nsequence: [1]\ntransform: SELECT $n * $scale AS x\n");
  RunResult r = Fanout({"run", Path("job.yaml"), "--set", "scale=1e400"});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find("1e400 is out of the range of a number"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace fanout::test
