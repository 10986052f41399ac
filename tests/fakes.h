// Fakes the unit tests share: an IterationExecutor whose attempts do what the
// test says (succeed, fail, fail a number of times first, take a while, wait
// for an event or for an interrupt), a recording EventSink, and the events
// tests wait on instead of sleeping (Gate, WaitUntil).
//
// Not here yet: an in-memory output store and a fake backend. The engineer
// who adds those interfaces (issue #12) adds their fakes below, in the
// section "output store and backend".
//
// Header-only: CMake compiles tests/*_test.cc and src/*_test.cc only.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend.h"
#include "fanout/fanout.h"
#include "fanout/store.h"
#include "scheduler.h"
#include "util.h"

namespace fanout::test {

// How long a test waits for something that should happen at once: long
// enough never to decide an outcome on a loaded machine, short enough that a
// hang fails the test instead of the suite's timeout.
inline constexpr std::chrono::seconds kEventDeadline{30};

// Polls `ready` until it holds or `deadline` passes; returns whether it held.
// For states no one can signal (a file that appears, a counter).
inline bool WaitUntil(const std::function<bool()>& ready, std::chrono::milliseconds deadline = kEventDeadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Raises `peak` to `now` if that is higher (a high-water mark).
inline void RaiseTo(std::atomic<int>& peak, int now) {
  int seen = peak.load();
  while (now > seen && !peak.compare_exchange_weak(seen, now)) {
  }
}

// A countdown latch: Arrive() counts, Wait() returns once `count` arrived (or
// the deadline passed: false). Open() lets every waiter through at once.
class Gate {
 public:
  explicit Gate(int count = 1) : left_(count) {}
  void Arrive() {
    std::lock_guard<std::mutex> lock(mu_);
    if (left_ > 0 && --left_ == 0) cv_.notify_all();
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    left_ = 0;
    cv_.notify_all();
  }
  bool Wait(std::chrono::milliseconds deadline = kEventDeadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, deadline, [this] { return left_ == 0; });
  }
  bool ArriveAndWait(std::chrono::milliseconds deadline = kEventDeadline) {
    Arrive();
    return Wait(deadline);
  }
  bool open() const {
    std::lock_guard<std::mutex> lock(mu_);
    return left_ == 0;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int left_;  // GUARDED_BY(mu_)
};

// Blocks until `stop` fires, like a long query (at most kEventDeadline).
inline Status WaitForInterrupt(Interrupter& stop) {
  Gate fired;
  if (!stop.Arm([&fired] { fired.Open(); })) return Status::Interrupted(stop.reason());
  fired.Wait();
  stop.Disarm();
  return Status::Interrupted("interrupted");
}

// An IterationExecutor with no engine. Each attempt does what its Outcome
// says (per iteration key; `fallback` for the others), or what `behave`
// returns when that is set. Counts attempts and records the peaks.
class FakeExecutor : public IterationExecutor {
 public:
  struct Outcome {
    Status result = Status::Ok();        // what the attempt returns in the end
    int failures_before_success = 0;     // the first attempts return `failure` instead
    Status failure = Status::Io("transient failure");
    std::chrono::milliseconds delay{0};  // "computing" takes this long (load, not order)
    Gate* wait_for = nullptr;            // computing waits for this event first
    bool until_interrupted = false;      // computing blocks until interrupted
  };

  // When set, decides every attempt instead of the outcomes.
  std::function<Status(const Iteration&, int attempt, Interrupter&)> behave;
  // When set: runs after a successful computation released the compute slot
  // (a commit); gets the attempt's number among all calls (1-based).
  std::function<void(const Iteration&, int call)> commit;
  Outcome fallback;

  void Set(const std::string& key, Outcome o) {
    std::lock_guard<std::mutex> lock(mu_);
    outcomes_[key] = std::move(o);
  }

  std::atomic<int> in_flight{0}, max_in_flight{0};  // computing
  std::atomic<int> attempts{0}, max_attempts{0};    // computing or committing
  std::atomic<int> calls{0};                        // attempts started

  Status RunAttempt(const Iteration& it, int attempt, Interrupter& stop, ComputeSlot& slot,
                    IterationReport& report) override {
    RaiseTo(max_attempts, ++attempts);
    RaiseTo(max_in_flight, ++in_flight);
    int call = ++calls;
    Status st = behave ? behave(it, attempt, stop) : Compute(it, attempt, stop);
    --in_flight;
    if (commit && st.ok()) {
      slot.Release();
      commit(it, call);
    }
    if (st.ok()) report.rows = 1;
    --attempts;
    return st;
  }

 private:
  Status Compute(const Iteration& it, int attempt, Interrupter& stop) {
    Outcome o = OutcomeOf(it.key);
    if (o.wait_for && !o.wait_for->Wait()) return Status::Failed("fake: the awaited event never came");
    if (o.delay.count() > 0) std::this_thread::sleep_for(o.delay);
    if (o.until_interrupted) return WaitForInterrupt(stop);
    if (attempt <= o.failures_before_success) return o.failure;
    return o.result;
  }
  Outcome OutcomeOf(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto found = outcomes_.find(key);
    return found == outcomes_.end() ? fallback : found->second;
  }

  std::mutex mu_;
  std::map<std::string, Outcome> outcomes_;  // GUARDED_BY(mu_)
};

// An EventSink that records every event, in order; thread-safe.
class RecordingEventSink : public EventSink {
 public:
  struct Event {
    std::string kind;  // planned, started, retry, finished, message
    std::string n;     // the iteration's n as text ("" for planned and message)
    IterationStatus status = IterationStatus::kPending;
    std::string text;  // the error of a retry or a finished iteration; a message's line
  };

  void OnPlanned(const std::vector<IterationReport>& iterations) override {
    Add({"planned", "", IterationStatus::kPending, std::to_string(iterations.size())});
  }
  void OnStarted(const IterationReport& it) override { Add({"started", it.n.ToString(), it.status, ""}); }
  void OnRetry(const IterationReport& it, const std::string& error, double) override {
    Add({"retry", it.n.ToString(), it.status, error});
  }
  void OnFinished(const IterationReport& it) override { Add({"finished", it.n.ToString(), it.status, it.error}); }
  void OnMessage(const std::string& line) override { Add({"message", "", IterationStatus::kPending, line}); }

  std::vector<Event> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  // How many events of `kind` (for iteration `n`, unless empty).
  int Count(const std::string& kind, const std::string& n = "") const {
    std::lock_guard<std::mutex> lock(mu_);
    int c = 0;
    for (const auto& e : events_) c += e.kind == kind && (n.empty() || e.n == n);
    return c;
  }
  // Waits until Count(kind, n) >= count; false after the deadline.
  bool WaitFor(const std::string& kind, int count, const std::string& n = "",
               std::chrono::milliseconds deadline = kEventDeadline) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, deadline, [&] {
      int c = 0;
      for (const auto& e : events_) c += e.kind == kind && (n.empty() || e.n == n);
      return c >= count;
    });
  }

