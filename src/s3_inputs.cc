// s3_inputs: s3:// inputs fetched once into the input cache (see s3_inputs.h).
#include "s3_inputs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "load.h"
#include "owner_lock.h"
#include "s3_client.h"
#include "s3_store.h"
#include "util.h"

namespace fanout {
namespace {

namespace fs = std::filesystem;

// One ranged GET; the copy is written as they come.
int64_t Chunk() { return S3Hooks().read_chunk > 0 ? S3Hooks().read_chunk : int64_t{64} << 20; }

// ".csv" of ".../sales.csv" ("" when the last segment has no dot).
std::string ExtensionOf(const std::string& key) {
  size_t slash = key.rfind('/'), dot = key.rfind('.');
  return dot == std::string::npos || (slash != std::string::npos && dot < slash) ? "" : key.substr(dot);
}

// `head`'s version of bucket/key into `path`, under a temporary name renamed
// when whole (a killed fetch leaves no copy that looks complete). The
// temporary file is flocked while it is written: the next fetch removes it
// only once its writer is gone (RemoveDeadTemps).
Status Download(S3Client& s3, const std::string& bucket, const std::string& key, const S3Object& head,
                const std::string& path) {
  const std::string tmp = path + ".tmp-" + std::to_string(getpid());
  auto owner = HoldOwnerLock(tmp);
  if (!owner.ok()) return owner.status();
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) return Status::Io("cannot write " + tmp);
  Status st;
  const int64_t step = Chunk();
  for (int64_t done = 0; done < head.size && st.ok(); done += step) {
    bool changed = false;
    auto chunk = s3.GetRange(bucket, key, done, std::min(step, head.size - done), head.etag, &changed);
    if (!chunk.ok())
      st = changed ? Status::Failed("it changed while it was fetched: run again") : chunk.status();
    else
      out.write(chunk->data(), static_cast<std::streamsize>(chunk->size()));
  }
  out.close();
  if (st.ok() && !out) st = Status::Io("cannot write " + tmp + " (disk full?)");
  std::error_code ec;
  if (st.ok()) fs::rename(tmp, path, ec);
  if (st.ok() && ec) st = Status::Io("cannot rename " + tmp + " to " + path + ": " + ec.message());
  if (!st.ok()) fs::remove(tmp, ec);
  return st;
}

// True when `name` is a fetch's temporary file: <16 hex>-<16 hex>[.ext].tmp-<pid>.
bool IsTempName(const std::string& name) {
  const size_t tail = name.rfind(".tmp-");
  if (name.size() < 33 || name[16] != '-' || tail == std::string::npos || tail < 33 || tail + 5 == name.size())
    return false;
  auto all = [&](size_t from, size_t to, int (*is)(int)) {
    for (size_t i = from; i < to; ++i)
      if (!is(static_cast<unsigned char>(name[i]))) return false;
    return true;
  };
  return all(0, 16, isxdigit) && all(17, 33, isxdigit) && all(tail + 5, name.size(), isdigit);
}

// The temporary files of fetches killed midway (a SIGKILL skips the removal):
// removed once no process holds their flock, so a fetch in flight in another
// process is never touched. Only fanout's names, regular files of this user.
void RemoveDeadTemps(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string path = e.path().string();
    struct stat st;
    if (!IsTempName(e.path().filename().string()) || ::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_uid != ::geteuid())
      continue;
    (void)RemoveIfUnowned(path, [&] { ::unlink(path.c_str()); });
  }
}

// Older copies of the same URL (another ETag): removed (best effort).
void RemoveOlderCopies(const std::string& dir, const std::string& url_hash, const std::string& keep) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(url_hash + "-", 0) == 0 && name != keep && name.find(".tmp-") == std::string::npos)
      fs::remove(e.path(), ec);
  }
}

// The local copy of input `in` (its path an s3:// URL), fetched unless a
// whole copy of this ETag is there; its identity into `identity`.
Result<std::string> FetchOne(S3Client& s3, const InputSpec& in, const std::string& dir, std::string* identity,
                             std::string* note) {
  const std::string what = "input '" + in.name + "' (" + in.path + ")";
  std::string bucket, key;
  FANOUT_RETURN_IF_ERROR(ParseS3Url(in.path, &bucket, &key).WithPrefix(what));
  if (key.empty() || key.back() == '/') return Status::Invalid(what + ": name an object (s3://bucket/key), not a prefix");
  auto head = s3.Head(bucket, key);
  if (!head.ok()) return Status::Invalid(what + ": " + head.status().message() + " (nothing was run)");
  if (head->key.empty())
    return Status::Invalid(what + ": no such object (or no such bucket): check the URL (nothing was run)");
  const std::string url_hash = HashHex(in.path).substr(0, 16);
  const std::string name = url_hash + "-" + HashHex(head->etag).substr(0, 16) + ExtensionOf(key);
  const std::string path = dir + "/" + name;
  std::error_code ec;
  if (fs::is_regular_file(path, ec) && static_cast<int64_t>(fs::file_size(path, ec)) == head->size && !ec) {
    *note = what + ": the local copy of ETag " + head->etag + " (fetched by an earlier run)";
  } else {
    fs::create_directories(dir, ec);
    if (ec) return Status::Invalid(what + ": cannot create " + dir + ": " + ec.message());
    Status st = Download(s3, bucket, key, *head, path);
    if (!st.ok()) return Status::Invalid(what + ": cannot fetch it: " + st.message());
    *note = what + ": fetched (" + std::to_string(head->size) + " bytes, ETag " + head->etag + ")";
  }
  RemoveOlderCopies(dir, url_hash, name);
  *identity = S3InputIdentity(in, head->etag, head->size);
  return path;
}

}  // namespace

Result<FetchedInputs> FetchS3Inputs(const JobSpec& spec) {
  FetchedInputs out;
  out.spec = spec;
  out.identities.assign(spec.inputs.size(), "");
  std::shared_ptr<S3Client> s3;
  const std::string dir = (spec.cache.dir.empty() ? fs::temp_directory_path().string() + "/fanout-cache"
                                                  : spec.cache.dir) + "/s3";
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    if (!IsS3Location(spec.inputs[i].path)) continue;
    if (!s3) {
      auto config = S3ConfigFromEnvironment();
      if (!config.ok()) return config.status().WithPrefix("input '" + spec.inputs[i].name + "'");
      s3 = std::make_shared<S3Client>(std::move(config).value());
      RemoveDeadTemps(dir);  // once, before the first fetch
    }
    std::string note;
    FANOUT_ASSIGN_OR_RETURN(out.spec.inputs[i].path, FetchOne(*s3, spec.inputs[i], dir, &out.identities[i], &note));
    out.notes.push_back(note);
  }
  return out;
}

}  // namespace fanout
