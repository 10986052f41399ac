#include "scheduler.h"

#include <algorithm>
#include <random>
#include <thread>

#include "deps.h"
#include "util.h"

namespace fanout {

bool Interrupter::Arm(std::function<void()> fn) {
  MutexLock lock(&mu_);
  if (fired_) return false;
  fn_ = std::move(fn);
  return true;
}

void Interrupter::Disarm() {
  MutexLock lock(&mu_);
  fn_ = nullptr;
}

void Interrupter::Fire(const std::string& reason, ErrorKind kind) {
  MutexLock lock(&mu_);
  if (fired_) return;
  fired_ = true;
  reason_ = reason;
  kind_ = kind;
  if (fn_) fn_();
}

bool Interrupter::fired() const {
  MutexLock lock(&mu_);
  return fired_;
}

std::string Interrupter::reason() const {
  MutexLock lock(&mu_);
  return reason_;
}

Status Interrupter::why() const {
  MutexLock lock(&mu_);
  return Status::Interrupted(reason_).WithKind(kind_);
}

int AutoWorkers(int cores, int iterations) { return std::max(1, std::min(iterations, std::max(2, cores))); }

int AutoThreads(int cores, int workers, int iterations) {
  if (iterations >= 8 * workers) return std::max(1, cores - workers + 1);
  return cores;
}

namespace {

class Pool {
 public:
  Pool(const std::vector<Iteration>& its, std::vector<IterationReport>& reports, const std::vector<size_t>& order,
       IterationExecutor& exec, const SchedulerOptions& opt)
      : its_(its),
        reports_(reports),
        exec_(exec),
        opt_(opt),
        threads_(static_cast<size_t>(opt.workers + opt.committers)),
        slots_(threads_),
        gate_(its, reports, order, [this] { return Cancelled(); }),
        allowed_(opt.workers) {}

  bool Run() {
    std::vector<std::thread> threads;
    for (size_t t = 0; t < threads_; ++t) threads.emplace_back([this, t] { Work(t); });
    std::thread watchdog([this] { Watch(); });
    for (auto& t : threads) t.join();
    {
      MutexLock lock(&mu_);
      done_ = true;
    }
    cv_.SignalAll();
    watchdog.join();
    return Cancelled();
  }

 private:
  struct Slot {  // both guarded by mu_, as slots_ is
    Interrupter* stop = nullptr;
    double deadline = 0;
  };

  bool Cancelled() const { return (opt_.cancel && opt_.cancel->load()) || stopping_.load(); }
  const char* NotStarted() const {
    return stopping_ ? "not started: on_failure: stop" : "not started: cancelled";
  }

  // Every thread takes the next iteration once it has a compute slot (so
  // iterations start in the run's order, each once its dependencies have
  // committed); at most `allowed_` compute at once, the
  // other threads commit what they computed or wait for a slot.
  void Work(size_t t) {
    for (;;) {
      const double queued = NowSeconds();
      bool room = WaitForRoom();  // false: cancelled
      if (opt_.next) {  // pulled: what is never handed out is the caller's to report
        std::optional<size_t> got = room && !Cancelled() ? opt_.next() : std::nullopt;
        if (!got) {
          if (room) Leave();
          return;
        }
        RunOne(t, *got, queued);
        continue;
      }
      size_t i = 0;
      std::string skip;
      // The next iteration whose dependencies (after:) have committed.
      const DependencyGate::Take take = gate_.Next(&i, &skip);
      if (take != DependencyGate::Take::kRun && room) Leave();
      if (take == DependencyGate::Take::kNone) return;
      if (take == DependencyGate::Take::kSkip) {
        Finish(i, IterationStatus::kSkipped, skip);
        continue;
      }
      if (!room || Cancelled()) {
        if (room) Leave();
        Finish(i, IterationStatus::kCancelled, NotStarted());
        continue;
      }
      RunOne(t, i, queued);
    }
  }

