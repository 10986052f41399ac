// Array jobs without MPI: `fanout run --shard K/N` on N processes at once and
// `fanout collect`, their barrier — the real binary on real files.
#include <set>
#include <string>
#include <vector>

#include "fanout/store.h"
#include "shard.h"
#include "test_util.h"

namespace fanout::test {
namespace {

class ShardTest : public FanoutTest {
 protected:
  void SetUp() override {
    FanoutTest::SetUp();
    WriteSales();
    job_.sequence = "{range: [1, 8]}";
    job_.output = {"dir: local"};
    WriteJob(job_, "local.yaml");
    job_.output = {"dir: out"};
    WriteJob(job_);
  }

  // Shards `ks` of `n` of run `id` at once, each expected to exit 0.
  void RunShards(const std::vector<int>& ks, int n, const std::string& id, std::vector<std::string> extra = {}) {
    std::vector<Child> children;
    for (int k : ks) {
      std::vector<std::string> args = {"run", Path("job.yaml"), "--shard", std::to_string(k) + "/" + std::to_string(n),
                                       "--run-id", id};
      args.insert(args.end(), extra.begin(), extra.end());
      children.push_back(StartFanout(args));
    }
    for (const Child& c : children) {
      RunResult r = WaitProcess(c);
      EXPECT_EQ(r.exit_code, 0) << r.Describe();
    }
  }

  void ExpectSameAsLocal(const std::vector<std::string>& targets) {
    for (const std::string& t : targets) {
      SCOPED_TRACE(t);
      ExpectCommitted(t);
      EXPECT_EQ(ReadTotals(t), Query("SELECT region, cnt, total FROM read_parquet(" +
                                     SqlQuote(Path("local/" + t) + "/part-*") + ") ORDER BY region"));
    }
  }

  JobText job_;
};

TEST_F(ShardTest, ThreeShardsAndCollectWriteWhatTheLocalRunWrites) {
  RunResult local = Run({}, "local.yaml");
  ASSERT_EQ(local.exit_code, 0) << local.Describe();
  RunShards({1, 2, 3}, 3, "r1");
  // Shard manifests are not runs: status has none to show yet.
  EXPECT_EQ(Fanout({"status", OutPath()}).exit_code, 2);

  RunResult c = Fanout({"collect", OutPath(), "--json"});
  ASSERT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_NE(c.err.find("SUMMARY: 8/8 iterations succeeded"), std::string::npos) << c.err;
  nlohmann::json m = nlohmann::json::parse(c.out);
  EXPECT_EQ(m["run_id"], "r1");
  EXPECT_EQ(m["status"], "succeeded");
  EXPECT_EQ(m["counts"]["committed"], 8);
  std::set<int> shards;
  std::vector<std::string> targets;
  for (const auto& it : m["iterations"]) {
    shards.insert(it["shard"].get<int>());
    EXPECT_FALSE(it["host"].get<std::string>().empty());
    targets.push_back(it["target"]);
    EXPECT_EQ(RunIdOf(it["target"]), "r1");
  }
  EXPECT_EQ(shards, (std::set<int>{1, 2, 3}));
  EXPECT_EQ(targets, Targets());  // every one, in plan order
  ExpectSameAsLocal(Targets());
  EXPECT_EQ(ReadJson(OutPath("_fanout/runs/r1.json")), m);
  RunResult status = Fanout({"status", OutPath()});
  EXPECT_NE(status.out.find("last run r1: succeeded"), std::string::npos) << status.Describe();

  // A collected run is finished: its shards cannot add to it.
  auto before = TakeSnapshot(OutPath());
  RunResult again = Run({"--shard", "1/3", "--run-id", "r1"});
  EXPECT_EQ(again.exit_code, 2) << again.Describe();
  EXPECT_NE(again.err.find("run r1 was already collected"), std::string::npos) << again.err;
  EXPECT_EQ(DiffSnapshots(before, TakeSnapshot(OutPath())), "");
}

TEST_F(ShardTest, CollectWaitsForAMissingShardThenGivesUpSayingWhich) {
  RunShards({1, 3}, 3, "r2");
  RunResult c = Fanout({"collect", OutPath(), "--wait", "1"});
  EXPECT_EQ(c.exit_code, 1) << c.Describe();
  EXPECT_NE(c.err.find("gave up waiting after 1 s"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("shard 2/3 has not started"), std::string::npos) << c.err;
  EXPECT_FALSE(fs::exists(OutPath("_fanout/runs/r2.json")));

  Child waiting = StartFanout({"collect", OutPath(), "--run-id", "r2", "--wait", "2m"});
  RunShards({2}, 3, "r2");
  RunResult done = WaitProcess(waiting);
  EXPECT_EQ(done.exit_code, 0) << done.Describe();
  EXPECT_EQ(ReadJson(OutPath("_fanout/runs/r2.json"))["counts"]["committed"], 8);
}

TEST_F(ShardTest, OnlyAndResumeShareTheSameWay) {
  RunShards({1, 2}, 2, "a", {"--only", "2,5,7"});
  RunResult c = Fanout({"collect", OutPath()});
  ASSERT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_EQ(Targets(), (std::vector<std::string>{"iter_2", "iter_5", "iter_7"}));

  // Damage one output: a sharded --resume reruns it and what is missing.
  fs::remove_all(OutPath("iter_5"));
  RunShards({1, 2, 3}, 3, "b", {"--resume"});
  RunResult c2 = Fanout({"collect", OutPath(), "--run-id", "b", "--json"});
  ASSERT_EQ(c2.exit_code, 0) << c2.Describe();
  nlohmann::json m = nlohmann::json::parse(c2.out);
  EXPECT_EQ(m["counts"]["skipped"], 2);
  EXPECT_EQ(m["counts"]["committed"], 6);
  EXPECT_EQ(RunIdOf("iter_2"), "a");
  EXPECT_EQ(RunIdOf("iter_5"), "b");
  RunResult local = Run({}, "local.yaml");
  ASSERT_EQ(local.exit_code, 0) << local.Describe();
  ExpectSameAsLocal(Targets());
}

TEST_F(ShardTest, BadShardsAreRefusedAndWriteNothing) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--shard", "4/3", "--run-id", "x"},
           {"--shard", "1/3"},
           {"--shard", "1/3", "--run-id", "../x"},
           {"--run-id", "x"},
           {"--shard", "auto", "--run-id", "x"}}) {
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << r.Describe();
    EXPECT_FALSE(fs::exists(OutPath())) << r.Describe();
  }
  RunResult none = Fanout({"collect", OutPath()});
  EXPECT_EQ(none.exit_code, 1) << none.Describe();
  EXPECT_NE(none.err.find("no sharded run found"), std::string::npos) << none.err;
}

