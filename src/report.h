// report: the run manifest (JSON), the summary table and live progress.
#pragma once

#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "fanout/fanout.h"
#include "mutex.h"

namespace fanout {

struct Manifest;
// This fanout's version, e.g. "0.1.0".
const char* FanoutRelease();
// What the manifest says of `report`; `now` is when a running one is written.
Manifest ManifestOf(RunReport report, double now);

// The end-of-run table (iteration, status, rows, bytes, seconds, attempts,
// error) and the "SUMMARY: k/N succeeded" line.
std::string FormatSummary(const RunReport& report);

// How the summary, the progress lines and the log name an iteration: its n
// ("2"), or its output folder when that is not iter_<n>, as for a grid
// ("spend_north_0") or a named template ("model_2"). `Named` prefixes an n
// with "n=" ("n=2"; a folder name as is).
std::string IterationName(const IterationReport& it);
std::string Named(const IterationReport& it);

std::string FormatBytes(int64_t bytes);

// What a status line shows.
struct ProgressCounts {
  int total = 0, done = 0, running = 0, failed = 0;
  double elapsed = 0;
  double eta = -1;  // seconds; < 0: unknown
};

// The status line: `format` with its placeholders replaced (as NINJA_STATUS):
// %f done, %t total, %r running, %F failed, %p percent done, %e elapsed,
// %E ETA ("?" when unknown), %b a bar of 20 cells, %% a percent sign.
std::string FormatStatusLine(const std::string& format, const ProgressCounts& c);
inline constexpr char kDefaultStatus[] = "[%f/%t] %b %p  running %r  failed %F  %e elapsed  ETA %E";

// What is left of a run, in seconds of one worker each: iterations not
// finished whose `estimate` is known (an earlier run's duration, else the
// mean of this run's finished ones), less what the running ones have done.
// The ETA divides it by the iterations computing at once.
class EtaEstimator {
 public:
  // The iterations still to run (kPending).
  void Plan(const std::vector<IterationReport>& iterations);
  // Earlier runs' durations, by target.
  void SetPast(std::map<std::string, double> past) { past_ = std::move(past); }
  void Started(const std::string& target, double now);
  void Finished(const std::string& target, double seconds);
  // < 0 when unknown.
  double Eta(double now, int running) const;

 private:
  std::map<std::string, double> past_;         // by target
  std::map<std::string, double> left_;         // target -> started at (0: not yet)
  double finished_seconds_ = 0;
  int finished_ = 0;
};

// Progress on stderr. On a terminal: finished and failed iterations scroll,
// one status line (FANOUT_STATUS, kDefaultStatus) is redrawn by a thread of
// its own at most 10 times a second. Elsewhere (CI, pipes): one plain line
// per event, no escape codes. Quiet: only failures and warnings; verbose: the
// starts too, and whole errors.
class ConsoleProgress : public EventSink {
 public:
  enum class Verbosity { kQuiet, kNormal, kVerbose };
  ConsoleProgress(FILE* out, bool smart_terminal, Verbosity verbosity = Verbosity::kNormal,
                  std::string status_format = kDefaultStatus);
  ~ConsoleProgress() override;
  void OnPlanned(const std::vector<IterationReport>& iterations) override;
  void OnEstimates(const std::map<std::string, double>& past_seconds) override;
  void OnStarted(const IterationReport& it) override;
  void OnRetry(const IterationReport& it, const std::string& error, double delay_s) override;
  void OnFinished(const IterationReport& it) override;
  void OnMessage(const std::string& line) override;
  // Stops redrawing and clears the status line (before the summary).
  void Done() EXCLUDES(mu_);

  // isatty && TERM != dumb.
  static bool IsSmartTerminal(FILE* f);

 private:
  void Line(const std::string& text) REQUIRES(mu_);
  void Redraw() REQUIRES(mu_);
  int Busy() const REQUIRES(mu_);  // workers the running iterations take
  void Tick() EXCLUDES(mu_);
  std::string Stamp() const;
  std::string Error(const std::string& error, size_t max) const;

  Mutex mu_;
  CondVar cv_;
  FILE* out_;
  const bool smart_;
  const Verbosity verbosity_;
  const std::string format_;
  double t0_;
  EtaEstimator eta_ GUARDED_BY(mu_);
  int total_ GUARDED_BY(mu_) = 0;
  // Started and not finished, by target, each with its share of a worker:
  // 1, or 1/N for a member of a fused batch of N (which starts all N at once).
  std::map<std::string, double> running_ GUARDED_BY(mu_);
  int most_running_ GUARDED_BY(mu_) = 0;  // most workers busy at once
  int committed_ GUARDED_BY(mu_) = 0;
  int failed_ GUARDED_BY(mu_) = 0;
  int other_ GUARDED_BY(mu_) = 0;
  bool shown_ GUARDED_BY(mu_) = false;  // the status line is on screen
  bool done_ GUARDED_BY(mu_) = false;
  std::thread ticker_;  // last: smart terminals only
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
