// spec_check: the checks on a JobSpec's values that every spec gets, whether
// it was parsed from a job file (spec.cc, which adds file:line:column and
// first checks the YAML's types) or built in code (fanout::Validate). Each
// check returns "" when the value is fine, else what is wrong, naming the
// field and saying what to do.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "fanout/job_spec.h"

namespace fanout::spec_check {

// Bounds: values no machine needs; larger ones are typos.
inline constexpr int64_t kMaxRetries = 100;
inline constexpr int64_t kMinFileBytes = 1 << 20;     // output.max_file_size
inline constexpr int64_t kMinMemoryBytes = 64000000;  // the CSV reader alone takes 32MB
inline constexpr int64_t kMaxIterations = 10000000;   // sequence.range

bool IsIdentifier(const std::string& name);     // letters, digits, _; not starting with a digit
bool IsReservedParam(const std::string& name);  // n, kind (any case)

std::string InputName(const std::string& name);
std::string ReaderOption(const std::string& name);
// A plain identifier, and not $n or $kind.
std::string ParamName(const std::string& name);
// `name` must be one the job declares under params: (overrides, --set).
// `context` follows the name in the message, e.g. " in overrides.3".
std::string KnownParam(const Params& params, const std::string& name, const std::string& context);
std::string Range(int64_t first, int64_t last, int64_t step);
// `param_sets`: the sequence is a list of maps or a grid, whose names may
// come from any param ({alpha}); otherwise the name needs {n}.
std::string OutputName(const std::string& name, bool param_sets = false);
// A key of a parameter set or a grid axis: a param name, or n or kind.
std::string SetKey(const std::string& name);
std::string MaxFileBytes(int64_t bytes);  // when set (OutputSpec's 0 means one file per iteration)
std::string MemoryLimit(const std::string& limit);
std::string Timeout(double seconds);
std::string Timezone(const std::string& timezone);
std::string CacheOutsideOutput(const CacheSpec& cache, const OutputSpec& output);

// SQL folds unquoted names to one case: `Scale` and `scale` would be one
// $param (or table, or kind), and which one wins would be an accident. Names
// that differ only in case are rejected, naming both and where they are
// (`where` may be empty: a spec built in code); the very same name twice is
// left to the caller (an inline param overrides an included one on purpose).
class CaseCollisions {
 public:
  explicit CaseCollisions(std::string what) : what_(std::move(what)) {}
  std::string Add(const std::string& name, const std::string& where = "");

 private:
  std::string what_;
  std::map<std::string, std::pair<std::string, std::string>> seen_;  // lower-cased -> name, where
};

}  // namespace fanout::spec_check
