// engine: the only module that talks to DuckDB (its C API). RAII owners for
// the database, connections and prepared statements; DuckDB errors become
// Status values, their kind from DuckDB's error type (never its message):
//   kInterrupted  the query was interrupted (timeout, cancel)   kInterrupted
//   kIo           out of memory                                  kOutOfMemory
//   kIo           I/O, HTTP, network: worth a retry              kTransientIo
//   kFailed       catalog: no such table, ... / exists already   kCatalog
//   kFailed       parser, binder, conversion, ...                kPermanent
// (The C API gives no error type when preparing a statement fails: those
// errors are kFailed, kPermanent.)
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fanout/engine.h"
#include "fanout/status.h"
#include "fanout/value.h"

namespace fanout {

class Connection;

// A statement's type, from the engine's parser.
enum class StatementKind {
  kSelect, kInsert, kUpdate, kDelete, kCreate, kDrop, kAlter, kSet, kPragma, kAttach, kDetach,
  kExtension, kCopy, kExport, kTransaction, kCall, kMaintenance, kPrepare, kExplain, kOther
};
// "SET", "ATTACH", ... for messages.
const char* StatementKindName(StatementKind kind);

// One DuckDB instance: its threads are shared by every connection.
// Thread-safe: connections may be opened from any thread.
class Database : public Engine {
 public:
  struct Options {
    int threads = 0;               // 0: DuckDB's default (all cores)
    std::string memory_limit;      // e.g. "75%", "8GB"; empty: DuckDB's default
    std::string temp_directory;    // spill location; empty: DuckDB's default
    std::string timezone = "UTC";  // results with time zones depend on it: fixed, never the process's TZ
  };
  static Result<std::unique_ptr<Database>> Open(const Options& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Result<std::unique_ptr<Connection>> Connect();
  // Sets the SQL variable `name` (a plain identifier) to `value` on `con` and
  // on every connection opened later (getvariable('name') reads it).
  Status SetSessionVariable(Connection& con, const std::string& name, const Value& value);
  // The engine's worker threads, for every connection (the `threads` setting).
  Status SetThreads(Connection& con, int threads);
  // The engine's TimeZone for every connection (ICU's names).
  Status SetTimeZone(const std::string& timezone);
  // Locks the engine's configuration: no SET/RESET may change it from now on.
  Status LockConfiguration(Connection& con);
  // Registers fn(BIGINT) -> BIGINT as a volatile SQL scalar function.
  Status RegisterScalarFunction(const std::string& name, std::function<int64_t(int64_t)> fn) override;
  // The typed forms (engine_udf.cc): see fanout/engine.h.
  Status RegisterScalarFunction(const std::string& name, const std::vector<SqlType>& params, SqlType returns,
                                ScalarFunction fn) override;
  Status RegisterTableFunction(const std::string& name, const std::vector<SqlType>& params,
                               const std::vector<SqlColumn>& columns, TableFunction fn) override;
  static std::string Version();

 private:
  struct Impl;
  explicit Database(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The logical type of a result column, described without DuckDB's headers.
enum class TypeId {
  kInvalid, kBoolean, kTinyint, kSmallint, kInteger, kBigint, kUtinyint, kUsmallint, kUinteger, kUbigint,
  kHugeint, kUhugeint, kFloat, kDouble, kDecimal, kVarchar, kBlob, kBit, kBignum, kUuid, kEnum, kDate, kTime,
  kTimeNs, kTimeTz, kTimestamp, kTimestampS, kTimestampMs, kTimestampNs, kTimestampTz, kInterval, kList,
  kArray, kStruct, kMap, kUnion, kSqlNull, kAny, kOther,
};
// "HUGEINT", "TIMESTAMP_TZ", "LIST", ...: the DuckDB type id's name.
const char* TypeIdName(TypeId id);

struct ResultColumn;

struct ColumnType {
  TypeId id = TypeId::kInvalid;
  // DuckDB's spelling of the whole type, as typeof() prints it: "HUGEINT",
  // "DECIMAL(18,3)", "INTEGER[]", "INTEGER[3]", "STRUCT(a INTEGER, \"b c\" VARCHAR)",
  // "MAP(VARCHAR, INTEGER[])", "UNION(a INTEGER, b VARCHAR)", "ENUM('x', 'y')",
  // or an alias such as "JSON". (A field name is quoted when it is not
  // lower-case letters, digits and _; reserved words are not detected.)
  std::string sql;
  // LIST/ARRAY: the element ("" name); STRUCT: the fields; UNION: the members;
  // MAP: "key" and "value". Empty for every other type.
  std::vector<ResultColumn> children;
};

// A result column (or a field of a nested type): its name and type.
struct ResultColumn {
  std::string name;
  ColumnType type;
};

// A small, fully materialised query result (sequence SQL, reading back).
// Every DuckDB type is read; cells map to Value as follows (NULL at any level
// -> null):
//   BOOLEAN -> bool
//   TINYINT..BIGINT, UTINYINT..UBIGINT, HUGEINT, UHUGEINT, BIGNUM -> int64
//     when the value fits, else its exact decimal text ("18446744073709551615")
//   FLOAT, DOUBLE -> double (NaN and infinities included)
//   DECIMAL (every width) -> the double nearest to its exact value
//   VARCHAR (and aliases such as JSON), ENUM -> string
//   LIST, ARRAY -> list; STRUCT -> map (field order kept);
//   MAP -> map with each key rendered as text (Value::ToString of the key)
//   UNION -> its active member's value
//   DATE, TIME, TIME_TZ, TIMESTAMP[_S|_MS|_NS|_TZ], INTERVAL, UUID, BLOB,
//     BIT -> DuckDB's text rendering (what ::VARCHAR prints; TIMESTAMP_TZ
//     and TIME_TZ are rendered in UTC, "+00", whatever the session's TimeZone)
//   a type DuckDB's C API does not report (TIME_NS in 1.4.4, even nested):
//     the query fails (kFailed) naming the column; cast it, e.g. to VARCHAR
struct Table {
  std::vector<std::string> columns;
  std::vector<ResultColumn> described;  // each column's name and type
  std::vector<std::vector<Value>> rows;
  int Column(const std::string& name) const;  // -1 when absent
};

class PreparedStatement {
 public:
  ~PreparedStatement();
  PreparedStatement(const PreparedStatement&) = delete;
  PreparedStatement& operator=(const PreparedStatement&) = delete;

  // The names of its $name parameters.
  const std::vector<std::string>& param_names() const { return names_; }
  // True when the statement returns rows (SELECT, WITH, VALUES, ...).
  bool is_query() const;
  StatementKind kind() const;
  Status Bind(const std::string& name, const Value& value);
  // Binds each of its parameters from `params`; a name not in params is an
  // error naming it.
  Status BindAll(const Params& params);
  // The columns the statement returns, known from preparing alone (nothing
  // runs; binding changes nothing). Fails (kInvalid) when DuckDB leaves them
  // to the parameters' types, e.g. `SELECT $n + 1` ($n::BIGINT + 1 is known).
  // A type the C API does not report (TIME_NS in DuckDB 1.4.4, also inside a
  // LIST or STRUCT) is TypeId::kInvalid, its sql "INVALID".
  Result<std::vector<ResultColumn>> ResultColumns() const;
  // The type the engine resolved for parameter $name when preparing (DuckDB's
  // spelling, as ColumnType::sql); "" when it waits for the bound value's type.
  std::string ParamTypeSql(const std::string& name) const;
  Result<Table> Execute();

 private:
  friend class Connection;
  struct Impl;
  explicit PreparedStatement(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::vector<std::string> names_;
};

// One client session. Not thread-safe, except Interrupt(), which any thread
// may call to stop the statement that is running.
class Connection {
 public:
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Status Execute(const std::string& sql);
  Result<Table> Query(const std::string& sql);
  Result<std::unique_ptr<PreparedStatement>> Prepare(const std::string& sql);
  // How many statements DuckDB's parser finds in `sql`.
  Result<int> CountStatements(const std::string& sql);
  void Interrupt();

 private:
  friend class Database;
  friend class Appender;
  struct Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Rows appended to a table of a connection's temp schema through the
// engine's appender (engine_udf.cc). Used by one thread.
class Appender {
 public:
  // `types`: the table's columns, in order.
  static Result<std::unique_ptr<Appender>> Open(Connection& con, const std::string& temp_table,
                                                std::vector<SqlType> types);
  ~Appender();
  Appender(const Appender&) = delete;
  Appender& operator=(const Appender&) = delete;
  // One row, a Value per column of its type (int64 accepted for DOUBLE) or
  // null; a row that does not fit appends nothing (kInvalid).
  Status Append(const std::vector<Value>& row);
  // Flushes what was appended into the table; no Append after it.
  Status Close();

 private:
  struct Impl;
  explicit Appender(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Quotes an identifier for SQL ("name" with inner quotes doubled).
std::string QuoteIdentifier(const std::string& name);

}  // namespace fanout
