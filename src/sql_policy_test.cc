#include "sql_policy.h"

#include <gtest/gtest.h>

#include "memory_engine.h"

namespace fanout {
namespace {

// Each statement judged with its real type from the engine's parser.
class SqlPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenMemoryEngine(&db_, &con_));
    ASSERT_TRUE(con_->Execute("CREATE TABLE t AS SELECT 1 AS id").ok());
  }

  // Checks `statements` in order with one policy; the status of the last.
  Result<DryStatement> Check(SqlPolicy::Scope scope, const std::vector<std::string>& statements) {
    SqlPolicy policy(scope, {"t", "Prices"});
    Result<DryStatement> last = Status::Invalid("no statement");
    for (const std::string& sql : statements) {
      auto stmt = con_->Prepare(sql);
      StatementKind kind = stmt.ok() ? (*stmt)->kind() : KindByFirstWord(sql);
      last = policy.Check(sql, kind);
      if (!last.ok()) return last;
    }
    return last;
  }

  // Statements that do not prepare here (their table does not exist yet).
  static StatementKind KindByFirstWord(const std::string& sql) {
    if (sql.rfind("INSERT", 0) == 0) return StatementKind::kInsert;
    if (sql.rfind("UPDATE", 0) == 0) return StatementKind::kUpdate;
    if (sql.rfind("DELETE", 0) == 0 || sql.rfind("TRUNCATE", 0) == 0) return StatementKind::kDelete;
    if (sql.rfind("DROP", 0) == 0) return StatementKind::kDrop;
    if (sql.find("DELETE") != std::string::npos) return StatementKind::kDelete;
    if (sql.rfind("ALTER", 0) == 0) return StatementKind::kAlter;
    if (sql.rfind("CREATE", 0) == 0) return StatementKind::kCreate;
    return StatementKind::kOther;
  }

  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> con_;
};

TEST_F(SqlPolicyTest, TransformRejectsEverythingThatReachesBeyondItsIteration) {
  for (const char* sql : {
           "SET memory_limit = '20MB'", "RESET threads", "SET VARIABLE x = 1", "PRAGMA threads = 1",
           "ATTACH ':memory:' AS other", "DETACH other", "INSTALL httpfs", "LOAD httpfs",
           "COPY (SELECT 1) TO '/tmp/fanout-policy-never.csv'", "EXPORT DATABASE '/tmp/fanout-policy-never'",
           "CALL pragma_version()", "CHECKPOINT", "BEGIN TRANSACTION", "VACUUM", "EXPLAIN SELECT 1",
           "CREATE TABLE leak AS SELECT 1", "CREATE OR REPLACE VIEW t AS SELECT 2 AS id", "CREATE SCHEMA s",
           "CREATE MACRO m(a) AS a + 1", "CREATE SEQUENCE seq", "CREATE TYPE mood AS ENUM ('a')",
           "INSERT INTO t VALUES (2)", "UPDATE t SET id = 2", "DELETE FROM t", "TRUNCATE t", "DROP TABLE t",
           "ALTER TABLE t RENAME TO t2", "INSERT INTO main.t VALUES (3)"}) {
    SCOPED_TRACE(sql);
    auto r = Check(SqlPolicy::Scope::kTransform, {sql});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kInvalid);
    EXPECT_NE(r.status().message().find("is not allowed in a transform"), std::string::npos) << r.status().message();
  }
}

TEST_F(SqlPolicyTest, TransformMayWorkOnTempObjectsItCreated) {
  auto r = Check(SqlPolicy::Scope::kTransform,
                 {"CREATE TEMP TABLE x AS SELECT * FROM t", "INSERT INTO x VALUES (5)", "UPDATE x SET id = id + 1",
                  "DELETE FROM X WHERE id = 0", "ALTER TABLE x RENAME TO y", "INSERT INTO y VALUES (6)",
                  "CREATE OR REPLACE TEMPORARY VIEW v AS SELECT * FROM y", "CREATE TEMP MACRO twice(a) AS a * 2",
                  "DROP VIEW IF EXISTS v", "TRUNCATE y", "INSERT INTO temp.main.y VALUES (1)"});
  EXPECT_TRUE(r.ok()) << r.status().message();
  // A temp object of the same name as an input shadows it in this
  // connection only; changing the input itself stays rejected.
  EXPECT_FALSE(Check(SqlPolicy::Scope::kTransform, {"CREATE TEMP TABLE x AS SELECT 1", "UPDATE t SET id = 0"}).ok());
}

