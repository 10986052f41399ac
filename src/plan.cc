#include "plan.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "execute.h"
#include "fuse.h"
#include "load.h"
#include "parquet_types.h"
#include "sql_policy.h"
#include "util.h"

namespace fanout {
namespace {

std::string KeyOf(const Value& n) { return n.ToString(); }

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return s;
}

Result<std::vector<std::pair<Value, std::string>>> ResolveSequence(const JobSpec& spec, Connection& con) {
  std::vector<std::pair<Value, std::string>> out;  // (n, kind)
  const SequenceSpec& seq = spec.sequence;
  switch (seq.kind) {
    case SequenceSpec::Kind::kList:
      for (const Value& v : seq.items) out.emplace_back(v, "");
      break;
    case SequenceSpec::Kind::kRange:
      for (int64_t i = seq.first; i <= seq.last; i += seq.step) out.emplace_back(Value(i), "");
      break;
    case SequenceSpec::Kind::kSql: {
      if (SplitStatements(seq.sql).size() != 1)
        return Status::Invalid("sequence.sql must be one query (SELECT n[, kind] FROM ...)");
      if (std::string f = EngineWideFunction(seq.sql); !f.empty())
        return Status::Invalid("sequence.sql calls " + f + "(), which changes the engine every iteration shares: remove it");
      auto stmt = con.Prepare(seq.sql);
      if (stmt.ok() && !(*stmt)->is_query())
        return Status::Invalid("sequence.sql must be a query (SELECT n[, kind] FROM ...), not a " +
                               std::string(StatementKindName((*stmt)->kind())) + " statement");
      Status st = stmt.ok() ? (*stmt)->BindAll(spec.params) : stmt.status();
      Result<Table> t = st.ok() ? (*stmt)->Execute() : Result<Table>(st);
      if (t.status().code() == Status::Code::kInterrupted) return t.status();
      if (!t.ok()) return Status::Invalid("sequence.sql failed: " + ShortenEngineError(t.status().message()));
      int n_col = t->Column("n"), kind_col = t->Column("kind");
      if (n_col < 0) return Status::Invalid("sequence.sql must return a column named n (and optionally kind)");
      for (const auto& row : t->rows) {
        const Value& n = row[n_col];
        if (n.is_null()) return Status::Invalid("sequence.sql returned a NULL n");
        if (!std::holds_alternative<int64_t>(n.v) && !std::holds_alternative<std::string>(n.v))
          return Status::Invalid("sequence.sql: n must be an integer or text, got " + n.ToJson());
        std::string kind = kind_col >= 0 && !row[kind_col].is_null() ? row[kind_col].ToString() : "";
        out.emplace_back(n, kind);
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

std::string TargetName(const std::string& pattern, const std::string& n, const std::string& kind) {
  std::string out;
  for (size_t i = 0; i < pattern.size();) {
    if (pattern.compare(i, 3, "{n}") == 0) {
      out += n;
      i += 3;
    } else if (pattern.compare(i, 6, "{kind}") == 0) {
      out += kind;
      i += 6;
    } else {
      out += pattern[i++];
    }
  }
  return out;
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
std::string InputsFingerprint(const JobSpec& spec, const std::vector<std::string>& identities, const std::string& sql) {
  std::vector<std::string> words = SqlWords(sql);
  std::vector<std::string> prep = SqlWords(spec.prepare);
  words.insert(words.end(), prep.begin(), prep.end());
  std::set<std::string> named(words.begin(), words.end());
  const bool all = ReadsTablesByValue(named) || ReadDifferentlyByTheEngine(sql) ||
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
};

// Checks the iteration's n, kind and output folder can name folders and are
// its own, and sets its target.
Status NameIteration(const JobSpec& spec, size_t i, Iteration& it, PlanState& state) {
  if (auto [pos, fresh] = state.seen.emplace(it.key, i); !fresh)
    return Status::Invalid("sequence: n = " + it.key + " appears twice (positions " + std::to_string(pos->second + 1) +
                           " and " + std::to_string(i + 1) + "): each iteration needs its own n");
  if (!IsSafePathComponent(it.key))
    return Status::Invalid("sequence: n = '" + it.key +
                           "' cannot name an output folder: use letters, digits, '.', '_', '-' only");
  if (!it.kind.empty() && !IsSafePathComponent(it.kind))
    return Status::Invalid("sequence: kind '" + it.kind + "' for n = " + it.key + " has unsafe characters");
  it.target = TargetName(spec.output.name, it.key, it.kind);
  if (!IsSafePathComponent(it.target) || it.target[0] == '.' || it.target[0] == '_')
    return Status::Invalid("output.name gives '" + it.target + "' for n = " + it.key +
                           ": it must be one folder name not starting with . or _");
  // On a case-insensitive filesystem (or a copy to one) they would be one folder.
  if (auto [other, fresh_target] = state.targets.emplace(Lower(it.target), std::make_pair(it.key, it.target));
      !fresh_target)
    return Status::Invalid("sequence: n = " + other->second.first + " and n = " + it.key + " give the output folders '" +
                           other->second.second + "' and '" + it.target +
                           "', which differ only in case: give each iteration a name of its own");
  return Status::Ok();
}

// The transform's statements (split once per source) and whether a session
// running them can serve the next iteration too.
Status SetStatements(const TransformSpec& t, Iteration& it, PlanState& state) {
  it.transform_source = t.source;
  auto [cached, fresh] = state.statements.try_emplace(t.source);
  if (fresh) cached->second = SplitStatements(t.sql);
  it.statements = cached->second;
  auto [r, first_use] = state.reusable.try_emplace(t.source);
  if (first_use) r->second = it.statements.size() == 1 && !ChangesItsSession(it.statements[0]);
  it.reusable_session = r->second;
  if (it.statements.empty()) return Status::Invalid(t.source + ": the transform has no SQL statement");
  return Status::Ok();
}

// The job's params, the iteration's overrides, n and kind; every $name the
// SQL refers to must be among them.
Status SetParams(const JobSpec& spec, Iteration& it) {
  it.params = spec.params;
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
  std::string sql_text;
  for (const auto& s : it.statements) sql_text += s + ";\n";
  it.fp_sql = HashHex(sql_text);
  it.fp_params = HashHex(Value(ValueMap(it.params.begin(), it.params.end())).ToJson());
  auto [fp, new_source] = state.fp_inputs.try_emplace(t.source);
  if (new_source) fp->second = InputsFingerprint(spec, identities, t.sql);
  it.fp_inputs = fp->second;
  it.fp_output = state.fp_output;
  it.fp_settings = state.fp_settings;
  it.fingerprint = HashHex(it.fp_sql + it.fp_params + it.fp_inputs + it.fp_output + it.fp_settings);
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

Result<std::vector<Iteration>> PlanIterations(const JobSpec& spec, Connection& con,
                                              const std::vector<std::string>& identities) {
  auto seq = ResolveSequence(spec, con);
  if (!seq.ok()) return seq.status();
  PlanState state;
  state.fp_output = HashHex(OutputIdentity(spec.output));
  state.fp_settings = SettingsFingerprint(spec);
  std::vector<Iteration> out;
  for (size_t i = 0; i < seq->size(); ++i) {
    auto& [n, kind] = (*seq)[i];
    Iteration it;
    it.index = i;
    it.n = n;
    it.key = KeyOf(n);
    it.kind = kind;
    FANOUT_RETURN_IF_ERROR(NameIteration(spec, i, it, state));
    const TransformSpec* t = TransformFor(spec, kind);
    if (!t)
      return Status::Invalid("no transform for kind '" + kind + "' (n = " + it.key +
                             "): add transforms." + kind + " or a default transform");
    FANOUT_RETURN_IF_ERROR(SetStatements(*t, it, state));
    FANOUT_RETURN_IF_ERROR(SetParams(spec, it));
    if (t->batch) FANOUT_RETURN_IF_ERROR(SetBatchStatements(it));
    SetFingerprints(spec, identities, *t, it, state);
    out.push_back(std::move(it));
  }
  for (const auto& [key, params] : spec.overrides)
    if (!state.seen.count(key) && spec.sequence.kind != SequenceSpec::Kind::kSql)
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
                 std::vector<std::string>* warnings) {
  SqlPolicy policy(SqlPolicy::Scope::kTransform, inputs);
  for (size_t i = 0; i < it.statements.size(); ++i) {
    const bool last = i + 1 == it.statements.size();
    if (last) FANOUT_RETURN_IF_ERROR(CheckWrittenQuery(con, spec.output, it));
    auto result = DryRunStatement(con, policy, it, i);
    if (!result.ok()) return result.status();
    if (!last || spec.output.format != "parquet" || !warnings) continue;
    for (const ParquetIssue& issue : ParquetIssues(result->described))
      if (issue.lossy) warnings->push_back("warning: " + it.transform_source + ": " + issue.ToString());
  }
  return Status::Ok();
}

}  // namespace

Status DryRunTransforms(Database& db, const JobSpec& spec, const std::vector<Iteration>& iterations,
                        const std::function<void(Connection*)>& watch, std::vector<std::string>* warnings) {
  std::set<std::string> inputs;
  for (const InputSpec& in : spec.inputs) inputs.insert(in.name);
  std::set<std::string> done;
  for (const Iteration& it : iterations) {
    std::string shape = it.transform_source;
    for (const auto& [k, v] : it.params) shape += "|" + k + "=" + TypeShape(v);
    if (!done.insert(shape).second) continue;
    // A connection of its own: the transform's temp objects go with it.
    auto dry = db.Connect();
    if (!dry.ok()) return dry.status();
    if (watch) watch(dry->get());
    std::vector<std::string> found;
    Status st = DryRunOne(**dry, spec, inputs, it, &found);
    for (std::string& w : found)
      if (warnings && std::find(warnings->begin(), warnings->end(), w) == warnings->end()) warnings->push_back(w);
    if (watch) watch(nullptr);
    FANOUT_RETURN_IF_ERROR(st);
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
