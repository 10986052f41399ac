#include "scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <thread>

#include "fakes.h"

namespace fanout {
namespace {

using test::FakeExecutor;
using test::Gate;
using test::RecordingEventSink;

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
  // The first two attempts wait for each other: they only get through if
  // they compute at once. The delay keeps the rest overlapping (load for the
  // upper bound; no outcome depends on it).
  Gate two_at_once(2);
  exec.behave = [&](const Iteration& it, int, Interrupter&) {
    if (it.index < 2 && !two_at_once.ArriveAndWait()) return Status::Failed("never two at once");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
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
  exec.Set("0", {.failures_before_success = 2, .failure = Status::Io("disk hiccup")});
  exec.Set("1", {.result = Status::Failed("Binder Error: column x not found")});
  RecordingEventSink events;
  SchedulerOptions opt;
  opt.workers = 2;
  opt.retries = 3;
  opt.backoff_seconds = 0.01;
  opt.events = &events;
  RunIterations(f.its, f.reports, f.order, exec, opt);
  EXPECT_EQ(events.Count("retry", "0"), 2);
  EXPECT_EQ(events.Count("retry", "1"), 0);
  EXPECT_EQ(events.Count("finished"), 2);
  EXPECT_EQ(f.reports[0].status, IterationStatus::kCommitted);
  EXPECT_EQ(f.reports[0].attempts, 3);
  EXPECT_EQ(f.reports[1].status, IterationStatus::kFailed);
  EXPECT_EQ(f.reports[1].attempts, 1);
  EXPECT_NE(f.reports[1].error.find("Binder"), std::string::npos);
}

TEST(Scheduler, TimeoutInterruptsOnlyTheSlowIteration) {
  Fixture f(3);
  FakeExecutor exec;
  exec.Set("1", {.until_interrupted = true});
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
    return test::WaitForInterrupt(stop);
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
    return test::WaitForInterrupt(stop);
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
  // The first attempts of the first three iterations wait until all three
  // compute at once, then fail as a crowded engine would; a retry (with the
  // engine nearly alone) succeeds.
  Gate crowded(3);
  exec.behave = [&](const Iteration& it, int attempt, Interrupter&) {
    if (attempt == 1 && it.index < 3) {
      if (!crowded.ArriveAndWait()) return Status::Failed("never three at once");
      return Status::OutOfMemory("Out of Memory Error: failed to allocate");
    }
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
  EXPECT_EQ(retried, 3);
}

TEST(Scheduler, OutOfMemoryHalvesTheIterationsComputingAtOnce) {
  Fixture f(12);
  FakeExecutor exec;
  std::atomic<bool> failed{false}, retried{false};
  std::atomic<int> peak_after{0};
  // The first four attempts wait until all four compute at once (every
  // worker used); then one fails with out-of-memory. The 30 ms of each
  // attempt keep the later ones overlapping (load for the bound after the
  // error; no outcome depends on it).
  Gate four_at_once(4);
  exec.behave = [&](const Iteration& it, int attempt, Interrupter&) {
    if (attempt == 1 && it.index < 4 && !four_at_once.ArriveAndWait()) return Status::Failed("never four at once");
    // From the retry on (the scheduler has seen the error by then).
    if (attempt == 2) retried = true;
    if (retried) test::RaiseTo(peak_after, exec.in_flight.load());
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    if (attempt == 1 && !failed.exchange(true)) return Status::OutOfMemory("Out of Memory Error: failed to allocate");
    return Status::Ok();
  };
  SchedulerOptions opt;
  opt.workers = 4;
  opt.backoff_seconds = 0.05;
  RunIterations(f.its, f.reports, f.order, exec, opt);
  EXPECT_EQ(f.Count(IterationStatus::kCommitted), 12);
  EXPECT_EQ(exec.max_in_flight.load(), 4);
  EXPECT_LE(peak_after.load(), 2) << "after an out-of-memory error at most workers / 2 compute at once";
}

TEST(Scheduler, AnIterationCommittingDoesNotHoldAWorker) {
  Fixture f(8);
  FakeExecutor exec;
  // The commit of the attempt started c-th waits until the attempt started
  // (c+2)-th computes (or every attempt has started): it only gets through
  // if the next iterations compute while it commits.
  std::atomic<bool> overtaken{true};
  exec.commit = [&](const Iteration&, int call) {
    int until = std::min(call + 2, 8);
    if (!test::WaitUntil([&] { return exec.calls.load() >= until; })) overtaken = false;
  };
  SchedulerOptions opt;
  opt.workers = 1;
  opt.committers = 3;
  RunIterations(f.its, f.reports, f.order, exec, opt);
  EXPECT_EQ(f.Count(IterationStatus::kCommitted), 8);
  EXPECT_EQ(exec.max_in_flight.load(), 1) << "max_workers bounds the engine work";
  EXPECT_GE(exec.max_attempts.load(), 3) << "while earlier iterations commit";
  EXPECT_TRUE(overtaken) << "a commit held the only worker: the next iteration did not compute meanwhile";
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
