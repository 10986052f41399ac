#include "load.h"

#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "commit.h"
#include "sql_policy.h"
#include "storage.h"
#include "util.h"

namespace fanout {
namespace {

// Strict defaults per format; the input's `options` override them.
ValueMap ReaderOptions(const InputSpec& in) {
  ValueMap opts;
  if (in.format == "csv" || in.format == "tsv") {
    opts = {{"header", Value(true)}, {"delim", Value(in.format == "csv" ? "," : "\t")}, {"quote", Value("\"")},
            {"escape", Value("\"")}, {"strict_mode", Value(true)},
            // The header is the first line: the sniffer may otherwise start at
            // a later row and silently drop the header and the rows before it.
            {"skip", Value(int64_t{0})}};
  } else if (in.format == "ndjson") {
    opts = {{"format", Value("newline_delimited")}};
  }
  for (const auto& [k, v] : in.options) {
    bool replaced = false;
    for (auto& [k2, v2] : opts)
      if (k2 == k) v2 = v, replaced = true;
    if (!replaced) opts.emplace_back(k, v);
  }
  return opts;
}

const char* ReaderFunction(const std::string& format) {
  if (format == "parquet") return "read_parquet";
  if (format == "json" || format == "ndjson") return "read_json";
  return "read_csv";
}

// `head <reader>($fanout_path, k := $fanout_opt_k, ...) tail`, prepared with
// the path and every option bound: only `head` and `tail` are SQL text.
Result<std::unique_ptr<PreparedStatement>> PrepareRead(Connection& con, const InputSpec& in, const ValueMap& opts,
                                                       const std::string& head, const std::string& tail) {
  std::string sql = head + ReaderFunction(in.format) + "($fanout_path";
  for (const auto& [k, v] : opts) sql += ", " + k + " := $fanout_opt_" + k;
  auto stmt = con.Prepare(sql + ")" + tail);
  if (!stmt.ok()) return Status::Invalid(ShortenEngineError(stmt.status().message()));
  FANOUT_RETURN_IF_ERROR((*stmt)->Bind("fanout_path", Value(in.path)));
  for (const auto& [k, v] : opts) FANOUT_RETURN_IF_ERROR((*stmt)->Bind("fanout_opt_" + k, v));
  return stmt;
}

// DuckDB's CSV sniffer reports a row with the wrong number of fields as "not
// possible to automatically detect the CSV parsing dialect", naming no line.
// Reading again with store_rejects finds the first bad line: "line 3: Expected
// Number of Columns: 2 Found: 3: 3,4,5", or "" when it finds none.
std::string FirstRejectedCsvLine(Connection& con, const InputSpec& in, ValueMap opts) {
  opts.emplace_back("store_rejects", Value(true));
  auto stmt = PrepareRead(con, in, opts, "SELECT count(*) FROM ", "");
  if (!stmt.ok() || !(*stmt)->Execute().ok()) return "";
  auto rejects = con.Query("SELECT line, error_message, csv_line FROM reject_errors ORDER BY line LIMIT 1");
  (void)con.Execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans");
  if (!rejects.ok() || rejects->rows.empty()) return "";
  const std::vector<Value>& row = rejects->rows[0];
  return "line " + row[0].ToString() + ": " + row[1].ToString() + ": " + row[2].ToString();
}

}  // namespace

std::string ShortenEngineError(const std::string& message, int max_lines) {
  std::istringstream in(message);
  std::string line, out;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.rfind("Possible fixes", 0) == 0 || line.rfind("* ", 0) == 0) continue;
    if (n++ == max_lines) {
      out += "\n...";
      break;
    }
    out += (out.empty() ? "" : "\n") + line;
  }
  return out;
}

