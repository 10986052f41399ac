#include "engine.h"

#include <duckdb.h>

#include <cstring>
#include <mutex>
#include <thread>

namespace fanout {
namespace {

Status FromDuckError(duckdb_error_type type, const char* message) {
  std::string m = message ? message : "unknown DuckDB error";
  switch (type) {
    case DUCKDB_ERROR_INTERRUPT:
      return Status::Interrupted(m);
    case DUCKDB_ERROR_IO:
    case DUCKDB_ERROR_OUT_OF_MEMORY:
    case DUCKDB_ERROR_HTTP:
    case DUCKDB_ERROR_NETWORK:
      return Status::Io(m);
    default:
      return Status::Failed(m);
  }
}

// Owns a duckdb_value.
struct OwnedValue {
  duckdb_value v = nullptr;
  explicit OwnedValue(duckdb_value x) : v(x) {}
  ~OwnedValue() {
    if (v) duckdb_destroy_value(&v);
  }
  OwnedValue(OwnedValue&& o) noexcept : v(o.v) { o.v = nullptr; }
  OwnedValue(const OwnedValue&) = delete;
};

struct OwnedType {
  duckdb_logical_type t = nullptr;
  explicit OwnedType(duckdb_logical_type x) : t(x) {}
  ~OwnedType() {
    if (t) duckdb_destroy_logical_type(&t);
  }
  OwnedType(OwnedType&& o) noexcept : t(o.t) { o.t = nullptr; }
  OwnedType(const OwnedType&) = delete;
};

Result<OwnedValue> ToDuck(const Value& value, const std::string& what);

// A LIST needs one element type: ints widen to double when mixed with doubles.
Result<OwnedValue> ListToDuck(const ValueList& list, const std::string& what) {
  bool has_double = false, has_int = false;
  for (const Value& e : list) {
    has_double |= std::holds_alternative<double>(e.v);
    has_int |= std::holds_alternative<int64_t>(e.v);
  }
  std::vector<OwnedValue> elems;
  elems.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    Value e = list[i];
    if (has_double && has_int && std::holds_alternative<int64_t>(e.v)) {
      e = Value(static_cast<double>(std::get<int64_t>(e.v)));
    }
    auto d = ToDuck(e, what + "[" + std::to_string(i) + "]");
    if (!d.ok()) return d.status();
    elems.push_back(std::move(d).value());
  }
  duckdb_logical_type elem_type = nullptr;  // owned by its value
  for (const OwnedValue& e : elems) {
    if (duckdb_is_null_value(e.v)) continue;
    duckdb_logical_type t = duckdb_get_value_type(e.v);
    if (!elem_type) {
      elem_type = t;
    } else if (duckdb_get_type_id(t) != duckdb_get_type_id(elem_type)) {
      return Status::Invalid(what + ": a list's elements must all have one type (e.g. all numbers or all strings)");
    }
  }
  OwnedType varchar(elem_type ? nullptr : duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR));
  if (!elem_type) elem_type = varchar.t;
  std::vector<duckdb_value> raw;
  for (OwnedValue& e : elems) raw.push_back(e.v);
  duckdb_value out = duckdb_create_list_value(elem_type, raw.data(), raw.size());
  if (!out) return Status::Invalid(what + ": cannot build a LIST value from these elements");
  return OwnedValue(out);
}

Result<OwnedValue> MapToDuck(const ValueMap& map, const std::string& what) {
  if (map.empty()) return Status::Invalid(what + ": an empty map cannot be bound (STRUCT needs a field)");
  std::vector<OwnedValue> fields;
  std::vector<duckdb_logical_type> types;
  std::vector<const char*> names;
  for (const auto& [k, v] : map) {
    auto d = ToDuck(v, what + "." + k);
    if (!d.ok()) return d.status();
    fields.push_back(std::move(d).value());
    types.push_back(duckdb_get_value_type(fields.back().v));
    names.push_back(k.c_str());
  }
  OwnedType type(duckdb_create_struct_type(types.data(), names.data(), types.size()));
  std::vector<duckdb_value> raw;
  for (OwnedValue& f : fields) raw.push_back(f.v);
  duckdb_value out = duckdb_create_struct_value(type.t, raw.data());
  if (!out) return Status::Invalid(what + ": cannot build a STRUCT value");
  return OwnedValue(out);
}

