#include "execute.h"

#include "backend.h"
#include "fuse_run.h"

#include <algorithm>

#include "cpp_transform.h"
#include "deps.h"
#include "load.h"
#include "s3_client.h"
#include "util.h"

namespace fanout {

EngineThreads::EngineThreads(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Loop(); });
}

EngineThreads::~EngineThreads() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  work_.SignalAll();
  for (auto& t : threads_) t.join();
}

void EngineThreads::Run(const std::function<void()>& fn) {
  Call call;
  call.fn = &fn;
  MutexLock lock(&mu_);
  queue_.push_back(&call);
  work_.Signal();
  while (!call.done) call.cv.Wait(mu_);
  if (call.error) std::rethrow_exception(call.error);
}

void EngineThreads::Loop() {
  MutexLock lock(&mu_);
  for (;;) {
    while (!stopping_ && queue_.empty()) work_.Wait(mu_);
    if (queue_.empty()) return;  // stopping, nothing left
    Call* call = queue_.front();
    queue_.pop_front();
    lock.Unlock();
    try {
      (*call->fn)();
    } catch (...) {
      call->error = std::current_exception();
    }
    lock.Lock();
    call->done = true;
    call->cv.Signal();  // under the lock: the caller cannot return (and destroy it) before we let go
  }
}

EngineExecutor::EngineExecutor(Database& db, OutputStore& store, const OutputSpec& output, std::string run_id,
                               int engine_threads)
    : db_(db), store_(store), output_(output), run_id_(std::move(run_id)), threads_(engine_threads) {}

std::string CopyStatement(const OutputSpec& output, const std::string& query) {
  // Only fanout's own validated keywords go into the text; the target path
  // and every param are bound.
  std::string opts;
  if (output.format == "parquet") {
    opts = "FORMAT parquet, COMPRESSION " + output.compression;
  } else if (output.format == "csv") {
    opts = "FORMAT csv, HEADER true";
  } else {
    opts = "FORMAT json";
  }
  if (output.format != "parquet" && output.compression != "none") opts += ", COMPRESSION " + output.compression;
  if (output.max_file_bytes > 0)
    opts += ", FILE_SIZE_BYTES " + std::to_string(output.max_file_bytes) + ", FILENAME_PATTERN 'part-{i}'";
  return "COPY (\n" + query + "\n) TO $fanout_target (" + opts + ")";
}

std::string SingleFile(const OutputSpec& output) {
  if (output.max_file_bytes > 0) return "";
  std::string ext = "." + output.format;
  if (output.format != "parquet" && output.compression == "gzip") ext += ".gz";
  if (output.format != "parquet" && output.compression == "zstd") ext += ".zst";
  return "part-00000" + ext;
}

std::string CopyTarget(const OutputSpec& output, const std::string& staging) {
  std::string single = SingleFile(output);
  return single.empty() ? staging : staging + "/" + single;
}

Marker IterationMarker(const Iteration& it, const std::string& run_id, int64_t rows, int attempt, double started) {
  Marker marker;
  marker.run_id = run_id;
  marker.n = it.n;
  marker.kind = it.kind;
  marker.rows = rows;
  marker.attempt = attempt;
  marker.started_at = FormatUtc(started);
  marker.committed_at = FormatUtc(NowSeconds());
  marker.seconds = NowSeconds() - started;
  marker.fingerprint = it.fingerprint;
  marker.fingerprint_parts = {it.fp_sql, it.fp_params, it.fp_inputs, it.fp_output, it.fp_settings};
  marker.params = it.params;
  marker.engine = "duckdb " + Database::Version();
  return marker;
}

Result<std::unique_ptr<EngineExecutor::Session>> EngineExecutor::OpenSession(bool reuse) {
  if (reuse) {
    MutexLock lock(&mu_);
    if (!idle_.empty()) {
      auto session = std::move(idle_.back());
      idle_.pop_back();
      return session;
    }
  }
  auto con = db_.Connect();
  if (!con.ok()) return con.status();
  auto session = std::make_unique<Session>();
  session->con = std::move(con).value();
  return session;
}

