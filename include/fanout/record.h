// record: fanout's two file formats, as typed records. Only record.cc reads
// or writes their JSON.
//
//   Marker    OUT/<target>/_SUCCESS: one committed output (its files, sizes
//             and xxh3 checksums) and how it was made (run id, n, kind,
//             fingerprint and its parts, params, timings). Written by the
//             commit, read to tell fanout's outputs from others' and to
//             decide what --resume and skip_existing skip.
//   Manifest  OUT/_fanout/runs/<run-id>.json: one run and every iteration of
//             it (status, rows, bytes, attempts, times, error). Written at the
//             start, while the run goes ("running") and at the end; read by
//             `fanout status` and for the longest-first order.
//
// Both files carry "format": 1 (and, as before, "fanout_version": 1). A file
// without "format" (written before the key existed) is format 1; a file of a
// greater format is refused with an error saying to upgrade fanout. FromJson
// never throws: text that is not JSON, or JSON of other types or shapes, is
// an Invalid status saying what is wrong.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fanout/fanout.h"
#include "fanout/status.h"
#include "fanout/value.h"

namespace fanout {

// The format this fanout writes and the greatest it reads.
inline constexpr int kRecordFormat = 1;

// The "format" a record's JSON text declares: 1 when it has none, 0 when the
// text is not a JSON object or its format is not a positive integer.
int RecordFormatOf(std::string_view text);

// One part file of an output, as _SUCCESS lists it.
struct MarkerFile {
  std::string name;  // part-00000.parquet
  int64_t bytes = 0;
  std::string xxh3;  // 32 hex digits
  // On an object store (S3): the object's full key (attempt-unique, not
  // derived from `name`) and its ETag. Empty on a filesystem.
  std::string key;
  std::string etag;
  bool operator==(const MarkerFile&) const = default;
};

// What the fingerprint is made of: one hash each. "" when the marker has none.
struct FingerprintParts {
  std::string sql, params, inputs, output, settings;
  bool operator==(const FingerprintParts&) const = default;
};

// An iteration's _SUCCESS. A marker of fanout's has at least a run id, a
// fingerprint and one file (FromJson refuses any other, as not fanout's); the
// other fields are read when present.
struct Marker {
  Value n;
  std::string run_id;
  std::string kind;
  int64_t rows = 0;
  int attempt = 0;
  std::string started_at;    // UTC, e.g. 2026-11-23T05:49:17.123Z
  std::string committed_at;  // UTC
  double seconds = 0;        // from the attempt's start to its commit
  std::string fingerprint;
  FingerprintParts fingerprint_parts;
  Params params;
  std::string engine;  // "duckdb v1.4.4"
  int64_t bytes = 0;   // the files' total
  std::vector<MarkerFile> files;

  std::string ToJson() const;
  static Result<Marker> FromJson(std::string_view text);
  bool operator==(const Marker&) const = default;
};

// A manifest's "counts". `pending` is written while the run goes.
struct ManifestCounts {
  int64_t total = 0, committed = 0, failed = 0, skipped = 0, cancelled = 0;
  std::optional<int64_t> pending;
  bool operator==(const ManifestCounts&) const = default;
};

// One output checked by `fanout status --json --verify`.
struct ManifestCheck {
  std::string target;
  std::string status;  // ok | mismatch | ignored
  std::string problem;
  bool operator==(const ManifestCheck&) const = default;
};

// A shard's part of a run (fanout run --shard K/N): its manifest is
// <run-id>.shard-K-of-N.json beside the run manifests (not a run of its own:
// ListRuns leaves it out); `fanout collect` merges the N into <run-id>.json.
struct ManifestShard {
  int index = 0;      // K, 1..count
  int count = 0;      // N
  int64_t total = 0;  // iterations the whole run planned (every shard's)
  std::string digest;  // of the plan and who runs which: equal in every shard of a run
  std::string host;
  bool operator==(const ManifestShard&) const = default;
};
std::string ShardManifestName(const std::string& run_id, int shard, int shards);

// A run manifest. Each iteration is an IterationReport: its times are the
// unix seconds "start_unix"/"end_unix" (the UTC "started_at"/"finished_at"
// and "seconds" of an entry are written from them). An iteration that ran has
// "trace": one object per attempt (AttemptTrace; its times unix seconds).
// Manifests written before the trace have none: readers get an empty one.
struct Manifest {
  std::string run_id;
  std::string job;
  std::string out_dir;
  std::string started_at;   // UTC
  std::string finished_at;  // UTC; "" (null) while running
  double seconds = 0;       // so far, while running
  // running | succeeded | failed | invalid | interrupted (`fanout status`
  // shows a running one whose process is gone as killed).
  std::string status;
  std::optional<int> exit_code;  // null while running
  std::string updated_at;        // while running: when this was written ("": not written)
  int64_t pid = 0;               // while running: the process (0: not written)
  std::string error;             // why the run did not run ("": none)
  int max_workers = 0;           // 0: not written
  int threads = 0;               // 0: not written
  std::string memory_limit;      // run.memory_limit ("": not written)
  std::string host;              // "": not written
  std::string release;           // fanout's version, e.g. "0.1.0" ("": not written)
  ManifestCounts counts;
  std::optional<ManifestShard> shard;  // a shard's manifest
  std::vector<IterationReport> iterations;
  // Only in what `fanout status --json` prints, never in a file it writes:
  std::string note;                                  // why the run shows killed ("": none)
  std::optional<std::vector<ManifestCheck>> verify;  // with --verify

  // As RunReport counts them; `pending` only when `with_pending`.
  static ManifestCounts CountsOf(const std::vector<IterationReport>& iterations, bool with_pending);

  // The iterations are serialised one at a time: a large run's manifest never
  // exists as one JSON tree.
  std::string ToJson() const;
  static Result<Manifest> FromJson(std::string_view text);
  bool operator==(const Manifest&) const = default;
};

// One iteration's entry as a manifest holds it (with its trace), and back:
// what the MPI backend's ranks send their coordinator.
std::string IterationToJson(const IterationReport& r);
Result<IterationReport> IterationFromJson(std::string_view text);

}  // namespace fanout
