// libFuzzer target: the engine's result reader (Connection::Query ->
// Materialize) must read every value of every type DuckDB can produce —
// never crash, hang or leak — and Value::ToJson/ToString must take what it
// returns.
//
// The input drives a small grammar: it picks column types (scalars of every
// kind, LIST, ARRAY, STRUCT, MAP, UNION, nested up to depth 3) and, per row,
// a value for each: NULL at any level, extreme values, empty lists and maps,
// unicode and NUL characters in strings. The SQL text is built only from the
// grammar's own tokens plus literals this file writes itself: numbers are
// printed from integers, strings are single-quoted with quotes doubled and
// NUL spliced in as chr(0). DuckDB's errors (an invalid cast, a value out of
// range, a duplicate map key) are expected and ignored.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine.h"

namespace {

using fanout::Connection;
using fanout::Database;
using fanout::Value;

// Reads choices from the fuzz input; zeros once it is used up.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  uint8_t Byte() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  size_t Pick(size_t k) { return k ? Byte() % k : 0; }
  bool OneIn(int k) { return Byte() % k == 0; }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | Byte();
    return v;
  }
  bool empty() const { return n_ == 0; }

 private:
  const uint8_t* p_;
  size_t n_;
};

// A SQL string literal of arbitrary text: quotes doubled; NUL (which cannot
// appear in the query text) spliced in as chr(0).
std::string Quote(const std::string& s) {
  std::string out = "('";
  for (char c : s) {
    if (c == '\'') out += "''";
    else if (c == '\0') out += "' || chr(0) || '";
    else out += c;
  }
  return out + "')";
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | cp >> 6);
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | cp >> 12);
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | cp >> 18);
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Valid UTF-8 text: ASCII (quotes, NUL included), accented letters, CJK, emoji.
std::string Text(Input& in) {
  static const uint32_t kPlanes[] = {0x0, 0x20, 0xC0, 0x391, 0x4E00, 0x1F600};
  std::string s;
  for (size_t n = in.Pick(24); n > 0; --n) {
    uint32_t base = kPlanes[in.Pick(6)];
    AppendUtf8(s, base + in.Byte() % (base == 0 ? 0x80 : 0x60));
  }
  if (in.OneIn(16)) s.append(300, 'x');  // not inlined in its vector
  return s;
}

std::string Digits(Input& in, size_t max) {
  std::string s(1, static_cast<char>('1' + in.Pick(9)));
  for (size_t n = in.Pick(max); n > 0; --n) s += static_cast<char>('0' + in.Pick(10));
  return s;
}

// A scalar type: its SQL and fixed literals (extremes) besides generated ones.
struct Scalar {
  const char* sql;
  std::vector<const char*> extremes;
  enum Gen { kInt, kReal, kText, kDigits, kBits, kHex, kDate, kTime, kStamp, kSpan, kNone } gen;
};