  // Admission: at most `allowed_` attempts computing (`workers`, lowered
  // after an out-of-memory error). False when the run was cancelled first.
  bool WaitForRoom() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    while (computing_ >= allowed_ && !Cancelled()) room_.Wait(mu_);
    if (Cancelled()) return false;
    ++computing_;
    return true;
  }
  void Leave() EXCLUDES(mu_) {
    {
      MutexLock lock(&mu_);
      --computing_;
    }
    room_.Signal();
  }

  // An iteration that ran out of memory halves the iterations computing at
  // once and gets one more attempt, even with retries: 0.
  bool BackOffForMemory(const Status& st, int attempt) EXCLUDES(mu_) {
    if (st.kind() != ErrorKind::kOutOfMemory || attempt > opt_.retries + 1) return false;
    MutexLock lock(&mu_);
    allowed_ = std::max(1, allowed_ / 2);
    return true;
  }

  // One attempt's trace entry, opened when it gets its compute slot.
  AttemptTrace& Open(IterationReport& r, size_t t, int attempt, double queued) {
    AttemptTrace a;
    a.attempt = attempt;
    a.worker = static_cast<int>(t);
    a.queued = queued;
    a.started = NowSeconds();
    r.trace.push_back(std::move(a));
    return r.trace.back();
  }

  // Runs one attempt under a stop that the watchdog can fire.
  struct Outcome {
    Status st;
    bool timed_out = false, memory = false, cancelled = false;
    std::string error;  // timed out: the scheduler's reason; else st's message
  };
  Outcome Attempt(size_t t, size_t i, int attempt) EXCLUDES(mu_) {
    Outcome o;
    Interrupter stop;
    {
      MutexLock lock(&mu_);
      slots_[t].stop = &stop;
      slots_[t].deadline = opt_.timeout_seconds > 0 ? NowSeconds() + opt_.timeout_seconds : 0;
    }
    if (Cancelled()) stop.Fire("cancelled");
    ComputeSlot compute([this] { Leave(); });
    o.st = exec_.RunAttempt(its_[i], attempt, stop, compute, reports_[i]);
    // The scheduler's own timer says whether it timed out, whatever the executor returned.
    o.timed_out = stop.fired() && stop.why().kind() == ErrorKind::kTimeout;
    // Lowered before this slot frees up, so nothing new starts at the old limit.
    o.memory = !o.st.ok() && !o.timed_out && BackOffForMemory(o.st, attempt);
    compute.Release();
    {
      MutexLock lock(&mu_);
      slots_[t].stop = nullptr;
    }
    o.cancelled = stop.fired() && !o.timed_out;
    o.error = o.timed_out ? stop.reason() : o.st.message();
    return o;
  }

  void RunOne(size_t t, size_t i, double queued) EXCLUDES(mu_) {
    IterationReport& r = reports_[i];
    for (int attempt = 1;; ++attempt) {
      // The first attempt got its compute slot in Work.
      if (attempt > 1 && !WaitForRoom()) return Finish(i, IterationStatus::kCancelled, "cancelled before retry");
      if (attempt == 1) r.started_at = NowSeconds();
      r.attempts = attempt;
      Open(r, t, attempt, queued);
      if (opt_.events) opt_.events->OnStarted(r);
      Outcome o = Attempt(t, i, attempt);
      AttemptTrace& a = r.trace.back();
      a.finished = NowSeconds();
      if (o.st.ok()) return Finish(i, IterationStatus::kCommitted, "");
      a.error = o.cancelled ? kCancelledWhileRunning : o.error;
      if (o.cancelled) return Finish(i, IterationStatus::kCancelled, kCancelledWhileRunning);
      bool transient = o.timed_out || o.st.kind() == ErrorKind::kTransientIo;
      if (!o.memory && (!transient || attempt > opt_.retries || Cancelled())) {
        if (opt_.stop_on_failure) stopping_ = true;
        return Finish(i, IterationStatus::kFailed, o.error);
      }
      a.status = "retried";
      a.retry_reason = o.memory ? "out of memory" : o.timed_out ? "timeout" : "transient I/O";
      double delay = Backoff(attempt);
      if (opt_.events) opt_.events->OnRetry(r, o.error, delay);
      if (!SleepUnlessCancelled(delay)) return Finish(i, IterationStatus::kCancelled, "cancelled before retry");
      queued = NowSeconds();
    }
  }

