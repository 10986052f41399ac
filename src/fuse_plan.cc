// PlanFusion: which iterations run in fused batches, and why the others do
// not. A group is the iterations of one transform whose params have the same
// types (one sequence table holds them all).
#include <algorithm>
#include <map>
#include <set>
#include <optional>
#include <nlohmann/json.hpp>

#include "fuse.h"
#include "fuse_run.h"
#include "load.h"
#include "plan.h"
#include "sql_policy.h"
#include "util.h"

namespace fanout {

using Json = nlohmann::ordered_json;

namespace {

std::string ShapeOf(const Value& v) {
  if (auto* l = std::get_if<ValueList>(&v.v)) {
    std::string s = "[";
    for (const Value& e : *l) s += ShapeOf(e) + ",";
    return s + "]";
  }
  if (auto* m = std::get_if<ValueMap>(&v.v)) {
    std::string s = "{";
    for (const auto& [k, e] : *m) s += k + ":" + ShapeOf(e) + ",";
    return s + "}";
  }
  return std::to_string(v.v.index());
}

// The iterations that can share one sequence table: one transform, params of
// the same names and types.
std::string GroupKey(const Iteration& it) {
  std::string key = it.transform_source;
  for (const auto& [k, v] : it.params) key += "|" + k + "=" + ShapeOf(v);
  return key;
}

Result<Json> Serialize(Connection& con, const std::string& sql) {
  auto stmt = con.Prepare("SELECT json_serialize_sql(CAST($fanout_sql AS VARCHAR))");
  if (!stmt.ok()) return stmt.status();
  FANOUT_RETURN_IF_ERROR((*stmt)->Bind("fanout_sql", Value(sql)));
  auto t = (*stmt)->Execute();
  if (!t.ok()) return t.status();
  Json j = Json::parse(t->rows.at(0).at(0).ToString(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || j.value("error", true)) return Status::Invalid("the engine's parser does not serialize it");
  if (j["statements"].size() != 1) return Status::Invalid("it is not one statement");
  return j["statements"][0];
}

Result<std::string> Deserialize(Connection& con, const Json& statement) {
  Json whole{{"error", false}, {"statements", Json::array({statement})}};
  auto stmt = con.Prepare("SELECT json_deserialize_sql(CAST($fanout_json AS JSON))");
  if (!stmt.ok()) return stmt.status();
  FANOUT_RETURN_IF_ERROR((*stmt)->Bind("fanout_json", Value(whole.dump())));
  auto t = (*stmt)->Execute();
  if (!t.ok()) return t.status();
  return t->rows.at(0).at(0).ToString();
}

// The columns `sql` returns, from its dry form (nothing is read).
Result<std::vector<ResultColumn>> DryColumns(Connection& con, const std::string& sql, const Params& params) {
  SqlPolicy policy(SqlPolicy::Scope::kTransform, {});
  auto dry = policy.Check(sql, StatementKind::kSelect);
  if (!dry.ok()) return dry.status();
  auto stmt = con.Prepare(dry->execute.empty() ? sql : dry->execute);
  if (!stmt.ok()) return stmt.status();
  FANOUT_RETURN_IF_ERROR((*stmt)->BindAll(params));
  auto t = (*stmt)->Execute();
  if (!t.ok()) return t.status();
  return t->described;
}

std::string DescribeColumns(const std::vector<ResultColumn>& cols) {
  std::string s;
  for (const ResultColumn& c : cols) s += (s.empty() ? "" : ", ") + c.name + " " + c.type.sql;
  return s;
}

// The sequence table's columns: n and every param the query uses, typed as
// the engine typed the param when preparing the separate query.
Result<std::vector<FusedForm::Column>> SequenceColumns(Connection& con, const std::string& sql) {
  auto stmt = con.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  std::vector<FusedForm::Column> cols;
  std::vector<std::string> names = (*stmt)->param_names();
  if (std::find(names.begin(), names.end(), "n") == names.end()) names.insert(names.begin(), "n");
  for (const std::string& p : names) cols.push_back({kFusedPrefix + p, p, (*stmt)->ParamTypeSql(p)});
  return cols;
}

}  // namespace

namespace {

using Watch = std::function<void(Connection*)>;

// A planning connection that Ctrl-C interrupts while it is in use.
class Watched {
 public:
  Watched(const Watch& watch, Connection* con) : watch_(watch) {
    if (watch_) watch_(con);
  }
  ~Watched() {
    if (watch_) watch_(nullptr);
  }
  Watched(const Watched&) = delete;
  Watched& operator=(const Watched&) = delete;

