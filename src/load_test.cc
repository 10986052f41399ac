#include "load.h"

#include "fanout/fanout.h"

#include <gtest/gtest.h>

#include "temp_dir.h"

#include <filesystem>
#include <fstream>

namespace fanout {
namespace {

namespace fs = std::filesystem;

class LoadTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    std::ofstream(dir_ + "/t.csv") << "id,amount,day\n1,2.5,2026-01-01\n2,3.5,2026-01-02\n";
  }

  JobSpec Spec() {
    auto spec = ParseJobSpec("inputs: {t: t.csv}\nsequence: [1]\ntransform: SELECT 1\n", dir_ + "/job.yaml");
    EXPECT_TRUE(spec.ok()) << spec.status().message();
    return *spec;
  }
  // A fresh engine with every input of `spec` loaded (with its identity, so
  // the cache is used). seal=false: as if the run died before writing the
  // cache's sidecars.
  struct Loaded {
    std::unique_ptr<Database> db;
    std::unique_ptr<Connection> con;  // closed before db
    LoadNotes notes;
    Status status;
  };
  static Loaded LoadAll(const JobSpec& spec, bool seal = true) {
    Loaded l;
    l.db = std::move(Database::Open({})).value();
    l.con = std::move(l.db->Connect()).value();
    std::vector<std::string> ids;
    for (const InputSpec& in : spec.inputs) ids.push_back(InputIdentity(*NewPosixStorage(), in, 1 << 20).value());
    l.status = LoadInputs(NewPosixStorage(), *l.db, *l.con, spec, false, ids, &l.notes);
    if (seal)
      for (auto& seal_one : l.notes.cache_seals) seal_one(&l.notes.lines);
    return l;
  }
  // Loads into a fresh engine; returns the notes and sum(amount) as text.
  std::pair<LoadNotes, std::string> Load(const JobSpec& spec, bool seal = true) {
    Loaded l = LoadAll(spec, seal);
    EXPECT_TRUE(l.status.ok()) << l.status.message();
    auto t = l.con->Query("SELECT sum(amount)::VARCHAR || '/' || max(day)::VARCHAR FROM t");
    EXPECT_TRUE(t.ok());
    return {l.notes, t->rows[0][0].ToString()};
  }
  static bool Has(const LoadNotes& notes, const std::string& text) {
    for (const auto& l : notes.lines)
      if (l.find(text) != std::string::npos) return true;
    return false;
  }
};

TEST_F(LoadTest, SecondLoadComesFromCacheWithSameTypesAndValues) {
  JobSpec spec = Spec();
  auto [first, v1] = Load(spec);
  EXPECT_FALSE(Has(first, "from cache"));
  auto [second, v2] = Load(spec);
  EXPECT_TRUE(Has(second, "2 rows from cache"));
  EXPECT_EQ(v1, "6.0/2026-01-02");
  EXPECT_EQ(v2, v1);  // DOUBLE and DATE survive the round trip
}

TEST_F(LoadTest, ChangedInputIsReadAgain) {
  JobSpec spec = Spec();
  Load(spec);
  std::ofstream(dir_ + "/t.csv") << "id,amount,day\n1,10.0,2026-02-01\n";
  auto [notes, v] = Load(spec);
  EXPECT_FALSE(Has(notes, "from cache"));
  EXPECT_EQ(v, "10.0/2026-02-01");
}

TEST_F(LoadTest, CorruptOrForeignCacheIsIgnoredWithWarning) {
  JobSpec spec = Spec();
  Load(spec);
  for (const auto& e : fs::directory_iterator(dir_ + "/.fanout-cache")) {
    if (e.path().extension() != ".parquet") continue;
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(10);
    f.put('X');  // same size, different bytes
  }
  auto [notes, v] = Load(spec);
  EXPECT_TRUE(Has(notes, "warning: ignoring input cache"));
  EXPECT_TRUE(Has(notes, "checksum differs"));
  EXPECT_EQ(v, "6.0/2026-01-02");
  auto [again, v2] = Load(spec);  // rewritten after the fallback parse
  EXPECT_TRUE(Has(again, "from cache"));
}

// Inputs are read-only views, whether parsed now or read from the cache.
TEST_F(LoadTest, PrepareCannotModifyAnInputColdOrWarm) {
  auto spec = ParseJobSpec("inputs: {t: t.csv}\nprepare: DELETE FROM t WHERE id = 1\nsequence: [1]\n"
                           "transform: SELECT * FROM t\n", dir_ + "/job.yaml");
  ASSERT_TRUE(spec.ok());
  for (const char* run : {"cold", "warm"}) {
    SCOPED_TRACE(run);
    RunReport report = RunJob(*spec, {});
    EXPECT_EQ(report.ExitCode(), 2);
    EXPECT_NE(report.status.message().find("inputs are shared read-only"), std::string::npos) << report.status.message();
    Load(Spec());  // writes the cache for the warm pass
  }
}