  // Exponential backoff with full jitter in [base/2, base].
  double Backoff(int attempt) EXCLUDES(mu_) {
    double base = opt_.backoff_seconds * static_cast<double>(1 << std::min(attempt - 1, 10));
    MutexLock lock(&mu_);
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    return base * jitter(rng_);
  }

  bool SleepUnlessCancelled(double seconds) EXCLUDES(mu_) {
    const auto deadline = CondVar::After(seconds);
    MutexLock lock(&mu_);
    while (!Cancelled() && cv_.WaitUntil(mu_, deadline)) {
    }
    return !Cancelled();
  }

  void Finish(size_t i, IterationStatus status, const std::string& error) {
    IterationReport& r = reports_[i];
    r.status = status;
    (status == IterationStatus::kSkipped ? r.skip_reason : r.error) = error;
    if (!r.trace.empty() && r.trace.back().status.empty()) {
      AttemptTrace& a = r.trace.back();
      a.status = ToString(status);
      if (status == IterationStatus::kCommitted) a.rows = r.rows, a.bytes = r.bytes, a.files = r.files;
    }
    if (r.started_at == 0) r.started_at = NowSeconds();
    r.finished_at = NowSeconds();
    if (opt_.events) opt_.events->OnFinished(r);
    gate_.Done(i, status);
    if (stopping_) {
      cv_.SignalAll();
      room_.SignalAll();
    }
  }

  // Fires timeouts and cancellation into running attempts.
  void Watch() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    while (!done_) {
      cv_.WaitUntil(mu_, CondVar::After(0.020));
      bool cancel = Cancelled();
      if (cancel) {  // wake sleeping retries and those waiting for room
        cv_.SignalAll();
        room_.SignalAll();
      }
      double now = NowSeconds();
      for (Slot& s : slots_) {
        if (!s.stop) continue;
        if (cancel) {
          s.stop->Fire("cancelled");
        } else if (s.deadline > 0 && now > s.deadline) {
          char msg[96];
          snprintf(msg, sizeof msg, "timed out after %gs (run.timeout)", opt_.timeout_seconds);
          s.stop->Fire(msg, ErrorKind::kTimeout);
        }
      }
    }
  }

  const std::vector<Iteration>& its_;
  std::vector<IterationReport>& reports_;
  IterationExecutor& exec_;
  const SchedulerOptions& opt_;
  const size_t threads_;  // one slot each
  std::atomic<bool> stopping_{false};
  Mutex mu_;
  CondVar cv_;    // the run is done, or cancelled or stopping
  CondVar room_;  // computing_ went down, or the run stops
  std::vector<Slot> slots_ GUARDED_BY(mu_);
  DependencyGate gate_;
  bool done_ GUARDED_BY(mu_) = false;
  int computing_ GUARDED_BY(mu_) = 0;
  int allowed_ GUARDED_BY(mu_);
  std::mt19937 rng_ GUARDED_BY(mu_){std::random_device{}()};
};

}  // namespace

bool RunIterations(const std::vector<Iteration>& iterations, std::vector<IterationReport>& reports,
                   const std::vector<size_t>& order, IterationExecutor& executor, const SchedulerOptions& options) {
  if (order.empty()) return options.cancel && options.cancel->load();
  SchedulerOptions opt = options;
  int n = static_cast<int>(order.size());
  opt.workers = std::max(1, std::min(opt.workers, n));
  opt.committers = std::max(0, std::min(opt.committers, n - opt.workers));
  Pool pool(iterations, reports, order, executor, opt);
  return pool.Run();
}

int ChooseWorkers(int option, int spec_workers, int cores, int pending) {
  int workers = option > 0 ? option : spec_workers > 0 ? spec_workers : AutoWorkers(cores, pending);
  return std::min(workers, std::max(1, pending));
}

int ChooseThreads(int spec_threads, int cores, int workers, int pending) {
  return spec_threads > 0 ? spec_threads : AutoThreads(cores, workers, pending);
}

}  // namespace fanout
