// spec: job file (YAML) -> validated JobSpec. Every error names
// file:line:column and says what to do.
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "fanout/job_spec.h"
#include "util.h"

namespace fs = std::filesystem;

namespace fanout {
namespace {

// Thrown inside this file only; ParseJobSpec turns it into Status::Invalid.
struct SpecError {
  std::string message;
};

class Parser {
 public:
  Parser(std::string path, std::string base_dir) : path_(std::move(path)), base_(std::move(base_dir)) {}

  [[noreturn]] void Fail(const YAML::Node& node, const std::string& what) const {
    throw SpecError{Where(node) + ": " + what};
  }
  std::string Where(const YAML::Node& node) const {
    YAML::Mark m = node.Mark();
    if (m.line < 0) return path_;
    return path_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
  }

  void CheckKeys(const YAML::Node& map, const std::string& section, const std::set<std::string>& allowed) const {
    if (!map.IsMap()) Fail(map, section + " must be a mapping (key: value lines)");
    for (const auto& kv : map) {
      std::string key = kv.first.as<std::string>();
      if (!allowed.count(key)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        Fail(kv.first, "unknown key '" + key + "' in " + section + " (expected one of: " + list + ")");
      }
    }
  }

  std::string Str(const YAML::Node& node, const std::string& what) const {
    if (!node.IsScalar()) Fail(node, what + " must be a string");
    return node.as<std::string>();
  }

  int64_t Int(const YAML::Node& node, const std::string& what, int64_t min) const {
    if (node.IsScalar()) {
      Value v = ScalarValue(node);
      if (auto* i = std::get_if<int64_t>(&v.v); i && *i >= min) return *i;
    }
    Fail(node, what + " must be an integer >= " + std::to_string(min) + ", got '" + Dump(node) + "'");
  }

  // `auto` -> 0, else a positive integer.
  int AutoOrPositive(const YAML::Node& node, const std::string& what) const {
    if (node.IsScalar() && node.as<std::string>() == "auto") return 0;
    if (node.IsScalar()) {
      Value v = ScalarValue(node);
      if (auto* i = std::get_if<int64_t>(&v.v); i && *i > 0 && *i < 100000) return static_cast<int>(*i);
    }
    Fail(node, what + " must be a positive integer or 'auto', got '" + Dump(node) + "'");
  }

  // 30m, 10s, 1h, 500ms, or a number of seconds.
  double Duration(const YAML::Node& node, const std::string& what) const {
    static const std::regex re(R"(^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*$)");
    std::smatch m;
    std::string s = node.IsScalar() ? node.as<std::string>() : "";
    if (!std::regex_match(s, m, re))
      Fail(node, what + " must be a duration such as 90s, 30m or 2h, got '" + Dump(node) + "'");
    double x = std::stod(m[1]);
    std::string unit = m[2];
    if (unit == "ms") return x / 1000;
    if (unit == "m") return x * 60;
    if (unit == "h") return x * 3600;
    return x;
  }

  // 512MB, 1GB, 100000 (bytes).
  int64_t Bytes(const YAML::Node& node, const std::string& what) const {
    static const std::regex re(R"(^\s*([0-9]+)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$)", std::regex::icase);
    std::smatch m;
    std::string s = node.IsScalar() ? node.as<std::string>() : "";
    if (!std::regex_match(s, m, re)) Fail(node, what + " must be a size such as 256MB, got '" + Dump(node) + "'");
    int64_t x = std::stoll(m[1]);
    std::string u = m[2];
    for (auto& c : u) c = static_cast<char>(toupper(c));
    if (u == "KB" || u == "KIB") x <<= 10;
    if (u == "MB" || u == "MIB") x <<= 20;
    if (u == "GB" || u == "GIB") x <<= 30;
    return x;
  }

  std::string OneOf(const YAML::Node& node, const std::string& what, const std::vector<std::string>& choices) const {
    std::string s = node.IsScalar() ? node.as<std::string>() : "";
    for (const auto& c : choices)
      if (s == c) return s;
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : " | ") + c;
    Fail(node, what + " must be one of " + list + ", got '" + Dump(node) + "'");
  }

