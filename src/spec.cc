// spec: job file (YAML) -> validated JobSpec. Every error names
// file:line:column and says what to do. The checks of the values themselves
// are spec_check's, shared with fanout::Validate (a spec built in code).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "fanout/job_spec.h"
#include "sequence.h"
#include "spec_check.h"
#include "util.h"

namespace fs = std::filesystem;

namespace fanout {
namespace {
using namespace spec_check;  // the value checks Validate shares

// Thrown inside this file only; ParseJobSpec turns it into Status::Invalid.
struct SpecError {
  std::string message;
};

class Parser {
 public:
  Parser(std::string path, std::string base_dir) : path_(std::move(path)), base_(std::move(base_dir)) {}

  [[noreturn]] void Fail(const YAML::Node& node, const std::string& what) const { FailAt(Where(node), what); }
  [[noreturn]] static void FailAt(const std::string& where, const std::string& what) {
    throw SpecError{where + ": " + what};
  }
  // Fails at `node` with what a shared check found wrong, if anything.
  void Check(const YAML::Node& node, const std::string& error) const {
    if (!error.empty()) Fail(node, error);
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

  // An integer in [min, max].
  int64_t IntIn(const YAML::Node& node, const std::string& what, int64_t min, int64_t max, const std::string& why) const {
    if (node.IsScalar()) {
      Value v = ScalarValue(node);
      if (auto* i = std::get_if<int64_t>(&v.v); i && *i >= min && *i <= max) return *i;
    }
    Fail(node, what + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max) + why +
                   ", got '" + Dump(node) + "'");
  }

  // `auto` -> 0, else a positive integer up to kMaxThreads.
  int AutoOrPositive(const YAML::Node& node, const std::string& what) const {
    if (node.IsScalar() && node.as<std::string>() == "auto") return 0;
    if (node.IsScalar()) {
      Value v = ScalarValue(node);
      if (auto* i = std::get_if<int64_t>(&v.v); i && *i > 0 && *i <= kMaxThreads) return static_cast<int>(*i);
    }
    Fail(node, what + " must be a positive integer or 'auto', got '" + Dump(node) + "' (at most " +
                   std::to_string(kMaxThreads) + ": each is a thread)");
  }

