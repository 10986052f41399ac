#include "cpp_transform.h"

#include <exception>
#include <utility>

#include "execute.h"
#include "plan.h"
#include "scheduler.h"
#include "sql_policy.h"

namespace fanout {

int QueryRows::Column(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return static_cast<int>(i);
  return -1;
}

Status CheckCppTransforms(const JobSpec& spec, const std::map<std::string, CppTransform>& registered) {
  std::vector<const TransformSpec*> all;
  if (spec.transform) all.push_back(&*spec.transform);
  for (const auto& [kind, t] : spec.transforms) all.push_back(&t);
  for (const TransformSpec* t : all) {
    if (t->cpp.empty()) continue;
    auto found = registered.find(t->cpp);
    if (found != registered.end() && found->second.fn) continue;
    std::string known;
    for (const auto& [name, fn] : registered) known += (known.empty() ? "" : ", ") + name;
    if (known.empty())
      return Status::Invalid(t->source + ": no C++ transform named '" + t->cpp +
                             "' is registered. C++ transforms run only from a program that embeds fanout and "
                             "registers them (RunOptions::transforms, see docs/cpp_api.md; it validates with "
                             "ValidateJob(spec, options)); the fanout command line has none: write this transform "
                             "in SQL, or run the job from that program");
    return Status::Invalid(t->source + ": no C++ transform named '" + t->cpp + "' is registered (registered: " + known +
                           "): fix the name or register it in RunOptions::transforms");
  }
  return Status::Ok();
}

std::string CppTransformIdentity(const CppBinding& b) {
  return "cpp transform " + b.name + "\nversion " + b.transform.version;
}

namespace {

constexpr char kResultTable[] = "fanout_result";

// The appender behind ResultTable; refuses rows once the attempt stopped.
class Writer : public ResultWriter {
 public:
  Writer(std::unique_ptr<Appender> app, Interrupter& stop) : app_(std::move(app)), stop_(stop) {}
  Status Append(const std::vector<Value>& row) override {
    if (stop_.fired()) return stop_.why();
    return app_->Append(row);
  }
  Status Close() { return app_->Close(); }

 private:
  std::unique_ptr<Appender> app_;
  Interrupter& stop_;
};

// The SQL a query ends with that COPY (...) cannot wrap: ; and blanks.
std::string WithoutTrailingSemicolons(std::string sql) {
  while (!sql.empty() && (sql.back() == ';' || isspace(static_cast<unsigned char>(sql.back())))) sql.pop_back();
  return sql;
}

class Context : public TransformContext {
 public:
  Context(const Iteration& it, int attempt, Connection& con, Interrupter& stop, const std::set<std::string>& inputs,
          std::string* failed_sql)
      : it_(it),
        attempt_(attempt),
        con_(con),
        stop_(stop),
        policy_(SqlPolicy::Scope::kTransform, inputs),
        failed_sql_(failed_sql) {}

  const Value& n() const override { return it_.n; }
  const std::string& kind() const override { return it_.kind; }
  int attempt() const override { return attempt_; }
  const Params& params() const override { return it_.params; }
  bool cancelled() const override { return stop_.fired(); }

  Result<QueryRows> Query(const std::string& sql, const Params& bind) override {
    Result<QueryRows> rows = Run(sql, bind);
    if (!rows.ok() && failed_sql_) *failed_sql_ = sql;
    return rows;
  }
  Status Execute(const std::string& sql, const Params& bind) override { return Query(sql, bind).status(); }

  Status SetResultQuery(const std::string& sql, const Params& bind) override {
    FANOUT_RETURN_IF_ERROR(CheckNoResultYet());
    std::string query = WithoutTrailingSemicolons(sql);
    FANOUT_ASSIGN_OR_RETURN(auto stmt, PrepareChecked(query));
    if (!stmt->is_query())
      return Status::Invalid("SetResultQuery: (" + query.substr(0, 60) +
                             ") is not a query (SELECT, WITH, FROM, VALUES): its result is what gets written");
    FANOUT_RETURN_IF_ERROR(Bind(*stmt, bind));
    result_sql_ = std::move(query);
    result_bind_ = bind;
    return Status::Ok();
  }

  Result<ResultWriter*> ResultTable(const std::vector<SqlColumn>& columns) override;
  Result<int64_t> Finish(const OutputSpec& output, const std::string& target);

 private:
  Status CheckNoResultYet() const {
    if (writer_ || !result_sql_.empty())
      return Status::Invalid("the transform already set its result: call SetResultQuery or ResultTable once");
    return Status::Ok();
  }
  Result<QueryRows> Run(const std::string& sql, const Params& bind) {
    FANOUT_ASSIGN_OR_RETURN(auto stmt, PrepareChecked(sql));
    FANOUT_RETURN_IF_ERROR(Bind(*stmt, bind));
    auto t = stmt->Execute();
    if (stop_.fired()) return stop_.why();
    if (!t.ok()) return t.status();
    return QueryRows{std::move(t->columns), std::move(t->rows)};
  }
  Result<std::unique_ptr<PreparedStatement>> PrepareChecked(const std::string& sql);
  // Binds each $name from `bind`, then params(); `copy`: the COPY that
  // writes the result, whose $fanout_target Finish binds.
  Status Bind(PreparedStatement& stmt, const Params& bind, bool copy = false) const;

