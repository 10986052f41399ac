#include "posix_store.h"

#include <algorithm>

#include "commit.h"
#include "mutex.h"
#include "outputs.h"
#include "util.h"

namespace fanout {
namespace {

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

class ShardLock : public OutputLock {
 public:
  ShardLock(std::unique_ptr<StorageLock> shared, std::unique_ptr<StorageLock> own)
      : shared_(std::move(shared)), own_(std::move(own)) {}

 private:
  std::unique_ptr<StorageLock> shared_, own_;
};

class PosixLock : public OutputLock {
 public:
  explicit PosixLock(std::unique_ptr<StorageLock> lock) : lock_(std::move(lock)) {}

 private:
  std::unique_ptr<StorageLock> lock_;
};

class PosixStore : public OutputStore {
 public:
  PosixStore(std::string out_dir, std::shared_ptr<Storage> files)
      : out_(std::move(out_dir)), files_(std::move(files)), runs_(out_ + "/_fanout/runs") {}

  const std::string& location() const override { return out_; }

  TargetState Inspect(const std::string& target) override { return InspectTarget(*files_, Path(target)); }

  std::string Verify(const std::string& target, const Marker& marker, bool checksums) override {
    return VerifyOutput(*files_, Path(target), marker, checksums);
  }

  Result<std::vector<std::string>> ListTargets() override {
    auto entries = files_->List(out_);
    if (!entries.ok()) return entries.status();
    std::vector<std::string> names;
    for (const FileInfo& e : *entries)
      if (!e.name.empty() && e.name[0] != '.' && e.name[0] != '_') names.push_back(e.name);
    std::sort(names.begin(), names.end());
    return names;
  }

  // A run's manifest is <run-id>.json; shard manifests (<run-id>.shard-K-of-N.json)
  // are not runs of their own.
  Result<std::vector<std::string>> ListRuns() override {
    FANOUT_ASSIGN_OR_RETURN(std::vector<std::string> files, ListRunFiles());
    std::vector<std::string> ids;
    for (const std::string& name : files)
      if (name.find(".shard-") == std::string::npos) ids.push_back(name.substr(0, name.size() - 5));
    return ids;
  }

  Result<std::vector<std::string>> ListRunFiles() override {
    auto entries = files_->List(runs_);
    if (!entries.ok()) return entries.status();
    std::vector<std::string> names;
    for (const FileInfo& e : *entries)
      if (e.is_file && EndsWith(e.name, ".json")) names.push_back(e.name);
    std::sort(names.begin(), names.end());
    return names;
  }

  Result<std::string> ReadRunFile(const std::string& name) override { return files_->ReadFile(runs_ + "/" + name); }
  std::string RunFileLocation(const std::string& name) const override { return runs_ + "/" + name; }

  Result<bool> LockHeld() override { return files_->LockHeld(out_ + "/_fanout/lock"); }

  Status CheckLocation(const JobSpec& spec) override { return CheckOutputLocation(*files_, spec); }

  // fanout's bookkeeping folders are its own: never followed through a link
  // (it writes the lock and manifests there and removes their temp files).
  Status CheckLayout() override {
    for (const std::string& own : {out_ + "/_fanout", runs_}) {
      auto info = files_->Stat(own);
      if (info.ok() && !info->is_dir)
        return Status::Invalid(own + " is not a folder (a link or a file): fanout keeps its lock and run "
                                     "manifests there; remove or rename it (nothing was written)");
    }
    return Status::Ok();
  }

  Status CreateLayout() override { return files_->CreateDirs(runs_); }

  Result<std::unique_ptr<OutputLock>> Lock(const std::string& holder) override {
    auto lock = files_->Lock(out_ + "/_fanout/lock", holder);
    if (!lock.ok()) return lock.status();
    return std::unique_ptr<OutputLock>(std::make_unique<PosixLock>(std::move(lock).value()));
  }

