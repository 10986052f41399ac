#include "deps.h"

#include <algorithm>
#include <optional>

#include "s3_store.h"
#include "util.h"

namespace fanout {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return s;
}

// Finds iterations by n (first) or output name.
class Lookup {
 public:
  explicit Lookup(const std::vector<Iteration>& its) {
    for (size_t i = 0; i < its.size(); ++i) by_key_.emplace(its[i].key, i), by_target_.emplace(its[i].target, i);
  }
  std::optional<size_t> Find(const std::string& name) const {
    if (auto k = by_key_.find(name); k != by_key_.end()) return k->second;
    if (auto t = by_target_.find(name); t != by_target_.end()) return t->second;
    return std::nullopt;
  }
  std::optional<size_t> Target(const std::string& target) const {
    auto t = by_target_.find(target);
    return t == by_target_.end() ? std::nullopt : std::optional<size_t>(t->second);
  }

 private:
  std::map<std::string, size_t> by_key_, by_target_;
};

struct Graph {
  std::vector<std::vector<size_t>> needs;  // per iteration: the iterations it waits for
  std::vector<std::string> where;          // per iteration: its after: entry ("" if none)
};

// One after: entry into the graph.
Status AddEntry(const AfterSpec& a, const std::vector<Iteration>& its, const Lookup& lookup, Graph& g) {
  auto of = lookup.Find(a.of);
  if (!of)
    return Status::Invalid(a.where + ": after: '" + a.of +
                           "' is not an iteration of the sequence (give an n or an output name)");
  std::vector<size_t>& needs = g.needs[*of];
  g.where[*of] = a.where;
  for (size_t j = 0; j < a.needs.size(); ++j) {
    auto d = lookup.Find(a.needs[j]);
    const std::string& at = j < a.needs_where.size() ? a.needs_where[j] : a.where;
    if (!d)
      return Status::Invalid(at + ": after." + a.of + ": '" + a.needs[j] +
                             "' is not an iteration of the sequence (give an n or an output name)");
    if (*d == *of) return Status::Invalid(at + ": after." + a.of + ": an iteration cannot wait for itself");
    needs.push_back(*d);
  }
  for (size_t k = 0; k < a.kinds.size(); ++k) {
    const std::string& at = a.needs.size() + k < a.needs_where.size() ? a.needs_where[a.needs.size() + k] : a.where;
    bool any = false;
    for (size_t i = 0; i < its.size(); ++i)
      if (its[i].kind == a.kinds[k] && i != *of) needs.push_back(i), any = true;  // of itself: not its own dependency
    if (!any) return Status::Invalid(at + ": after." + a.of + ": no other iteration is of kind '" + a.kinds[k] + "'");
  }
  std::sort(needs.begin(), needs.end());
  needs.erase(std::unique(needs.begin(), needs.end()), needs.end());
  return Status::Ok();
}

// Kahn's algorithm: dependencies first. Those left over are on or behind a cycle.
std::vector<size_t> Topological(const std::vector<std::vector<size_t>>& needs, std::vector<int>* left_indegree) {
  const size_t n = needs.size();
  std::vector<int> indegree(n, 0);
  std::vector<std::vector<size_t>> dependants(n);
  for (size_t i = 0; i < n; ++i)
    for (size_t d : needs[i]) ++indegree[i], dependants[d].push_back(i);
  std::vector<size_t> order;
  for (size_t i = 0; i < n; ++i)
    if (indegree[i] == 0) order.push_back(i);
  for (size_t k = 0; k < order.size(); ++k)
    for (size_t d : dependants[order[k]])
      if (--indegree[d] == 0) order.push_back(d);
  if (left_indegree) *left_indegree = std::move(indegree);
  return order;
}