Result<OwnedValue> ToDuck(const Value& value, const std::string& what) {
  struct Visitor {
    const std::string& what;
    Result<OwnedValue> operator()(std::monostate) { return OwnedValue(duckdb_create_null_value()); }
    Result<OwnedValue> operator()(bool b) { return OwnedValue(duckdb_create_bool(b)); }
    Result<OwnedValue> operator()(int64_t i) { return OwnedValue(duckdb_create_int64(i)); }
    Result<OwnedValue> operator()(double d) { return OwnedValue(duckdb_create_double(d)); }
    Result<OwnedValue> operator()(const std::string& s) {
      return OwnedValue(duckdb_create_varchar_length(s.data(), s.size()));
    }
    Result<OwnedValue> operator()(const ValueList& l) { return ListToDuck(l, what); }
    Result<OwnedValue> operator()(const ValueMap& m) { return MapToDuck(m, what); }
  };
  return std::visit(Visitor{what}, value.v);
}

Value CellValue(duckdb_result* r, idx_t col, idx_t row) {
  if (duckdb_value_is_null(r, col, row)) return Value();
  switch (duckdb_column_type(r, col)) {
    case DUCKDB_TYPE_BOOLEAN:
      return Value(duckdb_value_boolean(r, col, row));
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
      return Value(duckdb_value_int64(r, col, row));
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_DECIMAL:
      return Value(duckdb_value_double(r, col, row));
    default: {
      char* s = duckdb_value_varchar(r, col, row);
      Value v(std::string(s ? s : ""));
      duckdb_free(s);
      return v;
    }
  }
}

Table Materialize(duckdb_result* r) {
  Table t;
  idx_t ncol = duckdb_column_count(r);
  for (idx_t c = 0; c < ncol; ++c) t.columns.emplace_back(duckdb_column_name(r, c));
  idx_t nrow = duckdb_row_count(r);
  t.rows.reserve(nrow);
  for (idx_t i = 0; i < nrow; ++i) {
    std::vector<Value> row;
    row.reserve(ncol);
    for (idx_t c = 0; c < ncol; ++c) row.push_back(CellValue(r, c, i));
    t.rows.push_back(std::move(row));
  }
  return t;
}

// Runs fn on a result, always destroying it.
Result<Table> TakeResult(duckdb_state state, duckdb_result* r) {
  if (state == DuckDBError) {
    Status s = FromDuckError(duckdb_result_error_type(r), duckdb_result_error(r));
    duckdb_destroy_result(r);
    return s;
  }
  Table t = Materialize(r);
  duckdb_destroy_result(r);
  return t;
}

}  // namespace

int Table::Column(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return static_cast<int>(i);
  return -1;
}

std::string QuoteIdentifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// ----- Database ---------------------------------------------------------------

struct Database::Impl {
  duckdb_database db = nullptr;
  std::mutex mu;
  std::vector<std::pair<std::string, Value>> variables;  // GUARDED_BY(mu)
  ~Impl() {
    if (db) duckdb_close(&db);
  }
};

