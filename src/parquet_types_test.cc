#include "parquet_types.h"

#include <gtest/gtest.h>

#include "memory_engine.h"

#include "temp_dir.h"

namespace fanout {
namespace {

class ParquetTypesTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(OpenMemoryEngine(&db_, &con_));
  }

  // The result columns of `SELECT expr AS c`, from preparing it.
  std::vector<ResultColumn> Columns(const std::string& expr) {
    auto stmt = con_->Prepare("SELECT " + expr + " AS c");
    EXPECT_TRUE(stmt.ok()) << expr << ": " << stmt.status().message();
    if (!stmt.ok()) return {};
    auto cols = (*stmt)->ResultColumns();
    EXPECT_TRUE(cols.ok()) << expr << ": " << cols.status().message();
    return cols.ok() ? *cols : std::vector<ResultColumn>{};
  }

  struct RoundTrip {
    bool written = false;     // the COPY succeeded
    bool same_type = false;   // typeof() is the same after reading back
    bool same_value = false;  // ::VARCHAR is the same after reading back
  };
  // Writes `SELECT expr AS c` to Parquet, reads it back and compares.
  RoundTrip Measure(const std::string& expr) {
    RoundTrip out;
    std::string file = dir_ + "/f" + std::to_string(files_++) + ".parquet";
    auto copy = con_->Prepare("COPY (SELECT " + expr + " AS c) TO $path (FORMAT parquet)");
    EXPECT_TRUE(copy.ok()) << copy.status().message();
    if (!copy.ok() || !(*copy)->Bind("path", Value(file)).ok()) return out;
    out.written = (*copy)->Execute().ok();
    if (!out.written) return out;
    auto cmp = con_->Prepare("WITH a AS (SELECT " + expr +
                             " AS c), b AS (SELECT c FROM read_parquet($path)) SELECT (SELECT typeof(c) FROM a) = "
                             "(SELECT typeof(c) FROM b), (SELECT c::VARCHAR FROM a) IS NOT DISTINCT FROM (SELECT "
                             "c::VARCHAR FROM b)");
    EXPECT_TRUE(cmp.ok()) << cmp.status().message();
    if (!cmp.ok() || !(*cmp)->Bind("path", Value(file)).ok()) return out;
    auto t = (*cmp)->Execute();
    EXPECT_TRUE(t.ok()) << expr << ": " << t.status().message();
    if (!t.ok() || t->rows.size() != 1) return out;
    out.same_type = t->rows[0][0] == Value(true);
    out.same_value = t->rows[0][1] == Value(true);
    return out;
  }

  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> con_;
  int files_ = 0;
};

// The check agrees with the real writer: no issue exactly when type and value
// survive a round trip; `lossy` exactly when the value changes or the write
// fails. Each value is chosen to show the loss where there is one.
TEST_F(ParquetTypesTest, AgreesWithTheWriterForEveryType) {
  const std::vector<std::string> exprs = {
      "true", "(-128)::TINYINT", "(-32768)::SMALLINT", "2147483647", "(-9223372036854775808)::BIGINT",
      "255::UTINYINT", "65535::USMALLINT", "4294967295::UINTEGER", "18446744073709551615::UBIGINT",
      "9007199254740993::HUGEINT", "(-170141183460469231731687303715884105728)::HUGEINT",
      "340282366920938463463374607431768211455::UHUGEINT", "1.5::FLOAT", "'nan'::DOUBLE", "'-inf'::DOUBLE",
      "1.23::DECIMAL(4,2)", "1.23::DECIMAL(9,2)", "1.23::DECIMAL(18,2)",
      "12345678901234567890123456789012345.678::DECIMAL(38,3)", "'héllo ✓'", "'\\x00\\xFF'::BLOB", "'10101'::BIT",
      "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID", "'b'::ENUM('a', 'b')", "DATE '2024-02-29'",
      "DATE '-infinity'", "DATE '0044-03-15 (BC)'", "TIME '12:34:56.789'",
      "TIMETZ '12:34:56+05:30'", "TIMESTAMP '2024-01-02 03:04:05.123456'", "TIMESTAMP_S '2024-01-02 03:04:05'",
      "TIMESTAMP_MS '2024-01-02 03:04:05.123'", "TIMESTAMP_NS '2024-01-02 03:04:05.123456789'",
      "TIMESTAMPTZ '2024-01-02 03:04:05.123456+02'", "TIMESTAMP 'infinity'", "INTERVAL '1.0015 seconds'",
      "INTERVAL '-1 month'", "'123456789012345678901234567890123'::BIGNUM",
      "[1, 2, NULL]", "[]::INTEGER[]", "[1, 2, 3]::INTEGER[3]", "{'a': 1, 'b': 'x'}", "MAP {'k': [1]}",
      "MAP {1: 'a'}", "union_value(a := 1)::UNION(a INTEGER, b VARCHAR)", "[9007199254740993::HUGEINT]",
      "{'h': 9007199254740993::UHUGEINT}", "MAP {'k': 9007199254740993::HUGEINT}", "NULL::INTEGER",
      "{'x': MAP {'y': [1]}}", "[TIMETZ '12:00:00+01']", "'{\"a\": 1}'::JSON", "[[1, 2], [3, 4]]::INTEGER[2][2]",
      "{'e': 'a'::ENUM('a', 'b')}"};
  for (const std::string& e : exprs) {
    SCOPED_TRACE(e);
    std::vector<ParquetIssue> issues = ParquetIssues(Columns(e));
    RoundTrip rt = Measure(e);
    bool exact = rt.written && rt.same_type && rt.same_value;
    bool lossy = false;
    for (const ParquetIssue& i : issues) lossy |= i.lossy;
    EXPECT_EQ(issues.empty(), exact) << (issues.empty() ? "" : issues[0].ToString());
    EXPECT_EQ(lossy, !rt.written || !rt.same_value) << (issues.empty() ? "" : issues[0].ToString());
  }
}

