#include "report.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "fanout/record.h"
#include "deps.h"
#include "util.h"

namespace fanout {

const char* ToString(IterationStatus s) {
  switch (s) {
    case IterationStatus::kPending: return "pending";
    case IterationStatus::kCommitted: return "committed";
    case IterationStatus::kFailed: return "failed";
    case IterationStatus::kSkipped: return "skipped";
    case IterationStatus::kCancelled: return "cancelled";
  }
  return "?";
}

int RunReport::Count(IterationStatus s) const {
  return static_cast<int>(std::count_if(iterations.begin(), iterations.end(),
                                        [s](const IterationReport& r) { return r.status == s; }));
}

int RunReport::ExitCode() const {
  if (interrupted) return 130;
  if (status.code() == Status::Code::kInvalid || status.code() == Status::Code::kBusy) return 2;
  if (!status.ok()) return 1;
  if (Count(IterationStatus::kFailed) || Count(IterationStatus::kCancelled) || Count(IterationStatus::kPending)) return 1;
  for (const IterationReport& r : iterations)
    if (SkippedForADependency(r)) return 1;
  return 0;
}

const char* FanoutRelease() { return FANOUT_RELEASE; }

// What the manifest says of `report`; `now` is when a running one is written.
Manifest ManifestOf(RunReport report, double now) {
  Manifest m;
  m.run_id = std::move(report.run_id);
  m.job = std::move(report.job_name);
  m.out_dir = std::move(report.out_dir);
  m.started_at = FormatUtc(report.started_at);
  const int code = report.ExitCode();
  if (report.running) {
    // `fanout status` tells a live run from a dead one by the output's lock.
    m.seconds = now - report.started_at;
    m.status = "running";
    m.updated_at = FormatUtc(now);
    m.pid = static_cast<int64_t>(getpid());
  } else {
    m.finished_at = FormatUtc(report.finished_at);
    m.seconds = report.finished_at - report.started_at;
    m.status = code == 0 ? "succeeded" : code == 130 ? "interrupted" : code == 2 ? "invalid" : "failed";
    m.exit_code = code;
  }
  if (!report.status.ok()) m.error = report.status.message();
  m.max_workers = report.workers;
  m.threads = report.threads;
  m.memory_limit = report.memory_limit;
  m.host = report.host;
  m.release = FANOUT_RELEASE;
  m.counts = Manifest::CountsOf(report.iterations, report.running);
  if (report.shards > 0)
    m.shard = ManifestShard{report.shard, report.shards, report.shard_total, report.shard_digest, HostName()};
  m.iterations = std::move(report.iterations);
  return m;
}

std::string RunReport::ToJson() const { return ManifestOf(*this, NowSeconds()).ToJson(); }

std::string FormatBytes(int64_t b) {
  char buf[32];
  if (b < 1024) snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(b));
  else if (b < (1 << 20)) snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else if (b < (1LL << 30)) snprintf(buf, sizeof buf, "%.1f MiB", b / 1048576.0);
  else snprintf(buf, sizeof buf, "%.2f GiB", b / 1073741824.0);
  return buf;
}

namespace {
std::string FirstLine(const std::string& s, size_t max) {
  std::string line = s.substr(0, s.find('\n'));
  if (line.size() > max) line = line.substr(0, max - 3) + "...";
  return line;
}
}  // namespace

std::string IterationName(const IterationReport& it) {
  const std::string n = it.n.ToString();
  return it.target.empty() || it.target == "iter_" + n ? n : it.target;
}

std::string Named(const IterationReport& it) {
  const std::string name = IterationName(it);
  return name == it.n.ToString() ? "n=" + name : name;
}