 private:
  void Add(Event e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(std::move(e));
    }
    cv_.notify_all();
  }

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<Event> events_;  // GUARDED_BY(mu_)
};

// ----- output store and backend -------------------------------------------

// An OutputStore that keeps every output, marker and run file in memory —
// the shape of an object store: no rename, no exchange; a published output
// is its files' bytes plus its marker, replaced as a whole. The engine
// still writes each attempt into a real local folder (Stage), which Publish
// reads and removes. `fail_publish` makes the publish of those targets fail.
class InMemoryStore : public OutputStore {
 public:
  struct Output {
    Marker marker;
    std::map<std::string, std::string> files;  // name -> bytes
  };

  InMemoryStore(std::string location, std::string scratch_root)
      : location_(std::move(location)), scratch_(std::move(scratch_root)) {}

  std::set<std::string> fail_publish;  // set before the run

  const std::string& location() const override { return location_; }

  TargetState Inspect(const std::string& target) override {
    std::lock_guard<std::mutex> lock(mu_);
    TargetState s;
    auto o = outputs_.find(target);
    if (o == outputs_.end()) return s;
    s.kind = TargetState::Kind::kOurs;
    s.marker = o->second.marker;
    return s;
  }
  std::string Verify(const std::string& target, const Marker& marker, bool) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto o = outputs_.find(target);
    if (o == outputs_.end()) return "missing";
    for (const MarkerFile& f : marker.files) {
      auto file = o->second.files.find(f.name);
      if (file == o->second.files.end()) return f.name + ": missing";
      if (static_cast<int64_t>(file->second.size()) != f.bytes) return f.name + ": other size";
    }
    return "";
  }
  Result<std::vector<std::string>> ListTargets() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> names;
    for (const auto& [name, _] : outputs_) names.push_back(name);
    return names;
  }
  Result<std::vector<std::string>> ListRuns() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> ids;
    for (const auto& [name, _] : run_files_)
      if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) ids.push_back(name.substr(0, name.size() - 5));
    return ids;
  }
  Result<std::string> ReadRunFile(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto f = run_files_.find(name);
    if (f == run_files_.end()) return Status::Io("not found: " + name);
    return f->second;
  }
  std::string RunFileLocation(const std::string& name) const override { return location_ + " (memory): " + name; }
  Result<bool> LockHeld() override {
    std::lock_guard<std::mutex> lock(mu_);
    return locked_;
  }
  Status CheckLocation(const JobSpec&) override { return Status::Ok(); }
  Status CheckLayout() override { return Status::Ok(); }
  Status CreateLayout() override { return Status::Ok(); }
  Result<std::unique_ptr<OutputLock>> Lock(const std::string& holder) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (locked_) return Status::Busy("held by " + holder_);
    locked_ = true;
    holder_ = holder;
    return std::unique_ptr<OutputLock>(std::make_unique<Held>(this));
  }
  Status WriteRunFile(const std::string& name, const std::string& data) override {
    std::lock_guard<std::mutex> lock(mu_);
    run_files_[name] = data;
    return Status::Ok();
  }
  Status BeginRun(const std::string& run_id) override {
    std::filesystem::create_directories(scratch_ + "/" + run_id);
    run_id_ = run_id;
    return Status::Ok();
  }
  std::string ScratchDir(const std::string& run_id) const override { return scratch_ + "/" + run_id + "/spill"; }
  Result<StagedAttempt> Stage(const std::string& target, int attempt) override {
    std::string dir = scratch_ + "/" + run_id_ + "/" + target + "." + std::to_string(attempt);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return StagedAttempt{target, attempt, dir};
  }
  Result<Marker> Publish(const StagedAttempt& staged, Marker marker, const std::string&) override {
    Output out;
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(staged.dir)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    for (size_t i = 0; i < names.size(); ++i) {
      std::ifstream in(staged.dir + "/" + names[i], std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::string name = "part-0000" + std::to_string(i) + names[i].substr(names[i].find('.'));
      marker.files.push_back(MarkerFile{name, static_cast<int64_t>(bytes.size()), "0", "", ""});
      marker.bytes += static_cast<int64_t>(bytes.size());
      out.files[name] = std::move(bytes);
    }
    std::filesystem::remove_all(staged.dir);
    if (fail_publish.count(staged.target)) return Status::Io("injected: the store refused " + staged.target);
    out.marker = marker;
    std::lock_guard<std::mutex> lock(mu_);
    outputs_[staged.target] = std::move(out);  // replaced as a whole
    ++publishes_;
    return marker;
  }
  void Discard(const StagedAttempt& staged) override { std::filesystem::remove_all(staged.dir); }
  Status EndRun() override {
    std::filesystem::remove_all(scratch_ + "/" + run_id_);
    return Status::Ok();
  }

  std::map<std::string, Output> outputs() const {
    std::lock_guard<std::mutex> lock(mu_);
    return outputs_;
  }
  int publishes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return publishes_;
  }

 private:
  class Held : public OutputLock {
   public:
    explicit Held(InMemoryStore* s) : s_(s) {}
    ~Held() override {
      std::lock_guard<std::mutex> lock(s_->mu_);
      s_->locked_ = false;
    }

   private:
    InMemoryStore* s_;
  };

  const std::string location_, scratch_;
  std::string run_id_;  // between BeginRun and EndRun
  mutable std::mutex mu_;
  std::map<std::string, Output> outputs_;        // GUARDED_BY(mu_)
  std::map<std::string, std::string> run_files_;  // GUARDED_BY(mu_)
  bool locked_ = false;                           // GUARDED_BY(mu_)
  std::string holder_;                            // GUARDED_BY(mu_)
  int publishes_ = 0;                             // GUARDED_BY(mu_)
};

// A backend that runs nothing on the engine: each pending iteration gets the
// outcome `outcome(n)` decides (committed or failed with a message), its
// event sink called as the scheduler would. Records what it was given.
class FakeBackend : public Backend {
 public:
  using Outcome = std::function<IterationStatus(const Iteration&, std::string* error)>;
  explicit FakeBackend(Outcome outcome) : outcome_(std::move(outcome)) {}

  bool Run(const std::vector<Iteration>& iterations, std::vector<IterationReport>& reports,
           const std::vector<size_t>& order, const SchedulerOptions& options) override {
    for (size_t i : order) {
      IterationReport& r = reports[i];
      if (r.status != IterationStatus::kPending) continue;
      given.push_back(iterations[i].key);
      r.started_at = NowSeconds();
      if (options.events) options.events->OnStarted(r);
      r.attempts = 1;
      r.status = outcome_(iterations[i], &r.error);
      r.finished_at = NowSeconds();
      if (options.events) options.events->OnFinished(r);
    }
    return false;
  }

  std::vector<std::string> given;  // n of each iteration it ran, in order

 private:
  Outcome outcome_;
};

}  // namespace fanout::test
