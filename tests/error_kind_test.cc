// Errors are told apart by their kind, never by their text: the real engine's
// out-of-memory, catalog, I/O and interrupt errors, the scheduler's own
// timeout, and what a run does with each (retry, back off, fail).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "engine.h"
#include "fanout/fanout.h"
#include "scheduler.h"
#include "temp_dir.h"

namespace fanout {
namespace {

// A list of 20 million BIGINTs (160 MB) in one value: the engine cannot spill
// it, so it needs more than a 64 MB memory_limit.
constexpr char kNeedsMoreMemory[] = "SELECT len(list(range)) AS n FROM range(20000000)";
// Minutes of work, stopped only by an interrupt (as iteration 1 of the job below).
constexpr char kSlow[] = "SELECT count(*) AS n FROM range(10000000000)";

TEST(ErrorKind, EachCodeHasADefaultKindAndAPrefixKeepsIt) {
  EXPECT_EQ(Status::Ok().kind(), ErrorKind::kNone);
  EXPECT_EQ(Status::Io("disk").kind(), ErrorKind::kTransientIo);
  EXPECT_EQ(Status::Failed("x").kind(), ErrorKind::kPermanent);
  EXPECT_EQ(Status::Invalid("x").kind(), ErrorKind::kPermanent);
  EXPECT_EQ(Status::Interrupted("x").kind(), ErrorKind::kInterrupted);
  Status oom = Status::OutOfMemory("no room").WithPrefix("statement 2 of 3");
  EXPECT_EQ(oom.code(), Status::Code::kIo) << "exit 1, as every run-time error";
  EXPECT_EQ(oom.kind(), ErrorKind::kOutOfMemory);
  EXPECT_EQ(oom.message(), "statement 2 of 3: no room");
  Status timeout = Status::Timeout("timed out").WithPrefix("commit");
  EXPECT_EQ(timeout.code(), Status::Code::kInterrupted);
  EXPECT_EQ(timeout.kind(), ErrorKind::kTimeout);
  EXPECT_EQ(Status::Failed("x").WithKind(ErrorKind::kCatalog).code(), Status::Code::kFailed);
  EXPECT_TRUE(Status::Ok().WithKind(ErrorKind::kCatalog).ok());
  EXPECT_EQ(Status::Failed("Out of Memory Error: made up").kind(), ErrorKind::kPermanent) << "the text decides nothing";
}

std::unique_ptr<Database> SmallEngine() {
  Database::Options options;
  options.threads = 2;
  options.memory_limit = "64MB";
  auto db = Database::Open(options);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(db).value() : nullptr;
}

TEST(ErrorKind, TheEngineClassifiesItsErrorsByType) {
  auto db = SmallEngine();
  ASSERT_TRUE(db);
  auto con = db->Connect();
  ASSERT_TRUE(con.ok());
  Connection& c = **con;

  Status oom = c.Execute(kNeedsMoreMemory);
  EXPECT_EQ(oom.kind(), ErrorKind::kOutOfMemory) << oom.ToString();
  EXPECT_EQ(oom.code(), Status::Code::kIo);
  auto prepared = c.Prepare(kNeedsMoreMemory);
  ASSERT_TRUE(prepared.ok());
  EXPECT_EQ((*prepared)->Execute().status().kind(), ErrorKind::kOutOfMemory);

  Status catalog = c.Execute("SELECT * FROM no_such_table");
  EXPECT_EQ(catalog.kind(), ErrorKind::kCatalog) << catalog.ToString();
  EXPECT_EQ(catalog.code(), Status::Code::kFailed);
  Status io = c.Execute("SELECT * FROM read_csv('/nonexistent/fanout/x.csv')");
  EXPECT_EQ(io.kind(), ErrorKind::kTransientIo) << io.ToString();
  Status binder = c.Execute("SELECT no_such_column");
  EXPECT_EQ(binder.kind(), ErrorKind::kPermanent) << binder.ToString();

  std::thread stopper([&c] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    c.Interrupt();
  });
  Status interrupted = c.Execute(kSlow);
  stopper.join();
  EXPECT_EQ(interrupted.kind(), ErrorKind::kInterrupted) << interrupted.ToString();
  EXPECT_TRUE(c.Execute("SELECT 1").ok()) << "the engine still works after each";
}

// Runs each iteration's one statement on a fresh connection of `db`, as the
// engine executor does; the scheduler's interrupter stops it.
class SqlExecutor : public IterationExecutor {
 public:
  explicit SqlExecutor(Database& db) : db_(db) {}
  Status RunAttempt(const Iteration& it, int, Interrupter& stop, ComputeSlot&, IterationReport&) override {
    auto con = db_.Connect();
    if (!con.ok()) return con.status();
    Connection* c = con->get();
    if (!stop.Arm([c] { c->Interrupt(); })) return stop.why();
    Status st = c->Execute(it.statements.at(0));
    stop.Disarm();
    return stop.fired() ? stop.why() : st;
  }

