// json_value: a Value as nlohmann JSON, for the modules that write JSON
// (never in a public header).
#pragma once

#include <nlohmann/json.hpp>

#include "fanout/value.h"

namespace fanout {

// null, bool, integer, float, string, array or object (keys in order).
nlohmann::ordered_json ToJsonValue(const Value& value);

}  // namespace fanout
