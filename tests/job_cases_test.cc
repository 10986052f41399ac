// Tests as data: every folder under tests/jobs/ that holds an expect.yaml is
// one case, run by the one parameterised test below against the real
// `fanout` binary in a fresh temporary folder (the case folder is copied
// there first; the source tree is never written). tests/jobs/README.md
// describes the format of expect.yaml.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <regex>
#include <string>
#include <vector>

#include "test_util.h"

namespace fanout::test {
namespace {

const std::string& JobsDir() {
  static const std::string dir = std::string(FANOUT_SOURCE_DIR) + "/tests/jobs";
  return dir;
}

// The case folders (those holding expect.yaml; "_shared" and the like hold
// none), sorted.
std::vector<std::string> CaseNames() {
  std::vector<std::string> names;
  for (const auto& name : ListDir(JobsDir()))
    if (fs::exists(JobsDir() + "/" + name + "/expect.yaml")) names.push_back(name);
  return names;
}

// `text` with every "{dir}" replaced by `dir`.
std::string Expand(std::string text, const std::string& dir) {
  for (size_t at = text.find("{dir}"); at != std::string::npos; at = text.find("{dir}", at + dir.size()))
    text.replace(at, 5, dir);
  return text;
}

// A YAML value as JSON: quoted scalars are strings, plain ones are null,
// booleans, integers or numbers when they read as such; "{dir}" expanded.
nlohmann::json ToJson(const YAML::Node& node, const std::string& dir) {
  if (node.IsSequence()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& item : node) a.push_back(ToJson(item, dir));
    return a;
  }
  if (node.IsMap()) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& kv : node) o[kv.first.as<std::string>()] = ToJson(kv.second, dir);
    return o;
  }
  if (!node.IsScalar()) return nullptr;
  std::string s = Expand(node.Scalar(), dir);
  if (node.Tag() == "!") return s;
  if (s == "null" || s == "~") return nullptr;
  if (s == "true" || s == "false") return s == "true";
  auto number = nlohmann::json::parse(s, nullptr, /*allow_exceptions=*/false);
  return number.is_number() ? number : nlohmann::json(s);
}

// A list of strings: a sequence, or one scalar.
std::vector<std::string> Strings(const YAML::Node& node, const std::string& dir) {
  std::vector<std::string> out;
  if (!node) return out;
  if (node.IsScalar()) return {Expand(node.Scalar(), dir)};
  for (const auto& item : node) out.push_back(Expand(item.Scalar(), dir));
  return out;
}

class JobCase : public FanoutTest, public ::testing::WithParamInterface<std::string> {
 protected:
  std::string CaseDir() const { return JobsDir() + "/" + GetParam(); }

  // The case folder (less expect.yaml and expected/) and the shared files it
  // names, copied into the work folder.
  void CopyCase(const YAML::Node& shared) {
    for (const auto& e : fs::directory_iterator(CaseDir())) {
      std::string name = e.path().filename().string();
      if (name == "expect.yaml" || name == "expected") continue;
      fs::copy(e.path(), Path(name), fs::copy_options::recursive);
    }
    for (const std::string& name : Strings(shared, ""))
      fs::copy(JobsDir() + "/_shared/" + name, Path(name), fs::copy_options::recursive);
  }

  // What a step does to the work folder before its command.
  void Act(const YAML::Node& step) {
    for (const std::string& rel : Strings(step["remove"], "")) fs::remove_all(Path(rel));
    for (const auto& kv : step["copy"]) {
      fs::remove_all(Path(kv.second.as<std::string>()));
      fs::copy(Path(kv.first.as<std::string>()), Path(kv.second.as<std::string>()), fs::copy_options::recursive);
    }
    for (const auto& kv : step["write"]) WriteFile(Path(kv.first.as<std::string>()), kv.second.as<std::string>());
    for (const auto& kv : step["truncate"]) fs::resize_file(Path(kv.first.as<std::string>()), kv.second.as<uint64_t>());
  }

  void RunStep(const YAML::Node& step) {
    Act(step);
    if (!step["run"]) return;
    RunOnce(step);
    if (!step["again_without"]) return;
    std::string gone = step["again_without"].as<std::string>();
    SCOPED_TRACE("again without " + gone);
    fs::remove_all(Path(gone));
    RunOnce(step);
    EXPECT_FALSE(fs::exists(Path(gone)));
  }

