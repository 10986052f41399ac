// Value: a param value (the job's "dictionaries"). Copied per iteration and
// bound to SQL as a typed prepared-statement parameter, never pasted into SQL.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace fanout {

struct Value;
using ValueList = std::vector<Value>;
using ValueMap = std::vector<std::pair<std::string, Value>>;  // keeps key order

struct Value {
  std::variant<std::monostate, bool, int64_t, double, std::string, ValueList, ValueMap> v;

  Value() = default;
  Value(bool b) : v(b) {}                  // NOLINT
  Value(int64_t i) : v(i) {}               // NOLINT
  Value(int i) : v(int64_t{i}) {}          // NOLINT
  Value(double d) : v(d) {}                // NOLINT
  Value(std::string s) : v(std::move(s)) {}  // NOLINT
  Value(const char* s) : v(std::string(s)) {}  // NOLINT
  Value(ValueList l) : v(std::move(l)) {}  // NOLINT
  Value(ValueMap m) : v(std::move(m)) {}   // NOLINT

  bool is_null() const { return v.index() == 0; }
  // A short, stable rendering: plain text for scalars, JSON for the rest.
  std::string ToString() const;
  // Canonical JSON (used in manifests and fingerprints).
  std::string ToJson() const;
  bool operator==(const Value& o) const { return v == o.v; }
};

// Named params: name -> value, sorted by name.
using Params = std::map<std::string, Value>;

}  // namespace fanout
