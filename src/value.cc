#include "fanout/value.h"

#include <nlohmann/json.hpp>

#include "fanout/status.h"
#include "json_value.h"

namespace fanout {

nlohmann::ordered_json ToJsonValue(const Value& value) {
  struct Visitor {
    nlohmann::ordered_json operator()(std::monostate) { return nullptr; }
    nlohmann::ordered_json operator()(bool b) { return b; }
    nlohmann::ordered_json operator()(int64_t i) { return i; }
    nlohmann::ordered_json operator()(double d) { return d; }
    nlohmann::ordered_json operator()(const std::string& s) { return s; }
    nlohmann::ordered_json operator()(const ValueList& l) {
      auto a = nlohmann::ordered_json::array();
      for (const Value& e : l) a.push_back(ToJsonValue(e));
      return a;
    }
    nlohmann::ordered_json operator()(const ValueMap& m) {
      auto o = nlohmann::ordered_json::object();
      for (const auto& [k, v] : m) o[k] = ToJsonValue(v);
      return o;
    }
  };
  return std::visit(Visitor{}, value.v);
}

std::string Value::ToJson() const { return ToJsonValue(*this).dump(); }

std::string Value::ToString() const {
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  return ToJson();
}

std::string Status::ToString() const {
  switch (code_) {
    case Code::kOk: return "ok";
    case Code::kInvalid: return "invalid: " + message_;
    case Code::kFailed: return "failed: " + message_;
    case Code::kIo: return "i/o error: " + message_;
    case Code::kInterrupted: return "interrupted: " + message_;
    case Code::kBusy: return "busy: " + message_;
  }
  return message_;
}

const char* ToString(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNone: return "none";
    case ErrorKind::kPermanent: return "permanent";
    case ErrorKind::kCatalog: return "catalog";
    case ErrorKind::kOutOfMemory: return "out of memory";
    case ErrorKind::kTransientIo: return "transient i/o";
    case ErrorKind::kTimeout: return "timeout";
    case ErrorKind::kInterrupted: return "interrupted";
  }
  return "unknown";
}

}  // namespace fanout
