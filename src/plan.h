// plan: the sequence -> iterations, each with its own copy of the params, its
// SQL statements, its output folder name and its fingerprint. Rejects
// duplicate n, unsafe names, unknown $params and SQL that does not prepare —
// before anything is written.
#pragma once

#include <string>
#include <vector>

#include "engine.h"
#include "fanout/job_spec.h"

namespace fanout {

struct Iteration {
  size_t index = 0;        // position in the sequence
  Value n;                 // int64 or string
  std::string key;         // n as text
  std::string kind;        // "" when the sequence has no kinds
  std::string target;      // output folder name, e.g. iter_2
  Params params;           // params + overrides + n (+ kind): this iteration's copy
  std::string transform_source;
  std::vector<std::string> statements;  // the last one is written
  // Fingerprint parts (hashes) and their combination.
  std::string fp_sql, fp_params, fp_inputs, fp_output, fingerprint;
};

// Resolves the sequence (running its SQL on `con` when it has one) and builds
// every iteration. `identities[i]` is the identity of spec.inputs[i]; an
// iteration's fingerprint covers the inputs its transform or `prepare` names,
// so touching one input reruns (with --resume) only the iterations reading it.
Result<std::vector<Iteration>> PlanIterations(const JobSpec& spec, Connection& con,
                                              const std::vector<std::string>& identities);

// Prepares every distinct transform (per kind and param types) against empty
// copies of the loaded tables: unknown tables, columns, functions and params
// are found here, naming the iteration. Leaves the database as it was.
Status DryRunTransforms(Database& db, Connection& con, const std::vector<Iteration>& iterations);

// Keeps the iterations whose n (as text) is in `only`; an unknown n is an error.
Result<std::vector<Iteration>> FilterOnly(std::vector<Iteration> all, const std::vector<std::string>& only);

}  // namespace fanout
