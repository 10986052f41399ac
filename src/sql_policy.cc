#include "sql_policy.h"

#include <cctype>
#include <vector>

namespace fanout {
namespace {

// A statement's leading tokens: words (unquoted ones lower-cased; quoted
// "identifiers" keep their case), string literals, and single punctuation.
struct Token {
  enum Type { kWord, kQuoted, kString, kPunct } type;
  std::string text;
  size_t pos;  // offset in the statement
  bool Is(const char* word) const { return type == kWord && text == word; }
  bool IsPunct(char c) const { return type == kPunct && text.size() == 1 && text[0] == c; }
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  return s;
}

// Skips whitespace and comments from i as the engine's scanner does: a --
// comment ends at \n or \r, block comments nest. Returns the new position.
size_t SkipSpace(const std::string& s, size_t i) {
  while (i < s.size()) {
    if (isspace(static_cast<unsigned char>(s[i]))) {
      ++i;
    } else if (s.compare(i, 2, "--") == 0) {
      size_t e = s.find_first_of("\n\r", i);
      i = e == std::string::npos ? s.size() : e + 1;
    } else if (s.compare(i, 2, "/*") == 0) {
      int depth = 0;
      do {
        if (s.compare(i, 2, "/*") == 0) ++depth, i += 2;
        else if (s.compare(i, 2, "*/") == 0) --depth, i += 2;
        else ++i;
      } while (depth > 0 && i < s.size());
    } else {
      break;
    }
  }
  return i;
}

// Ends at a quote character `q` that is not doubled; returns the position after it.
size_t SkipQuoted(const std::string& s, size_t i, char q, std::string* text) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == q && i + 1 < s.size() && s[i + 1] == q) {
      *text += q;
      ++i;
    } else if (s[i] == q) {
      return i + 1;
    } else {
      *text += s[i];
    }
  }
  return s.size();
}

std::vector<Token> Lex(const std::string& s) {
  std::vector<Token> out;
  for (size_t i = SkipSpace(s, 0); i < s.size(); i = SkipSpace(s, i)) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    Token t{Token::kPunct, "", i};
    if (isalpha(c) || c == '_' || c >= 0x80) {
      size_t j = i;
      while (j < s.size() && (isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_' || s[j] == '$' ||
                              static_cast<unsigned char>(s[j]) >= 0x80))
        ++j;
      t = {Token::kWord, Lower(s.substr(i, j - i)), i};
      i = j;
    } else if (c == '"' || c == '\'') {
      t.type = c == '"' ? Token::kQuoted : Token::kString;
      i = SkipQuoted(s, i, static_cast<char>(c), &t.text);
    } else {
      t.text = std::string(1, static_cast<char>(c));
      ++i;
    }
    out.push_back(std::move(t));
  }
  return out;
}

// A possibly qualified name at tokens[i]: a.b.c. Returns its parts (the last
// one is the object's name) and moves i past it; empty when there is none.
std::vector<std::string> Name(const std::vector<Token>& t, size_t& i) {
  std::vector<std::string> parts;
  while (i < t.size() && (t[i].type == Token::kWord || t[i].type == Token::kQuoted)) {
    parts.push_back(Lower(t[i].text));  // the engine's names are case-insensitive
    ++i;
    if (i + 1 < t.size() && t[i].IsPunct('.')) {
      ++i;
    } else {
      break;
    }
  }
  return parts;
}

bool Accept(const std::vector<Token>& t, size_t& i, const char* word) {
  if (i < t.size() && t[i].Is(word)) {
    ++i;
    return true;
  }
  return false;
}

// The first AS at parenthesis depth 0 from i, or t.size().
size_t TopLevelAs(const std::vector<Token>& t, size_t i) {
  int depth = 0;
  for (; i < t.size(); ++i) {
    if (t[i].IsPunct('(')) ++depth;
    if (t[i].IsPunct(')')) --depth;
    if (depth == 0 && t[i].Is("as")) return i;
  }
  return t.size();
}

