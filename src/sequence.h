// sequence: the sequences of parameter sets — a list of maps and a grid
// (sequence: [{alpha: 0.1}, ...] and sequence: {grid: {alpha: [...], ...}}) —
// as iterations, and output folder names from a template over their params
// (output.name: "iter_{alpha}_{depth}").
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "fanout/job_spec.h"
#include "fanout/status.h"
#include "fanout/value.h"

namespace fanout {

// One iteration of a sequence of parameter sets.
struct SequenceItem {
  Value n;            // the set's n (an integer or a name), else its 1-based position
  std::string kind;   // the set's kind, or ""
  ValueMap params;    // its own params (n and kind are not among them)
  std::string where;  // file:line:col of its set ("": a grid point)
};

// An SQL axis's rows, each as column -> value.
using AxisQuery = std::function<Result<std::vector<ValueMap>>(const GridAxis& axis)>;

bool IsParamSets(const SequenceSpec& seq);  // kSets or kGrid
bool HasSqlAxis(const SequenceSpec& seq);

// Expands a list of maps or a grid (the cross product, in the order the axes
// are given, the last varying fastest). `query` runs each SQL axis; it may be
// empty when the grid has none.
Result<std::vector<SequenceItem>> ExpandParamSets(const SequenceSpec& seq, const AxisQuery& query);

// The folder name `pattern` gives: {n}, {kind} and {param} replaced by the
// iteration's values (text as is, numbers and booleans as written). A
// placeholder that is not n, kind or a param, and a list, map or null value,
// are errors.
Result<std::string> ExpandOutputName(const std::string& pattern, const std::string& n, const std::string& kind,
                                     const Params& params);

// "" when `name` can be an output folder: one path component of letters,
// digits and . _ = + - (no '/', '..', spaces or control characters), not
// starting with '.' or '_' (fanout's own), not a name Windows reserves (CON,
// NUL, COM1, ...: a copy to such a filesystem would fail), at most 200 bytes.
std::string FolderNameProblem(const std::string& name);

}  // namespace fanout
