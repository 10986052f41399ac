// decide: what an opened job runs, and in which order — the checks of its
// targets before anything is written, the skip rules (output.mode:
// skip_existing, --resume) and longest-first from earlier runs' durations.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fanout/fanout.h"
#include "outputs.h"
#include "plan.h"
#include "fanout/store.h"

namespace fanout {

// Why an iteration runs instead of being skipped; empty `text`: skip it.
struct RunReason {
  std::string text;
  bool damaged = false;  // its output differs from its _SUCCESS
};

// OUT/<target> looked at once for both skip rules (resume, skip_existing):
// the target's state, and its comparison with _SUCCESS made at most once.
struct Inspected {
  std::string target;
  TargetState state;
  std::optional<std::string> damaged;  // OutputStore::Verify's answer, once asked

  Inspected(OutputStore& store, const Iteration& it) : target(it.target), state(store.Inspect(target)) {}
  // "" when it holds exactly what its _SUCCESS lists (names and sizes; with
  // `verify`, checksums too). REQUIRES: state.kind == kOurs.
  const std::string& Damage(OutputStore& store, bool verify) {
    if (!damaged) damaged = store.Verify(target, state.marker, verify);
    return *damaged;
  }
};

// Why an iteration would run under --resume ("" when it is up to date): its
// output is missing, foreign, of other inputs or settings, or differs from
// its _SUCCESS.
RunReason ResumeReason(OutputStore& store, Inspected& in, const Iteration& it, bool verify);

// Decides whether `it` is skipped (output.mode: skip_existing, --resume);
// an iteration whose output is damaged runs again, saying why.
void DecideSkip(OutputStore& store, const JobSpec& spec, const RunOptions& options, const Iteration& it,
                IterationReport& r);

// Before anything is written: error_if_exists refuses anything at a target's
// path; the other modes refuse what fanout did not write there.
Status CheckTargets(OutputStore& store, const OutputSpec& output, const std::vector<std::string>& targets);
// output.mode: error_if_exists: Invalid naming the outputs that already
// exist (anything at the path, even a dangling link).
Status CheckNoOutputExists(OutputStore& store, const OutputSpec& output, const std::vector<std::string>& targets);

std::vector<std::string> TargetsOf(const std::vector<Iteration>& iterations);

// Everything that can reject a run before its inputs load (which may write
// the input cache): where the output goes, fanout's bookkeeping names, and
// the targets of a list or range (known from the job file; limited to
// `only`). A sequence: {sql} has its targets checked once loaded.
Status CheckBeforeLoad(OutputStore& store, const JobSpec& spec, const std::vector<std::string>& only);

// Seconds each target took when it last committed, from the newest manifests.
std::map<std::string, double> PastDurations(OutputStore& store);

// Longest first by past duration; iterations never seen before go first (they
// may be long); ties keep the given order.
std::vector<size_t> RunOrder(const std::vector<Iteration>& its, const std::map<std::string, double>& past,
                             RunSpec::Order order);

// What the lock file holds: "run <id>, pid <pid> on <host>".
std::string LockHolder(const std::string& run_id);

}  // namespace fanout
