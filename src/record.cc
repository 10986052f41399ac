// record: the JSON of _SUCCESS and of the run manifest (see record.h). The
// only module that reads or writes either; nlohmann/json stays in here.
#include "fanout/record.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "json_value.h"
#include "util.h"

namespace fanout {
namespace {

using Json = nlohmann::ordered_json;  // keeps the order of keys, in params too

// Invalid UTF-8 (an engine message quoting a Latin-1 file, say) is written
// as U+FFFD rather than failing the write.
std::string Dump(const Json& j, int indent) {
  return j.dump(indent, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

Json StringOrNull(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

std::string TypeName(const Json& j) {
  if (j.is_null()) return "null";
  if (j.is_boolean()) return "a boolean";
  if (j.is_number_integer()) return "an integer";
  if (j.is_number()) return "a number";
  if (j.is_string()) return "a string";
  if (j.is_array()) return "an array";
  return "an object";
}

// The text parsed; never throws. `what` names the file in messages.
Result<Json> Parse(std::string_view text, const std::string& what) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    std::string detail = e.what();
    auto end = detail.find("] ");  // "[json.exception.parse_error.101] parse error at ..."
    if (end != std::string::npos) detail = detail.substr(end + 2);
    return Status::Invalid(what + " is not valid JSON (torn or not fanout's): " + detail);
  }
}

// 1 without "format", 0 when it is not a positive integer.
int FormatOfObject(const Json& j) {
  auto f = j.find("format");
  if (f == j.end()) return 1;
  if (!f->is_number_integer() || f->get<int64_t>() < 1 || f->get<int64_t>() > std::numeric_limits<int>::max()) return 0;
  return static_cast<int>(f->get<int64_t>());
}

// The document's top-level object, of a format this fanout reads.
Result<Json> ParseRecord(std::string_view text, const std::string& what) {
  auto j = Parse(text, what);
  if (!j.ok()) return j.status();
  if (!j->is_object()) return Status::Invalid(what + " is " + TypeName(*j) + ", not a JSON object (not fanout's)");
  int format = FormatOfObject(*j);
  if (format == 0)
    return Status::Invalid(what + ": \"format\" is " + Dump((*j)["format"], -1) +
                           ", not a positive integer (not fanout's)");
  if (format > kRecordFormat)
    return Status::Invalid(what + " was written by a newer fanout (format " + std::to_string(format) +
                           "; this one reads format " + std::to_string(kRecordFormat) + "): upgrade fanout to read it");
  return j;
}

// Deeper than any param fanout writes: refused before the stack runs out.
constexpr int kMaxValueDepth = 200;

Result<Value> ValueOf(const Json& j, const std::string& where, int depth = 0) {
  if (depth > kMaxValueDepth)
    return Status::Invalid(where + " is nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
  if (j.is_null()) return Value();
  if (j.is_boolean()) return Value(j.get<bool>());
  if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return Status::Invalid(where + " is an integer beyond 64 bits");
  if (j.is_number_integer()) return Value(j.get<int64_t>());
  if (j.is_number()) return Value(j.get<double>());
  if (j.is_string()) return Value(j.get<std::string>());
  if (j.is_array()) {
    ValueList list;
    for (size_t i = 0; i < j.size(); ++i) {
      auto v = ValueOf(j[i], where + "[" + std::to_string(i) + "]", depth + 1);
      if (!v.ok()) return v.status();
      list.push_back(std::move(v).value());
    }
    return Value(std::move(list));
  }
  ValueMap map;
  for (const auto& [k, e] : j.items()) {
    auto v = ValueOf(e, where + "." + k, depth + 1);
    if (!v.ok()) return v.status();
    map.emplace_back(k, std::move(v).value());
  }
  return Value(std::move(map));
}

// Reads the keys of one JSON object into typed fields, keeping the first
// problem. A key that is absent leaves its field as it was, unless required.
class Fields {
 public:
  // `what`: the file ("_SUCCESS"); `where`: the object in it ("iterations[2]").
  Fields(const Json& j, std::string what, std::string where) : j_(j), what_(std::move(what)), where_(std::move(where)) {
    if (!j_.is_object()) Fail(where_.empty() ? what_ : where_, "is " + TypeName(j_) + ", not an object");
  }

  // The value at `key`, or null when absent (or already failed).
  const Json* Find(const char* key, bool required) {
    if (!status_.ok()) return nullptr;
    auto it = j_.find(key);
    if (it != j_.end()) return &*it;
    if (required) Fail(Name(key), "is missing");
    return nullptr;
  }
  void String(const char* key, std::string* out, bool required = false) {
    const Json* v = Find(key, required);
    if (v && Is(key, *v, v->is_string(), "a string")) *out = v->get<std::string>();
  }
  void StringOrNull(const char* key, std::string* out) {
    const Json* v = Find(key, false);
    if (v && !v->is_null() && Is(key, *v, v->is_string(), "a string or null")) *out = v->get<std::string>();
  }
  void Int(const char* key, int64_t* out, bool required = false, int64_t min = std::numeric_limits<int64_t>::min()) {
    const Json* v = Find(key, required);
    if (!v || !Is(key, *v, v->is_number_integer(), "an integer")) return;
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return Fail(Name(key), "is beyond 64 bits");
    if (v->get<int64_t>() < min) return Fail(Name(key), "is " + v->dump() + ", less than " + std::to_string(min));
    *out = v->get<int64_t>();
  }
  void Int(const char* key, int* out) {
    int64_t wide = *out;
    Int(key, &wide);
    if (!status_.ok()) return;
    if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max())
      return Fail(Name(key), "is " + std::to_string(wide) + ", beyond 32 bits");
    *out = static_cast<int>(wide);
  }
  void Number(const char* key, double* out) {
    const Json* v = Find(key, false);
    if (v && Is(key, *v, v->is_number(), "a number")) *out = v->get<double>();
  }
  void Any(const char* key, Value* out, bool required = false) {
    const Json* v = Find(key, required);
    if (!v) return;
    auto value = ValueOf(*v, Name(key));
    if (value.ok())
      *out = std::move(value).value();
    else
      Fail(value.status().message(), "");
  }
  // The array at `key`, or null (absent, not an array: failed).
  const Json* Array(const char* key, bool required) {
    const Json* v = Find(key, required);
    return v && Is(key, *v, v->is_array(), "an array") ? v : nullptr;
  }
  const Json* Object(const char* key, bool required) {
    const Json* v = Find(key, required);
    return v && Is(key, *v, v->is_object(), "an object") ? v : nullptr;
  }
  std::string Name(const std::string& key) const { return where_.empty() ? key : where_ + "." + key; }
  void Fail(const std::string& name, const std::string& problem) {
    if (status_.ok()) status_ = Status::Invalid(what_ + ": " + name + (problem.empty() ? "" : " " + problem));
  }
  // Keeps the first problem of a nested object's fields.
  void Take(const Fields& nested) {
    if (status_.ok()) status_ = nested.status_;
  }
  const Status& status() const { return status_; }

 private:
  bool Is(const char* key, const Json& v, bool ok, const char* expected) {
    if (!ok) Fail(Name(key), "is " + TypeName(v) + ", not " + expected);
    return ok;
  }
  const Json& j_;
  std::string what_, where_;
  Status status_;
};

// ----- Marker -----------------------------------------------------------------

constexpr char kMarkerWhat[] = "_SUCCESS";

Json MarkerJson(const Marker& m) {
  Json j;
  j["format"] = kRecordFormat;
  j["fanout_version"] = 1;
  j["run_id"] = m.run_id;
  j["n"] = ToJsonValue(m.n);
  j["kind"] = m.kind;
  j["rows"] = m.rows;
  j["attempt"] = m.attempt;
  j["started_at"] = m.started_at;
  j["committed_at"] = m.committed_at;
  j["seconds"] = m.seconds;
  j["fingerprint"] = m.fingerprint;
  const FingerprintParts& p = m.fingerprint_parts;
  j["fingerprint_parts"] = {
      {"sql", p.sql}, {"params", p.params}, {"inputs", p.inputs}, {"output", p.output}, {"settings", p.settings}};
  Json params = Json::object();
  for (const auto& [name, value] : m.params) params[name] = ToJsonValue(value);
  j["params"] = std::move(params);
  j["engine"] = m.engine;
  j["bytes"] = m.bytes;
  Json files = Json::array();
  for (const MarkerFile& f : m.files) {
    Json file = {{"name", f.name}, {"bytes", f.bytes}, {"xxh3", f.xxh3}};
    if (!f.key.empty()) file["key"] = f.key;  // an object store's file: its key and ETag
    if (!f.etag.empty()) file["etag"] = f.etag;
    files.push_back(std::move(file));
  }
  j["files"] = std::move(files);
  return j;
}

// The part files: at least one (fanout never writes none), each a plain
// file name other than _SUCCESS.
void ReadMarkerFiles(Fields& f, std::vector<MarkerFile>* out) {
  const Json* files = f.Array("files", true);
  if (!files) return;
  if (files->empty()) return f.Fail("files", "is empty: fanout's marker lists at least one file");
  for (size_t i = 0; i < files->size() && f.status().ok(); ++i) {
    Fields e((*files)[i], kMarkerWhat, "files[" + std::to_string(i) + "]");
    MarkerFile file;
    e.String("name", &file.name, true);
    e.Int("bytes", &file.bytes, true, 0);
    e.String("xxh3", &file.xxh3, true);
    e.String("key", &file.key);
    e.String("etag", &file.etag);
    if (e.status().ok() && (!IsSafePathComponent(file.name) || file.name == "_SUCCESS"))
      e.Fail(e.Name("name"), "\"" + file.name + "\" is not a part file's name");
    if (!e.status().ok()) return f.Take(e);
    out->push_back(std::move(file));
  }
}

void ReadMarkerParams(Fields& f, Params* out) {
  const Json* params = f.Object("params", false);
  if (!params) return;
  for (const auto& [name, json] : params->items()) {
    auto v = ValueOf(json, "params." + name);
    if (!v.ok()) return f.Fail(v.status().message(), "");
    (*out)[name] = std::move(v).value();
  }
}

void ReadFingerprintParts(Fields& f, FingerprintParts* out) {
  const Json* parts = f.Object("fingerprint_parts", false);
  if (!parts) return;
  Fields p(*parts, kMarkerWhat, "fingerprint_parts");
  p.String("sql", &out->sql);
  p.String("params", &out->params);
  p.String("inputs", &out->inputs);
  p.String("output", &out->output);
  p.String("settings", &out->settings);
  if (!p.status().ok()) f.Take(p);
}

// ----- Manifest ---------------------------------------------------------------

constexpr char kManifestWhat[] = "run manifest";

// Unix seconds to the microsecond (the clock's useful precision).
double Micros(double t) { return std::round(t * 1e6) / 1e6; }

Json AttemptJson(const AttemptTrace& a) {
  Json t;
  t["attempt"] = a.attempt;
  t["status"] = a.status;
  t["worker"] = a.worker;
  t["queued"] = Micros(a.queued);
  t["started"] = Micros(a.started);
  t["staged"] = Micros(a.staged);
  t["engine_done"] = Micros(a.engine_done);
  t["published"] = Micros(a.published);
  t["finished"] = Micros(a.finished);
  t["rows"] = a.rows;
  t["bytes"] = a.bytes;
  t["files"] = a.files;
  t["cpu_seconds"] = Micros(a.cpu_seconds);
  if (!a.error.empty()) t["error"] = a.error;
  if (!a.retry_reason.empty()) t["retry_reason"] = a.retry_reason;
  if (!a.sql.empty()) t["sql"] = a.sql;
  if (a.fused > 0) t["fused"] = a.fused;
  return t;
}

// Keeps the first problem in `f`.
void ReadTrace(Fields& f, std::vector<AttemptTrace>* out) {
  const Json* trace = f.Array("trace", false);
  for (size_t i = 0; trace && i < trace->size() && f.status().ok(); ++i) {
    Fields e((*trace)[i], kManifestWhat, f.Name("trace[" + std::to_string(i) + "]"));
    AttemptTrace a;
    e.Int("attempt", &a.attempt);
    e.String("status", &a.status);
    e.Int("worker", &a.worker);
    for (auto [key, field] : {std::pair{"queued", &a.queued}, {"started", &a.started}, {"staged", &a.staged},
                              {"engine_done", &a.engine_done}, {"published", &a.published},
                              {"finished", &a.finished}, {"cpu_seconds", &a.cpu_seconds}})
      e.Number(key, field);
    e.Int("rows", &a.rows);
    e.Int("bytes", &a.bytes);
    e.Int("files", &a.files);
    e.String("error", &a.error);
    e.String("retry_reason", &a.retry_reason);
    e.String("sql", &a.sql);
    e.Int("fused", &a.fused);
    if (!e.status().ok()) return f.Take(e);
    out->push_back(std::move(a));
  }
}

Json IterationJson(const IterationReport& r) {
  Json e;
  e["n"] = ToJsonValue(r.n);
  e["kind"] = r.kind;
  e["target"] = r.target;
  e["status"] = ToString(r.status);
  e["rows"] = r.rows;
  e["bytes"] = r.bytes;
  e["files"] = r.files;
  e["attempts"] = r.attempts;
  e["started_at"] = r.started_at > 0 ? Json(FormatUtc(r.started_at)) : Json(nullptr);
  e["finished_at"] = r.finished_at > 0 ? Json(FormatUtc(r.finished_at)) : Json(nullptr);
  e["start_unix"] = r.started_at;
  e["end_unix"] = r.finished_at;
  e["seconds"] = r.seconds();
  e["commit_seconds"] = r.commit_seconds;
  e["error"] = StringOrNull(r.error);
  if (!r.skip_reason.empty()) e["skip_reason"] = r.skip_reason;
  if (!r.run_reason.empty()) e["run_reason"] = r.run_reason;
  e["fingerprint"] = r.fingerprint;
  if (r.shard > 0) e["shard"] = r.shard;
  if (!r.host.empty()) e["host"] = r.host;
  if (r.rank >= 0) e["rank"] = r.rank;
  if (r.s3)
    e["s3"] = {{"requests", r.s3->requests}, {"retries", r.s3->retries}, {"throttles", r.s3->throttles},
               {"bytes_sent", r.s3->bytes_sent}, {"bytes_received", r.s3->bytes_received}};
  return e;
}

// An iteration's entry, indented by 2; its trace (when it has one) one
// attempt a line: a large run's manifest stays about as long as without it.
std::string IterationText(const IterationReport& r) {
  std::string e = Dump(IterationJson(r), 2);
  if (r.trace.empty()) return e;
  e.resize(e.size() - 2);  // "\n}"
  e += ",\n  \"trace\": [";
  for (size_t i = 0; i < r.trace.size(); ++i) e += (i ? ",\n    " : "\n    ") + Dump(AttemptJson(r.trace[i]), -1);
  return e + "\n  ]\n}";
}

// Everything but the iterations, which ToJson writes one at a time.
Json ManifestHeader(const Manifest& m) {
  Json j;
  j["format"] = kRecordFormat;
  j["fanout_version"] = 1;
  j["run_id"] = m.run_id;
  j["job"] = m.job;
  j["out_dir"] = m.out_dir;
  j["started_at"] = m.started_at;
  j["finished_at"] = StringOrNull(m.finished_at);
  j["seconds"] = m.seconds;
  j["status"] = m.status;
  j["exit_code"] = m.exit_code ? Json(*m.exit_code) : Json(nullptr);
  if (!m.updated_at.empty()) j["updated_at"] = m.updated_at;
  if (m.pid != 0) j["pid"] = m.pid;
  if (!m.note.empty()) j["note"] = m.note;
  if (!m.error.empty()) j["error"] = m.error;
  if (m.max_workers > 0) j["max_workers"] = m.max_workers;
  if (m.threads > 0) j["threads"] = m.threads;
  if (!m.memory_limit.empty()) j["memory_limit"] = m.memory_limit;
  if (!m.host.empty()) j["host"] = m.host;
  if (!m.release.empty()) j["release"] = m.release;
  const ManifestCounts& c = m.counts;
  j["counts"] = {{"total", c.total},
                 {"committed", c.committed},
                 {"failed", c.failed},
                 {"skipped", c.skipped},
                 {"cancelled", c.cancelled}};
  if (c.pending) j["counts"]["pending"] = *c.pending;
  if (m.shard)
    j["shard"] = {{"index", m.shard->index}, {"count", m.shard->count}, {"total", m.shard->total},
                  {"digest", m.shard->digest}, {"host", m.shard->host}};
  if (m.verify) {
    Json a = Json::array();
    for (const ManifestCheck& v : *m.verify)
      a.push_back({{"target", v.target}, {"status", v.status}, {"problem", v.problem}});
    j["verify"] = std::move(a);
  }
  j["iterations"] = Json::array();
  return j;
}

Result<IterationStatus> IterationStatusOf(const std::string& text) {
  for (IterationStatus s : {IterationStatus::kPending, IterationStatus::kCommitted, IterationStatus::kFailed,
                            IterationStatus::kSkipped, IterationStatus::kCancelled})
    if (text == ToString(s)) return s;
  return Status::Invalid("is \"" + text + "\", not pending, committed, failed, skipped or cancelled");
}

// "s3": optional (manifests of local outputs, and older ones, have none).
void ReadS3Io(Fields& f, std::optional<S3Io>* out) {
  const Json* j = f.Object("s3", false);
  if (!j) return;
  Fields k(*j, kManifestWhat, f.Name("s3"));
  S3Io io;
  k.Int("requests", &io.requests, false, 0);
  k.Int("retries", &io.retries, false, 0);
  k.Int("throttles", &io.throttles, false, 0);
  k.Int("bytes_sent", &io.bytes_sent, false, 0);
  k.Int("bytes_received", &io.bytes_received, false, 0);
  if (!k.status().ok()) return f.Take(k);
  *out = io;
}

Result<IterationReport> ReadIteration(const Json& j, size_t index) {
  Fields f(j, kManifestWhat, "iterations[" + std::to_string(index) + "]");
  IterationReport r;
  std::string status;
  f.Any("n", &r.n, true);
  f.String("target", &r.target, true);
  f.String("status", &status, true);
  f.String("kind", &r.kind);
  f.Int("rows", &r.rows);
  f.Int("bytes", &r.bytes);
  f.Int("files", &r.files);
  f.Int("attempts", &r.attempts);
  f.Number("start_unix", &r.started_at);
  f.Number("end_unix", &r.finished_at);
  f.Number("commit_seconds", &r.commit_seconds);
  f.StringOrNull("error", &r.error);
  f.String("skip_reason", &r.skip_reason);
  f.String("run_reason", &r.run_reason);
  f.String("fingerprint", &r.fingerprint);
  f.Int("shard", &r.shard);
  f.String("host", &r.host);
  f.Int("rank", &r.rank);
  ReadS3Io(f, &r.s3);
  ReadTrace(f, &r.trace);
  if (!f.status().ok()) return f.status();
  auto s = IterationStatusOf(status);
  if (!s.ok())
    return Status::Invalid(std::string(kManifestWhat) + ": " + f.Name("status") + " " + s.status().message());
  r.status = *s;
  return r;
}

void ReadCounts(Fields& f, ManifestCounts* c) {
  const Json* counts = f.Object("counts", false);
  if (!counts) return;
  Fields k(*counts, kManifestWhat, "counts");
  k.Int("total", &c->total, false, 0);
  k.Int("committed", &c->committed, false, 0);
  k.Int("failed", &c->failed, false, 0);
  k.Int("skipped", &c->skipped, false, 0);
  k.Int("cancelled", &c->cancelled, false, 0);
  if (k.Find("pending", false)) {
    int64_t pending = 0;
    k.Int("pending", &pending, false, 0);
    c->pending = pending;
  }
  if (!k.status().ok()) f.Take(k);
}

void ReadChecks(Fields& f, std::optional<std::vector<ManifestCheck>>* out) {
  const Json* verify = f.Array("verify", false);
  if (!verify) return;
  out->emplace();
  for (size_t i = 0; i < verify->size() && f.status().ok(); ++i) {
    Fields e((*verify)[i], kManifestWhat, "verify[" + std::to_string(i) + "]");
    ManifestCheck c;
    e.String("target", &c.target, true);
    e.String("status", &c.status, true);
    e.String("problem", &c.problem);
    if (!e.status().ok()) return f.Take(e);
    (*out)->push_back(std::move(c));
  }
}

// The top-level keys but counts, verify and the iterations.
void ReadShard(Fields& f, std::optional<ManifestShard>* shard) {
  const Json* j = f.Object("shard", false);
  if (!j) return;
  Fields k(*j, kManifestWhat, "shard");
  ManifestShard s;
  int64_t index = 0, count = 0;
  k.Int("index", &index, true, 1);
  k.Int("count", &count, true, 1);
  k.Int("total", &s.total, true, 0);
  k.String("digest", &s.digest, true);
  k.String("host", &s.host);
  if (k.status().ok() && (index > count || count > 1000000))
    k.Fail("shard.index", "is " + std::to_string(index) + " of " + std::to_string(count) + ", not 1..count");
  f.Take(k);
  s.index = static_cast<int>(index);
  s.count = static_cast<int>(count);
  if (f.status().ok()) *shard = s;
}

void ReadRun(Fields& f, Manifest* m) {
  int64_t version = 1;
  f.Int("fanout_version", &version);
  if (f.status().ok() && version != 1) f.Fail("fanout_version", "is " + std::to_string(version) + ", not 1");
  f.String("run_id", &m->run_id, true);
  f.String("status", &m->status, true);
  f.String("job", &m->job);
  f.String("out_dir", &m->out_dir);
  f.String("started_at", &m->started_at);
  f.StringOrNull("finished_at", &m->finished_at);
  f.Number("seconds", &m->seconds);
  if (const Json* code = f.Find("exit_code", false); code && !code->is_null()) {
    int exit_code = 0;
    f.Int("exit_code", &exit_code);
    m->exit_code = exit_code;
  }
  f.String("updated_at", &m->updated_at);
  f.Int("pid", &m->pid);
  f.String("note", &m->note);
  f.String("error", &m->error);
  f.Int("max_workers", &m->max_workers);
  f.Int("threads", &m->threads);
  f.String("memory_limit", &m->memory_limit);
  f.String("host", &m->host);
  f.String("release", &m->release);
}

}  // namespace

std::string ShardManifestName(const std::string& run_id, int shard, int shards) {
  return run_id + ".shard-" + std::to_string(shard) + "-of-" + std::to_string(shards) + ".json";
}

int RecordFormatOf(std::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? FormatOfObject(j) : 0;
}

std::string Marker::ToJson() const { return Dump(MarkerJson(*this), 2) + "\n"; }

Result<Marker> Marker::FromJson(std::string_view text) {
  auto j = ParseRecord(text, kMarkerWhat);
  if (!j.ok()) return j.status();
  Fields f(*j, kMarkerWhat, "");
  // fanout_version 1, a run id, a fingerprint and the files: fanout's marker.
  int64_t version = 0;
  f.Int("fanout_version", &version, true);
  if (f.status().ok() && version != 1) f.Fail("fanout_version", "is " + std::to_string(version) + ", not 1");
  Marker m;
  f.String("run_id", &m.run_id, true);
  f.String("fingerprint", &m.fingerprint, true);
  ReadMarkerFiles(f, &m.files);
  f.Any("n", &m.n);
  f.String("kind", &m.kind);
  f.Int("rows", &m.rows);
  f.Int("attempt", &m.attempt);
  f.String("started_at", &m.started_at);
  f.String("committed_at", &m.committed_at);
  f.Number("seconds", &m.seconds);
  ReadFingerprintParts(f, &m.fingerprint_parts);
  ReadMarkerParams(f, &m.params);
  f.String("engine", &m.engine);
  f.Int("bytes", &m.bytes, false, 0);
  if (!f.status().ok()) return f.status();
  return m;
}

ManifestCounts Manifest::CountsOf(const std::vector<IterationReport>& iterations, bool with_pending) {
  ManifestCounts c;
  int64_t pending = 0;
  c.total = static_cast<int64_t>(iterations.size());
  for (const IterationReport& r : iterations) {
    c.committed += r.status == IterationStatus::kCommitted;
    c.failed += r.status == IterationStatus::kFailed;
    c.skipped += r.status == IterationStatus::kSkipped;
    c.cancelled += r.status == IterationStatus::kCancelled;
    pending += r.status == IterationStatus::kPending;
  }
  if (with_pending) c.pending = pending;
  return c;
}

std::string Manifest::ToJson() const {
  // The same text as one dump(2) of the whole document.
  std::string text = Dump(ManifestHeader(*this), 2);
  if (iterations.empty()) return text + "\n";
  text.resize(text.size() - std::string("[]\n}").size());  // ends with "iterations": []\n}
  text += "[\n";
  for (size_t i = 0; i < iterations.size(); ++i) {
    std::string e = IterationText(iterations[i]);
    text += "    ";
    for (char c : e) {
      text += c;
      if (c == '\n') text += "    ";
    }
    text += i + 1 < iterations.size() ? ",\n" : "\n";
  }
  return text + "  ]\n}\n";
}

Result<Manifest> Manifest::FromJson(std::string_view text) {
  auto j = ParseRecord(text, kManifestWhat);
  if (!j.ok()) return j.status();
  Fields f(*j, kManifestWhat, "");
  Manifest m;
  ReadRun(f, &m);
  const Json* its = f.Array("iterations", true);
  for (size_t i = 0; its && i < its->size(); ++i) {
    auto r = ReadIteration((*its)[i], i);
    if (!r.ok()) return r.status();
    m.iterations.push_back(std::move(r).value());
  }
  if (f.status().ok() && !f.Find("counts", false)) m.counts = CountsOf(m.iterations, m.status == "running");
  ReadCounts(f, &m.counts);
  ReadShard(f, &m.shard);
  ReadChecks(f, &m.verify);
  if (!f.status().ok()) return f.status();
  return m;
}

std::string IterationToJson(const IterationReport& r) { return IterationText(r); }

Result<IterationReport> IterationFromJson(std::string_view text) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Status::Invalid(std::string(kManifestWhat) + ": an iteration entry is not a JSON object");
  return ReadIteration(j, 0);
}

}  // namespace fanout
