#include "plan.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cpp_transform.h"
#include "deps.h"
#include "execute.h"
#include "fuse.h"
#include "load.h"
#include "parquet_types.h"
#include "sequence.h"
#include "spec_check.h"
#include "sql_policy.h"
#include "util.h"

namespace fanout {
namespace {

std::string KeyOf(const Value& n) { return n.ToString(); }

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return s;
}

// A query of the sequence (sequence.sql, an SQL axis of a grid): one query,
// bound with the job's params, run on `con`.
Result<Table> RunSequenceQuery(const JobSpec& spec, Connection& con, const std::string& sql, const std::string& what) {
  if (SplitStatements(sql).size() != 1) return Status::Invalid(what + " must be one query (SELECT ... FROM ...)");
  if (std::string f = EngineWideFunction(sql); !f.empty())
    return Status::Invalid(what + " calls " + f + "(), which changes the engine every iteration shares: remove it");
  auto stmt = con.Prepare(sql);
  if (stmt.ok() && !(*stmt)->is_query())
    return Status::Invalid(what + " must be a query (SELECT ... FROM ...), not a " +
                           std::string(StatementKindName((*stmt)->kind())) + " statement");
  Status st = stmt.ok() ? (*stmt)->BindAll(spec.params) : stmt.status();
  Result<Table> t = st.ok() ? (*stmt)->Execute() : Result<Table>(st);
  if (t.status().code() == Status::Code::kInterrupted) return t.status();
  if (!t.ok()) return Status::Invalid(what + " failed: " + ShortenEngineError(t.status().message()));
  return t;
}

// An SQL axis of a grid: its rows, each column bound by its name.
Result<std::vector<ValueMap>> AxisRows(const JobSpec& spec, Connection& con, const GridAxis& axis) {
  const std::string what = (axis.where.empty() ? "" : axis.where + ": ") + "sequence.grid." + axis.name + ".sql";
  FANOUT_ASSIGN_OR_RETURN(Table t, RunSequenceQuery(spec, con, axis.sql, what));
  for (const std::string& c : t.columns)
    if (std::string e = spec_check::SetKey(c); !e.empty()) return Status::Invalid(what + ": column " + e);
  std::vector<ValueMap> rows;
  for (auto& row : t.rows) {
    ValueMap m;
    for (size_t c = 0; c < t.columns.size(); ++c) m.emplace_back(t.columns[c], std::move(row[c]));
    rows.push_back(std::move(m));
  }
  return rows;
}

Result<std::vector<SequenceItem>> ResolveSequence(const JobSpec& spec, Connection& con) {
  std::vector<SequenceItem> out;
  const SequenceSpec& seq = spec.sequence;
  auto add = [&out](Value n, std::string kind) {
    SequenceItem item;
    item.n = std::move(n);
    item.kind = std::move(kind);
    out.push_back(std::move(item));
  };
  switch (seq.kind) {
    case SequenceSpec::Kind::kList:
      for (const Value& v : seq.items) add(v, "");
      break;
    case SequenceSpec::Kind::kRange:
      for (int64_t i = seq.first; i <= seq.last; i += seq.step) add(Value(i), "");
      break;
    case SequenceSpec::Kind::kSets:
    case SequenceSpec::Kind::kGrid:
      return ExpandParamSets(seq, [&](const GridAxis& axis) { return AxisRows(spec, con, axis); });
    case SequenceSpec::Kind::kSql: {
      FANOUT_ASSIGN_OR_RETURN(Table t, RunSequenceQuery(spec, con, seq.sql, "sequence.sql"));
      int n_col = t.Column("n"), kind_col = t.Column("kind");
      if (n_col < 0) return Status::Invalid("sequence.sql must return a column named n (and optionally kind)");
      for (const auto& row : t.rows) {
        const Value& n = row[n_col];
        if (n.is_null()) return Status::Invalid("sequence.sql returned a NULL n");
        if (!std::holds_alternative<int64_t>(n.v) && !std::holds_alternative<std::string>(n.v))
          return Status::Invalid("sequence.sql: n must be an integer or text, got " + n.ToJson());
        add(n, kind_col >= 0 && !row[kind_col].is_null() ? row[kind_col].ToString() : "");
      }
      if (out.empty()) return Status::Invalid("sequence.sql returned no rows: nothing to run");
      break;
    }
  }
  return out;
}

const TransformSpec* TransformFor(const JobSpec& spec, const std::string& kind) {
  auto it = spec.transforms.find(kind);
  if (it != spec.transforms.end()) return &it->second;
  return spec.transform ? &*spec.transform : nullptr;
}

std::string OutputIdentity(const OutputSpec& o) {
  nlohmann::ordered_json j;
  j["name"] = o.name;
  j["format"] = o.format;
  j["compression"] = o.compression;
  j["max_file_bytes"] = o.max_file_bytes;
  return j.dump();
}

Status CheckParamRefs(const Iteration& it) {
  std::vector<std::string> refs;
  for (const std::string& s : it.statements) SplitStatements(s, &refs);
  for (const std::string& r : refs) {
    if (r == "?" || isdigit(static_cast<unsigned char>(r[0])))
      return Status::Invalid(it.transform_source + ": positional parameter " + (r == "?" ? "?" : "$" + r) +
                             " for n = " + it.key + ": use named params ($n, $kind, $<param>)");
    if (!it.params.count(r)) {
      std::string known;
      for (const auto& [k, v] : it.params) known += (known.empty() ? "" : ", ") + ("$" + k);
      return Status::Invalid(it.transform_source + ": unknown param $" + r + " in the transform for n = " + it.key +
                             " (known: " + known + "); add it under params: or fix the name");
    }
  }
  return Status::Ok();
}

}  // namespace

