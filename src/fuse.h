// fuse: many iterations of one transform as one query (issue #17).
//
// A fused batch runs its transform once over a sequence table (one row per
// iteration: its n and its params as columns) into a temp result whose rows
// carry their n, then writes each n's rows as that iteration's output
// through the same staging, marker and publish as a separate run
// (fuse_run.cc). Two ways to get there:
//
//   batch_transform:  the user writes the batch form (reads fanout_sequence,
//                     returns n with each row); run separately it sees a
//                     fanout_sequence of one row.
//   run.fuse: auto    fanout rewrites an n-parametric single SELECT into the
//                     batch form on the engine's own tree (json_serialize_sql
//                     / json_deserialize_sql): cross join the sequence table,
//                     each $param a column of it, n added to the select list
//                     and the grouping. Only shapes proven to give every n the
//                     rows it gets alone fuse (ProveFusable); the rest run
//                     separately, and `fanout plan` says why.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine.h"
#include "fanout/job_spec.h"
#include "nlohmann/json_fwd.hpp"

namespace fanout {

struct Iteration;

// How a group of iterations runs as one query.
struct FusedForm {
  struct Column {
    std::string name;      // column of the sequence table
    std::string param;     // the param it holds
    std::string type_sql;  // its type ("": the bound value's own)
  };
  std::string sql;        // the batch query; reads seq_table
  std::string seq_table;  // created TEMP per batch
  std::vector<Column> columns;
  std::string n_column;  // the result column that says each row's n
  bool drop_n = false;   // n_column is fanout's own: not written
};

// The table a batch_transform reads, and fanout's own names in a rewrite.
inline constexpr const char* kSequenceTable = "fanout_sequence";
inline constexpr const char* kFusedSeqTable = "__fanout_seq";
inline constexpr const char* kFusedPrefix = "__fanout_";

// Fewer iterations of a transform than this run separately (fusing gains
// nothing and a batch that fails costs a rerun).
inline constexpr size_t kMinFused = 4;

// The statement that gives a batch_transform run alone its one-row
// fanout_sequence: CREATE TEMP TABLE fanout_sequence AS SELECT $n AS n, ...
// over `params` (names only; values are bound).
std::string SequenceTableStatement(const Params& params);

// The engine's functions (duckdb_functions()), by name.
struct FunctionCatalog {
  std::set<std::string> aggregates;
  std::set<std::string> deterministic;  // every overload CONSISTENT, or a built-in table function/macro
  std::set<std::string> unstable;       // some overload is not
};
Result<FunctionCatalog> LoadFunctionCatalog(Connection& con);

// Why `statement` (the engine's serialized tree of one statement) cannot be
// fused, or "" when it can: see fuse.cc for the rules.
std::string ProveFusable(const nlohmann::ordered_json& statement, const FunctionCatalog& catalog);
// Why fusing a proven statement is expected to be slower than running it per
// iteration (run.fuse: auto then runs it separately), or "". Measured on the
// bench jobs (BENCHMARKS.md): a grouped aggregate gains (one scan and join
// for every n); a row-level query loses (its rows are written to a temp
// result, then copied out per n); so does a DISTINCT aggregate.
std::string FusionLoses(const nlohmann::ordered_json& statement, const FunctionCatalog& catalog);
// Rewrites a proven statement into the batch form over kFusedSeqTable with
// `params` as columns; `names` are the separate query's result column names
// (aliases for select items that hold a param).
void RewriteFused(nlohmann::ordered_json& statement, const std::vector<std::string>& params,
                  const std::vector<std::string>& names);

// Removes every query_location (to compare trees).
void StripLocations(nlohmann::ordered_json& tree);

// Decides for every iteration whether it runs in a fused batch: sets
// Iteration::fused (shared by the iterations that batch together) and
// Iteration::fuse_note (what `fanout plan` says). Explicit batch transforms
// are checked (they must return n). Uses its own connections (watched).
Status PlanFusion(Database& db, const JobSpec& spec, std::vector<Iteration>& iterations,
                  const std::function<void(Connection*)>& watch);

}  // namespace fanout
