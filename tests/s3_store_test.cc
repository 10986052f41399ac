// s3_store_test: the S3 output store through the OutputStore interface,
// against moto behind the signature-verifying, fault-injecting proxy
// (tests/s3_server.h): publish with a marker written last and
// conditionally, replace (old objects removed only after the new marker),
// a replace failing midway leaves the old output complete, the lock with an
// expiry taken over after a crash, garbage collection of killed attempts
// and stale multipart uploads.
#include "s3_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "fanout/job_spec.h"
#include "s3_server.h"
#include "util.h"

namespace fanout {
namespace {
using namespace fanout::test;
using namespace fanout::s3test;

class S3StoreTest : public S3Test {
 protected:
  std::shared_ptr<S3Client> Client(RetryOptions retry = Fast()) { return std::make_shared<S3Client>(Config(), retry); }
  std::shared_ptr<OutputStore> Store(std::shared_ptr<S3Client> client = nullptr, S3StoreOptions options = {}) {
    return NewS3Store("s3://bkt/out/run", client ? client : Client(), options);
  }
  // Stages `files` (name -> content) for target and publishes them.
  Result<Marker> PublishFiles(OutputStore& store, const std::string& target, int attempt,
                              const std::map<std::string, std::string>& files) {
    auto staged = store.Stage(target, attempt);
    if (!staged.ok()) return staged.status();
    for (const auto& [name, content] : files) WriteFile(staged->dir + "/" + name, content);
    Marker m;
    m.run_id = "run1";
    m.rows = 3;
    return store.Publish(*staged, m, "");
  }
  std::vector<std::string> Keys(S3Client& s3, const std::string& prefix) {
    std::vector<std::string> keys;
    auto listed = s3.List("bkt", prefix);  // kept: a range-for over *temporary would dangle
    EXPECT_TRUE(listed.ok()) << listed.status().ToString();
    if (listed.ok())
      for (const S3Object& o : *listed) keys.push_back(o.key);
    return keys;
  }
};

TEST_F(S3StoreTest, PublishWritesPartsThenTheMarkerThatReadersTrust) {
  auto s3 = Client();
  auto store = Store(s3);
  ASSERT_TRUE(store->BeginRun("run1").ok());
  EXPECT_EQ(store->Inspect("iter_1").kind, TargetState::Kind::kAbsent);
  auto marker = PublishFiles(*store, "iter_1", 1, {{"part-0.csv", "a,b\n1,2\n"}, {"part-1.csv", "3,4\n"}});
  ASSERT_TRUE(marker.ok()) << marker.status().ToString();
  ASSERT_EQ(marker->files.size(), 2u);
  EXPECT_EQ(marker->files[0].name, "part-00000.csv");
  EXPECT_EQ(marker->files[1].bytes, 4);
  EXPECT_NE(marker->files[0].key.find("out/run/iter_1/.a-run1-1/"), std::string::npos) << marker->files[0].key;
  EXPECT_FALSE(marker->files[0].etag.empty());
  TargetState state = store->Inspect("iter_1");
  ASSERT_EQ(state.kind, TargetState::Kind::kOurs);
  EXPECT_EQ(state.marker, *marker);
  EXPECT_EQ(store->Verify("iter_1", state.marker, true), "");
  EXPECT_EQ(*s3->Get("bkt", marker->files[1].key), "3,4\n");
  EXPECT_EQ(*store->ListTargets(), std::vector<std::string>{"iter_1"});
  ASSERT_TRUE(store->EndRun().ok());
  {
    auto stats = Proxy("GET", "stats");
    EXPECT_EQ(stats["rejected"], 0) << stats.dump();
  }
}

TEST_F(S3StoreTest, ReplaceDeletesTheOldObjectsOnlyAfterTheNewMarker) {
  auto s3 = Client();
  auto store = Store(s3);
  ASSERT_TRUE(store->BeginRun("run1").ok());
  auto first = PublishFiles(*store, "iter_1", 1, {{"data_0.csv", "old\n"}});
  ASSERT_TRUE(first.ok());
  auto second = PublishFiles(*store, "iter_1", 2, {{"data_0.csv", "new!\n"}});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(s3->Head("bkt", first->files[0].key)->key.empty());  // superseded: gone
  EXPECT_EQ(*s3->Get("bkt", second->files[0].key), "new!\n");
  EXPECT_EQ(store->Inspect("iter_1").marker.files, second->files);
  EXPECT_TRUE(store->EndRun().ok());
}

// A target published twice by one run with the same attempt number (a
// fused batch's member, Stage(target, 1), run again separately as attempt 1):
// the second publish replaces the objects in place and must not delete them
// as "the old output's".
// The marker PUT takes effect but its answer is lost; the retry is answered
// 412 (If-None-Match: the marker exists). The marker there is this publish's
// own: the output is committed, its objects kept (not "another writer
// published it first", its parts deleted under a committed marker).
TEST_F(S3StoreTest, AMarkerPutWhoseAnswerIsLostIsRecognisedAsOurs) {
  auto s3 = Client();
  auto store = Store(s3);
  ASSERT_TRUE(store->BeginRun("run1").ok());
  for (const char* target : {"iter_1", "iter_2"}) {
    if (std::string(target) == "iter_2") {  // a replace: If-Match, then 412 too
      ASSERT_TRUE(PublishFiles(*store, target, 1, {{"part-0.csv", "a\n0\n"}}).ok());
    }
    Faults({{"on", {{"PUT /_SUCCESS", "lost"}}}});
    auto published = PublishFiles(*store, target, 2, {{"part-0.csv", "a\n1\n"}});
    auto stats = Proxy("GET", "stats");
    Faults(nlohmann::json::object());
    EXPECT_EQ(stats["injected"].value("lost", 0), 1) << stats.dump();
    ASSERT_TRUE(published.ok()) << target << ": " << published.status().ToString();
    TargetState state = store->Inspect(target);
    ASSERT_EQ(state.kind, TargetState::Kind::kOurs) << target;
    EXPECT_EQ(state.marker.files, published->files) << target;
    EXPECT_EQ(store->Verify(target, state.marker, true), "") << target;
  }
  EXPECT_TRUE(store->EndRun().ok());
}

TEST_F(S3StoreTest, RepublishingTheSameAttemptKeepsItsObjects) {
  auto s3 = Client();
  auto store = Store(s3);
  ASSERT_TRUE(store->BeginRun("run1").ok());
  auto first = PublishFiles(*store, "iter_1", 1, {{"part-0.csv", "a\n1\n"}});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = PublishFiles(*store, "iter_1", 1, {{"part-0.csv", "a\n2\n"}});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(store->Verify("iter_1", *second, false), "");
  auto body = s3->Get("bkt", second->files[0].key);
  EXPECT_TRUE(body.ok()) << body.status().ToString();
  EXPECT_TRUE(store->EndRun().ok());
}

TEST_F(S3StoreTest, AReplaceFailingMidwayLeavesTheOldOutputComplete) {
  auto store = Store();
  ASSERT_TRUE(store->BeginRun("run1").ok());
  auto old = PublishFiles(*store, "iter_1", 1, {{"part-0.csv", "old\n"}});
  ASSERT_TRUE(old.ok());
  RetryOptions few = Fast();
  few.max_attempts = 2;
  auto failing = Store(Client(few));
  ASSERT_TRUE(failing->BeginRun("run2").ok());
  // The first part goes up; everything after it fails.
  Faults({{"next", {"pass", "503", "503", "503", "503", "503", "503"}}});
  auto replaced = PublishFiles(*failing, "iter_1", 1, {{"part-0.csv", "new\n"}, {"part-1.csv", "more\n"}});
  EXPECT_FALSE(replaced.ok());
  Faults(nlohmann::json::object());
  TargetState state = store->Inspect("iter_1");
  ASSERT_EQ(state.kind, TargetState::Kind::kOurs);
  EXPECT_EQ(state.marker.files, old->files);
  EXPECT_EQ(store->Verify("iter_1", state.marker, true), "");
  // The next run collects the orphaned part.
  auto collected = CollectGarbage(*store);
  ASSERT_TRUE(collected.ok()) << collected.status().ToString();
  EXPECT_GE(collected->objects, 1);
  EXPECT_EQ(store->Verify("iter_1", state.marker, true), "");
  EXPECT_TRUE(store->EndRun().ok());
  EXPECT_TRUE(failing->EndRun().ok());
}

TEST_F(S3StoreTest, TheLockIsExclusiveAndTakenOverOnlyOnceExpired) {
  S3StoreOptions short_ttl;
  short_ttl.lock_ttl_seconds = 2;
  auto s3 = Client();
  auto first = Store(s3, short_ttl);
  auto lock = first->Lock("run A");
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_TRUE(*first->LockHeld());
  auto second = Store(nullptr, short_ttl)->Lock("run B");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Status::Code::kBusy);
  // Kept alive by its holder past the TTL.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(Store(nullptr, short_ttl)->Lock("run C").status().code(), Status::Code::kBusy);
  lock->reset();
  EXPECT_FALSE(*first->LockHeld());
  // A holder that died: its lock object stays, expired; the next run takes it.
  ASSERT_TRUE(s3->Put("bkt", "out/run/_fanout/lock", "{\"holder\": \"x\", \"expires\": 1000}").ok());
  auto taken = Store(nullptr, short_ttl)->Lock("run D");
  EXPECT_TRUE(taken.ok()) << taken.status().ToString();
}

TEST_F(S3StoreTest, VerifyWithChecksumsHashesTheBytes) {
  auto store = Store();
  ASSERT_TRUE(store->BeginRun("run1").ok());
  auto marker = PublishFiles(*store, "iter_1", 1, {{"part-0.csv", "a,b\n1,2\n"}});
  ASSERT_TRUE(marker.ok());
  EXPECT_EQ(store->Verify("iter_1", *marker, true), "");
  // A marker whose xxh3 is not the bytes' (sizes and ETags agree): only the
  // checksum check sees it.
  Marker wrong = *marker;
  wrong.files[0].xxh3 = std::string(32, '0');
  EXPECT_EQ(store->Verify("iter_1", wrong, false), "");
  EXPECT_NE(store->Verify("iter_1", wrong, true).find("part-00000.csv: xxh3 "), std::string::npos);
  EXPECT_TRUE(store->EndRun().ok());
}

// 3.5 MiB, every 1 MiB chunk different: a hash of fewer chunks, or of them
// out of order, is another hash.
std::string BigBody() {
  std::string body;
  for (int64_t i = 0; static_cast<int64_t>(body.size()) < (7 << 19); ++i) body += std::to_string(i * 7919) + ",";
  return body.substr(0, 7 << 19);
}

// Verify reads back in 1 MiB ranged GETs (BigBody: 4 of them).
S3StoreOptions SmallReadChunks() {
  S3StoreOptions small;
  small.read_chunk = 1 << 20;
  return small;
}

// --verify reads an object back in ranged GETs of read_chunk bytes (the
// marker's xxh3 is the one-shot hash of the whole file) and finds bytes
// changed in a later chunk, ETag and size agreeing.
TEST_F(S3StoreTest, VerifyStreamsTheBytesInChunksAndFindsAChangeInALaterOne) {
  auto s3 = Client();
  auto store = Store(s3, SmallReadChunks());
  ASSERT_TRUE(store->BeginRun("run1").ok());
  const std::string body = BigBody();
  auto marker = PublishFiles(*store, "iter_1", 1, {{"part-0.csv", body}});
  ASSERT_TRUE(marker.ok()) << marker.status().ToString();
  EXPECT_EQ(marker->files[0].xxh3, HashHex(body));
  Faults(nlohmann::json::object());  // resets the request count
  EXPECT_EQ(store->Verify("iter_1", *marker, true), "");
  EXPECT_EQ(Proxy("GET", "stats")["requests"], 1 + 4);  // a HEAD, 4 ranged GETs (3.5 MiB)
  // Same size, one byte other in the third chunk; the marker's ETag is the
  // new object's (as a store whose ETag is no digest could leave it): only
  // the bytes tell.
  std::string changed = body;
  const size_t at = (5 << 19) + 17;
  changed[at] = changed[at] == '0' ? '1' : '0';
  auto etag = s3->Put("bkt", marker->files[0].key, changed);
  ASSERT_TRUE(etag.ok());
  Marker stale = *marker;
  stale.files[0].etag = *etag;
  EXPECT_EQ(store->Verify("iter_1", stale, false), "");
  std::string problem = store->Verify("iter_1", stale, true);
  EXPECT_EQ(problem.rfind("part-00000.csv: xxh3 " + HashHex(changed) + " in the store, " + HashHex(body), 0), 0u)
      << problem;
  EXPECT_TRUE(store->EndRun().ok());
}

// An object replaced while --verify reads it (the GET of its second chunk
// held back by the proxy meanwhile): said so, never hashed as a mix.
TEST_F(S3StoreTest, VerifySaysAnObjectChangedWhileItWasRead) {
  auto s3 = Client();
  auto store = Store(s3, SmallReadChunks());
  ASSERT_TRUE(store->BeginRun("run1").ok());
  const std::string body = BigBody();
  auto marker = PublishFiles(*store, "iter_1", 1, {{"part-0.csv", body}});
  ASSERT_TRUE(marker.ok()) << marker.status().ToString();
  // HEAD and the first GET pass; the second GET waits 3 s before it is sent on.
  Faults({{"next", {"pass", "pass", "slow"}}, {"slow_seconds", 3}});
  std::string problem;
  std::thread verify([&] { problem = store->Verify("iter_1", *marker, true); });
  for (int i = 0; i < 400 && Proxy("GET", "stats")["requests"] < 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(s3->Put("bkt", marker->files[0].key, body + "x").ok());  // while the second GET waits
  verify.join();
  EXPECT_EQ(problem.rfind("part-00000.csv: changed while it was read (ETag " + marker->files[0].etag, 0), 0u)
      << problem;
  EXPECT_NE(problem.find("verify again"), std::string::npos) << problem;
  EXPECT_TRUE(store->EndRun().ok());
}

TEST_F(S3StoreTest, ReleasingALockTakenOverLeavesTheNewHoldersLock) {
  auto s3 = Client();
  S3StoreOptions short_ttl;
  short_ttl.lock_ttl_seconds = 30;
  auto lock = Store(s3, short_ttl)->Lock("run A");
  ASSERT_TRUE(lock.ok());
  // Run A stalled past its expiry and run B took the lock over.
  const std::string theirs = "{\"holder\": \"b\", \"expires\": 99999999999}";
  ASSERT_TRUE(s3->Put("bkt", "out/run/_fanout/lock", theirs).ok());
  lock->reset();  // A ends: its release is conditional on its own version
  EXPECT_EQ(*s3->Get("bkt", "out/run/_fanout/lock"), theirs);
  // A lock still A's own is released.
  ASSERT_TRUE(s3->Delete("bkt", "out/run/_fanout/lock").ok());
  auto mine = Store(s3, short_ttl)->Lock("run C");
  ASSERT_TRUE(mine.ok());
  mine->reset();
  EXPECT_TRUE(s3->Head("bkt", "out/run/_fanout/lock")->key.empty());
}

TEST_F(S3StoreTest, GcAbortsStaleUploadsAndRemovesUnreferencedAttemptsOnly) {
  auto s3 = Client();
  auto store = Store(s3);
  ASSERT_TRUE(store->BeginRun("run1").ok());
  auto live = PublishFiles(*store, "iter_1", 1, {{"part-0.csv", "live\n"}});
  ASSERT_TRUE(live.ok());
  ASSERT_TRUE(s3->Put("bkt", "out/run/iter_1/.a-killed-1/part-00000.csv", "orphan").ok());
  ASSERT_TRUE(s3->Put("bkt", "out/run/iter_2/.a-killed-1/part-00000.csv", "orphan").ok());
  ASSERT_TRUE(s3->CreateMultipart("bkt", "out/run/iter_3/.a-killed-1/part-00000.csv").ok());
  ASSERT_TRUE(s3->Put("bkt", "out/run/notes.txt", "not fanout's").ok());
  auto collected = CollectGarbage(*store);
  ASSERT_TRUE(collected.ok()) << collected.status().ToString();
  EXPECT_EQ(collected->objects, 2);
  EXPECT_EQ(collected->uploads, 1);
  EXPECT_EQ(store->Verify("iter_1", store->Inspect("iter_1").marker, true), "");
  EXPECT_EQ(*s3->Get("bkt", "out/run/notes.txt"), "not fanout's");
  EXPECT_TRUE(s3->ListMultipart("bkt", "out/run/")->empty());
  EXPECT_TRUE(store->EndRun().ok());
}

TEST_F(S3StoreTest, WrongSecretIsRefusedBeforeAnythingIsWritten) {
  auto bad = NewS3Store("s3://bkt/out/run", std::make_shared<S3Client>(Config("wrong"), Fast()));
  JobSpec spec;
  Status st = bad->CheckLocation(spec);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_NE(st.message().find("SignatureDoesNotMatch"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find("wrong"), std::string::npos) << st.message();
  EXPECT_TRUE(Client()->List("bkt", "")->empty());
}

// The fanout binary, the same job once with a local output.dir and once with
// s3://: every iteration's files have the same content, and a second run
// with output.mode skip_existing trusts the markers and runs nothing.
TEST_F(S3StoreTest, TheSameJobLocallyAndOnS3GivesTheSameContent) {
  WriteFile(dir_ + "/sales.csv", SalesCsv(MakeSales()));
  JobText job;
  job.output = {"dir: out", "format: csv"};
  WriteFile(dir_ + "/local.yaml", job.Render());
  job.output = {"dir: s3://bkt/jobs/out", "format: csv"};
  WriteFile(dir_ + "/s3.yaml", job.Render());
  std::vector<std::string> env = {std::string("AWS_ACCESS_KEY_ID=") + kKeyId,
                                  std::string("AWS_SECRET_ACCESS_KEY=") + kSecret, "AWS_REGION=us-east-1",
                                  "AWS_ENDPOINT_URL_S3=http://127.0.0.1:" + port_, "AWS_PROFILE=",
                                  "AWS_SESSION_TOKEN="};
  RunResult local = RunProcess({FANOUT_BIN, "run", dir_ + "/local.yaml"}, dir_, std::chrono::seconds(120), env);
  ASSERT_EQ(local.exit_code, 0) << local.Describe();
  RunResult remote = RunProcess({FANOUT_BIN, "run", dir_ + "/s3.yaml"}, dir_, std::chrono::seconds(120), env);
  ASSERT_EQ(remote.exit_code, 0) << remote.Describe();
  auto s3 = Client();
  auto store = NewS3Store("s3://bkt/jobs/out", s3);
  for (int n = 1; n <= 3; ++n) {
    std::string target = "iter_" + std::to_string(n);
    TargetState state = store->Inspect(target);
    ASSERT_EQ(state.kind, TargetState::Kind::kOurs) << target;
    Marker local_marker = *Marker::FromJson(ReadFile(dir_ + "/out/" + target + "/_SUCCESS"));
    ASSERT_EQ(state.marker.files.size(), local_marker.files.size());
    EXPECT_EQ(state.marker.rows, local_marker.rows);
    for (size_t i = 0; i < state.marker.files.size(); ++i) {
      EXPECT_EQ(*s3->Get("bkt", state.marker.files[i].key),
                ReadFile(dir_ + "/out/" + target + "/" + local_marker.files[i].name));
      EXPECT_EQ(state.marker.files[i].xxh3, local_marker.files[i].xxh3);
    }
  }
  EXPECT_EQ(store->ListRuns()->size(), 1u);
  {
    auto stats = Proxy("GET", "stats");
    EXPECT_EQ(stats["rejected"], 0) << stats.dump();
  }
  // Wrong secret: a clear error before anything runs, nothing written.
  env[1] = "AWS_SECRET_ACCESS_KEY=wrong-secret";
  job.output = {"dir: s3://bkt/jobs/other", "format: csv"};
  WriteFile(dir_ + "/other.yaml", job.Render());
  RunResult refused = RunProcess({FANOUT_BIN, "run", dir_ + "/other.yaml"}, dir_, std::chrono::seconds(60), env);
  EXPECT_EQ(refused.exit_code, 2) << refused.Describe();
  EXPECT_NE(refused.err.find("SignatureDoesNotMatch"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find("wrong-secret"), std::string::npos) << refused.err;
  EXPECT_TRUE(s3->List("bkt", "jobs/other")->empty());
}

}  // namespace
}  // namespace fanout
