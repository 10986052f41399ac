// JobSpec: a validated job file (see README "Job file").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fanout/status.h"
#include "fanout/value.h"

namespace fanout {

struct InputSpec {
  std::string name;    // table name (a plain identifier)
  std::string path;    // absolute
  std::string format;  // csv | tsv | parquet | json | ndjson
  ValueMap options;    // reader options, bound as named parameters
};

struct TransformSpec {
  std::string sql;     // the SQL text (read from `source` when that is a file)
  std::string source;  // file path, or "<job>:line" for inline SQL
  // A C++ transform's name (`transform: {cpp: name}`, RunOptions::transforms):
  // then sql is empty and source is where the job names it.
  std::string cpp = {};
  // batch_transform: one query for all iterations; reads fanout_sequence
  // (n, kind and each param as columns) and returns n with each row.
  bool batch = false;
};

// One axis of a grid: its values, or a query whose rows are its values
// (each row's columns bound by their names).
struct GridAxis {
  std::string name;
  ValueList values;
  std::string sql;    // non-empty: the axis is the query's rows
  std::string where;  // file:line:col of the axis, for messages
};

struct SequenceSpec {
  // kSets: a list of maps, each one iteration's params; kGrid: the cross
  // product of the axes (src/sequence.h expands both).
  enum class Kind { kList, kRange, kSql, kSets, kGrid };
  Kind kind = Kind::kList;
  std::vector<Value> items;  // kList: int64 or string values
  int64_t first = 0, last = -1, step = 1;  // kRange, both ends included
  std::string sql;           // kSql: returns column n and optionally kind
  // kSets: each iteration's params; `n` (an integer or a name) and `kind` are
  // the iteration's own, not params. `where[i]`: file:line:col of sets[i].
  std::vector<ValueMap> sets;
  std::vector<std::string> where;
  std::vector<GridAxis> grid;  // kGrid, the last axis varying fastest
};

// after: {56: [2, 3], 9: {kind: agg}}: `of` starts only once every iteration
// named in `needs` (an n or an output name) and every iteration of a kind in
// `kinds` has committed. `where`: file:line:col of each, for messages.
struct AfterSpec {
  std::string of;
  std::vector<std::string> needs;
  std::vector<std::string> kinds;
  std::string where;                    // of `of`
  std::vector<std::string> needs_where;  // of each of needs, then kinds
};

struct OutputSpec {
  enum class Mode { kOverwrite, kErrorIfExists, kSkipExisting };
  std::string dir;                  // absolute
  std::string name = "iter_{n}";    // {n} and {kind} are replaced
  std::string format = "parquet";   // parquet | csv | json
  std::string compression = "zstd";
  Mode mode = Mode::kOverwrite;
  int64_t max_file_bytes = 0;       // 0: one part file per iteration
};

// The most run.max_workers, run.threads and --max-workers may be: each is a
// thread; more is a typo on any machine.
inline constexpr int kMaxThreads = 1024;

struct RunSpec {
  int max_workers = 0;     // 0: auto; else 1..kMaxThreads
  int threads = 0;         // 0: auto; else 1..kMaxThreads
  std::string memory_limit = "75%";
  int retries = 0;
  double retry_backoff_seconds = 1.0;
  double timeout_seconds = 30 * 60;
  bool stop_on_failure = false;  // on_failure: stop
  // longest_first: iterations that took longest in earlier runs (from the
  // manifests in OUT/_fanout/runs) start first; unknown ones before known.
  enum class Order { kLongestFirst, kGiven };
  Order order = Order::kLongestFirst;
  // The engine's TimeZone for every statement (the process's TZ never leaks
  // into results); part of every fingerprint.
  std::string timezone = "UTC";
  // fuse: auto runs iterations of one transform as one query where fanout
  // can prove each gets the rows it gets alone (src/fuse.cc) and expects it
  // to be faster (a grouped aggregate); always: wherever it is proven safe;
  // off: never.
  enum class Fuse { kAuto, kAlways, kOff };
  Fuse fuse = Fuse::kAuto;
};

struct CacheSpec {
  bool enabled = true;
  std::string dir;  // absolute; default .fanout-cache beside the job file
};

struct JobSpec {
  std::string path;      // the job file, absolute
  std::string base_dir;  // relative paths resolve against it
  std::string name;
  std::vector<InputSpec> inputs;
  Params params;
  std::vector<std::string> param_files;  // `include` files, absolute
  std::string prepare;                   // may be empty
  SequenceSpec sequence;
  std::optional<TransformSpec> transform;         // one transform for every kind
  std::map<std::string, TransformSpec> transforms;  // per kind
  std::map<std::string, Params> overrides;        // key: n as text
  std::vector<AfterSpec> after;                   // dependencies (src/deps.h)
  OutputSpec output;
  RunSpec run;
  CacheSpec cache;
};

// Checks a JobSpec built in code (or changed after loading) as a job file is
// checked: names (plain identifiers, not differing only in case), the
// sequence, transforms, output.dir and output.name ({n}), formats and modes,
// run's bounds, the cache outside the output. kInvalid naming the field;
// RunJob, ValidateJob and PlanJob call it first. (A job file's inputs and SQL
// files must exist when it is loaded; for a spec built in code the engine
// reports a missing one when it loads it.)
Status Validate(const JobSpec& spec);

// Parses and validates a job file. Errors name file:line:column and say what
// to do. `sets` are `key=value` params from the command line (--set).
Result<JobSpec> LoadJobSpec(const std::string& path, const std::vector<std::string>& sets = {});
// The same from YAML text; `path` is used for messages and relative paths.
Result<JobSpec> ParseJobSpec(const std::string& yaml_text, const std::string& path,
                             const std::vector<std::string>& sets = {});

}  // namespace fanout
