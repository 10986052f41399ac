// s3_store: the OutputStore on S3 (see s3_store.h).
#include "s3_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "commit.h"
#include "mutex.h"
#include "owner_lock.h"
#include "posix_store.h"
#include "storage.h"
#include "util.h"

namespace fanout {

bool IsS3Location(const std::string& location) { return location.rfind("s3://", 0) == 0; }

namespace {

// Planning's requests in flight at once (markers read, parts' sizes checked).
constexpr int kInspectConcurrency = 16;

// The local staging folders: TMPDIR/fanout-s3-staging-<12 hex of the
// location>-<run id>-<pid>, each holding kStagingOwner, flocked by the
// process that stages there for as long as its run lasts.
constexpr char kStagingPrefix[] = "fanout-s3-staging-";
constexpr char kStagingOwner[] = ".fanout-owner";

S3StoreOptions WithHooks(S3StoreOptions options) {
  if (S3Hooks().part_size > 0) options.part_size = S3Hooks().part_size;
  if (S3Hooks().lock_ttl_seconds > 0) options.lock_ttl_seconds = S3Hooks().lock_ttl_seconds;
  if (S3Hooks().read_chunk > 0) options.read_chunk = S3Hooks().read_chunk;
  return options;
}

// The lock object's body: who holds it and until when (unix seconds).
std::string LockBody(const std::string& holder, double expires) {
  return "{\"holder\": \"" + HashHex(holder) + "\", \"expires\": " + std::to_string(expires) + "}";
}

double ExpiresOf(const std::string& body) {
  size_t at = body.find("\"expires\": ");
  return at == std::string::npos ? 0 : std::atof(body.c_str() + at + 11);
}

// The lock, renewed by a thread while held; deleted when released.
class S3Lock : public OutputLock {
 public:
  S3Lock(std::shared_ptr<S3Client> s3, std::string bucket, std::string key, std::string holder, std::string etag,
         double ttl)
      : s3_(std::move(s3)), bucket_(std::move(bucket)), key_(std::move(key)), holder_(std::move(holder)),
        etag_(std::move(etag)), ttl_(ttl), renewer_([this] { Renew(); }) {}
  ~S3Lock() override {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    wake_.SignalAll();
    renewer_.join();
    Release();
  }

 private:
  // Deletes the lock only if it is still the version this holder wrote
  // (If-Match): a run that stalled past the expiry and was taken over never
  // deletes its successor's lock. A store without conditional deletes: the
  // ETag is checked first (a window of one request remains; README).
  void Release() {
    std::string etag;
    {
      MutexLock lock(&mu_);
      etag = etag_;
    }
    bool taken_over = false, unsupported = false;
    Status st = s3_->Delete(bucket_, key_, etag, &taken_over, &unsupported);
    if (!st.ok() && unsupported) {
      auto head = s3_->Head(bucket_, key_);
      if (head.ok() && head->etag == etag) (void)s3_->Delete(bucket_, key_);
    }
  }

  void Renew() {
    MutexLock lock(&mu_);
    while (!stop_) {
      wake_.WaitUntil(mu_, CondVar::After(ttl_ / 3));
      if (stop_) break;
      bool lost = false;
      auto etag = s3_->Put(bucket_, key_, LockBody(holder_, NowSeconds() + ttl_), S3Condition{false, etag_}, &lost);
      if (etag.ok()) etag_ = *etag;
    }
  }
  std::shared_ptr<S3Client> s3_;
  const std::string bucket_, key_, holder_;
  Mutex mu_;
  CondVar wake_;
  std::string etag_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  const double ttl_;
  std::thread renewer_;
};

class S3Store : public OutputStore {
 public:
  S3Store(std::string location, std::shared_ptr<S3Client> s3, S3StoreOptions options)
      : location_(std::move(location)), s3_(std::move(s3)), options_(WithHooks(options)), files_(NewPosixStorage()) {
    (void)ParseS3Url(location_, &bucket_, &prefix_);
    while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
    if (!prefix_.empty()) prefix_ += '/';
  }

  const std::string& location() const override { return location_; }