  // 30m, 10s, 1h, 500ms, or a number of seconds.
  double Duration(const YAML::Node& node, const std::string& what) const {
    static const std::regex re(R"(^\s*([0-9]{1,12}(?:\.[0-9]{1,12})?)\s*(ms|s|m|h)?\s*$)");
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
    static const std::regex re(R"(^\s*([0-9]{1,12})\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$)", std::regex::icase);
    std::smatch m;
    std::string s = node.IsScalar() ? node.as<std::string>() : "";
    if (!std::regex_match(s, m, re)) Fail(node, what + " must be a size such as 256MB, got '" + Dump(node) + "'");
    int64_t x = std::stoll(m[1]);  // < 10^12
    std::string u = m[2];
    for (auto& c : u) c = static_cast<char>(toupper(c));
    int shift = u == "KB" || u == "KIB" ? 10 : u == "MB" || u == "MIB" ? 20 : u == "GB" || u == "GIB" ? 30 : 0;
    if (x > (int64_t{1} << (50 - shift))) Fail(node, what + " must be at most 1PiB, got '" + Dump(node) + "'");
    return x << shift;
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

  // A path (as Path), or an s3:// URL kept as written (after ${VAR}).
  std::string Location(const YAML::Node& node, const std::string& what) const {
    auto expanded = ExpandEnv(Str(node, what));
    if (!expanded.ok()) Fail(node, what + ": " + expanded.status().message());
    if (expanded->rfind("s3://", 0) != 0) return Path(node, what);
    return *expanded;
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
    if (node.IsScalar()) {
      Value v = ScalarValue(node);
      if (auto* d = std::get_if<double>(&v.v); d && !std::isfinite(*d))
        Fail(node, what + ": " + node.as<std::string>() + " is out of the range of a number (about ±1.8e308)");
      return v;
    }
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

// "lines 4 and 7", or "line 4, columns 3 and 9" (1-based; marks are 0-based).
std::string TwoPlaces(const YAML::Mark& a, const YAML::Mark& b) {
  if (a.line != b.line) return "lines " + std::to_string(a.line + 1) + " and " + std::to_string(b.line + 1);
  return "line " + std::to_string(a.line + 1) + ", columns " + std::to_string(a.column + 1) + " and " +
         std::to_string(b.column + 1);
}

// yaml-cpp keeps every key of a mapping, duplicates included, and a lookup
// finds the first: a second `transform:` would be silently ignored. Walks the
// whole tree once, before anything reads it, bounding its depth and size (an
// alias repeats a subtree, so a small file can expand a lot).
class DuplicateKeyCheck {
 public:
  explicit DuplicateKeyCheck(const Parser& p) : p_(p) {}

  void Walk(const YAML::Node& node, int depth = 0) {
    if (++visited_ > kMaxNodes) p_.Fail(node, "the YAML expands to more than 1,000,000 values (aliases included)");
    if (depth > kMaxDepth) p_.Fail(node, "the YAML is nested more than " + std::to_string(kMaxDepth) + " levels deep");
    if (node.IsSequence()) {
      for (const auto& e : node) Walk(e, depth + 1);
      return;
    }
    if (!node.IsMap()) return;
    std::map<std::string, YAML::Mark> seen;
    for (const auto& kv : node) {
      std::string key = kv.first.IsScalar() ? kv.first.Scalar() : Parser::Dump(kv.first);
      auto [first, fresh] = seen.emplace(key, kv.first.Mark());
      if (!fresh)
        p_.Fail(kv.first, "duplicate key '" + key + "' (" + TwoPlaces(first->second, kv.first.Mark()) +
                              "): a key may appear once in a mapping; keep one");
      Walk(kv.first, depth + 1);
      Walk(kv.second, depth + 1);
    }
  }

 private:
  static constexpr int kMaxDepth = 64;
  static constexpr int64_t kMaxNodes = 1000000;
  const Parser& p_;
  int64_t visited_ = 0;
};

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
  CaseCollisions names("input");
  for (const auto& kv : node) {
    InputSpec in;
    in.name = kv.first.as<std::string>();
    p.Check(kv.first, InputName(in.name));
    p.Check(kv.first, names.Add(in.name, p.Where(kv.first)));
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
          p.Check(kv2.first, ReaderOption(k));
        }
      }
    }
    // (yaml-cpp: assigning one Node to another overwrites the first's value, so
    // pick the node in one expression.)
    const YAML::Node path_node = v.IsMap() ? v["path"] : v;
    in.path = p.Location(path_node, "inputs." + in.name);  // s3://: fetched when the job loads (s3_inputs.h)
    if (in.format.empty()) {
      std::string ext = Extension(in.path);
      static const std::set<std::string> known = {"csv", "tsv", "parquet", "json", "ndjson", "jsonl"};
      if (!known.count(ext))
        p.Fail(path_node, "cannot tell the format of '" + in.path +
                              "' from its extension: use .csv .tsv .parquet .json .ndjson or set format:");
      in.format = ext == "jsonl" ? "ndjson" : ext;
    }
    std::error_code ec;
    if (in.path.rfind("s3://", 0) != 0 && !fs::is_regular_file(in.path, ec)) {
      if (fs::exists(in.path, ec))
        p.Fail(path_node, "input " + in.path + " is not a regular file (a folder, FIFO or device): give a file");
      p.Fail(path_node, "input file not found: " + in.path + " (paths are relative to the job file's folder)");
    }
    spec.inputs.push_back(std::move(in));
  }
}

// A param as written: its name, value and where it is (file:line[:column]).
struct ParamDef {
  std::string name;
  Value value;
  std::string where;
};

// The name: value pairs of a params mapping, checked. `where` tells a key's
// place (a JSON include has its own line numbers).
std::vector<ParamDef> ParamDefs(const Parser& p, const YAML::Node& node, const std::string& what,
                                const std::function<std::string(const YAML::Node&)>& where) {
  if (!node.IsMap()) p.Fail(node, what + " must be a mapping of names to values");
  std::vector<ParamDef> out;
  for (const auto& kv : node) {
    std::string k = kv.first.as<std::string>();
    std::string at = where(kv.first);
    if (k == "include" && what == "params") continue;  // params.include names files, not a param
    if (std::string e = ParamName(k); !e.empty()) Parser::FailAt(at, e);
    out.push_back({k, p.ToValue(kv.second, k), at});
  }
  return out;
}

std::vector<ParamDef> ParamDefs(const Parser& p, const YAML::Node& node, const std::string& what) {
  return ParamDefs(p, node, what, [&p](const YAML::Node& key) { return p.Where(key); });
}

// A char iterator that records how far the JSON parser has read: nlohmann's
// parser callbacks carry no position, and a key's line is wanted.
class TrackedChars {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;
  TrackedChars(const char* p, const char** furthest) : p_(p), furthest_(furthest) {}
  reference operator*() const {
    if (p_ > *furthest_) *furthest_ = p_;
    return *p_;
  }
  TrackedChars& operator++() {
    ++p_;
    return *this;
  }
  TrackedChars operator++(int) {
    TrackedChars before = *this;
    ++p_;
    return before;
  }
  bool operator==(const TrackedChars& o) const { return p_ == o.p_; }
  bool operator!=(const TrackedChars& o) const { return p_ != o.p_; }