// What Lex reads must be what the engine reads: comments are skipped as the
// engine does (nested, a -- ended by \r), U&"..." quoting is refused; so is
// a name of another kind of object (a macro does not hide a view).
TEST_F(SqlPolicyTest, TargetsTheEngineWouldReadDifferentlyAreRefused) {
  const std::vector<std::vector<std::string>> cases = {
      {"CREATE TEMP MACRO t() AS 1", "DROP VIEW t"},
      {"CREATE TEMP SEQUENCE t", "DELETE FROM t"},
      {"CREATE TEMP TABLE x AS SELECT 1 AS id", "DELETE FROM /* /* */ x */ t"},
      {"CREATE TEMP TABLE x AS SELECT 1 AS id", "DELETE FROM --\r t\n x"},
      {"CREATE TEMP TABLE u AS SELECT 1 AS id", "DELETE FROM U&\"\\0074\""},
      {"CREATE TEMP TABLE /* /* */ x */ y AS SELECT 1 AS id", "DELETE FROM x"},
      {"/* /* */ CREATE TEMP TABLE x */ CREATE TABLE t2 AS SELECT 1 AS id"},
  };
  for (const auto& statements : cases) {
    SCOPED_TRACE(statements[0] + "; " + statements.back());
    auto r = Check(SqlPolicy::Scope::kTransform, statements);
    EXPECT_FALSE(r.ok());
  }
  // The same statements written plainly are fine.
  EXPECT_TRUE(Check(SqlPolicy::Scope::kTransform, {"CREATE TEMP MACRO m() AS 1", "DROP MACRO m"}).ok());
  EXPECT_TRUE(Check(SqlPolicy::Scope::kTransform, {"CREATE TEMP SEQUENCE s", "DROP SEQUENCE s"}).ok());
  EXPECT_TRUE(Check(SqlPolicy::Scope::kTransform,
                    {"-- a comment with $n and 'quotes'\n/* and /* a nested */ one */ CREATE TEMP TABLE x AS SELECT 1 AS id",
                     "DELETE FROM /* here too */ x -- and after\n WHERE id = 1"})
                  .ok());
}

// Found by an adversarial pass: a column named `rename` is no RENAME TO;
// DROP MACRO TABLE names its macro after TABLE; enable_logging() in a query
// changes the engine and appends to any file.
TEST_F(SqlPolicyTest, RenameColumnDropMacroTableAndLoggingAreNoWayOut) {
  EXPECT_FALSE(Check(SqlPolicy::Scope::kTransform,
                     {"CREATE TEMP TABLE x AS SELECT 1 AS rename", "ALTER TABLE x RENAME COLUMN rename TO t",
                      "DELETE FROM t"})
                   .ok());
  EXPECT_FALSE(Check(SqlPolicy::Scope::kPrepare, {"CREATE TABLE t1 AS SELECT 1 AS rename",
                                                  "ALTER TABLE t1 RENAME COLUMN rename TO t", "DROP VIEW t"})
                   .ok());
  EXPECT_FALSE(Check(SqlPolicy::Scope::kTransform, {"CREATE TEMP MACRO \"table\"() AS 1", "DROP MACRO TABLE tm"}).ok());
  EXPECT_TRUE(Check(SqlPolicy::Scope::kTransform, {"CREATE TEMP MACRO tm() AS TABLE SELECT 1 AS x", "DROP MACRO TABLE tm"}).ok());
  for (const char* sql : {"SELECT * FROM enable_logging(storage := 'file', storage_config := {'path': 'a.csv'})",
                          "SELECT count(*) FROM /* */ Disable_Logging()", "SELECT write_log('x')"}) {
    SCOPED_TRACE(sql);
    auto r = Check(SqlPolicy::Scope::kTransform, {sql});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("changes the engine every iteration shares"), std::string::npos);
    EXPECT_FALSE(Check(SqlPolicy::Scope::kPrepare, {sql}).ok());
  }
}

