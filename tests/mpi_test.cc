// The MPI backend: the real `fanout` started by the real `mpirun` (Open MPI)
// on loopback, oversubscribed (more ranks than cores). Skipped, saying why,
// when mpirun is absent or fanout was built without MPI.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "test_util.h"

namespace fanout::test {
namespace {

// A file's text, or "" when it cannot be read (a process that just exited).
std::string ReadFileQuiet(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string FindMpirun() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && access((dir + "/mpirun").c_str(), X_OK) == 0) return dir + "/mpirun";
  return "";
}

// Open MPI refuses root unless told (never the tool itself: the test).
std::vector<std::string> MpiEnv() {
  if (geteuid() != 0) return {};
  return {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"};
}

// The pid of rank `rank` among the children of mpirun `parent`.
pid_t RankPid(pid_t parent, int rank) {
  DIR* proc = opendir("/proc");
  pid_t found = -1;
  for (dirent* e; proc && (e = readdir(proc)) != nullptr;) {
    const pid_t pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::string stat = ReadFileQuiet("/proc/" + std::string(e->d_name) + "/stat");
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != parent) continue;
    std::string env = ReadFileQuiet("/proc/" + std::string(e->d_name) + "/environ");
    if (env.find(std::string("OMPI_COMM_WORLD_RANK=") + std::to_string(rank) + '\0') != std::string::npos) found = pid;
  }
  if (proc) closedir(proc);
  return found;
}

class MpiTest : public FanoutTest {
 protected:
  void SetUp() override {
#ifndef FANOUT_WITH_MPI
    GTEST_SKIP() << "fanout was built without MPI (install libopenmpi-dev and build again)";
#endif
    mpirun_ = FindMpirun();
    if (mpirun_.empty()) GTEST_SKIP() << "mpirun is not installed (Debian: openmpi-bin)";
    FanoutTest::SetUp();
  }

