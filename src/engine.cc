#include "engine.h"

#include <duckdb.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string_view>
#include <thread>
#include <utility>

#include "engine_internal.h"
#include "mutex.h"

namespace fanout {
namespace {

// DuckDB's error type decides the code and kind; the message is only shown.
Status FromDuckError(duckdb_error_type type, const char* message) {
  std::string m = message ? message : "unknown DuckDB error";
  switch (type) {
    case DUCKDB_ERROR_INTERRUPT:
      return Status::Interrupted(m);
    case DUCKDB_ERROR_OUT_OF_MEMORY:
      return Status::OutOfMemory(m);
    case DUCKDB_ERROR_IO:
    case DUCKDB_ERROR_HTTP:
    case DUCKDB_ERROR_NETWORK:
      return Status::Io(m);
    case DUCKDB_ERROR_CATALOG:
      return Status::Failed(m).WithKind(ErrorKind::kCatalog);
    default:
      return Status::Failed(m);
  }
}

// The one owner of a DuckDB handle H, released with Destroy(&h).
template <class H, void (*Destroy)(H*)>
class Owned {
 public:
  Owned() = default;
  explicit Owned(H h) : h_(h) {}
  ~Owned() {
    if (h_) Destroy(&h_);
  }
  Owned(Owned&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Owned& operator=(Owned&& o) noexcept {
    if (this != &o) {
      if (h_) Destroy(&h_);
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  H get() const { return h_; }

 private:
  H h_ = nullptr;
};

using OwnedValue = Owned<duckdb_value, duckdb_destroy_value>;
using OwnedType = Owned<duckdb_logical_type, duckdb_destroy_logical_type>;
using OwnedChunk = Owned<duckdb_data_chunk, duckdb_destroy_data_chunk>;

// A C string DuckDB allocated: freed with duckdb_free.
struct DuckFree {
  void operator()(char* p) const { duckdb_free(p); }
};
using DuckString = std::unique_ptr<char, DuckFree>;

// Takes a DuckDB-allocated string (nullptr: ""), freeing it.
std::string TakeString(char* s) {
  DuckString owned(s);
  return s ? std::string(s) : std::string();
}

// Owns a duckdb_result (a struct, not a pointer): destroyed exactly once.
class OwnedResult {
 public:
  OwnedResult() = default;
  ~OwnedResult() { duckdb_destroy_result(&r_); }
  OwnedResult(const OwnedResult&) = delete;
  OwnedResult& operator=(const OwnedResult&) = delete;
  duckdb_result* get() { return &r_; }

 private:
  duckdb_result r_{};
};

Result<OwnedValue> ToDuck(const Value& value, const std::string& what);

// A LIST needs one element type: ints widen to double when mixed with doubles.
Result<OwnedValue> ListToDuck(const ValueList& list, const std::string& what) {
  bool has_double = false, has_int = false;
  for (const Value& e : list) {
    has_double |= std::holds_alternative<double>(e.v);
    has_int |= std::holds_alternative<int64_t>(e.v);
  }
  std::vector<OwnedValue> elems;
  elems.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    Value e = list[i];
    if (has_double && has_int && std::holds_alternative<int64_t>(e.v)) {
      e = Value(static_cast<double>(std::get<int64_t>(e.v)));
    }
    auto d = ToDuck(e, what + "[" + std::to_string(i) + "]");
    if (!d.ok()) return d.status();
    elems.push_back(std::move(d).value());
  }
  duckdb_logical_type elem_type = nullptr;  // owned by its value
  for (const OwnedValue& e : elems) {
    if (duckdb_is_null_value(e.get())) continue;
    duckdb_logical_type t = duckdb_get_value_type(e.get());
    if (!elem_type) {
      elem_type = t;
    } else if (duckdb_get_type_id(t) != duckdb_get_type_id(elem_type)) {
      return Status::Invalid(what + ": a list's elements must all have one type (e.g. all numbers or all strings)");
    }
  }
  // An empty list, or one of nulls only, has no element to take a type
  // from: VARCHAR (README "params").
  OwnedType varchar(elem_type ? nullptr : duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR));
  if (!elem_type) elem_type = varchar.get();
  std::vector<duckdb_value> raw;
  for (OwnedValue& e : elems) raw.push_back(e.get());
  // The engine refuses a null array even for no elements: an empty vector's
  // data() may be one.
  duckdb_value none = nullptr;
  duckdb_value out = duckdb_create_list_value(elem_type, raw.empty() ? &none : raw.data(), raw.size());
  if (!out) return Status::Invalid(what + ": cannot build a LIST value from these elements");
  return OwnedValue(out);
}

Result<OwnedValue> MapToDuck(const ValueMap& map, const std::string& what) {
  if (map.empty()) return Status::Invalid(what + ": an empty map {} cannot be bound (a STRUCT needs a field): give it one, or use null");
  std::vector<OwnedValue> fields;
  std::vector<duckdb_logical_type> types;
  std::vector<const char*> names;
  for (const auto& [k, v] : map) {
    auto d = ToDuck(v, what + "." + k);
    if (!d.ok()) return d.status();
    fields.push_back(std::move(d).value());
    types.push_back(duckdb_get_value_type(fields.back().get()));
    names.push_back(k.c_str());
  }
  OwnedType type(duckdb_create_struct_type(types.data(), names.data(), types.size()));
  std::vector<duckdb_value> raw;
  for (OwnedValue& f : fields) raw.push_back(f.get());
  duckdb_value out = duckdb_create_struct_value(type.get(), raw.data());
  if (!out) return Status::Invalid(what + ": cannot build a STRUCT value");
  return OwnedValue(out);
}

Result<OwnedValue> ToDuck(const Value& value, const std::string& what) {
  struct Visitor {
    const std::string& what;
    Result<OwnedValue> operator()(std::monostate) { return OwnedValue(duckdb_create_null_value()); }
    Result<OwnedValue> operator()(bool b) { return OwnedValue(duckdb_create_bool(b)); }
    Result<OwnedValue> operator()(int64_t i) { return OwnedValue(duckdb_create_int64(i)); }
    Result<OwnedValue> operator()(double d) { return OwnedValue(duckdb_create_double(d)); }
    Result<OwnedValue> operator()(const std::string& s) {
      return OwnedValue(duckdb_create_varchar_length(s.data(), s.size()));
    }
    Result<OwnedValue> operator()(const ValueList& l) { return ListToDuck(l, what); }
    Result<OwnedValue> operator()(const ValueMap& m) { return MapToDuck(m, what); }
  };
  return std::visit(Visitor{what}, value.v);
}

// ----- describing types -------------------------------------------------------

TypeId ToTypeId(duckdb_type t) {
  switch (t) {
    case DUCKDB_TYPE_INVALID: return TypeId::kInvalid;
    case DUCKDB_TYPE_BOOLEAN: return TypeId::kBoolean;
    case DUCKDB_TYPE_TINYINT: return TypeId::kTinyint;
    case DUCKDB_TYPE_SMALLINT: return TypeId::kSmallint;
    case DUCKDB_TYPE_INTEGER: return TypeId::kInteger;
    case DUCKDB_TYPE_BIGINT: return TypeId::kBigint;
    case DUCKDB_TYPE_UTINYINT: return TypeId::kUtinyint;
    case DUCKDB_TYPE_USMALLINT: return TypeId::kUsmallint;
    case DUCKDB_TYPE_UINTEGER: return TypeId::kUinteger;
    case DUCKDB_TYPE_UBIGINT: return TypeId::kUbigint;
    case DUCKDB_TYPE_HUGEINT: return TypeId::kHugeint;
    case DUCKDB_TYPE_UHUGEINT: return TypeId::kUhugeint;
    case DUCKDB_TYPE_FLOAT: return TypeId::kFloat;
    case DUCKDB_TYPE_DOUBLE: return TypeId::kDouble;
    case DUCKDB_TYPE_DECIMAL: return TypeId::kDecimal;
    case DUCKDB_TYPE_VARCHAR: return TypeId::kVarchar;
    case DUCKDB_TYPE_BLOB: return TypeId::kBlob;
    case DUCKDB_TYPE_BIT: return TypeId::kBit;
    case DUCKDB_TYPE_BIGNUM: return TypeId::kBignum;
    case DUCKDB_TYPE_UUID: return TypeId::kUuid;
    case DUCKDB_TYPE_ENUM: return TypeId::kEnum;
    case DUCKDB_TYPE_DATE: return TypeId::kDate;
    case DUCKDB_TYPE_TIME: return TypeId::kTime;
    case DUCKDB_TYPE_TIME_NS: return TypeId::kTimeNs;
    case DUCKDB_TYPE_TIME_TZ: return TypeId::kTimeTz;
    case DUCKDB_TYPE_TIMESTAMP: return TypeId::kTimestamp;
    case DUCKDB_TYPE_TIMESTAMP_S: return TypeId::kTimestampS;
    case DUCKDB_TYPE_TIMESTAMP_MS: return TypeId::kTimestampMs;
    case DUCKDB_TYPE_TIMESTAMP_NS: return TypeId::kTimestampNs;
    case DUCKDB_TYPE_TIMESTAMP_TZ: return TypeId::kTimestampTz;
    case DUCKDB_TYPE_INTERVAL: return TypeId::kInterval;
    case DUCKDB_TYPE_LIST: return TypeId::kList;
    case DUCKDB_TYPE_ARRAY: return TypeId::kArray;
    case DUCKDB_TYPE_STRUCT: return TypeId::kStruct;
    case DUCKDB_TYPE_MAP: return TypeId::kMap;
    case DUCKDB_TYPE_UNION: return TypeId::kUnion;
    case DUCKDB_TYPE_SQLNULL: return TypeId::kSqlNull;
    case DUCKDB_TYPE_ANY: return TypeId::kAny;
    default: return TypeId::kOther;
  }
}

// How DuckDB spells a type without parameters ("TIME WITH TIME ZONE").
std::string PlainTypeSql(TypeId id) {
  switch (id) {
    case TypeId::kTimeTz: return "TIME WITH TIME ZONE";
    case TypeId::kTimestampTz: return "TIMESTAMP WITH TIME ZONE";
    case TypeId::kSqlNull: return "\"NULL\"";
    default: return TypeIdName(id);
  }
}

// A field or member name as DuckDB prints it inside STRUCT(...)/UNION(...).
std::string FieldSql(const std::string& name) {
  bool plain = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
  for (char c : name) plain = plain && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  return plain ? name : QuoteIdentifier(name);
}

std::string SqlStringLiteral(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

ColumnType Describe(duckdb_logical_type t);

// Fields of a STRUCT or members of a UNION: name and type of each.
void DescribeFields(duckdb_logical_type t, bool is_union, ColumnType& out) {
  idx_t n = is_union ? duckdb_union_type_member_count(t) : duckdb_struct_type_child_count(t);
  std::string sql = is_union ? "UNION(" : "STRUCT(";
  for (idx_t i = 0; i < n; ++i) {
    std::string name = TakeString(is_union ? duckdb_union_type_member_name(t, i) : duckdb_struct_type_child_name(t, i));
    OwnedType child(is_union ? duckdb_union_type_member_type(t, i) : duckdb_struct_type_child_type(t, i));
    ColumnType c = Describe(child.get());
    sql += (i ? ", " : "") + FieldSql(name) + " " + c.sql;
    out.children.push_back({std::move(name), std::move(c)});
  }
  out.sql = sql + ")";
}

// The fanout-side description of a logical type (recursing into nested ones).
ColumnType Describe(duckdb_logical_type t) {
  ColumnType out;
  out.id = ToTypeId(duckdb_get_type_id(t));
  switch (out.id) {
    case TypeId::kDecimal:
      out.sql = "DECIMAL(" + std::to_string(duckdb_decimal_width(t)) + "," + std::to_string(duckdb_decimal_scale(t)) + ")";
      break;
    case TypeId::kEnum: {
      out.sql = "ENUM(";
      uint32_t n = duckdb_enum_dictionary_size(t);
      for (uint32_t i = 0; i < n; ++i) out.sql += (i ? ", " : "") + SqlStringLiteral(TakeString(duckdb_enum_dictionary_value(t, i)));
      out.sql += ")";
      break;
    }
    case TypeId::kList:
    case TypeId::kArray: {
      bool list = out.id == TypeId::kList;
      OwnedType child(list ? duckdb_list_type_child_type(t) : duckdb_array_type_child_type(t));
      out.children.push_back({"", Describe(child.get())});
      out.sql = out.children[0].type.sql + (list ? "[]" : "[" + std::to_string(duckdb_array_type_array_size(t)) + "]");
      break;
    }
    case TypeId::kMap: {
      OwnedType key(duckdb_map_type_key_type(t)), value(duckdb_map_type_value_type(t));
      out.children.push_back({"key", Describe(key.get())});
      out.children.push_back({"value", Describe(value.get())});
      out.sql = "MAP(" + out.children[0].type.sql + ", " + out.children[1].type.sql + ")";
      break;
    }
    case TypeId::kStruct:
    case TypeId::kUnion:
      DescribeFields(t, out.id == TypeId::kUnion, out);
      break;
    default:
      out.sql = PlainTypeSql(out.id);
  }
  std::string alias = TakeString(duckdb_logical_type_get_alias(t));
  if (!alias.empty()) out.sql = alias;
  return out;
}

// ----- reading results ----------------------------------------------------------
// Results are read chunk by chunk (duckdb_fetch_chunk); every cell is decoded
// from its vector according to a TypeReader built once per column. Vectors
// from a fetched chunk are flat. Offsets into child vectors are checked, so a
// malformed vector yields nulls, never an out-of-bounds read.

// How to decode one logical type's vectors.
struct TypeReader {
  duckdb_type id = DUCKDB_TYPE_INVALID;
  duckdb_type storage = DUCKDB_TYPE_INVALID;  // DECIMAL, ENUM: the physical type
  uint8_t scale = 0;                          // DECIMAL
  idx_t array_size = 0;                       // ARRAY
  std::vector<std::string> dictionary;        // ENUM
  std::vector<std::string> names;             // STRUCT fields, UNION members
  // LIST/ARRAY: the element; STRUCT: the fields; MAP: key, value; UNION: the members.
  std::vector<TypeReader> children;
};

TypeReader MakeReader(duckdb_logical_type t) {
  TypeReader r;
  r.id = duckdb_get_type_id(t);
  auto add_child = [&r](duckdb_logical_type c) {
    OwnedType owned(c);
    r.children.push_back(MakeReader(owned.get()));
  };
  switch (r.id) {
    case DUCKDB_TYPE_DECIMAL:
      r.storage = duckdb_decimal_internal_type(t);
      r.scale = duckdb_decimal_scale(t);
      break;
    case DUCKDB_TYPE_ENUM: {
      r.storage = duckdb_enum_internal_type(t);
      uint32_t n = duckdb_enum_dictionary_size(t);
      for (uint32_t i = 0; i < n; ++i) r.dictionary.push_back(TakeString(duckdb_enum_dictionary_value(t, i)));
      break;
    }
    case DUCKDB_TYPE_LIST:
      add_child(duckdb_list_type_child_type(t));
      break;
    case DUCKDB_TYPE_ARRAY:
      r.array_size = duckdb_array_type_array_size(t);
      add_child(duckdb_array_type_child_type(t));
      break;
    case DUCKDB_TYPE_MAP:
      add_child(duckdb_map_type_key_type(t));
      add_child(duckdb_map_type_value_type(t));
      break;
    case DUCKDB_TYPE_STRUCT:
      for (idx_t i = 0; i < duckdb_struct_type_child_count(t); ++i) {
        r.names.push_back(TakeString(duckdb_struct_type_child_name(t, i)));
        add_child(duckdb_struct_type_child_type(t, i));
      }
      break;
    case DUCKDB_TYPE_UNION:
      for (idx_t i = 0; i < duckdb_union_type_member_count(t); ++i) {
        r.names.push_back(TakeString(duckdb_union_type_member_name(t, i)));
        add_child(duckdb_union_type_member_type(t, i));
      }
      break;
    default:
      break;
  }
  return r;
}

// The decimal digits of v (with a leading '-' when negative).
std::string Int128Text(__int128 v) {
  if (v == 0) return "0";
  bool negative = v < 0;
  unsigned __int128 u = negative ? -static_cast<unsigned __int128>(v) : static_cast<unsigned __int128>(v);
  std::string digits;
  for (; u > 0; u /= 10) digits += static_cast<char>('0' + static_cast<int>(u % 10));
  if (negative) digits += '-';
  return std::string(digits.rbegin(), digits.rend());
}

std::string Uint128Text(unsigned __int128 u) {
  if (u == 0) return "0";
  std::string digits;
  for (; u > 0; u /= 10) digits += static_cast<char>('0' + static_cast<int>(u % 10));
  return std::string(digits.rbegin(), digits.rend());
}

// An integer of any width: int64 when it fits, else its exact decimal text.
Value IntegerValue(__int128 v) {
  if (v >= INT64_MIN && v <= INT64_MAX) return Value(static_cast<int64_t>(v));
  return Value(Int128Text(v));
}

Value UnsignedValue(unsigned __int128 v) {
  if (v <= static_cast<unsigned __int128>(INT64_MAX)) return Value(static_cast<int64_t>(v));
  return Value(Uint128Text(v));
}

__int128 HugeintOf(duckdb_hugeint h) {
  unsigned __int128 bits = (static_cast<unsigned __int128>(static_cast<uint64_t>(h.upper)) << 64) | h.lower;
  return static_cast<__int128>(bits);  // two's complement (C++20)
}

// The exact decimal text of unscaled / 10^scale ("-12.30" for -1230, scale 2).
std::string DecimalText(__int128 unscaled, uint8_t scale) {
  std::string digits = Int128Text(unscaled);
  bool negative = digits[0] == '-';
  if (negative) digits.erase(0, 1);
  if (scale > 0) {
    if (digits.size() <= scale) digits.insert(0, scale + 1 - digits.size(), '0');
    digits.insert(digits.size() - scale, ".");
  }
  return (negative ? "-" : "") + digits;
}

// The double nearest to a decimal text (correctly rounded, locale-free).
double ParseDouble(const std::string& text) {
  double d = 0;
  std::from_chars(text.data(), text.data() + text.size(), d);
  return d;
}

// A fixed-width value at `row` of a flat vector's data.
template <class T>
T At(duckdb_vector v, idx_t row) {
  T out;
  std::memcpy(&out, static_cast<const char*>(duckdb_vector_get_data(v)) + row * sizeof(T), sizeof(T));
  return out;
}

// The bytes of a VARCHAR/BLOB/BIT/BIGNUM cell (valid while the chunk lives).
std::string_view BytesAt(duckdb_vector v, idx_t row) {
  auto* s = static_cast<duckdb_string_t*>(duckdb_vector_get_data(v)) + row;
  return std::string_view(duckdb_string_t_data(s), duckdb_string_t_length(*s));
}

// DuckDB's text rendering of a value built from a cell (DATE, INTERVAL, ...):
// null when DuckDB cannot render it.
Value RenderedText(duckdb_value v) {
  OwnedValue owned(v);
  if (!owned.get()) return Value();
  DuckString s(duckdb_get_varchar(owned.get()));
  return s ? Value(std::string(s.get())) : Value();
}

// UUIDs are stored as a HUGEINT with the top bit flipped (so they sort).
std::string UuidText(duckdb_hugeint h) {
  uint64_t high = static_cast<uint64_t>(h.upper) ^ (uint64_t{1} << 63);
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(high >> 32),
                static_cast<unsigned>((high >> 16) & 0xffff), static_cast<unsigned>(high & 0xffff),
                static_cast<unsigned>(h.lower >> 48), static_cast<unsigned long long>(h.lower & 0xffffffffffffULL));
  return buf;
}

// BIT: the first byte counts the padding bits at the start of the second.
Value BitText(std::string_view b) {
  if (b.empty() || static_cast<uint8_t>(b[0]) > 7) return Value();
  size_t padding = static_cast<uint8_t>(b[0]);
  std::string out;
  for (size_t i = 1; i < b.size(); ++i)
    for (int bit = 7; bit >= 0; --bit) out += (static_cast<uint8_t>(b[i]) >> bit) & 1 ? '1' : '0';
  return Value(padding <= out.size() ? out.substr(padding) : std::string());
}

// BIGNUM: a 3-byte header (top bit set: positive) then the big-endian
// magnitude; a negative number has every byte inverted.
Value BignumValue(std::string_view b) {
  if (b.size() < 4) return Value();
  bool negative = (static_cast<uint8_t>(b[0]) & 0x80) == 0;
  std::vector<uint32_t> limbs;  // base 2^8 digits, most significant first
  for (size_t i = 3; i < b.size(); ++i) limbs.push_back(static_cast<uint8_t>(negative ? ~b[i] : b[i]));
  std::string digits;  // least significant first
  size_t start = 0;
  while (start < limbs.size()) {  // divide by 10 until zero
    uint32_t rem = 0;
    for (size_t i = start; i < limbs.size(); ++i) {
      uint32_t cur = (rem << 8) | limbs[i];
      limbs[i] = cur / 10;
      rem = cur % 10;
    }
    digits += static_cast<char>('0' + rem);
    while (start < limbs.size() && limbs[start] == 0) ++start;
  }
  if (digits.empty()) digits = "0";
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string text = (negative && digits != "0" ? "-" : "") + std::string(digits.rbegin(), digits.rend());
  int64_t i = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
  if (ec == std::errc() && end == text.data() + text.size()) return Value(i);
  return Value(text);
}

Value ReadCell(const TypeReader& t, duckdb_vector v, idx_t row);

Value ReadDecimal(const TypeReader& t, duckdb_vector v, idx_t row) {
  __int128 unscaled = 0;
  switch (t.storage) {
    case DUCKDB_TYPE_SMALLINT: unscaled = At<int16_t>(v, row); break;
    case DUCKDB_TYPE_INTEGER: unscaled = At<int32_t>(v, row); break;
    case DUCKDB_TYPE_BIGINT: unscaled = At<int64_t>(v, row); break;
    case DUCKDB_TYPE_HUGEINT: unscaled = HugeintOf(At<duckdb_hugeint>(v, row)); break;
    default: return Value();
  }
  return Value(ParseDouble(DecimalText(unscaled, t.scale)));
}

Value ReadEnum(const TypeReader& t, duckdb_vector v, idx_t row) {
  uint64_t index = 0;
  switch (t.storage) {
    case DUCKDB_TYPE_UTINYINT: index = At<uint8_t>(v, row); break;
    case DUCKDB_TYPE_USMALLINT: index = At<uint16_t>(v, row); break;
    case DUCKDB_TYPE_UINTEGER: index = At<uint32_t>(v, row); break;
    default: return Value();
  }
  return index < t.dictionary.size() ? Value(t.dictionary[index]) : Value();
}

// Elements [offset, offset + length) of `child` (holding `child_size`), as a list.
Value ReadElements(const TypeReader& elem, duckdb_vector child, idx_t child_size, idx_t offset, idx_t length) {
  if (offset > child_size || length > child_size - offset) return Value();
  ValueList out;
  out.reserve(length);
  for (idx_t i = 0; i < length; ++i) out.push_back(ReadCell(elem, child, offset + i));
  return Value(std::move(out));
}

Value ReadList(const TypeReader& t, duckdb_vector v, idx_t row) {
  auto entry = At<duckdb_list_entry>(v, row);
  return ReadElements(t.children[0], duckdb_list_vector_get_child(v), duckdb_list_vector_get_size(v), entry.offset,
                      entry.length);
}

Value ReadArray(const TypeReader& t, duckdb_vector v, idx_t row) {
  // The child holds exactly array_size elements per row of the parent (the
  // C API does not report its size; this layout is DuckDB's contract).
  idx_t n = t.array_size;
  return ReadElements(t.children[0], duckdb_array_vector_get_child(v), row * n + n, row * n, n);
}

// A MAP is a LIST of STRUCT(key, value); keys become text.
Value ReadMap(const TypeReader& t, duckdb_vector v, idx_t row) {
  auto entry = At<duckdb_list_entry>(v, row);
  duckdb_vector entries = duckdb_list_vector_get_child(v);
  idx_t size = duckdb_list_vector_get_size(v);
  if (entry.offset > size || entry.length > size - entry.offset) return Value();
  duckdb_vector keys = duckdb_struct_vector_get_child(entries, 0);
  duckdb_vector values = duckdb_struct_vector_get_child(entries, 1);
  ValueMap out;
  for (idx_t i = entry.offset; i < entry.offset + entry.length; ++i)
    out.emplace_back(ReadCell(t.children[0], keys, i).ToString(), ReadCell(t.children[1], values, i));
  return Value(std::move(out));
}

Value ReadStruct(const TypeReader& t, duckdb_vector v, idx_t row) {
  ValueMap out;
  for (size_t i = 0; i < t.children.size(); ++i)
    out.emplace_back(t.names[i], ReadCell(t.children[i], duckdb_struct_vector_get_child(v, i), row));
  return Value(std::move(out));
}

// A UNION is a STRUCT whose child 0 is the tag (UTINYINT) and child k + 1
// member k.
Value ReadUnion(const TypeReader& t, duckdb_vector v, idx_t row) {
  duckdb_vector tags = duckdb_struct_vector_get_child(v, 0);
  uint64_t* validity = duckdb_vector_get_validity(tags);
  if (validity && !duckdb_validity_row_is_valid(validity, row)) return Value();
  uint8_t tag = At<uint8_t>(tags, row);
  if (tag >= t.children.size()) return Value();
  return ReadCell(t.children[tag], duckdb_struct_vector_get_child(v, tag + 1), row);
}

// Types read as DuckDB's text rendering of a value built from the cell.
Value ReadRendered(duckdb_type id, duckdb_vector v, idx_t row) {
  switch (id) {
    case DUCKDB_TYPE_DATE: return RenderedText(duckdb_create_date(At<duckdb_date>(v, row)));
    case DUCKDB_TYPE_TIME: return RenderedText(duckdb_create_time(At<duckdb_time>(v, row)));
    case DUCKDB_TYPE_TIME_NS: return RenderedText(duckdb_create_time_ns(At<duckdb_time_ns>(v, row)));
    case DUCKDB_TYPE_TIME_TZ: return RenderedText(duckdb_create_time_tz_value(At<duckdb_time_tz>(v, row)));
    case DUCKDB_TYPE_TIMESTAMP: return RenderedText(duckdb_create_timestamp(At<duckdb_timestamp>(v, row)));
    case DUCKDB_TYPE_TIMESTAMP_TZ: return RenderedText(duckdb_create_timestamp_tz(At<duckdb_timestamp>(v, row)));
    case DUCKDB_TYPE_TIMESTAMP_S: return RenderedText(duckdb_create_timestamp_s(At<duckdb_timestamp_s>(v, row)));
    case DUCKDB_TYPE_TIMESTAMP_MS: return RenderedText(duckdb_create_timestamp_ms(At<duckdb_timestamp_ms>(v, row)));
    case DUCKDB_TYPE_TIMESTAMP_NS: return RenderedText(duckdb_create_timestamp_ns(At<duckdb_timestamp_ns>(v, row)));
    case DUCKDB_TYPE_INTERVAL: return RenderedText(duckdb_create_interval(At<duckdb_interval>(v, row)));
    case DUCKDB_TYPE_BLOB: {
      std::string_view b = BytesAt(v, row);
      return RenderedText(duckdb_create_blob(reinterpret_cast<const uint8_t*>(b.data()), b.size()));
    }
    default: return Value();
  }
}

// The cell at `row` of flat vector `v` of type `t`; Value() when NULL.
Value ReadCell(const TypeReader& t, duckdb_vector v, idx_t row) {
  uint64_t* validity = duckdb_vector_get_validity(v);
  if (validity && !duckdb_validity_row_is_valid(validity, row)) return Value();
  switch (t.id) {
    case DUCKDB_TYPE_BOOLEAN: return Value(At<uint8_t>(v, row) != 0);
    case DUCKDB_TYPE_TINYINT: return Value(int64_t{At<int8_t>(v, row)});
    case DUCKDB_TYPE_SMALLINT: return Value(int64_t{At<int16_t>(v, row)});
    case DUCKDB_TYPE_INTEGER: return Value(int64_t{At<int32_t>(v, row)});
    case DUCKDB_TYPE_BIGINT: return Value(At<int64_t>(v, row));
    case DUCKDB_TYPE_UTINYINT: return Value(int64_t{At<uint8_t>(v, row)});
    case DUCKDB_TYPE_USMALLINT: return Value(int64_t{At<uint16_t>(v, row)});
    case DUCKDB_TYPE_UINTEGER: return Value(int64_t{At<uint32_t>(v, row)});
    case DUCKDB_TYPE_UBIGINT: return UnsignedValue(At<uint64_t>(v, row));
    case DUCKDB_TYPE_HUGEINT: return IntegerValue(HugeintOf(At<duckdb_hugeint>(v, row)));
    case DUCKDB_TYPE_UHUGEINT: {
      auto u = At<duckdb_uhugeint>(v, row);
      return UnsignedValue((static_cast<unsigned __int128>(u.upper) << 64) | u.lower);
    }
    case DUCKDB_TYPE_FLOAT: return Value(static_cast<double>(At<float>(v, row)));
    case DUCKDB_TYPE_DOUBLE: return Value(At<double>(v, row));
    case DUCKDB_TYPE_DECIMAL: return ReadDecimal(t, v, row);
    case DUCKDB_TYPE_VARCHAR: return Value(std::string(BytesAt(v, row)));
    case DUCKDB_TYPE_BIT: return BitText(BytesAt(v, row));
    case DUCKDB_TYPE_BIGNUM: return BignumValue(BytesAt(v, row));
    case DUCKDB_TYPE_UUID: return Value(UuidText(At<duckdb_hugeint>(v, row)));
    case DUCKDB_TYPE_ENUM: return ReadEnum(t, v, row);
    case DUCKDB_TYPE_LIST: return ReadList(t, v, row);
    case DUCKDB_TYPE_ARRAY: return ReadArray(t, v, row);
    case DUCKDB_TYPE_MAP: return ReadMap(t, v, row);
    case DUCKDB_TYPE_STRUCT: return ReadStruct(t, v, row);
    case DUCKDB_TYPE_UNION: return ReadUnion(t, v, row);
    default: return ReadRendered(t.id, v, row);  // null for a type it does not know
  }
}

// False when `t` or a type nested in it is one the C API does not expose
// (it reports TIME_NS as INVALID in 1.4.4): its vectors cannot be decoded.
bool Readable(const TypeReader& t) {
  if (ToTypeId(t.id) == TypeId::kInvalid || ToTypeId(t.id) == TypeId::kAny || ToTypeId(t.id) == TypeId::kOther)
    return false;
  for (const TypeReader& c : t.children)
    if (!Readable(c)) return false;
  return true;
}

// Every row of a successful result, fetched chunk by chunk; an error naming
// the first column whose type cannot be read.
Result<Table> Materialize(duckdb_result* r) {
  Table t;
  std::vector<TypeReader> readers;
  idx_t ncol = duckdb_column_count(r);
  for (idx_t c = 0; c < ncol; ++c) {
    const char* name = duckdb_column_name(r, c);
    t.columns.emplace_back(name ? name : "");
    OwnedType type(duckdb_column_logical_type(r, c));
    t.described.push_back({t.columns.back(), type.get() ? Describe(type.get()) : ColumnType{}});
    readers.push_back(type.get() ? MakeReader(type.get()) : TypeReader{});
    if (!Readable(readers.back()))
      return Status::Failed("column " + QuoteIdentifier(t.columns.back()) +
                            " has a type DuckDB's C API does not report (TIME_NS is one): cast it, e.g. to VARCHAR");
  }
  for (;;) {
    OwnedChunk chunk(duckdb_fetch_chunk(*r));  // null once every row is read
    if (!chunk.get()) break;
    idx_t n = duckdb_data_chunk_get_size(chunk.get());
    if (n == 0) break;
    std::vector<duckdb_vector> vectors;
    for (idx_t c = 0; c < ncol; ++c) vectors.push_back(duckdb_data_chunk_get_vector(chunk.get(), c));
    for (idx_t i = 0; i < n; ++i) {
      std::vector<Value> row;
      row.reserve(ncol);
      for (idx_t c = 0; c < ncol; ++c) row.push_back(ReadCell(readers[c], vectors[c], i));
      t.rows.push_back(std::move(row));
    }
  }
  return t;
}

// The table of a result, or its error as a Status.
Result<Table> TakeResult(duckdb_state state, OwnedResult& r) {
  if (state == DuckDBError) return FromDuckError(duckdb_result_error_type(r.get()), duckdb_result_error(r.get()));
  return Materialize(r.get());
}

}  // namespace

const char* TypeIdName(TypeId id) {
  switch (id) {
    case TypeId::kInvalid: return "INVALID";
    case TypeId::kBoolean: return "BOOLEAN";
    case TypeId::kTinyint: return "TINYINT";
    case TypeId::kSmallint: return "SMALLINT";
    case TypeId::kInteger: return "INTEGER";
    case TypeId::kBigint: return "BIGINT";
    case TypeId::kUtinyint: return "UTINYINT";
    case TypeId::kUsmallint: return "USMALLINT";
    case TypeId::kUinteger: return "UINTEGER";
    case TypeId::kUbigint: return "UBIGINT";
    case TypeId::kHugeint: return "HUGEINT";
    case TypeId::kUhugeint: return "UHUGEINT";
    case TypeId::kFloat: return "FLOAT";
    case TypeId::kDouble: return "DOUBLE";
    case TypeId::kDecimal: return "DECIMAL";
    case TypeId::kVarchar: return "VARCHAR";
    case TypeId::kBlob: return "BLOB";
    case TypeId::kBit: return "BIT";
    case TypeId::kBignum: return "BIGNUM";
    case TypeId::kUuid: return "UUID";
    case TypeId::kEnum: return "ENUM";
    case TypeId::kDate: return "DATE";
    case TypeId::kTime: return "TIME";
    case TypeId::kTimeNs: return "TIME_NS";
    case TypeId::kTimeTz: return "TIME_TZ";
    case TypeId::kTimestamp: return "TIMESTAMP";
    case TypeId::kTimestampS: return "TIMESTAMP_S";
    case TypeId::kTimestampMs: return "TIMESTAMP_MS";
    case TypeId::kTimestampNs: return "TIMESTAMP_NS";
    case TypeId::kTimestampTz: return "TIMESTAMP_TZ";
    case TypeId::kInterval: return "INTERVAL";
    case TypeId::kList: return "LIST";
    case TypeId::kArray: return "ARRAY";
    case TypeId::kStruct: return "STRUCT";
    case TypeId::kMap: return "MAP";
    case TypeId::kUnion: return "UNION";
    case TypeId::kSqlNull: return "NULL";
    case TypeId::kAny: return "ANY";
    case TypeId::kOther: return "OTHER";
  }
  return "OTHER";
}

int Table::Column(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return static_cast<int>(i);
  return -1;
}

std::string QuoteIdentifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// ----- Database ---------------------------------------------------------------

struct Database::Impl {
  duckdb_database db = nullptr;
  Mutex mu;
  std::vector<std::pair<std::string, Value>> variables GUARDED_BY(mu);
  ~Impl() {
    if (db) duckdb_close(&db);
  }
};

Database::Database(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Database::~Database() = default;

Result<std::unique_ptr<Database>> Database::Open(const Options& options) {
  duckdb_config config;
  if (duckdb_create_config(&config) == DuckDBError) return Status::Failed("cannot create DuckDB config");
  auto set = [&](const char* key, const std::string& value) -> Status {
    if (duckdb_set_config(config, key, value.c_str()) == DuckDBError)
      return Status::Invalid(std::string("invalid engine setting ") + key + " = '" + value + "'");
    return Status::Ok();
  };
  // Nothing is downloaded while a job runs (the engine would fetch an
  // extension that a statement needs, even while only preparing it).
  Status st = set("autoinstall_known_extensions", "false");
  if (st.ok() && options.threads > 0) st = set("threads", std::to_string(options.threads));
  if (st.ok() && !options.memory_limit.empty()) st = set("memory_limit", options.memory_limit);
  if (st.ok() && !options.temp_directory.empty()) st = set("temp_directory", options.temp_directory);
  if (!st.ok()) {
    duckdb_destroy_config(&config);
    return st;
  }
  auto impl = std::make_unique<Impl>();
  char* error = nullptr;
  duckdb_state state = duckdb_open_ext(nullptr, &impl->db, config, &error);
  duckdb_destroy_config(&config);
  if (state == DuckDBError) {
    std::string m = error ? error : "unknown error";
    duckdb_free(error);
    return Status::Invalid("cannot start the engine: " + m);
  }
  std::unique_ptr<Database> db(new Database(std::move(impl)));
  if (!options.timezone.empty()) FANOUT_RETURN_IF_ERROR(db->SetTimeZone(options.timezone));
  return db;
}

Status Database::SetTimeZone(const std::string& timezone) {
  // A setting of the time-zone extension, which loads with the database:
  // set with SQL (the zone bound), not in the open config.
  auto con = Connect();
  auto stmt = con.ok() ? (*con)->Prepare("SET GLOBAL TimeZone = $tz") : Result<std::unique_ptr<PreparedStatement>>(con.status());
  Status st = stmt.ok() ? (*stmt)->Bind("tz", Value(timezone)) : stmt.status();
  if (st.ok()) st = (*stmt)->Execute().status();
  if (st.ok()) return st;
  std::string m = st.message();
  return Status::Invalid("run.timezone '" + timezone + "': " + m.substr(0, m.find('\n')) +
                         " (use a name such as UTC or Europe/Paris)");
}

std::string Database::Version() { return duckdb_library_version(); }

// ----- Connection -------------------------------------------------------------

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

namespace {
Status SetVariable(Connection& con, const std::string& name, const Value& value) {
  auto stmt = con.Prepare("SET VARIABLE " + QuoteIdentifier(name) + " = $value");
  if (!stmt.ok()) return stmt.status();
  FANOUT_RETURN_IF_ERROR((*stmt)->Bind("value", value));
  return (*stmt)->Execute().status();
}
}  // namespace

Result<std::unique_ptr<Connection>> Database::Connect() {
  auto impl = std::make_unique<Connection::Impl>();
  if (duckdb_connect(impl_->db, &impl->con) == DuckDBError) return Status::Failed("cannot open an engine connection");
  std::unique_ptr<Connection> con(new Connection(std::move(impl)));
  std::vector<std::pair<std::string, Value>> variables;
  {
    MutexLock lock(&impl_->mu);
    variables = impl_->variables;
  }
  for (const auto& [name, value] : variables) FANOUT_RETURN_IF_ERROR(SetVariable(*con, name, value));
  return con;
}

Status Database::SetSessionVariable(Connection& con, const std::string& name, const Value& value) {
  FANOUT_RETURN_IF_ERROR(SetVariable(con, name, value));
  MutexLock lock(&impl_->mu);
  impl_->variables.emplace_back(name, value);
  return Status::Ok();
}

Status Database::SetThreads(Connection& con, int threads) {
  auto stmt = con.Prepare("SET threads = $threads");
  if (!stmt.ok()) return stmt.status();
  FANOUT_RETURN_IF_ERROR((*stmt)->Bind("threads", Value(int64_t{threads})));
  return (*stmt)->Execute().status();
}

Status Database::LockConfiguration(Connection& con) { return con.Execute("SET lock_configuration = true"); }

Status Connection::Execute(const std::string& sql) {
  auto r = Query(sql);
  return r.status();
}

Result<Table> Connection::Query(const std::string& sql) {
  OwnedResult r;
  duckdb_state state = duckdb_query(impl_->con, sql.c_str(), r.get());
  return TakeResult(state, r);
}

Result<int> Connection::CountStatements(const std::string& sql) {
  duckdb_extracted_statements stmts = nullptr;
  idx_t n = duckdb_extract_statements(impl_->con, sql.c_str(), &stmts);
  Result<int> out = static_cast<int>(n);
  if (n == 0) {
    const char* e = duckdb_extract_statements_error(stmts);
    out = e ? Status::Failed(e) : Result<int>(0);
  }
  duckdb_destroy_extracted(&stmts);
  return out;
}

void Connection::Interrupt() { duckdb_interrupt(impl_->con); }

// ----- PreparedStatement ------------------------------------------------------

struct PreparedStatement::Impl {
  duckdb_prepared_statement stmt = nullptr;
  ~Impl() {
    if (stmt) duckdb_destroy_prepare(&stmt);
  }
};

PreparedStatement::PreparedStatement(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  idx_t n = duckdb_nparams(impl_->stmt);
  for (idx_t i = 1; i <= n; ++i) {
    const char* name = duckdb_parameter_name(impl_->stmt, i);
    names_.emplace_back(name ? name : "");
    duckdb_free(const_cast<char*>(name));
  }
}
PreparedStatement::~PreparedStatement() = default;

Result<std::unique_ptr<PreparedStatement>> Connection::Prepare(const std::string& sql) {
  auto impl = std::make_unique<PreparedStatement::Impl>();
  if (duckdb_prepare(impl_->con, sql.c_str(), &impl->stmt) == DuckDBError) {
    const char* e = duckdb_prepare_error(impl->stmt);
    return Status::Failed(e ? e : "cannot prepare statement");
  }
  return std::unique_ptr<PreparedStatement>(new PreparedStatement(std::move(impl)));
}

bool PreparedStatement::is_query() const {
  return duckdb_prepared_statement_type(impl_->stmt) == DUCKDB_STATEMENT_TYPE_SELECT;
}

StatementKind PreparedStatement::kind() const {
  switch (duckdb_prepared_statement_type(impl_->stmt)) {
    case DUCKDB_STATEMENT_TYPE_SELECT: return StatementKind::kSelect;
    case DUCKDB_STATEMENT_TYPE_INSERT: return StatementKind::kInsert;
    case DUCKDB_STATEMENT_TYPE_UPDATE: return StatementKind::kUpdate;
    case DUCKDB_STATEMENT_TYPE_DELETE: return StatementKind::kDelete;
    case DUCKDB_STATEMENT_TYPE_CREATE:
    case DUCKDB_STATEMENT_TYPE_CREATE_FUNC: return StatementKind::kCreate;
    case DUCKDB_STATEMENT_TYPE_DROP: return StatementKind::kDrop;
    case DUCKDB_STATEMENT_TYPE_ALTER: return StatementKind::kAlter;
    case DUCKDB_STATEMENT_TYPE_SET:
    case DUCKDB_STATEMENT_TYPE_VARIABLE_SET: return StatementKind::kSet;
    case DUCKDB_STATEMENT_TYPE_PRAGMA: return StatementKind::kPragma;
    case DUCKDB_STATEMENT_TYPE_ATTACH: return StatementKind::kAttach;
    case DUCKDB_STATEMENT_TYPE_DETACH: return StatementKind::kDetach;
    case DUCKDB_STATEMENT_TYPE_LOAD:
    case DUCKDB_STATEMENT_TYPE_EXTENSION: return StatementKind::kExtension;
    case DUCKDB_STATEMENT_TYPE_COPY: return StatementKind::kCopy;
    case DUCKDB_STATEMENT_TYPE_EXPORT: return StatementKind::kExport;
    case DUCKDB_STATEMENT_TYPE_TRANSACTION: return StatementKind::kTransaction;
    case DUCKDB_STATEMENT_TYPE_CALL: return StatementKind::kCall;
    case DUCKDB_STATEMENT_TYPE_VACUUM:
    case DUCKDB_STATEMENT_TYPE_ANALYZE: return StatementKind::kMaintenance;
    case DUCKDB_STATEMENT_TYPE_PREPARE:
    case DUCKDB_STATEMENT_TYPE_EXECUTE: return StatementKind::kPrepare;
    case DUCKDB_STATEMENT_TYPE_EXPLAIN: return StatementKind::kExplain;
    default: return StatementKind::kOther;
  }
}

const char* StatementKindName(StatementKind kind) {
  switch (kind) {
    case StatementKind::kSelect: return "SELECT";
    case StatementKind::kInsert: return "INSERT";
    case StatementKind::kUpdate: return "UPDATE";
    case StatementKind::kDelete: return "DELETE";
    case StatementKind::kCreate: return "CREATE";
    case StatementKind::kDrop: return "DROP";
    case StatementKind::kAlter: return "ALTER";
    case StatementKind::kSet: return "SET/RESET";
    case StatementKind::kPragma: return "PRAGMA";
    case StatementKind::kAttach: return "ATTACH";
    case StatementKind::kDetach: return "DETACH";
    case StatementKind::kExtension: return "INSTALL/LOAD";
    case StatementKind::kCopy: return "COPY";
    case StatementKind::kExport: return "EXPORT/IMPORT";
    case StatementKind::kTransaction: return "BEGIN/COMMIT/ROLLBACK";
    case StatementKind::kCall: return "CALL/CHECKPOINT";
    case StatementKind::kMaintenance: return "VACUUM/ANALYZE";
    case StatementKind::kPrepare: return "PREPARE/EXECUTE";
    case StatementKind::kExplain: return "EXPLAIN";
    case StatementKind::kOther: return "this kind of";
  }
  return "this kind of";
}

Status PreparedStatement::Bind(const std::string& name, const Value& value) {
  idx_t index = 0;
  if (duckdb_bind_parameter_index(impl_->stmt, &index, name.c_str()) == DuckDBError)
    return Status::Invalid("the statement has no parameter $" + name);
  auto v = ToDuck(value, "param " + name);
  if (!v.ok()) return v.status();
  if (duckdb_bind_value(impl_->stmt, index, v->get()) == DuckDBError)
    return Status::Invalid("cannot bind param $" + name + " = " + value.ToString());
  return Status::Ok();
}

Status PreparedStatement::BindAll(const Params& params) {
  for (const std::string& name : names_) {
    auto it = params.find(name);
    if (it == params.end()) return Status::Invalid("unknown param $" + name);
    FANOUT_RETURN_IF_ERROR(Bind(name, it->second));
  }
  return Status::Ok();
}

Result<std::vector<ResultColumn>> PreparedStatement::ResultColumns() const {
  std::vector<ResultColumn> out;
  idx_t n = duckdb_prepared_statement_column_count(impl_->stmt);
  // DuckDB reports one INVALID column ("unknown") when the result's types
  // wait for the parameters' types.
  if (n == 1 && !names_.empty() && duckdb_prepared_statement_column_type(impl_->stmt, 0) == DUCKDB_TYPE_INVALID)
    return Status::Invalid("the result's types depend on the types of its parameters; they are known only when it runs");
  for (idx_t i = 0; i < n; ++i) {
    ResultColumn c;
    c.name = TakeString(const_cast<char*>(duckdb_prepared_statement_column_name(impl_->stmt, i)));
    OwnedType type(duckdb_prepared_statement_column_logical_type(impl_->stmt, i));
    if (type.get()) c.type = Describe(type.get());
    out.push_back(std::move(c));
  }
  return out;
}

std::string PreparedStatement::ParamTypeSql(const std::string& name) const {
  idx_t index = 0;
  if (duckdb_bind_parameter_index(impl_->stmt, &index, name.c_str()) == DuckDBError) return "";
  OwnedType type(duckdb_param_logical_type(impl_->stmt, index));
  if (!type.get()) return "";
  duckdb_type id = duckdb_get_type_id(type.get());
  if (id == DUCKDB_TYPE_INVALID || id == DUCKDB_TYPE_ANY || id == DUCKDB_TYPE_SQLNULL) return "";
  ColumnType described = Describe(type.get());
  return described.id == TypeId::kInvalid || described.id == TypeId::kOther ? "" : described.sql;
}

Result<Table> PreparedStatement::Execute() {
  OwnedResult r;
  duckdb_state state = duckdb_execute_prepared(impl_->stmt, r.get());
  return TakeResult(state, r);
}

// ----- scalar functions -------------------------------------------------------

namespace {
using Int64Fn = std::function<int64_t(int64_t)>;

void CallInt64Fn(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  auto* fn = static_cast<Int64Fn*>(duckdb_scalar_function_get_extra_info(info));
  idx_t n = duckdb_data_chunk_get_size(input);
  duckdb_vector in = duckdb_data_chunk_get_vector(input, 0);
  auto* src = static_cast<int64_t*>(duckdb_vector_get_data(in));
  auto* dst = static_cast<int64_t*>(duckdb_vector_get_data(output));
  uint64_t* valid = duckdb_vector_get_validity(in);
  if (valid) duckdb_vector_ensure_validity_writable(output);
  try {
    for (idx_t i = 0; i < n; ++i) {
      if (valid && !duckdb_validity_row_is_valid(valid, i)) {
        duckdb_validity_set_row_invalid(duckdb_vector_get_validity(output), i);
        continue;
      }
      dst[i] = (*fn)(src[i]);
    }
  } catch (const std::exception& e) {
    duckdb_scalar_function_set_error(info, e.what());
  } catch (...) {
    duckdb_scalar_function_set_error(info, "a C++ function threw an exception that is not a std::exception");
  }
}
}  // namespace

Status Database::RegisterScalarFunction(const std::string& name, std::function<int64_t(int64_t)> fn) {
  auto con = Connect();
  if (!con.ok()) return con.status();
  duckdb_scalar_function f = duckdb_create_scalar_function();
  duckdb_scalar_function_set_name(f, name.c_str());
  OwnedType bigint(duckdb_create_logical_type(DUCKDB_TYPE_BIGINT));
  duckdb_scalar_function_add_parameter(f, bigint.get());
  duckdb_scalar_function_set_return_type(f, bigint.get());
  duckdb_scalar_function_set_volatile(f);
  duckdb_scalar_function_set_extra_info(f, new Int64Fn(std::move(fn)),
                                        [](void* p) { delete static_cast<Int64Fn*>(p); });
  duckdb_scalar_function_set_function(f, CallInt64Fn);
  duckdb_state state = duckdb_register_scalar_function((*con)->impl_->con, f);
  duckdb_destroy_scalar_function(&f);
  if (state == DuckDBError) return Status::Failed("cannot register function " + name);
  return Status::Ok();
}

}  // namespace fanout