  // Runs the step's command and checks what it expects.
  void RunOnce(const YAML::Node& step) {
    std::vector<Snapshot> kept;
    for (const std::string& rel : Strings(step["kept"], "")) kept.push_back(TakeSnapshot(Path(rel)));
    Snapshot before = TakeSnapshot(Path());
    RunResult r = Fanout(Strings(step["run"], Path()), Strings(step["env"], Path()));
    if (step["exit"]) {
      EXPECT_EQ(r.exit_code, step["exit"].as<int>()) << r.Describe();
    }
    CheckStream(step, "stdout", r.out, r);
    CheckStream(step, "stderr", r.err, r);
    if (step["unchanged"] && step["unchanged"].as<bool>()) {
      EXPECT_EQ(DiffSnapshots(before, TakeSnapshot(Path())), "") << "the work folder changed";
    }
    std::vector<std::string> kept_paths = Strings(step["kept"], "");
    for (size_t i = 0; i < kept.size(); ++i)
      EXPECT_EQ(DiffSnapshots(kept[i], TakeSnapshot(Path(kept_paths[i]))), "") << kept_paths[i] << " changed";
    CheckFiles(step);
    for (const std::string& rel : Strings(step["committed"], "")) ExpectCommittedAt(rel);
    for (const auto& kv : step["outputs"]) ExpectRows(kv.first.as<std::string>(), kv.second.as<std::string>());
    if (step["manifest"] && step["manifest"].as<bool>()) ExpectManifest(r);
    for (const auto& check : step["json"]) CheckJson(check, r);
  }

  // stdout/stderr: substrings (<s>), absent substrings (<s>_not), regular
  // expressions (<s>_regex), the whole text (<s>_is), its start (<s>_starts).
  void CheckStream(const YAML::Node& step, const std::string& s, const std::string& text, const RunResult& r) {
    for (const std::string& want : Strings(step[s], Path()))
      EXPECT_NE(text.find(want), std::string::npos) << s << " lacks: " << want << "\n" << r.Describe();
    for (const std::string& not_want : Strings(step[s + "_not"], Path()))
      EXPECT_EQ(text.find(not_want), std::string::npos) << s << " has: " << not_want << "\n" << r.Describe();
    for (const std::string& re : Strings(step[s + "_regex"], Path()))
      EXPECT_TRUE(std::regex_search(text, std::regex(re))) << s << " does not match: " << re << "\n" << r.Describe();
    if (step[s + "_is"]) {
      EXPECT_EQ(text, Expand(step[s + "_is"].as<std::string>(), Path())) << r.Describe();
    }
    if (step[s + "_starts"]) {
      std::string start = Expand(step[s + "_starts"].as<std::string>(), Path());
      EXPECT_EQ(text.rfind(start, 0), 0u) << s << " does not start with: " << start << "\n" << r.Describe();
    }
  }

  // exists, absent, listing (a folder's entries, exactly), files (exact content).
  void CheckFiles(const YAML::Node& step) {
    for (const std::string& rel : Strings(step["exists"], "")) EXPECT_TRUE(fs::exists(Path(rel))) << rel;
    for (const std::string& rel : Strings(step["absent"], "")) EXPECT_FALSE(fs::exists(Path(rel))) << rel;
    for (const auto& kv : step["listing"]) {
      std::string rel = kv.first.as<std::string>();
      EXPECT_EQ(ListDir(Path(rel)), Strings(kv.second, "")) << "entries of " << rel;
    }
    for (const auto& kv : step["files"])
      EXPECT_EQ(ReadFile(Path(kv.first.as<std::string>())), kv.second.as<std::string>()) << kv.first.as<std::string>();
  }

  // The output folder at `rel` holds exactly the files its _SUCCESS lists,
  // with those sizes and checksums.
  void ExpectCommittedAt(const std::string& rel) {
    SCOPED_TRACE("committed " + rel);
    nlohmann::json marker = ReadJson(Path(rel) + "/_SUCCESS");
    std::vector<std::string> listed = {"_SUCCESS"};
    for (const auto& f : marker["files"]) {
      std::string name = f["name"];
      listed.push_back(name);
      std::string data = ReadFile(Path(rel) + "/" + name);
      EXPECT_EQ(f["bytes"].get<int64_t>(), static_cast<int64_t>(data.size())) << name;
      EXPECT_EQ(f["xxh3"].get<std::string>(), HashHex(data)) << name;
    }
    std::sort(listed.begin(), listed.end());
    EXPECT_EQ(ListDir(Path(rel)), listed);
    EXPECT_GE(listed.size(), 2u) << "no part file";
  }

