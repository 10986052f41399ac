// cpp_transform: the second implementation behind the transform seam — an
// attempt whose work is a C++ function (fanout/transform.h) instead of SQL
// statements. EngineExecutor runs it on the same engine threads, with the
// same fresh connection, Interrupter, staging and publish as SQL; only what
// computes the result differs.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "engine.h"
#include "fanout/job_spec.h"
#include "fanout/transform.h"

namespace fanout {

class Interrupter;
struct Iteration;

// A C++ transform as an iteration runs it: the registered function, its
// version and the input names (the SQL policy's read-only tables).
struct CppBinding {
  std::string name;
  CppTransform transform;
  std::set<std::string> inputs;
};

// Every `transform: {cpp: name}` of the spec must name one of `registered`:
// otherwise kInvalid at the place the job names it (file:line:col), before
// anything loads.
Status CheckCppTransforms(const JobSpec& spec, const std::map<std::string, CppTransform>& registered);

// What an iteration of a C++ transform hashes as its transform: its name and
// version.
std::string CppTransformIdentity(const CppBinding& b);

// One attempt: runs the C++ transform on `con` (a fresh connection, armed in
// `stop`), then writes its result with `copy_sql(query)` bound to `target`.
// Returns the rows written. What the user's code throws or returns fails the
// attempt with its message; nothing escapes. `failed_sql` (may be null) gets
// the last statement of the transform's that failed (for the trace).
Result<int64_t> RunCppTransform(const Iteration& it, int attempt, Connection& con, Interrupter& stop,
                                const OutputSpec& output, const std::string& target, std::string* failed_sql);

}  // namespace fanout
