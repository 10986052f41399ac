#include "commit.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "fakes.h"
#include "faulty_storage.h"
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

// A marker of run `run_id` (Publish adds the files).
Marker RunMarker(const std::string& run_id) {
  Marker m;
  m.run_id = run_id;
  return m;
}

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
  // A _SUCCESS of fanout's shape (run "old"), listing part-00000.parquet.
  static std::string OldMarker() {
    return R"({"fanout_version": 1, "run_id": "old", "fingerprint": "f", )"
           R"("files": [{"name": "part-00000.parquet", "bytes": 3, "xxh3": "x"}]})";
  }
  // An earlier output of fanout at dir_/target.
  void OldOutput(const std::string& target) {
    fs::create_directories(dir_ + "/" + target);
    std::ofstream(dir_ + "/" + target + "/part-00000.parquet") << "old";
    std::ofstream(dir_ + "/" + target + "/_SUCCESS") << OldMarker();
  }
};

TEST_F(CommitTest, PublishesNewOutputWithMarker) {
  auto storage = NewPosixStorage();
  Committer c(*storage, dir_, "run1");
  ASSERT_TRUE(c.Start().ok());
  auto r = c.Publish(Stage(c, "iter_2", "new"), "iter_2", RunMarker("run1"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Read("iter_2/part-00000.parquet"), "new");
  auto marker = nlohmann::json::parse(Read("iter_2/_SUCCESS"));
  EXPECT_EQ(marker["run_id"], "run1");
  EXPECT_EQ(marker["files"][0]["bytes"], 3);
  EXPECT_EQ(marker["files"][0]["xxh3"].get<std::string>().size(), 32u);
}

TEST_F(CommitTest, ReplaceSwapsWholeFolderAndRemovesOldFiles) {
  auto storage = NewPosixStorage();
  OldOutput("iter_2");
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
    OldOutput("iter_2");
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
        st = c.Publish(staging, "iter_2", RunMarker("new")).status();
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
      EXPECT_EQ(marker, OldMarker()) << "fault at call " << n;
    }
    ASSERT_LT(n, 100) << "the commit path never finished";
  }
  EXPECT_GE(faults_seen, 6);
}

// The real filesystem, with a sync that takes `sync_seconds` (changeable) and
// is counted.
class SlowSyncStorage : public StorageWrapper {
 public:
  explicit SlowSyncStorage(double sync_seconds) : StorageWrapper(NewPosixStorage()), sync_seconds_(sync_seconds) {}
  int syncs() const { return syncs_.load(); }
  void set_sync_seconds(double s) { sync_seconds_ = s; }

  Status SyncFilesystem(const std::string& path) override {
    ++syncs_;
    std::this_thread::sleep_for(std::chrono::duration<double>(sync_seconds_.load()));
    return base_->SyncFilesystem(path);
  }

 private:
  std::atomic<double> sync_seconds_;
  std::atomic<int> syncs_{0};
};

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Publishes on a thread of its own, timing it.
struct TimedPublish {
  TimedPublish(Committer& c, const std::string& staging, const std::string& target)
      : thread([this, &c, staging, target] {
          auto t = std::chrono::steady_clock::now();
          status = c.Publish(staging, target, {}).status();
          seconds = Since(t);
        }) {}
  void Join() { thread.join(); }
  Status status;
  double seconds = 0;
  std::thread thread;  // last: starts once the fields above exist
};

// A committer whose first group's sync took 2 s, so that a leader may wait up
// to 2 s for attempts still staged; syncs take no time after that. A leader
// that waited out the window takes at least kWindow: the tests bound a
// publish by just under that, which no scheduling delay short of ~2 s can
// exceed (the bound is the behaviour: released before the window ends).
class GroupCommitTest : public CommitTest {
 protected:
  void SetUp() override {
    CommitTest::SetUp();
    c_ = std::make_unique<Committer>(storage_, dir_, "run", /*max_group_wait=*/10.0);
    ASSERT_TRUE(c().Start().ok());
    storage_.set_sync_seconds(kWindow);
    ASSERT_TRUE(c().Publish(Stage(c(), "iter_0", "warm"), "iter_0", {}).ok());  // nobody else staged: no wait
    ASSERT_EQ(storage_.syncs(), 1);
    storage_.set_sync_seconds(0);
  }
  Committer& c() { return *c_; }
  // Returns once the publish of `staging` on another thread has written its
  // marker, i.e. is about to join (or lead) a group (or is already done).
  static void WaitUntilSealed(const std::string& staging) {
    ASSERT_TRUE(test::WaitUntil([&] { return fs::exists(staging + "/_SUCCESS") || !fs::exists(staging); }))
        << "the publish never sealed";
  }
  static constexpr double kWindow = 2.0;
  SlowSyncStorage storage_{0};
  std::unique_ptr<Committer> c_;
};

