// The proof (ProveFusable) is conservative: a statement fuses only when every
// part of its tree is one of these, anything else runs per iteration.
//
//   the statement   one SELECT (no UNION/EXCEPT/INTERSECT, no recursive CTE)
//   $params         in the select list, WHERE, GROUP BY, HAVING, ORDER BY,
//                   the ON of a join on the FROM clause's left spine (INNER
//                   or LEFT joins only: the sequence table is joined to the
//                   leftmost table, so each n sees its own rows), and in
//                   expression subqueries (correlated, per row); never in a
//                   CTE, a FROM subquery, a table function or a join beside
//                   the spine
//   never anywhere  LIMIT/OFFSET, window functions and QUALIFY, SAMPLE,
//                   DISTINCT ON, PIVOT, COLUMNS(...), a function that is not
//                   CONSISTENT in the engine's catalog (random, now, nextval,
//                   current_date, ...), a function the catalog does not know
//                   (a user macro), RIGHT/FULL/SEMI/ANTI/ASOF/POSITIONAL/
//                   NATURAL/LATERAL joins on the spine
//   aggregates      only with a plain GROUP BY (one grouping set, not GROUP BY
//                   ALL): without one, an n with no rows would lose the one
//                   row it gets alone
#include "fuse.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "plan.h"
#include "sql_policy.h"
#include "util.h"

namespace fanout {

using Json = nlohmann::ordered_json;

Result<FunctionCatalog> LoadFunctionCatalog(Connection& con) {
  auto t = con.Query(
      "SELECT function_name, function_type, coalesce(stability, '') AS stability, internal FROM duckdb_functions()");
  if (!t.ok()) return t.status();
  FunctionCatalog c;
  for (const auto& row : t->rows) {
    const std::string name = row[0].ToString(), type = row[1].ToString(), stability = row[2].ToString();
    const bool internal = std::holds_alternative<bool>(row[3].v) && std::get<bool>(row[3].v);
    if (type == "aggregate") c.aggregates.insert(name);
    const bool table_or_macro = type == "table" || type == "macro" || type == "table_macro";
    if (stability == "CONSISTENT" || (table_or_macro && internal))
      c.deterministic.insert(name);
    else
      c.unstable.insert(name);
  }
  for (const std::string& name : c.unstable) c.deterministic.erase(name);
  return c;
}

namespace {

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

bool Present(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && !it->is_null();
}

// Walks a subtree; `params_ok` says whether a $param may appear in it.
class Prover {
 public:
  explicit Prover(const FunctionCatalog& catalog) : catalog_(catalog) {}
  const std::string& why() const { return why_; }
  bool Fail(const std::string& why) {
    if (why_.empty()) why_ = why;
    return false;
  }
  bool Walk(const Json& j, bool params_ok);
  bool Spine(const Json& ref);
  bool QueryNode(const Json& node);

