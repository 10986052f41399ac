#include "faulty_storage.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

namespace fanout {

FaultyStorage::FaultyStorage(std::shared_ptr<Storage> base, int64_t fail_at, Action action, int error_number,
                             bool sticky)
    : StorageWrapper(std::move(base)),
      fail_at_(fail_at),
      action_(action),
      error_number_(error_number),
      sticky_(sticky) {}

Status FaultyStorage::Check(const char* op, const std::string& path, bool removal) {
  int64_t n = ++calls_;
  if (n < fail_at_ || (n > fail_at_ && !sticky_)) return Status::Ok();
  // After the first fault, a full disk still lets files be removed.
  if (removal && n > fail_at_ && action_ == Action::kFail && error_number_ == ENOSPC) return Status::Ok();
  if (action_ == Action::kKill) {
    ::kill(::getpid(), SIGKILL);
    ::pause();
  }
  ++faults_;
  // Tests tell a run that met a fault from one that ended first by this line.
  fprintf(stderr, "fanout: injected fault at storage call %lld (%s %s)\n", static_cast<long long>(n), op, path.c_str());
  return Status::Io(std::string("injected fault in ") + op + " " + path + ": " + std::strerror(error_number_));
}

Status FaultyStorage::CheckRemoval(const char* op, const std::string& path) { return Check(op, path, true); }

Status FaultyStorage::FailWrite(const std::string& path, Status fault) {
  if (error_number_ == ENOSPC) (void)base_->WriteFileNoSync(path, "");
  return fault;
}

Status FaultyStorage::CreateDirs(const std::string& p) {
  FANOUT_RETURN_IF_ERROR(Check("mkdir", p));
  return base_->CreateDirs(p);
}
Status FaultyStorage::WriteFile(const std::string& p, const std::string& d) {
  Status st = Check("write", p);
  if (!st.ok()) return FailWrite(p, st);
  return base_->WriteFile(p, d);
}
Status FaultyStorage::WriteFileNoSync(const std::string& p, const std::string& d) {
  Status st = Check("write", p);
  if (!st.ok()) return FailWrite(p, st);
  return base_->WriteFileNoSync(p, d);
}
Status FaultyStorage::SyncFilesystem(const std::string& p) {
  FANOUT_RETURN_IF_ERROR(Check("syncfs", p));
  return base_->SyncFilesystem(p);
}
Status FaultyStorage::SyncDir(const std::string& p) {
  FANOUT_RETURN_IF_ERROR(Check("fsync dir", p));
  return base_->SyncDir(p);
}
Status FaultyStorage::Rename(const std::string& f, const std::string& t, bool r) {
  FANOUT_RETURN_IF_ERROR(Check("rename", f));
  return base_->Rename(f, t, r);
}
Status FaultyStorage::Exchange(const std::string& a, const std::string& b) {
  FANOUT_RETURN_IF_ERROR(Check("exchange", a));
  return base_->Exchange(a, b);
}
Status FaultyStorage::RemoveAll(const std::string& p) {
  FANOUT_RETURN_IF_ERROR(CheckRemoval("remove", p));
  return base_->RemoveAll(p);
}
Status FaultyStorage::RemoveDir(const std::string& p) {
  FANOUT_RETURN_IF_ERROR(CheckRemoval("rmdir", p));
  return base_->RemoveDir(p);
}

std::shared_ptr<Storage> MaybeFaultyFromEnv(std::shared_ptr<Storage> base) {
  const char* spec = std::getenv("FANOUT_FAULT_AT");
  if (!spec || !*spec) return base;
  std::string s = spec;
  int64_t at = std::atoll(s.c_str());
  auto action = s.find(":kill") != std::string::npos ? FaultyStorage::Action::kKill : FaultyStorage::Action::kFail;
  int err = s.find(":enospc") != std::string::npos ? ENOSPC : EIO;
  bool sticky = s.find(":sticky") != std::string::npos;
  return std::make_shared<FaultyStorage>(std::move(base), at, action, err, sticky);
}

}  // namespace fanout