// On a slow device, an attempt that finishes while another one is still
// staged waits for it, and goes as soon as it has joined: both are made
// durable by one sync, not two, and no one waits out the whole window.
TEST_F(GroupCommitTest, WaitsForAttemptsStillStaged) {
  std::string a = Stage(c(), "iter_1", "a"), b = Stage(c(), "iter_2", "b");
  TimedPublish first(c(), a, "iter_1");
  WaitUntilSealed(a);
  Status sb = c().Publish(b, "iter_2", {}).status();
  first.Join();
  ASSERT_TRUE(first.status.ok()) << first.status.message();
  ASSERT_TRUE(sb.ok()) << sb.message();
  EXPECT_EQ(storage_.syncs(), 2);
  EXPECT_LT(first.seconds, kWindow - 0.1) << "the leader waited out the window after the last attempt had joined";
  EXPECT_EQ(Read("iter_1/part-00000.parquet"), "a");
  EXPECT_EQ(Read("iter_2/part-00000.parquet"), "b");
}

// A staged attempt that fails instead (Discard) releases the waiting leader
// at once; one that never comes delays a group by the window, not forever.
TEST_F(GroupCommitTest, DoesNotWaitForAttemptsThatWillNotCome) {
  std::string a = Stage(c(), "iter_1", "a"), failed = Stage(c(), "iter_2", "x");
  TimedPublish first(c(), a, "iter_1");
  WaitUntilSealed(a);
  c().Discard(failed);
  first.Join();
  ASSERT_TRUE(first.status.ok()) << first.status.message();
  EXPECT_LT(first.seconds, kWindow - 0.1) << "the leader was not released by the Discard";
  EXPECT_FALSE(fs::exists(failed));
  EXPECT_FALSE(fs::exists(dir_ + "/iter_2"));

  // A window of 50 ms: an attempt that never comes delays a group that long.
  storage_.set_sync_seconds(0.05);
  ASSERT_TRUE(c().Publish(Stage(c(), "iter_3", "c"), "iter_3", {}).ok());
  (void)Stage(c(), "iter_4", "never published");
  ASSERT_TRUE(c().Publish(Stage(c(), "iter_5", "d"), "iter_5", {}).ok());
  EXPECT_EQ(storage_.syncs(), 4);
  EXPECT_EQ(Read("iter_5/part-00000.parquet"), "d");
}