namespace {

// A single query that changes its connection's state for the queries after
// it (setseed: the random sequence) must not share a session with others.
bool ChangesItsSession(const std::string& query) {
  std::vector<std::string> words = SqlWords(query);
  return std::find(words.begin(), words.end(), "setseed") != words.end();
}

// Functions that reach a table by a name or SQL given as a value
// (query_table($src)): with one of them, which inputs are read cannot be told
// from the text.
bool ReadsTablesByValue(const std::set<std::string>& words) {
  for (const char* f : {"query_table", "query", "getvariable"})
    if (words.count(f)) return true;
  return false;
}

// SqlWords ends a -- comment at \n only and knows no E'...' escapes; the
// engine also ends one at \r and reads E'\'' as one quote. Where they could
// disagree, which inputs are named cannot be told from the words.
bool ReadDifferentlyByTheEngine(const std::string& sql) {
  if (sql.find('\r') != std::string::npos) return true;
  for (size_t i = 0; i + 1 < sql.size(); ++i)
    if ((sql[i] == 'e' || sql[i] == 'E') && sql[i + 1] == '\'' &&
        (i == 0 || !(isalnum(static_cast<unsigned char>(sql[i - 1])) || sql[i - 1] == '_')))
      return true;
  return false;
}

// Identity of the inputs `sql` (or `prepare`) names — of every input when
// that cannot be told — plus `prepare` itself.
// (A C++ transform, `all_inputs`, may read any input.)
std::string InputsFingerprint(const JobSpec& spec, const std::vector<std::string>& identities, const std::string& sql,
                              bool all_inputs = false) {
  std::vector<std::string> words = SqlWords(sql);
  std::vector<std::string> prep = SqlWords(spec.prepare);
  words.insert(words.end(), prep.begin(), prep.end());
  std::set<std::string> named(words.begin(), words.end());
  const bool all = all_inputs || ReadsTablesByValue(named) || ReadDifferentlyByTheEngine(sql) ||
                   ReadDifferentlyByTheEngine(spec.prepare);
  std::string text = spec.prepare + "\n";
  for (size_t i = 0; i < spec.inputs.size() && i < identities.size(); ++i) {
    std::string name = spec.inputs[i].name;
    for (char& c : name) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    if (all || named.count(name)) text += identities[i] + "\n";
  }
  return HashHex(text);
}

// The engine settings a result can depend on, fixed for the run.
std::string SettingsFingerprint(const JobSpec& spec) {
  return HashHex("timezone=" + spec.run.timezone + "|duckdb " + Database::Version());
}

// What planning remembers from one iteration to the next: the names taken,
// and what is worked out once per transform source.
struct PlanState {
  std::map<std::string, size_t> seen;                                  // n (as key) -> position
  std::map<std::string, std::pair<std::string, std::string>> targets;  // lower-cased target -> n, target
  std::map<std::string, std::vector<std::string>> statements;          // per transform source
  std::map<std::string, bool> reusable;                                // per transform source
  std::map<std::string, std::string> fp_inputs;                        // per transform source
  std::string fp_output, fp_settings;                                  // the same for every iteration
  const std::map<std::string, CppTransform>* cpp = nullptr;            // RunOptions::transforms
  std::map<std::string, std::shared_ptr<const CppBinding>> bindings;   // per C++ transform name
};

// Checks the iteration's n and kind can name folders and are its own.
Status NameIteration(size_t i, Iteration& it, PlanState& state) {
  if (auto [pos, fresh] = state.seen.emplace(it.key, i); !fresh)
    return Status::Invalid("sequence: n = " + it.key + " appears twice (positions " + std::to_string(pos->second + 1) +
                           " and " + std::to_string(i + 1) + "): each iteration needs its own n");
  if (!IsSafePathComponent(it.key))
    return Status::Invalid("sequence: n = '" + it.key +
                           "' cannot name an output folder: use letters, digits, '.', '_', '-' only");
  if (!it.kind.empty() && !IsSafePathComponent(it.kind))
    return Status::Invalid("sequence: kind '" + it.kind + "' for n = " + it.key + " has unsafe characters");
  return Status::Ok();
}

// Sets the iteration's output folder (output.name over n, kind and its
// params) and checks it is a safe folder name of its own.
Status SetTarget(const JobSpec& spec, Iteration& it, PlanState& state) {
  auto target = ExpandOutputName(spec.output.name, it.key, it.kind, it.params);
  if (!target.ok()) return target.status().WithPrefix("n = " + it.key);
  it.target = std::move(target).value();
  if (std::string e = FolderNameProblem(it.target); !e.empty())
    return Status::Invalid("output.name gives '" + it.target + "' for n = " + it.key + ": " + e);
  // On a case-insensitive filesystem (or a copy to one) they would be one folder.
  if (auto [other, fresh_target] = state.targets.emplace(Lower(it.target), std::make_pair(it.key, it.target));
      !fresh_target)
    return Status::Invalid("sequence: n = " + other->second.first + " and n = " + it.key + " give the output folder" +
                           (other->second.second == it.target ? " '" + it.target + "'"
                                                              : "s '" + other->second.second + "' and '" + it.target +
                                                                    "', which differ only in case") +
                           ": give each iteration a name of its own");
  return Status::Ok();
}

// A C++ transform: its registered function (once per name), no statements.
Status BindCpp(const JobSpec& spec, const TransformSpec& t, Iteration& it, PlanState& state) {
  auto [b, fresh] = state.bindings.try_emplace(t.cpp);
  if (fresh) {
    static const std::map<std::string, CppTransform> kNone;
    const auto& registered = state.cpp ? *state.cpp : kNone;
    FANOUT_RETURN_IF_ERROR(CheckCppTransforms(spec, registered));
    auto binding = std::make_shared<CppBinding>();
    binding->name = t.cpp;
    binding->transform = registered.at(t.cpp);
    for (const InputSpec& in : spec.inputs) binding->inputs.insert(in.name);
    b->second = std::move(binding);
  }
  it.cpp = b->second;
  it.reusable_session = false;
  return Status::Ok();
}

// The transform's statements (split once per source) and whether a session
// running them can serve the next iteration too.
Status SetStatements(const JobSpec& spec, const TransformSpec& t, Iteration& it, PlanState& state) {
  it.transform_source = t.source;
  if (!t.cpp.empty()) return BindCpp(spec, t, it, state);
  auto [cached, fresh] = state.statements.try_emplace(t.source);
  if (fresh) cached->second = SplitStatements(t.sql);
  it.statements = cached->second;
  auto [r, first_use] = state.reusable.try_emplace(t.source);
  if (first_use) r->second = it.statements.size() == 1 && !ChangesItsSession(it.statements[0]);
  it.reusable_session = r->second;
  if (it.statements.empty()) return Status::Invalid(t.source + ": the transform has no SQL statement");
  return Status::Ok();
}

// The job's params, the iteration's own (a parameter set's), its overrides,
// n and kind; every $name the SQL refers to must be among them.
Status SetParams(const JobSpec& spec, const ValueMap& own, Iteration& it) {
  it.params = spec.params;
  for (const auto& [k, v] : own) it.params[k] = v;
  if (auto o = spec.overrides.find(it.key); o != spec.overrides.end())
    for (const auto& [k, v] : o->second) it.params[k] = v;
  it.params["n"] = it.n;
  it.params["kind"] = Value(it.kind);
  return CheckParamRefs(it);
}

// What the iteration's result depends on (SQL, params, inputs, output
// options, engine settings), each hashed, and all of them together.
void SetFingerprints(const JobSpec& spec, const std::vector<std::string>& identities, const TransformSpec& t,
                     Iteration& it, PlanState& state) {
  std::string sql_text = it.cpp ? CppTransformIdentity(*it.cpp) : "";
  for (const auto& s : it.statements) sql_text += s + ";\n";
  it.fp_sql = HashHex(sql_text);
  it.fp_params = HashHex(Value(ValueMap(it.params.begin(), it.params.end())).ToJson());
  auto [fp, new_source] = state.fp_inputs.try_emplace(t.source);
  if (new_source) fp->second = InputsFingerprint(spec, identities, t.sql, /*all_inputs=*/it.cpp != nullptr);
  it.fp_inputs = fp->second;
  it.fp_output = state.fp_output;
  it.fp_settings = state.fp_settings;
  it.fingerprint = CombinedFingerprint(it);
}

// A batch_transform run alone: its first statement gives fanout_sequence
// this iteration's row.
Status SetBatchStatements(Iteration& it) {
  if (it.statements.size() != 1)
    return Status::Invalid(it.transform_source + ": a batch_transform must be one query (it reads fanout_sequence)");
  std::vector<std::string> refs;
  SplitStatements(it.statements[0], &refs);
  if (!refs.empty())
    return Status::Invalid(it.transform_source + ": a batch_transform reads its params as columns of fanout_sequence: "
                           "write fanout_sequence." + refs[0] + " instead of $" + refs[0]);
  it.batch = true;
  it.reusable_session = false;
  it.statements.insert(it.statements.begin(), SequenceTableStatement(it.params));
  return Status::Ok();
}

}  // namespace

