// s3_cli_test: the fanout binary on an s3:// output, against moto behind the
// signature-verifying proxy (tests/s3_server.h): `fanout status` (--verify,
// --json) and `fanout report` read the store the URL names; `fanout gc` aborts
// stale multipart uploads and removes only unreferenced attempt objects,
// under the run lock; a SIGKILL between the last part and the marker leaves
// nothing committed, and --resume reruns that iteration and cleans up (on S3
// and the local staging folder); a killed input fetch's temporary file is
// removed by the next fetch.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <iostream>
#include <thread>

#include "fanout/record.h"
#include "owner_lock.h"
#include "s3_server.h"
#include "s3_store.h"

namespace fanout {
namespace {
using namespace fanout::test;
using namespace fanout::s3test;

// The id of a process that has ended (forked, exited, collected).
long DeadPid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
}

// The names in `dir` that start with `prefix`, sorted.
std::vector<std::string> NamesIn(const std::string& dir, const std::string& prefix = "") {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix, 0) == 0) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class S3CliTest : public S3Test {
 protected:
  std::vector<std::string> Env(const std::string& secret = kSecret) const {
    return {std::string("AWS_ACCESS_KEY_ID=") + kKeyId, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_REGION=us-east-1",
            "AWS_ENDPOINT_URL_S3=http://127.0.0.1:" + port_, "AWS_PROFILE=", "AWS_SESSION_TOKEN="};
  }
  RunResult Fanout(const std::vector<std::string>& args, std::vector<std::string> env = {},
                   const char* bin = FANOUT_BIN) const {
    std::vector<std::string> argv = {bin};
    argv.insert(argv.end(), args.begin(), args.end());
    if (env.empty()) env = Env();
    return RunProcess(argv, dir_, std::chrono::seconds(120), env);
  }
  // The sales job of the other tests, its output at s3://bkt/<where>.
  std::string WriteJob(const std::string& where, const std::string& transform = kTotalsSql,
                       const std::string& sequence = "[1, 2, 3]") {
    WriteFile(dir_ + "/sales.csv", SalesCsv(MakeSales()));
    JobText job;
    job.output = {"dir: s3://bkt/" + where, "format: csv"};
    job.transform = transform;
    job.sequence = sequence;
    job.run = {"max_workers: 1"};
    WriteFile(dir_ + "/job.yaml", job.Render());
    return "s3://bkt/" + where;
  }
  std::shared_ptr<S3Client> Client() { return std::make_shared<S3Client>(Config(), Fast()); }
  // No object under `prefix` (markers, manifests, run log, report) holds the secret.
  void ExpectNoSecretUnder(const std::string& prefix) {
    auto keys = Keys(prefix);
    EXPECT_FALSE(keys.empty());
    for (const std::string& key : keys) {
      auto body = Client()->Get("bkt", key);
      ASSERT_TRUE(body.ok()) << key << ": " << body.status().ToString();
      EXPECT_EQ(body->find(kSecret), std::string::npos) << key << " holds the secret";
    }
  }
  // The keys under `prefix` but the run lock's.
  std::vector<std::string> Keys(const std::string& prefix) {
    std::vector<std::string> keys;
    auto listed = Client()->List("bkt", prefix);  // kept: a range-for over *temporary would dangle
    EXPECT_TRUE(listed.ok()) << listed.status().ToString();
    if (!listed.ok()) return keys;
    for (const S3Object& o : *listed)
      if (o.key.find("_fanout/lock") == std::string::npos) keys.push_back(o.key);
    return keys;
  }
};

