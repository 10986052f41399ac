// decide: what an opened job runs, and in which order — the checks of its
// targets before anything is written, the skip rules (output.mode:
// skip_existing, --resume) and longest-first from earlier runs' durations.
#include "decide.h"

#include <unistd.h>

#include <algorithm>
#include <limits>

#include "deps.h"
#include "outputs.h"
#include "util.h"

namespace fanout {

// What changed since `marker` was written ("changed: params, inputs"), or "".
static std::string FingerprintChange(const Marker& marker, const Iteration& it) {
  if (marker.fingerprint == it.fingerprint) return "";
  std::string changed;
  auto diff = [&](const char* name, const std::string& was, const std::string& now) {
    if (!was.empty() && was == now) return;  // "": the marker has no such part
    changed += (changed.empty() ? "" : ", ") + std::string(name);
  };
  const FingerprintParts& was = marker.fingerprint_parts;
  diff("sql", was.sql, it.fp_sql);
  diff("params", was.params, it.fp_params);
  diff("inputs", was.inputs, it.fp_inputs);
  diff("output", was.output, it.fp_output);
  diff("settings", was.settings, it.fp_settings);
  return "changed: " + (changed.empty() ? std::string("fingerprint") : changed);
}

// Why an iteration would run under --resume ("" when it is up to date): its
// output is missing, foreign, of other inputs or settings, or differs from
// its _SUCCESS.
RunReason ResumeReason(OutputStore& store, Inspected& in, const Iteration& it, bool verify) {
  if (in.state.kind == TargetState::Kind::kAbsent) return {"no output yet"};
  if (in.state.kind == TargetState::Kind::kForeign)
    return {"not an output of fanout (" + in.state.what + "): run refuses it"};
  std::string changed = FingerprintChange(in.state.marker, it);
  if (!changed.empty()) return {changed};
  const std::string& damaged = in.Damage(store, verify);
  return {damaged, !damaged.empty()};
}

// output.mode: skip_existing: "" when OUT/<target> is an intact output of
// fanout (skipped), else why it runs.
static RunReason SkipExistingReason(OutputStore& store, Inspected& in, bool verify) {
  if (in.state.kind == TargetState::Kind::kAbsent) return {"no output yet"};
  if (in.state.kind == TargetState::Kind::kForeign) return {"not an output of fanout (" + in.state.what + ")"};
  const std::string& damaged = in.Damage(store, verify);
  return {damaged, !damaged.empty()};
}


// Seconds each target took when it last committed, from the newest manifests.
std::map<std::string, double> PastDurations(OutputStore& store) {
  std::map<std::string, double> seconds;
  auto runs = store.ListRuns();
  if (!runs.ok()) return seconds;
  std::vector<std::string> ids = std::move(runs).value();
  std::reverse(ids.begin(), ids.end());  // run ids sort by time: newest first
  if (ids.size() > 20) ids.resize(20);
  for (const std::string& id : ids) {
    auto text = store.ReadRunFile(id + ".json");
    if (!text.ok()) continue;
    auto m = Manifest::FromJson(*text);
    if (!m.ok()) continue;  // foreign, torn, hand-edited or of a newer fanout
    for (const IterationReport& it : m->iterations) {
      if (it.status != IterationStatus::kCommitted) continue;
      // The engine's time: the publish after it holds no worker.
      seconds.emplace(it.target, it.seconds() - it.commit_seconds);  // keeps the newest
    }
  }
  return seconds;
}

// Longest first by past duration; iterations never seen before go first (they
// may be long); ties keep the given order.
std::vector<size_t> RunOrder(const std::vector<Iteration>& its, const std::map<std::string, double>& past,
                             RunSpec::Order order) {
  std::vector<size_t> idx(its.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  if (order == RunSpec::Order::kGiven || past.empty()) return idx;
  auto key = [&](size_t i) {
    auto p = past.find(its[i].target);
    return p == past.end() ? std::numeric_limits<double>::infinity() : p->second;
  };
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return key(a) > key(b); });
  return idx;
}

// output.mode: error_if_exists: Invalid naming the outputs that already
// exist (anything at the path, even a dangling link).
Status CheckNoOutputExists(OutputStore& store, const OutputSpec& output, const std::vector<std::string>& targets) {
  if (output.mode != OutputSpec::Mode::kErrorIfExists) return Status::Ok();
  std::vector<bool> exists(targets.size());
  ParallelFor(targets.size(), store.InspectConcurrency(),
              [&](size_t i) { exists[i] = store.Inspect(targets[i]).kind != TargetState::Kind::kAbsent; });
  std::string list;
  for (size_t i = 0; i < targets.size(); ++i)
    if (exists[i]) list += (list.empty() ? "" : ", ") + targets[i];
  if (list.empty()) return Status::Ok();
  return Status::Invalid("output.mode is error_if_exists and these outputs exist in " + output.dir + ": " + list +
                         " (remove them, or use mode: overwrite or skip_existing)");
}

Status CheckBeforeLoad(OutputStore& store, const JobSpec& spec, const std::vector<std::string>& only) {
  FANOUT_RETURN_IF_ERROR(store.CheckLocation(spec));
  FANOUT_RETURN_IF_ERROR(store.CheckLayout());
  return CheckTargets(store, spec.output, KnownTargets(spec, only));
}

std::vector<std::string> TargetsOf(const std::vector<Iteration>& iterations) {
  std::vector<std::string> targets;
  for (const Iteration& it : iterations) targets.push_back(it.target);
  return targets;
}

// Before anything is written: error_if_exists refuses anything at a target's
// path; the other modes refuse what fanout did not write there.
Status CheckTargets(OutputStore& store, const OutputSpec& output, const std::vector<std::string>& targets) {
  if (output.mode == OutputSpec::Mode::kErrorIfExists) return CheckNoOutputExists(store, output, targets);
  return RefuseForeignTargets(store, targets);
}

// Decides whether `it` is skipped (output.mode: skip_existing, --resume);
// an iteration whose output is damaged runs again, saying why.
void DecideSkip(OutputStore& store, const JobSpec& spec, const RunOptions& options, const Iteration& it,
                IterationReport& r) {
  const std::string& out = spec.output.dir;
  const bool skip_existing = spec.output.mode == OutputSpec::Mode::kSkipExisting;
  if (!skip_existing && !options.resume) return;
  Inspected in(store, it);
  RunReason why;
  if (skip_existing) {
    why = SkipExistingReason(store, in, options.verify);
    if (why.text.empty()) {
      r.status = IterationStatus::kSkipped;
      r.skip_reason = "exists (output.mode: skip_existing)";
      return;
    }
  }
  if (options.resume) {
    why = ResumeReason(store, in, it, options.verify);
    if (why.text.empty()) {
      r.status = IterationStatus::kSkipped;
      r.skip_reason = kUpToDate;
      return;
    }
  }
  r.run_reason = why.text;
  if (why.damaged && options.events)
    options.events->OnMessage("rerun  n=" + it.key + ": " + out + "/" + it.target + " differs from its _SUCCESS: " +
                              why.text);
}


std::string LockHolder(const std::string& run_id) {
  return "run " + run_id + ", pid " + std::to_string(getpid()) + " on " + HostName();
}

}  // namespace fanout