std::string CombinedFingerprint(const Iteration& it) {
  return HashHex(it.fp_sql + it.fp_params + it.fp_inputs + it.fp_output + it.fp_settings);
}

Result<std::vector<Iteration>> PlanIterations(const JobSpec& spec, Connection& con,
                                              const std::vector<std::string>& identities,
                                              const std::map<std::string, CppTransform>& cpp) {
  auto seq = ResolveSequence(spec, con);
  if (!seq.ok()) return seq.status();
  PlanState state;
  state.cpp = &cpp;
  state.fp_output = HashHex(OutputIdentity(spec.output));
  state.fp_settings = SettingsFingerprint(spec);
  std::vector<Iteration> out;
  for (size_t i = 0; i < seq->size(); ++i) {
    SequenceItem& item = (*seq)[i];
    Iteration it;
    it.index = i;
    it.n = item.n;
    it.key = KeyOf(item.n);
    it.kind = item.kind;
    FANOUT_RETURN_IF_ERROR(NameIteration(i, it, state));
    const TransformSpec* t = TransformFor(spec, it.kind);
    if (!t)
      return Status::Invalid("no transform for kind '" + it.kind + "' (n = " + it.key +
                             "): add transforms." + it.kind + " or a default transform");
    FANOUT_RETURN_IF_ERROR(SetStatements(spec, *t, it, state));
    FANOUT_RETURN_IF_ERROR(SetParams(spec, item.params, it));
    if (t->batch) FANOUT_RETURN_IF_ERROR(SetBatchStatements(it));
    FANOUT_RETURN_IF_ERROR(SetTarget(spec, it, state));
    SetFingerprints(spec, identities, *t, it, state);
    out.push_back(std::move(it));
  }
  for (const auto& [key, params] : spec.overrides)
    if (!state.seen.count(key) && spec.sequence.kind != SequenceSpec::Kind::kSql && !HasSqlAxis(spec.sequence))
      return Status::Invalid("overrides: n = " + key + " is not in the sequence (remove it or add it to the sequence)");
  return out;
}

