#include "fuse_run.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "execute.h"
#include "s3_client.h"
#include "util.h"

namespace fanout {

namespace {

constexpr const char* kResultTable = "__fanout_result";

std::string SequenceSelect(const FusedForm& form) {
  std::string select;
  for (size_t i = 0; i < form.columns.size(); ++i) {
    const FusedForm::Column& c = form.columns[i];
    std::string p = "$fanout_p" + std::to_string(i);
    if (!c.type_sql.empty()) p = "CAST(" + p + " AS " + c.type_sql + ")";
    select += (i ? ", " : "") + p + " AS " + QuoteIdentifier(c.name);
  }
  return select;
}

Status BindRow(PreparedStatement& stmt, const FusedForm& form, const Iteration& it) {
  for (size_t i = 0; i < form.columns.size(); ++i) {
    auto v = it.params.find(form.columns[i].param);
    if (v == it.params.end()) return Status::Invalid("n = " + it.key + " has no param " + form.columns[i].param);
    FANOUT_RETURN_IF_ERROR(stmt.Bind("fanout_p" + std::to_string(i), v->second));
  }
  return Status::Ok();
}

}  // namespace

Status CreateSequenceTable(Connection& con, const FusedForm& form, const std::vector<const Iteration*>& members) {
  const std::string table = QuoteIdentifier(form.seq_table), select = SequenceSelect(form);
  for (size_t i = 0; i < members.size(); ++i) {
    auto stmt = con.Prepare(i == 0 ? "CREATE OR REPLACE TEMP TABLE " + table + " AS SELECT " + select
                                   : "INSERT INTO " + table + " SELECT " + select);
    if (!stmt.ok()) return stmt.status();
    FANOUT_RETURN_IF_ERROR(BindRow(**stmt, form, *members[i]));
    auto done = (*stmt)->Execute();
    if (!done.ok()) return done.status();
  }
  return Status::Ok();
}

namespace {

// Runs each batch (a pseudo-iteration of the pool: its index is the batch's)
// and commits its iterations one by one.
class BatchExecutor : public IterationExecutor {
 public:
  BatchExecutor(Database& db, OutputStore& store, const OutputSpec& output, std::string run_id,
                const std::vector<Iteration>& its, std::vector<IterationReport>& reports,
                std::vector<std::vector<size_t>> batches, EventSink* events)
      : db_(db), store_(store), output_(output), run_id_(std::move(run_id)), its_(its), reports_(reports),
        batches_(std::move(batches)), events_(events), batch_size_(its.size(), 0) {}

  // The size of the batch (after any split) that iteration i last ran in.
  size_t BatchSize(size_t i) const { return batch_size_[i]; }

  Status RunAttempt(const Iteration& batch, int attempt, Interrupter& stop, ComputeSlot& slot,
                    IterationReport& report) override {
    (void)attempt, (void)slot, (void)report;
    const std::vector<size_t>& members = batches_[batch.index];
    auto con = db_.Connect();
    if (!con.ok()) return con.status();
    Connection* c = con->get();
    if (!stop.Arm([c] { c->Interrupt(); })) return stop.why();
    Status st = RunMembers(*c, members, stop);
    stop.Disarm();
    if (stop.fired()) return stop.why();
    return st;
  }

 private:
  // Computes `members` as one query and commits each. A batch that runs out
  // of memory is split in halves, each run as a batch of its own, down to
  // kMinFused (memory sizes the batch: the engine says when it is too big).
  Status RunMembers(Connection& con, const std::vector<size_t>& members, Interrupter& stop) {
    const FusedForm& form = *its_[members[0]].fused;
    const double started = NowSeconds();
    const std::string label = "fused batch of " + std::to_string(members.size()) + " (n = " + Keys(members) + ")";
    Say(label + ": computing");
    Started(members, started);
    Status st = Compute(con, form, members);
    if (st.ok()) Say(label + ": computed in " + Seconds2(NowSeconds() - started) + ", committing each n");
    if (st.kind() == ErrorKind::kOutOfMemory && members.size() >= 2 * kMinFused && !stop.fired()) {
      (void)con.Execute(std::string("DROP TABLE IF EXISTS ") + kResultTable);
      const auto half = members.begin() + static_cast<std::ptrdiff_t>(members.size() / 2);
      Status first = RunMembers(con, std::vector<size_t>(members.begin(), half), stop);
      Status second = stop.fired() ? first : RunMembers(con, std::vector<size_t>(half, members.end()), stop);
      return first.ok() ? second : first;
    }
    auto copy = st.ok() ? con.Prepare(CopyStatement(output_, RowsOfOne(form))) : Result<std::unique_ptr<PreparedStatement>>(st);
    const double share = (NowSeconds() - started) / static_cast<double>(members.size());
    for (size_t k = 0; copy.ok() && k < members.size() && !stop.fired(); ++k)
      if (reports_[members[k]].status == IterationStatus::kPending)
        CommitOne(**copy, members[k], share, static_cast<int>(members.size()));
    (void)con.Execute(std::string("DROP TABLE IF EXISTS ") + kResultTable);
    return copy.status();
  }