// A failed publish removes its staging directory, whether it failed sealing
// (nothing written) or in its group (the sync failed): nothing is left over.
TEST_F(CommitTest, AFailedPublishRemovesItsStaging) {
  auto storage = NewPosixStorage();
  Committer c(*storage, dir_, "run");
  ASSERT_TRUE(c.Start().ok());
  auto empty = c.StagingDir("iter_5", 1);  // the engine wrote nothing
  ASSERT_TRUE(empty.ok());
  ASSERT_FALSE(c.Publish(*empty, "iter_5", {}).ok());
  EXPECT_FALSE(fs::exists(*empty));
  EXPECT_FALSE(fs::exists(dir_ + "/iter_5"));

  // Calls: mkdir staging root (1), mkdir attempt (2), write _SUCCESS (3), syncfs (4).
  FaultyStorage faulty(NewPosixStorage(), 4, FaultyStorage::Action::kFail, EIO, false);
  Committer f(faulty, dir_ + "/other", "run");
  ASSERT_TRUE(f.Start().ok());
  std::string staging = Stage(f, "iter_6", "new");
  auto r = f.Publish(staging, "iter_6", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(faulty.faults(), 1);
  EXPECT_NE(r.status().message().find("syncfs"), std::string::npos) << r.status().message();
  EXPECT_FALSE(fs::exists(staging));
  EXPECT_FALSE(fs::exists(dir_ + "/other/iter_6"));
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

// Anything at the target that is not an output of fanout fails the publish
// (not retried: kFailed) and stays exactly as it was; the staging is removed.
TEST_F(CommitTest, PublishNeverReplacesWhatFanoutDidNotWrite) {
  auto storage = NewPosixStorage();
  fs::create_directories(dir_ + "/elsewhere");
  std::ofstream(dir_ + "/elsewhere/_SUCCESS") << OldMarker();
  fs::create_directories(dir_ + "/out/no_marker");
  std::ofstream(dir_ + "/out/no_marker/notes.txt") << "mine";
  fs::create_directories(dir_ + "/out/spark");
  std::ofstream(dir_ + "/out/spark/_SUCCESS") << "";
  fs::create_directories(dir_ + "/out/torn");
  std::ofstream(dir_ + "/out/torn/_SUCCESS") << R"({"fanout_version": 1, "run_id": "x", "fi)";
  std::ofstream(dir_ + "/out/file") << "a file";
  fs::create_directory_symlink(dir_ + "/elsewhere", dir_ + "/out/link");
  ASSERT_EQ(mkfifo((dir_ + "/out/fifo").c_str(), 0644), 0);
  Committer c(*storage, dir_ + "/out", "run");
  ASSERT_TRUE(c.Start().ok());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"no_marker", "a folder without _SUCCESS"},
      {"spark", "empty _SUCCESS"},
      {"torn", "not fanout's marker"},
      {"file", "a regular file"},
      {"link", "a symbolic link"},
      {"fifo", "a special file"}};
  for (const auto& [target, what] : cases) {
    SCOPED_TRACE(target);
    auto staging = c.StagingDir(target, 1);
    ASSERT_TRUE(staging.ok());
    std::ofstream(*staging + "/part-00000.parquet") << "new";
    auto r = c.Publish(*staging, target, {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kFailed);
    EXPECT_NE(r.status().message().find(what), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("never replaces"), std::string::npos) << r.status().message();
    EXPECT_FALSE(fs::exists(*staging));
  }
  EXPECT_EQ(Read("out/no_marker/notes.txt"), "mine");
  EXPECT_TRUE(fs::is_symlink(dir_ + "/out/link"));
  EXPECT_EQ(Read("out/file"), "a file");
  EXPECT_TRUE(fs::is_fifo(dir_ + "/out/fifo"));
  EXPECT_EQ(Read("elsewhere/_SUCCESS"), OldMarker());
}

TEST_F(CommitTest, StagingThatIsALinkIsNeverEmptied) {
  auto storage = NewPosixStorage();
  fs::create_directories(dir_ + "/precious/keep");
  fs::create_directories(dir_ + "/out");
  fs::create_directory_symlink(dir_ + "/precious", dir_ + "/out/.fanout-staging");
  Committer c(*storage, dir_ + "/out", "run");
  Status st = c.RemoveStaleStaging();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("is not a folder"), std::string::npos) << st.message();
  EXPECT_TRUE(fs::exists(dir_ + "/precious/keep"));
}

TEST_F(CommitTest, FinishRemovesTheStagingFolderOnlyWhenEmpty) {
  auto storage = NewPosixStorage();
  Committer a(*storage, dir_, "a");
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(a.Finish().ok());
  EXPECT_FALSE(fs::exists(dir_ + "/.fanout-staging"));
  Committer b(*storage, dir_, "b");
  ASSERT_TRUE(b.Start().ok());
  std::ofstream(dir_ + "/.fanout-staging/someone.txt") << "x";
  ASSERT_TRUE(b.Finish().ok());
  EXPECT_EQ(Read(".fanout-staging/someone.txt"), "x");
}

// A full disk fails the write after creating the temp file: it is removed.
TEST_F(CommitTest, WriteFileAtomicLeavesNoTempFileWhenTheDiskIsFull) {
  for (int n : {1, 2}) {  // the write, the rename
    SCOPED_TRACE(n);
    FaultyStorage full(NewPosixStorage(), n, FaultyStorage::Action::kFail, ENOSPC, /*sticky=*/true);
    EXPECT_FALSE(WriteFileAtomic(full, dir_ + "/m.json", "data").ok());
    EXPECT_FALSE(fs::exists(dir_ + "/m.json.tmp"));
    EXPECT_FALSE(fs::exists(dir_ + "/m.json"));
  }
}

