#include "outputs.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "util.h"

namespace fanout {
namespace {

// A marker larger than this is not fanout's (10,000 part files take ~1 MiB).
constexpr int64_t kMaxMarkerBytes = 64LL << 20;

TargetState Foreign(std::string what) {
  TargetState s;
  s.kind = TargetState::Kind::kForeign;
  s.what = std::move(what);
  return s;
}

std::string KindOf(const FileInfo& info) {
  if (info.is_symlink) return "a symbolic link";
  if (info.is_dir) return "a folder";
  if (info.is_file) return "a regular file";
  return "a special file (FIFO, socket or device)";
}

// Every file the job reads or keeps, as (what, path).
std::vector<std::pair<std::string, std::string>> JobFiles(const JobSpec& spec) {
  std::vector<std::pair<std::string, std::string>> files;
  if (!spec.path.empty()) files.emplace_back("the job file", spec.path);
  for (const InputSpec& in : spec.inputs) files.emplace_back("input '" + in.name + "'", in.path);
  for (const std::string& f : spec.param_files) files.emplace_back("the params include", f);
  auto transform = [&](const TransformSpec& t) {
    // Inline SQL is named "<job>:line:column": the job file, listed above.
    bool inline_sql = t.source == spec.path || t.source.rfind(spec.path + ":", 0) == 0;
    if (!inline_sql && !t.source.empty()) files.emplace_back("the transform", t.source);
  };
  if (spec.transform) transform(*spec.transform);
  for (const auto& [kind, t] : spec.transforms) transform(t);
  if (spec.cache.enabled && !spec.cache.dir.empty()) files.emplace_back("the input cache (cache.dir)", spec.cache.dir);
  return files;
}

std::string Joined(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

}  // namespace

std::vector<std::string> KnownTargets(const JobSpec& spec, const std::vector<std::string>& only) {
  std::vector<std::string> keys;
  const SequenceSpec& seq = spec.sequence;
  if (seq.kind == SequenceSpec::Kind::kList)
    for (const Value& v : seq.items) keys.push_back(v.ToString());
  if (seq.kind == SequenceSpec::Kind::kRange && seq.step > 0)
    for (int64_t i = seq.first; i <= seq.last; i += seq.step) keys.push_back(std::to_string(i));
  std::set<std::string> wanted(only.begin(), only.end());
  std::vector<std::string> targets;
  for (const std::string& key : keys) {
    if (!wanted.empty() && !wanted.count(key)) continue;
    // As plan.cc names them: {n} replaced, {kind} empty (lists and ranges
    // have no kinds).
    std::string name;
    const std::string& pattern = spec.output.name;
    for (size_t i = 0; i < pattern.size();) {
      if (pattern.compare(i, 3, "{n}") == 0)
        name += key, i += 3;
      else if (pattern.compare(i, 6, "{kind}") == 0)
        i += 6;
      else
        name += pattern[i++];
    }
    if (IsSafePathComponent(name) && name[0] != '.' && name[0] != '_') targets.push_back(name);
  }
  return targets;
}

TargetState InspectTarget(Storage& storage, const std::string& path) {
  auto info = storage.Stat(path);
  if (!info.ok()) return TargetState{};
  if (!info->is_dir) return Foreign(KindOf(*info));
  auto marker = storage.Stat(path + "/_SUCCESS");
  if (!marker.ok()) return Foreign("a folder without _SUCCESS");
  if (!marker->is_file) return Foreign("a folder whose _SUCCESS is " + KindOf(*marker));
  if (marker->size == 0)
    return Foreign("a folder with an empty _SUCCESS (Spark and Hadoop write one; fanout's holds JSON)");
  if (marker->size > kMaxMarkerBytes) return Foreign("a folder whose _SUCCESS is not fanout's (too large)");
  auto text = storage.ReadFile(path + "/_SUCCESS");
  if (!text.ok()) return Foreign("a folder whose _SUCCESS cannot be read (" + text.status().message() + ")");
  // Marker::FromJson takes only fanout's: a run id, a fingerprint, the files.
  auto parsed = Marker::FromJson(*text);
  if (!parsed.ok()) {
    if (RecordFormatOf(*text) > kRecordFormat) {
      TargetState s = Foreign("a folder whose " + parsed.status().message());
      s.newer = true;
      return s;
    }
    return Foreign("a folder whose _SUCCESS is not fanout's marker");
  }
  TargetState s;
  s.kind = TargetState::Kind::kOurs;
  s.marker = std::move(parsed).value();
  return s;
}

std::string ForeignTargetMessage(const std::string& path, const std::string& what) {
  return path + " is " + what +
         ", not an output of fanout: fanout never replaces or deletes what it did not write; move it away (or "
         "choose another output.dir or output.name) and run again";
}

Status RefuseForeignTargets(OutputStore& store, const std::vector<std::string>& targets) {
  std::vector<std::string> foreign, newer;
  std::vector<TargetState> states(targets.size());
  ParallelFor(targets.size(), store.InspectConcurrency(), [&](size_t i) { states[i] = store.Inspect(targets[i]); });
  for (size_t i = 0; i < targets.size(); ++i) {
    std::string path = store.location() + "/" + targets[i];
    const TargetState& s = states[i];
    if (s.kind != TargetState::Kind::kForeign) continue;
    (s.newer ? newer : foreign).push_back(path + " (" + s.what + ")");
  }
  if (!newer.empty())
    return Status::Invalid("these outputs were written by a newer fanout: " + Joined(newer, ", ") +
                           "; upgrade fanout to run this job on " + store.location() + " (nothing was written)");
  if (foreign.empty()) return Status::Ok();
  return Status::Invalid("these outputs' paths hold something fanout did not write: " + Joined(foreign, ", ") +
                         "; fanout never replaces or deletes them: move them away, or choose another output.dir or "
                         "output.name (nothing was written)");
}

Status CheckOutputLocation(Storage& storage, const JobSpec& spec) {
  const std::string& dir = spec.output.dir;
  // A path that cannot be resolved (under a file, say) cannot be created
  // either: creating it reports that, later.
  auto out = storage.Canonical(dir);
  if (!out.ok()) out = dir;
  auto info = storage.Stat(*out);
  if (info.ok() && !info->is_dir)
    return Status::Invalid("output.dir " + dir + " exists and is " + KindOf(*info) +
                           ", not a folder: choose another output.dir (nothing was written)");
  std::vector<std::string> held;
  for (const auto& [what, path] : JobFiles(spec)) {
    auto c = storage.Canonical(path);
    if (c.ok() && IsInsideOrSame(*c, *out)) held.push_back(what + " " + path);
  }
  if (spec.cache.enabled && !spec.cache.dir.empty()) {
    auto cache = storage.Canonical(spec.cache.dir);
    if (cache.ok() && IsInsideOrSame(*out, *cache) && *out != *cache)
      return Status::Invalid("output.dir " + dir + " (" + *out + ") is inside the input cache (cache.dir) " +
                             spec.cache.dir + ": choose an output.dir outside it (nothing was written)");
  }
  if (held.empty()) return Status::Ok();
  return Status::Invalid("output.dir " + dir + " (" + *out + ") holds " + Joined(held, ", ") +
                         ": an output folder holds only fanout's outputs; choose an output.dir outside the job's "
                         "files (the default is out/ beside the job file; nothing was written)");
}

std::string VerifyOutput(Storage& storage, const std::string& dir, const Marker& marker, bool checksums) {
  auto entries = storage.List(dir);
  if (!entries.ok()) return entries.status().message();
  std::map<std::string, FileInfo> on_disk;
  for (const FileInfo& e : *entries)
    if (e.name != "_SUCCESS") on_disk[e.name] = e;
  std::vector<std::string> problems;
  std::vector<std::pair<std::string, std::string>> to_hash;  // name, xxh3 in _SUCCESS
  for (const MarkerFile& f : marker.files) {
    const std::string& name = f.name;
    auto e = on_disk.find(name);
    const int64_t bytes = f.bytes;
    if (e == on_disk.end()) {
      problems.push_back(name + ": missing (listed in _SUCCESS)");
      continue;
    }
    if (!e->second.is_file) {
      problems.push_back(name + ": " + KindOf(e->second) + " on disk, a file in _SUCCESS");
    } else if (e->second.size != bytes) {
      problems.push_back(name + ": size " + std::to_string(e->second.size) + " on disk, " + std::to_string(bytes) +
                         " in _SUCCESS");
    } else {
      to_hash.emplace_back(name, f.xxh3);
    }
    on_disk.erase(e);
  }
  for (const auto& [name, info] : on_disk) problems.push_back(name + ": not listed in _SUCCESS (an extra file)");
  if (problems.empty() && checksums) {
    for (const auto& [name, want] : to_hash) {
      auto got = storage.HashFile(dir + "/" + name);
      if (!got.ok())
        problems.push_back(name + ": " + got.status().message());
      else if (*got != want)
        problems.push_back(name + ": xxh3 " + *got + " on disk, " + want + " in _SUCCESS (same size, other bytes)");
    }
  }
  if (problems.size() > 3) {
    size_t more = problems.size() - 3;
    problems.resize(3);
    problems.push_back("and " + std::to_string(more) + " more");
  }
  return Joined(problems, "; ");
}

std::vector<OutputCheck> VerifyOutputs(OutputStore& store, const Manifest& last_manifest, bool checksums) {
  std::vector<OutputCheck> checks;
  std::set<std::string> present;
  auto names = store.ListTargets();
  if (names.ok()) {
    for (const std::string& name : *names) {
      present.insert(name);
      OutputCheck c{name, "", false};
      TargetState s = store.Inspect(name);
      if (s.kind == TargetState::Kind::kOurs) {
        c.problem = store.Verify(name, s.marker, checksums);
      } else {
        c.foreign = true;
        c.problem = s.what + ", not an output of fanout";
      }
      checks.push_back(c);
    }
  }
  const std::string& run = last_manifest.run_id;
  for (const IterationReport& it : last_manifest.iterations) {
    if (it.status != IterationStatus::kCommitted && it.status != IterationStatus::kSkipped) continue;
    const std::string status = ToString(it.status);
    if (!present.count(it.target)) {
      checks.push_back(OutputCheck{it.target, "missing (the last run, " + run + ", reports it " + status + ")", false});
      continue;
    }
    // No longer an output of fanout (its _SUCCESS was damaged): a problem,
    // not a folder to ignore.
    for (OutputCheck& c : checks)
      if (c.target == it.target && c.foreign) {
        c.foreign = false;
        c.problem += " (the last run, " + run + ", reports it " + status + ")";
      }
  }
  std::sort(checks.begin(), checks.end(),
            [](const OutputCheck& a, const OutputCheck& b) { return a.target < b.target; });
  return checks;
}

}  // namespace fanout