 private:
  bool Expression(const Json& e, bool params_ok);
  bool TableRef(const Json& ref, bool& params_ok);
  const FunctionCatalog& catalog_;
  std::string why_;
};

bool Prover::Expression(const Json& e, bool params_ok) {
  const std::string cls = Str(e, "class");
  if (cls == "WINDOW") return Fail("it uses a window function (each n would see the others' rows)");
  if (cls == "PARAMETER" && !params_ok)
    return Fail("$" + Str(e, "identifier") + " is used in a CTE, a FROM subquery, a table function or a join beside "
                "the FROM clause's leftmost table");
  if (cls == "STAR" && e.value("columns", false)) return Fail("it uses COLUMNS(...)");
  if (cls == "FUNCTION") {
    const std::string name = Str(e, "function_name");
    if (catalog_.unstable.count(name)) return Fail(name + "() is not deterministic");
    if (!catalog_.deterministic.count(name) && !catalog_.aggregates.count(name))
      return Fail(name + "() is not a built-in function fanout knows to be deterministic");
  }
  if (cls == "COLUMN_REF") {
    const Json& names = e["column_names"];
    if (names.size() == 1 && catalog_.unstable.count(names[0].get<std::string>()))
      return Fail(names[0].get<std::string>() + " is not deterministic");
  }
  return true;
}

bool Prover::QueryNode(const Json& node) {
  const std::string type = Str(node, "type");
  if (type == "SET_OPERATION_NODE") return Fail("it has a UNION, EXCEPT or INTERSECT");
  if (type == "RECURSIVE_CTE_NODE") return Fail("it has a recursive CTE");
  if (type != "SELECT_NODE" && type != "CTE_NODE") return Fail("it has a " + type);
  for (const Json& m : node.value("modifiers", Json::array())) {
    const std::string mt = Str(m, "type");
    if (mt == "LIMIT_MODIFIER" || mt == "LIMIT_PERCENT_MODIFIER") return Fail("it has a LIMIT or OFFSET");
    if (mt == "DISTINCT_MODIFIER" && !m.value("distinct_on_targets", Json::array()).empty())
      return Fail("it has DISTINCT ON");
  }
  if (Present(node, "qualify")) return Fail("it has QUALIFY (a window function)");
  if (Present(node, "sample")) return Fail("it samples rows (USING SAMPLE)");
  return true;
}

// A table reference met by Walk: what it may contain.
bool Prover::TableRef(const Json& ref, bool& params_ok) {
  const std::string type = Str(ref, "type");
  if (Present(ref, "sample")) return Fail("it samples rows (TABLESAMPLE)");
  if (type == "TABLE_FUNCTION" || type == "SUBQUERY") params_ok = false;
  if (type == "JOIN" && (Str(ref, "ref_type") == "ASOF" || Str(ref, "ref_type") == "POSITIONAL"))
    return Fail("it has an ASOF or POSITIONAL join");
  if (type == "PIVOT" || type == "SHOW_REF" || type == "COLUMN_DATA" || type == "DELIM_GET")
    return Fail("it has a " + type);
  return true;
}

bool Prover::Walk(const Json& j, bool params_ok) {
  if (j.is_array()) {
    for (const Json& e : j)
      if (!Walk(e, params_ok)) return false;
    return true;
  }
  if (!j.is_object()) return true;
  if (j.contains("class")) {
    if (!Expression(j, params_ok)) return false;
  } else if (j.contains("modifiers") && j.contains("type")) {
    if (!QueryNode(j)) return false;
  } else if (j.contains("type") && j.contains("alias") && j.contains("query_location")) {
    if (!TableRef(j, params_ok)) return false;
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    // A CTE's body is computed once for every n: no $param in it.
    const bool ok = it.key() == "cte_map" ? false : params_ok;
    if (!Walk(it.value(), ok)) return false;
  }
  return true;
}

// The FROM clause's left spine: the sequence table joins its leftmost table,
// so only the ON of INNER and LEFT joins on the way there may use $params.
bool Prover::Spine(const Json& ref) {
  if (Str(ref, "type") != "JOIN") return Walk(ref, false);
  const std::string jt = Str(ref, "join_type"), rt = Str(ref, "ref_type");
  if ((jt != "INNER" && jt != "LEFT") || (rt != "REGULAR" && rt != "CROSS"))
    return Fail("it has a " + jt + " " + rt + " join (only INNER and LEFT joins keep each n's rows its own)");
  if (Present(ref, "sample")) return Fail("it samples rows (TABLESAMPLE)");
  return Walk(ref["condition"], true) && Walk(ref["right"], false) && Spine(ref["left"]);
}

// Whether `j` (not looking into subqueries) calls an aggregate function.
bool HasAggregate(const Json& j, const FunctionCatalog& catalog) {
  if (j.is_array()) {
    for (const Json& e : j)
      if (HasAggregate(e, catalog)) return true;
    return false;
  }
  if (!j.is_object() || Str(j, "class") == "SUBQUERY") return false;
  if (Str(j, "class") == "FUNCTION" && catalog.aggregates.count(Str(j, "function_name"))) return true;
  for (auto it = j.begin(); it != j.end(); ++it)
    if (HasAggregate(it.value(), catalog)) return true;
  return false;
}

std::string ProveGrouping(const Json& node, const FunctionCatalog& catalog) {
  const bool grouped = !node["group_expressions"].empty();
  if (Str(node, "aggregate_handling") != "STANDARD_HANDLING") return "it uses GROUP BY ALL";
  if (grouped && node["group_sets"].size() != 1) return "it uses GROUPING SETS, ROLLUP or CUBE";
  const bool aggregates = HasAggregate(node["select_list"], catalog) || Present(node, "having") ||
                          HasAggregate(node["modifiers"], catalog);
  if (aggregates && !grouped)
    return "it aggregates without GROUP BY (alone, an n with no rows still gets one row; fused it would get none)";
  return "";
}

}  // namespace

std::string ProveFusable(const Json& statement, const FunctionCatalog& catalog) {
  const Json& node = statement["node"];
  if (Str(node, "type") != "SELECT_NODE") return "it is not a single SELECT (" + Str(node, "type") + ")";
  Prover p(catalog);
  bool ok = p.Walk(node["cte_map"], false);
  for (const char* key : {"select_list", "where_clause", "group_expressions", "having", "modifiers"})
    ok = ok && p.Walk(node[key], true);
  ok = ok && p.Spine(node["from_table"]) && p.QueryNode(node);
  if (!ok) return p.why();
  return ProveGrouping(node, catalog);
}

namespace {

bool HasDistinctAggregate(const Json& j, const FunctionCatalog& catalog) {
  if (j.is_array()) return std::any_of(j.begin(), j.end(), [&](const Json& e) { return HasDistinctAggregate(e, catalog); });
  if (!j.is_object() || Str(j, "class") == "SUBQUERY") return false;
  if (Str(j, "class") == "FUNCTION" && catalog.aggregates.count(Str(j, "function_name")) && j.value("distinct", false))
    return true;
  for (auto it = j.begin(); it != j.end(); ++it)
    if (HasDistinctAggregate(it.value(), catalog)) return true;
  return false;
}

}  // namespace

std::string FusionLoses(const Json& statement, const FunctionCatalog& catalog) {
  const Json& node = statement["node"];
  if (node["group_expressions"].empty())
    return "not a grouped aggregate: fused, every result row is written twice (measured slower; run.fuse: always "
           "fuses it anyway)";
  if (HasDistinctAggregate(node, catalog))
    return "a DISTINCT aggregate: fused, its hash table holds every n's values at once (measured slower; run.fuse: "
           "always fuses it anyway)";
  return "";
}

namespace {

Json ColumnRef(const std::vector<std::string>& names, const std::string& alias) {
  return Json{{"class", "COLUMN_REF"},
              {"type", "COLUMN_REF"},
              {"alias", alias},
              {"query_location", UINT64_MAX},
              {"column_names", names}};
}

std::string SeqColumn(const std::string& param) { return kFusedPrefix + param; }

// Every PARAMETER node becomes the sequence table's column for it.
void ReplaceParams(Json& j) {
  if (j.is_array()) {
    for (Json& e : j) ReplaceParams(e);
    return;
  }
  if (!j.is_object()) return;
  if (Str(j, "class") == "PARAMETER") {
    j = ColumnRef({kFusedSeqTable, SeqColumn(Str(j, "identifier"))}, Str(j, "alias"));
    return;
  }
  for (auto it = j.begin(); it != j.end(); ++it) ReplaceParams(it.value());
}

bool ContainsParam(const Json& j) {
  if (j.is_array()) return std::any_of(j.begin(), j.end(), ContainsParam);
  if (!j.is_object()) return false;
  if (Str(j, "class") == "PARAMETER") return true;
  for (auto it = j.begin(); it != j.end(); ++it)
    if (ContainsParam(it.value())) return true;
  return false;
}

Json SeqTableRef() {
  return Json{{"type", "BASE_TABLE"},   {"alias", ""},        {"sample", nullptr}, {"query_location", UINT64_MAX},
              {"schema_name", ""},      {"table_name", kFusedSeqTable},            {"column_name_alias", Json::array()},
              {"catalog_name", ""},     {"at_clause", nullptr}};
}

// seq JOIN <the leftmost table of the FROM clause> ON seq.n = seq.n (true:
// n is never NULL). Not a CROSS JOIN: the engine prints that as a comma,
// which binds looser than the joins after it.
void JoinSequence(Json& ref) {
  if (Str(ref, "type") == "JOIN") return JoinSequence(ref["left"]);
  if (Str(ref, "type") == "EMPTY") {
    ref = SeqTableRef();
    return;
  }
  const std::vector<std::string> n{kFusedSeqTable, SeqColumn("n")};
  Json on{{"class", "COMPARISON"}, {"type", "COMPARE_EQUAL"}, {"alias", ""}, {"query_location", UINT64_MAX},
          {"left", ColumnRef(n, "")}, {"right", ColumnRef(n, "")}};
  Json join{{"type", "JOIN"},
            {"alias", ""},
            {"sample", nullptr},
            {"query_location", UINT64_MAX},
            {"left", SeqTableRef()},
            {"right", ref},
            {"condition", on},
            {"join_type", "INNER"},
            {"ref_type", "REGULAR"},
            {"using_columns", Json::array()},
            {"delim_flipped", false},
            {"duplicate_eliminated_columns", Json::array()}};
  ref = std::move(join);
}

// Keeps each select item's name as the separate query has it, and keeps the
// sequence table's columns out of an unqualified *.
void FixSelectList(Json& list, const std::vector<std::string>& params, const std::vector<std::string>& names) {
  bool star = false;
  for (const Json& e : list) star = star || Str(e, "class") == "STAR";
  for (size_t i = 0; i < list.size(); ++i) {
    Json& e = list[i];
    if (!star && i < names.size() && Str(e, "alias").empty() && ContainsParam(e)) e["alias"] = names[i];
    if (Str(e, "class") != "STAR" || !Str(e, "relation_name").empty()) continue;
    for (const std::string& p : params)
      e["qualified_exclude_list"].push_back(
          Json{{"catalog", ""}, {"schema", ""}, {"table", kFusedSeqTable}, {"column", SeqColumn(p)}});
  }
}

}  // namespace

void RewriteFused(Json& statement, const std::vector<std::string>& params, const std::vector<std::string>& names) {
  Json& node = statement["node"];
  FixSelectList(node["select_list"], params, names);
  ReplaceParams(node);
  JoinSequence(node["from_table"]);
  const std::string n_col = SeqColumn("n");
  node["select_list"].push_back(ColumnRef({kFusedSeqTable, n_col}, n_col));
  if (!node["group_expressions"].empty()) {
    for (const std::string& p : params) {
      node["group_sets"][0].push_back(node["group_expressions"].size());
      node["group_expressions"].push_back(ColumnRef({kFusedSeqTable, SeqColumn(p)}, ""));
    }
  }
  for (Json& m : node["modifiers"]) {
    if (Str(m, "type") != "ORDER_MODIFIER") continue;
    Json first{{"type", "ASCENDING"}, {"null_order", "ORDER_DEFAULT"}, {"expression", ColumnRef({n_col}, "")}};
    m["orders"].insert(m["orders"].begin(), first);
  }
}

void StripLocations(Json& j) {
  if (j.is_array()) {
    for (Json& e : j) StripLocations(e);
  } else if (j.is_object()) {
    j.erase("query_location");
    for (auto it = j.begin(); it != j.end(); ++it) StripLocations(it.value());
  }
}

std::string SequenceTableStatement(const Params& params) {
  std::string cols;
  for (const auto& [name, value] : params) cols += std::string(cols.empty() ? "" : ", ") + "$" + name + " AS " +
                                                  QuoteIdentifier(name);
  return std::string("CREATE TEMP TABLE ") + kSequenceTable + " AS SELECT " + cols;
}

}  // namespace fanout