Database::Database(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Database::~Database() = default;

Result<std::unique_ptr<Database>> Database::Open(const Options& options) {
  duckdb_config config;
  if (duckdb_create_config(&config) == DuckDBError) return Status::Failed("cannot create DuckDB config");
  auto set = [&](const char* key, const std::string& value) -> Status {
    if (duckdb_set_config(config, key, value.c_str()) == DuckDBError)
      return Status::Invalid(std::string("invalid engine setting ") + key + " = '" + value + "'");
    return Status::Ok();
  };
  // Nothing is downloaded while a job runs (the engine would fetch an
  // extension that a statement needs, even while only preparing it).
  Status st = set("autoinstall_known_extensions", "false");
  if (st.ok() && options.threads > 0) st = set("threads", std::to_string(options.threads));
  if (st.ok() && !options.memory_limit.empty()) st = set("memory_limit", options.memory_limit);
  if (st.ok() && !options.temp_directory.empty()) st = set("temp_directory", options.temp_directory);
  if (!st.ok()) {
    duckdb_destroy_config(&config);
    return st;
  }
  auto impl = std::make_unique<Impl>();
  char* error = nullptr;
  duckdb_state state = duckdb_open_ext(nullptr, &impl->db, config, &error);
  duckdb_destroy_config(&config);
  if (state == DuckDBError) {
    std::string m = error ? error : "unknown error";
    duckdb_free(error);
    return Status::Invalid("cannot start the engine: " + m);
  }
  std::unique_ptr<Database> db(new Database(std::move(impl)));
  if (!options.timezone.empty()) FANOUT_RETURN_IF_ERROR(db->SetTimeZone(options.timezone));
  return db;
}

Status Database::SetTimeZone(const std::string& timezone) {
  // A setting of the time-zone extension, which loads with the database:
  // set with SQL (the zone bound), not in the open config.
  auto con = Connect();
  auto stmt = con.ok() ? (*con)->Prepare("SET GLOBAL TimeZone = $tz") : Result<std::unique_ptr<PreparedStatement>>(con.status());
  Status st = stmt.ok() ? (*stmt)->Bind("tz", Value(timezone)) : stmt.status();
  if (st.ok()) st = (*stmt)->Execute().status();
  if (st.ok()) return st;
  std::string m = st.message();
  return Status::Invalid("run.timezone '" + timezone + "': " + m.substr(0, m.find('\n')) +
                         " (use a name such as UTC or Europe/Paris)");
}

std::string Database::Version() { return duckdb_library_version(); }

// ----- Connection -------------------------------------------------------------

struct Connection::Impl {
  duckdb_connection con = nullptr;
  ~Impl() {
    if (con) duckdb_disconnect(&con);
  }
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

namespace {
Status SetVariable(Connection& con, const std::string& name, const Value& value) {
  auto stmt = con.Prepare("SET VARIABLE " + QuoteIdentifier(name) + " = $value");
  if (!stmt.ok()) return stmt.status();
  FANOUT_RETURN_IF_ERROR((*stmt)->Bind("value", value));
  return (*stmt)->Execute().status();
}
}  // namespace

Result<std::unique_ptr<Connection>> Database::Connect() {
  auto impl = std::make_unique<Connection::Impl>();
  if (duckdb_connect(impl_->db, &impl->con) == DuckDBError) return Status::Failed("cannot open an engine connection");
  std::unique_ptr<Connection> con(new Connection(std::move(impl)));
  std::vector<std::pair<std::string, Value>> variables;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    variables = impl_->variables;
  }
  for (const auto& [name, value] : variables) FANOUT_RETURN_IF_ERROR(SetVariable(*con, name, value));
  return con;
}

Status Database::SetSessionVariable(Connection& con, const std::string& name, const Value& value) {
  FANOUT_RETURN_IF_ERROR(SetVariable(con, name, value));
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->variables.emplace_back(name, value);
  return Status::Ok();
}

Status Database::SetThreads(Connection& con, int threads) {
  auto stmt = con.Prepare("SET threads = $threads");
  if (!stmt.ok()) return stmt.status();
  FANOUT_RETURN_IF_ERROR((*stmt)->Bind("threads", Value(int64_t{threads})));
  return (*stmt)->Execute().status();
}

Status Database::LockConfiguration(Connection& con) { return con.Execute("SET lock_configuration = true"); }

Status Connection::Execute(const std::string& sql) {
  auto r = Query(sql);
  return r.status();
}

Result<Table> Connection::Query(const std::string& sql) {
  duckdb_result r;
  duckdb_state state = duckdb_query(impl_->con, sql.c_str(), &r);
  return TakeResult(state, &r);
}

Result<int> Connection::CountStatements(const std::string& sql) {
  duckdb_extracted_statements stmts = nullptr;
  idx_t n = duckdb_extract_statements(impl_->con, sql.c_str(), &stmts);
  Result<int> out = static_cast<int>(n);
  if (n == 0) {
    const char* e = duckdb_extract_statements_error(stmts);
    out = e ? Status::Failed(e) : Result<int>(0);
  }
  duckdb_destroy_extracted(&stmts);
  return out;
}

void Connection::Interrupt() { duckdb_interrupt(impl_->con); }

// ----- PreparedStatement ------------------------------------------------------

struct PreparedStatement::Impl {
  duckdb_prepared_statement stmt = nullptr;
  ~Impl() {
    if (stmt) duckdb_destroy_prepare(&stmt);
  }
};

PreparedStatement::PreparedStatement(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  idx_t n = duckdb_nparams(impl_->stmt);
  for (idx_t i = 1; i <= n; ++i) {
    const char* name = duckdb_parameter_name(impl_->stmt, i);
    names_.emplace_back(name ? name : "");
    duckdb_free(const_cast<char*>(name));
  }
}
PreparedStatement::~PreparedStatement() = default;

Result<std::unique_ptr<PreparedStatement>> Connection::Prepare(const std::string& sql) {
  auto impl = std::make_unique<PreparedStatement::Impl>();
  if (duckdb_prepare(impl_->con, sql.c_str(), &impl->stmt) == DuckDBError) {
    const char* e = duckdb_prepare_error(impl->stmt);
    return Status::Failed(e ? e : "cannot prepare statement");
  }
  return std::unique_ptr<PreparedStatement>(new PreparedStatement(std::move(impl)));
}

bool PreparedStatement::is_query() const {
  return duckdb_prepared_statement_type(impl_->stmt) == DUCKDB_STATEMENT_TYPE_SELECT;
}

StatementKind PreparedStatement::kind() const {
  switch (duckdb_prepared_statement_type(impl_->stmt)) {
    case DUCKDB_STATEMENT_TYPE_SELECT: return StatementKind::kSelect;
    case DUCKDB_STATEMENT_TYPE_INSERT: return StatementKind::kInsert;
    case DUCKDB_STATEMENT_TYPE_UPDATE: return StatementKind::kUpdate;
    case DUCKDB_STATEMENT_TYPE_DELETE: return StatementKind::kDelete;
    case DUCKDB_STATEMENT_TYPE_CREATE:
    case DUCKDB_STATEMENT_TYPE_CREATE_FUNC: return StatementKind::kCreate;
    case DUCKDB_STATEMENT_TYPE_DROP: return StatementKind::kDrop;
    case DUCKDB_STATEMENT_TYPE_ALTER: return StatementKind::kAlter;
    case DUCKDB_STATEMENT_TYPE_SET:
    case DUCKDB_STATEMENT_TYPE_VARIABLE_SET: return StatementKind::kSet;
    case DUCKDB_STATEMENT_TYPE_PRAGMA: return StatementKind::kPragma;
    case DUCKDB_STATEMENT_TYPE_ATTACH: return StatementKind::kAttach;
    case DUCKDB_STATEMENT_TYPE_DETACH: return StatementKind::kDetach;
    case DUCKDB_STATEMENT_TYPE_LOAD:
    case DUCKDB_STATEMENT_TYPE_EXTENSION: return StatementKind::kExtension;
    case DUCKDB_STATEMENT_TYPE_COPY: return StatementKind::kCopy;
    case DUCKDB_STATEMENT_TYPE_EXPORT: return StatementKind::kExport;
    case DUCKDB_STATEMENT_TYPE_TRANSACTION: return StatementKind::kTransaction;
    case DUCKDB_STATEMENT_TYPE_CALL: return StatementKind::kCall;
    case DUCKDB_STATEMENT_TYPE_VACUUM:
    case DUCKDB_STATEMENT_TYPE_ANALYZE: return StatementKind::kMaintenance;
    case DUCKDB_STATEMENT_TYPE_PREPARE:
    case DUCKDB_STATEMENT_TYPE_EXECUTE: return StatementKind::kPrepare;
    case DUCKDB_STATEMENT_TYPE_EXPLAIN: return StatementKind::kExplain;
    default: return StatementKind::kOther;
  }
}

const char* StatementKindName(StatementKind kind) {
  switch (kind) {
    case StatementKind::kSelect: return "SELECT";
    case StatementKind::kInsert: return "INSERT";
    case StatementKind::kUpdate: return "UPDATE";
    case StatementKind::kDelete: return "DELETE";
    case StatementKind::kCreate: return "CREATE";
    case StatementKind::kDrop: return "DROP";
    case StatementKind::kAlter: return "ALTER";
    case StatementKind::kSet: return "SET/RESET";
    case StatementKind::kPragma: return "PRAGMA";
    case StatementKind::kAttach: return "ATTACH";
    case StatementKind::kDetach: return "DETACH";
    case StatementKind::kExtension: return "INSTALL/LOAD";
    case StatementKind::kCopy: return "COPY";
    case StatementKind::kExport: return "EXPORT/IMPORT";
    case StatementKind::kTransaction: return "BEGIN/COMMIT/ROLLBACK";
    case StatementKind::kCall: return "CALL/CHECKPOINT";
    case StatementKind::kMaintenance: return "VACUUM/ANALYZE";
    case StatementKind::kPrepare: return "PREPARE/EXECUTE";
    case StatementKind::kExplain: return "EXPLAIN";
    case StatementKind::kOther: return "this kind of";
  }
  return "this kind of";
}

Status PreparedStatement::Bind(const std::string& name, const Value& value) {
  idx_t index = 0;
  if (duckdb_bind_parameter_index(impl_->stmt, &index, name.c_str()) == DuckDBError)
    return Status::Invalid("the statement has no parameter $" + name);
  auto v = ToDuck(value, "param " + name);
  if (!v.ok()) return v.status();
  if (duckdb_bind_value(impl_->stmt, index, v->v) == DuckDBError)
    return Status::Invalid("cannot bind param $" + name + " = " + value.ToString());
  return Status::Ok();
}

Status PreparedStatement::BindAll(const Params& params) {
  for (const std::string& name : names_) {
    auto it = params.find(name);
    if (it == params.end()) return Status::Invalid("unknown param $" + name);
    FANOUT_RETURN_IF_ERROR(Bind(name, it->second));
  }
  return Status::Ok();
}

Result<Table> PreparedStatement::Execute() {
  duckdb_result r;
  duckdb_state state = duckdb_execute_prepared(impl_->stmt, &r);
  return TakeResult(state, &r);
}

// ----- scalar functions -------------------------------------------------------

namespace {
using Int64Fn = std::function<int64_t(int64_t)>;

void CallInt64Fn(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  auto* fn = static_cast<Int64Fn*>(duckdb_scalar_function_get_extra_info(info));
  idx_t n = duckdb_data_chunk_get_size(input);
  duckdb_vector in = duckdb_data_chunk_get_vector(input, 0);
  auto* src = static_cast<int64_t*>(duckdb_vector_get_data(in));
  auto* dst = static_cast<int64_t*>(duckdb_vector_get_data(output));
  for (idx_t i = 0; i < n; ++i) dst[i] = (*fn)(src[i]);
}
}  // namespace

Status Database::RegisterScalarFunction(const std::string& name, std::function<int64_t(int64_t)> fn) {
  auto con = Connect();
  if (!con.ok()) return con.status();
  duckdb_scalar_function f = duckdb_create_scalar_function();
  duckdb_scalar_function_set_name(f, name.c_str());
  OwnedType bigint(duckdb_create_logical_type(DUCKDB_TYPE_BIGINT));
  duckdb_scalar_function_add_parameter(f, bigint.t);
  duckdb_scalar_function_set_return_type(f, bigint.t);
  duckdb_scalar_function_set_volatile(f);
  duckdb_scalar_function_set_extra_info(f, new Int64Fn(std::move(fn)),
                                        [](void* p) { delete static_cast<Int64Fn*>(p); });
  duckdb_scalar_function_set_function(f, CallInt64Fn);
  duckdb_state state = duckdb_register_scalar_function((*con)->impl_->con, f);
  duckdb_destroy_scalar_function(&f);
  if (state == DuckDBError) return Status::Failed("cannot register function " + name);
  return Status::Ok();
}

}  // namespace fanout
