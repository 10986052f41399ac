#include "scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <thread>

namespace fanout {
namespace {

// A fake executor: behaviour per n, records concurrency.
class FakeExecutor : public IterationExecutor {
 public:
  std::function<Status(const Iteration&, int attempt, Interrupter&)> behave;
  // When set: runs after behave() released the compute slot (a commit).
  std::function<void()> commit;
  std::atomic<int> in_flight{0}, max_in_flight{0}, calls{0};
  std::atomic<int> attempts{0}, max_attempts{0};  // computing or committing

  static void Raise(std::atomic<int>& peak, int now) {
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
  }

  Status RunAttempt(const Iteration& it, int attempt, Interrupter& stop, ComputeSlot& slot,
                    IterationReport& report) override {
    Raise(max_attempts, ++attempts);
    Raise(max_in_flight, ++in_flight);
    ++calls;
    Status st = behave(it, attempt, stop);
    --in_flight;
    if (commit) {
      slot.Release();
      commit();
    }
    if (st.ok()) report.rows = 1;
    --attempts;
    return st;
  }
};

// Blocks until interrupted, like a long query.
Status WaitForInterrupt(Interrupter& stop) {
  std::mutex mu;
  std::condition_variable cv;
  bool fired = false;
  if (!stop.Arm([&] {
        std::lock_guard<std::mutex> l(mu);
        fired = true;
        cv.notify_all();
      }))
    return Status::Interrupted(stop.reason());
  std::unique_lock<std::mutex> l(mu);
  cv.wait_for(l, std::chrono::seconds(30), [&] { return fired; });
  l.unlock();
  stop.Disarm();
  return Status::Interrupted("interrupted");
}

struct Fixture {
  std::vector<Iteration> its;
  std::vector<IterationReport> reports;
  std::vector<size_t> order;
  explicit Fixture(int n) {
    for (int i = 0; i < n; ++i) {
      Iteration it;
      it.index = i;
      it.n = Value(i);
      it.key = std::to_string(i);
      its.push_back(it);
      IterationReport r;
      r.n = it.n;
      reports.push_back(r);
      order.push_back(i);
    }
  }
  int Count(IterationStatus s) const {
    int c = 0;
    for (const auto& r : reports) c += r.status == s;
    return c;
  }
};

TEST(Scheduler, BarrierAndBoundedConcurrency) {
  Fixture f(20);
  FakeExecutor exec;
  exec.behave = [](const Iteration&, int, Interrupter&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return Status::Ok();
  };
  SchedulerOptions opt;
  opt.workers = 4;
  RunIterations(f.its, f.reports, f.order, exec, opt);
  EXPECT_EQ(f.Count(IterationStatus::kCommitted), 20);  // all done when it returns
  EXPECT_LE(exec.max_in_flight.load(), 4);
  EXPECT_GE(exec.max_in_flight.load(), 2);
  for (const auto& r : f.reports) EXPECT_GE(r.finished_at, r.started_at);
}

TEST(Scheduler, TransientErrorsAreRetriedPermanentOnesAreNot) {
  Fixture f(2);
  FakeExecutor exec;
  exec.behave = [](const Iteration& it, int attempt, Interrupter&) {
    if (it.key == "0") return attempt < 3 ? Status::Io("disk hiccup") : Status::Ok();
    return Status::Failed("Binder Error: column x not found");
  };
  SchedulerOptions opt;
  opt.workers = 2;
  opt.retries = 3;
  opt.backoff_seconds = 0.01;
  RunIterations(f.its, f.reports, f.order, exec, opt);
  EXPECT_EQ(f.reports[0].status, IterationStatus::kCommitted);
  EXPECT_EQ(f.reports[0].attempts, 3);
  EXPECT_EQ(f.reports[1].status, IterationStatus::kFailed);
  EXPECT_EQ(f.reports[1].attempts, 1);
  EXPECT_NE(f.reports[1].error.find("Binder"), std::string::npos);
}

TEST(Scheduler, TimeoutInterruptsOnlyTheSlowIteration) {
  Fixture f(3);
  FakeExecutor exec;
  exec.behave = [](const Iteration& it, int, Interrupter& stop) {
    if (it.key == "1") return WaitForInterrupt(stop);
    return Status::Ok();
  };
  SchedulerOptions opt;
  opt.workers = 3;
  opt.timeout_seconds = 0.2;
  RunIterations(f.its, f.reports, f.order, exec, opt);
  EXPECT_EQ(f.reports[1].status, IterationStatus::kFailed);
  EXPECT_NE(f.reports[1].error.find("timed out"), std::string::npos);
  EXPECT_EQ(f.Count(IterationStatus::kCommitted), 2);
}

TEST(Scheduler, CancelInterruptsRunningAndSkipsTheRest) {
  Fixture f(10);
  FakeExecutor exec;
  std::atomic<bool> cancel{false};
  exec.behave = [&](const Iteration&, int, Interrupter& stop) {
    cancel = true;  // the first iteration to start cancels the run
    return WaitForInterrupt(stop);
  };
  SchedulerOptions opt;
  opt.workers = 2;
  opt.cancel = &cancel;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(RunIterations(f.its, f.reports, f.order, exec, opt));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(f.Count(IterationStatus::kCancelled), 10);
  EXPECT_LE(exec.calls.load(), 2);
}

TEST(Scheduler, StopOnFailureCancelsTheRest) {
  Fixture f(6);
  FakeExecutor exec;
  exec.behave = [](const Iteration& it, int, Interrupter& stop) {
    if (it.key == "0") return Status::Failed("boom");
    return WaitForInterrupt(stop);
  };
  SchedulerOptions opt;
  opt.workers = 2;
  opt.stop_on_failure = true;
  RunIterations(f.its, f.reports, f.order, exec, opt);
  EXPECT_EQ(f.reports[0].status, IterationStatus::kFailed);
  EXPECT_EQ(f.Count(IterationStatus::kCancelled), 5);
}

}  // namespace
}  // namespace fanout

