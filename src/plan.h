// plan: the sequence -> iterations, each with its own copy of the params, its
// SQL statements, its output folder name and its fingerprint. Rejects
// duplicate n, unsafe names, unknown $params and SQL that does not prepare —
// before anything is written.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine.h"
#include "fanout/job_spec.h"
#include "fanout/transform.h"

namespace fanout {

struct CppBinding;  // cpp_transform.h

// An iteration another waits for (after:): its n, output folder and the
// fingerprint the plan gives it.
struct Dependency {
  std::string key, target, fingerprint;
};
struct FusedForm;  // fuse.h

struct Iteration {
  size_t index = 0;        // position in the sequence
  Value n;                 // int64 or string
  std::string key;         // n as text
  std::string kind;        // "" when the sequence has no kinds
  std::string target;      // output folder name, e.g. iter_2
  Params params;           // params + overrides + n (+ kind): this iteration's copy
  std::string transform_source;
  std::vector<std::string> statements;  // the last one is written
  // A C++ transform (`transform: {cpp: name}`): then statements is empty.
  std::shared_ptr<const CppBinding> cpp;
  // A single query that leaves its connection as it found it: it may run on
  // an idle session of an earlier iteration.
  bool reusable_session = false;
  // Fingerprint parts (hashes) and their combination.
  // settings: the engine settings results depend on (time zone, engine version).
  // inputs: the inputs it reads, and its dependencies' fingerprints.
  std::string fp_sql, fp_params, fp_inputs, fp_output, fp_settings, fingerprint;
  std::vector<Dependency> deps;  // after: (src/deps.h), dependencies first in the plan's order
  bool batch = false;  // a batch_transform: statements[0] fills fanout_sequence with this iteration's row
  // Set by PlanFusion: runs in a fused batch with the iterations sharing it
  // (null: alone), and why it does or does not (fanout plan).
  std::shared_ptr<const FusedForm> fused;
  std::string fuse_note;
};

// The fingerprint of its parts.
std::string CombinedFingerprint(const Iteration& it);

// Resolves the sequence (running its SQL on `con` when it has one) and builds
// every iteration. `identities[i]` is the identity of spec.inputs[i]; an
// iteration's fingerprint covers the inputs its transform or `prepare` names,
// so touching one input reruns (with --resume) only the iterations reading it.
// `cpp` (RunOptions::transforms) resolves `transform: {cpp: name}`; the
// version of each is part of its iterations' fingerprints.
Result<std::vector<Iteration>> PlanIterations(const JobSpec& spec, Connection& con,
                                              const std::vector<std::string>& identities,
                                              const std::map<std::string, CppTransform>& cpp = {});

// Checks every distinct transform (per kind and param types) without running
// it: each statement is prepared, checked against SqlPolicy (nothing may reach
// beyond its iteration), bound, and executed only in its dry form (DDL, and
// queries as `... LIMIT 0`: the engine reads nothing); the last one must be a
// query whose COPY to the output prepares. Unknown tables, columns, functions
// and params are found here, naming the iteration. Leaves the database as it
// was. `watch` (may be empty) is given each connection while it is in use,
// then null, so that a cancel can interrupt it. `warnings` (may be null) gets
// a line per written column that Parquet cannot hold exactly (HUGEINT, ...).
Status DryRunTransforms(Database& db, const JobSpec& spec, const std::vector<Iteration>& iterations,
                        const std::function<void(Connection*)>& watch, std::vector<std::string>* warnings);

// Keeps the iterations whose n (as text) is in `only`; an unknown n is an error.
Result<std::vector<Iteration>> FilterOnly(std::vector<Iteration> all, const std::vector<std::string>& only);

}  // namespace fanout