TEST_F(SqlPolicyTest, PrepareMayNotCreateASharedSequence) {
  EXPECT_FALSE(Check(SqlPolicy::Scope::kPrepare, {"CREATE SEQUENCE s"}).ok());
  EXPECT_TRUE(Check(SqlPolicy::Scope::kPrepare, {"CREATE TEMP SEQUENCE s"}).ok());
}

// Names that stop being the transform's own: dropped or renamed away, a
// later statement could reach a shared table of the same name.
TEST_F(SqlPolicyTest, DroppedOrRenamedTempNamesAreNoLongerPrivate) {
  EXPECT_FALSE(Check(SqlPolicy::Scope::kTransform,
                     {"CREATE TEMP TABLE t AS SELECT 1 AS id", "DROP TABLE t", "INSERT INTO t VALUES (2)"})
                   .ok());
  EXPECT_FALSE(Check(SqlPolicy::Scope::kTransform,
                     {"CREATE TEMP TABLE t AS SELECT 1 AS id", "ALTER TABLE t RENAME TO u", "DELETE FROM t"})
                   .ok());
  // A statement whose target cannot be told from its first keywords.
  EXPECT_FALSE(Check(SqlPolicy::Scope::kTransform,
                     {"CREATE TEMP TABLE \"with\" AS SELECT 1 AS id",
                      "WITH \"with\" AS (SELECT 2 AS id) INSERT INTO t SELECT * FROM \"with\""})
                   .ok());
}

TEST_F(SqlPolicyTest, DryFormsReadNothing) {
  auto create = Check(SqlPolicy::Scope::kTransform, {"CREATE TEMP TABLE x AS SELECT count(*) FROM range(1000000000000)"});
  ASSERT_TRUE(create.ok()) << create.status().message();
  EXPECT_EQ(create->execute,
            "CREATE TEMP TABLE x AS SELECT * FROM (\nSELECT count(*) FROM range(1000000000000)\n) LIMIT 0");
  auto r = con_->Execute(create->execute);  // would take minutes if it counted
  EXPECT_TRUE(r.ok()) << r.message();
  auto insert = Check(SqlPolicy::Scope::kTransform, {"CREATE TEMP TABLE z (a INT)", "INSERT INTO z SELECT 1"});
  ASSERT_TRUE(insert.ok());
  EXPECT_EQ(insert->execute, "");  // prepared only
  auto select = Check(SqlPolicy::Scope::kTransform, {"SELECT 1 -- trailing comment"});
  ASSERT_TRUE(select.ok());
  EXPECT_TRUE(con_->Execute(select->execute).ok());  // the comment cannot swallow the closing parenthesis
}

TEST_F(SqlPolicyTest, PrepareMayDeriveSharedTablesButNotTouchInputs) {
  EXPECT_TRUE(Check(SqlPolicy::Scope::kPrepare,
                    {"CREATE TABLE enriched AS SELECT * FROM t", "INSERT INTO enriched SELECT * FROM t",
                     "CREATE OR REPLACE VIEW main.v AS SELECT * FROM enriched", "CREATE MACRO m(a) AS a + 1",
                     "DELETE FROM Enriched WHERE id < 0", "CREATE TYPE mood AS ENUM ('a')"})
                  .ok());
  for (const char* sql : {"CREATE OR REPLACE VIEW T AS SELECT 2 AS id", "CREATE TABLE prices AS SELECT 1",
                          "DELETE FROM t", "UPDATE fanout_inputs.t SET id = 0", "DROP VIEW t",
                          "CREATE TABLE fanout_inputs.x AS SELECT 1", "SET threads = 1", "ATTACH ':memory:' AS a",
                          "COPY t TO '/tmp/fanout-policy-never.csv'", "CREATE INDEX i ON t (id)"}) {
    SCOPED_TRACE(sql);
    auto r = Check(SqlPolicy::Scope::kPrepare, {sql});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("is not allowed in prepare"), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace fanout
