// s3_inputs: job inputs at s3://bucket/key. Each is fetched once into the
// input cache folder, as <cache.dir>/s3/<xxh3 of the URL>-<xxh3 of its
// ETag>.<ext> (written under a temporary name, renamed when whole); a copy of
// the same ETag and size from an earlier run is used as it is, an older
// copy of the same URL is removed. The engine reads the copy.
//
// An S3 input's identity for fingerprints (--resume, skip_existing) is its
// URL, reader options, ETag and size: a changed object reruns the iterations
// that read it; the copy's path and mtime play no part. A missing object, a
// bucket or credentials that do not work: kInvalid naming the input, before
// anything runs.
#pragma once

#include <string>
#include <vector>

#include "fanout/job_spec.h"
#include "fanout/status.h"

namespace fanout {

struct FetchedInputs {
  JobSpec spec;                         // the S3 inputs' paths replaced by their local copies
  std::vector<std::string> identities;  // per input: its identity when on S3, else ""
  std::vector<std::string> notes;       // "input t: s3://... fetched (12.3 MB)"
};

// `spec` unchanged (and no identity) when no input is on S3.
Result<FetchedInputs> FetchS3Inputs(const JobSpec& spec);

}  // namespace fanout