TEST_F(S3CliTest, StatusVerifyAndReportReadTheStoreTheUrlNames) {
  const std::string out = WriteJob("jobs/out");
  RunResult run = Fanout({"run", dir_ + "/job.yaml"});
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  RunResult status = Fanout({"status", out});
  ASSERT_EQ(status.exit_code, 0) << status.Describe();
  EXPECT_NE(status.out.find("1 runs in " + out + "/_fanout/runs"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("iter_3       committed"), std::string::npos) << status.out;
  RunResult verify = Fanout({"status", out, "--verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.Describe();
  EXPECT_NE(verify.out.find("3 outputs intact, 0 differ"), std::string::npos) << verify.out;
  RunResult json = Fanout({"status", out, "--json", "--verify"});
  ASSERT_EQ(json.exit_code, 0) << json.Describe();
  auto manifest = Manifest::FromJson(json.out);
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  EXPECT_EQ(manifest->counts.committed, 3);
  // Each iteration's own requests: its upload, the marker read and written.
  for (const IterationReport& it : manifest->iterations) {
    ASSERT_TRUE(it.s3.has_value()) << it.target;
    EXPECT_GE(it.s3->requests, 3) << it.target;
    EXPECT_EQ(it.s3->retries, 0) << it.target;
    EXPECT_GT(it.s3->bytes_sent, it.bytes) << it.target;  // the part files and the marker
  }
  // An output changed behind fanout's back: --verify says which, exit 1.
  auto store = NewS3Store(out, Client());
  Marker m = store->Inspect("iter_2").marker;
  ASSERT_FALSE(m.files.empty());
  std::string body = *Client()->Get("bkt", m.files[0].key);
  body[0] = body[0] == 'x' ? 'y' : 'x';  // same size, other bytes
  ASSERT_TRUE(Client()->Put("bkt", m.files[0].key, body).ok());
  RunResult bad = Fanout({"status", out, "--verify"});
  EXPECT_EQ(bad.exit_code, 1) << bad.Describe();
  EXPECT_NE(bad.out.find("iter_2       MISMATCH"), std::string::npos) << bad.out;
  // The report, written beside the manifest on S3.
  RunResult report = Fanout({"report", out});
  ASSERT_EQ(report.exit_code, 0) << report.Describe();
  std::string html_url = report.out.substr(0, report.out.find('\n'));
  ASSERT_EQ(html_url.rfind(out + "/_fanout/runs/", 0), 0u) << report.out;
  EXPECT_NE(Client()->Get("bkt", html_url.substr(std::string("s3://bkt/").size()))->find("<html"),
            std::string::npos);
  {
    auto stats = Proxy("GET", "stats");
    EXPECT_EQ(stats["rejected"], 0) << stats.dump();
  }
  ExpectNoSecretUnder("jobs/out/");
  for (const RunResult* r : {&run, &status, &verify, &json, &bad, &report})
    EXPECT_EQ((r->out + r->err).find(kSecret), std::string::npos);
}

TEST_F(S3CliTest, StatusWithAWrongSecretSaysSoWithoutTheSecret) {
  const std::string out = WriteJob("jobs/out");
  ASSERT_EQ(Fanout({"run", dir_ + "/job.yaml"}).exit_code, 0);
  RunResult r = Fanout({"status", out}, Env("not-the-secret"));
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find("SignatureDoesNotMatch"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(kKeyId), std::string::npos) << r.err;  // which key, never its secret
  EXPECT_EQ(r.err.find("not-the-secret"), std::string::npos) << r.err;
  RunResult none = Fanout({"status", "s3://bkt/nothing/here"});
  EXPECT_EQ(none.exit_code, 2) << none.Describe();
  EXPECT_NE(none.err.find("no run manifests under s3://bkt/nothing/here"), std::string::npos) << none.err;
}

TEST_F(S3CliTest, GcRemovesOnlyWhatNoMarkerReferencesUnderTheLock) {
  const std::string out = WriteJob("jobs/out");
  ASSERT_EQ(Fanout({"run", dir_ + "/job.yaml"}).exit_code, 0);
  auto s3 = Client();
  ASSERT_TRUE(s3->Put("bkt", "jobs/out/iter_1/.a-killed-1/part-00000.csv", "orphan").ok());
  ASSERT_TRUE(s3->Put("bkt", "jobs/out/iter_9/.a-killed-2/part-00000.csv", "orphan").ok());
  ASSERT_TRUE(s3->CreateMultipart("bkt", "jobs/out/iter_2/.a-killed-1/part-00000.csv").ok());
  // Not fanout's: a user's file, one that only looks like an attempt's.
  ASSERT_TRUE(s3->Put("bkt", "jobs/out/notes.txt", "mine").ok());
  ASSERT_TRUE(s3->Put("bkt", "jobs/out/data/x/.a-y-1/part-0.csv", "mine").ok());
  std::vector<std::string> before = Keys("jobs/out/");
  RunResult dry = Fanout({"gc", out, "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.Describe();
  EXPECT_NE(dry.out.find("would remove " + out + "/iter_1/.a-killed-1/part-00000.csv"), std::string::npos)
      << dry.out;
  EXPECT_NE(dry.out.find("would abort multipart upload of " + out + "/iter_2/.a-killed-1/"), std::string::npos)
      << dry.out;
  EXPECT_EQ(Keys("jobs/out/"), before);
  EXPECT_EQ(s3->ListMultipart("bkt", "jobs/out/")->size(), 1u);
  // A run holds the lock: gc waits its turn (exit 2), touching nothing.
  auto store = NewS3Store(out, s3);
  {
    auto lock = store->Lock("a run");
    ASSERT_TRUE(lock.ok());
    RunResult busy = Fanout({"gc", out});
    EXPECT_EQ(busy.exit_code, 2) << busy.Describe();
    EXPECT_NE(busy.err.find("another run holds the lock"), std::string::npos) << busy.err;
    EXPECT_EQ(Keys("jobs/out/"), before);
  }
  RunResult gc = Fanout({"gc", out});
  ASSERT_EQ(gc.exit_code, 0) << gc.Describe();
  EXPECT_NE(gc.out.find("2 objects no marker references removed, 1 stale multipart uploads aborted"),
            std::string::npos)
      << gc.out;
  EXPECT_TRUE(s3->ListMultipart("bkt", "jobs/out/")->empty());
  EXPECT_EQ(*s3->Get("bkt", "jobs/out/notes.txt"), "mine");
  EXPECT_EQ(*s3->Get("bkt", "jobs/out/data/x/.a-y-1/part-0.csv"), "mine");
  RunResult verify = Fanout({"status", out, "--verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.Describe();
  EXPECT_NE(verify.out.find("3 outputs intact"), std::string::npos) << verify.out;
  // A local folder: gc says it is for S3.
  RunResult local = Fanout({"gc", dir_});
  EXPECT_EQ(local.exit_code, 2) << local.Describe();
  EXPECT_NE(local.err.find("fanout gc is for s3:// outputs"), std::string::npos) << local.err;
}

// Planning on S3 is a round trip per output: a resume of an up-to-date run
// reads each marker twice at most (the check before loading, the decision
// after locking), the garbage collection as the run begins reads none of a target
// holding one attempt, and planning sends its requests many at once (with
// every answer 50 ms late, as from a distant region).
TEST_F(S3CliTest, PlanningReadsEachMarkerAtMostTwiceAndManyAtOnce) {
  std::string seq = "[";
  for (int n = 1; n <= 32; ++n) seq += (n > 1 ? ", " : "") + std::to_string(n);
  const std::string out = WriteJob("jobs/many", kTotalsSql, seq + "]");
  ASSERT_EQ(Fanout({"run", dir_ + "/job.yaml"}).exit_code, 0);
  Faults({{"rate", {{"slow", 1.0}}}, {"slow_seconds", 0.05}});
  RunResult resumed = Fanout({"run", dir_ + "/job.yaml", "--resume", "--json"});
  auto stats = Proxy("GET", "stats");
  Faults(nlohmann::json::object());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.Describe();
  auto m = Manifest::FromJson(resumed.out);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->counts.skipped, 32);
  std::map<std::string, int> marker_reads;
  for (const auto& line : stats["log"]) {
    const std::string request = line.get<std::string>();
    if (request.rfind("GET ", 0) == 0 && request.size() > 9 && request.compare(request.size() - 9, 9, "/_SUCCESS") == 0)
      ++marker_reads[request];
  }
  EXPECT_EQ(marker_reads.size(), 32u) << stats["log"].dump();
  for (const auto& [request, reads] : marker_reads) EXPECT_LE(reads, 2) << request;
  EXPECT_GE(stats["max_in_flight"].get<int>(), 4) << "planning sent its requests one by one";
}

// 10% of the requests answered 503 SlowDown at random: the run still commits
// every output, the retries and throttles are in the manifest per iteration.
TEST_F(S3CliTest, ARunWithTenPercentThrottlesCommitsEveryOutput) {
  std::string seq = "[";
  for (int n = 1; n <= 24; ++n) seq += (n > 1 ? ", " : "") + std::to_string(n);
  const std::string out = WriteJob("jobs/slow", kTotalsSql, seq + "]");
  Faults({{"rate", {{"503", 0.1}}}, {"seed", 7}});
  RunResult run = Fanout({"run", dir_ + "/job.yaml", "--json", "--max-workers", "4"});
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  auto stats = Proxy("GET", "stats");
  Faults(nlohmann::json::object());
  auto m = Manifest::FromJson(run.out);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->counts.committed, 24);
  int64_t requests = 0, retries = 0, throttles = 0;
  for (const IterationReport& it : m->iterations) {
    ASSERT_TRUE(it.s3.has_value()) << it.target;
    requests += it.s3->requests, retries += it.s3->retries, throttles += it.s3->throttles;
  }
  const int64_t injected = stats["injected"]["503"];
  EXPECT_GT(throttles, 0);
  EXPECT_LE(throttles, injected);  // the rest hit the run's own requests (lock, manifest)
  EXPECT_EQ(retries, throttles);   // each 503 retried, none given up
  std::cout << "[ figures  ] 24 iterations: " << requests << " requests, " << retries << " retries, " << throttles
            << " throttles in the iterations; the proxy injected " << injected << " 503s in "
            << stats["requests"] << " requests\n";
  RunResult verify = Fanout({"status", out, "--verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.Describe();
  EXPECT_NE(verify.out.find("24 outputs intact"), std::string::npos) << verify.out;
}

// An input at s3://: fetched once into the input cache, the same results as
// the local file, skipped by --resume while its ETag and size stay, rerun when
// the object changes; a missing object is refused before anything runs.
TEST_F(S3CliTest, S3InputsAreFetchedOnceAndAChangedObjectRerunsWhatReadsIt) {
  const std::string csv = SalesCsv(MakeSales());
  ASSERT_TRUE(Client()->Put("bkt", "in/sales.csv", csv).ok());
  WriteFile(dir_ + "/sales.csv", csv);
  JobText job;
  job.output = {"dir: local_out", "format: csv"};
  WriteFile(dir_ + "/local.yaml", job.Render());
  job.inputs = {"sales: s3://bkt/in/sales.csv"};
  job.output = {"dir: s3_in_out", "format: csv"};
  WriteFile(dir_ + "/job.yaml", job.Render());
  ASSERT_EQ(Fanout({"run", dir_ + "/local.yaml"}).exit_code, 0);
  RunResult first = Fanout({"run", dir_ + "/job.yaml", "-v"});
  ASSERT_EQ(first.exit_code, 0) << first.Describe();
  for (const char* target : {"iter_1", "iter_2", "iter_3"}) {
    std::string dir = std::string("/") + target + "/";
    EXPECT_EQ(ReadFile(dir_ + "/s3_in_out" + dir + "part-00000.csv"), ReadFile(dir_ + "/local_out" + dir + "part-00000.csv"))
        << target;
  }
  // The local copy, in the input cache folder.
  auto copies = [&] {
    std::vector<std::pair<std::string, std::filesystem::file_time_type>> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_ + "/.fanout-cache/s3"))
      out.emplace_back(e.path().filename().string(), e.last_write_time());
    return out;
  };
  const auto fetched = copies();
  ASSERT_EQ(fetched.size(), 1u);
  EXPECT_EQ(ReadFile(dir_ + "/.fanout-cache/s3/" + fetched[0].first), csv);
  // Unchanged: --resume skips every iteration; the copy is not fetched again
  // (a HEAD per load, no GET).
  Faults(nlohmann::json::object());
  RunResult again = Fanout({"run", dir_ + "/job.yaml", "--resume", "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_EQ(Manifest::FromJson(again.out)->counts.skipped, 3) << again.out;
  EXPECT_LE(Proxy("GET", "stats")["requests"], 2);
  EXPECT_EQ(copies(), fetched);
  // Changed (same size, other bytes: only the ETag tells): every iteration reads it, all rerun.
  std::string changed = csv;
  changed[changed.size() - 2] = changed[changed.size() - 2] == '1' ? '2' : '1';
  ASSERT_TRUE(Client()->Put("bkt", "in/sales.csv", changed).ok());
  RunResult rerun = Fanout({"run", dir_ + "/job.yaml", "--resume", "--json"});
  ASSERT_EQ(rerun.exit_code, 0) << rerun.Describe();
  auto m = Manifest::FromJson(rerun.out);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->counts.committed, 3) << rerun.out;
  EXPECT_NE(m->iterations[0].run_reason.find("inputs"), std::string::npos) << m->iterations[0].run_reason;
  ASSERT_EQ(copies().size(), 1u);  // the new version's copy; the old one removed
  EXPECT_EQ(ReadFile(dir_ + "/.fanout-cache/s3/" + copies()[0].first), changed);
  // Missing object, wrong secret: refused before anything runs, nothing written.
  job.inputs = {"sales: s3://bkt/in/nope.csv"};
  job.output = {"dir: never", "format: csv"};
  WriteFile(dir_ + "/missing.yaml", job.Render());
  RunResult missing = Fanout({"run", dir_ + "/missing.yaml"});
  EXPECT_EQ(missing.exit_code, 2) << missing.Describe();
  EXPECT_NE(missing.err.find("input 'sales' (s3://bkt/in/nope.csv): no such object"), std::string::npos)
      << missing.err;
  RunResult denied = Fanout({"run", dir_ + "/missing.yaml"}, Env("wrong-secret-value"));
  EXPECT_EQ(denied.exit_code, 2) << denied.Describe();
  EXPECT_NE(denied.err.find("HTTP 403"), std::string::npos) << denied.err;
  EXPECT_EQ(denied.err.find("wrong-secret-value"), std::string::npos) << denied.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/never"));
  // A prefix, a bucket name S3 would refuse: said before any request.
  for (const auto& [url, says] : std::vector<std::pair<std::string, std::string>>{
           {"s3://bkt/in/", "names no object"}, {"s3://Bad_Bucket/x.csv", "is not valid"}}) {
    job.inputs = {url.back() == '/' ? "sales:\n    path: " + url + "\n    format: csv" : "sales: " + url};
    WriteFile(dir_ + "/bad.yaml", job.Render());
    RunResult bad = Fanout({"run", dir_ + "/bad.yaml"});
    EXPECT_EQ(bad.exit_code, 2) << bad.Describe();
    EXPECT_NE(bad.err.find(says), std::string::npos) << bad.err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/never"));
}

// A fetch killed midway leaves its temporary copy (<copy>.tmp-<pid>): the
// next fetch removes it, but not one a live fetch holds (its flock; the pid
// in its name has ended), nor a user's file.
TEST_F(S3CliTest, TheNextFetchRemovesAKilledFetchsTempFileOnly) {
  ASSERT_TRUE(Client()->Put("bkt", "in/sales.csv", SalesCsv(MakeSales())).ok());
  JobText job;
  job.inputs = {"sales: s3://bkt/in/sales.csv"};
  job.output = {"dir: out", "format: csv"};
  WriteFile(dir_ + "/job.yaml", job.Render());
  const std::string cache = dir_ + "/.fanout-cache/s3";
  std::filesystem::create_directories(cache);
  const std::string copy = cache + "/0123456789abcdef-fedcba9876543210.csv";
  const std::string dead = copy + ".tmp-" + std::to_string(DeadPid());
  const std::string held = copy + ".tmp-" + std::to_string(DeadPid());
  ASSERT_NE(dead, held);
  WriteFile(dead, "half");
  WriteFile(held, "in flight");
  auto owner = HoldOwnerLock(held);
  ASSERT_TRUE(owner.ok()) << owner.status().ToString();
  WriteFile(cache + "/notes.tmp-1", "mine");
  RunResult run = Fanout({"run", dir_ + "/job.yaml"});
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_EQ(ReadFile(held), "in flight");
  EXPECT_EQ(ReadFile(cache + "/notes.tmp-1"), "mine");
  EXPECT_EQ(NamesIn(cache, "").size(), 3u);  // the fetched copy, the held temp file, the user's
}

// Each iteration writes ~6.6 MB of CSV: with 5 MiB parts, a multipart upload
// of two parts.
const char kBigSql[] = "SELECT range AS i, $n AS n, repeat('x', 100) AS pad FROM range(60000)";

// The fault-injecting binary kills itself at an S3 fault point of the first
// iteration's publish (FANOUT_FAULT_AT=s3:<point>).
class S3KillTest : public S3CliTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(S3KillTest, AKillBeforeTheMarkerCommitsNothingAndResumeRerunsAndCleansUp) {
  const std::string out = WriteJob("jobs/big", kBigSql, "[1, 2]");
  std::vector<std::string> env = Env();
  env.push_back(std::string("FANOUT_FAULT_AT=s3:") + GetParam());
  env.push_back("FANOUT_S3_PART_SIZE=5242880");
  env.push_back("FANOUT_S3_LOCK_TTL=2");
  RunResult killed = Fanout({"run", dir_ + "/job.yaml"}, env, FANOUT_FAULTY_BIN);
  ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << killed.Describe();
  auto s3 = Client();
  auto store = NewS3Store(out, s3);
  // Nothing is visible as committed: no marker; what was sent lies under the
  // attempt's own keys (and, before the complete, as an open upload).
  EXPECT_EQ(store->Inspect("iter_1").kind, TargetState::Kind::kAbsent);
  EXPECT_EQ(store->Inspect("iter_2").kind, TargetState::Kind::kAbsent);
  const bool before_complete = std::string(GetParam()) == "before-complete";
  // (max_workers: 1 computes one iteration at a time, but the next may
  // compute, and upload, while one commits: another upload may be open.)
  if (before_complete) {
    EXPECT_GE(s3->ListMultipart("bkt", "jobs/big/")->size(), 1u);
  }
  if (!before_complete) {
    EXPECT_FALSE(Keys("jobs/big/iter_").empty());  // parts, no marker
  }
  // Its local staging folder stays (a SIGKILL skips every cleanup), beside
  // the staging folder of a live run of another output (its owner file held;
  // a pid that has ended: the flock, not the pid, says it is live) and a
  // user's folders.
  const std::vector<std::string> left = NamesIn(tmp_, "fanout-s3-staging-");
  ASSERT_EQ(left.size(), 1u);
  const std::string live = tmp_ + "/fanout-s3-staging-0123456789ab-20260101T000000.000Z-abcdef-" +
                           std::to_string(DeadPid());
  std::filesystem::create_directories(live + "/iter_1.1");
  WriteFile(live + "/iter_1.1/part-0.csv", "in flight");
  auto live_owner = HoldOwnerLock(live + "/.fanout-owner");
  ASSERT_TRUE(live_owner.ok()) << live_owner.status().ToString();
  for (const char* mine : {"fanout-s3-staging-mine", "fanout-s3-staging-0123456789ab-notes", "notes"}) {
    std::filesystem::create_directories(tmp_ + "/" + mine);
    WriteFile(tmp_ + "/" + mine + "/keep.txt", "mine");
  }
  const std::vector<std::string> before_resume = NamesIn(tmp_);
  // The status of the killed run, once its lock expired: killed.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  RunResult status = Fanout({"status", out});
  EXPECT_EQ(status.exit_code, 0) << status.Describe();
  EXPECT_NE(status.out.find("killed"), std::string::npos) << status.out;
  // gc sees what the killed attempt left (--dry-run: and leaves it).
  RunResult dry = Fanout({"gc", out, "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.Describe();
  EXPECT_NE(dry.out.find(before_complete ? "would abort multipart upload of " + out + "/iter_"
                                         : "would remove " + out + "/iter_"),
            std::string::npos)
      << dry.out;
  EXPECT_NE(dry.out.find("would remove the local staging folder of a killed run " + tmp_ + "/" + left[0]),
            std::string::npos)
      << dry.out;
  EXPECT_EQ(dry.out.find(live), std::string::npos) << dry.out;
  EXPECT_EQ(NamesIn(tmp_), before_resume);
  // --resume takes the expired lock over, reruns both, collects the orphans.
  RunResult resumed = Fanout({"run", dir_ + "/job.yaml", "--resume"}, Env());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.Describe();
  for (const char* target : {"iter_1", "iter_2"}) {
    TargetState state = store->Inspect(target);
    ASSERT_EQ(state.kind, TargetState::Kind::kOurs) << target;
    EXPECT_EQ(state.marker.rows, 60000);
    EXPECT_EQ(store->Verify(target, state.marker, true), "") << target;
    std::set<std::string> listed;
    for (const MarkerFile& f : state.marker.files) listed.insert(f.key);
    for (const std::string& key : Keys(std::string("jobs/big/") + target + "/.a-"))
      EXPECT_TRUE(listed.count(key)) << key << " is referenced by no marker";
  }
  EXPECT_TRUE(s3->ListMultipart("bkt", "jobs/big/")->empty());
  // The killed run's staging is gone (and the resumed run's own, at its
  // end); the live run's and the user's are untouched.
  std::vector<std::string> kept = before_resume;
  kept.erase(std::find(kept.begin(), kept.end(), left[0]));
  EXPECT_EQ(NamesIn(tmp_), kept);
  EXPECT_EQ(ReadFile(live + "/iter_1.1/part-0.csv"), "in flight");
  EXPECT_EQ(ReadFile(tmp_ + "/fanout-s3-staging-mine/keep.txt"), "mine");
  {
    auto stats = Proxy("GET", "stats");
    EXPECT_EQ(stats["rejected"], 0) << stats.dump();
  }
  // The shipped binary has no fault points: the same environment commits.
  const std::string shipped = WriteJob("jobs/shipped", kBigSql, "[1]");
  RunResult ok = Fanout({"run", dir_ + "/job.yaml"}, env);
  ASSERT_EQ(ok.exit_code, 0) << ok.Describe();
  EXPECT_EQ(NewS3Store(shipped, s3)->Inspect("iter_1").kind, TargetState::Kind::kOurs);
}

INSTANTIATE_TEST_SUITE_P(Points, S3KillTest, ::testing::Values("before-complete", "before-marker"),
                         [](const auto& info) { return std::string(info.param) == "before-marker" ? "BeforeMarker"
                                                                                                   : "BeforeComplete"; });

}  // namespace
}  // namespace fanout
