// collect: the barrier of a sharded run. Waits until each of the run's N
// shards has written its final shard manifest, checks that they planned the
// same run and shared it out alike, and merges them into the run manifest.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <set>
#include <thread>

#include "shard.h"
#include "util.h"

namespace fanout {

namespace {

struct ShardFile {
  std::string run_id;
  int shard = 0, shards = 0;
};

// <run-id>.shard-K-of-N.json, or false.
bool ParseShardFile(const std::string& name, ShardFile* f) {
  size_t dot = name.find(".shard-");
  if (dot == std::string::npos || dot == 0) return false;
  int k = 0, n = 0;
  char tail[8] = {};
  if (sscanf(name.c_str() + dot, ".shard-%d-of-%d%6s", &k, &n, tail) != 3 || std::string(tail) != ".json")
    return false;
  if (ShardManifestName(name.substr(0, dot), k, n) != name) return false;
  *f = ShardFile{name.substr(0, dot), k, n};
  return k >= 1 && k <= n;
}

// The run to collect: the one given, or the only one with shard manifests
// and no run manifest yet ("" while none has started).
Result<std::string> PickRun(const std::vector<std::string>& files, const std::string& given) {
  if (!given.empty()) return given;
  std::set<std::string> runs, collected;
  for (const std::string& name : files) {
    ShardFile f;
    if (ParseShardFile(name, &f))
      runs.insert(f.run_id);
    else if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0)
      collected.insert(name.substr(0, name.size() - 5));
  }
  std::vector<std::string> open;
  for (const std::string& r : runs)
    if (!collected.count(r)) open.push_back(r);
  if (open.size() > 1)
    return Status::Invalid("several sharded runs are not collected yet (" + open.front() + ", " + open[1] +
                           (open.size() > 2 ? ", ..." : "") + "): name one with --run-id");
  return open.empty() ? std::string() : open.front();
}

double ParseUtc(const std::string& text) {
  std::tm tm = {};
  double frac = 0;
  if (sscanf(text.c_str(), "%d-%d-%dT%d:%d:%lfZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
             &frac) != 6)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) + frac;
}

// Natural order of targets: iter_2 before iter_10.
bool TargetLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (isdigit(static_cast<unsigned char>(a[i])) && isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && isdigit(static_cast<unsigned char>(a[i2]))) ++i2;
      while (j2 < b.size() && isdigit(static_cast<unsigned char>(b[j2]))) ++j2;
      std::string x = a.substr(i, i2 - i), y = b.substr(j, j2 - j);
      x.erase(0, std::min(x.find_first_not_of('0'), x.size()));
      y.erase(0, std::min(y.find_first_not_of('0'), y.size()));
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
      i = i2, j = j2;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i, ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

// Reads the run's shard manifests. `waiting` gets one line per shard not
// finished; `shards` the finished ones.
Status ReadShards(OutputStore& store, const std::string& run_id, const std::vector<std::string>& files,
                  std::vector<Manifest>* shards, std::vector<std::string>* waiting) {
  int count = 0;
  for (const std::string& name : files) {
    ShardFile f;
    if (!ParseShardFile(name, &f) || f.run_id != run_id) continue;
    if (count && f.shards != count)
      return Status::Invalid("the shards of run " + run_id + " disagree on how many there are (" +
                             std::to_string(count) + " and " + std::to_string(f.shards) +
                             "): every shard of one run must be given the same N");
    count = f.shards;
  }
  if (!count) {
    waiting->push_back("no shard of run " + run_id + " has started (no " + store.RunFileLocation(run_id + ".shard-*.json") + ")");
    return Status::Ok();
  }
  for (int k = 1; k <= count; ++k) {
    const std::string name = ShardManifestName(run_id, k, count);
    const std::string what = "shard " + std::to_string(k) + "/" + std::to_string(count);
    if (std::find(files.begin(), files.end(), name) == files.end()) {
      waiting->push_back(what + " has not started (no " + store.RunFileLocation(name) + ")");
      continue;
    }
    auto text = store.ReadRunFile(name);
    if (!text.ok()) return text.status();
    auto m = Manifest::FromJson(*text);
    if (!m.ok()) return Status::Invalid("cannot read " + store.RunFileLocation(name) + ": " + m.status().message());
    if (m->status == "running") {
      waiting->push_back(what + " is still running (pid " + std::to_string(m->pid) + " on " +
                         (m->shard ? m->shard->host : std::string("?")) + "; if it was killed, run it again)");
      continue;
    }
    shards->push_back(std::move(m).value());
  }
  return Status::Ok();
}

