#include "spec_check.h"

#include <algorithm>
#include <cmath>
#include <regex>
#include <vector>

#include "s3_client.h"
#include "util.h"

namespace fanout {
namespace spec_check {
namespace {

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

}  // namespace

bool IsIdentifier(const std::string& name) {
  static const std::regex ident(R"(^[A-Za-z_][A-Za-z0-9_]*$)");
  return std::regex_match(name, ident);
}

bool IsReservedParam(const std::string& name) {
  std::string l = Lower(name);
  return l == "n" || l == "kind";
}

namespace {
// fanout's own names in the SQL a job runs (fuse.h): a batch transform's
// sequence table, and the rewritten query's tables and columns.
std::string FanoutOwnName(const std::string& name, const char* what) {
  const std::string l = Lower(name);
  if (l == "fanout_sequence")
    return std::string(what) + " '" + name + "' is reserved: fanout_sequence is the table a batch_transform reads; " +
           "rename it";
  if (l.rfind("__fanout_", 0) == 0)
    return std::string(what) + " '" + name + "' is reserved: names starting with __fanout_ are fanout's own; rename it";
  return "";
}
}  // namespace

std::string InputName(const std::string& name) {
  if (!IsIdentifier(name)) return "input name '" + name + "' must be a plain identifier (letters, digits, _)";
  return FanoutOwnName(name, "input name");
}

std::string ReaderOption(const std::string& name) {
  return IsIdentifier(name) ? "" : "reader option '" + name + "' is not a valid option name";
}

std::string ParamName(const std::string& name) {
  if (!IsIdentifier(name))
    return "param name '" + name + "' must be a plain identifier (letters, digits, _) to be used as $" + name;
  if (IsReservedParam(name))
    return "'" + name + "' is reserved: $n and $kind are bound by fanout (SQL names are case-insensitive)";
  if (Lower(name).rfind("__fanout_", 0) == 0) return FanoutOwnName(name, "param name");
  return "";
}

std::string KnownParam(const Params& params, const std::string& name, const std::string& context) {
  if (params.count(name)) return "";
  for (const auto& [k, v] : params)
    if (Lower(k) == Lower(name))
      return "unknown param '" + name + "'" + context + ": the job's param is '" + k +
             "' (SQL names are case-insensitive, so spell it exactly as under params:)";
  std::vector<std::string> names;
  for (const auto& [k, v] : params) names.push_back(k);
  std::string known = names.empty() ? "the job has no params" : "the job's params: " + Join(names, ", ");
  return "unknown param '" + name + "'" + context + " (" + known +
         "); to add one, give it a default under params: in the job file";
}

std::string Range(int64_t first, int64_t last, int64_t step) {
  if (step < 1) return "sequence.range step must be at least 1, got " + std::to_string(step);
  if (last < first) return "sequence.range is empty: last must be >= first";
  uint64_t span = static_cast<uint64_t>(last) - static_cast<uint64_t>(first);  // exact: last >= first
  if (span / static_cast<uint64_t>(step) >= static_cast<uint64_t>(kMaxIterations))
    return "sequence.range has more than 10 million iterations";
  return "";
}

std::string OutputName(const std::string& name, bool param_sets) {
  if (name.find("{n}") != std::string::npos) return "";
  if (!param_sets) return "output.name must contain {n} so every iteration gets its own folder";
  auto open = name.find('{');
  if (open != std::string::npos && name.find('}', open) != std::string::npos) return "";
  return "output.name must contain {n} or a param, e.g. \"iter_{alpha}_{depth}\", so every iteration gets its own "
         "folder";
}

std::string SetKey(const std::string& name) {
  if (name == "n" || name == "kind") return "";
  return ParamName(name);
}

std::string MaxFileBytes(int64_t bytes) {
  if (bytes >= kMinFileBytes) return "";
  return "output.max_file_size must be at least 1MiB: a part file holds at least one row group (up to 122,880 "
         "rows), so a smaller limit gives no smaller files; leave it out for one file per iteration";
}

// A share of RAM in (0%, 100%], or a size of at least kMinMemoryBytes.
std::string MemoryLimit(const std::string& limit) {
  static const std::regex re(R"(^\s*([0-9]{1,15}(?:\.[0-9]{1,15})?)\s*(%|B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$)",
                             std::regex::icase);
  std::smatch m;
  if (!std::regex_match(limit, m, re))
    return "run.memory_limit must be a percentage of RAM (75%) or a size (8GB), got '" + limit + "'";
  double x = std::stod(m[1]);
  std::string unit = Lower(m[2]);
  if (unit == "%") {
    if (x <= 0 || x > 100)
      return "run.memory_limit is a share of RAM, so it must be more than 0% and at most 100%, got '" + limit + "'";
    return "";
  }
  static const std::map<std::string, double> scale = {{"b", 1},         {"kb", 1e3},      {"mb", 1e6},
                                                      {"gb", 1e9},      {"tb", 1e12},     {"kib", 1024.0},
                                                      {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1099511627776.0}};
  if (x * scale.at(unit) < static_cast<double>(kMinMemoryBytes))
    return "run.memory_limit must be at least 64MB (the engine's CSV reader alone takes a 32MB buffer), got '" + limit +
           "'";
  return "";
}

std::string Timeout(double seconds) {
  if (seconds > 0 && std::isfinite(seconds)) return "";
  return "run.timeout must be more than 0: it is how long one iteration may run, e.g. 30m or 2h";
}

std::string Timezone(const std::string& timezone) {
  static const std::regex tz(R"(^[A-Za-z0-9_+:./-]{1,64}$)");
  if (std::regex_match(timezone, tz)) return "";
  return "run.timezone must be a time zone name such as UTC or Europe/Paris, got '" + timezone + "'";
}

std::string CacheOutsideOutput(const CacheSpec& cache, const OutputSpec& output) {
  if (!cache.enabled || !IsInsideOrSame(cache.dir, output.dir)) return "";
  return "cache.dir " + cache.dir + " must not be inside output.dir " + output.dir + " (outputs hold only outputs)";
}

std::string CaseCollisions::Add(const std::string& name, const std::string& where) {
  auto [it, fresh] = seen_.try_emplace(Lower(name), name, where);
  if (fresh || it->second.first == name) return "";
  std::string other = it->second.second.empty() ? "" : " (" + it->second.second + ")";
  return what_ + " '" + name + "' and '" + it->second.first + "'" + other +
         " differ only in case: SQL names are case-insensitive, so they would be the same " + what_ + "; rename one";
}

}  // namespace spec_check

// ----- Validate: the same checks on a JobSpec built in code -------------------

namespace {
using namespace spec_check;

// The first error of `checks` in order, or "".
std::string First(std::initializer_list<std::string> checks) {
  for (const std::string& e : checks)
    if (!e.empty()) return e;
  return "";
}

bool Blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

std::string OneOf(const std::string& what, const std::string& value, const std::vector<std::string>& choices) {
  if (std::find(choices.begin(), choices.end(), value) != choices.end()) return "";
  return what + " must be one of " + Join(choices, " | ") + ", got '" + value + "'";
}

std::string CheckInputs(const JobSpec& spec) {
  CaseCollisions names("input");
  for (const InputSpec& in : spec.inputs) {
    const std::string what = "inputs." + in.name;
    std::string e = First({InputName(in.name), names.Add(in.name),
                           in.path.empty() ? what + ".path is empty: give the input's file" : "",
                           OneOf(what + ".format", in.format, {"csv", "tsv", "parquet", "json", "ndjson"})});
    for (const auto& [k, v] : in.options) e = First({e, ReaderOption(k)});
    if (e.empty() && in.path.rfind("s3://", 0) == 0) {  // an object: s3://bucket/key
      std::string bucket, key;
      Status url = ParseS3Url(in.path, &bucket, &key);
      if (!url.ok()) e = what + ": " + url.message();
      else if (key.empty() || key.back() == '/') e = what + ": '" + in.path + "' names no object (s3://bucket/key)";
    }
    if (!e.empty()) return e;
  }
  return "";
}

std::string CheckParams(const JobSpec& spec) {
  CaseCollisions names("param");
  for (const auto& [name, value] : spec.params)
    if (auto e = First({ParamName(name), names.Add(name)}); !e.empty()) return "params: " + e;
  for (const auto& [n, params] : spec.overrides)
    for (const auto& [name, value] : params)
      if (auto e = First({ParamName(name), KnownParam(spec.params, name, "")}); !e.empty())
        return "overrides." + n + ": " + e;
  return "";
}

std::string CheckSequence(const SequenceSpec& seq) {
  switch (seq.kind) {
    case SequenceSpec::Kind::kList:
      if (seq.items.empty()) return "sequence is empty: list at least one iteration";
      for (const Value& v : seq.items)
        if (!std::holds_alternative<int64_t>(v.v) && !std::holds_alternative<std::string>(v.v))
          return "each sequence item must be a number (an integer) or a name, got " + v.ToJson();
      return "";
    case SequenceSpec::Kind::kRange:
      return Range(seq.first, seq.last, seq.step);
    case SequenceSpec::Kind::kSql:
      return Blank(seq.sql) ? "sequence.sql is empty: give a query returning the column n" : "";
    case SequenceSpec::Kind::kSets:
      if (seq.sets.empty()) return "sequence is empty: list at least one iteration";
      for (const ValueMap& set : seq.sets)
        for (const auto& [k, v] : set)
          if (auto e = SetKey(k); !e.empty()) return "sequence: " + e;
      return "";
    case SequenceSpec::Kind::kGrid:
      if (seq.grid.empty()) return "sequence.grid has no axes: give at least one, e.g. {alpha: [0.1, 0.2]}";
      for (const GridAxis& a : seq.grid) {
        if (auto e = SetKey(a.name); !e.empty()) return "sequence.grid: " + e;
        if (a.values.empty() && Blank(a.sql)) return "sequence.grid." + a.name + " is empty: give at least one value";
      }
      return "";
  }
  return "sequence.kind is not one of list, range, sql";
}

std::string CheckTransforms(const JobSpec& spec) {
  if (!spec.transform && spec.transforms.empty())
    return "the job needs a transform: inline SQL or a .sql file (or transforms: per kind)";
  if (spec.transform && spec.transform->cpp.empty() && Blank(spec.transform->sql))
    return "transform is empty: give SQL or a .sql file";
  if (spec.transform && !spec.transform->cpp.empty() && !Blank(spec.transform->sql))
    return "transform: give SQL or {cpp: name}, not both";
  CaseCollisions kinds("kind");
  for (const auto& [kind, t] : spec.transforms) {
    if (auto e = kinds.Add(kind); !e.empty()) return "transforms: " + e;
    if (t.cpp.empty() && Blank(t.sql)) return "transforms." + kind + " is empty: give SQL or a .sql file";
    if (!t.cpp.empty() && !Blank(t.sql)) return "transforms." + kind + ": give SQL or {cpp: name}, not both";
  }
  return "";
}

std::string CheckOutput(const OutputSpec& o, bool param_sets) {
  bool parquet = o.format == "parquet";
  std::vector<std::string> compressions =
      parquet ? std::vector<std::string>{"zstd", "snappy", "gzip", "lz4", "uncompressed"}
              : std::vector<std::string>{"none", "gzip", "zstd"};
  bool mode_known = o.mode == OutputSpec::Mode::kOverwrite || o.mode == OutputSpec::Mode::kErrorIfExists ||
                    o.mode == OutputSpec::Mode::kSkipExisting;
  std::string s3_problem;
  if (o.dir.rfind("s3://", 0) == 0) {
    std::string bucket, key;
    Status url = ParseS3Url(o.dir, &bucket, &key);
    s3_problem = url.ok() ? "" : "output.dir: " + url.message();
  }
  return First({o.dir.empty() ? "output.dir is empty: give the folder the outputs go to" : "", s3_problem,
                OutputName(o.name, param_sets),
                OneOf("output.format", o.format, {"parquet", "csv", "json"}),
                OneOf("output.compression for " + o.format, o.compression, compressions),
                mode_known ? "" : "output.mode must be overwrite, error_if_exists or skip_existing",
                o.max_file_bytes == 0 ? "" : MaxFileBytes(o.max_file_bytes)});
}

std::string Between(const std::string& what, int64_t value, int64_t min, int64_t max, const std::string& why) {
  if (value >= min && value <= max) return "";
  return what + " must be from " + std::to_string(min) + " to " + std::to_string(max) + why + ", got " +
         std::to_string(value);
}

std::string CheckRun(const RunSpec& r) {
  bool order_known = r.order == RunSpec::Order::kLongestFirst || r.order == RunSpec::Order::kGiven;
  return First({Between("run.max_workers", r.max_workers, 0, kMaxThreads, " (0: auto)"),
                Between("run.threads", r.threads, 0, kMaxThreads, " (0: auto)"), MemoryLimit(r.memory_limit),
                Between("run.retries", r.retries, 0, kMaxRetries, " (retries of transient errors)"),
                r.retry_backoff_seconds >= 0 && std::isfinite(r.retry_backoff_seconds)
                    ? ""
                    : "run.retry_backoff must be 0 or more seconds",
                Timeout(r.timeout_seconds), order_known ? "" : "run.order must be longest_first or given",
                Timezone(r.timezone)});
}

std::string CheckCache(const JobSpec& spec) {
  if (spec.cache.enabled && spec.cache.dir.empty())
    return "cache.dir is empty: give the input cache's folder, or set cache.enabled = false";
  return CacheOutsideOutput(spec.cache, spec.output);
}

}  // namespace

Status Validate(const JobSpec& spec) {
  std::string e = First({CheckInputs(spec), CheckParams(spec), CheckSequence(spec.sequence), CheckTransforms(spec),
                         CheckOutput(spec.output, spec.sequence.kind == SequenceSpec::Kind::kSets ||
                                                      spec.sequence.kind == SequenceSpec::Kind::kGrid), CheckRun(spec.run), CheckCache(spec)});
  if (e.empty()) return Status::Ok();
  return Status::Invalid(spec.path.empty() ? e : spec.path + ": " + e);
}

}  // namespace fanout