namespace {

// An input's rows, when they are in memory, live in schema fanout_inputs
// (LoadInputs creates it); the job always sees a read-only view of them, or
// of its cache file, under the input's name.
std::string InputTable(const std::string& name) { return "fanout_inputs." + QuoteIdentifier(name); }

Status CreateInputView(Connection& con, const std::string& name, const std::string& from) {
  return con.Execute("CREATE VIEW " + QuoteIdentifier(name) + " AS SELECT * FROM " + from);
}

// Parses one input with its reader. Only the table name is SQL text (a
// validated identifier, quoted); the path and every option are bound.
Status ParseInput(Connection& con, const InputSpec& in, bool schema_only) {
  ValueMap opts = ReaderOptions(in);
  std::string where = "input '" + in.name + "' (" + in.path + ")";
  auto stmt = PrepareRead(con, in, opts, "CREATE TABLE " + InputTable(in.name) + " AS SELECT * FROM ",
                          schema_only ? " LIMIT 0" : "");
  if (!stmt.ok()) return stmt.status().WithPrefix("cannot load " + where);
  auto r = (*stmt)->Execute();
  if (r.ok()) return CreateInputView(con, in.name, InputTable(in.name));
  if (r.status().code() == Status::Code::kInterrupted) return r.status();
  std::string why = in.format == "csv" || in.format == "tsv" ? FirstRejectedCsvLine(con, in, opts) : "";
  if (why.empty()) why = ShortenEngineError(r.status().message());
  return Status::Invalid("cannot load " + where + ": " + why + "\nfix the file, or relax the reader with inputs." +
                         in.name + ".options");
}

Result<int64_t> CountRows(Connection& con, const std::string& table) {
  auto t = con.Query("SELECT count(*) FROM " + QuoteIdentifier(table));
  if (!t.ok()) return t.status();
  return std::get<int64_t>(t->rows[0][0].v);
}

// Parsed inputs kept between runs as uncompressed Parquet (measured: cheaper
// to write and faster to scan than snappy, 1.6x the bytes), with a JSON
// sidecar holding the key (input identity + engine version), the row count
// and the file's xxh3. A run that parses an input writes the file straight
// from the reader and then queries it: one pass over the CSV, no copy of the
// rows in memory (against parsing into a table and writing the cache from
// it: cold runs 3-10% faster, peak RSS about half, BENCHMARKS.md). The
// sidecar is written last, so its presence means the file is complete; the
// hash is checked before a later run trusts the file.
class InputCache {
 public:
  // Cache files up to 16 MiB and 1M rows are loaded into tables (the row
  // bound keeps a well-compressed file from becoming a large table).
  static constexpr int64_t kTableInputsUpTo = 16LL << 20;
  static constexpr int64_t kTableRowsUpTo = 1000000;

  InputCache(std::shared_ptr<Storage> storage, std::string dir, const InputSpec& in, const std::string& identity)
      : owner_(std::move(storage)),
        storage_(*owner_), dir_(std::move(dir)), in_(in) {
    key_ = HashHex(identity + "|duckdb " + Database::Version() + "|fanout-cache-v1");
    file_ = dir_ + "/" + in.name + "-" + key_ + ".parquet";
  }

  // Loads the table from the cache. Ok(false) when there is no usable entry.
  Result<bool> TryLoad(Database& db, Connection& con, LoadNotes* notes) {
    auto meta_text = storage_.ReadFile(file_ + ".json");
    if (!meta_text.ok()) return false;
    auto meta = nlohmann::json::parse(*meta_text, nullptr, false);
    std::string why = Verify(meta);
    if (why.empty()) {
      int64_t rows = meta.value("rows", int64_t{-1});
      why = Attach(db, con, rows, meta.value("bytes", int64_t{-1}));  // Verify matched the file's size
      if (why.empty()) {
        Note(notes, "input " + in_.name + ": " + std::to_string(rows) + " rows from cache");
        return true;
      }
    }
    Note(notes, "warning: ignoring input cache " + file_ + " (" + why + "); reading " + in_.path);
    return false;
  }