  // A GET (and HEADs) per target: planning sends this many at once.
  int InspectConcurrency() const override { return kInspectConcurrency; }
  TargetState Inspect(const std::string& target) override {
    TargetState state;
    bool missing = false;
    auto text = s3_->Get(bucket_, Key(target + "/_SUCCESS"), &missing);
    if (!text.ok() && missing) {
      auto listed = s3_->List(bucket_, Key(target + "/"));
      if (listed.ok())
        for (const S3Object& o : *listed)
          if (o.key.find("/.a-") == std::string::npos) {
            state.kind = TargetState::Kind::kForeign;
            state.what = "objects without fanout's marker (" + o.key + ")";
            return state;
          }
      return state;
    }
    auto marker = text.ok() ? Marker::FromJson(*text) : Result<Marker>(text.status());
    if (!marker.ok()) {
      state.kind = TargetState::Kind::kForeign;
      state.what = "a _SUCCESS fanout cannot read: " + marker.status().message();
      return state;
    }
    state.kind = TargetState::Kind::kOurs;
    state.marker = std::move(marker).value();
    return state;
  }

  // Sizes and ETags from HEAD; with `checksums`, the bytes are read back and
  // hashed (xxh3, as the local store does).
  std::string Verify(const std::string& target, const Marker& marker, bool checksums) override {
    for (const MarkerFile& f : marker.files) {
      const std::string key = f.key.empty() ? Key(target + "/" + f.name) : f.key;
      S3Object head;
      std::string problem = VerifyHead(key, f, &head);
      if (problem.empty() && checksums) problem = VerifyBytes(head, f);
      if (!problem.empty()) return problem;
    }
    return "";
  }
  // Streamed: ranged GETs of options_.read_chunk bytes, each pinned to the
  // ETag HEAD saw (If-Match), hashed as they come: memory stays one chunk
  // whatever the object's size, and an object replaced midway is said to
  // have changed, never hashed as a mix of two versions.
  // Planning verifies many targets at once (InspectConcurrency): at most
  // kReadersAtOnce of them read bytes, so memory stays that many chunks.
  std::string VerifyBytes(const S3Object& head, const MarkerFile& f) {
    {
      MutexLock lock(&read_mu_);
      while (readers_ >= kReadersAtOnce) read_cv_.Wait(read_mu_);
      ++readers_;
    }
    std::string problem = HashAndCompare(head, f);
    MutexLock lock(&read_mu_);
    --readers_;
    read_cv_.Signal();
    return problem;
  }
  std::string HashAndCompare(const S3Object& head, const MarkerFile& f) {
    Xxh3Stream hash;
    for (int64_t done = 0; done < head.size;) {
      const int64_t length = std::min(options_.read_chunk, head.size - done);
      bool changed = false;
      auto chunk = s3_->GetRange(bucket_, head.key, done, length, head.etag, &changed);
      if (!chunk.ok() && changed)
        return f.name + ": changed while it was read (ETag " + head.etag + " no longer current at byte " +
               std::to_string(done) + "): verify again";
      if (!chunk.ok()) return f.name + ": " + chunk.status().message();
      hash.Update(*chunk);
      done += length;
    }
    const std::string xxh3 = hash.Hex();
    if (!f.xxh3.empty() && xxh3 != f.xxh3) return f.name + ": xxh3 " + xxh3 + " in the store, " + f.xxh3 + " in _SUCCESS";
    return "";
  }
  std::string VerifyHead(const std::string& key, const MarkerFile& f, S3Object* out) {
    auto head = s3_->Head(bucket_, key);
    if (!head.ok()) return f.name + ": " + head.status().message();
    if (head->key.empty()) return f.name + ": missing";
    if (head->size != f.bytes)
      return f.name + ": size " + std::to_string(head->size) + " in the store, " + std::to_string(f.bytes) +
             " in _SUCCESS";
    if (!f.etag.empty() && head->etag != f.etag) return f.name + ": ETag " + head->etag + ", " + f.etag + " in _SUCCESS";
    *out = *head;
    return "";
  }