  // A path: ${ENV} expanded, relative to the job file's folder.
  std::string Path(const YAML::Node& node, const std::string& what) const {
    std::string raw = Str(node, what);
    auto expanded = ExpandEnv(raw);
    if (!expanded.ok()) Fail(node, what + ": " + expanded.status().message());
    fs::path p(*expanded);
    if (p.is_relative()) p = fs::path(base_) / p;
    return p.lexically_normal().string();
  }

  static std::string Dump(const YAML::Node& node) {
    if (node.IsScalar()) return node.as<std::string>();
    YAML::Emitter e;
    e << YAML::Flow << node;
    return e.c_str();
  }

  // Plain scalars are typed (null, true/false, integers, floats); quoted ones
  // stay strings.
  static Value ScalarValue(const YAML::Node& node) {
    std::string s = node.as<std::string>();
    if (node.Tag() == "!") return Value(s);
    return InferScalar(s);
  }

  Value ToValue(const YAML::Node& node, const std::string& what) const {
    if (node.IsNull()) return Value();
    if (node.IsScalar()) return ScalarValue(node);
    if (node.IsSequence()) {
      ValueList l;
      for (size_t i = 0; i < node.size(); ++i) l.push_back(ToValue(node[i], what + "[" + std::to_string(i) + "]"));
      return Value(std::move(l));
    }
    ValueMap m;
    for (const auto& kv : node) {
      std::string k = kv.first.as<std::string>();
      m.emplace_back(k, ToValue(kv.second, what + "." + k));
    }
    return Value(std::move(m));
  }

