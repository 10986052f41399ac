#include "commit.h"

#include <gtest/gtest.h>

#include "temp_dir.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace fanout {
namespace {

namespace fs = std::filesystem;

class CommitTest : public TempDirTest {
 protected:

  // Stages one attempt holding `content` as the engine would write it.
  std::string Stage(Committer& c, const std::string& target, const std::string& content, int attempt = 1) {
    auto dir = c.StagingDir(target, attempt);
    EXPECT_TRUE(dir.ok()) << dir.status().message();
    std::ofstream(*dir + "/part-00000.parquet") << content;
    return *dir;
  }
  std::string Read(const std::string& rel) {
    std::ifstream in(dir_ + "/" + rel);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

TEST_F(CommitTest, PublishesNewOutputWithMarker) {
  auto storage = NewPosixStorage();
  Committer c(*storage, dir_, "run1");
  ASSERT_TRUE(c.Start().ok());
  auto r = c.Publish(Stage(c, "iter_2", "new"), "iter_2", {{"run_id", "run1"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Read("iter_2/part-00000.parquet"), "new");
  auto marker = ReadSuccessMarker(*storage, dir_, "iter_2");
  EXPECT_EQ(marker["run_id"], "run1");
  EXPECT_EQ(marker["files"][0]["bytes"], 3);
  EXPECT_EQ(marker["files"][0]["xxh3"].get<std::string>().size(), 32u);
}

TEST_F(CommitTest, ReplaceSwapsWholeFolderAndRemovesOldFiles) {
  auto storage = NewPosixStorage();
  fs::create_directories(dir_ + "/iter_2");
  std::ofstream(dir_ + "/iter_2/part-00000.parquet") << "old";
  std::ofstream(dir_ + "/iter_2/part-00001.parquet") << "old-extra";
  Committer c(*storage, dir_, "run2");
  ASSERT_TRUE(c.Start().ok());
  ASSERT_TRUE(c.Publish(Stage(c, "iter_2", "new"), "iter_2", {}).ok());
  EXPECT_EQ(Read("iter_2/part-00000.parquet"), "new");
  EXPECT_FALSE(fs::exists(dir_ + "/iter_2/part-00001.parquet"));
  ASSERT_TRUE(c.Finish().ok());
  EXPECT_FALSE(fs::exists(dir_ + "/.fanout-staging/run2"));
}

TEST_F(CommitTest, StaleStagingOfOtherRunsIsRemoved) {
  auto storage = NewPosixStorage();
  fs::create_directories(dir_ + "/.fanout-staging/killed-run/iter_9.1");
  Committer c(*storage, dir_, "run3");
  ASSERT_TRUE(c.RemoveStaleStaging().ok());
  ASSERT_TRUE(c.Start().ok());
  EXPECT_FALSE(fs::exists(dir_ + "/.fanout-staging/killed-run"));
  EXPECT_TRUE(fs::exists(dir_ + "/.fanout-staging/run3"));
}

// Every storage call of the commit path, failed in turn: the old output stays
// byte-identical and no partial folder or marker appears.
TEST_F(CommitTest, InjectedFaultAtEveryCallLeavesOldOutputIntact) {
  int faults_seen = 0;
  for (int64_t n = 1;; ++n) {
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/iter_2");
    std::ofstream(dir_ + "/iter_2/part-00000.parquet") << "old";
    std::ofstream(dir_ + "/iter_2/_SUCCESS") << "{\"run_id\": \"old\"}";
    auto faulty = std::make_shared<FaultyStorage>(NewPosixStorage(), n, FaultyStorage::Action::kFail, EIO, false);
    Committer c(*faulty, dir_, "run");
    Status st = c.Start();
    std::string staging;
    if (st.ok()) {
      auto dir = c.StagingDir("iter_2", 1);
      st = dir.status();
      if (st.ok()) {
        staging = *dir;
        std::ofstream(staging + "/part-00000.parquet") << "new";
        st = c.Publish(staging, "iter_2", {{"run_id", "new"}}).status();
      }
    }
    if (faulty->faults() == 0) {
      ASSERT_TRUE(st.ok());
      EXPECT_EQ(Read("iter_2/part-00000.parquet"), "new");
      break;  // past the last call: every call has been failed once
    }
    ++faults_seen;
    std::string content = Read("iter_2/part-00000.parquet");
    std::string marker = Read("iter_2/_SUCCESS");
    if (st.ok()) {
      // Only a failure after the exchange (removing the old copy) can leave a
      // committed new output: then it must be complete.
      EXPECT_EQ(content, "new") << "fault at call " << n;
      EXPECT_NE(marker.find("\"new\""), std::string::npos);
    } else {
      EXPECT_EQ(content, "old") << "fault at call " << n;
      EXPECT_EQ(marker, "{\"run_id\": \"old\"}") << "fault at call " << n;
    }
    ASSERT_LT(n, 100) << "the commit path never finished";
  }
  EXPECT_GE(faults_seen, 6);
}

// The real filesystem, with a sync that takes `sync_seconds` and is counted.
class SlowSyncStorage : public StorageWrapper {
 public:
  explicit SlowSyncStorage(double sync_seconds) : StorageWrapper(NewPosixStorage()), sync_seconds_(sync_seconds) {}
  int syncs() const { return syncs_.load(); }

  Status SyncFilesystem(const std::string& path) override {
    ++syncs_;
    std::this_thread::sleep_for(std::chrono::duration<double>(sync_seconds_));
    return base_->SyncFilesystem(path);
  }

 private:
  double sync_seconds_;
  std::atomic<int> syncs_{0};
};

// On a slow device, an attempt that finishes while another one is still
// staged waits for it, so both are made durable by one sync, not two.
TEST_F(CommitTest, AGroupWaitsForAttemptsStillStaged) {
  SlowSyncStorage storage(0.3);
  Committer c(storage, dir_, "run", /*max_group_wait=*/10.0);
  ASSERT_TRUE(c.Start().ok());
  ASSERT_TRUE(c.Publish(Stage(c, "iter_0", "warm"), "iter_0", {}).ok());  // nobody else staged: no wait
  ASSERT_EQ(storage.syncs(), 1);
  std::string a = Stage(c, "iter_1", "a"), b = Stage(c, "iter_2", "b");
  Status sa;
  std::thread first([&] { sa = c.Publish(a, "iter_1", {}).status(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // well within the 0.3 s the last sync took
  Status sb = c.Publish(b, "iter_2", {}).status();
  first.join();
  ASSERT_TRUE(sa.ok()) << sa.message();
  ASSERT_TRUE(sb.ok()) << sb.message();
  EXPECT_EQ(storage.syncs(), 2);
  EXPECT_EQ(Read("iter_1/part-00000.parquet"), "a");
  EXPECT_EQ(Read("iter_2/part-00000.parquet"), "b");
}

// A staged attempt that fails instead (Discard) releases the waiting leader,
// and one that never comes delays a group by at most the wait: no hang.
TEST_F(CommitTest, AGroupDoesNotWaitForAttemptsThatWillNotCome) {
  SlowSyncStorage storage(0.05);
  Committer c(storage, dir_, "run", /*max_group_wait=*/10.0);
  ASSERT_TRUE(c.Start().ok());
  ASSERT_TRUE(c.Publish(Stage(c, "iter_0", "warm"), "iter_0", {}).ok());
  std::string a = Stage(c, "iter_1", "a"), failed = Stage(c, "iter_2", "x");
  Status sa;
  std::thread first([&] { sa = c.Publish(a, "iter_1", {}).status(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  c.Discard(failed);
  first.join();
  ASSERT_TRUE(sa.ok()) << sa.message();
  EXPECT_FALSE(fs::exists(failed));
  EXPECT_FALSE(fs::exists(dir_ + "/iter_2"));

  (void)Stage(c, "iter_3", "never published");
  ASSERT_TRUE(c.Publish(Stage(c, "iter_4", "d"), "iter_4", {}).ok());
  EXPECT_EQ(storage.syncs(), 3);
  EXPECT_EQ(Read("iter_4/part-00000.parquet"), "d");
}

// A failed publish removes its staging directory: nothing is left to clean.
TEST_F(CommitTest, AFailedPublishRemovesItsStaging) {
  auto storage = NewPosixStorage();
  Committer c(*storage, dir_, "run");
  ASSERT_TRUE(c.Start().ok());
  auto empty = c.StagingDir("iter_5", 1);  // the engine wrote nothing
  ASSERT_TRUE(empty.ok());
  auto r = c.Publish(*empty, "iter_5", {});
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(fs::exists(*empty));
  EXPECT_FALSE(fs::exists(dir_ + "/iter_5"));
}

TEST_F(CommitTest, WriteFileAtomicReplaces) {
  auto storage = NewPosixStorage();
  ASSERT_TRUE(WriteFileAtomic(*storage, dir_ + "/m.json", "one").ok());
  ASSERT_TRUE(WriteFileAtomic(*storage, dir_ + "/m.json", "two").ok());
  EXPECT_EQ(Read("m.json"), "two");
  EXPECT_FALSE(fs::exists(dir_ + "/m.json.tmp"));
}

TEST_F(CommitTest, LockIsExclusiveAndNamesTheHolder) {
  auto storage = NewPosixStorage();
  auto first = storage->Lock(dir_ + "/lock", "run A, pid 1");
  ASSERT_TRUE(first.ok());
  // flock is per open file description: a second open in this process conflicts too.
  auto second = storage->Lock(dir_ + "/lock", "run B");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Status::Code::kBusy);
  EXPECT_NE(second.status().message().find("run A, pid 1"), std::string::npos);
  first->reset();
  EXPECT_TRUE(storage->Lock(dir_ + "/lock", "run C").ok());
}

}  // namespace
}  // namespace fanout
