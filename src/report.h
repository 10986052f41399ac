// report: the run manifest (JSON), the summary table and live progress.
#pragma once

#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "fanout/fanout.h"
#include "mutex.h"

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
  void Line(const std::string& text) REQUIRES(mu_);
  void Redraw() REQUIRES(mu_);
  std::string Stamp() const;

  Mutex mu_;
  FILE* out_;
  bool smart_;
  double t0_;
  int total_ GUARDED_BY(mu_) = 0;
  int running_ GUARDED_BY(mu_) = 0;
  int committed_ GUARDED_BY(mu_) = 0;
  int failed_ GUARDED_BY(mu_) = 0;
  int other_ GUARDED_BY(mu_) = 0;
  std::vector<std::string> in_flight_ GUARDED_BY(mu_);
};

// Keeps the run manifest on disk current while iterations run, so that a
// killed run is visible (`fanout status`): every finished iteration is noted,
// and a thread of its own rewrites the manifest (status "running") while
// something changed, at most once per max(`interval`, 50 x its last write):
// a run of 10,000 trivial iterations writes it every second or two, not
// 10,000 times, and no worker ever waits for it. Forwards every event to `next` (may be null). The final
// manifest is the caller's: Stop() writes nothing.
class LiveManifest : public EventSink {
 public:
  using Writer = std::function<Status(const std::string& json)>;
  LiveManifest(const RunReport& report, EventSink* next, Writer write, double interval_seconds = 1.0);
  ~LiveManifest() override;
  // Joins the writing thread (idempotent).
  void Stop() EXCLUDES(mu_);

  void OnPlanned(const std::vector<IterationReport>& iterations) override;
  void OnStarted(const IterationReport& it) override;
  void OnRetry(const IterationReport& it, const std::string& error, double delay_s) override;
  void OnFinished(const IterationReport& it) override;
  void OnMessage(const std::string& line) override;

 private:
  void Loop() EXCLUDES(mu_);

  EventSink* next_;
  Writer write_;
  const double interval_;
  Mutex mu_;
  CondVar cv_;
  RunReport snapshot_ GUARDED_BY(mu_);
  std::map<std::string, size_t> index_;  // n as text -> position in snapshot_.iterations
  bool dirty_ GUARDED_BY(mu_) = false;
  bool stop_ GUARDED_BY(mu_) = false;
  bool warned_ = false;                 // only the writing thread
  std::thread thread_;                  // last: starts once the fields above exist
};

}  // namespace fanout
