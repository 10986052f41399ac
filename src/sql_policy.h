// sql_policy: what a statement of a transform or of `prepare` may do, judged
// before anything runs (guarantee 4: one iteration cannot change another).
//
// The engine's parser gives each statement's type (PreparedStatement::kind);
// the few leading tokens of a statement (CREATE [OR REPLACE] TEMP TABLE name,
// INSERT INTO name, ...) give what it creates or changes. Anything this cannot
// prove private is rejected, naming the statement and what to do instead:
//
//   transform steps  SELECT; CREATE TEMP TABLE|VIEW|MACRO|FUNCTION|SEQUENCE
//                    (private to the iteration's connection); INSERT, UPDATE,
//                    DELETE, TRUNCATE, ALTER, DROP of a temp object of that
//                    kind (table or view, macro, sequence) the same transform
//                    created.
//   prepare          SELECT; CREATE [TEMP] TABLE|VIEW|MACRO|FUNCTION|TYPE, TEMP
//                    SEQUENCE (a shared one would change as iterations run),
//                    in the main schema under a name that is not an input's;
//                    INSERT, UPDATE, DELETE, TRUNCATE, ALTER, DROP of what
//                    prepare itself created.
//   the target name  must be plain: no string or U&"..." quoting before it
//                    (comments are skipped as the engine's scanner does:
//                    block comments nest, -- ends at \r too).
//   never            SET/RESET, PRAGMA, ATTACH/DETACH, INSTALL/LOAD, COPY,
//                    EXPORT/IMPORT, CALL, CHECKPOINT/VACUUM/ANALYZE,
//                    transactions, PREPARE/EXECUTE, EXPLAIN, secrets, schemas,
//                    indexes.
//
// The policy also says how `validate`, `plan` and the dry run treat an
// allowed statement without doing its work: DDL runs (it is cheap and later
// statements need its objects), CREATE TABLE ... AS q runs as
// CREATE TABLE ... AS SELECT * FROM (q) LIMIT 0 (the engine plans an empty
// result and reads nothing), a SELECT runs as SELECT * FROM (q) LIMIT 0
// (binding finds type errors), and INSERT/UPDATE/DELETE are only prepared.
#pragma once

#include <map>
#include <set>
#include <string>

#include "engine.h"
#include "fanout/status.h"

namespace fanout {

struct DryStatement {
  // Empty: prepare (and bind) only; else the SQL to execute instead.
  std::string execute;
};

class SqlPolicy {
 public:
  enum class Scope { kTransform, kPrepare };
  // `inputs`: the input table names (any case).
  SqlPolicy(Scope scope, const std::set<std::string>& inputs);

  // Checks one statement of type `kind` (from the engine's parser). Invalid,
  // naming the statement, when it is not allowed. Records what it creates.
  Result<DryStatement> Check(const std::string& sql, StatementKind kind);
  // For a statement the engine could not prepare (DELETE FROM a view, say):
  // the policy's reason to refuse it, judged by its first keyword, or OK when
  // the engine's own error is the one to show.
  Status CheckUnprepared(const std::string& sql);

 private:
  Result<DryStatement> CheckCreate(const std::string& sql);
  Status CheckTarget(const std::string& sql, StatementKind kind);
  Status Reject(const std::string& sql, const std::string& why) const;

  Scope scope_;
  std::set<std::string> inputs_;   // lower-cased
  // Lower-cased names this SQL created -> "table" (tables and views share a
  // namespace), "macro", "sequence" or "type".
  std::map<std::string, std::string> created_;
};

// The name of a function that changes the whole engine (its log settings,
// files it writes: enable_logging, ...) that `sql` mentions anywhere, or "".
std::string EngineWideFunction(const std::string& sql);

// The statement's first keyword, lower-cased ("" when there is none);
// comments are skipped as the engine skips them.
std::string FirstKeyword(const std::string& sql);

// SELECT * FROM (\n<query>\n) LIMIT 0: the query's columns and types, bound,
// with nothing read (the engine plans an empty result).
std::string EmptyResultOf(const std::string& query);

}  // namespace fanout
