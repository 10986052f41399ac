// execute: one attempt of one iteration on the real engine — a fresh
// connection (its temp tables are private), the transform's statements with
// params bound, the last one written by the engine into a staging directory,
// then committed. A transform of a single query (which can create no temp
// table and change no setting) reuses an idle session — connection and
// prepared statement — of an earlier iteration instead.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

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
  struct Session {
    std::unique_ptr<Connection> con;
    std::string sql;  // what `stmt` was prepared from
    std::unique_ptr<PreparedStatement> stmt;
  };
  Result<std::unique_ptr<Session>> OpenSession(bool reuse);
  Result<int64_t> Transform(const Iteration& it, Session& session, const std::string& staging);
  std::string CopyStatement(const std::string& query) const;
  // The one file the engine writes (part-00000.<ext>); empty for split output.
  std::string SingleFile() const;
  std::string CopyTarget(const std::string& staging) const;

  Database& db_;
  Committer& committer_;
  const OutputSpec& output_;
  std::string run_id_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Session>> idle_;  // GUARDED_BY(mu_)
};

}  // namespace fanout
