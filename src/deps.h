// deps: iterations that wait for iterations (the job file's `after:`).
//
//   plan     ResolveDependencies: each iteration's dependencies (by n, output
//            name or kind), a cycle or a missing one refused before anything
//            runs; a dependency's fingerprint is part of its dependants'.
//   decide   DecideDependencies: with --only, a dependency not in the run must
//            have an up-to-date committed output, else its dependants are
//            skipped; a dependency that runs makes its dependants run.
//   run      DependencyGate: hands the scheduler the next iteration whose
//            dependencies have all committed (in the run's order), and the
//            dependants of one that did not, to be skipped with the reason.
//   execute  DependencyViews: on the attempt's own connection, one TEMP VIEW
//            per dependency, named by its output folder, over the files its
//            _SUCCESS lists (the paths bound, never pasted into SQL).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine.h"
#include "fanout/fanout.h"
#include "fanout/job_spec.h"
#include "fanout/store.h"
#include "mutex.h"
#include "plan.h"

namespace fanout {

// The skip reason of an iteration --resume finds up to date.
inline constexpr const char* kUpToDate = "up to date (--resume)";

// Skipped because a dependency did not commit (or is not up to date for
// --only): not a success — the summary does not count it as one and the run
// exits 1.
bool SkippedForADependency(const IterationReport& r);

// Resolves spec.after over the planned iterations (all of them: before --only
// keeps some): sets each one's `deps`, adds each dependency's fingerprint to
// its dependants' (fp_inputs, then the whole), and gives a dependant a
// connection of its own. Invalid (file:line:col) for an iteration or kind
// that is not in the sequence, and for a cycle (naming it).
Status ResolveDependencies(const JobSpec& spec, std::vector<Iteration>& iterations);

// Indices of `iterations` such that each comes after those it depends on
// (those not among `iterations` are ignored).
std::vector<size_t> DependencyOrder(const std::vector<Iteration>& iterations);

// Before the run (reports[i] of iterations[i]): an iteration whose dependency
// is not in this run (--only) needs that dependency's output committed and up
// to date, else it is skipped saying why; an iteration skipped as up to date
// whose dependency runs is run again (its input changes); a dependant of one
// skipped here is skipped too.
void DecideDependencies(OutputStore& store, const std::vector<Iteration>& iterations,
                        std::vector<IterationReport>& reports);

// The scheduler's queue: the next pending iteration (in `order`) whose
// dependencies have all committed (or were up to date). Thread-safe.
class DependencyGate {
 public:
  DependencyGate(const std::vector<Iteration>& iterations, const std::vector<IterationReport>& reports,
                 const std::vector<size_t>& order, std::function<bool()> cancelled);
  enum class Take { kRun, kSkip, kNone };
  // kRun: run *i. kSkip: *i cannot run (a dependency failed): skip it with
  // *reason. kNone: nothing is left. Waits while everything left waits for
  // dependencies still running. Once cancelled, returns every iteration left
  // (to be cancelled), ready or not.
  Take Next(size_t* i, std::string* reason) EXCLUDES(mu_);
  // iterations[i] has its outcome: its dependants become ready (committed)
  // or are to be skipped (anything else).
  void Done(size_t i, IterationStatus status) EXCLUDES(mu_);

 private:
  const std::vector<Iteration>& its_;
  std::function<bool()> cancelled_;
  std::vector<size_t> position_;                 // in `order`, per iteration
  std::vector<size_t> order_;
  std::vector<std::vector<size_t>> dependants_;  // per iteration
  Mutex mu_;
  CondVar changed_;
  std::vector<int> waiting_ GUARDED_BY(mu_);     // dependencies not yet committed
  std::vector<bool> taken_ GUARDED_BY(mu_);      // handed out (or not pending)
  std::set<size_t> ready_ GUARDED_BY(mu_);       // positions in order_
  std::deque<size_t> skip_ GUARDED_BY(mu_);      // to be skipped: reason_ says why
  std::vector<std::string> reason_ GUARDED_BY(mu_);  // why skipped
  std::vector<std::string> root_ GUARDED_BY(mu_);    // the failure behind it: "n=2 failed"
  size_t cancel_cursor_ GUARDED_BY(mu_) = 0;
  size_t left_ GUARDED_BY(mu_) = 0;              // not yet handed out
};

// The dependencies of `it` as TEMP VIEWs on `con` (an attempt's own
// connection), each named by its output folder (`SELECT * FROM iter_2`) over
// the files its committed _SUCCESS lists. Fails when a dependency's output is
// not committed or not the one planned (another fingerprint).
Status DependencyViews(Connection& con, OutputStore& store, const OutputSpec& output, const Iteration& it);

// The dry run's stand-in for DependencyViews: an empty TEMP TABLE per
// dependency with the columns its transform's result has (`columns`, by
// target), so that a dependant's statements prepare and bind.
Status DependencyStandIns(Connection& con, const Iteration& it,
                          const std::map<std::string, std::vector<ResultColumn>>& columns);

}  // namespace fanout
