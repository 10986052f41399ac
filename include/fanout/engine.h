// Engine: what a program embedding fanout may do with a job's engine once
// it is open and before anything runs (RunOptions::on_engine_ready):
// register C++ functions that every SQL transform (and every C++ transform's
// SQL) can call. See docs/cpp_api.md.
//
// Thread safety: the engine calls a function from many threads at once (its
// own worker threads, for every iteration in flight), so a function must be
// safe to call concurrently: no unguarded shared state. A function that
// throws fails only the statement (so the iteration) that called it, with
// the exception's message; an exception never escapes into the engine.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fanout/status.h"
#include "fanout/value.h"

namespace fanout {

// The SQL types C++ functions and C++ transforms exchange values in, and the
// Value each is given as: BOOLEAN bool, BIGINT int64_t, DOUBLE double,
// VARCHAR std::string (NULL: a null Value).
enum class SqlType { kBoolean, kBigint, kDouble, kVarchar };
const char* SqlTypeName(SqlType type);  // "BOOLEAN", "BIGINT", ...

struct SqlColumn {
  std::string name;
  SqlType type = SqlType::kVarchar;
};

// One call per row: args[i] holds the i-th argument (never null: a row with
// a NULL argument gives NULL without a call). Returns the row's value, of the
// declared return type (an int64_t is accepted for DOUBLE), or a null Value
// for NULL; anything else fails the statement.
using ScalarFunction = std::function<Value(const std::vector<Value>& args)>;
// One call per query that reads the function: args are its arguments (a
// $param bound as usual); returns every row, one Value per declared column.
// An error Status (or an exception) fails the query with its message.
using TableRows = std::vector<std::vector<Value>>;
using TableFunction = std::function<Result<TableRows>(const std::vector<Value>& args)>;

class Engine {
 public:
  virtual ~Engine() = default;
  // Registers fn(BIGINT) -> BIGINT as a volatile SQL scalar function `name`
  // (NULL in, NULL out).
  virtual Status RegisterScalarFunction(const std::string& name, std::function<int64_t(int64_t)> fn) = 0;
  // Registers `name`(params...) -> returns as a volatile SQL scalar function.
  virtual Status RegisterScalarFunction(const std::string& name, const std::vector<SqlType>& params, SqlType returns,
                                        ScalarFunction fn) = 0;
  // Registers `name`(params...) as a SQL table function returning `columns`:
  // SELECT * FROM name(...). The rows are computed when the query runs
  // (never while a transform is only checked).
  virtual Status RegisterTableFunction(const std::string& name, const std::vector<SqlType>& params,
                                       const std::vector<SqlColumn>& columns, TableFunction fn) = 0;
};

}  // namespace fanout
