// load: the job's inputs -> shared tables, loaded once; then `prepare` once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine.h"
#include "fanout/job_spec.h"
#include "storage.h"

namespace fanout {

// What loading did, for the progress display.
struct LoadNotes {
  std::vector<std::string> lines;  // "input t: 2000000 rows from cache", warnings
  // Sidecars still to write for cache files this run built (each hashes its
  // file): they may run on any thread while the iterations run (warnings go
  // to `notes`).
  std::vector<std::function<void(std::vector<std::string>* notes)>> cache_seals;
  // Remove the cache files this load wrote (the job was refused after it).
  std::vector<std::function<void()>> cache_undos;
};

// Loads every input under its name. schema_only loads no rows (validate).
// `identities[i]` is InputIdentity of spec.inputs[i]. With the cache enabled,
// a CSV/TSV/JSON input becomes a view over its Parquet cache file (queries
// scan it, with filter pushdown; its path is a session variable set on every
// connection, so no SQL holds it as text): a verified file from an earlier
// run, or one this run writes straight from the reader. A corrupt or foreign
// cache file is ignored with a warning; a cache that cannot be written is a
// warning, and the input is parsed into a table. Errors name the input, its
// file and DuckDB's reason.
// Every file call of the cache goes through `storage`.
Status LoadInputs(const std::shared_ptr<Storage>& storage, Database& db, Connection& con, const JobSpec& spec,
                  bool schema_only, const std::vector<std::string>& identities, LoadNotes* notes);

// Runs the job's `prepare` SQL (every statement, params bound), each checked
// first against SqlPolicy (kPrepare). `dry` (validate, plan): statements run
// in their dry form only — tables are created empty, nothing is read.
Status RunPrepare(Connection& con, const JobSpec& spec, bool dry);

// Identity of an input file for fingerprints: path, size, mtime and, for files
// up to `hash_limit` bytes, an xxh3 of the content. Stable JSON text.
Result<std::string> InputIdentity(Storage& storage, const InputSpec& input, int64_t hash_limit);

// Identity of an input on S3 (input.path its s3:// URL): URL, format, reader
// options, ETag and size. Stable JSON text.
std::string S3InputIdentity(const InputSpec& input, const std::string& etag, int64_t size);

// DuckDB's messages can run to many lines of hints: keeps the first lines.
std::string ShortenEngineError(const std::string& message, int max_lines = 6);

}  // namespace fanout
