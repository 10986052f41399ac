// execute: one attempt of one iteration on the real engine — a fresh
// connection (its temp tables are private), the transform's statements with
// params bound, the last one written by the engine into a staging directory,
// then committed.
#pragma once

#include <string>

#include "commit.h"
#include "engine.h"
#include "fanout/job_spec.h"
#include "scheduler.h"

namespace fanout {

class EngineExecutor : public IterationExecutor {
 public:
  EngineExecutor(Database& db, Committer& committer, const OutputSpec& output, std::string run_id);
  Status RunAttempt(const Iteration& it, int attempt, Interrupter& stop, ComputeSlot& slot,
                    IterationReport& report) override;

 private:
  Result<int64_t> Transform(const Iteration& it, Connection& con, const std::string& staging);
  std::string CopyStatement(const std::string& query) const;
  std::string CopyTarget(const std::string& staging) const;

  Database& db_;
  Committer& committer_;
  const OutputSpec& output_;
  std::string run_id_;
};

}  // namespace fanout
