// trace: a run's attempts as a table, OUT/_fanout/runs/<run-id>.trace.tsv —
// one row per attempt of every iteration, the shape GNU parallel's --joblog
// and Nextflow's trace users load into spreadsheets. The columns are listed
// in the README ("Understanding a run").
#pragma once

#include <string>

#include "fanout/record.h"

namespace fanout {

// The header row and one row per attempt (iterations in manifest order,
// attempts oldest first). Times are unix seconds with microseconds; a tab,
// newline or backslash inside a field is written \t, \n, \\.
std::string TraceTsv(const Manifest& m);

}  // namespace fanout