std::string FormatSummary(const RunReport& report) {
  std::string out;
  char buf[512];
  int width = 12;  // the longest name (a folder name is at most 200 bytes)
  for (const IterationReport& r : report.iterations)
    width = std::max(width, static_cast<int>(IterationName(r).size()));
  snprintf(buf, sizeof buf, "%-*s %-10s %12s %11s %8s %8s  %s\n", width, "iteration", "status", "rows", "bytes",
           "seconds", "attempts", "error");
  out += buf;
  for (const IterationReport& r : report.iterations) {
    std::string err = r.status == IterationStatus::kSkipped ? r.skip_reason : FirstLine(r.error, 100);
    snprintf(buf, sizeof buf, "%-*s %-10s %12lld %11s %8.2f %8d  %s\n", width, IterationName(r).c_str(),
             ToString(r.status), static_cast<long long>(r.rows), FormatBytes(r.bytes).c_str(), r.seconds(),
             r.attempts, err.c_str());
    out += buf;
  }
  int ok = report.Count(IterationStatus::kCommitted) + report.Count(IterationStatus::kSkipped);
  for (const IterationReport& r : report.iterations) ok -= SkippedForADependency(r);
  snprintf(buf, sizeof buf, "SUMMARY: %d/%zu iterations succeeded", ok, report.iterations.size());
  out += buf;
  std::string failed;
  for (const IterationReport& r : report.iterations)
    if (r.status == IterationStatus::kFailed) failed += (failed.empty() ? "" : ", ") + IterationName(r);
  if (!failed.empty()) out += " (failed: " + failed + ")";
  int skipped = report.Count(IterationStatus::kSkipped), cancelled = report.Count(IterationStatus::kCancelled);
  if (skipped) out += ", " + std::to_string(skipped) + " skipped";
  if (cancelled) out += ", " + std::to_string(cancelled) + " cancelled";
  snprintf(buf, sizeof buf, " in %.2fs", report.finished_at - report.started_at);
  out += buf;
  out += "\n";
  if (!report.manifest_path.empty()) out += "manifest: " + report.manifest_path + "\n";
  return out;
}

// ----- the status line -----------------------------------------------------------

namespace {
std::string Clock(double seconds) {
  if (seconds < 0) return "?";
  long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

std::string Bar(int done, int total) {
  const int cells = 20;
  int full = total > 0 ? done * cells / total : 0;
  return "[" + std::string(static_cast<size_t>(full), '#') + std::string(static_cast<size_t>(cells - full), '.') + "]";
}
}  // namespace

std::string FormatStatusLine(const std::string& format, const ProgressCounts& c) {
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 == format.size()) {
      out += format[i];
      continue;
    }
    switch (format[++i]) {
      case 'f': out += std::to_string(c.done); break;
      case 't': out += std::to_string(c.total); break;
      case 'r': out += std::to_string(c.running); break;
      case 'F': out += std::to_string(c.failed); break;
      case 'p': out += std::to_string(c.total > 0 ? c.done * 100 / c.total : 100) + "%"; break;
      case 'e': out += Clock(c.elapsed); break;
      case 'E': out += Clock(c.eta); break;
      case 'b': out += Bar(c.done, c.total); break;
      case '%': out += '%'; break;
      default: out += '%', out += format[i];
    }
  }
  return out;
}

void EtaEstimator::Plan(const std::vector<IterationReport>& its) {
  left_.clear();
  for (const IterationReport& r : its)
    if (r.status == IterationStatus::kPending) left_[r.target] = 0;
}

void EtaEstimator::Started(const std::string& target, double now) {
  auto it = left_.find(target);
  if (it != left_.end() && it->second == 0) it->second = now;
}

void EtaEstimator::Finished(const std::string& target, double seconds) {
  if (left_.erase(target) == 0) return;
  finished_seconds_ += seconds;
  ++finished_;
}

double EtaEstimator::Eta(double now, int running) const {
  const double mean = finished_ > 0 ? finished_seconds_ / finished_ : -1;
  double work = 0;
  for (const auto& [target, started] : left_) {
    auto p = past_.find(target);
    double estimate = p != past_.end() ? p->second : mean;
    if (estimate < 0) return -1;
    work += std::max(0.0, estimate - (started > 0 ? now - started : 0));
  }
  return work / std::max(1, running);
}

// ----- ConsoleProgress --------------------------------------------------------

ConsoleProgress::ConsoleProgress(FILE* out, bool smart, Verbosity verbosity, std::string format)
    : out_(out), smart_(smart), verbosity_(verbosity), format_(std::move(format)), t0_(NowSeconds()) {
  if (smart_ && verbosity_ != Verbosity::kQuiet) ticker_ = std::thread([this] { Tick(); });
}

ConsoleProgress::~ConsoleProgress() { Done(); }