 private:
  const char* p_;
  const char** furthest_;
};

// A JSON include as YAML (JSON is YAML: one conversion path), and the line of
// each top-level key. A key given twice in any object is an error naming both
// lines (nlohmann would keep the last one silently).
YAML::Node LoadJsonInclude(const Parser& p, const YAML::Node& where, const std::string& file, const std::string& text,
                           std::map<std::string, int>* top_lines) {
  using Json = nlohmann::ordered_json;
  const char* furthest = text.data();  // the parser has read up to here
  const char* counted = text.data();   // newlines before it are in `line`
  int line = 1;
  std::vector<std::map<std::string, int>> open;  // keys of the objects being parsed -> line
  Json::parser_callback_t on_event = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) open.emplace_back();
    if (event == Json::parse_event_t::object_end && !open.empty()) {
      if (open.size() == 1) *top_lines = open.back();
      open.pop_back();
    }
    if (event == Json::parse_event_t::key && !open.empty()) {  // the parser has just read the key
      line += static_cast<int>(std::count(counted, furthest, '\n'));
      counted = furthest;
      std::string key = parsed.get<std::string>();
      auto [first, fresh] = open.back().emplace(key, line);
      if (!fresh)
        Parser::FailAt(file + ":" + std::to_string(line),
                       "duplicate key '" + key + "' (lines " + std::to_string(first->second) + " and " +
                           std::to_string(line) + "): a key may appear once in an object; keep one");
    }
    return true;
  };
  try {
    Json j = Json::parse(TrackedChars(text.data(), &furthest), TrackedChars(text.data() + text.size(), &furthest),
                         on_event);
    return YAML::Load(j.dump());
  } catch (const nlohmann::json::parse_error& e) {
    p.Fail(where, "params include file " + file + " is not valid JSON: " + e.what());
  }
}

std::vector<ParamDef> LoadIncludeFile(const Parser& p, const YAML::Node& where, const std::string& file) {
  std::string ext = Extension(file);
  std::ifstream in(file);
  if (!in) p.Fail(where, "params include file not found: " + file);
  std::stringstream ss;
  ss << in.rdbuf();
  Parser inner(file, fs::path(file).parent_path().string());
  YAML::Node root;
  std::map<std::string, int> json_lines;
  if (ext == "json") {
    root = LoadJsonInclude(p, where, file, ss.str(), &json_lines);
  } else if (ext == "yaml" || ext == "yml") {
    try {
      root = YAML::Load(ss.str());
    } catch (const YAML::Exception& e) {
      p.Fail(where, "params include file " + file + ":" + std::to_string(e.mark.line + 1) + ":" +
                        std::to_string(e.mark.column + 1) + " is not valid YAML: " + e.msg);
    }
    DuplicateKeyCheck(inner).Walk(root);
  } else {
    p.Fail(where, "params include file " + file + " must be JSON (.json) or YAML (.yaml, .yml)");
  }
  if (!root.IsMap()) p.Fail(where, "params include file " + file + " must hold a mapping of names to values");
  if (ext != "json") return ParamDefs(inner, root, "params in " + file);
  return ParamDefs(inner, root, "params in " + file, [&](const YAML::Node& key) {
    auto it = json_lines.find(key.Scalar());
    return it == json_lines.end() ? file : file + ":" + std::to_string(it->second);
  });
}