  // A batch computes with no iteration started (they start as each commits):
  // this says on the progress lines and in the log what it is doing.
  void Say(const std::string& line) {
    if (events_) events_->OnMessage(line);
  }
  // Every pending member is running from now: the progress lines, the log
  // and the live manifest (what `fanout status` shows of a killed run) say so.
  void Started(const std::vector<size_t>& members, double started) {
    for (size_t i : members) {
      if (reports_[i].status != IterationStatus::kPending) continue;
      batch_size_[i] = members.size();
      if (!events_) continue;
      IterationReport r = reports_[i];
      r.attempts = 1;
      r.started_at = started;
      AttemptTrace a;
      a.attempt = 1;
      a.fused = static_cast<int>(members.size());
      a.queued = a.started = started;
      r.trace = {a};
      events_->OnStarted(r);
    }
  }
  static std::string Seconds2(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2fs", s);
    return buf;
  }
  std::string Keys(const std::vector<size_t>& members) const {
    std::string keys;
    for (size_t k = 0; k < members.size() && k < 6; ++k) keys += (k ? ", " : "") + its_[members[k]].key;
    return members.size() > 6 ? keys + ", ..." : keys;
  }

  // The sequence table and the batch's rows in a temp result.
  Status Compute(Connection& con, const FusedForm& form, const std::vector<size_t>& members) {
    std::vector<const Iteration*> rows;
    for (size_t i : members) rows.push_back(&its_[i]);
    FANOUT_RETURN_IF_ERROR(CreateSequenceTable(con, form, rows));
    return con.Execute(std::string("CREATE OR REPLACE TEMP TABLE ") + kResultTable + " AS " + form.sql);
  }

  static std::string RowsOfOne(const FusedForm& form) {
    const std::string n = QuoteIdentifier(form.n_column);
    return std::string("SELECT *") + (form.drop_n ? " EXCLUDE (" + n + ")" : "") + " FROM " + kResultTable +
           " WHERE " + n + " = $fanout_n";
  }

  void CommitOne(PreparedStatement& copy, size_t i, double share, int fused);

