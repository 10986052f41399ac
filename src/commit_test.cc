#include "commit.h"

#include <gtest/gtest.h>

#include "temp_dir.h"

#include <cerrno>
#include <filesystem>
#include <fstream>

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
