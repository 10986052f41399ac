// Engine: what a program embedding fanout may do with a job's engine once
// it is open and before anything runs (RunOptions::on_engine_ready):
// register functions that every transform can call.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "fanout/status.h"

namespace fanout {

class Engine {
 public:
  virtual ~Engine() = default;
  // Registers fn(BIGINT) -> BIGINT as a volatile SQL scalar function `name`.
  // fn may be called from several threads at once.
  virtual Status RegisterScalarFunction(const std::string& name, std::function<int64_t(int64_t)> fn) = 0;
};

}  // namespace fanout