// A cycle among the iterations Kahn left: from one of them, follow a
// dependency that is left too until an iteration repeats.
Status CycleError(const std::vector<Iteration>& its, const Graph& g, const std::vector<int>& indegree) {
  size_t at = 0;
  while (indegree[at] == 0) ++at;
  std::vector<size_t> path;
  std::map<size_t, size_t> seen;  // iteration -> its place in path
  while (!seen.count(at)) {
    seen[at] = path.size();
    path.push_back(at);
    for (size_t d : g.needs[at])
      if (indegree[d] > 0) {
        at = d;
        break;
      }
  }
  std::string cycle;
  for (size_t k = seen[at]; k < path.size(); ++k) cycle += "n=" + its[path[k]].key + " waits for ";
  cycle += "n=" + its[at].key;
  return Status::Invalid(g.where[at] + ": after: a cycle: " + cycle +
                         ", so none of them could start; remove one of these dependencies");
}

// A dependency's view is named by its output folder: it must not hide an input.
Status CheckViewNames(const JobSpec& spec, const std::vector<Iteration>& its, const Graph& g) {
  for (size_t i = 0; i < its.size(); ++i)
    for (size_t d : g.needs[i])
      for (const InputSpec& in : spec.inputs)
        if (Lower(in.name) == Lower(its[d].target))
          return Status::Invalid(g.where[i] + ": after." + its[i].key + ": the output of n=" + its[d].key +
                                 " is read as the table '" + its[d].target + "', which is the name of an input: "
                                 "rename one (output.name or the input)");
  return Status::Ok();
}

}  // namespace

bool SkippedForADependency(const IterationReport& r) {
  return r.status == IterationStatus::kSkipped && r.skip_reason.rfind("dependency n=", 0) == 0;
}

Status ResolveDependencies(const JobSpec& spec, std::vector<Iteration>& its) {
  if (spec.after.empty()) return Status::Ok();
  if (IsS3Location(spec.output.dir))
    return Status::Invalid(spec.after[0].where + ": after: needs output.dir on a filesystem (a dependant reads its "
                           "dependencies' files through the engine; s3:// is not supported for this yet)");
  Lookup lookup(its);
  Graph g{std::vector<std::vector<size_t>>(its.size()), std::vector<std::string>(its.size())};
  for (const AfterSpec& a : spec.after) FANOUT_RETURN_IF_ERROR(AddEntry(a, its, lookup, g));
  std::vector<int> indegree;
  std::vector<size_t> order = Topological(g.needs, &indegree);
  if (order.size() < its.size()) return CycleError(its, g, indegree);
  FANOUT_RETURN_IF_ERROR(CheckViewNames(spec, its, g));
  for (size_t i : order) {  // dependencies first: their fingerprints are final
    Iteration& it = its[i];
    if (g.needs[i].empty()) continue;
    std::string text = it.fp_inputs;
    for (size_t d : g.needs[i]) {
      it.deps.push_back(Dependency{its[d].key, its[d].target, its[d].fingerprint});
      text += "|after " + its[d].target + "=" + its[d].fingerprint;
    }
    it.fp_inputs = HashHex(text);
    it.fingerprint = CombinedFingerprint(it);
    it.reusable_session = false;  // its views stay on its own connection
  }
  return Status::Ok();
}

std::vector<size_t> DependencyOrder(const std::vector<Iteration>& its) {
  Lookup lookup(its);
  std::vector<std::vector<size_t>> needs(its.size());
  for (size_t i = 0; i < its.size(); ++i)
    for (const Dependency& d : its[i].deps)
      if (auto j = lookup.Target(d.target)) needs[i].push_back(*j);
  std::vector<size_t> order = Topological(needs, nullptr);
  if (order.size() < its.size()) {  // cannot happen after ResolveDependencies; keep every index
    std::vector<bool> in(its.size(), false);
    for (size_t i : order) in[i] = true;
    for (size_t i = 0; i < its.size(); ++i)
      if (!in[i]) order.push_back(i);
  }
  return order;
}