namespace fanout {
namespace {

TEST(Scheduler, OutOfMemoryRetriesOnceWithFewerInFlight) {
  Fixture f(8);
  FakeExecutor exec;
  exec.behave = [&](const Iteration&, int attempt, Interrupter&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    // Fails while crowded, succeeds when it has the engine (nearly) alone.
    if (exec.in_flight.load() > 2 && attempt == 1)
      return Status::OutOfMemory("Out of Memory Error: failed to allocate");
    return Status::Ok();
  };
  SchedulerOptions opt;
  opt.workers = 4;
  opt.retries = 0;
  opt.backoff_seconds = 0.01;
  RunIterations(f.its, f.reports, f.order, exec, opt);
  EXPECT_EQ(f.Count(IterationStatus::kCommitted), 8);
  int retried = 0;
  for (const auto& r : f.reports) retried += r.attempts == 2;
  EXPECT_GE(retried, 1);
}

TEST(Scheduler, OutOfMemoryHalvesTheIterationsComputingAtOnce) {
  Fixture f(12);
  FakeExecutor exec;
  std::atomic<bool> failed{false}, retried{false};
  std::atomic<int> peak_after{0};
  exec.behave = [&](const Iteration&, int attempt, Interrupter&) {
    // From the retry on (the scheduler has seen the error by then).
    if (attempt == 2) retried = true;
    if (retried) FakeExecutor::Raise(peak_after, exec.in_flight.load());
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    if (attempt == 1 && !failed.exchange(true)) return Status::OutOfMemory("Out of Memory Error: failed to allocate");
    return Status::Ok();
  };
  SchedulerOptions opt;
  opt.workers = 4;
  opt.backoff_seconds = 0.05;  // the others drain meanwhile
  RunIterations(f.its, f.reports, f.order, exec, opt);
  EXPECT_EQ(f.Count(IterationStatus::kCommitted), 12);
  EXPECT_EQ(exec.max_in_flight.load(), 4);
  EXPECT_LE(peak_after.load(), 2) << "after an out-of-memory error at most workers / 2 compute at once";
}

TEST(Scheduler, AnIterationCommittingDoesNotHoldAWorker) {
  Fixture f(8);
  FakeExecutor exec;
  exec.behave = [](const Iteration&, int, Interrupter&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return Status::Ok();
  };
  exec.commit = [] { std::this_thread::sleep_for(std::chrono::milliseconds(100)); };
  SchedulerOptions opt;
  opt.workers = 1;
  opt.committers = 3;
  auto t0 = std::chrono::steady_clock::now();
  RunIterations(f.its, f.reports, f.order, exec, opt);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(f.Count(IterationStatus::kCommitted), 8);
  EXPECT_EQ(exec.max_in_flight.load(), 1) << "max_workers bounds the engine work";
  EXPECT_GE(exec.max_attempts.load(), 3) << "while earlier iterations commit";
  EXPECT_LT(took, std::chrono::milliseconds(8 * 120)) << "commits overlapped the engine work";
}

}  // namespace
}  // namespace fanout

namespace fanout {
namespace {

TEST(AutoSettings, WorkersFillTheCoresAndAtLeastTwo) {
  EXPECT_EQ(AutoWorkers(2, 9), 2);
  EXPECT_EQ(AutoWorkers(16, 9), 9) << "never more workers than iterations";
  EXPECT_EQ(AutoWorkers(1, 5), 2) << "one commits while the other computes";
  EXPECT_EQ(AutoWorkers(8, 0), 1);
}

TEST(AutoSettings, ThreadsLeaveManyIterationsOneQueryPerCore) {
  // Many iterations per worker: workers + engine threads - 1 = cores.
  EXPECT_EQ(AutoThreads(2, 2, 64), 1);
  EXPECT_EQ(AutoThreads(16, 4, 64), 13);
  EXPECT_EQ(AutoThreads(16, 16, 200), 1);
  EXPECT_EQ(AutoThreads(2, 8, 64), 1) << "more workers than cores: still at least one thread";
  // Few iterations (the last ones run alone) or one worker: every core.
  EXPECT_EQ(AutoThreads(2, 2, 9), 2);
  EXPECT_EQ(AutoThreads(16, 16, 64), 16);
  EXPECT_EQ(AutoThreads(2, 1, 64), 2);
}

}  // namespace
}  // namespace fanout
