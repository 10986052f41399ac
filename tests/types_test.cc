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

}  // namespace
}  // namespace fanout::test