TEST(ShardShare, StableAgainstPlanOrderAndBalancedLongestFirst) {
  std::vector<Iteration> its(7);
  for (size_t i = 0; i < its.size(); ++i) its[i].target = "iter_" + std::to_string(i + 1);
  std::map<std::string, double> past = {{"iter_1", 9}, {"iter_2", 5}, {"iter_3", 4}, {"iter_4", 3},
                                        {"iter_5", 2}, {"iter_6", 1}, {"iter_7", 1}};
  ShardShare a = AssignShards(its, past, 2);
  std::vector<Iteration> reversed(its.rbegin(), its.rend());
  ShardShare b = AssignShards(reversed, past, 2);
  EXPECT_EQ(a.digest, b.digest);
  double load[3] = {0, 0, 0};
  for (size_t i = 0; i < its.size(); ++i) {
    EXPECT_EQ(a.owner[i], b.owner[its.size() - 1 - i]) << its[i].target;
    load[a.owner[i]] += past[its[i].target];
  }
  EXPECT_EQ(load[1], 13);  // 9+3+1 and 5+4+2+1 (the longest first, each on the lighter shard)
  EXPECT_EQ(load[2], 12);
  // Another history is another share: collect tells them apart.
  past["iter_7"] = 20;
  EXPECT_NE(AssignShards(its, past, 2).digest, a.digest);
}