  Result<std::vector<std::string>> ListTargets() override {
    FANOUT_ASSIGN_OR_RETURN(std::vector<S3Object> all, s3_->List(bucket_, prefix_));
    std::vector<std::string> names;
    for (const S3Object& o : all) {
      std::string rest = o.key.substr(prefix_.size());
      std::string first = rest.substr(0, rest.find('/'));
      if (!first.empty() && first[0] != '.' && first[0] != '_' && rest.size() > first.size() &&
          (names.empty() || names.back() != first))
        names.push_back(first);
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
  }

  Result<std::vector<std::string>> ListRuns() override {
    FANOUT_ASSIGN_OR_RETURN(std::vector<S3Object> all, s3_->List(bucket_, Key("_fanout/runs/")));
    std::vector<std::string> ids;
    for (const S3Object& o : all) {
      std::string name = o.key.substr(Key("_fanout/runs/").size());
      if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) ids.push_back(name.substr(0, name.size() - 5));
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  Result<std::vector<std::string>> ListRunFiles() override {
    FANOUT_ASSIGN_OR_RETURN(std::vector<S3Object> all, s3_->List(bucket_, Key("_fanout/runs/")));
    std::vector<std::string> names;
    for (const S3Object& o : all) names.push_back(o.key.substr(Key("_fanout/runs/").size()));
    std::sort(names.begin(), names.end());
    return names;
  }
  Result<std::string> ReadRunFile(const std::string& name) override { return s3_->Get(bucket_, Key("_fanout/runs/" + name)); }
  std::string RunFileLocation(const std::string& name) const override {
    return "s3://" + bucket_ + "/" + Key("_fanout/runs/" + name);
  }

  Result<bool> LockHeld() override {
    bool missing = false;
    auto body = s3_->Get(bucket_, Key("_fanout/lock"), &missing);
    if (!body.ok()) return missing ? Result<bool>(false) : Result<bool>(body.status());
    return ExpiresOf(*body) > NowSeconds();
  }

  // Wrong credentials, no such bucket, no access: found here, before anything runs.
  Status CheckLocation(const JobSpec&) override {
    auto probe = s3_->List(bucket_, Key("_fanout/runs/"));
    if (!probe.ok())
      return Status::Invalid("output.dir " + location_ + " cannot be used: " + probe.status().message() +
                             " (nothing was written)");
    return Status::Ok();
  }
  Status CheckLayout() override { return Status::Ok(); }
  Status CreateLayout() override { return Status::Ok(); }  // S3 has no folders

  Result<std::unique_ptr<OutputLock>> Lock(const std::string& holder) override;
  Status WriteRunFile(const std::string& name, const std::string& data) override {
    return s3_->Put(bucket_, Key("_fanout/runs/" + name), data).status();
  }
  Status BeginRun(const std::string& run_id) override;
  std::string ScratchDir(const std::string& run_id) const override { return StagingRoot(run_id) + "/spill"; }
  Result<StagedAttempt> Stage(const std::string& target, int attempt) override;
  Result<Marker> Publish(const StagedAttempt& staged, Marker marker, const std::string& single) override;
  void Discard(const StagedAttempt& staged) override { (void)files_->RemoveAll(staged.dir); }
  Status EndRun() override;

  std::shared_ptr<S3Client> client() const { return s3_; }
  const std::string& bucket() const { return bucket_; }
  const std::string& prefix() const { return prefix_; }
  std::string Key(const std::string& rest) const { return prefix_ + rest; }

 private:
  std::string StagingRoot(const std::string& run_id) const {
    // Local, under TMPDIR; the process id keeps two processes' runs apart.
    return std::filesystem::temp_directory_path().string() + "/" + kStagingPrefix +
           HashHex(location_).substr(0, 12) + "-" + run_id + "-" + std::to_string(getpid());
  }
  Status CreateStaging(const std::string& root);
  Result<std::vector<MarkerFile>> Upload(const StagedAttempt& staged, const std::string& single);

  const std::string location_;
  std::shared_ptr<S3Client> s3_;
  const S3StoreOptions options_;
  std::shared_ptr<Storage> files_;  // the local staging
  std::string bucket_, prefix_;
  Mutex mu_;
  std::string run_id_ GUARDED_BY(mu_);
  std::unique_ptr<OwnerLock> staging_owner_ GUARDED_BY(mu_);  // held from BeginRun to EndRun
  static constexpr int kReadersAtOnce = 2;
  Mutex read_mu_;
  CondVar read_cv_;
  int readers_ GUARDED_BY(read_mu_) = 0;  // VerifyBytes reading now
};

}  // namespace

Result<std::unique_ptr<OutputLock>> S3Store::Lock(const std::string& holder) {
  const std::string key = Key("_fanout/lock");
  const double ttl = options_.lock_ttl_seconds;
  bool lost = false;
  auto etag = s3_->Put(bucket_, key, LockBody(holder, NowSeconds() + ttl), S3Condition{true, ""}, &lost);
  if (!etag.ok() && lost) {
    // Held, or left by a run that died: taken over only once expired, and
    // only if nobody renewed or took it since we read it (If-Match).
    auto head = s3_->Head(bucket_, key);
    auto body = s3_->Get(bucket_, key);
    if (head.ok() && body.ok() && !head->key.empty() && ExpiresOf(*body) < NowSeconds())
      etag = s3_->Put(bucket_, key, LockBody(holder, NowSeconds() + ttl), S3Condition{false, head->etag}, &lost);
    if (!etag.ok() && lost)
      return Status::Busy("another run holds the lock of " + location_ + " (s3://" + bucket_ + "/" + key +
                          "; it expires " + std::to_string(static_cast<int>(ttl)) +
                          " s after its holder stops renewing it)");
  }
  if (!etag.ok()) return etag.status();
  return std::unique_ptr<OutputLock>(std::make_unique<S3Lock>(s3_, bucket_, key, holder, *etag, ttl));
}

Status S3Store::BeginRun(const std::string& run_id) {
  {
    MutexLock lock(&mu_);
    run_id_ = run_id;
  }
  FANOUT_RETURN_IF_ERROR(CreateStaging(StagingRoot(run_id)));
  auto collected = CollectGarbage(*this);  // and the staging folders of dead runs
  return collected.ok() ? Status::Ok() : collected.status();
}

// The run's staging folder, owned (its owner file flocked) before anything is
// staged. A sweeper in another pid namespace may remove the folder before
// the owner file is there (this pid looks gone to it): then again.
Status S3Store::CreateStaging(const std::string& root) {
  Result<std::unique_ptr<OwnerLock>> owner = Status::Io("cannot create " + root);
  for (int attempt = 0; attempt < 3 && !owner.ok(); ++attempt) {
    FANOUT_RETURN_IF_ERROR(files_->RemoveAll(root));
    FANOUT_RETURN_IF_ERROR(files_->CreateDirs(root));
    owner = HoldOwnerLock(root + "/" + kStagingOwner);
  }
  if (!owner.ok()) return owner.status();
  MutexLock lock(&mu_);
  staging_owner_ = std::move(owner).value();
  return Status::Ok();
}

Result<StagedAttempt> S3Store::Stage(const std::string& target, int attempt) {
  std::string run_id;
  {
    MutexLock lock(&mu_);
    run_id = run_id_;
  }
  if (run_id.empty()) return Status::Failed("the output store has no run begun (BeginRun first)");
  std::string dir = StagingRoot(run_id) + "/" + target + "." + std::to_string(attempt);
  FANOUT_RETURN_IF_ERROR(files_->RemoveAll(dir));
  FANOUT_RETURN_IF_ERROR(files_->CreateDirs(dir));
  return StagedAttempt{target, attempt, dir};
}

Status S3Store::EndRun() {
  std::string run_id;
  {
    MutexLock lock(&mu_);
    run_id = std::move(run_id_);
    run_id_.clear();
  }
  Status st = run_id.empty() ? Status::Ok() : files_->RemoveAll(StagingRoot(run_id));
  MutexLock lock(&mu_);
  staging_owner_.reset();  // after the removal: no sweeper removes it under us
  return st;
}

namespace {

// The engine's files in a staging folder, in part order (part-0, part-1, ...).
Result<std::vector<FileInfo>> StagedFiles(Storage& files, const std::string& dir, const std::string& single) {
  std::vector<FileInfo> out;
  if (!single.empty()) {
    FANOUT_ASSIGN_OR_RETURN(FileInfo info, files.Stat(dir + "/" + single));
    out.push_back(info);
    return out;
  }
  FANOUT_ASSIGN_OR_RETURN(std::vector<FileInfo> entries, files.List(dir));
  for (const FileInfo& e : entries)
    if (!e.is_dir) out.push_back(e);
  std::sort(out.begin(), out.end(), [](const FileInfo& a, const FileInfo& b) {
    auto num = [](const std::string& s) { return std::atoll(s.c_str() + s.find('-') + 1); };
    return num(a.name) != num(b.name) ? num(a.name) < num(b.name) : a.name < b.name;
  });
  if (out.empty()) return Status::Io("the engine wrote no file into " + dir);
  return out;
}

std::string PartName(size_t i, const std::string& engine_name) {
  char buf[32];
  snprintf(buf, sizeof buf, "part-%05zu", i);
  auto dot = engine_name.find('.');
  return buf + (dot == std::string::npos ? "" : engine_name.substr(dot));
}

}  // namespace

Result<std::vector<MarkerFile>> S3Store::Upload(const StagedAttempt& staged, const std::string& single) {
  std::string run_id;
  {
    MutexLock lock(&mu_);
    run_id = run_id_;
  }
  FANOUT_ASSIGN_OR_RETURN(std::vector<FileInfo> staged_files, StagedFiles(*files_, staged.dir, single));
  const std::string attempt_prefix =
      Key(staged.target + "/.a-" + run_id + "-" + std::to_string(staged.attempt) + "/");
  std::vector<MarkerFile> out;
  for (size_t i = 0; i < staged_files.size(); ++i) {
    std::string path = staged.dir + "/" + staged_files[i].name;
    MarkerFile f;
    f.name = PartName(i, staged_files[i].name);
    f.bytes = staged_files[i].size;
    FANOUT_ASSIGN_OR_RETURN(f.xxh3, files_->HashFile(path));
    f.key = attempt_prefix + f.name;
    FANOUT_ASSIGN_OR_RETURN(f.etag, s3_->UploadFile(bucket_, f.key, path, options_.part_size));
    out.push_back(std::move(f));
  }
  return out;
}

Result<Marker> S3Store::Publish(const StagedAttempt& staged, Marker marker, const std::string& single) {
  auto uploaded = Upload(staged, single);
  (void)files_->RemoveAll(staged.dir);
  auto drop_new = [&](const std::vector<MarkerFile>& files) {
    for (const MarkerFile& f : files) (void)s3_->Delete(bucket_, f.key);
  };
  if (!uploaded.ok()) return uploaded.status();  // BeginRun/gc removes what was sent
  marker.files = *uploaded;
  marker.bytes = 0;
  for (const MarkerFile& f : marker.files) marker.bytes += f.bytes;
  // What is there now: replaced only if it is ours, and only that version.
  TargetState now = Inspect(staged.target);
  if (now.kind == TargetState::Kind::kForeign) {
    drop_new(marker.files);
    return Status::Failed(location_ + "/" + staged.target + " holds " + now.what +
                          ": fanout replaces only its own outputs (nothing was changed)");
  }
  S3Condition condition;
  condition.if_none_match = now.kind == TargetState::Kind::kAbsent;
  if (!condition.if_none_match) {
    auto head = s3_->Head(bucket_, Key(staged.target + "/_SUCCESS"));
    if (!head.ok()) return head.status();
    condition.if_match = head->etag;
  }
  if (S3Hooks().at) S3Hooks().at("before-marker");
  bool lost = false;
  const std::string marker_key = Key(staged.target + "/_SUCCESS"), text = marker.ToJson();
  auto put = s3_->Put(bucket_, marker_key, text, condition, &lost);
  if (!put.ok()) {
    // The PUT may have taken effect with its answer lost on the way back (a
    // retry then meets the condition it set itself, or the retries run
    // out): the marker there decides. Unread, nothing is deleted: the parts
    // may be referenced (gc collects them if not).
    bool missing = false;
    auto there = s3_->Get(bucket_, marker_key, &missing);
    if (!there.ok() && !missing)
      return Status::Failed(location_ + "/" + staged.target + ": publishing its marker failed (" +
                            put.status().message() + ") and whether it took effect cannot be read (" +
                            there.status().message() + ")");
    if (!there.ok() || *there != text) {
      drop_new(marker.files);
      return lost ? Status::Failed(location_ + "/" + staged.target + ": another writer published it first")
                  : put.status();
    }
  }
  // The new marker is in place: the old output's objects go now (not one the
  // new marker lists: an attempt published again writes the same keys).
  std::set<std::string> listed;
  for (const MarkerFile& f : marker.files) listed.insert(f.key);
  for (const MarkerFile& old : now.marker.files)
    if (!old.key.empty() && !listed.count(old.key)) (void)s3_->Delete(bucket_, old.key);
  return marker;
}

namespace {

// "<target>/.a-<run>-<attempt>/part-..." (relative to the prefix): the
// target, else "" (not an attempt's object: never collected).
std::string AttemptTarget(const std::string& rest) {
  size_t cut = rest.find("/.a-");
  if (cut == std::string::npos || cut == 0 || rest.find('/') != cut) return "";
  size_t dir_end = rest.find('/', cut + 1);
  if (dir_end == std::string::npos || rest.compare(dir_end + 1, 5, "part-") != 0 ||
      rest.find('/', dir_end + 1) != std::string::npos)
    return "";
  return rest.substr(0, cut);
}

// The keys `target`'s marker lists into `keys`; false when it has a marker
// that cannot be read (then nothing of it is touched). An error reading it
// stops the collection: it must never pass for "no marker".
Result<bool> MarkerKeys(S3Client& s3, const std::string& bucket, const std::string& marker_key,
                        std::set<std::string>* keys) {
  bool missing = false;
  auto text = s3.Get(bucket, marker_key, &missing);
  if (!text.ok() && !missing) return text.status();
  if (!text.ok()) return true;
  auto marker = Marker::FromJson(*text);
  if (!marker.ok()) return false;
  for (const MarkerFile& f : marker->files) keys->insert(f.key);
  return true;
}

// True when `name` is a staging folder's: kStagingPrefix, 12 hex digits, a
// run id, a process id.
bool IsStagingName(const std::string& name, long* pid) {
  const size_t head = sizeof kStagingPrefix - 1;
  if (name.rfind(kStagingPrefix, 0) != 0 || name.size() < head + 13 || name[head + 12] != '-') return false;
  for (size_t i = head; i < head + 12; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(name[i]))) return false;
  const size_t dash = name.rfind('-');
  if (dash <= head + 13 || dash + 1 == name.size() || name.size() - dash > 11) return false;
  for (size_t i = dash + 1; i < name.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return false;
  *pid = std::atol(name.c_str() + dash + 1);
  return true;
}

// The staging folders under TMPDIR of runs that died (any output's; a SIGKILL
// skips EndRun): removed (`dry_run`: only listed). Only folders named as
// fanout names them, of this user, not links; one whose owner file a live
// process holds is in use and kept. A folder without the owner file (killed
// while creating it, or staged by an older fanout) goes only once no
// process has its pid. Best effort: what cannot be read is left.
std::vector<std::string> RemoveDeadStaging(bool dry_run) {
  std::vector<std::string> removed;
  std::error_code ec;
  const std::string tmp = std::filesystem::temp_directory_path(ec).string();
  if (ec) return removed;
  for (const auto& entry : std::filesystem::directory_iterator(tmp, ec)) {
    const std::string dir = entry.path().string();
    long pid = 0;
    struct stat st;
    if (!IsStagingName(entry.path().filename().string(), &pid) || ::lstat(dir.c_str(), &st) != 0 ||
        !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid())
      continue;
    auto remove = [&] {
      std::error_code ignored;
      if (!dry_run) std::filesystem::remove_all(dir, ignored);
    };
    Ownership owner = RemoveIfUnowned(dir + "/" + kStagingOwner, remove);
    if (owner == Ownership::kNoLockFile && ProcessGone(pid)) {
      remove();
      owner = Ownership::kUnowned;
    }
    if (owner == Ownership::kUnowned) removed.push_back(dir);
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

}  // namespace

Result<CollectReport> CollectGarbage(OutputStore& out, bool dry_run) {
  auto* store = dynamic_cast<S3Store*>(&out);
  if (!store) return Status::Invalid(out.location() + " is not on S3: fanout gc is for s3:// outputs (a local "
                                     "output's leftovers are removed by its next run)");
  CollectReport report;
  auto s3 = store->client();
  const std::string& bucket = store->bucket();
  FANOUT_ASSIGN_OR_RETURN(std::vector<S3Upload> uploads, s3->ListMultipart(bucket, store->prefix()));
  for (const S3Upload& u : uploads) {
    if (!dry_run) FANOUT_RETURN_IF_ERROR(s3->AbortMultipart(bucket, u.key, u.upload_id));
    report.aborted.push_back("s3://" + bucket + "/" + u.key);
    ++report.uploads;
  }
  FANOUT_ASSIGN_OR_RETURN(std::vector<S3Object> all, s3->List(bucket, store->prefix()));
  // A target whose objects are its marker and one attempt's parts holds no
  // orphan worth a request: its marker is not read (10,000 outputs would be
  // 10,000 GETs per run). Should that marker name another attempt (its own
  // parts deleted by hand), the parts stay: only space, never a loss.
  std::map<std::string, std::set<std::string>> attempts;  // target -> its attempt folders
  std::set<std::string> marked;                            // targets with a _SUCCESS
  for (const S3Object& o : all) {
    const std::string rest = o.key.substr(store->prefix().size()), target = AttemptTarget(rest);
    if (!target.empty()) attempts[target].insert(rest.substr(0, rest.find('/', target.size() + 1)));
    const size_t slash = rest.find('/');
    if (slash != std::string::npos && rest.compare(slash, std::string::npos, "/_SUCCESS") == 0)
      marked.insert(rest.substr(0, slash));
  }
  std::map<std::string, std::set<std::string>> referenced;  // target -> keys its marker lists
  std::set<std::string> untouchable;
  for (const auto& [target, folders] : attempts)
    if (folders.size() == 1 && marked.count(target)) untouchable.insert(target);
  for (const S3Object& o : all) {
    std::string target = AttemptTarget(o.key.substr(store->prefix().size()));
    if (target.empty() || untouchable.count(target)) continue;
    if (!referenced.count(target)) {
      FANOUT_ASSIGN_OR_RETURN(bool readable, MarkerKeys(*s3, bucket, store->Key(target + "/_SUCCESS"),
                                                        &referenced[target]));
      if (!readable) untouchable.insert(target);
    }
    if (untouchable.count(target) || referenced[target].count(o.key)) continue;
    if (!dry_run) FANOUT_RETURN_IF_ERROR(s3->Delete(bucket, o.key));
    report.removed.push_back("s3://" + bucket + "/" + o.key);
    ++report.objects;
  }
  report.staging = RemoveDeadStaging(dry_run);
  return report;
}

std::shared_ptr<OutputStore> NewS3Store(const std::string& location, std::shared_ptr<S3Client> client,
                                        S3StoreOptions options) {
  return std::make_shared<S3Store>(location, std::move(client), options);
}

Result<std::shared_ptr<OutputStore>> OpenS3Store(const std::string& location) {
  std::string bucket, key;
  FANOUT_RETURN_IF_ERROR(ParseS3Url(location, &bucket, &key));
  auto config = S3ConfigFromEnvironment();
  if (!config.ok()) return config.status().WithPrefix("output.dir " + location);
  return NewS3Store(location, std::make_shared<S3Client>(std::move(config).value()));
}

Result<std::shared_ptr<OutputStore>> OpenOutputStore(const std::string& location, std::shared_ptr<Storage> files) {
  if (IsS3Location(location)) return OpenS3Store(location);
  return NewPosixStore(location, files ? std::move(files) : NewPosixStorage());
}

}  // namespace fanout