namespace {

// The shape of a param's type (for dry-run dedupe): same shape, same plan.
std::string TypeShape(const Value& v) {
  struct V {
    std::string operator()(std::monostate) { return "null"; }
    std::string operator()(bool) { return "b"; }
    std::string operator()(int64_t) { return "i"; }
    std::string operator()(double) { return "d"; }
    std::string operator()(const std::string&) { return "s"; }
    std::string operator()(const ValueList& l) {
      std::string s = "[";
      for (const auto& e : l) s += TypeShape(e) + ",";
      return s + "]";
    }
    std::string operator()(const ValueMap& m) {
      std::string s = "{";
      for (const auto& [k, e] : m) s += k + ":" + TypeShape(e) + ",";
      return s + "}";
    }
  };
  return std::visit(V{}, v.v);
}

// One step of the dry run: prepared, checked against the policy, bound, and
// executed only in its dry form (nothing is read, nothing leaves the
// connection). Returns what the dry form returned (no rows; its columns).
Result<Table> DryRunStatement(Connection& con, SqlPolicy& policy, const Iteration& it, size_t i) {
  auto fail = [&](const char* what, const Status& st) {
    if (st.code() == Status::Code::kInterrupted) return st;
    return Status::Invalid(it.transform_source + ": statement " + std::to_string(i + 1) + " of the transform for n = " +
                           it.key + " " + what + ": " + ShortenEngineError(st.message()));
  };
  auto stmt = con.Prepare(it.statements[i]);
  Status refused = stmt.ok() ? Status::Ok() : policy.CheckUnprepared(it.statements[i]);
  if (!stmt.ok() && refused.ok()) return fail("does not prepare", stmt.status());
  auto dry = stmt.ok() ? policy.Check(it.statements[i], (*stmt)->kind()) : Result<DryStatement>(refused);
  if (!dry.ok())
    return Status::Invalid(it.transform_source + ": statement " + std::to_string(i + 1) + " " + dry.status().message());
  Status st = (*stmt)->BindAll(it.params);
  if (!st.ok()) return fail("cannot bind its params", st);
  if (dry->execute.empty()) return Table{};
  auto run = con.Prepare(dry->execute);
  st = run.ok() ? (*run)->BindAll(it.params) : run.status();
  Result<Table> result = st.ok() ? (*run)->Execute() : Result<Table>(st);
  if (!result.ok()) return fail("fails to bind (checked without reading any row)", result.status());
  return result;
}

// The last statement is written with COPY (query) TO ...: it must be a query,
// and the very COPY statement the run executes must prepare.
Status CheckWrittenQuery(Connection& con, const OutputSpec& output, const Iteration& it) {
  const std::string& query = it.statements.back();
  const std::string first = FirstKeyword(query);
  std::string instead = first == "describe" || first == "summarize" || first == "show"
                            ? "SELECT * FROM (" + query.substr(0, 40) + (query.size() > 40 ? "..." : "") + ")"
                        : first == "pragma" ? "a select from its table function, e.g. SELECT * FROM pragma_table_info('t')"
                        : first == "call"   ? "SELECT * FROM f(...)"
                        : first == "explain" ? "the query itself (fanout plan prints the SQL)"
                                             : "";
  if (!instead.empty())
    return Status::Invalid(it.transform_source + ": the last statement (" + first +
                           " ...) is a command, not a query whose result fanout can write: write " + instead +
                           " instead");
  auto stmt = con.Prepare(query);
  if (stmt.ok() && !(*stmt)->is_query())
    return Status::Invalid(it.transform_source + ": the last statement of the transform (for n = " + it.key +
                           ") must be a query (SELECT, WITH, FROM, VALUES): its result is what gets written");
  auto copy = con.Prepare(CopyStatement(output, query));
  if (copy.ok()) return Status::Ok();
  return Status::Invalid(it.transform_source + ": the result of the last statement (for n = " + it.key +
                         ") cannot be written: " + ShortenEngineError(copy.status().message(), 1) +
                         "\nDESCRIBE, SHOW, SUMMARIZE, PRAGMA and EXPLAIN cannot be the last statement: "
                         "write SELECT * FROM (DESCRIBE t) instead");
}

// Checks one transform; `warnings` gets a line per result column that
// Parquet would not hold exactly.
Status DryRunOne(Connection& con, const JobSpec& spec, const std::set<std::string>& inputs, const Iteration& it,
                 std::vector<std::string>* warnings, std::vector<ResultColumn>* columns) {
  SqlPolicy policy(SqlPolicy::Scope::kTransform, inputs);
  for (size_t i = 0; i < it.statements.size(); ++i) {
    const bool last = i + 1 == it.statements.size();
    if (last) FANOUT_RETURN_IF_ERROR(CheckWrittenQuery(con, spec.output, it));
    auto result = DryRunStatement(con, policy, it, i);
    if (!result.ok()) return result.status();
    if (last) *columns = result->described;
    if (!last || spec.output.format != "parquet" || !warnings) continue;
    for (const ParquetIssue& issue : ParquetIssues(result->described))
      if (issue.lossy) warnings->push_back("warning: " + it.transform_source + ": " + issue.ToString());
  }
  return Status::Ok();
}

// Of each dependency whose result columns the dry run cannot know (by
// target): the C++ transform they come from. A C++ transform's columns are
// known only when it runs, and so are those of what reads it.
using Unseen = std::map<std::string, std::string>;

// The C++ transform behind a dependency of `it` ("" when none): then `it`
// has no stand-in to be dry-run against.
std::string UnseenDependency(const Iteration& it, const Unseen& unseen) {
  for (const Dependency& d : it.deps)
    if (auto u = unseen.find(d.target); u != unseen.end()) return u->second;
  return "";
}

void AddNote(std::vector<std::string>* warnings, std::string note) {
  if (warnings && std::find(warnings->begin(), warnings->end(), note) == warnings->end())
    warnings->push_back(std::move(note));
}

}  // namespace