std::string FirstLine(const std::string& sql) {
  std::string line = sql.substr(0, sql.find('\n'));
  if (line.size() > 80) line = line.substr(0, 77) + "...";
  return line + (line.size() < sql.size() ? " ..." : "");
}

std::string WhyNever(StatementKind kind) {
  switch (kind) {
    case StatementKind::kSet:
      return "it changes a setting every iteration shares; pass values as params ($name), engine settings go under run:";
    case StatementKind::kPragma:
      return "PRAGMA reads or changes the whole engine; to read something, select from its table function "
             "(SELECT * FROM pragma_table_info('t'))";
    case StatementKind::kAttach:
    case StatementKind::kDetach:
      return "it changes the databases every iteration sees; declare files under inputs:, or read them with "
             "read_parquet()/read_csv()";
    case StatementKind::kExtension:
      return "extensions are engine-wide; fanout runs with the engine's built-in extensions only";
    case StatementKind::kCopy:
    case StatementKind::kExport:
      return "it writes files fanout does not manage; the last statement's result is what fanout writes, atomically";
    case StatementKind::kTransaction:
      return "fanout runs every statement in a transaction of its own; remove it";
    case StatementKind::kCall:
    case StatementKind::kMaintenance:
      return "it acts on the whole engine; remove it (to read a table function: SELECT * FROM f())";
    case StatementKind::kPrepare:
      return "fanout prepares the statements itself and binds params ($name); write the statement itself";
    case StatementKind::kExplain:
      return "a plan is not a result to write; write the query itself (fanout plan prints the SQL)";
    default:
      return "it can change the engine every iteration shares";
  }
}

// Tables and views share one namespace in the engine; macros, sequences and
// types each have their own.
std::string Category(const std::string& object) {
  if (object == "table" || object == "view") return "table";
  if (object == "macro" || object == "function") return "macro";
  return object;
}

// True when the tokens before `end` (up to its target's name) hold nothing
// Lex reads differently from the engine: no string of any kind ('...',
// E'...', $$...$$) and no U&"..." identifier. Comments are skipped as the
// engine skips them.
bool PlainUpTo(const std::vector<Token>& t, size_t end) {
  for (size_t i = 0; i < end && i < t.size(); ++i)
    if (t[i].type == Token::kString || t[i].IsPunct('$') || t[i].IsPunct('&')) return false;
  return end >= t.size() || !t[end].IsPunct('&');
}

}  // namespace

std::string EngineWideFunction(const std::string& sql) {
  // Matched on the raw text, strings and comments included: no quoting or
  // comment can hide a call from this check (at worst a mention in a string
  // is refused).
  std::string lower = Lower(sql);
  for (const char* f : {"enable_logging", "disable_logging", "truncate_duckdb_logs", "write_log"})
    if (lower.find(f) != std::string::npos) return f;
  return "";
}

std::string FirstKeyword(const std::string& sql) {
  std::vector<Token> t = Lex(sql);
  return t.empty() || t[0].type != Token::kWord ? "" : t[0].text;
}

std::string EmptyResultOf(const std::string& query) { return "SELECT * FROM (\n" + query + "\n) LIMIT 0"; }

SqlPolicy::SqlPolicy(Scope scope, const std::set<std::string>& inputs) : scope_(scope) {
  for (const std::string& in : inputs) inputs_.insert(Lower(in));
}

Status SqlPolicy::Reject(const std::string& sql, const std::string& why) const {
  std::string where = scope_ == Scope::kTransform ? "in a transform" : "in prepare";
  return Status::Invalid("(" + FirstLine(sql) + ") is not allowed " + where + ": " + why);
}

