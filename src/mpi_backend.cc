#include "mpi_backend.h"

#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <deque>
#include <optional>
#include <thread>
#include <vector>

#include "execute.h"
#include "fanout/record.h"
#include "mutex.h"
#include "util.h"

namespace fanout {
namespace {

// Every message is text (MPI_CHAR) on MPI_COMM_WORLD.
enum Tag : int {
  kAsk = 1,     // rank -> 0: a worker of mine is free ("")
  kWork = 2,    // 0 -> rank: the index of its next iteration, or "" (none left)
  kResult = 3,  // rank -> 0: "<index>\n<the iteration's manifest entry>"
  kBye = 4,     // rank -> 0: every outcome sent; "1" when it was interrupted
};

void Send(int to, int tag, const std::string& text) {
  MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, to, tag, MPI_COMM_WORLD);
}

// The next message from `from` (MPI_ANY_SOURCE: anyone), if one is there.
bool Receive(int from, int* source, int* tag, std::string* text) {
  int flag = 0;
  MPI_Status st;
  MPI_Iprobe(from, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
  if (!flag) return false;
  int n = 0;
  MPI_Get_count(&st, MPI_CHAR, &n);
  text->assign(static_cast<size_t>(n), '\0');
  MPI_Recv(text->data(), n, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  *source = st.MPI_SOURCE;
  *tag = st.MPI_TAG;
  return true;
}

// A message loop with nothing to do sleeps a little: ~100 us while messages
// came lately, 1 ms after 100 ms of quiet (oversubscribed ranks share cores).
class Idle {
 public:
  void Busy() { quiet_since_ = 0; }
  void Wait() {
    const double now = NowSeconds();
    if (quiet_since_ == 0) quiet_since_ = now;
    std::this_thread::sleep_for(std::chrono::microseconds(now - quiet_since_ < 0.1 ? 100 : 1000));
  }

 private:
  double quiet_since_ = 0;
};

Status WithCode(Status::Code code, const std::string& message) {
  switch (code) {
    case Status::Code::kInterrupted: return Status::Interrupted(message);
    case Status::Code::kBusy: return Status::Busy(message);
    case Status::Code::kIo: return Status::Io(message);
    case Status::Code::kFailed: return Status::Failed(message);
    default: return Status::Invalid(message);
  }
}

class MpiCluster : public Cluster {
 public:
  MpiCluster(int rank, int size, std::vector<std::string> hosts, std::atomic<bool>* cancel, bool coordinator_only)
      : rank_(rank), size_(size), hosts_(std::move(hosts)), cancel_(cancel), coordinator_only_(coordinator_only) {}
  ~MpiCluster() override { MPI_Finalize(); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const std::string& host() const override { return hosts_[static_cast<size_t>(rank_)]; }
  const std::string& HostOf(int rank) const { return hosts_[static_cast<size_t>(rank)]; }
  std::atomic<bool>& cancel() { return *cancel_; }

  Status Agree(const Status& mine) override;
  std::string Share(const std::string& text) override;
  std::unique_ptr<Backend> NewBackend(const BackendContext& context) override;

 private:
  // Every rank's `text`, on every rank.
  std::vector<std::string> Gather(const std::string& text);

  const int rank_, size_;
  const std::vector<std::string> hosts_;
  std::atomic<bool>* cancel_;
  const bool coordinator_only_;
};

std::vector<std::string> MpiCluster::Gather(const std::string& text) {
  int mine = static_cast<int>(text.size());
  std::vector<int> sizes(static_cast<size_t>(size_)), offsets(static_cast<size_t>(size_));
  MPI_Allgather(&mine, 1, MPI_INT, sizes.data(), 1, MPI_INT, MPI_COMM_WORLD);
  int total = 0;
  for (int r = 0; r < size_; ++r) offsets[static_cast<size_t>(r)] = total, total += sizes[static_cast<size_t>(r)];
  std::string all(static_cast<size_t>(total), '\0');
  MPI_Allgatherv(text.data(), mine, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR, MPI_COMM_WORLD);
  std::vector<std::string> out;
  for (int r = 0; r < size_; ++r)
    out.push_back(all.substr(static_cast<size_t>(offsets[static_cast<size_t>(r)]),
                             static_cast<size_t>(sizes[static_cast<size_t>(r)])));
  return out;
}

Status MpiCluster::Agree(const Status& mine) {
  const std::string text = mine.ok() ? "" : std::to_string(static_cast<int>(mine.code())) + "\t" + mine.message();
  const std::vector<std::string> all = Gather(text);
  std::string message;
  std::optional<Status::Code> code;
  for (int r = 0; r < size_; ++r) {
    const std::string& t = all[static_cast<size_t>(r)];
    if (t.empty()) continue;
    const size_t tab = t.find('\t');
    const auto c = static_cast<Status::Code>(std::atoi(t.substr(0, tab).c_str()));
    if (!code || c == Status::Code::kInterrupted) code = c;
    message += (message.empty() ? "" : "; ") + Name(r, HostOf(r)) + ": " + t.substr(tab + 1);
  }
  return code ? WithCode(*code, message) : Status::Ok();
}

std::string MpiCluster::Share(const std::string& text) {
  long long n = static_cast<long long>(text.size());
  MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  std::string out = rank_ == 0 ? text : std::string(static_cast<size_t>(n), '\0');
  MPI_Bcast(out.data(), static_cast<int>(n), MPI_CHAR, 0, MPI_COMM_WORLD);
  return out;
}

// ---------------------------------------------------------------------------
// Rank 0: hands out iterations, runs its own share on a pool (unless
// coordinator-only), gathers every outcome. Run returns when every rank said
// bye — or, once cancelled, when the ranks that still answer have (a rank
// that died never does: its iterations in flight are reported as such).
class Coordinator : public Backend {
 public:
  Coordinator(MpiCluster& cluster, const BackendContext& c, bool coordinator_only) : cluster_(cluster) {
    if (!coordinator_only) executor_.emplace(c.db, c.store, c.output, c.run_id, c.workers);
  }
  bool Run(const std::vector<Iteration>& iterations, std::vector<IterationReport>& reports,
           const std::vector<size_t>& order, const SchedulerOptions& options) override;

 private:
  // The next iteration for `rank`, marked as its (none once stopping).
  std::optional<size_t> Next(int rank) EXCLUDES(mu_);
  void Handle(int source, int tag, const std::string& text);
  void OnResult(int source, const std::string& text);
  // Iterations never handed out, or handed to a rank that never reported.
  void ReportUnfinished();
  bool Finished(bool local_done) const;
  // Once cancelled: how long to wait for the ranks' last outcomes.
  void Cancel();

  // Rank 0 never blocks on a rank: a rank that died would hold it forever
  // (its TCP peer is gone), and the manifest must still be written.
  void Post(int to, int tag, const std::string& text);
  void Reap();

  MpiCluster& cluster_;
  std::optional<EngineExecutor> executor_;
  struct Posted {
    MPI_Request request;
    std::unique_ptr<std::string> text;  // MPI reads it until the send completes
  };
  std::deque<Posted> posted_;
  const std::vector<size_t>* order_ = nullptr;
  std::vector<IterationReport>* reports_ = nullptr;
  const SchedulerOptions* options_ = nullptr;
  Mutex mu_;
  size_t cursor_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;  // on_failure: stop after a failure
  std::vector<int> owner_ GUARDED_BY(mu_);  // per iteration: the rank it was handed to, or -1
  std::vector<bool> bye_;                  // per rank (the message loop's only)
  std::vector<int> in_flight_;             // per rank: handed out, no outcome yet
  bool cancel_sent_ = false;
  double give_up_at_ = 0;
  int64_t handled_ = 0;       // messages (FANOUT_MPI_STATS)
  double busy_seconds_ = 0;   // spent receiving and handling them
};

void Coordinator::Post(int to, int tag, const std::string& text) {
  Posted p{MPI_REQUEST_NULL, std::make_unique<std::string>(text)};
  MPI_Isend(p.text->data(), static_cast<int>(p.text->size()), MPI_CHAR, to, tag, MPI_COMM_WORLD, &p.request);
  posted_.push_back(std::move(p));
}

void Coordinator::Reap() {
  for (auto it = posted_.begin(); it != posted_.end();) {
    int done = 0;
    MPI_Test(&it->request, &done, MPI_STATUS_IGNORE);
    it = done ? posted_.erase(it) : it + 1;
  }
}

std::optional<size_t> Coordinator::Next(int rank) {
  MutexLock lock(&mu_);
  if (stopping_ || cluster_.cancel().load()) return std::nullopt;
  while (cursor_ < order_->size()) {
    const size_t i = (*order_)[cursor_++];
    IterationReport& r = (*reports_)[i];
    if (r.status != IterationStatus::kPending) continue;
    owner_[i] = rank;
    r.rank = rank;
    r.host = cluster_.HostOf(rank);
    return i;
  }
  return std::nullopt;
}

void Coordinator::Handle(int source, int tag, const std::string& text) {
  if (tag == kAsk) {
    std::optional<size_t> i = Next(source);
    Post(source, kWork, i ? std::to_string(*i) : "");
    if (!i) return;
    ++in_flight_[static_cast<size_t>(source)];
    IterationReport& r = (*reports_)[*i];
    r.started_at = NowSeconds();  // handed out; the rank's outcome has its own times
    r.attempts = 1;
    if (options_->events) options_->events->OnStarted(r);
  } else if (tag == kResult) {
    OnResult(source, text);
  } else if (tag == kBye) {
    bye_[static_cast<size_t>(source)] = true;
    if (text == "1") cluster_.cancel() = true;  // a rank was interrupted: so is the run
  }
}

void Coordinator::OnResult(int source, const std::string& text) {
  const size_t newline = text.find('\n');
  const size_t i = std::strtoull(text.substr(0, newline).c_str(), nullptr, 10);
  auto entry = IterationFromJson(newline == std::string::npos ? "" : text.substr(newline + 1));
  if (i >= reports_->size()) return;
  IterationReport& r = (*reports_)[i];
  if (entry.ok()) {
    r = std::move(entry).value();
  } else {
    r.status = IterationStatus::kFailed;
    r.error = "rank " + std::to_string(source) + " sent an unreadable outcome: " + entry.status().message();
  }
  r.rank = source;
  r.host = cluster_.HostOf(source);
  --in_flight_[static_cast<size_t>(source)];
  if (r.status == IterationStatus::kFailed && options_->stop_on_failure) {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (options_->events) options_->events->OnFinished(r);
}

bool Coordinator::Finished(bool local_done) const {
  if (!local_done) return false;
  for (int r = 1; r < cluster_.size(); ++r)
    if (!bye_[static_cast<size_t>(r)]) return false;
  return true;
}

// Nothing is sent to the ranks: a rank that died (why the run stops, often)
// takes any send to it down with it — Open MPI's TCP transport then blocks
// the sender retrying the connection. The others learn it from the answer
// to their next request (none), or from the signal the launcher sent every
// rank, and report what they had in flight, cancelled.
void Coordinator::Cancel() {
  if (cancel_sent_ || !cluster_.cancel().load()) return;
  cancel_sent_ = true;
  // mpirun, told to stop, sends SIGTERM to every rank and SIGKILL a second
  // later (odls_base_sigkill_timeout): the ranks that still answer do so
  // well within half of that, and the manifest is written in the rest.
  give_up_at_ = NowSeconds() + 0.5;
}

void Coordinator::ReportUnfinished() {
  MutexLock lock(&mu_);
  const double now = NowSeconds();
  for (size_t i : *order_) {
    IterationReport& r = (*reports_)[i];
    if (r.status != IterationStatus::kPending) continue;
    r.status = IterationStatus::kCancelled;
    if (owner_[i] >= 0) {
      r.error = "in flight on " + cluster_.Name(owner_[i], cluster_.HostOf(owner_[i])) +
                ", which never reported its outcome (lost, or killed with the run)";
    } else {
      r.error = stopping_ ? "not started: on_failure: stop" : "not started: cancelled";
      r.started_at = now;
    }
    r.finished_at = now;
    if (options_->events) options_->events->OnFinished(r);
  }
}

bool Coordinator::Run(const std::vector<Iteration>& iterations, std::vector<IterationReport>& reports,
                      const std::vector<size_t>& order, const SchedulerOptions& options) {
  order_ = &order;
  reports_ = &reports;
  options_ = &options;
  {
    MutexLock lock(&mu_);
    owner_.assign(reports.size(), -1);
  }
  bye_.assign(static_cast<size_t>(cluster_.size()), false);
  in_flight_.assign(static_cast<size_t>(cluster_.size()), 0);
  std::atomic<bool> local_done{!executor_ || order.empty()};
  std::thread local;
  if (!local_done) {
    local = std::thread([&] {
      SchedulerOptions mine = options;
      mine.next = [this] { return Next(0); };
      RunIterations(iterations, reports, order, *executor_, mine);
      local_done = true;
    });
  }
  Idle idle;
  for (;;) {
    int source = 0, tag = 0;
    std::string text;
    bool got = false;
    const double t0 = NowSeconds();
    while (Receive(MPI_ANY_SOURCE, &source, &tag, &text)) got = true, Handle(source, tag, text), ++handled_;
    if (got) busy_seconds_ += NowSeconds() - t0;
    Cancel();
    Reap();
    if (Finished(local_done)) break;
    if (cancel_sent_ && local_done && NowSeconds() > give_up_at_) break;
    got ? idle.Busy() : idle.Wait();
  }
  if (local.joinable()) local.join();
  // Sends to ranks that never took them (they died): MPI may still read
  // their text, so it outlives this backend.
  for (Posted& p : posted_) MPI_Request_free(&p.request), (void)p.text.release();
  posted_.clear();
  ReportUnfinished();
  if (std::getenv("FANOUT_MPI_STATS") && handled_ > 0)
    fprintf(stderr, "fanout: mpi stats: rank 0: %lld messages handled, %.1f us each (receive, answer or record)\n",
            static_cast<long long>(handled_), 1e6 * busy_seconds_ / static_cast<double>(handled_));
  return cluster_.cancel().load();
}

// ---------------------------------------------------------------------------
// Ranks 1..N-1: a pool whose free workers ask rank 0 for their next
// iteration; the message loop (this thread) sends the requests and the
// outcomes and hands the answers back.
class Worker : public Backend, private EventSink {
 public:
  Worker(MpiCluster& cluster, const BackendContext& c)
      : cluster_(cluster), executor_(c.db, c.store, c.output, c.run_id, c.workers) {}
  bool Run(const std::vector<Iteration>& iterations, std::vector<IterationReport>& reports,
           const std::vector<size_t>& order, const SchedulerOptions& options) override;

 private:
  struct Ask {
    std::optional<size_t> answer;
    bool answered = false;
    double sent_at = 0;  // the message loop's only
    CondVar cv;
  };
  // A pool thread: blocks until rank 0 answered.
  std::optional<size_t> Pull() EXCLUDES(mu_);
  void OnFinished(const IterationReport& r) override EXCLUDES(mu_);
  // Sends what the pool queued; false when nothing was.
  bool Flush() EXCLUDES(mu_);
  void Answer(const std::string& text) EXCLUDES(mu_);

  MpiCluster& cluster_;
  EngineExecutor executor_;
  std::vector<IterationReport>* reports_ = nullptr;
  Mutex mu_;
  std::deque<Ask*> unsent_ GUARDED_BY(mu_);  // asks not sent yet
  std::deque<Ask*> sent_ GUARDED_BY(mu_);    // sent, in order: rank 0 answers in order
  std::deque<std::string> outcomes_ GUARDED_BY(mu_);
  std::vector<double> round_trips_ GUARDED_BY(mu_);  // request sent -> answer, seconds
};

// FANOUT_MPI_STATS=1 (bench/mpi): each rank's request round trips on stderr.
void PrintRoundTrips(int rank, std::vector<double> rtt) {
  if (!std::getenv("FANOUT_MPI_STATS") || rtt.empty()) return;
  std::sort(rtt.begin(), rtt.end());
  fprintf(stderr, "fanout: mpi stats: rank %d: %zu requests, round trip to rank 0 median %.3f ms, p90 %.3f ms\n",
          rank, rtt.size(), 1000 * rtt[rtt.size() / 2], 1000 * rtt[rtt.size() * 9 / 10]);
}

std::optional<size_t> Worker::Pull() {
  Ask ask;
  MutexLock lock(&mu_);
  unsent_.push_back(&ask);
  while (!ask.answered) ask.cv.Wait(mu_);
  return ask.answer;
}

void Worker::OnFinished(const IterationReport& r) {
  const size_t i = static_cast<size_t>(&r - reports_->data());
  std::string text = std::to_string(i) + "\n" + IterationToJson(r);
  MutexLock lock(&mu_);
  outcomes_.push_back(std::move(text));
}

bool Worker::Flush() {
  std::deque<std::string> outcomes;
  size_t asks = 0;
  {
    MutexLock lock(&mu_);
    outcomes.swap(outcomes_);
    asks = unsent_.size();
    const double now = NowSeconds();
    while (!unsent_.empty()) unsent_.front()->sent_at = now, sent_.push_back(unsent_.front()), unsent_.pop_front();
  }
  // Outcomes first: rank 0 counts the rank's iterations in flight down.
  for (const std::string& o : outcomes) Send(0, kResult, o);
  for (size_t k = 0; k < asks; ++k) Send(0, kAsk, "");
  return asks > 0 || !outcomes.empty();
}

void Worker::Answer(const std::string& text) {
  MutexLock lock(&mu_);
  if (sent_.empty()) return;
  Ask* ask = sent_.front();
  sent_.pop_front();
  round_trips_.push_back(NowSeconds() - ask->sent_at);
  if (!text.empty()) {
    const size_t i = std::strtoull(text.c_str(), nullptr, 10);
    if (i < reports_->size()) {
      ask->answer = i;
      (*reports_)[i].rank = cluster_.rank();
      (*reports_)[i].host = cluster_.host();
    }
  }
  ask->answered = true;
  ask->cv.Signal();
}

bool Worker::Run(const std::vector<Iteration>& iterations, std::vector<IterationReport>& reports,
                 const std::vector<size_t>& order, const SchedulerOptions& options) {
  reports_ = &reports;
  std::atomic<bool> done{false};
  std::thread pool([&] {
    SchedulerOptions mine = options;
    mine.events = this;
    mine.next = [this] { return Pull(); };
    RunIterations(iterations, reports, order, executor_, mine);
    done = true;
  });
  Idle idle;
  for (;;) {
    const bool finished = done.load();  // before Flush: its outcomes are queued
    bool busy = Flush();
    int source = 0, tag = 0;
    std::string text;
    while (Receive(0, &source, &tag, &text)) {
      busy = true;
      if (tag == kWork) Answer(text);
    }
    if (finished) break;
    busy ? idle.Busy() : idle.Wait();
  }
  pool.join();
  Send(0, kBye, cluster_.cancel().load() ? "1" : "0");
  MutexLock lock(&mu_);
  PrintRoundTrips(cluster_.rank(), round_trips_);
  return cluster_.cancel().load();
}

std::unique_ptr<Backend> MpiCluster::NewBackend(const BackendContext& context) {
  if (rank_ == 0) return std::make_unique<Coordinator>(*this, context, coordinator_only_);
  return std::make_unique<Worker>(*this, context);
}

}  // namespace

Result<std::unique_ptr<Cluster>> StartMpiCluster(std::atomic<bool>* cancel, bool coordinator_only) {
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    return Status::Invalid("--backend mpi: MPI_Init_thread failed (start fanout with mpirun or srun --mpi=pmix)");
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    return Status::Invalid("--backend mpi: this MPI library gives no thread support (MPI_THREAD_FUNNELED needed)");
  }
  // Every rank's host, for the manifest and errors.
  char host[256] = {};
  std::string mine = HostName();
  mine.resize(std::min(mine.size(), sizeof host - 1));
  std::copy(mine.begin(), mine.end(), host);
  std::vector<char> all(static_cast<size_t>(size) * sizeof host);
  MPI_Allgather(host, sizeof host, MPI_CHAR, all.data(), sizeof host, MPI_CHAR, MPI_COMM_WORLD);
  std::vector<std::string> hosts;
  for (int r = 0; r < size; ++r) hosts.emplace_back(all.data() + static_cast<size_t>(r) * sizeof host);
  // Rank 0 and each rank connect now (Open MPI connects on first use): a
  // connection half made when a rank dies would block rank 0 retrying it.
  for (int r = 1; r < size; ++r) {
    int hello = 0;
    if (rank == 0) MPI_Send(&hello, 1, MPI_INT, r, 0, MPI_COMM_WORLD);
    if (rank == r) MPI_Recv(&hello, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rank == r) MPI_Send(&hello, 1, MPI_INT, 0, 0, MPI_COMM_WORLD);
    if (rank == 0) MPI_Recv(&hello, 1, MPI_INT, r, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  }
  auto cluster = std::make_unique<MpiCluster>(rank, size, std::move(hosts), cancel, coordinator_only);
  if (coordinator_only && size < 2)
    return Status::Invalid("--coordinator-only needs at least 2 ranks: rank 0 runs no iteration");
  return std::unique_ptr<Cluster>(std::move(cluster));
}

}  // namespace fanout