// Inline params override included ones of the same name (and a later include
// an earlier one); names that differ only in case are rejected.
void ParseParams(const Parser& p, const YAML::Node& node, JobSpec& spec) {
  if (!node.IsMap()) p.Fail(node, "params must be a mapping of names to values");
  CaseCollisions names("param");
  auto add = [&](ParamDef& d) {
    if (std::string e = names.Add(d.name, d.where); !e.empty()) Parser::FailAt(d.where, e);
    spec.params[d.name] = std::move(d.value);
  };
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
      for (auto& d : LoadIncludeFile(p, f, file)) add(d);
    }
  }
  for (auto& d : ParamDefs(p, node, "params")) add(d);
}

// Overrides and --set may only set params the job declares under params:
// (inline or included): a misspelt name would otherwise be silently ignored.
void CheckKnownParam(const Params& params, const std::string& name, const std::string& where,
                     const std::string& context) {
  if (std::string e = KnownParam(params, name, context); !e.empty()) Parser::FailAt(where, e);
}

// A transform given as a path to an .sql file, inline SQL, or {cpp: name}
// (a C++ transform the embedding program registers; RunOptions::transforms).
TransformSpec ParseTransform(const Parser& p, const YAML::Node& node, const std::string& what) {
  if (node.IsMap() && what == "prepare") p.Fail(node, "prepare must be SQL (inline or a .sql file)");
  if (node.IsMap()) {
    p.CheckKeys(node, what, {"cpp"});
    if (!node["cpp"]) p.Fail(node, what + ": give inline SQL, a .sql file or {cpp: name}");
    std::string name = p.Str(node["cpp"], what + ".cpp");
    if (name.find_first_not_of(" \t\r\n") == std::string::npos)
      p.Fail(node["cpp"], what + ".cpp is empty: name a C++ transform the program registers");
    TransformSpec t;
    t.source = p.Where(node["cpp"]);
    t.cpp = name;
    return t;
  }
  std::string text = p.Str(node, what);
  bool looks_like_file = EndsWith(text, ".sql") && text.find_first_of(" \t\n;") == std::string::npos;
  if (!looks_like_file) {
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) p.Fail(node, what + " is empty: give SQL or a .sql file");
    return TransformSpec{text, p.Where(node), ""};
  }
  std::string file = p.Path(node, what);
  std::ifstream in(file);
  if (!in) p.Fail(node, what + ": SQL file not found: " + file);
  std::stringstream ss;
  ss << in.rdbuf();
  return TransformSpec{ss.str(), file, ""};
}

// sequence: [{n: fit, alpha: 0.1}, {alpha: 0.2, kind: agg}]: each map one
// iteration's params (n and kind its own).
void ParseSets(const Parser& p, const YAML::Node& node, JobSpec& spec) {
  SequenceSpec& seq = spec.sequence;
  seq.kind = SequenceSpec::Kind::kSets;
  for (const auto& e : node) {
    if (!e.IsMap())
      p.Fail(e, "each item of a list of parameter sets must be a map, e.g. [{alpha: 0.1}, {alpha: 0.2}]");
    CaseCollisions names("param");
    for (const auto& [k, v] : spec.params) names.Add(k);
    ValueMap set;
    for (const auto& kv : e) {
      std::string k = kv.first.as<std::string>();
      p.Check(kv.first, SetKey(k));
      p.Check(kv.first, names.Add(k, p.Where(kv.first)));
      set.emplace_back(k, p.ToValue(kv.second, k));
    }
    seq.sets.push_back(std::move(set));
    seq.where.push_back(p.Where(e));
  }
}