// Reported by type although this value happens to survive: an INTERVAL whose
// microseconds are whole milliseconds; TIME_NS, which the engine reports as
// INVALID, so fanout cannot tell (it becomes VARCHAR with the same text).
TEST_F(ParquetTypesTest, ReportsByTypeWhereSomeValuesSurvive) {
  for (const char* e : {"INTERVAL '1 day 1.001 seconds'", "'12:34:56.123456789'::TIME_NS"}) {
    SCOPED_TRACE(e);
    RoundTrip rt = Measure(e);
    EXPECT_TRUE(rt.written && rt.same_value);
    std::vector<ParquetIssue> issues = ParquetIssues(Columns(e));
    ASSERT_EQ(issues.size(), 1u);
    EXPECT_TRUE(issues[0].lossy);
  }
}

TEST_F(ParquetTypesTest, NamesThePathTypeAndFix) {
  std::vector<ParquetIssue> issues =
      ParquetIssues(Columns("{'a': [1::HUGEINT], 'm': MAP {'k': [1, 2]::INTEGER[2]}, 'u': 1::UBIGINT}"));
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].path, "c.a[]");
  EXPECT_EQ(issues[0].type, "HUGEINT");
  EXPECT_EQ(issues[0].becomes, "DOUBLE");
  EXPECT_TRUE(issues[0].lossy);
  EXPECT_EQ(issues[1].path, "c.m.value");
  EXPECT_EQ(issues[1].type, "INTEGER[2]");
  EXPECT_EQ(issues[1].becomes, "INTEGER[]");
  EXPECT_FALSE(issues[1].lossy);

  ResultColumn total{"total", Columns("1::HUGEINT").at(0).type};
  EXPECT_EQ(ParquetCannotHold(total),
            "column \"total\" (HUGEINT) is written to Parquet as DOUBLE, changing its values: cast it to "
            "DECIMAL(38,0) (exact up to 38 digits) or VARCHAR, or to BIGINT if the values fit");
  EXPECT_EQ(ParquetCannotHold({"ok", Columns("{'a': [1.5::DECIMAL(38,2)], 'u': gen_random_uuid()}").at(0).type}), "");
}

TEST_F(ParquetTypesTest, ReportsOuterAndInnerConversions) {
  std::vector<ParquetIssue> issues = ParquetIssues(Columns("[1::HUGEINT, 2]::HUGEINT[2]"));
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].path, "c");
  EXPECT_EQ(issues[0].becomes, "HUGEINT[]");
  EXPECT_EQ(issues[1].path, "c[]");
  EXPECT_EQ(issues[1].becomes, "DOUBLE");
  ResultColumn u{"u", Columns("union_value(t := TIMETZ '12:00:00+01')::UNION(n INTEGER, t TIMETZ)").at(0).type};
  EXPECT_EQ(ParquetIssues({u}).size(), 2u);  // the union and its TIME WITH TIME ZONE member
  EXPECT_EQ(ParquetIssues({u})[1].path, "u.t");
}

}  // namespace
}  // namespace fanout