TEST(ShardLauncher, AutoReadsEachLaunchersVariables) {
  auto env = [](std::map<std::string, std::string> vars) {
    return [vars](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  };
  auto slurm = ShardFromLauncher(env({{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_MIN", "0"},
                                      {"SLURM_ARRAY_TASK_MAX", "2"}, {"SLURM_ARRAY_TASK_COUNT", "3"},
                                      {"SLURM_ARRAY_JOB_ID", "77"}}));
  ASSERT_TRUE(slurm.ok()) << slurm.status().message();
  EXPECT_EQ(slurm->shard, 1);
  EXPECT_EQ(slurm->shards, 3);
  EXPECT_EQ(slurm->run_id, "slurm-77");
  EXPECT_FALSE(ShardFromLauncher(env({{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_MIN", "1"},
                                      {"SLURM_ARRAY_TASK_MAX", "9"}, {"SLURM_ARRAY_TASK_COUNT", "3"}}))
                   .ok());  // --array=1,5,9: not 1..N
  auto k8s = ShardFromLauncher(env({{"JOB_COMPLETION_INDEX", "2"}, {"FANOUT_SHARDS", "3"}}));
  ASSERT_TRUE(k8s.ok()) << k8s.status().message();
  EXPECT_EQ(k8s->shard, 3);
  EXPECT_EQ(k8s->run_id, "");
  auto no_count = ShardFromLauncher(env({{"JOB_COMPLETION_INDEX", "2"}}));
  ASSERT_FALSE(no_count.ok());
  EXPECT_NE(no_count.status().message().find("FANOUT_SHARDS"), std::string::npos);
  auto aws = ShardFromLauncher(env({{"AWS_BATCH_JOB_ARRAY_INDEX", "0"}, {"FANOUT_SHARDS", "2"},
                                    {"AWS_BATCH_JOB_ID", "abc-123:0"}}));
  ASSERT_TRUE(aws.ok()) << aws.status().message();
  EXPECT_EQ(aws->shard, 1);
  EXPECT_EQ(aws->run_id, "aws-abc-123");
  EXPECT_FALSE(ShardFromLauncher(env({{"AWS_BATCH_JOB_ARRAY_INDEX", "2"}, {"FANOUT_SHARDS", "2"}})).ok());
}

}  // namespace
}  // namespace fanout::test

namespace fanout::test {
namespace {

TEST_F(ShardTest, ShardsShareTheOutputButExcludeAWholeRunAndTheirOwnCopies) {
  fs::create_directories(OutPath("_fanout/runs"));
  auto store = NewLocalStore(OutPath());
  auto one = store->LockShard("r", 1, "shard 1");
  ASSERT_TRUE(one.ok()) << one.status().message();
  auto two = store->LockShard("r", 2, "shard 2");
  EXPECT_TRUE(two.ok()) << two.status().message();
  auto again = store->LockShard("r", 1, "shard 1 again");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Status::Code::kBusy);
  EXPECT_NE(again.status().message().find("shard 1 of run r is already running"), std::string::npos);
  auto whole = store->Lock("a whole run");
  ASSERT_FALSE(whole.ok());
  EXPECT_EQ(whole.status().code(), Status::Code::kBusy);
  one->reset();
  two->reset();
  auto now = store->Lock("a whole run");
  ASSERT_TRUE(now.ok()) << now.status().message();
  auto shard = store->LockShard("r", 3, "shard 3");
  ASSERT_FALSE(shard.ok());
  EXPECT_EQ(shard.status().code(), Status::Code::kBusy);
}

}  // namespace
}  // namespace fanout::test

namespace fanout::test {
namespace {

// A shard killed mid-run (SIGKILL: no cleanup) leaves what it committed and
// nothing partial; collect names it; the shard run again completes the run.
TEST_F(ShardTest, AKilledShardRunAgainCompletesTheRun) {
  Write("flag.csv", "v\n1\n");
  JobText job;
  job.inputs = {"flag: flag.csv"};
  job.params = {};
  job.sequence = "[1, 2, 3, 4]";
  // n = 4 counts for minutes while flag.csv says 1.
  job.transform =
      "SELECT count(*) AS c FROM range(CASE WHEN $n = 4 AND (SELECT max(v) FROM flag) = 1 THEN 1000000000000 "
      "ELSE 1000 END) t(i) WHERE i % 7 = $n";
  job.extra = "cache: false\n";
  WriteJob(job);
  // Without history the share is by target: shard 2 has iter_2 and iter_4.
  Child one = StartFanout({"run", Path("job.yaml"), "--shard", "1/2", "--run-id", "k"});
  Child two = StartFanout({"run", Path("job.yaml"), "--shard", "2/2", "--run-id", "k"});
  EXPECT_EQ(WaitProcess(one).exit_code, 0);
  auto started = [&] {
    return fs::exists(OutPath("iter_2/_SUCCESS")) && ReadFile(two.base + ".err").find("start  n=4") != std::string::npos;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!started() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(started()) << ReadFile(two.base + ".err");
  kill(two.pid, SIGKILL);
  WaitProcess(two);
  EXPECT_EQ(Targets(), (std::vector<std::string>{"iter_1", "iter_2", "iter_3"}));
  for (const std::string& t : Targets()) ExpectCommitted(t);

  RunResult c = Fanout({"collect", OutPath(), "--wait", "1"});
  EXPECT_EQ(c.exit_code, 1) << c.Describe();
  EXPECT_NE(c.err.find("shard 2/2 is still running"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("if it was killed, run it again"), std::string::npos) << c.err;

  Write("flag.csv", "v\n0\n");
  RunResult again = Run({"--shard", "2/2", "--run-id", "k", "--resume"});
  EXPECT_EQ(again.exit_code, 0) << again.Describe();
  RunResult done = Fanout({"collect", OutPath(), "--json"});
  ASSERT_EQ(done.exit_code, 0) << done.Describe();
  EXPECT_EQ(nlohmann::json::parse(done.out)["counts"]["committed"], 4);
  for (const std::string& t : Targets()) ExpectCommitted(t);
  EXPECT_FALSE(fs::exists(OutPath(".fanout-staging/k.shard-2")));
}

}  // namespace
}  // namespace fanout::test
