// engine_udf: C++ functions the engine calls (typed scalar and table
// functions, see fanout/engine.h) and the appender. Part of the engine module:
// one of the two files that include duckdb.h (through engine_internal.h).
//
// Every callback catches what user code throws and hands the engine its
// message as the statement's error: nothing is ever thrown into the engine.
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine_internal.h"

namespace fanout {

const char* SqlTypeName(SqlType type) {
  switch (type) {
    case SqlType::kBoolean:
      return "BOOLEAN";
    case SqlType::kBigint:
      return "BIGINT";
    case SqlType::kDouble:
      return "DOUBLE";
    case SqlType::kVarchar:
      return "VARCHAR";
  }
  return "VARCHAR";
}

namespace {

class LogicalType {
 public:
  explicit LogicalType(SqlType t) : t_(duckdb_create_logical_type(DuckType(t))) {}
  ~LogicalType() { duckdb_destroy_logical_type(&t_); }
  LogicalType(const LogicalType&) = delete;
  LogicalType& operator=(const LogicalType&) = delete;
  duckdb_logical_type get() const { return t_; }

 private:
  static duckdb_type DuckType(SqlType t) {
    switch (t) {
      case SqlType::kBoolean:
        return DUCKDB_TYPE_BOOLEAN;
      case SqlType::kBigint:
        return DUCKDB_TYPE_BIGINT;
      case SqlType::kDouble:
        return DUCKDB_TYPE_DOUBLE;
      case SqlType::kVarchar:
        return DUCKDB_TYPE_VARCHAR;
    }
    return DUCKDB_TYPE_VARCHAR;
  }
  duckdb_logical_type t_;
};

// What a Value of `type` must hold; "" when `v` fits (null always does).
std::string Misfit(SqlType type, const Value& v) {
  bool ok = v.is_null();
  switch (type) {
    case SqlType::kBoolean:
      ok = ok || std::holds_alternative<bool>(v.v);
      break;
    case SqlType::kBigint:
      ok = ok || std::holds_alternative<int64_t>(v.v);
      break;
    case SqlType::kDouble:
      ok = ok || std::holds_alternative<double>(v.v) || std::holds_alternative<int64_t>(v.v);
      break;
    case SqlType::kVarchar:
      ok = ok || std::holds_alternative<std::string>(v.v);
      break;
  }
  return ok ? "" : std::string("expected a ") + SqlTypeName(type) + " value, got " + v.ToJson();
}

double AsDouble(const Value& v) {
  if (auto* i = std::get_if<int64_t>(&v.v)) return static_cast<double>(*i);
  return std::get<double>(v.v);
}

Value ReadCell(duckdb_vector vec, SqlType type, idx_t row) {
  void* data = duckdb_vector_get_data(vec);
  switch (type) {
    case SqlType::kBoolean:
      return Value(static_cast<bool*>(data)[row]);
    case SqlType::kBigint:
      return Value(static_cast<int64_t*>(data)[row]);
    case SqlType::kDouble:
      return Value(static_cast<double*>(data)[row]);
    case SqlType::kVarchar: {
      auto* s = &static_cast<duckdb_string_t*>(data)[row];
      return Value(std::string(duckdb_string_t_data(s), duckdb_string_t_length(*s)));
    }
  }
  return Value();
}

// Writes `v` (checked by Misfit) into row `row` of `vec`.
void WriteCell(duckdb_vector vec, SqlType type, idx_t row, const Value& v) {
  if (v.is_null()) {
    duckdb_vector_ensure_validity_writable(vec);
    duckdb_validity_set_row_invalid(duckdb_vector_get_validity(vec), row);
    return;
  }
  void* data = duckdb_vector_get_data(vec);
  switch (type) {
    case SqlType::kBoolean:
      static_cast<bool*>(data)[row] = std::get<bool>(v.v);
      break;
    case SqlType::kBigint:
      static_cast<int64_t*>(data)[row] = std::get<int64_t>(v.v);
      break;
    case SqlType::kDouble:
      static_cast<double*>(data)[row] = AsDouble(v);
      break;
    case SqlType::kVarchar: {
      const std::string& s = std::get<std::string>(v.v);
      duckdb_vector_assign_string_element_len(vec, row, s.data(), s.size());
      break;
    }
  }
}

Value FromDuckValue(duckdb_value v, SqlType type) {
  if (!v || duckdb_is_null_value(v)) return Value();
  switch (type) {
    case SqlType::kBoolean:
      return Value(duckdb_get_bool(v));
    case SqlType::kBigint:
      return Value(duckdb_get_int64(v));
    case SqlType::kDouble:
      return Value(duckdb_get_double(v));
    case SqlType::kVarchar: {
      char* s = duckdb_get_varchar(v);
      Value out(std::string(s ? s : ""));
      duckdb_free(s);
      return out;
    }
  }
  return Value();
}

// Runs `fn` (user code); returns the message of what it threw, "" if nothing.
template <class Fn>
std::string Guarded(const std::string& name, Fn&& fn) {
  try {
    fn();
    return "";
  } catch (const std::exception& e) {
    return name + ": " + e.what();
  } catch (...) {
    return name + ": threw an exception that is not a std::exception";
  }
}

struct ScalarInfo {
  std::string name;
  std::vector<SqlType> params;
  SqlType returns;
  ScalarFunction fn;
};

// One chunk: a row with a NULL argument gives NULL; each other row one call.
void CallScalar(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  auto* f = static_cast<ScalarInfo*>(duckdb_scalar_function_get_extra_info(info));
  const idx_t rows = duckdb_data_chunk_get_size(input);
  std::vector<duckdb_vector> in;
  std::vector<uint64_t*> valid;
  for (idx_t c = 0; c < f->params.size(); ++c) {
    in.push_back(duckdb_data_chunk_get_vector(input, c));
    valid.push_back(duckdb_vector_get_validity(in.back()));
  }
  std::vector<Value> args(f->params.size());
  std::string error;
  for (idx_t r = 0; r < rows; ++r) {
    bool null = false;
    for (size_t c = 0; c < args.size(); ++c) {
      null = null || (valid[c] && !duckdb_validity_row_is_valid(valid[c], r));
      if (!null) args[c] = ReadCell(in[c], f->params[c], r);
    }
    Value v;  // null for a row with a NULL argument
    if (!null) error = Guarded(f->name + "()", [&] { v = f->fn(args); });
    if (!error.empty()) break;
    if (std::string m = Misfit(f->returns, v); !m.empty()) {
      error = f->name + "() returned a value of the wrong type: " + m;
      break;
    }
    WriteCell(output, f->returns, r, v);
  }
  if (!error.empty()) duckdb_scalar_function_set_error(info, error.c_str());
}

struct TableInfo {
  std::string name;
  std::vector<SqlType> params;
  std::vector<SqlColumn> columns;
  TableFunction fn;
};
struct TableBind {
  std::vector<Value> args;
};
struct TableScan {
  TableRows rows;
  size_t next = 0;
};

void BindTable(duckdb_bind_info info) {
  auto* f = static_cast<TableInfo*>(duckdb_bind_get_extra_info(info));
  auto bind = std::make_unique<TableBind>();
  for (idx_t i = 0; i < f->params.size(); ++i) {
    duckdb_value v = duckdb_bind_get_parameter(info, i);
    bind->args.push_back(FromDuckValue(v, f->params[i]));
    if (v) duckdb_destroy_value(&v);
  }
  for (const SqlColumn& c : f->columns) {
    LogicalType t(c.type);
    duckdb_bind_add_result_column(info, c.name.c_str(), t.get());
  }
  duckdb_bind_set_bind_data(info, bind.release(), [](void* p) { delete static_cast<TableBind*>(p); });
}

// The rows are computed once per query, when it runs.
void InitTable(duckdb_init_info info) {
  auto* f = static_cast<TableInfo*>(duckdb_init_get_extra_info(info));
  auto* bind = static_cast<TableBind*>(duckdb_init_get_bind_data(info));
  duckdb_init_set_max_threads(info, 1);
  auto scan = std::make_unique<TableScan>();
  Result<TableRows> rows = TableRows{};
  std::string error = Guarded(f->name + "()", [&] { rows = f->fn(bind->args); });
  if (error.empty() && !rows.ok()) error = f->name + "(): " + rows.status().message();
  for (size_t r = 0; error.empty() && r < rows->size(); ++r) {
    const auto& row = (*rows)[r];
    if (row.size() != f->columns.size())
      error = f->name + "(): row " + std::to_string(r + 1) + " has " + std::to_string(row.size()) + " values for " +
              std::to_string(f->columns.size()) + " columns";
    for (size_t c = 0; error.empty() && c < row.size(); ++c)
      if (std::string m = Misfit(f->columns[c].type, row[c]); !m.empty())
        error = f->name + "(): row " + std::to_string(r + 1) + ", column " + f->columns[c].name + ": " + m;
  }
  if (!error.empty()) return duckdb_init_set_error(info, error.c_str());
  scan->rows = std::move(rows).value();
  duckdb_init_set_init_data(info, scan.release(), [](void* p) { delete static_cast<TableScan*>(p); });
}

void ScanTable(duckdb_function_info info, duckdb_data_chunk output) {
  auto* f = static_cast<TableInfo*>(duckdb_function_get_extra_info(info));
  auto* scan = static_cast<TableScan*>(duckdb_function_get_init_data(info));
  idx_t count = 0;
  for (; count < duckdb_vector_size() && scan->next < scan->rows.size(); ++count, ++scan->next)
    for (idx_t c = 0; c < f->columns.size(); ++c)
      WriteCell(duckdb_data_chunk_get_vector(output, c), f->columns[c].type, count, scan->rows[scan->next][c]);
  duckdb_data_chunk_set_size(output, count);
}

Status CheckName(const std::string& what, const std::string& name) {
  if (name.empty()) return Status::Invalid(what + " needs a name");
  return Status::Ok();
}

}  // namespace

Status Database::RegisterScalarFunction(const std::string& name, const std::vector<SqlType>& params, SqlType returns,
                                        ScalarFunction fn) {
  FANOUT_RETURN_IF_ERROR(CheckName("a scalar function", name));
  if (!fn) return Status::Invalid("scalar function " + name + ": no function given");
  auto con = Connect();
  if (!con.ok()) return con.status();
  duckdb_scalar_function f = duckdb_create_scalar_function();
  duckdb_scalar_function_set_name(f, name.c_str());
  for (SqlType p : params) {
    LogicalType t(p);
    duckdb_scalar_function_add_parameter(f, t.get());
  }
  LogicalType ret(returns);
  duckdb_scalar_function_set_return_type(f, ret.get());
  duckdb_scalar_function_set_volatile(f);
  duckdb_scalar_function_set_extra_info(f, new ScalarInfo{name, params, returns, std::move(fn)},
                                        [](void* p) { delete static_cast<ScalarInfo*>(p); });
  duckdb_scalar_function_set_function(f, CallScalar);
  duckdb_state state = duckdb_register_scalar_function((*con)->impl_->con, f);
  duckdb_destroy_scalar_function(&f);
  if (state == DuckDBError)
    return Status::Invalid("cannot register scalar function " + name + " (a function of that name exists?)");
  return Status::Ok();
}

Status Database::RegisterTableFunction(const std::string& name, const std::vector<SqlType>& params,
                                       const std::vector<SqlColumn>& columns, TableFunction fn) {
  FANOUT_RETURN_IF_ERROR(CheckName("a table function", name));
  if (!fn) return Status::Invalid("table function " + name + ": no function given");
  if (columns.empty()) return Status::Invalid("table function " + name + ": declare at least one column");
  for (const SqlColumn& c : columns)
    if (c.name.empty()) return Status::Invalid("table function " + name + ": a column has no name");
  auto con = Connect();
  if (!con.ok()) return con.status();
  duckdb_table_function f = duckdb_create_table_function();
  duckdb_table_function_set_name(f, name.c_str());
  for (SqlType p : params) {
    LogicalType t(p);
    duckdb_table_function_add_parameter(f, t.get());
  }
  duckdb_table_function_set_extra_info(f, new TableInfo{name, params, columns, std::move(fn)},
                                       [](void* p) { delete static_cast<TableInfo*>(p); });
  duckdb_table_function_set_bind(f, BindTable);
  duckdb_table_function_set_init(f, InitTable);
  duckdb_table_function_set_function(f, ScanTable);
  duckdb_state state = duckdb_register_table_function((*con)->impl_->con, f);
  duckdb_destroy_table_function(&f);
  if (state == DuckDBError)
    return Status::Invalid("cannot register table function " + name + " (a function of that name exists?)");
  return Status::Ok();
}

// ----- Appender ---------------------------------------------------------------

struct Appender::Impl {
  duckdb_appender app = nullptr;
  std::vector<SqlType> types;
  bool closed = false;
  ~Impl() {
    if (app) duckdb_appender_destroy(&app);
  }
  Status Error(const std::string& what) const {
    const char* e = duckdb_appender_error(app);
    return Status::Failed(what + ": " + (e ? e : "the appender failed"));
  }
};

Appender::Appender(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Appender::~Appender() = default;

Result<std::unique_ptr<Appender>> Appender::Open(Connection& con, const std::string& temp_table,
                                                 std::vector<SqlType> types) {
  auto impl = std::make_unique<Impl>();
  impl->types = std::move(types);
  if (duckdb_appender_create_ext(con.impl_->con, "temp", "main", temp_table.c_str(), &impl->app) == DuckDBError)
    return impl->Error("cannot append to " + temp_table);
  return std::unique_ptr<Appender>(new Appender(std::move(impl)));
}

Status Appender::Append(const std::vector<Value>& row) {
  if (impl_->closed) return Status::Invalid("the result table is closed: append before the transform returns");
  if (row.size() != impl_->types.size())
    return Status::Invalid("a row of " + std::to_string(row.size()) + " values for " +
                           std::to_string(impl_->types.size()) + " columns");
  for (size_t c = 0; c < row.size(); ++c)
    if (std::string m = Misfit(impl_->types[c], row[c]); !m.empty())
      return Status::Invalid("column " + std::to_string(c + 1) + ": " + m);
  duckdb_state st = DuckDBSuccess;
  for (size_t c = 0; c < row.size() && st == DuckDBSuccess; ++c) {
    const Value& v = row[c];
    if (v.is_null())
      st = duckdb_append_null(impl_->app);
    else if (impl_->types[c] == SqlType::kBoolean)
      st = duckdb_append_bool(impl_->app, std::get<bool>(v.v));
    else if (impl_->types[c] == SqlType::kBigint)
      st = duckdb_append_int64(impl_->app, std::get<int64_t>(v.v));
    else if (impl_->types[c] == SqlType::kDouble)
      st = duckdb_append_double(impl_->app, AsDouble(v));
    else
      st = duckdb_append_varchar_length(impl_->app, std::get<std::string>(v.v).data(),
                                        std::get<std::string>(v.v).size());
  }
  if (st == DuckDBSuccess) st = duckdb_appender_end_row(impl_->app);
  return st == DuckDBSuccess ? Status::Ok() : impl_->Error("appending a row");
}

Status Appender::Close() {
  if (impl_->closed) return Status::Ok();
  impl_->closed = true;
  if (duckdb_appender_close(impl_->app) == DuckDBError) return impl_->Error("writing the appended rows");
  return Status::Ok();
}

}  // namespace fanout