  std::string path_, base_;
};

bool IsInside(const std::string& path, const std::string& dir) {
  auto rel = fs::path(path).lexically_relative(dir);
  return !rel.empty() && *rel.begin() != "..";
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (auto& c : ext) c = static_cast<char>(tolower(c));
  if (ext == ".gz" || ext == ".zst") ext = fs::path(fs::path(path).stem()).extension().string();
  return ext.empty() ? "" : ext.substr(1);
}

void ParseInputs(const Parser& p, const YAML::Node& node, JobSpec& spec) {
  if (!node.IsMap()) p.Fail(node, "inputs must map table names to files, e.g. `customers: data/customers.csv`");
  static const std::regex ident(R"(^[A-Za-z_][A-Za-z0-9_]*$)");
  for (const auto& kv : node) {
    InputSpec in;
    in.name = kv.first.as<std::string>();
    if (!std::regex_match(in.name, ident))
      p.Fail(kv.first, "input name '" + in.name + "' must be a plain identifier (letters, digits, _)");
    const YAML::Node& v = kv.second;
    if (v.IsMap()) {
      p.CheckKeys(v, "inputs." + in.name, {"path", "format", "options"});
      if (!v["path"]) p.Fail(v, "inputs." + in.name + " needs a path");
      if (v["format"]) in.format = p.OneOf(v["format"], "inputs." + in.name + ".format", {"csv", "tsv", "parquet", "json", "ndjson"});
      if (v["options"]) {
        if (!v["options"].IsMap()) p.Fail(v["options"], "inputs." + in.name + ".options must be a mapping");
        Value opts = p.ToValue(v["options"], "options");
        in.options = std::get<ValueMap>(opts.v);
        for (const auto& kv2 : v["options"]) {
          std::string k = kv2.first.as<std::string>();
          if (!std::regex_match(k, ident)) p.Fail(kv2.first, "reader option '" + k + "' is not a valid option name");
        }
      }
    }
    // (yaml-cpp: assigning one Node to another overwrites the first's value, so
    // pick the node in one expression.)
    const YAML::Node path_node = v.IsMap() ? v["path"] : v;
    in.path = p.Path(path_node, "inputs." + in.name);
    if (in.format.empty()) {
      std::string ext = Extension(in.path);
      static const std::set<std::string> known = {"csv", "tsv", "parquet", "json", "ndjson", "jsonl"};
      if (!known.count(ext))
        p.Fail(path_node, "cannot tell the format of '" + in.path +
                              "' from its extension: use .csv .tsv .parquet .json .ndjson or set format:");
      in.format = ext == "jsonl" ? "ndjson" : ext;
    }
    std::error_code ec;
    if (!fs::is_regular_file(in.path, ec))
      p.Fail(path_node, "input file not found: " + in.path + " (paths are relative to the job file's folder)");
    spec.inputs.push_back(std::move(in));
  }
}

Params ParamsFromMap(const Parser& p, const YAML::Node& node, const std::string& what) {
  if (!node.IsMap()) p.Fail(node, what + " must be a mapping of names to values");
  static const std::regex ident(R"(^[A-Za-z_][A-Za-z0-9_]*$)");
  Params out;
  for (const auto& kv : node) {
    std::string k = kv.first.as<std::string>();
    if (!std::regex_match(k, ident))
      p.Fail(kv.first, "param name '" + k + "' must be a plain identifier (letters, digits, _) to be used as $" + k);
    if (k == "n" || k == "kind") p.Fail(kv.first, "'" + k + "' is reserved: $n and $kind are bound by fanout");
    out[k] = p.ToValue(kv.second, k);
  }
  return out;
}

Params LoadIncludeFile(const Parser& p, const YAML::Node& where, const std::string& file) {
  std::string ext = Extension(file);
  std::ifstream in(file);
  if (!in) p.Fail(where, "params include file not found: " + file);
  std::stringstream ss;
  ss << in.rdbuf();
  YAML::Node root;
  if (ext == "json") {
    try {
      auto j = nlohmann::ordered_json::parse(ss.str());
      root = YAML::Load(j.dump());  // JSON is YAML: one conversion path
    } catch (const nlohmann::json::parse_error& e) {
      p.Fail(where, "params include file " + file + " is not valid JSON: " + e.what());
    }
  } else if (ext == "yaml" || ext == "yml") {
    try {
      root = YAML::Load(ss.str());
    } catch (const YAML::Exception& e) {
      p.Fail(where, "params include file " + file + ":" + std::to_string(e.mark.line + 1) + ":" +
                        std::to_string(e.mark.column + 1) + " is not valid YAML: " + e.msg);
    }
  } else {
    p.Fail(where, "params include file " + file + " must be JSON (.json) or YAML (.yaml, .yml)");
  }
  if (!root.IsMap()) p.Fail(where, "params include file " + file + " must hold a mapping of names to values");
  Parser inner(file, fs::path(file).parent_path().string());
  return ParamsFromMap(inner, root, "params in " + file);
}

void ParseParams(const Parser& p, const YAML::Node& node, JobSpec& spec) {
  if (!node.IsMap()) p.Fail(node, "params must be a mapping of names to values");
  YAML::Node rest(YAML::NodeType::Map);
  for (const auto& kv : node) {
    if (kv.first.as<std::string>() != "include") continue;
    std::vector<YAML::Node> files;
    if (kv.second.IsSequence()) {
      for (const auto& f : kv.second) files.push_back(f);
    } else {
      files.push_back(kv.second);
    }
    for (const auto& f : files) {
      std::string file = p.Path(f, "params.include");
      spec.param_files.push_back(file);
      for (auto& [k, v] : LoadIncludeFile(p, f, file)) spec.params[k] = v;
    }
  }
  for (const auto& kv : node) {
    if (kv.first.as<std::string>() == "include") continue;
    YAML::Node one(YAML::NodeType::Map);
    one.force_insert(kv.first, kv.second);
    for (auto& [k, v] : ParamsFromMap(p, one, "params")) spec.params[k] = v;
  }
}

// A transform given as a path to an .sql file, or inline SQL.
TransformSpec ParseTransform(const Parser& p, const YAML::Node& node, const std::string& what) {
  std::string text = p.Str(node, what);
  bool looks_like_file = EndsWith(text, ".sql") && text.find_first_of(" \t\n;") == std::string::npos;
  if (!looks_like_file) {
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) p.Fail(node, what + " is empty: give SQL or a .sql file");
    return TransformSpec{text, p.Where(node)};
  }
  std::string file = p.Path(node, what);
  std::ifstream in(file);
  if (!in) p.Fail(node, what + ": SQL file not found: " + file);
  std::stringstream ss;
  ss << in.rdbuf();
  return TransformSpec{ss.str(), file};
}

