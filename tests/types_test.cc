// Every value the engine can produce is read without a crash (issue #11 item
// 6), and what Parquet cannot hold exactly is reported (item 11): the real
// binary on real files.
#include "test_util.h"

namespace fanout::test {
namespace {

class TypesTest : public FanoutTest {
 protected:
  void WriteJobWith(const std::string& sequence, const std::string& transform, const std::string& format = "parquet") {
    JobText job;
    job.inputs = {};
    job.params = {};
    job.sequence = sequence;
    job.transform = transform;
    job.output = {"dir: out", "format: " + format};
    WriteJob(job);
  }
};

// The reproduction that crashed validate, plan and run (exit 139).
TEST_F(TypesTest, UuidAndNestedMapNeitherCrashNorVanish) {
  WriteJobWith("[1, 2]", "SELECT gen_random_uuid()::UUID AS uu, {'x': MAP {'y': [1]}} AS deep, $n AS n");
  for (const char* cmd : {"validate", "plan"}) {
    RunResult r = Fanout({cmd, Path("job.yaml")});
    EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.Describe();
  }
  RunResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  Rows rows = Query("SELECT length(uu::VARCHAR), deep.x['y'][1] FROM read_parquet(" +
                    SqlQuote(OutPath("iter_2") + "/*.parquet") + ")");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], Value(int64_t{36}));
  EXPECT_EQ(rows[0][1], Value(int64_t{1}));
}

// A sequence query may return columns of any type beside n and kind.
TEST_F(TypesTest, SequenceSqlWithColumnsOfEveryKind) {
  WriteJobWith("{sql: \"SELECT range AS n, gen_random_uuid() AS u, MAP {'a': [1, NULL]} AS m, "
               "{'s': [INTERVAL 1 DAY]} AS st, 170141183460469231731687303715884105727::HUGEINT AS h, "
               "'x'::BLOB AS b, union_value(k := 1) AS un FROM range(1, 4)\"}",
               "SELECT $n AS n");
  RunResult r = Fanout({"plan", Path("job.yaml")});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("3 iterations"), std::string::npos) << r.out;
}

TEST_F(TypesTest, ColumnsParquetCannotHoldAreReported) {
  const std::string sql = "SELECT sum(range) AS total, INTERVAL 1 MICROSECOND AS i, $n AS n FROM range(10)";
  WriteJobWith("[1]", sql);
  RunResult v = Fanout({"validate", Path("job.yaml")});
  EXPECT_EQ(v.exit_code, 0) << v.Describe();
  EXPECT_NE(v.err.find("column \"total\" (HUGEINT) is written to Parquet as DOUBLE"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("cast it to DECIMAL(38,0)"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("column \"i\" (INTERVAL)"), std::string::npos) << v.err;
  RunResult r = Run();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.err.find("(HUGEINT) is written to Parquet as DOUBLE"), std::string::npos) << r.err;
  // CSV holds both as text: nothing to report.
  WriteJobWith("[1]", sql, "csv");
  RunResult csv = Fanout({"validate", Path("job.yaml")});
  EXPECT_EQ(csv.exit_code, 0) << csv.Describe();
  EXPECT_EQ(csv.err.find("warning"), std::string::npos) << csv.err;
}

// An empty list param (in params, an override or --set), or one of nulls
// only, binds as a VARCHAR[] that list functions take; an empty map cannot be
// bound and says so, naming the param and where the transform is.
TEST_F(TypesTest, EmptyAndNullOnlyListParamsBindAsVarcharLists) {
  Write("t.csv", "id,tag\n1,a\n2,b\n");
  Write("job.yaml", R"(name: empty-lists
inputs: {t: t.csv}
params: {tags: [a], none: []}
sequence: [1, 2, 3]
overrides:
  2: {tags: []}
  3: {tags: [null, null]}
transform: |
  SELECT id, list_contains($tags, tag) AS hit, len($tags) AS n_tags, len($none) AS n_none,
         typeof($tags) AS type, $tags AS tags
  FROM t ORDER BY id
output: {dir: out}
cache: false
)");
  for (const char* cmd : {"validate", "plan"}) {
    RunResult r = Fanout({cmd, Path("job.yaml")});
    EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.Describe();
  }
  RunResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  auto read = [&](const std::string& target) {
    return Query("SELECT id, hit, n_tags, n_none, type, tags::VARCHAR FROM read_parquet(" +
                 SqlQuote(OutPath(target) + "/part-*.parquet") + ") ORDER BY id");
  };
  EXPECT_EQ(read("iter_1"), (Rows{{int64_t{1}, true, int64_t{1}, int64_t{0}, "VARCHAR[]", "[a]"},
                                  {int64_t{2}, false, int64_t{1}, int64_t{0}, "VARCHAR[]", "[a]"}}));
  EXPECT_EQ(read("iter_2"), (Rows{{int64_t{1}, false, int64_t{0}, int64_t{0}, "VARCHAR[]", "[]"},
                                  {int64_t{2}, false, int64_t{0}, int64_t{0}, "VARCHAR[]", "[]"}}));
  EXPECT_EQ(read("iter_3"), (Rows{{int64_t{1}, false, int64_t{2}, int64_t{0}, "VARCHAR[]", "[NULL, NULL]"},
                                  {int64_t{2}, false, int64_t{2}, int64_t{0}, "VARCHAR[]", "[NULL, NULL]"}}));
  r = Fanout({"run", Path("job.yaml"), "--set", "tags=[]", "--only", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(read("iter_1")[0][2], Value(int64_t{0}));
  // An empty map has no STRUCT type: refused before anything is written.
  Write("job.yaml", "name: empty-map\ninputs: {t: t.csv}\nparams: {cfg: {}}\nsequence: [1]\n"
                    "transform: SELECT id, $cfg AS cfg FROM t\noutput: {dir: out2}\ncache: false\n");
  RunResult m = Fanout({"run", Path("job.yaml")});
  EXPECT_EQ(m.exit_code, 2) << m.Describe();
  EXPECT_NE(m.err.find(Path("job.yaml") + ":5:"), std::string::npos) << m.err;
  EXPECT_NE(m.err.find("param cfg: an empty map {} cannot be bound"), std::string::npos) << m.err;
  EXPECT_FALSE(std::filesystem::exists(Path("out2")));
}

}  // namespace
}  // namespace fanout::test