void DecideDependencies(OutputStore& store, const std::vector<Iteration>& its, std::vector<IterationReport>& reports) {
  Lookup lookup(its);
  std::vector<bool> blocked(its.size(), false);  // skipped here
  for (size_t i : DependencyOrder(its)) {
    IterationReport& r = reports[i];
    if (its[i].deps.empty()) continue;
    std::string why_not, why_run;
    for (const Dependency& d : its[i].deps) {
      auto j = lookup.Target(d.target);
      if (!j) {
        TargetState state = store.Inspect(d.target);
        if (state.kind != TargetState::Kind::kOurs || state.marker.fingerprint != d.fingerprint)
          why_not = "dependency n=" + d.key + " is not in this run (--only) and its output is " +
                    (state.kind == TargetState::Kind::kOurs ? "not up to date" : "missing") + ": run it too";
      } else if (blocked[*j]) {
        why_not = "dependency n=" + d.key + " is skipped (" + reports[*j].skip_reason + ")";
      } else if (reports[*j].status == IterationStatus::kPending && why_run.empty()) {
        why_run = "dependency n=" + d.key + " runs";
      }
      if (!why_not.empty()) break;
    }
    if (!why_not.empty() && r.status != IterationStatus::kCancelled) {
      blocked[i] = true;
      r.status = IterationStatus::kSkipped;
      r.skip_reason = why_not;
    } else if (!why_run.empty() && r.status == IterationStatus::kSkipped && r.skip_reason == kUpToDate) {
      r.status = IterationStatus::kPending;  // its input changes: it runs again
      r.skip_reason.clear();
      r.run_reason = why_run;
    }
  }
}

}  // namespace fanout