// sequence: {grid: {alpha: [0.1, 0.2], regions: {sql: "SELECT region FROM r"}}}
void ParseGrid(const Parser& p, const YAML::Node& node, JobSpec& spec) {
  SequenceSpec& seq = spec.sequence;
  seq.kind = SequenceSpec::Kind::kGrid;
  if (!node.IsMap() || node.size() == 0)
    p.Fail(node, "sequence.grid must map each param to its values, e.g. {alpha: [0.1, 0.2], depth: [3, 5]}");
  CaseCollisions names("param");
  for (const auto& [k, v] : spec.params) names.Add(k);
  for (const auto& kv : node) {
    GridAxis axis;
    axis.name = kv.first.as<std::string>();
    axis.where = p.Where(kv.first);
    const std::string what = "sequence.grid." + axis.name;
    p.Check(kv.first, SetKey(axis.name));
    p.Check(kv.first, names.Add(axis.name, axis.where));
    if (kv.second.IsSequence()) {
      if (kv.second.size() == 0) p.Fail(kv.second, what + " is empty: give at least one value");
      for (size_t i = 0; i < kv.second.size(); ++i)
        axis.values.push_back(p.ToValue(kv.second[i], what + "[" + std::to_string(i) + "]"));
    } else if (kv.second.IsMap()) {
      p.CheckKeys(kv.second, what, {"sql"});
      if (!kv.second["sql"]) p.Fail(kv.second, what + " must be a list of values or {sql: \"SELECT ...\"}");
      axis.sql = p.Str(kv.second["sql"], what + ".sql");
    } else {
      p.Fail(kv.second, what + " must be a list of values or {sql: \"SELECT ...\"} (its rows' columns are params)");
    }
    seq.grid.push_back(std::move(axis));
  }
}

void ParseSequence(const Parser& p, const YAML::Node& node, JobSpec& spec) {
  SequenceSpec& seq = spec.sequence;
  if (node.IsSequence() && node.size() > 0 && node[0].IsMap()) return ParseSets(p, node, spec);
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
    p.Fail(node, "sequence must be a list ([2, 3, 56]), a list of param maps ([{alpha: 0.1}, ...]), {range: [1, 64]}, "
                 "{grid: {alpha: [0.1, 0.2]}} or {sql: \"SELECT n FROM ...\"}");
  p.CheckKeys(node, "sequence", {"range", "sql", "grid"});
  if (node["grid"]) return ParseGrid(p, node["grid"], spec);
  if (node["range"]) {
    const YAML::Node& r = node["range"];
    if (!r.IsSequence() || (r.size() != 2 && r.size() != 3))
      p.Fail(r, "sequence.range must be [first, last] or [first, last, step] (both ends included)");
    seq.kind = SequenceSpec::Kind::kRange;
    seq.first = p.Int(r[0], "sequence.range first", INT64_MIN);
    seq.last = p.Int(r[1], "sequence.range last", INT64_MIN);
    if (r.size() == 3) seq.step = p.Int(r[2], "sequence.range step", 1);
    p.Check(r, Range(seq.first, seq.last, seq.step));
  } else {
    seq.kind = SequenceSpec::Kind::kSql;
    seq.sql = p.Str(node["sql"], "sequence.sql");
  }
}