 private:
  const Watch& watch_;
};

// The batch form of `it`'s single query, checked: it binds over a sequence
// table and returns the separate query's columns (names and types) plus n.
// Returns why not when it cannot fuse.
Result<std::shared_ptr<FusedForm>> AutoForm(Database& db, const Iteration& it, const FunctionCatalog& catalog,
                                            bool always, const Watch& watch, std::string* why) {
  auto no = [why](std::string w) {
    *why = std::move(w);
    return Result<std::shared_ptr<FusedForm>>(std::shared_ptr<FusedForm>());
  };
  auto con = db.Connect();
  if (!con.ok()) return con.status();
  Watched watched(watch, con->get());
  const std::string& sql = it.statements[0];
  auto tree = Serialize(**con, sql);
  if (!tree.ok()) return no(tree.status().message());
  if (std::string unsafe = ProveFusable(*tree, catalog); !unsafe.empty()) return no(unsafe);
  if (std::string loses = always ? "" : FusionLoses(*tree, catalog); !loses.empty()) return no(loses);
  auto separate = DryColumns(**con, sql, it.params);
  if (!separate.ok()) return no("its columns are not known before it runs");
  auto form = std::make_shared<FusedForm>();
  auto cols = SequenceColumns(**con, sql);
  if (!cols.ok()) return cols.status();
  form->columns = std::move(cols).value();
  std::vector<std::string> params, names;
  for (const auto& c : form->columns) params.push_back(c.param);
  for (const auto& c : *separate) names.push_back(c.name);
  RewriteFused(*tree, params, names);
  auto fused_sql = Deserialize(**con, *tree);
  if (!fused_sql.ok()) return no("the engine cannot print the fused form");
  // What runs is the printed SQL: it must parse back to the tree proven here.
  auto reparsed = Serialize(**con, *fused_sql);
  if (!reparsed.ok()) return no("the engine cannot parse the fused form it printed");
  StripLocations(*tree);
  StripLocations(*reparsed);
  if ((*reparsed)["node"] != (*tree)["node"]) return no("the engine prints its fused form ambiguously");
  form->sql = *fused_sql;
  form->seq_table = kFusedSeqTable;
  form->n_column = std::string(kFusedPrefix) + "n";
  form->drop_n = true;
  if (Status st = CreateSequenceTable(**con, *form, {&it}); !st.ok())
    return no("its params cannot fill a sequence table: " + ShortenEngineError(st.message()));
  auto fused = DryColumns(**con, form->sql, {});
  if (!fused.ok()) return no("the fused form does not bind: " + ShortenEngineError(fused.status().message()));
  if (!fused->empty()) fused->pop_back();  // n
  if (DescribeColumns(*fused) != DescribeColumns(*separate))
    return no("fused, its columns would differ (" + DescribeColumns(*fused) + ")");
  return form;
}

// A batch_transform: checked to return n; fuses unless run.fuse: off.
Result<std::shared_ptr<FusedForm>> BatchForm(Database& db, const Iteration& it, const Watch& watch) {
  auto form = std::make_shared<FusedForm>();
  form->sql = it.statements.back();
  form->seq_table = kSequenceTable;
  for (const auto& [name, value] : it.params) form->columns.push_back({name, name, ""});
  form->n_column = "n";
  auto con = db.Connect();
  if (!con.ok()) return con.status();
  Watched watched(watch, con->get());
  FANOUT_RETURN_IF_ERROR(CreateSequenceTable(**con, *form, {&it}));
  auto cols = DryColumns(**con, form->sql, {});
  if (!cols.ok()) return cols.status();
  for (const ResultColumn& c : *cols)
    if (c.name == "n") return form;
  return Status::Invalid(it.transform_source + ": a batch_transform must return a column n (which iteration each row "
                         "belongs to), e.g. SELECT s.n, ... FROM fanout_sequence s ...; it returns " +
                         DescribeColumns(*cols));
}

}  // namespace

Status PlanFusion(Database& db, const JobSpec& spec, std::vector<Iteration>& iterations,
                  const std::function<void(Connection*)>& watch) {
  std::map<std::string, std::vector<Iteration*>> groups;
  std::set<std::string> awaited;  // targets other iterations wait for (after:)
  for (const Iteration& it : iterations)
    for (const Dependency& d : it.deps) awaited.insert(d.target);
  for (Iteration& it : iterations) {
    // Never fused: a C++ transform (no SQL to rewrite), and an iteration in
    // an after: graph (the batch would run it before its dependencies, or
    // commit it outside the order its dependants wait on).
    if (it.cpp) {
      it.fuse_note = "separate: a C++ transform";
    } else if (!it.deps.empty() || awaited.count(it.target)) {
      it.fuse_note = "separate: in an after: graph";
    } else {
      groups[GroupKey(it)].push_back(&it);
    }
  }
  std::optional<FunctionCatalog> catalog;
  for (auto& [key, members] : groups) {
    const Iteration& first = *members[0];
    std::string why;
    std::shared_ptr<FusedForm> form;
    if (first.batch) {
      auto f = BatchForm(db, first, watch);
      if (!f.ok()) return f.status();
      form = std::move(f).value();
    }
    if (spec.run.fuse == RunSpec::Fuse::kOff) {
      why = "run.fuse: off";
    } else if (members.size() < kMinFused) {
      why = "only " + std::to_string(members.size()) + " iteration(s) of this transform (fusing starts at " +
            std::to_string(kMinFused) + ")";
    } else if (!first.batch && first.statements.size() != 1) {
      why = "the transform has several statements";
    } else if (!first.batch) {
      if (!catalog) {
        auto con = db.Connect();
        if (!con.ok()) return con.status();
        Watched watched(watch, con->get());
        auto c = LoadFunctionCatalog(**con);
        if (!c.ok()) return c.status();
        catalog = std::move(c).value();
      }
      auto f = AutoForm(db, first, *catalog, spec.run.fuse == RunSpec::Fuse::kAlways, watch, &why);
      if (!f.ok()) return f.status();
      form = std::move(f).value();
    }
    if (!why.empty()) form = nullptr;
    for (Iteration* it : members) {
      it->fused = form;
      it->fuse_note = form ? "fused: " + std::to_string(members.size()) + " iterations share one query"
                           : "separate: " + why;
    }
  }
  return Status::Ok();
}

}  // namespace fanout