namespace fanout {

DependencyGate::DependencyGate(const std::vector<Iteration>& its, const std::vector<IterationReport>& reports,
                               const std::vector<size_t>& order, std::function<bool()> cancelled)
    : its_(its), cancelled_(std::move(cancelled)), position_(its.size(), SIZE_MAX), order_(order),
      dependants_(its.size()) {
  MutexLock lock(&mu_);
  waiting_.assign(its.size(), 0);
  taken_.assign(its.size(), true);
  reason_.assign(its.size(), "");
  root_.assign(its.size(), "");
  for (size_t k = 0; k < order_.size(); ++k) {
    position_[order_[k]] = k;
    if (reports[order_[k]].status == IterationStatus::kPending) taken_[order_[k]] = false, ++left_;
  }
  const bool any = std::any_of(its.begin(), its.end(), [](const Iteration& it) { return !it.deps.empty(); });
  if (!any) {  // no after: the run's order as it is
    for (size_t k = 0; k < order_.size(); ++k)
      if (!taken_[order_[k]]) ready_.insert(ready_.end(), k);
    return;
  }
  Lookup lookup(its);
  for (size_t i = 0; i < its.size(); ++i) {
    if (taken_[i]) continue;
    for (const Dependency& d : its[i].deps) {
      auto j = lookup.Target(d.target);  // not in the run, or decided before it: nothing to wait for
      if (!j || position_[*j] == SIZE_MAX || reports[*j].status != IterationStatus::kPending) continue;
      ++waiting_[i];
      dependants_[*j].push_back(i);
    }
    if (waiting_[i] == 0) ready_.insert(position_[i]);
  }
}

DependencyGate::Take DependencyGate::Next(size_t* i, std::string* reason) {
  MutexLock lock(&mu_);
  for (;;) {
    if (!skip_.empty()) {
      *i = skip_.front();
      skip_.pop_front();
      *reason = reason_[*i];
      return Take::kSkip;
    }
    if (cancelled_() && left_ > 0) {  // everything left, to be cancelled
      while (taken_[order_[cancel_cursor_]]) ++cancel_cursor_;
      *i = order_[cancel_cursor_];
      taken_[*i] = true, --left_;
      ready_.erase(position_[*i]);
      return Take::kRun;
    }
    if (!ready_.empty()) {
      *i = order_[*ready_.begin()];
      ready_.erase(ready_.begin());
      taken_[*i] = true, --left_;
      return Take::kRun;
    }
    if (left_ == 0) return Take::kNone;
    changed_.WaitUntil(mu_, CondVar::After(0.05));  // also to notice a cancel
  }
}

void DependencyGate::Done(size_t i, IterationStatus status) {
  {
    MutexLock lock(&mu_);
    const std::string n = "n=" + its_[i].key;
    for (size_t d : dependants_[i]) {
      if (taken_[d]) continue;
      if (status == IterationStatus::kCommitted) {
        if (--waiting_[d] == 0) ready_.insert(position_[d]);
        continue;
      }
      taken_[d] = true, --left_;
      ready_.erase(position_[d]);
      if (root_[i].empty()) {
        root_[d] = n + (status == IterationStatus::kFailed ? " failed" : " was " + std::string(ToString(status)));
        reason_[d] = "dependency " + root_[d];
      } else {
        root_[d] = root_[i];
        reason_[d] = "dependency " + n + " was skipped (" + root_[i] + ")";
      }
      skip_.push_back(d);
    }
  }
  changed_.SignalAll();
}

namespace {

// The engine's reader of the job's output format, over a list of files.
std::string ReaderCall(const OutputSpec& output, const std::string& variable) {
  const std::string files = "getvariable('" + variable + "')";
  if (output.format == "csv") return "read_csv(" + files + ", header = true)";
  if (output.format == "json") return "read_json(" + files + ", format = 'newline_delimited')";
  return "read_parquet(" + files + ")";
}

Status Exec(Connection& con, const std::string& sql, const Params& params) {
  auto stmt = con.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  FANOUT_RETURN_IF_ERROR((*stmt)->BindAll(params));
  auto r = (*stmt)->Execute();
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace

Status DependencyViews(Connection& con, OutputStore& store, const OutputSpec& output, const Iteration& it) {
  for (size_t k = 0; k < it.deps.size(); ++k) {
    const Dependency& d = it.deps[k];
    TargetState state = store.Inspect(d.target);
    if (state.kind != TargetState::Kind::kOurs)
      return Status::Failed("dependency n=" + d.key + " has no committed output (" + d.target + ")");
    // skip_existing keeps an output whatever made it: that one is read.
    if (state.marker.fingerprint != d.fingerprint && output.mode != OutputSpec::Mode::kSkipExisting)
      return Status::Failed("dependency n=" + d.key + ": the committed output " + d.target +
                            " is not the one this run planned (its _SUCCESS has another fingerprint)");
    ValueList files;
    for (const MarkerFile& f : state.marker.files) files.push_back(Value(output.dir + "/" + d.target + "/" + f.name));
    // fanout's own names only in the text: the variable (per connection) holds the paths.
    const std::string variable = "fanout_after_" + std::to_string(k);
    Status st = Exec(con, "SET VARIABLE " + variable + " = $files", Params{{"files", Value(std::move(files))}});
    if (st.ok())
      st = Exec(con, "CREATE TEMP VIEW " + QuoteIdentifier(d.target) + " AS SELECT * FROM " +
                         ReaderCall(output, variable), {});
    if (!st.ok()) return st.WithPrefix("reading the output of dependency n=" + d.key);
  }
  return Status::Ok();
}

Status DependencyStandIns(Connection& con, const Iteration& it,
                          const std::map<std::string, std::vector<ResultColumn>>& columns) {
  for (const Dependency& d : it.deps) {
    auto c = columns.find(d.target);
    if (c == columns.end()) continue;  // not in this plan: its committed output is read at run time
    std::string list;
    for (const ResultColumn& col : c->second)
      list += (list.empty() ? "" : ", ") + QuoteIdentifier(col.name) + " " + col.type.sql;
    Status st = Exec(con, "CREATE TEMP TABLE " + QuoteIdentifier(d.target) + " (" + list + ")", {});
    if (!st.ok()) return st.WithPrefix("the stand-in for the output of dependency n=" + d.key);
  }
  return Status::Ok();
}

}  // namespace fanout
