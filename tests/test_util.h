// Harness for the end-to-end and bad-input tests: a fresh folder per test, the
// real `fanout` binary run as a child process (exit code, stdout and stderr
// captured separately), directory snapshots to prove "nothing changed", and
// DuckDB to read outputs back.
//
// Header-only: CMake compiles tests/*_test.cc only.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine.h"
#include "util.h"

extern char** environ;  // NOLINT

namespace fanout {

// gtest prints Values (and rows of them) readably in failure messages.
inline void PrintTo(const Value& v, std::ostream* os) { *os << v.ToJson(); }

namespace test {

namespace fs = std::filesystem;
using Rows = std::vector<std::vector<Value>>;

// ----- files ------------------------------------------------------------------

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return "";
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Creates the parent folders as needed.
inline void WriteFile(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) ADD_FAILURE() << "cannot write " << path;
}

inline nlohmann::json ReadJson(const std::string& path) {
  auto j = nlohmann::json::parse(ReadFile(path), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) ADD_FAILURE() << path << " is not valid JSON";
  return j;
}

// Names of the entries of `dir`, sorted.
inline std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// 1-based number of the first line of `text` that contains `needle`, 0 if none.
inline int LineOf(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.find(needle) != std::string::npos) return n;
  return 0;
}

// The first line of `text` that contains `needle` (without its newline), "" if none.
inline std::string LineWith(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) return line;
  return "";
}

// A SQL string literal.
inline std::string SqlQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// ----- snapshots --------------------------------------------------------------

// Relative path -> "dir" or "<size> <xxh3 of content>"; the root itself is ".".
// Empty when the root does not exist.
using Snapshot = std::map<std::string, std::string>;

inline Snapshot TakeSnapshot(const std::string& root) {
  Snapshot s;
  std::error_code ec;
  if (!fs::exists(root, ec)) return s;
  s["."] = "dir";
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::string rel = fs::relative(it->path(), root).string();
    if (it->is_directory()) {
      s[rel] = "dir";
    } else {
      std::string data = ReadFile(it->path().string());
      s[rel] = std::to_string(data.size()) + " " + HashHex(data);
    }
  }
  return s;
}

// "" when equal; else one line per added (+), removed (-) or changed (~) path.
inline std::string DiffSnapshots(const Snapshot& before, const Snapshot& after) {
  std::string diff;
  for (const auto& [path, what] : before) {
    auto it = after.find(path);
    if (it == after.end()) {
      diff += "- " + path + "\n";
    } else if (it->second != what) {
      diff += "~ " + path + "\n";
    }
  }
  for (const auto& [path, what] : after)
    if (!before.count(path)) diff += "+ " + path + "\n";
  return diff;
}

// ----- processes --------------------------------------------------------------

struct RunResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string out, err;

  std::string Describe() const {
    return "exit code " + std::to_string(exit_code) + "\n--- stdout:\n" + out + "--- stderr:\n" + err + "---";
  }
};

// The environment minus variables that change fanout's behaviour in tests.
inline std::vector<std::string> ChildEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "FANOUT_FAULT_AT=", 16) != 0) env.emplace_back(*e);
  return env;
}

// A child process started by StartProcess; WaitProcess collects it.
struct Child {
  pid_t pid = -1;
  std::string base;  // io_dir/runN: .out and .err
};