// The output names of a sequence of parameter sets, when they can be told
// without the engine (no SQL axis): each a safe folder name, and all distinct
// (also in case). The plan checks them again, as it does every name.
void CheckParamSetNames(const Parser& p, const YAML::Node& root, const JobSpec& spec) {
  const SequenceSpec& seq = spec.sequence;
  if (!IsParamSets(seq) || HasSqlAxis(seq)) return;
  const YAML::Node name_node = root["output"] && root["output"]["name"] ? root["output"]["name"] : root["sequence"];
  auto items = ExpandParamSets(seq, nullptr);
  if (!items.ok() && seq.kind == SequenceSpec::Kind::kSets) throw SpecError{items.status().message()};  // has its place
  if (!items.ok()) p.Fail(root["sequence"], items.status().message());
  std::map<std::string, std::string> ns;                                     // n -> where
  std::map<std::string, std::pair<std::string, std::string>> names;          // lower-cased -> name, where
  for (const SequenceItem& item : *items) {
    const std::string key = item.n.ToString();
    const std::string where = item.where.empty() ? "grid point n = " + key : item.where;
    if (auto [other, fresh] = ns.emplace(key, where); !fresh)
      Parser::FailAt(where, "n = " + key + " is given twice (also at " + other->second + "): each iteration needs its own n");
    Params params = spec.params;
    for (const auto& [k, v] : item.params) params[k] = v;
    if (auto o = spec.overrides.find(key); o != spec.overrides.end())
      for (const auto& [k, v] : o->second) params[k] = v;
    auto name = ExpandOutputName(spec.output.name, key, item.kind, params);
    if (!name.ok()) p.Fail(name_node, name.status().message() + " (n = " + key + ")");
    if (std::string e = FolderNameProblem(*name); !e.empty())
      Parser::FailAt(item.where.empty() ? p.Where(name_node) : item.where,
                     "output.name gives '" + *name + "' for n = " + key + ": " + e);
    std::string lower = *name;
    for (char& c : lower) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    if (auto [other, fresh] = names.emplace(lower, std::make_pair(*name, where)); !fresh)
      Parser::FailAt(item.where.empty() ? p.Where(name_node) : item.where,
                     "output.name gives '" + *name + "' for n = " + key + " and '" + other->second.first + "' for " +
                         other->second.second + (other->second.first == *name ? "" : ", which differ only in case") +
                         ": every iteration needs a folder of its own (put more params in output.name)");
  }
}

// after: {56: [2, 3], 9: {kind: agg}, final: [fit, {kind: [agg, score]}]}
void ParseAfter(const Parser& p, const YAML::Node& node, JobSpec& spec) {
  if (!node.IsMap())
    p.Fail(node, "after must map an iteration to those it waits for, e.g. `after: {56: [2, 3], 9: {kind: agg}}`");
  for (const auto& kv : node) {
    AfterSpec a;
    a.of = p.Str(kv.first, "after's key (an iteration's n or output name)");
    a.where = p.Where(kv.first);
    const std::string what = "after." + a.of;
    std::vector<YAML::Node> items;
    if (kv.second.IsSequence()) {
      for (const auto& e : kv.second) items.push_back(e);
    } else {
      items.push_back(kv.second);
    }
    std::vector<std::string> kinds_where;
    for (const YAML::Node& e : items) {
      if (e.IsScalar()) {
        a.needs.push_back(e.as<std::string>());
        a.needs_where.push_back(p.Where(e));
        continue;
      }
      if (!e.IsMap()) p.Fail(e, what + " must list iterations (n or output names) or {kind: name}");
      p.CheckKeys(e, what, {"kind"});
      if (!e["kind"]) p.Fail(e, what + ": give {kind: name}");
      const YAML::Node k = e["kind"];
      std::vector<YAML::Node> kinds;
      if (k.IsSequence()) {
        for (const auto& kind : k) kinds.push_back(kind);
      } else {
        kinds.push_back(k);
      }
      for (const YAML::Node& kind : kinds) {
        a.kinds.push_back(p.Str(kind, what + ".kind"));
        kinds_where.push_back(p.Where(kind));
      }
    }
    if (a.needs.empty() && a.kinds.empty()) p.Fail(kv.second, what + " is empty: list what it waits for, or remove it");
    a.needs_where.insert(a.needs_where.end(), kinds_where.begin(), kinds_where.end());
    spec.after.push_back(std::move(a));
  }
}

