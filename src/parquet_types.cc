#include "parquet_types.h"

namespace fanout {
namespace {

// What Parquet does to a type at the top of `t` (its children are checked
// separately); false when it holds it exactly.
bool Classify(const ColumnType& t, ParquetIssue& out) {
  out.type = t.sql;
  switch (t.id) {
    case TypeId::kHugeint:
    case TypeId::kUhugeint:
      out.becomes = "DOUBLE";
      out.lossy = true;
      out.fix = "cast it to DECIMAL(38,0) (exact up to 38 digits) or VARCHAR, or to BIGINT if the values fit";
      return true;
    case TypeId::kTimeTz:
      out.becomes = "TIME WITH TIME ZONE with the offset dropped (12:00:00+02 reads back as 12:00:00+00)";
      out.lossy = true;
      out.fix = "cast it to VARCHAR, or keep the time and its offset in two columns";
      return true;
    case TypeId::kInterval:
      out.becomes = "INTERVAL in milliseconds (microseconds are cut; a negative interval fails the write)";
      out.lossy = true;
      out.fix = "cast it to VARCHAR, or store a number such as epoch_us(...) of the interval";
      return true;
    case TypeId::kUnion: {
      out.becomes = "STRUCT(tag UTINYINT, one field per member)";
      out.lossy = true;
      out.fix = "cast it to the member type you need, or to VARCHAR";
      return true;
    }
    case TypeId::kBit:
    case TypeId::kBignum:
    case TypeId::kTimeNs:
    case TypeId::kEnum:
      out.becomes = "VARCHAR";
      out.fix = t.id == TypeId::kBignum   ? "cast it to DECIMAL(38,0) if it fits, or to VARCHAR"
                : t.id == TypeId::kTimeNs ? "cast it to TIME (microseconds) or VARCHAR"
                                          : "cast it to VARCHAR";
      return true;
    case TypeId::kArray:
      out.becomes = t.children.empty() ? "a LIST" : t.children[0].type.sql + "[]";
      out.fix = "cast it to " + out.becomes + " (the elements are kept)";
      return true;
    case TypeId::kTimestampS:
    case TypeId::kTimestampMs:
      out.becomes = "TIMESTAMP";
      out.fix = "cast it to TIMESTAMP (the instants are kept)";
      return true;
    case TypeId::kInvalid:
    case TypeId::kAny:
    case TypeId::kOther:
      out.becomes = "an unknown type (the engine does not report this one; TIME_NS becomes VARCHAR)";
      out.lossy = true;
      out.fix = "cast it to a standard type, e.g. VARCHAR or TIME";
      return true;
    default:
      return false;
  }
}

std::string ChildPath(const std::string& parent, TypeId id, const std::string& child) {
  if (id == TypeId::kList || id == TypeId::kArray) return parent + "[]";
  return parent + "." + child;
}

void Collect(const std::string& path, const ColumnType& t, std::vector<ParquetIssue>& out) {
  ParquetIssue issue;
  issue.path = path;
  if (Classify(t, issue)) out.push_back(std::move(issue));
  for (const ResultColumn& child : t.children) Collect(ChildPath(path, t.id, child.name), child.type, out);
}

}  // namespace

std::string ParquetIssue::ToString() const {
  std::string what = path.find_first_of(".[") == std::string::npos ? "column \"" + path + "\"" : "\"" + path + "\"";
  return what + " (" + type + ") is written to Parquet as " + becomes + (lossy ? ", changing its values" : "") +
         ": " + fix;
}

std::vector<ParquetIssue> ParquetIssues(const std::vector<ResultColumn>& columns) {
  std::vector<ParquetIssue> out;
  for (const ResultColumn& c : columns) Collect(c.name, c.type, out);
  return out;
}

std::string ParquetCannotHold(const ResultColumn& column) {
  std::string out;
  for (const ParquetIssue& i : ParquetIssues({column})) out += (out.empty() ? "" : "\n") + i.ToString();
  return out;
}

}  // namespace fanout