  // mpirun --oversubscribe -np `np` <before...> fanout <args...>, on loopback.
  std::vector<std::string> MpirunArgv(int np, const std::vector<std::string>& args,
                                      const std::vector<std::string>& before = {}) const {
    std::vector<std::string> argv = {mpirun_, "--oversubscribe", "--bind-to", "none", "-np", std::to_string(np),
                                     "--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo",
                                     "--mca", "oob_tcp_if_include", "lo"};
    argv.insert(argv.end(), before.begin(), before.end());
    argv.push_back(FANOUT_BIN);
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  RunResult Mpirun(int np, const std::vector<std::string>& args) const {
    return RunProcess(MpirunArgv(np, args), IoDir(), std::chrono::seconds(120), MpiEnv());
  }
  std::string IoDir() const { return Path() + "/../io"; }

  // Every row of OUT/<target> equals the same target under `other`.
  void ExpectSameContent(const std::string& other_out, const std::string& out, const std::string& target) {
    SCOPED_TRACE(target);
    auto rows = [&](const std::string& dir) {
      return Query("SELECT * FROM read_parquet(" + SqlQuote(dir + "/" + target + "/part-*") + ") ORDER BY ALL");
    };
    Rows a = rows(other_out), b = rows(out);
    EXPECT_FALSE(a.empty());
    EXPECT_EQ(a, b);
  }

  // Nothing partial under OUT: each iter_* holds what its _SUCCESS lists.
  void ExpectNothingPartial() {
    for (const std::string& t : Targets()) ExpectCommitted(t);
  }

  std::string mpirun_;
};

// Copies examples/model_sequence under work/<name>.
std::string CopyExample(const std::string& to) {
  fs::create_directories(to);
  const std::string from = std::string(FANOUT_SOURCE_DIR) + "/examples/model_sequence";
  for (const char* part : {"job.yaml", "config", "data", "transforms"})
    fs::copy(from + "/" + part, to + "/" + part, fs::copy_options::recursive);
  return to + "/job.yaml";
}

TEST_F(MpiTest, TheExampleOnThreeRanksWritesWhatTheLocalRunWrites) {
  const std::string job = CopyExample(Path("ex"));
  RunResult local = Fanout({"run", job});
  ASSERT_EQ(local.exit_code, 0) << local.Describe();
  fs::rename(Path("ex/out"), Path("local-out"));
  // The ranks build the input cache again, one at a time (its lock).
  fs::remove_all(Path("ex/.fanout-cache"));

  RunResult r = Mpirun(3, {"run", job, "--json", "--max-workers", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  auto m = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(m.is_object()) << r.Describe();
  EXPECT_EQ(m["status"], "succeeded");
  EXPECT_EQ(m["counts"]["committed"], 9);
  EXPECT_EQ(ReadJson(Path("ex/out/_fanout/runs/" + m["run_id"].get<std::string>() + ".json")), m);
  std::set<int> ranks;
  for (const auto& it : m["iterations"]) {
    EXPECT_EQ(it["status"], "committed") << it.dump();
    ranks.insert(it["rank"].get<int>());
    EXPECT_FALSE(it["host"].get<std::string>().empty());
    const std::string target = it["target"];
    EXPECT_EQ(ReadJson(Path("ex/out/" + target + "/_SUCCESS"))["run_id"], m["run_id"]);
    ExpectSameContent(Path("local-out"), Path("ex/out"), target);
  }
  EXPECT_GT(ranks.size(), 1u) << "every iteration ran on one rank: " << m.dump(1);
  for (int rank : ranks) EXPECT_TRUE(rank >= 0 && rank < 3) << rank;
  EXPECT_TRUE(ListDir(Path("ex/out/.fanout-staging")).empty()) << "staging left behind";
}

TEST_F(MpiTest, OnlyThenResumeUnderMpi) {
  WriteSales();
  JobText job;
  job.sequence = "{range: [1, 8]}";
  WriteJob(job);
  RunResult only = Mpirun(3, {"run", Path("job.yaml"), "--only", "2,5", "--json"});
  ASSERT_EQ(only.exit_code, 0) << only.Describe();
  EXPECT_EQ(Targets(), (std::vector<std::string>{"iter_2", "iter_5"}));
  const std::string first = RunIdOf("iter_2");

  RunResult resumed = Mpirun(3, {"run", Path("job.yaml"), "--resume", "--json", "--coordinator-only"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.Describe();
  auto m = nlohmann::json::parse(resumed.out);
  EXPECT_EQ(m["counts"]["skipped"], 2);
  EXPECT_EQ(m["counts"]["committed"], 6);
  for (const auto& it : m["iterations"])
    if (it["status"] == "committed") {
      EXPECT_NE(it["rank"], 0) << "--coordinator-only: rank 0 ran " << it.dump();
    }
  EXPECT_EQ(RunIdOf("iter_2"), first);  // skipped: still the first run's
  EXPECT_EQ(Targets().size(), 8u);
  for (int n = 1; n <= 8; ++n) EXPECT_EQ(ReadTotals(Iter(n)), ExpectedTotals(sales_, n, 10));
}

TEST_F(MpiTest, ARankThatCannotLoadFailsTheRunNamingItAndWritesNothing) {
  WriteSales();
  JobText job;
  job.inputs = {"sales: ${FANOUT_TEST_DATA}/sales.csv"};
  WriteJob(job);
  auto before = TakeSnapshot(Path());
  // Rank 1's host sees the data elsewhere (a missing mount): MPMD, one
  // environment per rank.
  std::vector<std::string> argv = {mpirun_, "--oversubscribe", "--mca", "btl", "self,tcp",
                                   "-np", "1", "-x", "FANOUT_TEST_DATA=" + Path(), FANOUT_BIN, "run", Path("job.yaml"),
                                   ":", "-np", "1", "-x", "FANOUT_TEST_DATA=" + Path("missing"), FANOUT_BIN, "run",
                                   Path("job.yaml"), ":", "-np", "1", "-x", "FANOUT_TEST_DATA=" + Path(), FANOUT_BIN,
                                   "run", Path("job.yaml")};
  RunResult r = RunProcess(argv, IoDir(), std::chrono::seconds(120), MpiEnv());
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const std::string named = "rank 1 of 3 on " + std::string(host) + ": ";
  EXPECT_NE(r.err.find(named), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find(Path("missing") + "/sales.csv"), std::string::npos) << r.Describe();
  EXPECT_EQ(r.err.find("rank 0 of 3"), std::string::npos) << r.Describe();
  EXPECT_EQ(DiffSnapshots(before, TakeSnapshot(Path())), "");

  // Rank 1 sees another copy of the data (one row more): it loads, but its
  // plan's fingerprints differ from rank 0's. Refused after every rank
  // loaded: the input cache the others built goes too.
  Write("other/sales.csv", ReadFile(Path("sales.csv")) + "9999,north,1,50\n");
  before = TakeSnapshot(Path());
  std::replace(argv.begin(), argv.end(), "FANOUT_TEST_DATA=" + Path("missing"), "FANOUT_TEST_DATA=" + Path("other"));
  r = RunProcess(argv, IoDir(), std::chrono::seconds(120), MpiEnv());
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find(named + "planned other iterations than rank 0"), std::string::npos) << r.Describe();
  EXPECT_EQ(DiffSnapshots(before, TakeSnapshot(Path())), "");
}

TEST_F(MpiTest, RefusedCombinations) {
  WriteSales();
  WriteJob(JobText{});
  auto before = TakeSnapshot(Path());
  RunResult alone = Mpirun(1, {"run", Path("job.yaml"), "--coordinator-only"});
  EXPECT_EQ(alone.exit_code, 2) << alone.Describe();
  EXPECT_NE(alone.err.find("--coordinator-only needs at least 2 ranks"), std::string::npos) << alone.err;
  RunResult shard = Fanout({"run", Path("job.yaml"), "--backend", "mpi", "--shard", "1/2", "--run-id", "x"});
  EXPECT_EQ(shard.exit_code, 2) << shard.Describe();
  EXPECT_NE(shard.err.find("--shard and --backend mpi"), std::string::npos) << shard.err;
  RunResult lone = Fanout({"run", Path("job.yaml"), "--coordinator-only"});
  EXPECT_EQ(lone.exit_code, 2) << lone.Describe();
  // srun with several tasks but no PMI would be N runs fighting over OUT.
  RunResult srun = Fanout({"run", Path("job.yaml")}, {"SLURM_STEP_NUM_TASKS=3"});
  EXPECT_EQ(srun.exit_code, 2) << srun.Describe();
  EXPECT_NE(srun.err.find("srun --mpi=pmix"), std::string::npos) << srun.err;
  EXPECT_EQ(DiffSnapshots(before, TakeSnapshot(Path())), "");
  // after: (dependencies) is not handed out by rank 0 yet: refused on every
  // rank with where the job says it, nothing written.
  JobText staged;
  staged.extra = "after:\n  3: [1, 2]\n";
  WriteJob(staged);
  auto staged_before = TakeSnapshot(Path());
  RunResult after = Mpirun(2, {"run", Path("job.yaml")});
  EXPECT_EQ(after.exit_code, 2) << after.Describe();
  EXPECT_NE(after.err.find("after: cannot be used with --backend mpi"), std::string::npos) << after.err;
  EXPECT_NE(after.err.find("job.yaml:"), std::string::npos) << after.err;
  EXPECT_EQ(DiffSnapshots(staged_before, TakeSnapshot(Path())), "");
}

// A job whose iterations each take a while (hashing `rows` numbers), for
// kills: long enough that the live manifest shows one in flight well before
// the run ends, even on a loaded machine.
JobText SlowJob(int iterations, int64_t rows) {
  JobText job;
  job.inputs = {"sales: sales.csv"};
  job.sequence = "{range: [1, " + std::to_string(iterations) + "]}";
  job.transform = "SELECT $n AS n, sum(hash(i + $n)) AS h FROM range(0, " + std::to_string(rows) + ") t(i)";
  job.run = {"max_workers: 1", "threads: 1"};
  return job;
}

// The live manifest of the run in progress, once one names an iteration in
// flight on `rank`.
nlohmann::json WaitForInFlight(const std::string& runs, int rank, double seconds) {
  const double deadline = NowSeconds() + seconds;
  while (NowSeconds() < deadline) {
    for (const std::string& name : ListDir(runs)) {
      if (name.size() < 5 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
      auto m = nlohmann::json::parse(ReadFileQuiet(runs + "/" + name), nullptr, false);
      if (!m.is_object()) continue;
      for (const auto& it : m["iterations"])
        if (it.value("rank", -1) == rank && it["status"] == "pending" && it.value("start_unix", 0.0) > 0) return m;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return nlohmann::json();
}

TEST_F(MpiTest, ALostRankThenResumeWithoutMpiCompletesTheRun) {
  WriteSales();
  WriteJob(SlowJob(16, 20000000));
  // Time for rank 0 to write its final manifest once mpirun stops the job.
  Child c = StartProcess(MpirunArgv(3, {"run", Path("job.yaml"), "--coordinator-only"},
                                    {"--mca", "odls_base_sigkill_timeout", "5"}),
                         IoDir(), MpiEnv());
  nlohmann::json live = WaitForInFlight(OutPath("_fanout/runs"), 2, 60);
  ASSERT_TRUE(live.is_object()) << "no iteration in flight on rank 2 in the live manifest";
  const pid_t victim = RankPid(c.pid, 2);
  ASSERT_GT(victim, 0);
  kill(victim, SIGKILL);
  RunResult r = WaitProcess(c, std::chrono::seconds(60));
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  ExpectNothingPartial();

  // The manifest rank 0 wrote names what rank 2 had in flight.
  const std::string id = live["run_id"];
  nlohmann::json m = ReadJson(OutPath("_fanout/runs/" + id + ".json"));
  EXPECT_EQ(m["status"], "interrupted") << r.Describe();
  int lost = 0;
  for (const auto& it : m["iterations"]) {
    const std::string error = it["error"].is_string() ? it["error"].get<std::string>() : "";
    if (error.find("in flight on rank 2 of 3") == std::string::npos) continue;
    ++lost;
    EXPECT_EQ(it["status"], "cancelled");
    EXPECT_EQ(it["rank"], 2);
  }
  EXPECT_EQ(lost, 1) << m.dump(1);
  EXPECT_LT(m["counts"]["committed"].get<int>(), 16);

  RunResult resumed = Run({"--resume", "--json", "--max-workers", "2"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.Describe();
  auto after = nlohmann::json::parse(resumed.out);
  EXPECT_EQ(after["counts"]["committed"].get<int>() + after["counts"]["skipped"].get<int>(), 16);
  EXPECT_EQ(after["counts"]["skipped"], m["counts"]["committed"]);
  EXPECT_EQ(Targets().size(), 16u);
  ExpectNothingPartial();
}

// The newest run manifest under OUT.
nlohmann::json LastManifest(const std::string& runs) {
  std::string last;
  for (const std::string& name : ListDir(runs))
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) last = name;
  return ReadJson(runs + "/" + last);
}

TEST_F(MpiTest, InterruptedRanksExit130WithNothingPartial) {
  WriteSales();
  WriteJob(SlowJob(30, 60000000));
  // SIGTERM to every rank, as Slurm's scancel or a node's shutdown sends:
  // each rank cancels, rank 0 writes the manifest, each exits 130, and so
  // does mpirun.
  Child c = StartProcess(MpirunArgv(3, {"run", Path("job.yaml")}), IoDir(), MpiEnv());
  ASSERT_TRUE(WaitForInFlight(OutPath("_fanout/runs"), 1, 60).is_object());
  for (int rank = 0; rank < 3; ++rank) kill(RankPid(c.pid, rank), SIGTERM);
  RunResult r = WaitProcess(c, std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 130) << r.Describe();
  ExpectNothingPartial();
  nlohmann::json m = LastManifest(OutPath("_fanout/runs"));
  EXPECT_EQ(m["status"], "interrupted") << m.dump(1);
  EXPECT_EQ(m["exit_code"], 130);
  EXPECT_GT(m["counts"]["cancelled"].get<int>(), 0);

  // Ctrl-C at a terminal: SIGINT to mpirun and its ranks (one process group).
  // The ranks stop as above; mpirun, itself interrupted, exits 1 (Open MPI's
  // code for a job it aborted), never 0.
  Child again = StartProcess([&] {
    std::vector<std::string> argv = MpirunArgv(3, {"run", Path("job.yaml")});
    argv.insert(argv.begin(), "/usr/bin/setsid");
    return argv;
  }(), IoDir(), MpiEnv());
  ASSERT_TRUE(WaitForInFlight(OutPath("_fanout/runs"), 2, 60).is_object());
  kill(-again.pid, SIGINT);
  RunResult second = WaitProcess(again, std::chrono::seconds(60));
  EXPECT_NE(second.exit_code, 0) << second.Describe();
  ExpectNothingPartial();
  nlohmann::json m2 = LastManifest(OutPath("_fanout/runs"));
  EXPECT_NE(m2["run_id"], m["run_id"]);
  EXPECT_EQ(m2["status"], "interrupted") << m2.dump(1);
  EXPECT_EQ(m2["exit_code"], 130);
}

// Three "hosts": network namespaces on a bridge, each rank in its own (and
// with its own hostname), started by mpirun through a launch agent that
// enters the namespace where ssh would log in. Ranks can reach each other
// only over TCP on the veth network. Needs root and netns support.
class MultiHostTest : public MpiTest {
 protected:
  void SetUp() override {
    MpiTest::SetUp();
    if (IsSkipped()) return;
    if (geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
    prefix_ = "fo" + std::to_string(getpid() % 100000) + "-";
    net_ = "10.213." + std::to_string(20 + getpid() % 200);
    if (!Sh("ip netns add " + prefix_ + "h0")) GTEST_SKIP() << "no network namespace support (ip netns add failed)";
    made_ = true;
    ASSERT_TRUE(Sh("ip link add " + prefix_ + "br type bridge && ip link set " + prefix_ + "br up && ip addr add " +
                   net_ + ".254/24 dev " + prefix_ + "br"));
    for (int i = 0; i < 3; ++i) {
      const std::string ns = prefix_ + "h" + std::to_string(i), v = prefix_ + "v" + std::to_string(i),
                        p = prefix_ + "p" + std::to_string(i), in = "ip netns exec " + ns + " ";
      ASSERT_TRUE(Sh((i ? "ip netns add " + ns + " && " : std::string()) + "ip link add " + v +
                     " type veth peer name " + p + " && ip link set " + v + " netns " + ns + " && ip link set " + p +
                     " master " + prefix_ + "br && ip link set " + p + " up && " + in + "ip addr add " + net_ + "." +
                     std::to_string(i + 1) + "/24 dev " + v + " && " + in + "ip link set " + v + " up && " + in +
                     "ip link set lo up"));
    }
  }
  void TearDown() override {
    if (made_) {
      for (int i = 0; i < 3; ++i) Sh("ip netns del " + prefix_ + "h" + std::to_string(i) + " 2>/dev/null");
      Sh("ip link del " + prefix_ + "br 2>/dev/null");
    }
    MpiTest::TearDown();
  }
  static bool Sh(const std::string& command) { return std::system(("(" + command + ") >/dev/null 2>&1").c_str()) == 0; }

  std::string prefix_, net_;
  bool made_ = false;
};

TEST_F(MultiHostTest, RanksOnThreeHostsOverTcpWriteWhatTheLocalRunWrites) {
  const std::string job = CopyExample(Path("ex"));
  RunResult local = Fanout({"run", job});
  ASSERT_EQ(local.exit_code, 0) << local.Describe();
  fs::rename(Path("ex/out"), Path("local-out"));
  Write("hosts", "h0 slots=1\nh1 slots=1\nh2 slots=1\n");
  const std::string agent = std::string(FANOUT_SOURCE_DIR) + "/tests/mpi/netns_agent.sh";
  std::vector<std::string> argv = {mpirun_, "--hostfile", Path("hosts"), "-np", "3", "--mca", "plm_rsh_agent", agent,
                                   "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", net_ + ".0/24",
                                   "--mca", "oob_tcp_if_include", net_ + ".0/24", FANOUT_BIN, "run", job,
                                   "--json", "--max-workers", "1"};
  std::vector<std::string> env = MpiEnv();
  env.push_back("FANOUT_NETNS_PREFIX=" + prefix_);
  RunResult r = RunProcess(argv, IoDir(), std::chrono::seconds(120), env);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  auto m = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(m.is_object()) << r.Describe();
  EXPECT_EQ(m["host"], "h0");  // rank 0's
  std::set<std::string> hosts;
  for (const auto& it : m["iterations"]) {
    EXPECT_EQ(it["status"], "committed") << it.dump();
    const std::string host = it["host"];
    EXPECT_EQ(host, "h" + std::to_string(it["rank"].get<int>()));
    hosts.insert(host);
    ExpectSameContent(Path("local-out"), Path("ex/out"), it["target"]);
  }
  EXPECT_GT(hosts.size(), 1u) << m.dump(1);
}

}  // namespace
}  // namespace fanout::test