const std::vector<Scalar>& Scalars() {
  static const std::vector<Scalar> kScalars = {
      {"BOOLEAN", {"true", "false"}, Scalar::kNone},
      {"TINYINT", {"-128", "127"}, Scalar::kInt},
      {"SMALLINT", {"-32768", "32767"}, Scalar::kInt},
      {"INTEGER", {"-2147483648", "2147483647"}, Scalar::kInt},
      {"BIGINT", {"-9223372036854775808", "9223372036854775807"}, Scalar::kInt},
      {"UTINYINT", {"0", "255"}, Scalar::kInt},
      {"USMALLINT", {"65535"}, Scalar::kInt},
      {"UINTEGER", {"4294967295"}, Scalar::kInt},
      {"UBIGINT", {"18446744073709551615", "9223372036854775808"}, Scalar::kInt},
      {"HUGEINT",
       {"-170141183460469231731687303715884105728", "170141183460469231731687303715884105727",
        "-9223372036854775809"},
       Scalar::kDigits},
      {"UHUGEINT", {"340282366920938463463374607431768211455", "18446744073709551616"}, Scalar::kDigits},
      {"FLOAT", {"'nan'", "'inf'", "'-inf'", "3.4028235e38", "1e-45", "-0.0"}, Scalar::kReal},
      {"DOUBLE", {"'nan'", "'-inf'", "1.7976931348623157e308", "5e-324", "-0.0"}, Scalar::kReal},
      {"DECIMAL(4,2)", {"99.99", "-99.99", "0.01"}, Scalar::kReal},
      {"DECIMAL(9,4)", {"99999.9999", "-0.0001"}, Scalar::kReal},
      {"DECIMAL(18,6)", {"999999999999.999999", "-0.000001"}, Scalar::kReal},
      {"DECIMAL(38,10)", {"9999999999999999999999999999.9999999999", "-0.0000000001"}, Scalar::kDigits},
      {"DECIMAL(38,0)", {"-99999999999999999999999999999999999999"}, Scalar::kDigits},
      {"VARCHAR", {"''"}, Scalar::kText},
      {"JSON", {"'{\"a\": [1, null]}'", "'null'"}, Scalar::kText},
      {"BLOB", {"'\\x00\\xFF'", "''"}, Scalar::kHex},
      {"BIT", {"'0'", "'1'"}, Scalar::kBits},
      {"BIGNUM", {"'-1'", "'0'"}, Scalar::kDigits},
      {"UUID", {"'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'"}, Scalar::kHex},
      {"ENUM('a', 'b''c', 'é')", {"'a'", "'b''c'", "'é'"}, Scalar::kNone},
      {"e16", {"'v0'", "'v299'"}, Scalar::kNone},
      {"e32", {"'w0'", "'w69999'"}, Scalar::kNone},
      {"DATE", {"'infinity'", "'-infinity'", "'5877642-06-25 (BC)'", "'5881580-07-10'"}, Scalar::kDate},
      {"TIME", {"'24:00:00'", "'00:00:00'"}, Scalar::kTime},
      {"TIME_NS", {"'12:00:00.123456789'"}, Scalar::kTime},
      {"TIMETZ", {"'24:00:00-15:59'", "'00:00:00+15:59'"}, Scalar::kTime},
      {"TIMESTAMP", {"'infinity'", "'290309-12-22 (BC) 00:00:00'", "'294247-01-10 04:00:54.775806'"},
       Scalar::kStamp},
      {"TIMESTAMP_S", {"'-infinity'"}, Scalar::kStamp},
      {"TIMESTAMP_MS", {"'2024-01-01 00:00:00.999'"}, Scalar::kStamp},
      {"TIMESTAMP_NS", {"'2262-04-11 23:47:16.854775806'", "'1677-09-22 00:00:00'"}, Scalar::kStamp},
      {"TIMESTAMPTZ", {"'infinity'", "'2024-01-01 00:00:00+15:59'"}, Scalar::kStamp},
      {"INTERVAL", {"'-178000000 years'", "'178000000 years'", "'0 seconds'"}, Scalar::kSpan},
  };
  return kScalars;
}