void ParseSequence(const Parser& p, const YAML::Node& node, JobSpec& spec) {
  SequenceSpec& seq = spec.sequence;
  if (node.IsSequence()) {
    seq.kind = SequenceSpec::Kind::kList;
    for (const auto& e : node) {
      if (!e.IsScalar()) p.Fail(e, "each sequence item must be a number or a name, e.g. [2, 3, 56]");
      Value v = Parser::ScalarValue(e);
      if (!std::holds_alternative<int64_t>(v.v)) v = Value(e.as<std::string>());
      seq.items.push_back(v);
    }
    if (seq.items.empty()) p.Fail(node, "sequence is empty: list at least one iteration");
    return;
  }
  if (!node.IsMap() || node.size() != 1)
    p.Fail(node, "sequence must be a list ([2, 3, 56]), {range: [1, 64]} or {sql: \"SELECT n FROM ...\"}");
  p.CheckKeys(node, "sequence", {"range", "sql"});
  if (node["range"]) {
    const YAML::Node& r = node["range"];
    if (!r.IsSequence() || (r.size() != 2 && r.size() != 3))
      p.Fail(r, "sequence.range must be [first, last] or [first, last, step] (both ends included)");
    seq.kind = SequenceSpec::Kind::kRange;
    seq.first = p.Int(r[0], "sequence.range first", INT64_MIN);
    seq.last = p.Int(r[1], "sequence.range last", INT64_MIN);
    if (r.size() == 3) seq.step = p.Int(r[2], "sequence.range step", 1);
    if (seq.last < seq.first) p.Fail(r, "sequence.range is empty: last must be >= first");
    if ((seq.last - seq.first) / seq.step >= 10000000) p.Fail(r, "sequence.range has more than 10 million iterations");
  } else {
    seq.kind = SequenceSpec::Kind::kSql;
    seq.sql = p.Str(node["sql"], "sequence.sql");
  }
}

void ParseOutput(const Parser& p, const YAML::Node& node, JobSpec& spec) {
  p.CheckKeys(node, "output", {"dir", "name", "format", "compression", "mode", "max_file_size"});
  OutputSpec& o = spec.output;
  if (node["dir"]) o.dir = p.Path(node["dir"], "output.dir");
  if (node["name"]) {
    o.name = p.Str(node["name"], "output.name");
    if (o.name.find("{n}") == std::string::npos)
      p.Fail(node["name"], "output.name must contain {n} so every iteration gets its own folder");
  }
  if (node["format"]) o.format = p.OneOf(node["format"], "output.format", {"parquet", "csv", "json"});
  if (o.format != "parquet") o.compression = "none";
  if (node["compression"]) {
    std::vector<std::string> allowed = o.format == "parquet"
                                           ? std::vector<std::string>{"zstd", "snappy", "gzip", "lz4", "uncompressed"}
                                           : std::vector<std::string>{"none", "gzip", "zstd"};
    o.compression = p.OneOf(node["compression"], "output.compression for " + o.format, allowed);
  }
  if (node["mode"]) {
    std::string m = p.OneOf(node["mode"], "output.mode", {"overwrite", "error_if_exists", "skip_existing"});
    o.mode = m == "overwrite" ? OutputSpec::Mode::kOverwrite
             : m == "error_if_exists" ? OutputSpec::Mode::kErrorIfExists
                                      : OutputSpec::Mode::kSkipExisting;
  }
  if (node["max_file_size"]) o.max_file_bytes = p.Bytes(node["max_file_size"], "output.max_file_size");
}