  // OUT/_fanout/lock shared by the run's shards, and the shard's own lock
  // beside it (which a second copy of the shard finds taken).
  Result<std::unique_ptr<OutputLock>> LockShard(const std::string& run_id, int shard,
                                                const std::string& holder) override {
    auto shared = files_->LockShared(out_ + "/_fanout/lock");
    if (!shared.ok()) return shared.status();
    auto own = files_->Lock(out_ + "/_fanout/lock." + ShardKey(run_id, shard), holder);
    if (!own.ok() && own.status().code() == Status::Code::kBusy)
      return Status::Busy("shard " + std::to_string(shard) + " of run " + run_id +
                          " is already running: " + own.status().message());
    if (!own.ok()) return own.status();
    return std::unique_ptr<OutputLock>(
        std::make_unique<ShardLock>(std::move(shared).value(), std::move(own).value()));
  }

  Status BeginShard(const std::string& run_id, int shard) override {
    const std::string key = ShardKey(run_id, shard);
    (void)files_->RemoveAll(out_ + "/.fanout-staging/" + key);  // an earlier copy's
    auto committer = std::make_shared<Committer>(*files_, out_, key);
    // Another shard ending removes OUT/.fanout-staging when it finds it empty:
    // between our mkdir of it and of our folder in it, that fails ours once.
    Status st = committer->Start();
    for (int i = 0; i < 3 && !st.ok(); ++i) st = committer->Start();
    FANOUT_RETURN_IF_ERROR(st);
    MutexLock lock(&mu_);
    committer_ = std::move(committer);
    return Status::Ok();
  }

  Status WriteRunFile(const std::string& name, const std::string& data) override {
    return WriteFileAtomic(*files_, runs_ + "/" + name, data);
  }

  Status BeginRun(const std::string& run_id) override {
    auto committer = std::make_shared<Committer>(*files_, out_, run_id);
    FANOUT_RETURN_IF_ERROR(committer->RemoveStaleStaging());
    FANOUT_RETURN_IF_ERROR(committer->Start());
    MutexLock lock(&mu_);
    committer_ = std::move(committer);
    RemoveStaleRunTemps();
    return Status::Ok();
  }

  std::string ScratchDir(const std::string& run_id) const override {
    return out_ + "/.fanout-staging/" + run_id + "/spill";
  }

  Result<StagedAttempt> Stage(const std::string& target, int attempt) override {
    auto committer = Current();
    if (!committer) return NoRun();
    auto dir = committer->StagingDir(target, attempt);
    if (!dir.ok()) return dir.status();
    return StagedAttempt{target, attempt, std::move(dir).value()};
  }

  Result<Marker> Publish(const StagedAttempt& staged, Marker marker, const std::string& single) override {
    auto committer = Current();
    if (!committer) return NoRun();
    auto done = committer->Publish(staged.dir, staged.target, marker, single);
    if (!done.ok()) return done.status();
    marker.files = done->files;
    marker.bytes = done->bytes;
    return marker;
  }

  void Discard(const StagedAttempt& staged) override {
    if (auto committer = Current()) committer->Discard(staged.dir);
  }

  Status EndRun() override {
    std::shared_ptr<Committer> committer;
    {
      MutexLock lock(&mu_);
      committer = std::move(committer_);
    }
    return committer ? committer->Finish() : Status::Ok();
  }

 private:
  std::string Path(const std::string& target) const { return out_ + "/" + target; }

  // Temp files of manifest writes that failed (a full disk) or were killed.
  // REQUIRES: the output's lock.
  void RemoveStaleRunTemps() {
    auto entries = files_->List(runs_);
    if (!entries.ok()) return;
    for (const FileInfo& f : *entries)
      if (f.is_file && EndsWith(f.name, ".tmp")) (void)files_->RemoveAll(runs_ + "/" + f.name);
  }

  std::shared_ptr<Committer> Current() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return committer_;
  }
  static Status NoRun() { return Status::Failed("the output store has no run begun (BeginRun first)"); }

  const std::string out_;
  const std::shared_ptr<Storage> files_;
  const std::string runs_;
  Mutex mu_;
  std::shared_ptr<Committer> committer_ GUARDED_BY(mu_);  // between BeginRun and EndRun
};

}  // namespace

std::shared_ptr<OutputStore> NewPosixStore(const std::string& out_dir, std::shared_ptr<Storage> files) {
  return std::make_shared<PosixStore>(out_dir, std::move(files));
}

std::shared_ptr<OutputStore> NewLocalStore(const std::string& out_dir) {
  return NewPosixStore(out_dir, NewPosixStorage());
}

}  // namespace fanout