 private:
  Database& db_;
};

struct Iterations {
  std::vector<Iteration> its;
  std::vector<IterationReport> reports;
  std::vector<size_t> order;
  explicit Iterations(const std::vector<std::string>& sqls) {
    for (size_t i = 0; i < sqls.size(); ++i) {
      Iteration it;
      it.index = i;
      it.n = Value(static_cast<int64_t>(i));
      it.key = std::to_string(i);
      it.statements = {sqls[i]};
      its.push_back(it);
      IterationReport r;
      r.n = it.n;
      reports.push_back(r);
      order.push_back(i);
    }
  }
};

TEST(ErrorKind, OutOfMemoryGetsOneMoreAttemptAPermanentErrorNone) {
  auto db = SmallEngine();
  ASSERT_TRUE(db);
  SqlExecutor exec(*db);
  Iterations run({kNeedsMoreMemory, "SELECT no_such_column", "SELECT 1"});
  SchedulerOptions opt;
  opt.workers = 1;
  opt.retries = 0;
  opt.backoff_seconds = 0.01;
  RunIterations(run.its, run.reports, run.order, exec, opt);
  EXPECT_EQ(run.reports[0].status, IterationStatus::kFailed);
  EXPECT_EQ(run.reports[0].attempts, 2) << "out of memory: one more attempt, even with retries: 0";
  EXPECT_NE(run.reports[0].error.find("Out of Memory"), std::string::npos) << run.reports[0].error;
  EXPECT_EQ(run.reports[1].status, IterationStatus::kFailed);
  EXPECT_EQ(run.reports[1].attempts, 1) << "a binder error is not retried";
  EXPECT_EQ(run.reports[2].status, IterationStatus::kCommitted);
}

TEST(ErrorKind, TransientIoFromTheEngineIsRetried) {
  auto db = SmallEngine();
  ASSERT_TRUE(db);
  SqlExecutor exec(*db);
  Iterations run({"SELECT * FROM read_csv('/nonexistent/fanout/x.csv')"});
  SchedulerOptions opt;
  opt.retries = 2;
  opt.backoff_seconds = 0.01;
  RunIterations(run.its, run.reports, run.order, exec, opt);
  EXPECT_EQ(run.reports[0].status, IterationStatus::kFailed);
  EXPECT_EQ(run.reports[0].attempts, 3);
}

TEST(ErrorKind, TheSchedulersTimeoutStopsTheEngineAndIsRetried) {
  auto db = SmallEngine();
  ASSERT_TRUE(db);
  SqlExecutor exec(*db);
  Iterations run({kSlow, "SELECT 1"});
  SchedulerOptions opt;
  opt.workers = 2;
  opt.retries = 1;
  opt.backoff_seconds = 0.01;
  opt.timeout_seconds = 0.3;
  auto t0 = std::chrono::steady_clock::now();
  RunIterations(run.its, run.reports, run.order, exec, opt);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  EXPECT_EQ(run.reports[0].status, IterationStatus::kFailed);
  EXPECT_EQ(run.reports[0].attempts, 2) << "a timeout is transient: retried";
  EXPECT_EQ(run.reports[0].error, "timed out after 0.3s (run.timeout)");
  EXPECT_EQ(run.reports[1].status, IterationStatus::kCommitted);
}

// Returns `status` for every attempt.
class FixedExecutor : public IterationExecutor {
 public:
  explicit FixedExecutor(Status status) : status_(std::move(status)) {}
  Status RunAttempt(const Iteration&, int, Interrupter&, ComputeSlot&, IterationReport&) override { return status_; }

 private:
  Status status_;
};

TEST(ErrorKind, AMessageThatLooksLikeOutOfMemoryOrATimeoutChangesNothing) {
  for (const Status& st : {Status::Failed("Out of Memory Error: quoted in a user's message"),
                           Status::Failed("timed out after 1s (run.timeout)")}) {
    FixedExecutor exec(st);
    Iterations run({"SELECT 1"});
    SchedulerOptions opt;
    opt.retries = 2;
    opt.backoff_seconds = 0.01;
    RunIterations(run.its, run.reports, run.order, exec, opt);
    EXPECT_EQ(run.reports[0].status, IterationStatus::kFailed);
    EXPECT_EQ(run.reports[0].attempts, 1) << "a permanent error is not retried, whatever its text: " << st.message();
  }
}

class ErrorKindJobTest : public TempDirTest {
 protected:
  RunReport RunText(const std::string& yaml) {
    auto spec = ParseJobSpec(yaml, dir_ + "/job.yaml");
    EXPECT_TRUE(spec.ok()) << spec.status().ToString();
    if (!spec.ok()) return {};
    return RunJob(*spec, RunOptions{});
  }
};

TEST_F(ErrorKindJobTest, ARunRetriesATimedOutIterationThenFailsIt) {
  RunReport report = RunText(
      "sequence: [1, 2]\n"
      "transform: SELECT count(*) AS n FROM range(CASE WHEN $n = 1 THEN 10000000000 ELSE 10 END)\n"
      "cache: false\nrun: {timeout: 300ms, retries: 1, retry_backoff: 10ms, max_workers: 2}\n");
  ASSERT_TRUE(report.status.ok()) << report.status.ToString();
  ASSERT_EQ(report.iterations.size(), 2u);
  const IterationReport& slow = report.iterations[0];
  EXPECT_EQ(slow.status, IterationStatus::kFailed);
  EXPECT_EQ(slow.attempts, 2);
  EXPECT_EQ(slow.error, "timed out after 0.3s (run.timeout)");
  EXPECT_EQ(report.iterations[1].status, IterationStatus::kCommitted);
  EXPECT_EQ(report.ExitCode(), 1);
}

TEST_F(ErrorKindJobTest, ARunGivesAnOutOfMemoryIterationOneMoreAttempt) {
  RunReport report = RunText(std::string("sequence: [1]\ntransform: ") + kNeedsMoreMemory +
                             "\ncache: false\nrun: {memory_limit: 64MB, threads: 2, retries: 0}\n");
  ASSERT_TRUE(report.status.ok()) << report.status.ToString();
  ASSERT_EQ(report.iterations.size(), 1u);
  EXPECT_EQ(report.iterations[0].status, IterationStatus::kFailed);
  EXPECT_EQ(report.iterations[0].attempts, 2);
  EXPECT_NE(report.iterations[0].error.find("Out of Memory"), std::string::npos) << report.iterations[0].error;
  EXPECT_EQ(report.ExitCode(), 1);
}

}  // namespace
}  // namespace fanout
