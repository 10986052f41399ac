// fanout_engine_floor: the baseline fanout is measured against. The same work
// on the DuckDB C API directly, with none of fanout's code: load the CSV
// inputs once (read_csv with fanout's options), then run one transform per n
// on `workers` threads (one connection each, the statement prepared once per
// worker, params bound), each result written as a plain Parquet file with
// COPY ... TO. No staging, fsync, checksums, markers or manifest.
//
//   fanout_engine_floor --input NAME=FILE.csv ... --sql FILE.sql (--sequence 2,3,4 | --range 1:64)
//                       --workers N --out DIR [--param NAME=VALUE ...] [--threads N]
//                       [--compression zstd|snappy|uncompressed]   (default zstd, as fanout)
//
// Prints one line: `floor: iterations=9 rows=... bytes=... load_s=... run_s=...`.
// The transform must be a single query; its $n is the iteration and every other
// $name comes from --param (integers and decimals are typed as in fanout).
#include <duckdb.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "fanout_engine_floor: %s\n", message.c_str());
  std::exit(1);
}

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Flags {
  std::vector<std::pair<std::string, std::string>> inputs;  // table name -> CSV path
  std::map<std::string, std::string> params;                // name -> value text
  std::string sql_file, out_dir;
  std::vector<int64_t> sequence;
  int workers = 1;
  int threads = 0;  // 0: all cores, as fanout's run.threads: auto
  std::string compression = "zstd";  // fanout's default output.compression
};

std::pair<std::string, std::string> SplitAt(const std::string& s, char sep, const char* flag) {
  size_t pos = s.find(sep);
  if (pos == std::string::npos || pos == 0) Die(std::string(flag) + " wants A" + sep + "B, got '" + s + "'");
  return {s.substr(0, pos), s.substr(pos + 1)};
}

std::vector<int64_t> ParseSequence(const std::string& list) {
  std::vector<int64_t> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoll(item));
  return out;
}

std::vector<int64_t> ParseRange(const std::string& range) {
  auto [first, last] = SplitAt(range, ':', "--range");
  std::vector<int64_t> out;
  for (int64_t n = std::stoll(first); n <= std::stoll(last); ++n) out.push_back(n);
  return out;
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (i + 1 >= argc) Die("missing value for " + flag);
    std::string value = argv[i + 1];
    if (flag == "--input") {
      f.inputs.push_back(SplitAt(value, '=', "--input"));
    } else if (flag == "--param") {
      f.params.insert(SplitAt(value, '=', "--param"));
    } else if (flag == "--sql") {
      f.sql_file = value;
    } else if (flag == "--sequence") {
      f.sequence = ParseSequence(value);
    } else if (flag == "--range") {
      f.sequence = ParseRange(value);
    } else if (flag == "--workers") {
      f.workers = std::max(1, std::atoi(value.c_str()));
    } else if (flag == "--threads") {
      f.threads = std::atoi(value.c_str());
    } else if (flag == "--out") {
      f.out_dir = value;
    } else if (flag == "--compression") {
      if (value != "zstd" && value != "snappy" && value != "uncompressed") Die("--compression: zstd, snappy or uncompressed");
      f.compression = value;
    } else {
      Die("unknown flag " + flag);
    }
  }
  if (f.sql_file.empty() || f.out_dir.empty() || f.sequence.empty())
    Die("usage: --input NAME=FILE ... --sql FILE (--sequence 2,3 | --range 1:64) --workers N --out DIR");
  return f;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  if (!in) Die("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string sql = ss.str();
  while (!sql.empty() && (std::isspace(static_cast<unsigned char>(sql.back())) || sql.back() == ';')) sql.pop_back();
  return sql;
}

// fanout's run.memory_limit default: 75% of physical memory.
std::string MemoryLimit() {
  double ram = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
  return std::to_string(static_cast<int64_t>(ram * 0.75 / (1 << 20))) + "MiB";
}