TEST_F(CommitTest, LockHeldTellsALiveHolderFromNone) {
  auto storage = NewPosixStorage();
  EXPECT_FALSE(*storage->LockHeld(dir_ + "/lock"));  // no file
  {
    auto held = storage->Lock(dir_ + "/lock", "run A");
    ASSERT_TRUE(held.ok());
    EXPECT_TRUE(*storage->LockHeld(dir_ + "/lock"));
  }
  EXPECT_FALSE(*storage->LockHeld(dir_ + "/lock"));
  EXPECT_EQ(Read("lock"), "run A");  // probing wrote nothing
  EXPECT_TRUE(storage->Lock(dir_ + "/lock", "run B").ok());
}

TEST_F(CommitTest, LockRefusesALinkAtItsPath) {
  auto storage = NewPosixStorage();
  std::ofstream(dir_ + "/precious.txt") << "keep me";
  fs::create_symlink(dir_ + "/precious.txt", dir_ + "/lock");
  EXPECT_FALSE(storage->Lock(dir_ + "/lock", "run").ok());
  EXPECT_EQ(Read("precious.txt"), "keep me");
}

// Someone creates a folder of theirs at the target while the attempt is being
// made durable: the publish (which checks under the group commit) fails that
// iteration only, and their folder is kept.
class ForeignAppearsDuringSync : public StorageWrapper {
 public:
  explicit ForeignAppearsDuringSync(std::string target)
      : StorageWrapper(NewPosixStorage()), target_(std::move(target)) {}
  Status SyncFilesystem(const std::string& path) override {
    fs::create_directories(target_);
    std::ofstream(target_ + "/theirs.txt") << "theirs";
    return base_->SyncFilesystem(path);
  }

 private:
  std::string target_;
};

TEST_F(CommitTest, ATargetThatTurnsForeignDuringTheRunFailsOnlyThatPublish) {
  ForeignAppearsDuringSync storage(dir_ + "/iter_4");
  Committer c(storage, dir_, "run");
  ASSERT_TRUE(c.Start().ok());
  std::string staging = Stage(c, "iter_4", "new");
  auto r = c.Publish(staging, "iter_4", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kFailed);
  EXPECT_NE(r.status().message().find(dir_ + "/iter_4 is a folder without _SUCCESS (it appeared during the run)"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(Read("iter_4/theirs.txt"), "theirs");
  EXPECT_FALSE(fs::exists(dir_ + "/iter_4/part-00000.parquet"));
  EXPECT_FALSE(fs::exists(staging));
  ASSERT_TRUE(c.Publish(Stage(c, "iter_5", "new"), "iter_5", {}).ok());  // the others go on
}

// The same between the check and the exchange: what the exchange took out is
// judged, and theirs is put back at once.
class ForeignAppearsAtTheExchange : public StorageWrapper {
 public:
  explicit ForeignAppearsAtTheExchange(std::string target)
      : StorageWrapper(NewPosixStorage()), target_(std::move(target)) {}
  Status Exchange(const std::string& a, const std::string& b) override {
    if (!swapped_) {
      swapped_ = true;
      fs::remove_all(target_);  // our old output goes, theirs comes
      fs::create_directories(target_);
      std::ofstream(target_ + "/theirs.txt") << "theirs";
    }
    return base_->Exchange(a, b);
  }

 private:
  std::string target_;
  bool swapped_ = false;
};

TEST_F(CommitTest, AForeignFolderSwappedInAtTheExchangeIsPutBack) {
  OldOutput("iter_6");
  ForeignAppearsAtTheExchange storage(dir_ + "/iter_6");
  Committer c(storage, dir_, "run");
  ASSERT_TRUE(c.Start().ok());
  std::string staging = Stage(c, "iter_6", "new");
  auto r = c.Publish(staging, "iter_6", {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("a folder without _SUCCESS"), std::string::npos) << r.status().message();
  EXPECT_EQ(Read("iter_6/theirs.txt"), "theirs");
  EXPECT_FALSE(fs::exists(dir_ + "/iter_6/_SUCCESS"));
  EXPECT_TRUE(c.Finish().ok());
}

}  // namespace
}  // namespace fanout