// One run manifest from the shards' (all final).
Result<RunReport> Merge(const std::string& run_id, std::vector<Manifest>& shards) {
  RunReport r;
  r.run_id = run_id;
  r.started_at = 1e300;
  std::set<std::string> targets;
  for (Manifest& m : shards) {
    const ManifestShard& s = *m.shard;
    const ManifestShard& first = *shards.front().shard;
    if (s.digest != first.digest || s.total != first.total)
      return Status::Invalid("the shards of run " + run_id + " planned different runs (shard " +
                             std::to_string(first.index) + " and shard " + std::to_string(s.index) +
                             " differ: another job file, --only, --set or run history): run the job again with --resume");
    r.job_name = m.job;
    r.out_dir = m.out_dir;
    r.started_at = std::min(r.started_at, ParseUtc(m.started_at));
    r.finished_at = std::max(r.finished_at, ParseUtc(m.finished_at));
    r.interrupted = r.interrupted || m.status == "interrupted";
    if (!m.error.empty() && r.status.ok()) r.status = Status::Failed("shard " + std::to_string(s.index) + ": " + m.error);
    r.workers += m.max_workers;
    r.threads = std::max(r.threads, m.threads);
    for (IterationReport& it : m.iterations) {
      if (!targets.insert(it.target).second)
        return Status::Invalid("two shards of run " + run_id + " both ran " + it.target);
      r.iterations.push_back(std::move(it));
    }
  }
  if (static_cast<int64_t>(r.iterations.size()) != shards.front().shard->total)
    return Status::Invalid("the shards of run " + run_id + " report " + std::to_string(r.iterations.size()) +
                           " iterations of " + std::to_string(shards.front().shard->total) + " planned");
  std::stable_sort(r.iterations.begin(), r.iterations.end(),
                   [](const IterationReport& a, const IterationReport& b) { return TargetLess(a.target, b.target); });
  return r;
}

}  // namespace

Result<RunReport> Collect(OutputStore& store, const CollectOptions& options) {
  if (!options.run_id.empty()) FANOUT_RETURN_IF_ERROR(CheckRunId(options.run_id));
  const double deadline = NowSeconds() + options.wait_seconds;
  for (;;) {
    // No runs folder yet: no shard has started.
    auto files = store.ListRunFiles();
    if (!files.ok()) files = std::vector<std::string>{};
    auto run_id = PickRun(*files, options.run_id);
    if (!run_id.ok()) return run_id.status();
    std::vector<Manifest> shards;
    std::vector<std::string> waiting;
    if (run_id->empty())
      waiting.push_back("no sharded run found in " + store.location() + " (no " +
                        store.RunFileLocation("<run-id>.shard-K-of-N.json") + " not yet collected)");
    else
      FANOUT_RETURN_IF_ERROR(ReadShards(store, *run_id, *files, &shards, &waiting));
    if (waiting.empty()) {
      auto merged = Merge(*run_id, shards);
      if (!merged.ok()) return merged.status();
      Status st = store.WriteRunFile(*run_id + ".json", merged->ToJson());
      if (!st.ok()) return Status::Io("cannot write the run manifest: " + st.message());
      merged->manifest_path = store.RunFileLocation(*run_id + ".json");
      return merged;
    }
    if (options.cancel && options.cancel->load()) return Status::Interrupted("collect: interrupted");
    if (NowSeconds() >= deadline) {
      std::string why;
      for (const std::string& w : waiting) why += "\n  " + w;
      return Status::Failed("collect: gave up waiting after " + std::to_string(static_cast<int>(options.wait_seconds)) +
                            " s (--wait):" + why);
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(options.poll_seconds));
  }
}

}  // namespace fanout