void ParseOutput(const Parser& p, const YAML::Node& node, JobSpec& spec) {
  p.CheckKeys(node, "output", {"dir", "name", "format", "compression", "mode", "max_file_size"});
  OutputSpec& o = spec.output;
  if (node["dir"]) o.dir = p.Location(node["dir"], "output.dir");
  if (node["name"]) {
    o.name = p.Str(node["name"], "output.name");
    p.Check(node["name"], OutputName(o.name, IsParamSets(spec.sequence)));
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
  if (node["max_file_size"]) {
    o.max_file_bytes = p.Bytes(node["max_file_size"], "output.max_file_size");
    p.Check(node["max_file_size"], MaxFileBytes(o.max_file_bytes));
  }
}

void ParseRun(const Parser& p, const YAML::Node& node, JobSpec& spec) {
  p.CheckKeys(node, "run", {"max_workers", "threads", "memory_limit", "retries", "retry_backoff", "timeout", "on_failure", "order", "timezone", "fuse"});
  RunSpec& r = spec.run;
  if (node["max_workers"]) r.max_workers = p.AutoOrPositive(node["max_workers"], "run.max_workers");
  if (node["threads"]) r.threads = p.AutoOrPositive(node["threads"], "run.threads");
  if (node["memory_limit"]) {
    r.memory_limit = p.Str(node["memory_limit"], "run.memory_limit");
    p.Check(node["memory_limit"], MemoryLimit(r.memory_limit));
  }
  if (node["retries"])
    r.retries = static_cast<int>(p.IntIn(node["retries"], "run.retries", 0, kMaxRetries, " (retries of transient errors)"));
  if (node["retry_backoff"]) r.retry_backoff_seconds = p.Duration(node["retry_backoff"], "run.retry_backoff");
  if (node["timeout"]) {
    r.timeout_seconds = p.Duration(node["timeout"], "run.timeout");
    p.Check(node["timeout"], Timeout(r.timeout_seconds));
  }
  if (node["on_failure"]) r.stop_on_failure = p.OneOf(node["on_failure"], "run.on_failure", {"continue", "stop"}) == "stop";
  if (node["timezone"]) {
    r.timezone = p.Str(node["timezone"], "run.timezone");
    p.Check(node["timezone"], Timezone(r.timezone));
  }
  if (node["order"])
    r.order = p.OneOf(node["order"], "run.order", {"longest_first", "given"}) == "given" ? RunSpec::Order::kGiven
                                                                                        : RunSpec::Order::kLongestFirst;
  if (node["fuse"]) {
    const std::string fuse = p.OneOf(node["fuse"], "run.fuse", {"auto", "always", "off"});
    r.fuse = fuse == "off" ? RunSpec::Fuse::kOff : fuse == "always" ? RunSpec::Fuse::kAlways : RunSpec::Fuse::kAuto;
  }
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
    Params& params = spec.overrides[n];
    for (auto& d : ParamDefs(p, kv.second, "overrides." + n)) {
      CheckKnownParam(spec.params, d.name, d.where, " in overrides." + n);
      params[d.name] = std::move(d.value);
    }
  }
}

// What a value is, for messages: "the integer 2", "the text 'abc'", "a list".
std::string Describe(const Value& v) {
  switch (v.v.index()) {
    case 0: return "null";
    case 1: return v.ToString();
    case 2: return "the integer " + v.ToString();
    case 3: return "the number " + v.ToString();
    case 4: return "the text '" + v.ToString() + "'";
    case 5: return "a list";
    default: return "a map";
  }
}

// What a param of the job's type takes, for messages.
std::string Expected(const Value& v) {
  switch (v.v.index()) {
    case 1: return "a boolean, so the value must be true or false";
    case 2: return "an integer, so the value must be an integer";
    case 3: return "a number, so the value must be an integer or a decimal number";
    case 5: return "a list, so the value must be a YAML list such as [a, b]";
    default: return "a map, so the value must be a YAML map such as {a: 1}";
  }
}

bool IsQuoted(const std::string& text) {
  return text.size() >= 2 && (text[0] == '"' || text[0] == '\'') && text.back() == text[0];
}

// The text itself, or the content of one YAML quoted scalar ('a b', "" ...).
std::string Unquoted(const std::string& text) {
  if (!IsQuoted(text)) return text;
  try {
    YAML::Node node = YAML::Load(text);
    if (node.IsScalar()) return node.Scalar();
  } catch (const YAML::Exception&) {
  }
  return text;
}

// A --set value as YAML (duplicate keys rejected).
YAML::Node LoadSetValue(const std::string& text, const std::string& what) {
  YAML::Node node;
  try {
    node = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw SpecError{what + ": the value is not valid YAML: " + e.msg};
  }
  DuplicateKeyCheck(Parser(what, "")).Walk(node);
  return node;
}