  // The rows of the output at `rel` (its part files read back with DuckDB's
  // reader for their format, ORDER BY ALL) as CSV text — a header of column
  // names, then one line per row, values as Value::ToString — equal the
  // case's file `expected`.
  void ExpectRows(const std::string& rel, const std::string& expected) {
    SCOPED_TRACE("output " + rel);
    std::vector<std::string> parts;
    for (const auto& name : ListDir(Path(rel)))
      if (name.rfind("part-", 0) == 0) parts.push_back(name);
    ASSERT_FALSE(parts.empty()) << "no part file in " << rel;
    std::string ext = fs::path(parts[0]).extension().string();
    std::string reader = ext == ".csv" ? "read_csv" : ext == ".json" ? "read_json" : "read_parquet";
    Table t = QueryTable("SELECT * FROM " + reader + "(" + SqlQuote(Path(rel) + "/part-*") + ") ORDER BY ALL");
    std::string got;
    for (size_t c = 0; c < t.columns.size(); ++c) got += (c ? "," : "") + t.columns[c];
    got += "\n";
    for (const auto& row : t.rows) {
      for (size_t c = 0; c < row.size(); ++c) got += (c ? "," : "") + row[c].ToString();
      got += "\n";
    }
    EXPECT_EQ(got, ReadFile(CaseDir() + "/" + expected)) << "read back from " << rel;
  }

  // The JSON document a check names: "stdout", "last_manifest" (the newest
  // run manifest under out/_fanout/runs), or a file of the work folder.
  nlohmann::json Document(const std::string& file, const RunResult& r) {
    if (file == "stdout") {
      auto j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) ADD_FAILURE() << "stdout is not JSON:\n" << r.Describe();
      return j;
    }
    if (file == "last_manifest") {
      std::vector<std::string> runs;  // the manifests, not the trace, report or log beside them
      for (const std::string& name : ListDir(OutPath("_fanout/runs")))
        if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) runs.push_back(name);
      if (runs.empty()) {
        ADD_FAILURE() << "no run manifest";
        return nullptr;
      }
      return ReadJson(OutPath("_fanout/runs/" + runs.back()));
    }
    return ReadJson(Path(file));
  }

  // {file, at: a JSON pointer ("" is the whole document), then any of: is:
  // value, contains: substring, size: elements, same_as: {file, at}}.
  void CheckJson(const YAML::Node& check, const RunResult& r) {
    std::string file = check["file"].as<std::string>(), at = check["at"].as<std::string>();
    SCOPED_TRACE(file + " at " + at);
    nlohmann::json doc = Document(file, r);
    nlohmann::json::json_pointer ptr(at);
    ASSERT_TRUE(doc.contains(ptr)) << "nothing at " << at << " in " << doc.dump(2);
    const nlohmann::json& got = doc[ptr];
    if (check["is"]) {
      EXPECT_EQ(got, ToJson(check["is"], Path()));
    }
    if (check["contains"]) {
      std::string want = Expand(check["contains"].as<std::string>(), Path());
      ASSERT_TRUE(got.is_string()) << got.dump();
      EXPECT_NE(got.get<std::string>().find(want), std::string::npos) << got.dump() << " lacks " << want;
    }
    if (check["size"]) {
      EXPECT_EQ(got.size(), check["size"].as<size_t>()) << got.dump();
    }
    if (check["same_as"]) {
      nlohmann::json other = Document(check["same_as"]["file"].as<std::string>(), r);
      nlohmann::json::json_pointer other_ptr(check["same_as"]["at"].as<std::string>());
      ASSERT_TRUE(other.contains(other_ptr)) << "nothing at " << other_ptr.to_string();
      EXPECT_EQ(got, other[other_ptr]);
    }
  }

  // stdout is a run manifest (--json), the same as the file it wrote.
  void ExpectManifest(const RunResult& r) {
    nlohmann::json m = Document("stdout", r);
    ASSERT_TRUE(m.is_object()) << r.Describe();
    std::string file = m.value("out_dir", "?") + "/_fanout/runs/" + m.value("run_id", "?") + ".json";
    EXPECT_EQ(ReadJson(file), m);
  }
};

TEST_P(JobCase, Runs) {
  YAML::Node expect = YAML::LoadFile(CaseDir() + "/expect.yaml");
  ASSERT_TRUE(expect["steps"] && expect["steps"].IsSequence()) << "expect.yaml has no steps";
  CopyCase(expect["shared"]);
  int i = 0;
  for (const auto& step : expect["steps"]) {
    SCOPED_TRACE("step " + std::to_string(++i) + ": " +
                 (step["run"] ? "fanout " + testing::PrintToString(Strings(step["run"], "")) : std::string("act")));
    RunStep(step);
    if (HasFatalFailure()) return;
  }
}

// The test's name is the case folder's name.
std::string CaseName(const testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Jobs, JobCase, testing::ValuesIn(CaseNames()), CaseName);

}  // namespace
}  // namespace fanout::test