void ParseRun(const Parser& p, const YAML::Node& node, JobSpec& spec) {
  p.CheckKeys(node, "run", {"max_workers", "threads", "memory_limit", "retries", "retry_backoff", "timeout", "on_failure", "order", "timezone"});
  RunSpec& r = spec.run;
  if (node["max_workers"]) r.max_workers = p.AutoOrPositive(node["max_workers"], "run.max_workers");
  if (node["threads"]) r.threads = p.AutoOrPositive(node["threads"], "run.threads");
  if (node["memory_limit"]) {
    static const std::regex re(R"(^\s*[0-9]+(\.[0-9]+)?\s*(%|B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$)", std::regex::icase);
    r.memory_limit = p.Str(node["memory_limit"], "run.memory_limit");
    if (!std::regex_match(r.memory_limit, re))
      p.Fail(node["memory_limit"], "run.memory_limit must be a percentage of RAM (75%) or a size (8GB), got '" +
                                       r.memory_limit + "'");
  }
  if (node["retries"]) r.retries = static_cast<int>(p.Int(node["retries"], "run.retries", 0));
  if (node["retry_backoff"]) r.retry_backoff_seconds = p.Duration(node["retry_backoff"], "run.retry_backoff");
  if (node["timeout"]) r.timeout_seconds = p.Duration(node["timeout"], "run.timeout");
  if (node["on_failure"]) r.stop_on_failure = p.OneOf(node["on_failure"], "run.on_failure", {"continue", "stop"}) == "stop";
  if (node["timezone"]) {
    r.timezone = p.Str(node["timezone"], "run.timezone");
    static const std::regex tz(R"(^[A-Za-z0-9_+:./-]{1,64}$)");
    if (!std::regex_match(r.timezone, tz))
      p.Fail(node["timezone"], "run.timezone must be a time zone name such as UTC or Europe/Paris, got '" +
                                   r.timezone + "'");
  }
  if (node["order"])
    r.order = p.OneOf(node["order"], "run.order", {"longest_first", "given"}) == "given" ? RunSpec::Order::kGiven
                                                                                        : RunSpec::Order::kLongestFirst;
}

// cache: false | {dir: path, enabled: bool}
void ParseCache(const Parser& p, const YAML::Node& node, JobSpec& spec) {
  if (node.IsScalar()) {
    Value v = Parser::ScalarValue(node);
    if (!std::holds_alternative<bool>(v.v)) p.Fail(node, "cache must be true, false or {dir: path}");
    spec.cache.enabled = std::get<bool>(v.v);
    return;
  }
  p.CheckKeys(node, "cache", {"dir", "enabled"});
  if (node["dir"]) spec.cache.dir = p.Path(node["dir"], "cache.dir");
  if (node["enabled"]) {
    Value v = Parser::ScalarValue(node["enabled"]);
    if (!std::holds_alternative<bool>(v.v)) p.Fail(node["enabled"], "cache.enabled must be true or false");
    spec.cache.enabled = std::get<bool>(v.v);
  }
}

void ParseOverrides(const Parser& p, const YAML::Node& node, JobSpec& spec) {
  if (!node.IsMap()) p.Fail(node, "overrides must map an iteration's n to params, e.g. `56: {scale: 2.0}`");
  for (const auto& kv : node) {
    std::string n = kv.first.as<std::string>();
    if (spec.overrides.count(n)) p.Fail(kv.first, "overrides for n = " + n + " are given twice");
    spec.overrides[n] = ParamsFromMap(p, kv.second, "overrides." + n);
  }
}

