// report: the run manifest (JSON), the summary table and live progress.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

#include "fanout/fanout.h"

namespace fanout {

// The end-of-run table (iteration, status, rows, bytes, seconds, attempts,
// error) and the "SUMMARY: k/N succeeded" line.
std::string FormatSummary(const RunReport& report);

std::string FormatBytes(int64_t bytes);

// Progress on a terminal: finished iterations scroll, one status line is
// redrawn. Elsewhere (CI, pipes): one line per event, never redrawn.
class ConsoleProgress : public EventSink {
 public:
  ConsoleProgress(FILE* out, bool smart_terminal);
  void OnPlanned(const std::vector<IterationReport>& iterations) override;
  void OnStarted(const IterationReport& it) override;
  void OnRetry(const IterationReport& it, const std::string& error, double delay_s) override;
  void OnFinished(const IterationReport& it) override;
  void OnMessage(const std::string& line) override;
  // Clears the status line (before the summary is printed).
  void Done();

  // isatty && TERM != dumb.
  static bool IsSmartTerminal(FILE* f);

 private:
  void Line(const std::string& text);  // REQUIRES: mu_ held
  void Redraw();                       // REQUIRES: mu_ held
  std::string Stamp() const;

  std::mutex mu_;
  FILE* out_;
  bool smart_;
  double t0_;
  int total_ = 0, running_ = 0, committed_ = 0, failed_ = 0, other_ = 0;  // GUARDED_BY(mu_)
  std::vector<std::string> in_flight_;                                    // GUARDED_BY(mu_)
};

}  // namespace fanout