// Starts argv[0] with stdout and stderr redirected to files under `io_dir`
// and `extra_env` ("NAME=value") added to ChildEnvironment().
inline Child StartProcess(const std::vector<std::string>& argv, const std::string& io_dir,
                          const std::vector<std::string>& extra_env = {}) {
  static int counter = 0;
  Child child;
  child.base = io_dir + "/run" + std::to_string(++counter);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, (child.base + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, (child.base + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env = ChildEnvironment();
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int rc = posix_spawn(&child.pid, argv[0].c_str(), &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    ADD_FAILURE() << "cannot start " << argv[0] << ": " << std::strerror(rc);
    child.pid = -1;
  }
  return child;
}

// Waits for `child` (killing it after `timeout`) and collects its output.
inline RunResult WaitProcess(const Child& child, std::chrono::seconds timeout = std::chrono::seconds(60)) {
  RunResult r;
  if (child.pid < 0) return r;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (waitpid(child.pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(child.pid, SIGKILL);
      waitpid(child.pid, &status, 0);
      ADD_FAILURE() << "child did not finish within " << timeout.count() << "s";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFile(child.base + ".out");
  r.err = ReadFile(child.base + ".err");
  return r;
}

// Runs argv[0] to completion (see StartProcess); kills it after `timeout`.
inline RunResult RunProcess(const std::vector<std::string>& argv, const std::string& io_dir,
                            std::chrono::seconds timeout = std::chrono::seconds(60),
                            const std::vector<std::string>& extra_env = {}) {
  return WaitProcess(StartProcess(argv, io_dir, extra_env), timeout);
}

// ----- test data --------------------------------------------------------------

// sales.csv: deterministic rows whose aggregates the tests compute in C++.
struct Sale {
  int64_t id;
  std::string region;
  int64_t day;
  int64_t amount;
};

inline const std::vector<std::string>& Regions() {
  static const std::vector<std::string> regions = {"east", "north", "south", "west"};
  return regions;
}

inline std::vector<Sale> MakeSales(int count = 240) {
  std::vector<Sale> sales;
  for (int64_t i = 1; i <= count; ++i)
    sales.push_back(Sale{i, Regions()[(i * 7 + i / 5) % 4], 1 + (i * 13) % 30, (i * 37) % 101});
  return sales;
}

inline std::string SalesCsv(const std::vector<Sale>& sales) {
  std::string csv = "id,region,day,amount\n";
  for (const Sale& s : sales)
    csv += std::to_string(s.id) + "," + s.region + "," + std::to_string(s.day) + "," + std::to_string(s.amount) + "\n";
  return csv;
}

// What kTotalsSql should return: per region (sorted) with at least one sale of
// day <= max_day and amount >= min_amount (and region in `regions` unless
// empty): {region, count, sum(amount)}.
inline Rows ExpectedTotals(const std::vector<Sale>& sales, int64_t max_day, int64_t min_amount,
                           const std::set<std::string>& regions = {}) {
  std::map<std::string, std::pair<int64_t, int64_t>> by_region;
  for (const Sale& s : sales) {
    if (s.day > max_day || s.amount < min_amount || (!regions.empty() && !regions.count(s.region))) continue;
    auto& [count, total] = by_region[s.region];
    ++count;
    total += s.amount;
  }
  Rows rows;
  for (const auto& [region, ct] : by_region) rows.push_back({Value(region), Value(ct.first), Value(ct.second)});
  return rows;
}

// Per-region count and sum for days up to $n with amount >= $min_amount.
inline constexpr const char* kTotalsSql =
    "SELECT region, count(*) AS cnt, CAST(sum(amount) AS BIGINT) AS total\n"
    "FROM sales\n"
    "WHERE day <= $n AND amount >= $min_amount\n"
    "GROUP BY region\n"
    "ORDER BY region";

// A job file built from parts; Render() lays them out in a fixed order.
struct JobText {
  std::string name = "test-job";
  std::vector<std::string> inputs = {"sales: sales.csv"};  // lines under inputs:
  std::vector<std::string> params = {"min_amount: 10"};    // lines under params:
  std::string sequence = "[1, 2, 3]";                      // after `sequence: `
  std::string transform = kTotalsSql;                      // a literal block; empty: none
  std::vector<std::string> output = {"dir: out"};          // lines under output:
  std::vector<std::string> run = {"max_workers: 2"};       // lines under run:
  std::string extra;                                       // appended verbatim

  std::string Render() const {
    std::string y = "name: " + name + "\n";
    auto section = [&y](const std::string& key, const std::vector<std::string>& lines) {
      if (lines.empty()) return;
      y += key + ":\n";
      for (const auto& l : lines) y += "  " + l + "\n";
    };
    section("inputs", inputs);
    section("params", params);
    y += "sequence: " + sequence + "\n";
    if (!transform.empty()) {
      y += "transform: |\n";
      std::istringstream in(transform);
      for (std::string line; std::getline(in, line);) y += "  " + line + "\n";
    }
    section("output", output);
    section("run", run);
    return y + extra;
  }
};

// ----- the fixture ------------------------------------------------------------

// A fresh folder per test: work/ holds the job, its inputs and out/; io/ holds
// the captured output of child processes (so work/ snapshots see only fanout).
// Set FANOUT_KEEP_TEST_DIRS=1 to keep the folders.
class FanoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fanout-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << std::strerror(errno);
    root_ = tmpl;
    fs::create_directories(root_ + "/work");
    fs::create_directories(root_ + "/io");
  }

  void TearDown() override {
    if (root_.empty()) return;
    if (std::getenv("FANOUT_KEEP_TEST_DIRS")) {
      std::cerr << "kept " << root_ << "\n";
      return;
    }
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // A path under the work folder; "" is the work folder itself.
  std::string Path(const std::string& rel = "") const { return rel.empty() ? root_ + "/work" : root_ + "/work/" + rel; }
  std::string OutPath(const std::string& rel = "") const { return Path(rel.empty() ? "out" : "out/" + rel); }
  void Write(const std::string& rel, const std::string& text) const { WriteFile(Path(rel), text); }
  void WriteJob(const JobText& job, const std::string& rel = "job.yaml") const { Write(rel, job.Render()); }
  void WriteSales() const { Write("sales.csv", SalesCsv(sales_)); }

  // `fanout args...`, e.g. Fanout({"run", Path("job.yaml"), "--json"}).
  RunResult Fanout(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) const {
    return WaitProcess(StartFanout(args, env));
  }
  // Starts `fanout args...` without waiting (for signals and kills).
  // With FANOUT_FAULT_AT in `env`, the test binary that injects faults.
  Child StartFanout(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) const {
    bool faults = std::any_of(env.begin(), env.end(), [](const std::string& e) { return e.rfind("FANOUT_FAULT_AT=", 0) == 0; });
    std::vector<std::string> argv = {faults ? FANOUT_FAULTY_BIN : FANOUT_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return StartProcess(argv, root_ + "/io", env);
  }
  // `fanout run work/job.yaml extra...`.
  RunResult Run(const std::vector<std::string>& extra = {}, const std::string& job = "job.yaml") const {
    std::vector<std::string> args = {"run", Path(job)};
    args.insert(args.end(), extra.begin(), extra.end());
    return Fanout(args);
  }

  // Runs SQL on a private DuckDB (for reading outputs back), keeping the
  // column names.
  Table QueryTable(const std::string& sql) {
    if (!con_) {
      auto db = Database::Open({});
      if (!db.ok()) {
        ADD_FAILURE() << db.status().message();
        return {};
      }
      db_ = std::move(db).value();
      auto con = db_->Connect();
      if (!con.ok()) {
        ADD_FAILURE() << con.status().message();
        return {};
      }
      con_ = std::move(con).value();
    }
    auto t = con_->Query(sql);
    if (!t.ok()) {
      ADD_FAILURE() << t.status().message() << "\nin: " << sql;
      return {};
    }
    return std::move(t).value();
  }
  // The same, rows only.
  Rows Query(const std::string& sql) { return QueryTable(sql).rows; }


  // kTotalsSql's result as committed in out/<target> ({region, cnt, total}).
  Rows ReadTotals(const std::string& target, const std::string& reader = "read_parquet") {
    return Query("SELECT region, cnt, total FROM " + reader + "(" + SqlQuote(OutPath(target) + "/part-*") +
                 ") ORDER BY region");
  }

  nlohmann::json Success(const std::string& target) const { return ReadJson(OutPath(target) + "/_SUCCESS"); }
  std::string RunIdOf(const std::string& target) const { return Success(target).value("run_id", ""); }

  // The targets committed under out/ (iter_* folders), sorted.
  std::vector<std::string> Targets() const {
    std::vector<std::string> t;
    for (const auto& name : ListDir(OutPath()))
      if (name[0] != '_' && name[0] != '.') t.push_back(name);
    return t;
  }

  // out/<target> holds exactly the parts its _SUCCESS lists, with those sizes
  // and hashes; returns the marker.
  nlohmann::json ExpectCommitted(const std::string& target) const {
    SCOPED_TRACE("output " + target);
    nlohmann::json marker = Success(target);
    std::vector<std::string> listed = {"_SUCCESS"};
    for (const auto& f : marker["files"]) {
      std::string name = f["name"], path = OutPath(target) + "/" + name;
      listed.push_back(name);
      std::string data = ReadFile(path);
      EXPECT_EQ(f["bytes"].get<int64_t>(), static_cast<int64_t>(data.size())) << name;
      EXPECT_EQ(f["xxh3"].get<std::string>(), HashHex(data)) << name;
    }
    std::sort(listed.begin(), listed.end());
    EXPECT_EQ(ListDir(OutPath(target)), listed);
    EXPECT_GE(listed.size(), 2u) << "no part file";
    return marker;
  }

  // The run manifest a `--json` run printed, checked against its file.
  nlohmann::json ManifestOf(const RunResult& r) const {
    auto m = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    if (m.is_discarded() || !m.is_object()) {
      ADD_FAILURE() << "stdout is not a JSON manifest:\n" << r.Describe();
      return nlohmann::json::object();
    }
    EXPECT_EQ(ReadJson(OutPath("_fanout/runs/" + m.value("run_id", "?") + ".json")), m);
    return m;
  }

  // The manifest entry of iteration `n`.
  static nlohmann::json IterationOf(const nlohmann::json& manifest, const nlohmann::json& n) {
    for (const auto& it : manifest["iterations"])
      if (it["n"] == n) return it;
    ADD_FAILURE() << "no iteration n = " << n.dump() << " in the manifest";
    return nlohmann::json::object();
  }

  std::vector<Sale> sales_ = MakeSales();

 private:
  std::string root_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> con_;
};

inline std::string Iter(int64_t n) { return "iter_" + std::to_string(n); }

}  // namespace test
}  // namespace fanout
