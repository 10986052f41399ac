// An in-memory engine and one connection, for tests of engine-level code.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "engine.h"

namespace fanout {

// Opens both; a failure is a fatal test failure (use ASSERT_NO_FATAL_FAILURE).
inline void OpenMemoryEngine(std::unique_ptr<Database>* db, std::unique_ptr<Connection>* con) {
  auto d = Database::Open({});
  ASSERT_TRUE(d.ok()) << d.status().message();
  *db = std::move(d).value();
  auto c = (*db)->Connect();
  ASSERT_TRUE(c.ok()) << c.status().message();
  *con = std::move(c).value();
}

}  // namespace fanout