  const Iteration& it_;
  const int attempt_;
  Connection& con_;
  Interrupter& stop_;
  SqlPolicy policy_;  // what this attempt's SQL created: its own temp objects
  std::string result_sql_;
  Params result_bind_;
  std::unique_ptr<Writer> writer_;
  std::string* failed_sql_;
};

Result<std::unique_ptr<PreparedStatement>> Context::PrepareChecked(const std::string& sql) {
  if (stop_.fired()) return stop_.why();
  auto stmt = con_.Prepare(sql);
  if (!stmt.ok()) {
    Status refused = policy_.CheckUnprepared(sql);
    return refused.ok() ? stmt.status() : refused;
  }
  auto allowed = policy_.Check(sql, (*stmt)->kind());
  if (!allowed.ok()) return allowed.status();
  return stmt;
}

Status Context::Bind(PreparedStatement& stmt, const Params& bind, bool copy) const {
  for (const std::string& name : stmt.param_names()) {
    if (copy && name == "fanout_target") continue;  // the COPY's own, bound by Finish
    if (name.rfind("fanout_", 0) == 0)
      return Status::Invalid("$" + name + " is a name fanout keeps for itself: name the param otherwise");
    const Value* value = nullptr;
    if (auto given = bind.find(name); given != bind.end()) {
      value = &given->second;
    } else if (auto param = it_.params.find(name); param != it_.params.end()) {
      value = &param->second;
    }
    if (!value)
      return Status::Invalid("unknown param $" + name + ": pass it in the call's params or declare it under params:");
    FANOUT_RETURN_IF_ERROR(stmt.Bind(name, *value));
  }
  return Status::Ok();
}

Result<ResultWriter*> Context::ResultTable(const std::vector<SqlColumn>& columns) {
  FANOUT_RETURN_IF_ERROR(CheckNoResultYet());
  if (columns.empty()) return Status::Invalid("ResultTable: declare at least one column");
  std::set<std::string> seen;
  std::string ddl;
  std::vector<SqlType> types;
  for (const SqlColumn& c : columns) {
    std::string lower = c.name;
    for (char& ch : lower) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
    if (c.name.empty()) return Status::Invalid("ResultTable: a column has no name");
    if (!seen.insert(lower).second) return Status::Invalid("ResultTable: column '" + c.name + "' appears twice");
    ddl += (ddl.empty() ? "" : ", ") + QuoteIdentifier(c.name) + " " + SqlTypeName(c.type);
    types.push_back(c.type);
  }
  // fanout's own statement: the names are quoted, the types fanout's keywords.
  FANOUT_RETURN_IF_ERROR(con_.Execute(std::string("CREATE TEMP TABLE ") + kResultTable + " (" + ddl + ")"));
  auto app = Appender::Open(con_, kResultTable, std::move(types));
  if (!app.ok()) return app.status();
  writer_ = std::make_unique<Writer>(std::move(app).value(), stop_);
  return writer_.get();
}

Result<int64_t> Context::Finish(const OutputSpec& output, const std::string& target) {
  if (stop_.fired()) return stop_.why();
  std::string query = result_sql_;
  if (writer_) {
    FANOUT_RETURN_IF_ERROR(writer_->Close());
    query = std::string("SELECT * FROM temp.main.") + kResultTable;
  } else if (query.empty()) {
    return Status::Failed(
        "it set no result: call ctx.SetResultQuery(sql) or ctx.ResultTable(columns) before returning Ok");
  }
  auto copy = con_.Prepare(CopyStatement(output, query));
  if (!copy.ok()) return copy.status().WithPrefix("writing its result");
  FANOUT_RETURN_IF_ERROR(Bind(**copy, result_bind_, /*copy=*/true));
  FANOUT_RETURN_IF_ERROR((*copy)->Bind("fanout_target", Value(target)));
  auto result = (*copy)->Execute();
  if (stop_.fired()) return stop_.why();
  if (!result.ok() && failed_sql_) *failed_sql_ = query;
  if (!result.ok()) return result.status();
  if (!result->rows.empty() && !result->rows[0].empty())
    if (auto* rows = std::get_if<int64_t>(&result->rows[0][0].v)) return *rows;
  return int64_t{0};
}

// The status a user's error becomes: its message under the transform's name,
// its kind kept (it decides a retry) unless it claims a cancel that did not
// happen.
Status FromUser(const std::string& name, const Status& st) {
  Status out = st.WithPrefix("C++ transform '" + name + "'");
  if (st.code() == Status::Code::kInterrupted) out = Status::Failed(out.message());
  return out;
}

}  // namespace

Result<int64_t> RunCppTransform(const Iteration& it, int attempt, Connection& con, Interrupter& stop,
                                const OutputSpec& output, const std::string& target, std::string* failed_sql) {
  const CppBinding& b = *it.cpp;
  Context ctx(it, attempt, con, stop, b.inputs, failed_sql);
  Status st;
  try {
    st = b.transform.fn(ctx);
  } catch (const std::exception& e) {
    st = Status::Failed(std::string("threw: ") + e.what());
  } catch (...) {
    st = Status::Failed("threw an exception that is not a std::exception");
  }
  if (stop.fired()) return stop.why();
  if (!st.ok()) return FromUser(b.name, st);
  Result<int64_t> rows = ctx.Finish(output, target);
  if (!rows.ok() && rows.status().code() != Status::Code::kInterrupted) return FromUser(b.name, rows.status());
  return rows;
}

}  // namespace fanout