Status DryRunTransforms(Database& db, const JobSpec& spec, const std::vector<Iteration>& iterations,
                        const std::function<void(Connection*)>& watch, std::vector<std::string>* warnings) {
  std::set<std::string> inputs;
  for (const InputSpec& in : spec.inputs) inputs.insert(in.name);
  std::map<std::string, std::vector<ResultColumn>> by_shape;  // what each distinct transform returns
  std::map<std::string, std::vector<ResultColumn>> by_target;  // of each dependency: its dependants' stand-ins
  std::set<std::string> needed;
  for (const Iteration& it : iterations)
    for (const Dependency& d : it.deps) needed.insert(d.target);
  Unseen unseen;
  for (size_t i : DependencyOrder(iterations)) {  // dependencies first: their columns are known
    const Iteration& it = iterations[i];
    if (it.cpp) {  // C++: nothing to check without running it
      unseen[it.target] = "the C++ transform '" + it.cpp->name + "' (n=" + it.key + ")";
      continue;
    }
    if (std::string cpp = UnseenDependency(it, unseen); !cpp.empty()) {
      unseen[it.target] = cpp;
      AddNote(warnings, "note: " + it.transform_source + ": not dry-run: what it reads (after:) comes from " + cpp +
                            ", whose result columns are known only when it runs; it is checked when it runs");
      continue;
    }
    std::string shape = it.transform_source;
    for (const auto& [k, v] : it.params) shape += "|" + k + "=" + TypeShape(v);
    for (const Dependency& d : it.deps) shape += "|after " + d.target;
    auto [seen, fresh] = by_shape.try_emplace(shape);
    if (fresh) {
      // A connection of its own: the transform's temp objects go with it.
      auto dry = db.Connect();
      if (!dry.ok()) return dry.status();
      if (watch) watch(dry->get());
      std::vector<std::string> found;
      Status st = DependencyStandIns(**dry, it, by_target);
      if (st.ok()) st = DryRunOne(**dry, spec, inputs, it, &found, &seen->second);
      for (std::string& w : found) AddNote(warnings, std::move(w));
      if (watch) watch(nullptr);
      FANOUT_RETURN_IF_ERROR(st);
    }
    if (needed.count(it.target)) by_target[it.target] = seen->second;
  }
  return Status::Ok();
}

Result<std::vector<Iteration>> FilterOnly(std::vector<Iteration> all, const std::vector<std::string>& only) {
  if (only.empty()) return all;
  std::set<std::string> want(only.begin(), only.end());
  std::vector<Iteration> out;
  for (auto& it : all)
    if (want.erase(it.key)) out.push_back(std::move(it));
  if (!want.empty()) return Status::Invalid("--only: n = " + *want.begin() + " is not in the sequence");
  return out;
}

}  // namespace fanout
