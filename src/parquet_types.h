// parquet_types: which result types DuckDB 1.4.4's Parquet writer cannot
// hold exactly. Measured by writing each type with COPY ... (FORMAT parquet)
// and reading it back (parquet_types_test.cc repeats the measurement on the
// linked engine, so an engine upgrade that changes it fails a test):
//
//   HUGEINT, UHUGEINT   -> DOUBLE: the type changes and values past 2^53 lose
//                          digits (9007199254740993 reads back ...992)
//   TIME WITH TIME ZONE -> the offset is dropped: 12:34:56+05:30 reads back
//                          as 12:34:56+00 (a different instant)
//   INTERVAL            -> microseconds are cut to milliseconds; a negative
//                          interval fails the write
//   UNION               -> STRUCT(tag UTINYINT, one field per member)
//   BIT, BIGNUM, TIME_NS, ENUM -> VARCHAR (same text)
//   ARRAY (T[n])        -> LIST (T[]) (same elements)
//   TIMESTAMP_S, TIMESTAMP_MS -> TIMESTAMP (same instants)
//   a type the engine does not report (TypeId::kInvalid: TIME_NS in 1.4.4)
//                       -> reported, since fanout cannot tell
//
// Everything else (integers up to 64 bits signed or not, FLOAT, DOUBLE with
// NaN/inf, DECIMAL of every width, VARCHAR, BLOB, UUID, DATE incl. infinity
// and BC, TIME, TIMESTAMP, TIMESTAMP_NS, TIMESTAMP WITH TIME ZONE, LIST,
// STRUCT, MAP, NULLs) round-trips with the same type and value.
#pragma once

#include <string>
#include <vector>

#include "engine.h"

namespace fanout {

// One place in a result where Parquet would change the type or the values.
struct ParquetIssue {
  std::string path;     // the column, then .field, [] (list/array element), .key/.value (map), .member (union)
  std::string type;     // the DuckDB type there, e.g. "HUGEINT"
  std::string becomes;  // what reading the Parquet file back gives, e.g. "DOUBLE"
  bool lossy = false;   // values change or the write can fail (not only the type)
  std::string fix;      // what to do in the transform, e.g. "cast it to DECIMAL(38,0) ..."
  // `column "total" (HUGEINT) is written to Parquet as DOUBLE, losing digits past 2^53: cast it to ...`
  std::string ToString() const;
};

// Every issue in these columns, recursing into nested types; an outer type
// that changes and an inner one that changes are reported separately. Empty
// when Parquet holds every column exactly.
std::vector<ParquetIssue> ParquetIssues(const std::vector<ResultColumn>& columns);

// The issues of one column, one per line; "" when Parquet holds it exactly.
std::string ParquetCannotHold(const ResultColumn& column);

}  // namespace fanout