// A generated literal for a scalar (cast to its type by the caller).
std::string Generated(const Scalar& s, Input& in) {
  char buf[96];
  switch (s.gen) {
    case Scalar::kInt:
      return std::to_string(static_cast<int64_t>(in.U64()) >> in.Pick(64));
    case Scalar::kReal: {
      std::snprintf(buf, sizeof buf, "%d.%04u", static_cast<int>(in.U64() % 2000001) - 1000000,
                    static_cast<unsigned>(in.U64() % 10000));
      return buf;
    }
    case Scalar::kDigits:
      return (in.OneIn(2) ? "-" : "") + Digits(in, 45);
    case Scalar::kText:
      return Quote(Text(in));
    case Scalar::kBits: {
      std::string b;
      for (size_t n = 1 + in.Pick(70); n > 0; --n) b += in.OneIn(2) ? '1' : '0';
      return "'" + b + "'";
    }
    case Scalar::kHex: {
      std::string h = "'";
      for (int i = 0; i < 16; ++i) {
        std::snprintf(buf, sizeof buf, "%s%02x", std::string(s.sql) == "BLOB" ? "\\x" : "", in.Byte());
        h += buf;
      }
      return h + "'";
    }
    case Scalar::kDate:
      std::snprintf(buf, sizeof buf, "'%04d-%02d-%02d'", static_cast<int>(in.U64() % 10000), 1 + in.Byte() % 12,
                    1 + in.Byte() % 31);
      return buf;
    case Scalar::kTime:
      std::snprintf(buf, sizeof buf, "'%02d:%02d:%02d.%06u%+03d'", in.Byte() % 24, in.Byte() % 60, in.Byte() % 60,
                    static_cast<unsigned>(in.U64() % 1000000), in.Byte() % 31 - 15);
      return buf;
    case Scalar::kStamp:
      std::snprintf(buf, sizeof buf, "'%04d-%02d-%02d %02d:%02d:%02d.%06u'", static_cast<int>(in.U64() % 10000),
                    1 + in.Byte() % 12, 1 + in.Byte() % 28, in.Byte() % 24, in.Byte() % 60, in.Byte() % 60,
                    static_cast<unsigned>(in.U64() % 1000000));
      return buf;
    case Scalar::kSpan:
      std::snprintf(buf, sizeof buf, "'%d months %d days %lld microseconds'", static_cast<int8_t>(in.Byte()),
                    static_cast<int16_t>(in.U64()), static_cast<long long>(static_cast<int64_t>(in.U64()) >> 20));
      return buf;
    case Scalar::kNone:
      break;
  }
  return s.extremes.empty() ? "NULL" : s.extremes[0];
}

// A type of the grammar.
struct Type {
  enum Kind { kScalar, kList, kArray, kStruct, kMap, kUnion } kind = kScalar;
  size_t scalar = 0;    // index into Scalars()
  size_t size = 0;      // ARRAY
  std::vector<Type> kids;  // element / fields / key, value / members
};

// Field and member names: plain, with a space, a keyword, unicode, a quote.
const char* const kNames[] = {"a", "b c", "select", "é", "x\"y"};

std::string Ident(size_t i) {
  std::string out = "\"";
  for (const char* c = kNames[i]; *c; ++c) out += *c == '"' ? std::string("\"\"") : std::string(1, *c);
  return out + "\"";
}

// A struct literal's key: a plain string constant (no name holds a ' or NUL).
std::string NameLiteral(size_t i) { return std::string("'") + kNames[i] + "'"; }

Type MakeType(Input& in, int depth) {
  Type t;  // half the types are scalars; nothing nests deeper than 3
  t.kind = depth >= 3 || in.OneIn(2) ? Type::kScalar : static_cast<Type::Kind>(in.Pick(6));
  switch (t.kind) {
    case Type::kScalar:
      t.scalar = in.Pick(Scalars().size());
      break;
    case Type::kList:
      t.kids.push_back(MakeType(in, depth + 1));
      break;
    case Type::kArray:
      t.size = 1 + in.Pick(3);
      t.kids.push_back(MakeType(in, depth + 1));
      break;
    case Type::kStruct:
    case Type::kUnion:
      for (size_t n = 1 + in.Pick(3); n > 0; --n) t.kids.push_back(MakeType(in, depth + 1));
      break;
    case Type::kMap:
      t.kids.push_back(MakeType(in, 3));  // keys: scalars
      t.kids.push_back(MakeType(in, depth + 1));
      break;
  }
  return t;
}

std::string TypeSql(const Type& t) {
  switch (t.kind) {
    case Type::kScalar: return Scalars()[t.scalar].sql;
    case Type::kList: return TypeSql(t.kids[0]) + "[]";
    case Type::kArray: return TypeSql(t.kids[0]) + "[" + std::to_string(t.size) + "]";
    case Type::kMap: return "MAP(" + TypeSql(t.kids[0]) + ", " + TypeSql(t.kids[1]) + ")";
    case Type::kStruct:
    case Type::kUnion: {
      std::string s = t.kind == Type::kStruct ? "STRUCT(" : "UNION(";
      for (size_t i = 0; i < t.kids.size(); ++i) s += (i ? ", " : "") + Ident(i) + " " + TypeSql(t.kids[i]);
      return s + ")";
    }
  }
  return "INTEGER";
}