  // Parses the input into the cache file and makes the input a view over
  // it. Seal() then writes the sidecar, off the critical path. On failure
  // nothing is left behind (not even a cache folder this call made), and
  // the caller parses into memory instead, which reports a bad file.
  // Waits until no other process (another rank of an MPI run, another run)
  // builds this same cache file: the lock is held until Seal() or Undo().
  // Not locked (and not waiting) when the lock file cannot be made: Build
  // then fails the same way and the input is parsed in place.
  void LockBuild() {
    had_dir_ = storage_.Exists(dir_);
    dir_checked_ = true;
    if (!storage_.CreateDirs(dir_).ok()) return;
    const std::string holder = "fanout pid " + std::to_string(getpid()) + " on " + HostName();
    for (;;) {
      auto lock = storage_.Lock(file_ + ".lock", holder);
      if (lock.ok()) {
        lock_ = std::move(lock).value();
        locked_ = true;
        return;
      }
      if (lock.status().code() != Status::Code::kBusy) return;
      // This process holds it (a load not sealed yet, e.g. Job::Load):
      // waiting would never end; build as before the lock existed.
      auto current = storage_.ReadFile(file_ + ".lock");
      if (current.ok() && *current == holder) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  Status Build(Database& db, Connection& con) {
    if (!dir_checked_) had_dir_ = storage_.Exists(dir_);
    std::string tmp = file_ + ".tmp-" + std::to_string(getpid());
    Status st = storage_.CreateDirs(dir_);
    if (st.ok()) {
      auto stmt = PrepareRead(con, in_, ReaderOptions(in_), "COPY (SELECT * FROM ",
                              ") TO $fanout_cache_path (FORMAT parquet, COMPRESSION uncompressed)");
      st = stmt.ok() ? (*stmt)->Bind("fanout_cache_path", Value(tmp)) : stmt.status();
      auto copied = st.ok() ? (*stmt)->Execute() : Result<Table>(st);
      if (copied.ok()) rows_ = std::get<int64_t>(copied->rows[0][0].v);
      st = copied.status();
    }
    // Renamed before it is sealed: a run that dies now leaves a file with no
    // sidecar, which no later run trusts (it parses again and replaces it).
    if (st.ok()) st = storage_.Rename(tmp, file_, /*replace=*/true);
    if (!st.ok()) {
      (void)storage_.RemoveAll(tmp);
      DropLock();
      RemoveDirIfNew();
      return st;
    }
    auto info = storage_.Stat(file_);
    std::string why = info.ok() ? Attach(db, con, rows_, info->size) : info.status().message();
    return why.empty() ? Status::Ok() : Status::Io(file_ + ": " + why);
  }

  // Writes the sidecar of a Build() entry: key, rows, size and xxh3 of the
  // file (best effort: a warning).
  void Seal(std::vector<std::string>* notes) {
    RemoveOtherVersions();
    auto hash = storage_.HashFile(file_);
    auto info = hash.ok() ? storage_.Stat(file_) : Result<FileInfo>(hash.status());
    Status st = info.status();
    if (info.ok()) {
      nlohmann::ordered_json meta = {{"key", key_}, {"input", in_.path}, {"rows", rows_}, {"bytes", info->size}, {"xxh3", *hash}};
      st = WriteFileAtomic(storage_, file_ + ".json", meta.dump(2) + "\n");
    }
    if (!st.ok()) Note(notes, "warning: could not write input cache for " + in_.name + ": " + st.message());
    lock_.reset();
  }

  // Removes what Build() wrote, when the job is refused after loading: a
  // refused job leaves nothing behind.
  void Undo() {
    (void)storage_.RemoveAll(file_ + ".json");  // sealed already on a cluster (runner.cc)
    (void)storage_.RemoveAll(file_);
    DropLock();
    RemoveDirIfNew();
  }

 private:
  // The build's lock file goes with what it guarded (a failed or undone
  // build), then the lock.
  void DropLock() {
    if (locked_) (void)storage_.RemoveAll(file_ + ".lock");
    lock_.reset();
  }

  void RemoveDirIfNew() {
    auto left = storage_.List(dir_);
    if (!had_dir_ && left.ok() && left->empty()) (void)storage_.RemoveAll(dir_);
  }

  // The input becomes a read-only view over the cache file, whose path is a
  // session variable (never SQL text), or, for a small file, over a table
  // loaded from it: the engine keeps full statistics (distinct counts) for
  // its own tables and plans joins with them better (measured: agg over
  // 16 iterations 1.11 s with every input a Parquet view, 0.81 s with the
  // two small ones in tables), at a cost in memory only small files can
  // afford. `bytes`: the file's size. "" when it holds `rows` rows.
  std::string Attach(Database& db, Connection& con, int64_t rows, int64_t bytes) {
    std::string variable = "fanout_cache_" + in_.name;
    std::string scan = "read_parquet(getvariable('" + variable + "'))";
    Status st = db.SetSessionVariable(con, variable, Value(file_));
    if (st.ok() && bytes <= kTableInputsUpTo && rows <= kTableRowsUpTo) {
      st = con.Execute("CREATE TABLE " + InputTable(in_.name) + " AS SELECT * FROM " + scan);
      scan = InputTable(in_.name);
    }
    if (st.ok()) st = CreateInputView(con, in_.name, scan);
    auto count = st.ok() ? CountRows(con, in_.name) : Result<int64_t>(st);
    if (count.ok() && *count == rows) return "";
    (void)con.Execute("DROP VIEW IF EXISTS " + QuoteIdentifier(in_.name));
    (void)con.Execute("DROP TABLE IF EXISTS " + InputTable(in_.name));
    return count.ok() ? "row count differs" : count.status().message();
  }

  std::string Verify(const nlohmann::json& meta) {
    if (meta.is_discarded() || !meta.is_object()) return "unreadable sidecar";
    if (meta.value("key", "") != key_) return "written for another input";
    auto info = storage_.Stat(file_);
    if (!info.ok()) return "data file missing";
    if (info->size != meta.value("bytes", int64_t{-1})) return "size differs";
    auto hash = storage_.HashFile(file_);
    if (!hash.ok() || *hash != meta.value("xxh3", "")) return "checksum differs";
    return "";
  }

  // Entries of this input for other identities are out of date: keep the two
  // newest (a concurrent run may still scan one), remove older ones and the
  // temp files of writers that died.
  void RemoveOtherVersions() {
    auto entries = storage_.List(dir_);
    if (!entries.ok()) return;
    std::string prefix = in_.name + "-";
    std::vector<FileInfo> others;
    for (const FileInfo& f : *entries) {
      if (f.is_dir || f.name.rfind(prefix, 0) != 0) continue;
      std::string rest = f.name.substr(prefix.size());
      // Only names this cache writes: <input>-<32 hex>.parquet[.tmp-<pid>].
      if (rest.size() < 40 || rest.find_first_not_of("0123456789abcdef") != 32 ||
          rest.compare(32, 8, ".parquet") != 0)
        continue;
      std::string tail = rest.substr(40);
      if (tail.empty()) {
        if (rest.compare(0, 32, key_) != 0) others.push_back(f);
      } else if (tail.rfind(".tmp-", 0) == 0 && tail.size() > 5 &&
                 tail.find_first_not_of("0123456789", 5) == std::string::npos) {
        if (kill(std::atoi(tail.c_str() + 5), 0) != 0) (void)storage_.RemoveAll(dir_ + "/" + f.name);
      }
    }
    std::sort(others.begin(), others.end(), [](const FileInfo& a, const FileInfo& b) { return a.mtime_ns > b.mtime_ns; });
    for (size_t i = 2; i < others.size(); ++i) {
      (void)storage_.RemoveAll(dir_ + "/" + others[i].name + ".json");  // the sidecar first: no entry without data
      (void)storage_.RemoveAll(dir_ + "/" + others[i].name);
      (void)storage_.RemoveAll(dir_ + "/" + others[i].name + ".lock");
    }
  }

  static void Note(LoadNotes* notes, const std::string& line) { Note(notes ? &notes->lines : nullptr, line); }
  static void Note(std::vector<std::string>* lines, const std::string& line) {
    if (lines) lines->push_back(line);
  }

  std::shared_ptr<Storage> owner_;
  Storage& storage_;
  std::string dir_;
  const InputSpec in_;  // a copy: the seal runs after the spec it came from may be gone
  std::string key_, file_;
  int64_t rows_ = -1;
  bool had_dir_ = true;  // the cache folder existed before Build()
  bool dir_checked_ = false;
  std::unique_ptr<StorageLock> lock_;  // LockBuild() to Seal() or Undo()
  bool locked_ = false;                // LockBuild() made the lock file
};

}  // namespace

Status LoadInputs(const std::shared_ptr<Storage>& storage, Database& db, Connection& con, const JobSpec& spec,
                  bool schema_only, const std::vector<std::string>& identities, LoadNotes* notes) {
  FANOUT_RETURN_IF_ERROR(con.Execute("CREATE SCHEMA IF NOT EXISTS fanout_inputs"));
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    const InputSpec& in = spec.inputs[i];
    bool cacheable = spec.cache.enabled && !schema_only && in.format != "parquet" && i < identities.size();
    if (!cacheable) {
      FANOUT_RETURN_IF_ERROR(ParseInput(con, in, schema_only));
      continue;
    }
    auto cache = std::make_shared<InputCache>(storage, spec.cache.dir, in, identities[i]);
    auto hit = cache->TryLoad(db, con, notes);
    if (hit.ok() && *hit) continue;
    cache->LockBuild();
    hit = cache->TryLoad(db, con, nullptr);  // built by whoever held the lock
    if (hit.ok() && *hit) {
      if (notes) notes->lines.push_back("input " + in.name + ": from cache (built by another process meanwhile)");
      continue;
    }
    Status built = cache->Build(db, con);
    if (built.code() == Status::Code::kInterrupted) return built;
    if (built.ok()) {
      auto seal = [cache](std::vector<std::string>* lines) { cache->Seal(lines); };
      if (notes) {
        notes->cache_seals.push_back(seal);
        notes->cache_undos.push_back([cache] { cache->Undo(); });
      } else {
        seal(nullptr);
      }
      continue;
    }
    FANOUT_RETURN_IF_ERROR(ParseInput(con, in, schema_only));
    if (notes) notes->lines.push_back("warning: could not write input cache for " + in.name + ": " + built.message());
  }
  return Status::Ok();
}

Status RunPrepare(Connection& con, const JobSpec& spec, bool dry) {
  if (spec.prepare.empty()) return Status::Ok();
  std::set<std::string> inputs;
  for (const InputSpec& in : spec.inputs) inputs.insert(in.name);
  SqlPolicy policy(SqlPolicy::Scope::kPrepare, inputs);
  int number = 0;
  for (const std::string& sql : SplitStatements(spec.prepare)) {
    ++number;
    auto stmt = con.Prepare(sql);
    Status refused = stmt.ok() ? Status::Ok() : policy.CheckUnprepared(sql);
    auto checked = stmt.ok() ? policy.Check(sql, (*stmt)->kind()) : Result<DryStatement>(refused.ok() ? stmt.status() : refused);
    if (!checked.ok() && checked.status().code() == Status::Code::kInvalid)
      return Status::Invalid("prepare: statement " + std::to_string(number) + " " + checked.status().message());
    Status st = checked.status();
    if (st.ok() && dry && !checked->execute.empty()) {  // its dry form: nothing is read
      stmt = con.Prepare(checked->execute);
      st = stmt.status();
    }
    if (st.ok()) st = (*stmt)->BindAll(spec.params);
    if (st.ok() && (!dry || !checked->execute.empty())) st = (*stmt)->Execute().status();
    if (st.code() == Status::Code::kInterrupted) return st;
    if (!st.ok())
      return Status::Invalid("prepare failed: " + ShortenEngineError(st.message()) + "\nin statement: " + sql);
  }
  return Status::Ok();
}

std::string S3InputIdentity(const InputSpec& input, const std::string& etag, int64_t size) {
  nlohmann::ordered_json j;
  j["name"] = input.name;
  j["url"] = input.path;
  j["format"] = input.format;
  j["options"] = nlohmann::json::parse(Value(ReaderOptions(input)).ToJson());
  j["size"] = size;
  j["etag"] = etag;
  return j.dump();
}

Result<std::string> InputIdentity(Storage& storage, const InputSpec& input, int64_t hash_limit) {
  auto st = storage.StatFollow(input.path);
  if (!st.ok()) return Status::Invalid("input '" + input.name + "' is gone: " + input.path);
  nlohmann::ordered_json j;
  j["name"] = input.name;
  j["path"] = input.path;
  j["format"] = input.format;
  j["options"] = nlohmann::json::parse(Value(ReaderOptions(input)).ToJson());  // effective options
  j["size"] = st->size;
  j["mtime_ns"] = st->mtime_ns;
  if (st->size <= hash_limit) {
    auto h = storage.HashFile(input.path);
    if (!h.ok()) return h.status();
    j["xxh3"] = *h;
  }
  return j.dump();
}

}  // namespace fanout
