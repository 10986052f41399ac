// engine_internal: what the engine's own files (engine.cc, engine_udf.cc)
// share. Includes duckdb.h: no other module may include this header.
#pragma once

#include <duckdb.h>

#include "engine.h"

namespace fanout {

struct Connection::Impl {
  duckdb_connection con = nullptr;
  ~Impl() {
    if (con) duckdb_disconnect(&con);
  }
};

}  // namespace fanout
