// run_log: see run_log.h.
#include "run_log.h"

#include <nlohmann/json.hpp>

#include "report.h"
#include "util.h"

namespace fanout {
namespace {

const char* Name(RunLog::Level level) {
  switch (level) {
    case RunLog::Level::kDebug: return "DEBUG";
    case RunLog::Level::kInfo: return "INFO";
    case RunLog::Level::kWarn: return "WARN";
    case RunLog::Level::kError: return "ERROR";
  }
  return "?";
}

std::string Fixed(double v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

}  // namespace

std::string RunLog::Format(Level level, const std::string& message, const IterationReport* it) const {
  const std::string when = FormatUtc(NowSeconds());
  if (format_ == RunOptions::LogFormat::kText) {
    std::string line = when + " " + Name(level) + (level == Level::kInfo || level == Level::kWarn ? "  " : " ");
    for (char c : message) line += c == '\n' ? std::string("\n    ") : std::string(1, c);  // a whole error, indented
    return line + "\n";
  }
  nlohmann::ordered_json j = {{"time", when}, {"level", Name(level)}, {"message", message}};
  if (it) {
    j["n"] = it->n.ToString();
    j["target"] = it->target;
    j["attempt"] = it->attempts;
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void RunLog::Add(Level level, const std::string& message, const IterationReport* it) {
  std::string line = Format(level, message, it);
  MutexLock lock(&mu_);
  text_ += line;
}

void RunLog::Log(Level level, const std::string& message) { Add(level, message); }

std::string RunLog::Text() const {
  MutexLock lock(&mu_);
  return text_;
}

void RunLog::OnPlanned(const std::vector<IterationReport>& iterations) {
  int skipped = 0;
  for (const IterationReport& r : iterations) {
    if (r.status != IterationStatus::kSkipped) continue;
    ++skipped;
    Add(Level::kInfo, "skip " + Named(r) + ": " + r.skip_reason, &r);
  }
  Add(Level::kInfo, "planned " + std::to_string(iterations.size()) + " iterations, " + std::to_string(skipped) +
                        " skipped");
  if (next_) next_->OnPlanned(iterations);
}

void RunLog::OnStarted(const IterationReport& it) {
  Add(Level::kInfo, "start " + Named(it) + " attempt " + std::to_string(it.attempts), &it);
  if (next_) next_->OnStarted(it);
}

void RunLog::OnRetry(const IterationReport& it, const std::string& error, double delay_s) {
  Add(Level::kWarn, "retry " + Named(it) + " in " + Fixed(delay_s) + "s: " + error, &it);
  if (next_) next_->OnRetry(it, error, delay_s);
}

void RunLog::OnFinished(const IterationReport& it) {
  const std::string n = Named(it);
  if (it.status == IterationStatus::kCommitted)
    Add(Level::kInfo, "committed " + n + ": " + std::to_string(it.rows) + " rows, " + std::to_string(it.bytes) +
                          " bytes, " + Fixed(it.seconds()) + "s", &it);
  else if (it.status == IterationStatus::kFailed)
    Add(Level::kError, "failed " + n + ": " + it.error, &it);
  else if (it.status == IterationStatus::kSkipped)  // skipped while running: a dependency (after:) did not commit
    Add(Level::kWarn, "skipped " + n + ": " + it.skip_reason, &it);
  else
    Add(Level::kWarn, std::string(ToString(it.status)) + " " + n + (it.error.empty() ? "" : ": " + it.error), &it);
  if (next_) next_->OnFinished(it);
}

void RunLog::OnMessage(const std::string& line) {
  Add(line.rfind("warning", 0) == 0 ? Level::kWarn : Level::kInfo, line);
  if (next_) next_->OnMessage(line);
}

void RunLog::OnEstimates(const std::map<std::string, double>& past_seconds) {
  Add(Level::kDebug, "earlier runs' durations known for " + std::to_string(past_seconds.size()) + " targets");
  if (next_) next_->OnEstimates(past_seconds);
}

}  // namespace fanout