void ApplySets(const std::vector<std::string>& sets, JobSpec& spec) {
  static const std::regex ident(R"(^[A-Za-z_][A-Za-z0-9_]*$)");
  for (const std::string& s : sets) {
    auto eq = s.find('=');
    std::string key = s.substr(0, eq);
    if (eq == std::string::npos || !std::regex_match(key, ident) || key == "n" || key == "kind")
      throw SpecError{"--set " + s + ": expected name=value, where name is a param (not n or kind)"};
    YAML::Node v;
    try {
      v = YAML::Load(s.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      throw SpecError{"--set " + s + ": the value is not valid YAML: " + e.msg};
    }
    Parser p("--set", spec.base_dir);
    spec.params[key] = p.ToValue(v, key);
  }
}

JobSpec Parse(const YAML::Node& root, const std::string& path, const std::vector<std::string>& sets) {
  JobSpec spec;
  spec.path = path;
  spec.base_dir = fs::path(path).parent_path().string();
  Parser p(path, spec.base_dir);
  if (!root.IsMap()) p.Fail(root, "a job file must be a YAML mapping with inputs, sequence, transform, output");
  p.CheckKeys(root, "the job file",
              {"name", "inputs", "params", "prepare", "sequence", "transform", "transforms", "overrides", "output", "run",
               "cache"});
  spec.name = root["name"] ? p.Str(root["name"], "name") : fs::path(path).stem().string();
  spec.output.dir = (fs::path(spec.base_dir) / "out").string();
  if (root["inputs"]) ParseInputs(p, root["inputs"], spec);
  if (root["params"]) ParseParams(p, root["params"], spec);
  if (root["prepare"]) spec.prepare = ParseTransform(p, root["prepare"], "prepare").sql;
  if (!root["sequence"]) p.Fail(root, "the job needs a sequence, e.g. `sequence: [2, 3, 4, 56]`");
  ParseSequence(p, root["sequence"], spec);
  if (root["transform"]) spec.transform = ParseTransform(p, root["transform"], "transform");
  if (root["transforms"]) {
    if (!root["transforms"].IsMap()) p.Fail(root["transforms"], "transforms must map a kind to SQL or a .sql file");
    for (const auto& kv : root["transforms"]) {
      std::string kind = kv.first.as<std::string>();
      spec.transforms[kind] = ParseTransform(p, kv.second, "transforms." + kind);
    }
  }
  if (!spec.transform && spec.transforms.empty())
    p.Fail(root, "the job needs a transform: inline SQL or a .sql file (or transforms: per kind)");
  if (root["overrides"]) ParseOverrides(p, root["overrides"], spec);
  if (root["output"]) ParseOutput(p, root["output"], spec);
  if (root["run"]) ParseRun(p, root["run"], spec);
  spec.cache.dir = (fs::path(spec.base_dir) / ".fanout-cache").string();
  if (root["cache"]) ParseCache(p, root["cache"], spec);
  if (spec.cache.enabled && IsInside(spec.cache.dir, spec.output.dir))
    p.Fail(root["cache"] ? root["cache"] : root, "cache.dir " + spec.cache.dir + " must not be inside output.dir " +
                                                     spec.output.dir + " (outputs hold only outputs)");
  ApplySets(sets, spec);
  return spec;
}

}  // namespace

Result<JobSpec> ParseJobSpec(const std::string& yaml_text, const std::string& path, const std::vector<std::string>& sets) {
  std::string abs = fs::absolute(path).lexically_normal().string();
  try {
    YAML::Node root = YAML::Load(yaml_text);
    return Parse(root, abs, sets);
  } catch (const SpecError& e) {
    return Status::Invalid(e.message);
  } catch (const YAML::ParserException& e) {
    return Status::Invalid(abs + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                           ": YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    return Status::Invalid(abs + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                           ": " + e.msg);
  }
}

Result<JobSpec> LoadJobSpec(const std::string& path, const std::vector<std::string>& sets) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    return Status::Invalid("job file not found: " + path + " (give the path to a job .yaml file)");
  std::ifstream in(path);
  if (!in) return Status::Invalid("cannot read job file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseJobSpec(ss.str(), path, sets);
}

}  // namespace fanout