TEST_F(LoadTest, MalformedCsvNamesFileAndLine) {
  std::ofstream(dir_ + "/t.csv") << "id,amount,day\n1,2.5,2026-01-01\n2,3.5\n";
  JobSpec spec = Spec();
  auto db = Database::Open({});
  auto con = (*db)->Connect();
  Status st = LoadInputs(NewPosixStorage(), **db, **con, spec, false, {}, nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_NE(st.message().find("input 't' (" + dir_ + "/t.csv)"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("ine 3"), std::string::npos) << st.message();
}

TEST_F(LoadTest, MalformedCsvWithTheCacheOnLeavesNoCacheBehind) {
  std::ofstream(dir_ + "/t.csv") << "id,amount,day\n1,2.5,2026-01-01\n2,3.5\n";
  Loaded l = LoadAll(Spec());
  ASSERT_FALSE(l.status.ok());
  EXPECT_NE(l.status.message().find("ine 3"), std::string::npos) << l.status.message();
  EXPECT_FALSE(fs::exists(dir_ + "/.fanout-cache"));  // bad input changes nothing
  EXPECT_TRUE(l.notes.cache_seals.empty());
}

// The cache file is written before its sidecar: a run that dies in between
// leaves a file no later run trusts.
TEST_F(LoadTest, CacheFileWithoutItsSidecarIsParsedAgain) {
  JobSpec spec = Spec();
  auto [first, v1] = Load(spec, /*seal=*/false);
  EXPECT_EQ(v1, "6.0/2026-01-02");
  auto [second, v2] = Load(spec);
  EXPECT_FALSE(Has(second, "from cache"));
  EXPECT_EQ(v2, v1);
  auto [third, v3] = Load(spec);
  EXPECT_TRUE(Has(third, "2 rows from cache"));
  EXPECT_EQ(v3, v1);
}

TEST_F(LoadTest, UnwritableCacheIsAWarningAndTheInputIsStillLoaded) {
  std::ofstream(dir_ + "/not-a-dir") << "x";
  auto spec = ParseJobSpec("inputs: {t: t.csv}\nsequence: [1]\ntransform: SELECT 1\ncache: {dir: not-a-dir/c}\n",
                           dir_ + "/job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  auto [notes, v] = Load(*spec);
  EXPECT_TRUE(Has(notes, "warning: could not write input cache for t")) << ::testing::PrintToString(notes.lines);
  EXPECT_EQ(v, "6.0/2026-01-02");
  EXPECT_TRUE(notes.cache_seals.empty());
}

// Where the rows live, cold and warm: a small input is a table (the engine's
// statistics plan joins better); a large one, by file size or by rows, is
// scanned from its cache file and never copied into memory.
TEST_F(LoadTest, SmallInputsAreTablesLargeOnesAreScannedFromTheCache) {
  {
    auto db = Database::Open({});
    auto con = (*db)->Connect();
    ASSERT_TRUE((*con)->Execute("COPY (SELECT range AS id, range * 0.5 AS amount, DATE '2026-01-01' + (range % 365)::INT "
                                "AS day FROM range(1500000)) TO '" + dir_ + "/t.csv' (HEADER)").ok());
    // Over 1M rows but a tiny file: a constant column compresses to almost nothing.
    ASSERT_TRUE((*con)->Execute("COPY (SELECT 7 AS k FROM range(1100000)) TO '" + dir_ + "/c.csv' (HEADER)").ok());
  }
  std::ofstream(dir_ + "/s.csv") << "id\n1\n";
  auto small = ParseJobSpec("inputs: {s: s.csv, t: t.csv, c: c.csv}\nsequence: [1]\ntransform: SELECT 1\n",
                           dir_ + "/job.yaml");
  ASSERT_TRUE(small.ok()) << small.status().message();
  for (const char* run : {"cold", "warm"}) {
    SCOPED_TRACE(run);
    Loaded l = LoadAll(*small);
    ASSERT_TRUE(l.status.ok()) << l.status.message();
    auto tables = l.con->Query("SELECT string_agg(table_name, ',' ORDER BY table_name) FROM duckdb_tables() "
                                "WHERE schema_name = 'fanout_inputs'");
    ASSERT_TRUE(tables.ok());
    EXPECT_EQ(tables->rows[0][0].ToString(), "s");
    auto n = l.con->Query("SELECT count(*), sum(id) FROM t");
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(n->rows[0][0].ToString(), "1500000");
    EXPECT_EQ(n->rows[0][1].ToString(), "1124999250000");
    auto c = l.con->Query("SELECT count(*), sum(k) FROM c");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->rows[0][0].ToString(), "1100000");
    EXPECT_EQ(c->rows[0][1].ToString(), "7700000");
  }
}

}  // namespace
}  // namespace fanout