Result<int64_t> EngineExecutor::Transform(const Iteration& it, Session& session, const std::string& staging,
                                          std::string* failed_sql) {
  int64_t rows = 0;
  for (size_t i = 0; i < it.statements.size(); ++i) {
    bool last = i + 1 == it.statements.size();
    std::string sql = last ? CopyStatement(output_, it.statements[i]) : it.statements[i];
    std::unique_ptr<PreparedStatement> prepared;
    PreparedStatement* stmt = session.stmt.get();
    if (!last || !stmt || session.sql != sql) {
      auto p = session.con->Prepare(sql);
      if (!p.ok()) return p.status();
      prepared = std::move(p).value();
      stmt = prepared.get();
    }
    for (const std::string& name : stmt->param_names()) {
      Status st = name == "fanout_target" ? stmt->Bind(name, Value(CopyTarget(output_, staging)))
                                          : stmt->Bind(name, it.params.at(name));
      if (!st.ok()) return st;
    }
    auto result = stmt->Execute();
    if (last && prepared) {  // kept for the session's next iteration
      session.sql = std::move(sql);
      session.stmt = std::move(prepared);
    }
    if (!result.ok()) {
      Status s = result.status();
      if (failed_sql) *failed_sql = it.statements[i];
      if (s.code() == Status::Code::kInterrupted || it.statements.size() == 1) return s;
      return s.WithPrefix("statement " + std::to_string(i + 1) + " of " + std::to_string(it.statements.size()));
    }
    if (last && !result->rows.empty() && !result->rows[0].empty()) {
      if (auto* n = std::get_if<int64_t>(&result->rows[0][0].v)) rows = *n;
    }
  }
  return rows;
}

Result<int64_t> EngineExecutor::Compute(const Iteration& it, int attempt, Interrupter& stop,
                                        const std::string& staging, std::string* failed_sql) {
  const bool reuse = it.reusable_session;
  auto session = OpenSession(reuse);
  if (!session.ok()) return session.status();
  Connection* c = (*session)->con.get();
  if (!stop.Arm([c] { c->Interrupt(); })) return stop.why();
  // after: its dependencies' committed outputs, as views on its own connection.
  Status views = it.deps.empty() ? Status::Ok() : DependencyViews(*c, store_, output_, it);
  Result<int64_t> rows = !views.ok() ? Result<int64_t>(views)
                         : it.cpp   ? RunCppTransform(it, attempt, *c, stop, output_, CopyTarget(output_, staging), failed_sql)
                                    : Transform(it, **session, staging, failed_sql);
  stop.Disarm();
  if (reuse && rows.ok() && !stop.fired()) {
    MutexLock lock(&mu_);
    idle_.push_back(std::move(session).value());
  }  // otherwise the connection (and its temp tables) is gone before the commit
  if (stop.fired()) return stop.why();
  return rows;
}

Status EngineExecutor::RunAttempt(const Iteration& it, int attempt, Interrupter& stop, ComputeSlot& slot,
                                  IterationReport& report) {
  S3IoScope s3_io(&report.s3);  // an S3 store's requests for this attempt, in the manifest
  double started = NowSeconds();
  auto staging = store_.Stage(it.target, attempt);
  if (!staging.ok()) return staging.status();
  // Creating the folder is commit work: it can wait on a directory a sync is
  // writing, and longest-first must not take that for engine time.
  const double staged = NowSeconds();
  AttemptTrace scratch;  // an executor called without a trace entry
  AttemptTrace& trace = report.trace.empty() ? scratch : report.trace.back();
  trace.staged = staged;
  Result<int64_t> rows = int64_t{0};  // set on an engine thread
  threads_.Run([&] {
    const double cpu = ThreadCpuSeconds();
    rows = Compute(it, attempt, stop, staging->dir, &trace.sql);
    trace.cpu_seconds = ThreadCpuSeconds() - cpu;
  });
  double computed = NowSeconds();
  trace.engine_done = computed;
  if (!rows.ok()) {
    store_.Discard(*staging);
    return rows.status();
  }
  // The engine's work is done: the next iteration may compute while this one
  // commits.
  slot.Release();
  auto commit = store_.Publish(*staging, IterationMarker(it, run_id_, *rows, attempt, started), SingleFile(output_));
  if (!commit.ok()) return commit.status().WithPrefix("commit");  // staging removed
  trace.published = NowSeconds();
  report.commit_seconds = (staged - started) + (trace.published - computed);
  report.rows = *rows;
  report.bytes = commit->bytes;
  report.files = static_cast<int>(commit->files.size());
  return Status::Ok();
}

}  // namespace fanout

namespace fanout {
namespace {

class LocalBackend : public Backend {
 public:
  LocalBackend(Database& db, OutputStore& store, const OutputSpec& output, std::string run_id, int workers)
      : db_(db), store_(store), output_(output), run_id_(run_id), executor_(db, store, output, run_id, workers) {}
  // Fused batches first (fuse_run.h); what they leave pending runs separately.
  bool Run(const std::vector<Iteration>& iterations, std::vector<IterationReport>& reports,
           const std::vector<size_t>& order, const SchedulerOptions& options) override {
    RunFusedBatches(db_, store_, output_, run_id_, iterations, reports, order, options);
    return RunIterations(iterations, reports, order, executor_, options);
  }

 private:
  Database& db_;
  OutputStore& store_;
  const OutputSpec& output_;
  std::string run_id_;
  EngineExecutor executor_;
};

}  // namespace

std::unique_ptr<Backend> NewLocalBackend(const BackendContext& c) {
  return std::make_unique<LocalBackend>(c.db, c.store, c.output, c.run_id, c.workers);
}

}  // namespace fanout