// A --set value for a param whose value in the job is `current`: a text
// param takes the raw text (unquoted when it is one YAML quoted scalar, so
// "" is the empty string); a param that is null in the job takes any YAML
// value; every other param keeps its type (an integer widens to a number).
Value SetValue(const Value& current, const std::string& key, const std::string& text, const std::string& what) {
  if (std::holds_alternative<std::string>(current.v)) return Value(Unquoted(text));
  YAML::Node node = LoadSetValue(text, what);
  Value v = Parser(what, "").ToValue(node, key);
  if (current.is_null() || v.v.index() == current.v.index()) return v;
  if (std::holds_alternative<double>(current.v) && std::holds_alternative<int64_t>(v.v))
    return Value(static_cast<double>(std::get<int64_t>(v.v)));
  throw SpecError{what + ": '" + key + "' is " + Expected(current) + " (it is " + current.ToJson() +
                  " in the job), got " + Describe(v)};
}

// --set name=value: sets a param the job declares (inline or included),
// keeping its type; each param at most once.
void ApplySets(const std::vector<std::string>& sets, JobSpec& spec) {
  std::map<std::string, std::string> given;  // param -> the --set that set it
  for (const std::string& s : sets) {
    const std::string what = "--set " + s;
    auto eq = s.find('=');
    if (eq == std::string::npos) throw SpecError{what + ": expected name=value, e.g. --set scale=2"};
    std::string key = s.substr(0, eq), text = s.substr(eq + 1);
    if (IsReservedParam(key))
      throw SpecError{what + ": '" + key + "' cannot be set: $n and $kind are bound by fanout for each iteration " +
                      "(use --only to choose iterations)"};
    CheckKnownParam(spec.params, key, what, "");
    auto [earlier, fresh] = given.emplace(key, s);
    if (!fresh)
      throw SpecError{what + ": '" + key + "' is set twice (--set " + earlier->second + " and --set " + s +
                      "); give each param once"};
    if (text.empty())  // the shell turns k="" into k=
      throw SpecError{what + ": the value is empty; give a value ('" + key + "' is " + spec.params.at(key).ToJson() +
                      " in the job), or for an empty string a YAML \"\" in shell quotes: --set '" + key + "=\"\"'"};
    spec.params[key] = SetValue(spec.params.at(key), key, text, what);
  }
}

JobSpec Parse(const YAML::Node& root, const std::string& path, const std::vector<std::string>& sets) {
  JobSpec spec;
  spec.path = path;
  spec.base_dir = fs::path(path).parent_path().string();
  Parser p(path, spec.base_dir);
  if (!root.IsMap()) p.Fail(root, "a job file must be a YAML mapping with inputs, sequence, transform, output");
  DuplicateKeyCheck(p).Walk(root);
  p.CheckKeys(root, "the job file",
              {"name", "inputs", "params", "prepare", "sequence", "transform", "transforms", "overrides", "output", "run",
               "cache", "after", "batch_transform"});
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
    CaseCollisions kinds("kind");
    for (const auto& kv : root["transforms"]) {
      std::string kind = kv.first.as<std::string>();
      p.Check(kv.first, kinds.Add(kind, p.Where(kv.first)));
      spec.transforms[kind] = ParseTransform(p, kv.second, "transforms." + kind);
    }
  }
  if (root["batch_transform"]) {
    if (spec.transform || !spec.transforms.empty())
      p.Fail(root["batch_transform"], "batch_transform runs every iteration: give it or transform(s), not both");
    spec.transform = ParseTransform(p, root["batch_transform"], "batch_transform");
    spec.transform->batch = true;
  }
  if (!spec.transform && spec.transforms.empty())
    p.Fail(root, "the job needs a transform: inline SQL or a .sql file (or transforms: per kind)");
  if (root["overrides"]) ParseOverrides(p, root["overrides"], spec);
  if (root["output"]) ParseOutput(p, root["output"], spec);
  if (root["run"]) ParseRun(p, root["run"], spec);
  if (root["after"]) ParseAfter(p, root["after"], spec);
  spec.cache.dir = (fs::path(spec.base_dir) / ".fanout-cache").string();
  if (root["cache"]) ParseCache(p, root["cache"], spec);
  p.Check(root["cache"] ? root["cache"] : root, CacheOutsideOutput(spec.cache, spec.output));
  ApplySets(sets, spec);
  CheckParamSetNames(p, root, spec);
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