Result<DryStatement> SqlPolicy::Check(const std::string& sql, StatementKind kind) {
  std::string engine_wide = EngineWideFunction(sql);
  if (!engine_wide.empty())
    return Reject(sql, engine_wide + "() changes the engine every iteration shares (its log settings, files it "
                                     "writes): remove it");
  switch (kind) {
    case StatementKind::kSelect:
      return DryStatement{EmptyResultOf(sql)};
    case StatementKind::kCreate:
      return CheckCreate(sql);
    case StatementKind::kInsert:
    case StatementKind::kUpdate:
    case StatementKind::kDelete:
      FANOUT_RETURN_IF_ERROR(CheckTarget(sql, kind));
      return DryStatement{};  // prepared and bound, not run
    case StatementKind::kDrop:
    case StatementKind::kAlter:
      FANOUT_RETURN_IF_ERROR(CheckTarget(sql, kind));
      return DryStatement{sql};  // cheap, and later statements may depend on it
    default:
      return Reject(sql, std::string(StatementKindName(kind)) + ": " + WhyNever(kind));
  }
}

Status SqlPolicy::CheckUnprepared(const std::string& sql) {
  std::vector<Token> t = Lex(sql);
  std::string first = t.empty() ? "" : t[0].text;
  StatementKind kind = first == "insert"                        ? StatementKind::kInsert
                       : first == "update"                      ? StatementKind::kUpdate
                       : first == "delete" || first == "truncate" ? StatementKind::kDelete
                       : first == "drop"                        ? StatementKind::kDrop
                       : first == "alter"                       ? StatementKind::kAlter
                       : first == "create"                      ? StatementKind::kCreate
                                                                : StatementKind::kSelect;
  if (kind == StatementKind::kSelect) return Status::Ok();
  return Check(sql, kind).status();
}

Result<DryStatement> SqlPolicy::CheckCreate(const std::string& sql) {
  std::vector<Token> t = Lex(sql);
  size_t i = 0;
  if (!Accept(t, i, "create")) return Reject(sql, "cannot tell what it creates: write CREATE first");
  if (Accept(t, i, "or") && !Accept(t, i, "replace")) return Reject(sql, "expected CREATE OR REPLACE");
  bool temp = Accept(t, i, "temp") || Accept(t, i, "temporary");
  std::string object = i < t.size() && t[i].type == Token::kWord ? t[i].text : "";
  // A shared sequence would be state that iterations change (nextval).
  bool allowed = object == "macro" || object == "function" || object == "table" || object == "view" ||
                 (object == "sequence" && (temp || scope_ == Scope::kTransform)) ||
                 (object == "type" && scope_ == Scope::kPrepare);
  if (!allowed)
    return Reject(sql, "CREATE " + (object.empty() ? std::string("this") : Upper(object)) +
                           ": create tables, views, macros" + (scope_ == Scope::kTransform ? " or sequences (TEMP)" : "") +
                           " only" + (object == "sequence" ? " (a shared sequence would change as iterations run: "
                                                             "use row_number() or a TEMP sequence in the transform)"
                                                           : ""));
  ++i;
  if (Accept(t, i, "if") && !(Accept(t, i, "not") && Accept(t, i, "exists"))) return Reject(sql, "expected IF NOT EXISTS");
  std::vector<std::string> name = Name(t, i);
  if (name.empty() || !PlainUpTo(t, i))
    return Reject(sql, "cannot tell the name of what it creates: write CREATE ... name plainly");
  if (scope_ == Scope::kTransform && !temp)
    return Reject(sql, "a transform may create TEMP objects only (they are private to its iteration): write CREATE TEMP " +
                           Upper(object) + " " + name.back());
  if (scope_ == Scope::kPrepare) {
    bool main = name.size() == 1 || (name.size() == 2 && name[0] == "main");
    if (!main) return Reject(sql, "prepare creates objects in the main schema only: drop the qualifier '" + name[0] + "'");
    if (inputs_.count(name.back()))
      return Reject(sql, "'" + name.back() + "' is an input (names are case-insensitive): inputs are shared "
                         "read-only; give the derived " + object + " a name of its own");
  }
  created_[name.back()] = Category(object);
  // A table made from a query is made empty: same columns and types, nothing read.
  size_t as = object == "table" ? TopLevelAs(t, i) : t.size();
  if (as + 1 >= t.size()) return DryStatement{sql};
  size_t query_at = t[as + 1].pos;
  return DryStatement{sql.substr(0, query_at) + EmptyResultOf(sql.substr(query_at))};
}

