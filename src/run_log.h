// run_log: the run log, OUT/_fanout/runs/<run-id>.log — timestamped,
// levelled lines (loading, planning, each start, finish, retry and failure
// with its whole error, warnings, the summary), as text or one JSON object a
// line (--log-format json, for log shippers). It is an EventSink in front of
// the terminal's: both see the same events, so they never disagree. Kept in
// memory and written at the end of the run, beside its manifest.
#pragma once

#include <string>
#include <vector>

#include "fanout/fanout.h"
#include "mutex.h"

namespace fanout {

class RunLog : public EventSink {
 public:
  enum class Level { kDebug, kInfo, kWarn, kError };
  RunLog(EventSink* next, RunOptions::LogFormat format) : next_(next), format_(format) {}

  // A line of the runner's own (loading, the summary); not forwarded.
  void Log(Level level, const std::string& message) EXCLUDES(mu_);
  // Every line so far, one per line.
  std::string Text() const EXCLUDES(mu_);

  void OnPlanned(const std::vector<IterationReport>& iterations) override;
  void OnStarted(const IterationReport& it) override;
  void OnRetry(const IterationReport& it, const std::string& error, double delay_s) override;
  void OnFinished(const IterationReport& it) override;
  void OnMessage(const std::string& line) override;
  void OnEstimates(const std::map<std::string, double>& past_seconds) override;

 private:
  // The line as written: "<UTC> <LEVEL> <message>" or a JSON object.
  std::string Format(Level level, const std::string& message, const IterationReport* it) const;
  void Add(Level level, const std::string& message, const IterationReport* it = nullptr) EXCLUDES(mu_);

  EventSink* next_;
  const RunOptions::LogFormat format_;
  mutable Mutex mu_;
  std::string text_ GUARDED_BY(mu_);
};

}  // namespace fanout
