#include "sequence.h"

#include <algorithm>

#include "spec_check.h"
#include "util.h"

namespace fanout {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return s;
}

// A set's (or grid point's) n and kind out of its values: they name the
// iteration; the rest are params.
Status TakeNameAndKind(ValueMap values, size_t position, SequenceItem& item) {
  item.n = Value(static_cast<int64_t>(position));
  for (auto& [key, value] : values) {
    if (key == "n") {
      if (!std::holds_alternative<int64_t>(value.v) && !std::holds_alternative<std::string>(value.v))
        return Status::Invalid("n must be an integer or a name, got " + value.ToJson());
      item.n = value;
    } else if (key == "kind") {
      if (!std::holds_alternative<std::string>(value.v))
        return Status::Invalid("kind must be a name (text), got " + value.ToJson());
      item.kind = std::get<std::string>(value.v);
    } else {
      item.params.emplace_back(key, std::move(value));
    }
  }
  return Status::Ok();
}

// The values each axis takes: one map per value (an SQL axis: per row).
Result<std::vector<std::vector<ValueMap>>> AxisValues(const SequenceSpec& seq, const AxisQuery& query) {
  std::vector<std::vector<ValueMap>> axes;
  uint64_t total = 1;
  for (const GridAxis& axis : seq.grid) {
    std::vector<ValueMap> values;
    if (!axis.sql.empty()) {
      if (!query) return Status::Invalid("sequence.grid." + axis.name + ": an SQL axis needs the engine");
      FANOUT_ASSIGN_OR_RETURN(values, query(axis));
      if (values.empty())
        return Status::Invalid("sequence.grid." + axis.name + ".sql returned no rows: the grid would be empty");
    } else {
      for (const Value& v : axis.values) values.push_back(ValueMap{{axis.name, v}});
    }
    if (values.empty()) return Status::Invalid("sequence.grid." + axis.name + " is empty: give at least one value");
    total *= values.size();
    if (total > static_cast<uint64_t>(spec_check::kMaxIterations))
      return Status::Invalid("sequence.grid has more than 10 million points");
    axes.push_back(std::move(values));
  }
  if (axes.empty()) return Status::Invalid("sequence.grid has no axes: give at least one, e.g. {alpha: [0.1, 0.2]}");
  return axes;
}

Result<std::vector<SequenceItem>> ExpandGrid(const SequenceSpec& seq, const AxisQuery& query) {
  FANOUT_ASSIGN_OR_RETURN(auto axes, AxisValues(seq, query));
  std::vector<SequenceItem> out;
  std::vector<size_t> at(axes.size(), 0);
  for (size_t position = 1;; ++position) {
    ValueMap point;
    for (size_t a = 0; a < axes.size(); ++a)
      for (const auto& kv : axes[a][at[a]]) point.push_back(kv);
    SequenceItem item;
    Status st = TakeNameAndKind(std::move(point), position, item);
    if (!st.ok()) return st.WithPrefix("sequence.grid point " + std::to_string(position));
    out.push_back(std::move(item));
    size_t a = axes.size();
    while (a > 0 && ++at[a - 1] == axes[a - 1].size()) at[--a] = 0;
    if (a == 0) return out;
  }
}

}  // namespace

bool IsParamSets(const SequenceSpec& seq) {
  return seq.kind == SequenceSpec::Kind::kSets || seq.kind == SequenceSpec::Kind::kGrid;
}

bool HasSqlAxis(const SequenceSpec& seq) {
  if (seq.kind != SequenceSpec::Kind::kGrid) return false;
  return std::any_of(seq.grid.begin(), seq.grid.end(), [](const GridAxis& a) { return !a.sql.empty(); });
}

Result<std::vector<SequenceItem>> ExpandParamSets(const SequenceSpec& seq, const AxisQuery& query) {
  if (seq.kind == SequenceSpec::Kind::kGrid) return ExpandGrid(seq, query);
  std::vector<SequenceItem> out;
  for (size_t i = 0; i < seq.sets.size(); ++i) {
    SequenceItem item;
    item.where = i < seq.where.size() ? seq.where[i] : "";
    Status st = TakeNameAndKind(seq.sets[i], i + 1, item);
    if (!st.ok()) return st.WithPrefix(item.where.empty() ? "sequence[" + std::to_string(i) + "]" : item.where);
    out.push_back(std::move(item));
  }
  if (out.empty()) return Status::Invalid("sequence is empty: list at least one iteration");
  return out;
}

Result<std::string> ExpandOutputName(const std::string& pattern, const std::string& n, const std::string& kind,
                                     const Params& params) {
  std::string out;
  for (size_t i = 0; i < pattern.size();) {
    size_t close = pattern[i] == '{' ? pattern.find('}', i) : std::string::npos;
    if (close == std::string::npos) {
      out += pattern[i++];
      continue;
    }
    const std::string name = pattern.substr(i + 1, close - i - 1);
    i = close + 1;
    if (name == "n" || name == "kind") {
      out += name == "n" ? n : kind;
      continue;
    }
    auto p = params.find(name);
    if (p == params.end())
      return Status::Invalid("output.name: {" + name + "} is not n, kind or a param of the iteration");
    const Value& v = p->second;
    if (v.is_null() || std::holds_alternative<ValueList>(v.v) || std::holds_alternative<ValueMap>(v.v))
      return Status::Invalid("output.name: {" + name + "} is " + v.ToJson() +
                             ", which cannot name a folder (use text, numbers or booleans)");
    out += v.ToString();
  }
  return out;
}

std::string FolderNameProblem(const std::string& name) {
  if (!IsSafePathComponent(name))
    return "it must be one folder name of letters, digits and . _ = + - (at most 200 bytes; no '/', '..', spaces "
           "or control characters)";
  if (name[0] == '.' || name[0] == '_') return "it must not start with . or _ (those are fanout's own)";
  std::string stem = Lower(name.substr(0, name.find('.')));
  static const char* const kReserved[] = {"con", "prn", "aux", "nul"};
  bool reserved = std::find(std::begin(kReserved), std::end(kReserved), stem) != std::end(kReserved) ||
                  (stem.size() == 4 && (stem.rfind("com", 0) == 0 || stem.rfind("lpt", 0) == 0) && stem[3] >= '1' &&
                   stem[3] <= '9');
  if (reserved) return "'" + stem + "' is a reserved device name on Windows: choose another name";
  return "";
}

}  // namespace fanout