bool ConsoleProgress::IsSmartTerminal(FILE* f) {
  const char* term = std::getenv("TERM");
  return isatty(fileno(f)) && term && std::string(term) != "dumb";
}

std::string ConsoleProgress::Stamp() const {
  char buf[32];
  snprintf(buf, sizeof buf, "[%7.2fs] ", NowSeconds() - t0_);
  return buf;
}

std::string ConsoleProgress::Error(const std::string& error, size_t max) const {
  return verbosity_ == Verbosity::kVerbose ? error : FirstLine(error, max);
}

// A line that scrolls: above the status line on a terminal.
void ConsoleProgress::Line(const std::string& text) {
  if (smart_ && shown_) fputs("\r\x1b[K", out_);
  shown_ = false;
  fputs((Stamp() + text + "\n").c_str(), out_);
  fflush(out_);
}

int ConsoleProgress::Busy() const {
  double busy = 0;
  for (const auto& [target, share] : running_) busy += share;
  return static_cast<int>(std::ceil(busy - 1e-9));
}

void ConsoleProgress::Redraw() {
  ProgressCounts c;
  c.total = total_;
  c.done = committed_ + failed_ + other_;
  c.running = static_cast<int>(running_.size());
  c.failed = failed_;
  const double now = NowSeconds();
  c.elapsed = now - t0_;
  c.eta = c.done == c.total ? 0 : eta_.Eta(now, std::max(Busy(), most_running_));
  fprintf(out_, "\r\x1b[K%s", FormatStatusLine(format_, c).c_str());
  fflush(out_);
  shown_ = true;
}

// Redraws the status line ten times a second until Done.
void ConsoleProgress::Tick() {
  MutexLock lock(&mu_);
  while (!done_) {
    cv_.WaitUntil(mu_, CondVar::After(0.1));
    if (!done_ && total_ > 0) Redraw();
  }
}

void ConsoleProgress::OnPlanned(const std::vector<IterationReport>& its) {
  MutexLock lock(&mu_);
  total_ = static_cast<int>(its.size());
  int skipped = 0;
  for (const auto& r : its) skipped += r.status == IterationStatus::kSkipped;
  other_ = skipped;
  eta_.Plan(its);
  std::string msg = "planned " + std::to_string(total_) + " iterations";
  if (skipped) msg += " (" + std::to_string(skipped) + " skipped: up to date or existing)";
  if (verbosity_ != Verbosity::kQuiet) Line(msg);
}

void ConsoleProgress::OnEstimates(const std::map<std::string, double>& past_seconds) {
  MutexLock lock(&mu_);
  eta_.SetPast(past_seconds);
}

void ConsoleProgress::OnStarted(const IterationReport& it) {
  MutexLock lock(&mu_);
  // A retry, or a fused batch's member run separately after its batch
  // failed, starts again: counted once, with its latest share.
  const bool fresh = !running_.count(it.target);
  const int fused = it.trace.empty() ? 0 : it.trace.back().fused;
  running_[it.target] = fused > 1 ? 1.0 / fused : 1.0;
  most_running_ = std::max(most_running_, Busy());
  if (fresh) eta_.Started(it.target, NowSeconds());
  bool show = smart_ ? verbosity_ == Verbosity::kVerbose : verbosity_ != Verbosity::kQuiet;
  if (show) Line("start  " + Named(it) + (it.attempts > 1 ? " attempt " + std::to_string(it.attempts) : ""));
}

void ConsoleProgress::OnRetry(const IterationReport& it, const std::string& error, double delay_s) {
  MutexLock lock(&mu_);
  char buf[64];
  snprintf(buf, sizeof buf, " (retry in %.1fs)", delay_s);
  if (verbosity_ != Verbosity::kQuiet) Line("retry  " + Named(it) + ": " + Error(error, 160) + buf);
}

