// outputs: what fanout owns under OUT, and what it must never touch.
//
// An output of fanout is a folder (not a symbolic link) holding a regular
// file _SUCCESS that parses as fanout's marker. Anything else at a target's
// path — a file, a link, a FIFO, a folder without _SUCCESS or with someone
// else's (Spark writes an empty one) — is foreign: fanout never replaces,
// moves or deletes it. An output location that holds the job's own files
// (inputs, the job file, includes, transforms, the input cache) is refused.
//
// A committed output is verified against its _SUCCESS before a run trusts it
// (resume, skip_existing, `fanout status --verify`): the same file names and
// sizes (one listing), and with checksums the same xxh3 too.
#pragma once

#include <string>
#include <vector>

#include "fanout/job_spec.h"
#include "fanout/record.h"
#include "fanout/store.h"
#include "storage.h"

namespace fanout {

// What is at `path` (OUT/<target>). Never follows a link, never opens
// anything but a regular _SUCCESS of a folder.
TargetState InspectTarget(Storage& storage, const std::string& path);

// The error for a foreign `path`: what is there and what to do.
std::string ForeignTargetMessage(const std::string& path, const std::string& what);

// The output folder names of a list or range sequence, known from the job
// file alone (before any input is loaded), limited to `only` when not empty;
// empty for a sequence: {sql: ...}. Names plan would reject are left out
// (plan reports them).
std::vector<std::string> KnownTargets(const JobSpec& spec, const std::vector<std::string>& only);

// Invalid naming every target of `targets` in `store` that is foreign.
Status RefuseForeignTargets(OutputStore& store, const std::vector<std::string>& targets);
// Invalid when output.dir is an existing non-folder, contains (or is) an
// input, the job file, a params include, a transform file or the input
// cache, or lies inside the input cache. Paths are compared with every link
// resolved.
Status CheckOutputLocation(Storage& storage, const JobSpec& spec);

// "" when the folder `dir` holds exactly the files `marker` lists, with their
// sizes (and with `checksums`, their xxh3); else what differs, e.g.
// "part-00000.parquet: size 1234 on disk, 5678 in _SUCCESS".
std::string VerifyOutput(Storage& storage, const std::string& dir, const Marker& marker, bool checksums);

// One line of `fanout status --verify`.
struct OutputCheck {
  std::string target;
  std::string problem;   // "" when the output is intact
  bool foreign = false;  // not a fanout output: reported, never a failure
};

// Every fanout output in `out_dir` verified (folders whose names start with
// '.' or '_' are fanout's bookkeeping and skipped), plus a problem for each
// target `last_manifest` says is committed (or was skipped as up to date)
// that is no longer there. Sorted by target.
std::vector<OutputCheck> VerifyOutputs(OutputStore& store, const Manifest& last_manifest, bool checksums);

}  // namespace fanout