// A prepared statement that binds $name parameters by name.
class Statement {
 public:
  Statement(duckdb_connection con, const std::string& sql) {
    if (duckdb_prepare(con, sql.c_str(), &stmt_) == DuckDBError) Die(Error("prepare", duckdb_prepare_error(stmt_)));
  }
  ~Statement() { duckdb_destroy_prepare(&stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  std::vector<std::string> ParamNames() const {
    std::vector<std::string> names;
    for (idx_t i = 1; i <= duckdb_nparams(stmt_); ++i) {
      const char* name = duckdb_parameter_name(stmt_, i);
      names.emplace_back(name ? name : "");
      duckdb_free(const_cast<char*>(name));
    }
    return names;
  }
  // Binds `text` typed like fanout's scalars: integer, decimal, else text.
  void Bind(const std::string& name, const std::string& text) {
    idx_t index = 0;
    if (duckdb_bind_parameter_index(stmt_, &index, name.c_str()) == DuckDBError) Die("no parameter $" + name);
    char* end = nullptr;
    long long i = std::strtoll(text.c_str(), &end, 10);
    if (!text.empty() && *end == '\0') {
      duckdb_bind_int64(stmt_, index, i);
      return;
    }
    double d = std::strtod(text.c_str(), &end);
    if (!text.empty() && *end == '\0') {
      duckdb_bind_double(stmt_, index, d);
      return;
    }
    duckdb_bind_varchar(stmt_, index, text.c_str());
  }
  // Runs it; returns the first cell as an integer (COPY's row count).
  int64_t Execute() {
    duckdb_result result;
    if (duckdb_execute_prepared(stmt_, &result) == DuckDBError) {
      std::string e = Error("execute", duckdb_result_error(&result));
      duckdb_destroy_result(&result);
      Die(e);
    }
    int64_t count = duckdb_row_count(&result) > 0 ? duckdb_value_int64(&result, 0, 0) : 0;
    duckdb_destroy_result(&result);
    return count;
  }

 private:
  static std::string Error(const char* what, const char* message) {
    return std::string(what) + " failed: " + (message ? message : "unknown error");
  }
  duckdb_prepared_statement stmt_ = nullptr;
};

class Engine {
 public:
  explicit Engine(const Flags& f) {
    duckdb_config config;
    duckdb_create_config(&config);
    if (f.threads > 0) duckdb_set_config(config, "threads", std::to_string(f.threads).c_str());
    duckdb_set_config(config, "memory_limit", MemoryLimit().c_str());
    duckdb_set_config(config, "temp_directory", (f.out_dir + "/.spill").c_str());
    char* error = nullptr;
    if (duckdb_open_ext(nullptr, &db_, config, &error) == DuckDBError) Die(std::string("open: ") + error);
    duckdb_destroy_config(&config);
  }
  ~Engine() { duckdb_close(&db_); }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  duckdb_connection Connect() {
    duckdb_connection con;
    if (duckdb_connect(db_, &con) == DuckDBError) Die("cannot connect");
    return con;
  }

 private:
  duckdb_database db_ = nullptr;
};

// The inputs, once, into shared tables (what fanout's load stage does).
void LoadInputs(Engine& engine, const Flags& f) {
  duckdb_connection con = engine.Connect();
  for (const auto& [name, path] : f.inputs) {
    Statement load(con, "CREATE TABLE \"" + name +
                            "\" AS SELECT * FROM read_csv($path, header = true, delim = ',', strict_mode = true)");
    load.Bind("path", path);
    load.Execute();
  }
  duckdb_disconnect(&con);
}

struct Totals {
  std::atomic<int64_t> rows{0}, bytes{0};
};

// One worker: its own connection and prepared COPY; takes the next n until none is left.
void Work(Engine& engine, const Flags& f, const std::string& copy_sql, std::atomic<size_t>& next, Totals& totals) {
  duckdb_connection con = engine.Connect();
  {
    Statement copy(con, copy_sql);
    std::vector<std::string> names = copy.ParamNames();
    for (size_t k; (k = next.fetch_add(1)) < f.sequence.size();) {
      std::string n = std::to_string(f.sequence[k]);
      std::string target = f.out_dir + "/iter_" + n + ".parquet";
      for (const std::string& name : names) {
        auto param = f.params.find(name);
        if (name == "n" || name == "floor_target") {
          copy.Bind(name, name == "n" ? n : target);
        } else if (param != f.params.end()) {
          copy.Bind(name, param->second);
        } else {
          Die("the transform uses $" + name + ": pass --param " + name + "=VALUE");
        }
      }
      totals.rows += copy.Execute();
      totals.bytes += static_cast<int64_t>(fs::file_size(target));
    }
  }
  duckdb_disconnect(&con);
}

}  // namespace

int main(int argc, char** argv) {
  Flags f = ParseFlags(argc, argv);
  // As in fanout, the target path is a bound parameter like every param.
  std::string copy_sql =
      "COPY (\n" + ReadText(f.sql_file) + "\n) TO $floor_target (FORMAT parquet, COMPRESSION " + f.compression + ")";
  fs::create_directories(f.out_dir);
  double started = Now();
  Engine engine(f);
  LoadInputs(engine, f);
  double loaded = Now();
  std::atomic<size_t> next{0};
  Totals totals;
  std::vector<std::thread> workers;
  for (int w = 0; w < std::min<int>(f.workers, static_cast<int>(f.sequence.size())); ++w)
    workers.emplace_back([&] { Work(engine, f, copy_sql, next, totals); });
  for (std::thread& t : workers) t.join();
  double finished = Now();
  std::printf("floor: iterations=%zu rows=%lld bytes=%lld load_s=%.3f run_s=%.3f\n", f.sequence.size(),
              static_cast<long long>(totals.rows.load()), static_cast<long long>(totals.bytes.load()),
              loaded - started, finished - loaded);
  return 0;
}