void ConsoleProgress::OnFinished(const IterationReport& it) {
  MutexLock lock(&mu_);
  running_.erase(it.target);
  eta_.Finished(it.target, it.seconds());
  char buf[320];
  switch (it.status) {
    case IterationStatus::kCommitted:
      ++committed_;
      snprintf(buf, sizeof buf, "ok     %s  %lld rows  %s  %.2fs", Named(it).c_str(),
               static_cast<long long>(it.rows), FormatBytes(it.bytes).c_str(), it.seconds());
      if (verbosity_ != Verbosity::kQuiet) Line(buf);
      break;
    case IterationStatus::kFailed:
      ++failed_;
      Line("FAILED " + Named(it) + ": " + Error(it.error, 300));
      break;
    default: {
      ++other_;
      const std::string& why = it.status == IterationStatus::kSkipped ? it.skip_reason : it.error;
      if (verbosity_ != Verbosity::kQuiet)
        Line(std::string(ToString(it.status)) + " " + Named(it) + (why.empty() ? "" : ": " + why));
    }
  }
}

void ConsoleProgress::OnMessage(const std::string& line) {
  MutexLock lock(&mu_);
  if (verbosity_ != Verbosity::kQuiet || line.rfind("warning", 0) == 0) Line(line);
}

void ConsoleProgress::Done() {
  {
    MutexLock lock(&mu_);
    if (done_) return;
    done_ = true;
    if (smart_ && shown_) fputs("\r\x1b[K", out_);
    shown_ = false;
    fflush(out_);
  }
  cv_.SignalAll();
  if (ticker_.joinable()) ticker_.join();
}

// ----- LiveManifest ------------------------------------------------------------

namespace {
RunReport Running(RunReport report) {
  report.running = true;
  return report;
}
std::map<std::string, size_t> IndexByN(const RunReport& report) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < report.iterations.size(); ++i) index[report.iterations[i].n.ToString()] = i;
  return index;
}
}  // namespace

LiveManifest::LiveManifest(const RunReport& report, EventSink* next, Writer write, double interval_seconds)
    : next_(next),
      write_(std::move(write)),
      interval_(interval_seconds),
      snapshot_(Running(report)),
      index_(IndexByN(report)),
      thread_([this] { Loop(); }) {}

LiveManifest::~LiveManifest() { Stop(); }

void LiveManifest::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

void LiveManifest::Loop() {
  // A write costs about as much as the run has iterations (the whole
  // manifest is rebuilt): waiting 50 times as long as the last one took
  // keeps this thread near 2% of a core on large runs. `fanout status` finds
  // what committed since in the outputs' _SUCCESS.
  double wait = interval_;
  MutexLock lock(&mu_);
  while (!stop_) {
    const auto deadline = CondVar::After(wait);
    while (!stop_ && cv_.WaitUntil(mu_, deadline)) {
    }
    if (stop_ || !dirty_) continue;
    dirty_ = false;
    RunReport copy = snapshot_;
    lock.Unlock();
    const double started = NowSeconds();
    Status st = write_(ManifestOf(std::move(copy), started).ToJson());
    wait = std::max(interval_, 50 * (NowSeconds() - started));
    if (!st.ok() && !warned_ && next_) next_->OnMessage("warning: cannot update the run manifest: " + st.message());
    warned_ = warned_ || !st.ok();
    lock.Lock();
  }
}

void LiveManifest::OnPlanned(const std::vector<IterationReport>& iterations) {
  if (next_) next_->OnPlanned(iterations);
}
// A started iteration is in the next write too (pending, with its start and,
// on the MPI backend, its rank and host): a killed run's manifest names what
// was in flight.
void LiveManifest::OnStarted(const IterationReport& it) {
  {
    MutexLock lock(&mu_);
    auto pos = index_.find(it.n.ToString());
    if (pos != index_.end()) {
      IterationReport& entry = snapshot_.iterations[pos->second];
      entry.started_at = it.started_at;
      entry.attempts = it.attempts;
      entry.rank = it.rank;
      entry.host = it.host;
      dirty_ = true;
    }
  }
  if (next_) next_->OnStarted(it);
}
void LiveManifest::OnRetry(const IterationReport& it, const std::string& error, double delay_s) {
  if (next_) next_->OnRetry(it, error, delay_s);
}
void LiveManifest::OnMessage(const std::string& line) {
  if (next_) next_->OnMessage(line);
}

void LiveManifest::OnFinished(const IterationReport& it) {
  {
    MutexLock lock(&mu_);
    auto pos = index_.find(it.n.ToString());
    if (pos != index_.end()) {
      snapshot_.iterations[pos->second] = it;
      dirty_ = true;
    }
  }
  if (next_) next_->OnFinished(it);
}

}  // namespace fanout