  Database& db_;
  OutputStore& store_;
  const OutputSpec& output_;
  const std::string run_id_;
  const std::vector<Iteration>& its_;
  std::vector<IterationReport>& reports_;
  const std::vector<std::vector<size_t>> batches_;
  EventSink* events_;
  // By iteration; each batch's thread writes only its own members' entries.
  std::vector<size_t> batch_size_;
};

// Writes iteration i's rows into its own staging folder and publishes it as
// a separate attempt would. On any failure it stays pending (run separately
// later, with its own error).
void BatchExecutor::CommitOne(PreparedStatement& copy, size_t i, double share, int fused) {
  const Iteration& it = its_[i];
  IterationReport& r = reports_[i];
  S3IoScope s3_io(&r.s3);  // an S3 store's requests for this commit, in the manifest
  const double started = NowSeconds();
  // Attempt 0: its own keys and staging, never those of a separate attempt
  // (1, 2, ...) that runs it again should this commit fail.
  auto staging = store_.Stage(it.target, 0);
  if (!staging.ok()) return;
  const double staged = NowSeconds();
  Status st = copy.Bind("fanout_n", it.n);
  if (st.ok()) st = copy.Bind("fanout_target", Value(CopyTarget(output_, staging->dir)));
  Result<Table> written = st.ok() ? copy.Execute() : Result<Table>(st);
  if (!written.ok()) return store_.Discard(*staging);
  int64_t rows = 0;
  if (!written->rows.empty() && !written->rows[0].empty())
    if (auto* n = std::get_if<int64_t>(&written->rows[0][0].v)) rows = *n;
  const double computed = NowSeconds();
  auto commit = store_.Publish(*staging, IterationMarker(it, run_id_, rows, 1, started - share), SingleFile(output_));
  if (!commit.ok()) return;
  AttemptTrace a;
  a.attempt = 1;
  a.fused = fused;
  a.status = ToString(IterationStatus::kCommitted);
  a.queued = a.started = started - share;
  a.staged = staged;
  a.engine_done = computed;
  a.published = a.finished = NowSeconds();
  a.rows = rows, a.bytes = commit->bytes, a.files = static_cast<int>(commit->files.size());
  r.trace = {a};
  r.attempts = 1;
  r.started_at = a.started;
  r.rows = rows, r.bytes = commit->bytes, r.files = a.files;
  r.commit_seconds = (staged - started) + (a.published - computed);
  r.status = IterationStatus::kCommitted;
  r.finished_at = a.finished;
  if (events_) events_->OnFinished(r);
}

// The pending iterations with a fused form, in `order`, grouped by form and
// dealt into batches: at least one per worker, at most kMaxBatch each. They
// are dealt in turn (the k-th to batch k mod count), not cut in runs, so a
// sequence whose cost grows with n (or one in longest-first order) gives
// every batch a like share and no worker idles while another ends its batch.
// A form with fewer than kMinFused pending (a resume, --only) runs separately.
std::vector<std::vector<size_t>> Batches(const std::vector<Iteration>& its, const std::vector<IterationReport>& reports,
                                         const std::vector<size_t>& order, int workers) {
  std::vector<const FusedForm*> forms;
  std::map<const FusedForm*, std::vector<size_t>> groups;
  for (size_t i : order) {
    if (reports[i].status != IterationStatus::kPending || !its[i].fused) continue;
    auto [g, fresh] = groups.try_emplace(its[i].fused.get());
    if (fresh) forms.push_back(its[i].fused.get());
    g->second.push_back(i);
  }
  std::vector<std::vector<size_t>> out;
  for (const FusedForm* f : forms) {
    const std::vector<size_t>& g = groups[f];
    if (g.size() < kMinFused) continue;
    size_t per = std::min(kMaxBatch, (g.size() + static_cast<size_t>(workers) - 1) / static_cast<size_t>(workers));
    per = std::max(per, kMinFused);
    const size_t count = (g.size() + per - 1) / per, first = out.size();
    out.resize(first + count);
    for (size_t k = 0; k < g.size(); ++k) out[first + k % count].push_back(g[k]);
  }
  return out;
}

}  // namespace

void RunFusedBatches(Database& db, OutputStore& store, const OutputSpec& output, const std::string& run_id,
                     const std::vector<Iteration>& iterations, std::vector<IterationReport>& reports,
                     const std::vector<size_t>& order, const SchedulerOptions& options) {
  auto batches = Batches(iterations, reports, order, std::max(1, options.workers));
  if (batches.empty()) return;
  std::vector<Iteration> units(batches.size());
  std::vector<IterationReport> unit_reports(batches.size());
  std::vector<size_t> unit_order;
  size_t largest = 0;
  for (size_t b = 0; b < batches.size(); ++b) {
    units[b].index = b;
    units[b].key = "batch " + std::to_string(b + 1);
    unit_order.push_back(b);
    largest = std::max(largest, batches[b].size());
  }
  SchedulerOptions opt = options;
  opt.retries = 0;  // a failed batch reruns its iterations separately, with their own retries
  opt.committers = 0;
  opt.stop_on_failure = false;
  opt.events = nullptr;
  opt.timeout_seconds = options.timeout_seconds * static_cast<double>(largest);
  BatchExecutor executor(db, store, output, run_id, iterations, reports, batches, options.events);
  RunIterations(units, unit_reports, unit_order, executor, opt);
  // Cancelled while a batch ran: what it had not committed was running too
  // (not "not started", as the separate pass would say of it).
  for (size_t b = 0; b < batches.size(); ++b) {
    const IterationReport& u = unit_reports[b];
    if (u.status != IterationStatus::kCancelled || u.error != kCancelledWhileRunning) continue;
    for (size_t i : batches[b]) {
      IterationReport& r = reports[i];
      if (r.status != IterationStatus::kPending) continue;
      r.status = IterationStatus::kCancelled;
      const size_t size = executor.BatchSize(i) ? executor.BatchSize(i) : batches[b].size();
      r.error = std::string(kCancelledWhileRunning) + " (in a fused batch of " + std::to_string(size) + ")";
      r.started_at = u.started_at > 0 ? u.started_at : NowSeconds();
      r.finished_at = NowSeconds();
      if (options.events) options.events->OnFinished(r);
    }
  }
}

}  // namespace fanout