// An expression of type t (cast to it), NULL at any level.
std::string ValueSql(const Type& t, Input& in, int depth) {
  if (in.OneIn(8)) return "NULL::" + TypeSql(t);
  std::string v;
  switch (t.kind) {
    case Type::kScalar: {
      const Scalar& s = Scalars()[t.scalar];
      v = !s.extremes.empty() && in.OneIn(3) ? s.extremes[in.Pick(s.extremes.size())] : Generated(s, in);
      break;
    }
    case Type::kList:
    case Type::kArray: {
      size_t n = t.kind == Type::kArray && !in.OneIn(16) ? t.size : in.Pick(5);
      v = "[";
      for (size_t i = 0; i < n; ++i) v += (i ? ", " : "") + ValueSql(t.kids[0], in, depth + 1);
      v += "]";
      break;
    }
    case Type::kStruct:
      v = "{";
      for (size_t i = 0; i < t.kids.size(); ++i)
        v += (i ? ", " : "") + NameLiteral(i) + ": " + ValueSql(t.kids[i], in, depth + 1);
      v += "}";
      break;
    case Type::kMap:
      v = "MAP {";
      for (size_t n = in.Pick(4), i = 0; i < n; ++i)
        v += (i ? ", " : "") + ValueSql(t.kids[0], in, depth + 1) + ": " + ValueSql(t.kids[1], in, depth + 1);
      v += "}";
      break;
    case Type::kUnion: {
      size_t m = in.Pick(t.kids.size());
      v = "union_value(" + Ident(m) + " := " + ValueSql(t.kids[m], in, depth + 1) + ")";
      break;
    }
  }
  return "(" + v + ")::" + TypeSql(t);
}

// One statement: 1-3 columns, 1-3 SELECTs joined by UNION ALL, each repeated
// 0, 1, 2 or (rarely) 2100 times so results span several chunks.
std::string Statement(Input& in) {
  std::vector<Type> cols;
  for (size_t n = 1 + in.Pick(3); n > 0; --n) cols.push_back(MakeType(in, 0));
  std::string sql;
  for (size_t r = 1 + in.Pick(3); r > 0; --r) {
    sql += sql.empty() ? "SELECT " : " UNION ALL SELECT ";
    for (size_t c = 0; c < cols.size(); ++c)
      sql += (c ? ", " : "") + ValueSql(cols[c], in, 0) + " AS c" + std::to_string(c);
    static const int kRepeat[] = {1, 0, 2, 1, 1, 1, 1, 2100};
    sql += " FROM range(" + std::to_string(kRepeat[in.Pick(8)]) + ")";
  }
  return sql;
}

Connection& Engine() {
  static std::unique_ptr<Database> db;
  static std::unique_ptr<Connection> con;
  if (!con) {
    Database::Options o;
    o.threads = 1;
    o.memory_limit = "512MB";
    db = std::move(Database::Open(o)).value();
    con = std::move(db->Connect()).value();
    (void)con->Execute("CREATE TYPE e16 AS ENUM (SELECT 'v' || i FROM range(300) r(i))");
    (void)con->Execute("CREATE TYPE e32 AS ENUM (SELECT 'w' || i FROM range(70000) r(i))");
  }
  return *con;
}

// Touches every value the way consumers do.
size_t Consume(const Value& v) { return v.ToJson().size() + v.ToString().size(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  std::string sql = Statement(in);
  if (getenv("VALUE_FUZZER_PRINT")) std::fprintf(stderr, "%s\n", sql.c_str());
  auto table = Engine().Query(sql);
  if (!table.ok()) return 0;  // DuckDB rejected it: fine
  size_t total = 0;
  for (const auto& row : table->rows) {
    if (row.size() != table->columns.size()) __builtin_trap();
    for (const Value& v : row) total += Consume(v);
  }
  return total == static_cast<size_t>(-1);
}