// Moves i past the keywords that lead to the target of an INSERT, UPDATE,
// DELETE, TRUNCATE, DROP or ALTER; false when the statement does not start
// that way (a WITH before INSERT, say: its target cannot be told). `category`
// gets the kind of object the target must be.
bool SkipToTarget(const std::vector<Token>& t, size_t& i, StatementKind kind, std::string* category) {
  *category = "table";
  if (kind == StatementKind::kInsert) {
    if (!Accept(t, i, "insert")) return false;
    if (Accept(t, i, "or") && !Accept(t, i, "replace") && !Accept(t, i, "ignore")) return false;
    return Accept(t, i, "into");
  }
  if (kind == StatementKind::kUpdate) return Accept(t, i, "update");
  if (kind == StatementKind::kDelete) {
    if (Accept(t, i, "truncate")) return Accept(t, i, "table") || true;
    return Accept(t, i, "delete") && Accept(t, i, "from");
  }
  if (!Accept(t, i, kind == StatementKind::kDrop ? "drop" : "alter")) return false;
  if (i >= t.size() || t[i].type != Token::kWord) return false;
  std::string object = t[i++].text;
  *category = Category(object);
  if (*category != "table" && *category != "macro" && *category != "sequence" && *category != "type") return false;
  if (object == "macro") Accept(t, i, "table");  // DROP MACRO TABLE name
  if (Accept(t, i, "if")) return Accept(t, i, "exists");
  return true;
}

Status SqlPolicy::CheckTarget(const std::string& sql, StatementKind kind) {
  std::vector<Token> t = Lex(sql);
  size_t i = 0;
  std::vector<std::string> name;
  std::string category;
  if (SkipToTarget(t, i, kind, &category)) name = Name(t, i);
  bool plain = !name.empty() && PlainUpTo(t, i);
  bool qualified_ok = name.size() == 1 || (!name.empty() && name[0] == (scope_ == Scope::kTransform ? "temp" : "main"));
  auto own = plain && qualified_ok ? created_.find(name.back()) : created_.end();
  if (own != created_.end() && own->second == category) {
    // Once dropped or renamed, the name may resolve to a shared object.
    if (kind == StatementKind::kDrop) created_.erase(own);
    // ALTER <object> name RENAME TO new: only right after the name (RENAME
    // COLUMN a TO b renames no table).
    if (kind == StatementKind::kAlter && i + 1 < t.size() && t[i].Is("rename") && t[i + 1].Is("to")) {
      size_t k = i + 2;
      std::vector<std::string> to = Name(t, k);
      if (!to.empty()) created_.erase(name.back()), created_[to.back()] = category;
    }
    return Status::Ok();
  }
  std::string what = scope_ == Scope::kTransform ? "a TEMP table or view this transform created"
                                                 : "a table or view that prepare itself created";
  if (category != "table") what = "a " + category + " " + (scope_ == Scope::kTransform ? "this transform" : "prepare") + " created";
  std::string target = !plain ? "its target (write it as " + std::string(StatementKindName(kind)) +
                                    " ... name, with no WITH before it)"
                              : "'" + name.back() + "'";
  return Reject(sql, std::string(StatementKindName(kind)) + " may only change " + what + "; " + target +
                         " is not one: inputs are shared read-only (derive a new table instead: CREATE " +
                         (scope_ == Scope::kTransform ? "TEMP " : "") + "TABLE t2 AS SELECT ... FROM input)");
}

}  // namespace fanout
