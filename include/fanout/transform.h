// C++ transforms: an iteration's work written in C++ instead of SQL. A
// program that embeds fanout registers each under a name
// (RunOptions::transforms) and the job names it (`transform: {cpp: name}`, or
// per kind under `transforms:`). See docs/cpp_api.md.
//
//   fanout::RunOptions options;
//   options.transforms["score"] = {[](fanout::TransformContext& ctx) -> fanout::Status {
//     auto rows = ctx.Query("SELECT id, amount FROM sales WHERE day <= $n");
//     if (!rows.ok()) return rows.status();
//     auto out = ctx.ResultTable({{"id", fanout::SqlType::kBigint}, {"score", fanout::SqlType::kDouble}});
//     if (!out.ok()) return out.status();
//     for (const auto& r : rows->rows) FANOUT_RETURN_IF_ERROR((*out)->Append({r[0], Score(r[1])}));
//     return fanout::Status::Ok();
//   }, "v1"};
//
// An attempt of a C++ transform is an attempt like any other: its own engine
// connection (its temp tables are its own), the same SQL policy for the SQL it
// runs, its result written into staging and published with its _SUCCESS,
// retried by the kind of its error, interrupted by run.timeout and cancel.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "fanout/engine.h"
#include "fanout/status.h"
#include "fanout/value.h"

namespace fanout {

// A query's result, fully read: one Value per cell, converted as the engine's
// Table reader converts (integers int64_t, DECIMAL and floats double, text
// string, LIST list, STRUCT map, dates and times their text; NULL null).
struct QueryRows {
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;
  int Column(const std::string& name) const;  // -1 when absent
};

// Rows of the iteration's result, appended through the engine's appender.
class ResultWriter {
 public:
  virtual ~ResultWriter() = default;
  // One row: a Value per declared column, of its type (an int64_t is accepted
  // for DOUBLE) or null.
  virtual Status Append(const std::vector<Value>& row) = 0;
};

// What a C++ transform is given: one attempt of one iteration. Used from the
// thread that runs the transform only.
class TransformContext {
 public:
  virtual ~TransformContext() = default;
  virtual const Value& n() const = 0;
  virtual const std::string& kind() const = 0;  // "" when the sequence has no kinds
  virtual int attempt() const = 0;              // 1 for the first, 2 for the first retry, ...
  // The iteration's own copy of its params (the job's params, its overrides,
  // n and kind).
  virtual const Params& params() const = 0;

  // Runs one SQL statement on the iteration's connection to the shared
  // engine (inputs, `prepare`'s tables, registered functions). Its $name
  // parameters are bound from `bind`, then from params(): values are never
  // pasted into SQL. The transform SQL policy applies (SELECT; TEMP objects
  // of its own; no SET, ATTACH, COPY, ...).
  virtual Result<QueryRows> Query(const std::string& sql, const Params& bind = {}) = 0;
  virtual Status Execute(const std::string& sql, const Params& bind = {}) = 0;

  // The iteration's result, one of the two (once):
  // a query, written when the transform returns (it may read the temp tables
  // the transform made), with its parameters bound as for Query;
  virtual Status SetResultQuery(const std::string& sql, const Params& bind = {}) = 0;
  // or a table of these columns, filled row by row through the writer (owned
  // by the context, valid until the transform returns).
  virtual Result<ResultWriter*> ResultTable(const std::vector<SqlColumn>& columns) = 0;

  // True once the attempt was cancelled or timed out: a long loop should
  // check it and return (its SQL is interrupted by then already).
  virtual bool cancelled() const = 0;
};

struct CppTransform {
  // Returns Ok with a result set, or the error that fails this attempt (its
  // kind decides a retry, as for SQL: Status::Io(...) is retried with
  // run.retries; a thrown exception fails the iteration with its message).
  std::function<Status(TransformContext&)> fn;
  // Part of every fingerprint of an iteration it computes: change it when
  // the code changes so that --resume reruns them.
  std::string version;
};

}  // namespace fanout
