#include "commit.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "outputs.h"

namespace fanout {
namespace {

std::string Parent(const std::string& path) { return std::filesystem::path(path).parent_path().string(); }

std::string PartName(int i, const std::string& ext) {
  char buf[32];
  snprintf(buf, sizeof buf, "part-%05d", i);
  return buf + ext;
}

// ".parquet", ".csv.gz", ...: everything from the first dot.
std::string FullExtension(const std::string& name) {
  auto dot = name.find('.');
  return dot == std::string::npos ? "" : name.substr(dot);
}

}  // namespace

Committer::Committer(Storage& storage, std::string out_dir, std::string run_id, double max_group_wait)
    : storage_(storage),
      out_dir_(std::move(out_dir)),
      run_id_(std::move(run_id)),
      staging_root_(out_dir_ + "/.fanout-staging/" + run_id_),
      max_group_wait_(max_group_wait) {}

Status Committer::Start() { return storage_.CreateDirs(staging_root_); }

Status Committer::RemoveStaleStaging() {
  std::string root = out_dir_ + "/.fanout-staging";
  auto info = storage_.Stat(root);
  if (!info.ok()) return Status::Ok();  // nothing staged yet
  // Everything in it is removed: it must be the folder it names, not a link
  // to someone else's.
  if (!info->is_dir)
    return Status::Io(root + " is not a folder (a link or a file): fanout keeps its work in progress there and "
                             "removes what it holds; remove or rename it");
  auto entries = storage_.List(root);
  if (!entries.ok()) return entries.status();
  for (const FileInfo& e : *entries)
    if (e.name != run_id_) FANOUT_RETURN_IF_ERROR(storage_.RemoveAll(root + "/" + e.name));
  return Status::Ok();
}

Result<std::string> Committer::StagingDir(const std::string& target, int attempt) {
  std::string dir = staging_root_ + "/" + target + "." + std::to_string(attempt);
  if (storage_.Exists(dir)) FANOUT_RETURN_IF_ERROR(storage_.RemoveAll(dir));
  FANOUT_RETURN_IF_ERROR(storage_.CreateDirs(dir));
  MutexLock lock(&mu_);
  ++coming_;
  return dir;
}

void Committer::Arrived() {
  // The leader of the next group may be waiting for exactly this.
  if (coming_ > 0 && --coming_ == 0 && !queue_.empty()) queue_.front()->cv.Signal();
}

Result<std::vector<PartFile>> Committer::SealParts(const std::string& staging, const std::string& single) {
  std::vector<FileInfo> files;
  if (!single.empty()) {
    auto info = storage_.Stat(staging + "/" + single);
    if (info.ok()) files.push_back(*info);
  } else {
    auto entries = storage_.List(staging);
    if (!entries.ok()) return entries.status();
    for (const FileInfo& e : *entries)
      if (!e.is_dir && e.name != "_SUCCESS") files.push_back(e);
    // The engine names multi-file output part-0, part-1, ...: order by number.
    std::sort(files.begin(), files.end(), [](const FileInfo& a, const FileInfo& b) {
      auto num = [](const std::string& s) { return std::atoll(s.c_str() + s.find('-') + 1); };
      return num(a.name) != num(b.name) ? num(a.name) < num(b.name) : a.name < b.name;
    });
  }
  std::vector<PartFile> parts;
  for (size_t i = 0; i < files.size(); ++i) {
    std::string name = PartName(static_cast<int>(i), FullExtension(files[i].name));
    std::string path = staging + "/" + name;
    if (name != files[i].name) FANOUT_RETURN_IF_ERROR(storage_.Rename(staging + "/" + files[i].name, path, false));
    auto hash = storage_.HashFile(path);
    if (!hash.ok()) return hash.status();
    parts.push_back(PartFile{name, files[i].size, *hash, "", ""});
  }
  if (parts.empty()) return Status::Io("the engine wrote no file into " + staging);
  return parts;
}

Status Committer::PublishInGroup(Pending* p) {
  using Clock = std::chrono::steady_clock;
  MutexLock lock(&mu_);
  queue_.push_back(p);
  Arrived();
  while (!p->done && queue_.front() != p) p->cv.Wait(mu_);
  if (p->done) return p->status;
  // Attempts still computing or sealing will want a sync of their own soon:
  // when syncs are slow, wait for them a little, so that one serves them all.
  if (coming_ > 0 && last_group_seconds_ >= kMinSyncToWait) {
    const auto until = CondVar::After(std::min(last_group_seconds_, max_group_wait_));
    while (coming_ > 0 && p->cv.WaitUntil(mu_, until)) {
    }
  }
  std::vector<Pending*> group(queue_.begin(), queue_.end());
  lock.Unlock();
  auto started = Clock::now();
  PublishGroup(group);
  lock.Lock();
  last_group_seconds_ = std::chrono::duration<double>(Clock::now() - started).count();
  // Wake only this group and the next leader: dozens of threads may wait.
  for (Pending* g : group) {
    queue_.pop_front();
    g->done = true;
    if (g != p) g->cv.Signal();
  }
  if (!queue_.empty()) queue_.front()->cv.Signal();
  return p->status;
}

Status Committer::PublishOne(Pending* p) {
  // Nothing there: a rename that fails if something appears meanwhile.
  auto there = storage_.Stat(p->final_path);
  if (!there.ok()) return storage_.Rename(p->staging, p->final_path, /*replace=*/false);
  auto foreign = [&](const std::string& what) {
    return Status::Failed(ForeignTargetMessage(p->final_path, what + " (it appeared during the run)"));
  };
  if (!there->is_dir) return foreign(InspectTarget(storage_, p->final_path).what);
  // Someone may have put something of theirs at the target while the run
  // went, even between a check and the exchange: what the exchange took out
  // is judged, and put back when it is not an output of fanout.
  FANOUT_RETURN_IF_ERROR(storage_.Exchange(p->staging, p->final_path));
  TargetState old = InspectTarget(storage_, p->staging);
  if (old.kind == TargetState::Kind::kOurs) {
    p->replaced = true;
    return Status::Ok();
  }
  Status back = storage_.Exchange(p->staging, p->final_path);
  if (back.ok()) return foreign(old.what);
  p->keep = true;  // theirs is in staging now: never removed
  return Status::Failed(ForeignTargetMessage(p->final_path, old.what) + "; it could not be put back (" +
                        back.message() + "): it is in " + p->staging + ", move it back by hand before the next run");
}

void Committer::PublishGroup(const std::vector<Pending*>& group) {
  // 1. Every staged part, _SUCCESS and staging directory durable at once.
  Status staged = storage_.SyncFilesystem(staging_root_);
  if (!staged.ok()) {
    for (Pending* p : group) p->status = staged;
    return;
  }
  // 2. Publish each: a reader sees the old output or the new one.
  std::vector<Pending*> published;
  for (Pending* p : group) {
    p->status = PublishOne(p);
    if (p->status.ok()) published.push_back(p);
  }
  if (published.empty()) return;
  // 3. The new names durable: one fsync of OUT for the whole group.
  Status durable = storage_.SyncDir(out_dir_);
  if (durable.ok()) return;
  // They are visible but may not survive a crash: undo them, so a failed
  // iteration leaves the previous output (or none) in place.
  for (auto it = published.rbegin(); it != published.rend(); ++it) {
    Pending* p = *it;
    Status undo = p->replaced ? storage_.Exchange(p->staging, p->final_path)
                              : storage_.Rename(p->final_path, p->staging, false);
    p->replaced = false;
    p->status = undo.ok() ? durable
                          : durable.WithPrefix("publish not durable and could not be undone (" + undo.message() + ")");
  }
}

Result<CommitResult> Committer::Publish(const std::string& staging, const std::string& target,
                                        Marker marker, const std::string& single) {
  // Until it joins a group, a failed attempt is discarded like any other.
  auto give_up = [&](Status st) {
    Discard(staging);
    return st;
  };
  auto parts = SealParts(staging, single);
  if (!parts.ok()) return give_up(parts.status());
  CommitResult result;
  result.files = *parts;
  for (const PartFile& p : result.files) result.bytes += p.bytes;
  marker.bytes = result.bytes;
  marker.files = result.files;
  Status written = storage_.WriteFileNoSync(staging + "/_SUCCESS", marker.ToJson());
  if (!written.ok()) return give_up(written);
  Pending pending;
  pending.staging = staging;
  pending.final_path = out_dir_ + "/" + target;
  Status published = PublishInGroup(&pending);
  // Replaced: the old output is now in staging; failed: the new one still is
  // (or, when even the undo of an exchange failed, the old one: the new one
  // stays published and the iteration is reported failed).
  if ((pending.replaced || !published.ok()) && !pending.keep) (void)storage_.RemoveAll(staging);
  if (pending.keep) {
    MutexLock lock(&mu_);
    kept_.push_back(staging);
  }
  if (!published.ok()) return published;
  return result;
}

void Committer::Discard(const std::string& staging) {
  (void)storage_.RemoveAll(staging);
  MutexLock lock(&mu_);
  Arrived();
}

Status Committer::Finish() {
  {
    MutexLock lock(&mu_);
    if (!kept_.empty())
      return Status::Io("kept " + staging_root_ + ": it holds someone else's folder (" + kept_[0] +
                        "); move it back by hand before the next run on this output");
  }
  Status st = storage_.RemoveAll(staging_root_);
  // OUT/.fanout-staging too when nothing else is in it (rmdir: only if empty).
  if (st.ok()) (void)storage_.RemoveDir(Parent(staging_root_));
  return st;
}

Status WriteFileAtomic(Storage& storage, const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  Status st = storage.WriteFile(tmp, data);
  if (st.ok()) st = storage.Rename(tmp, path, /*replace=*/true);
  if (!st.ok()) {
    // A full disk leaves the temp file created, empty or torn: never keep it.
    (void)storage.RemoveAll(tmp);
    return st;
  }
  return storage.SyncDir(Parent(path));
}

}  // namespace fanout
