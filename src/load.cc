#include "load.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "storage.h"
#include "util.h"

namespace fanout {
namespace {

// Strict defaults per format; the input's `options` override them.
ValueMap ReaderOptions(const InputSpec& in) {
  ValueMap opts;
  if (in.format == "csv" || in.format == "tsv") {
    opts = {{"header", Value(true)}, {"delim", Value(in.format == "csv" ? "," : "\t")}, {"strict_mode", Value(true)}};
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

Status LoadInputs(Connection& con, const JobSpec& spec, bool schema_only) {
  for (const InputSpec& in : spec.inputs) {
    // Only the table name is SQL text (a validated identifier, quoted).
    ValueMap opts = ReaderOptions(in);
    std::string where = "input '" + in.name + "' (" + in.path + ")";
    auto stmt = PrepareRead(con, in, opts, "CREATE TABLE " + QuoteIdentifier(in.name) + " AS SELECT * FROM ",
                            schema_only ? " LIMIT 0" : "");
    if (!stmt.ok()) return stmt.status().WithPrefix("cannot load " + where);
    auto r = (*stmt)->Execute();
    if (!r.ok()) {
      std::string why = in.format == "csv" || in.format == "tsv" ? FirstRejectedCsvLine(con, in, opts) : "";
      if (why.empty()) why = ShortenEngineError(r.status().message());
      return Status::Invalid("cannot load " + where + ": " + why + "\nfix the file, or relax the reader with inputs." +
                             in.name + ".options");
    }
  }
  return Status::Ok();
}

Status RunPrepare(Connection& con, const JobSpec& spec) {
  if (spec.prepare.empty()) return Status::Ok();
  for (const std::string& sql : SplitStatements(spec.prepare)) {
    auto stmt = con.Prepare(sql);
    Status st = stmt.ok() ? (*stmt)->BindAll(spec.params) : stmt.status();
    if (st.ok()) st = (*stmt)->Execute().status();
    if (!st.ok())
      return Status::Invalid("prepare failed: " + ShortenEngineError(st.message()) + "\nin statement: " + sql);
  }
  return Status::Ok();
}

Result<std::string> InputIdentity(const InputSpec& input, int64_t hash_limit) {
  struct stat st;
  if (::stat(input.path.c_str(), &st) != 0)
    return Status::Invalid("input '" + input.name + "' is gone: " + input.path);
  nlohmann::ordered_json j;
  j["name"] = input.name;
  j["path"] = input.path;
  j["format"] = input.format;
  j["options"] = nlohmann::json::parse(Value(input.options).ToJson());
  j["size"] = static_cast<int64_t>(st.st_size);
  j["mtime_ns"] = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (st.st_size <= hash_limit) {
    auto h = NewPosixStorage()->HashFile(input.path);
    if (!h.ok()) return h.status();
    j["xxh3"] = *h;
  }
  return j.dump();
}

}  // namespace fanout
