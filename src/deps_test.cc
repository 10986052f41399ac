#include "deps.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "fakes.h"
#include "scheduler.h"

namespace fanout {
namespace {

using test::FakeExecutor;
using test::Gate;

// Iterations named by key (target iter_<key>), with kinds, and the after:
// entries given as {of, {needs...}}.
struct Graph {
  std::vector<Iteration> its;
  std::vector<IterationReport> reports;
  std::vector<size_t> order;
  JobSpec spec;

  Graph(const std::vector<std::pair<std::string, std::string>>& keys_and_kinds,
        const std::vector<std::pair<std::string, std::vector<std::string>>>& after) {
    for (const auto& [key, kind] : keys_and_kinds) {
      Iteration it;
      it.index = its.size();
      it.n = Value(key);
      it.key = key;
      it.kind = kind;
      it.target = "iter_" + key;
      it.fp_inputs = "in";
      it.fingerprint = "fp-" + key;
      IterationReport r;
      r.n = it.n;
      r.target = it.target;
      order.push_back(its.size());
      its.push_back(it);
      reports.push_back(r);
    }
    spec.path = "/job.yaml";
    spec.output.dir = "/out";
    for (const auto& [of, needs] : after) {
      AfterSpec a;
      a.of = of;
      a.where = "job.yaml:" + of;
      for (const std::string& n : needs) {
        if (n.rfind("kind:", 0) == 0) {
          a.kinds.push_back(n.substr(5));
        } else {
          a.needs.push_back(n);
        }
        a.needs_where.push_back("job.yaml:" + of + ":" + n);
      }
      spec.after.push_back(a);
    }
  }
  size_t Of(const std::string& key) const {
    for (size_t i = 0; i < its.size(); ++i)
      if (its[i].key == key) return i;
    ADD_FAILURE() << "no " << key;
    return 0;
  }
  IterationReport& Report(const std::string& key) { return reports[Of(key)]; }
};

TEST(DepsTest, ResolvesByNOutputNameAndKindAndChainsFingerprints) {
  Graph g({{"fit", "f"}, {"2", "score"}, {"3", "score"}, {"all", "agg"}},
          {{"2", {"fit"}}, {"3", {"iter_fit"}}, {"all", {"kind:score"}}});
  ASSERT_TRUE(ResolveDependencies(g.spec, g.its).ok());
  ASSERT_EQ(g.its[g.Of("all")].deps.size(), 2u);
  EXPECT_EQ(g.its[g.Of("all")].deps[0].key, "2");
  EXPECT_EQ(g.its[g.Of("3")].deps[0].target, "iter_fit");
  EXPECT_FALSE(g.its[g.Of("3")].reusable_session);
  const std::string all_fp = g.its[g.Of("all")].fingerprint;
  EXPECT_NE(g.its[g.Of("2")].fp_inputs, "in");  // the dependency's fingerprint is part of it

  // A dependency whose own fingerprint changes changes its dependants' and theirs.
  Graph changed({{"fit", "f"}, {"2", "score"}, {"3", "score"}, {"all", "agg"}},
                {{"2", {"fit"}}, {"3", {"iter_fit"}}, {"all", {"kind:score"}}});
  changed.its[0].fingerprint = "fp-fit-2";
  ASSERT_TRUE(ResolveDependencies(changed.spec, changed.its).ok());
  EXPECT_NE(changed.its[changed.Of("all")].fingerprint, all_fp);
  EXPECT_NE(changed.its[changed.Of("2")].fingerprint, g.its[g.Of("2")].fingerprint);
}

TEST(DepsTest, ACycleIsNamedWhereItIsDeclared) {
  Graph g({{"1", ""}, {"2", ""}, {"3", ""}, {"4", ""}}, {{"2", {"1"}}, {"3", {"2"}}, {"1", {"3"}}, {"4", {"1"}}});
  Status st = ResolveDependencies(g.spec, g.its);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("a cycle: "), std::string::npos) << st.message();
  for (const char* part : {"n=1 waits for n=3", "n=3 waits for n=2", "n=2 waits for n=1"})
    EXPECT_NE(st.message().find(part), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find("n=4"), std::string::npos) << "4 only waits for the cycle: " << st.message();
  EXPECT_EQ(st.message().rfind("job.yaml:", 0), 0u) << st.message();

  Graph self({{"1", ""}}, {{"1", {"1"}}});
  st = ResolveDependencies(self.spec, self.its);
  EXPECT_NE(st.message().find("cannot wait for itself"), std::string::npos) << st.message();
}

TEST(DepsTest, AMissingIterationOrKindIsAnErrorAtItsPlace) {
  Graph g({{"1", ""}, {"2", ""}}, {{"2", {"7"}}});
  Status st = ResolveDependencies(g.spec, g.its);
  EXPECT_EQ(st.message().rfind("job.yaml:2:7: after.2: '7' is not an iteration", 0), 0u) << st.message();
  Graph k({{"1", "a"}, {"2", ""}}, {{"2", {"kind:b"}}});
  st = ResolveDependencies(k.spec, k.its);
  EXPECT_NE(st.message().find("no other iteration is of kind 'b'"), std::string::npos) << st.message();
  Graph of({{"1", ""}}, {{"9", {"1"}}});
  st = ResolveDependencies(of.spec, of.its);
  EXPECT_NE(st.message().find("after: '9' is not an iteration"), std::string::npos) << st.message();
}

// Runs the graph on the scheduler; each attempt checks that every dependency
// has committed before it starts.
struct Checked {
  Graph& g;
  FakeExecutor exec;
  std::atomic<int> early{0};
  std::mutex mu;
  std::vector<std::string> started;

  explicit Checked(Graph& graph) : g(graph) {}
  bool Run(int workers, std::function<Status(const Iteration&)> body = nullptr, const std::atomic<bool>* cancel = nullptr) {
    exec.behave = [this, body](const Iteration& it, int, Interrupter&) {
      for (const Dependency& d : it.deps)
        if (g.Report(d.key).status != IterationStatus::kCommitted) ++early;
      {
        std::lock_guard<std::mutex> lock(mu);
        started.push_back(it.key);
      }
      return body ? body(it) : Status::Ok();
    };
    SchedulerOptions so;
    so.workers = workers;
    so.committers = 2;
    so.cancel = cancel;
    return RunIterations(g.its, g.reports, g.order, exec, so);
  }
};

TEST(DepsTest, ADiamondRunsEachIterationAfterItsDependenciesCommitted) {
  Graph g({{"d", ""}, {"b", ""}, {"c", ""}, {"a", ""}}, {{"b", {"a"}}, {"c", {"a"}}, {"d", {"b", "c"}}});
  ASSERT_TRUE(ResolveDependencies(g.spec, g.its).ok());
  Checked run(g);
  run.Run(4);
  EXPECT_EQ(run.early.load(), 0);
  for (const auto& r : g.reports) EXPECT_EQ(r.status, IterationStatus::kCommitted) << r.n.ToString();
  ASSERT_EQ(run.started.size(), 4u);
  EXPECT_EQ(run.started.front(), "a");
  EXPECT_EQ(run.started.back(), "d");
}

TEST(DepsTest, AReadyIterationDoesNotWaitBehindABlockedOne) {
  // a blocks until c has run; b waits for a. A pool that took iterations in
  // order would hold its second worker on b and never run c.
  Graph g({{"a", ""}, {"b", ""}, {"c", ""}}, {{"b", {"a"}}});
  ASSERT_TRUE(ResolveDependencies(g.spec, g.its).ok());
  Gate c_ran;
  Checked run(g);
  run.Run(2, [&](const Iteration& it) {
    if (it.key == "c") c_ran.Open();
    if (it.key == "a" && !c_ran.Wait()) return Status::Failed("c never ran while a was running");
    return Status::Ok();
  });
  for (const auto& r : g.reports) EXPECT_EQ(r.status, IterationStatus::kCommitted) << r.n.ToString() << " " << r.error;
  EXPECT_EQ(run.early.load(), 0);
}

TEST(DepsTest, AFailedDependencySkipsItsDependantsWithTheReason) {
  Graph g({{"a", ""}, {"b", ""}, {"c", ""}, {"d", ""}, {"e", ""}}, {{"b", {"a"}}, {"c", {"b"}}, {"d", {"b", "e"}}});
  ASSERT_TRUE(ResolveDependencies(g.spec, g.its).ok());
  Checked run(g);
  run.Run(3, [](const Iteration& it) { return it.key == "a" ? Status::Failed("boom") : Status::Ok(); });
  EXPECT_EQ(g.Report("a").status, IterationStatus::kFailed);
  EXPECT_EQ(g.Report("b").status, IterationStatus::kSkipped);
  EXPECT_EQ(g.Report("b").skip_reason, "dependency n=a failed");
  EXPECT_EQ(g.Report("c").skip_reason, "dependency n=b was skipped (n=a failed)");
  EXPECT_EQ(g.Report("d").status, IterationStatus::kSkipped);
  EXPECT_EQ(g.Report("e").status, IterationStatus::kCommitted);
  EXPECT_EQ(run.started.size(), 2u);  // a and e; no dependant of a ever started
  EXPECT_EQ(g.Report("c").attempts, 0);
}

TEST(DepsTest, ACancelWhileDependantsWaitCancelsThemAndReturns) {
  Graph g({{"a", ""}, {"b", ""}, {"c", ""}}, {{"b", {"a"}}, {"c", {"b"}}});
  ASSERT_TRUE(ResolveDependencies(g.spec, g.its).ok());
  std::atomic<bool> cancel{false};
  Checked run(g);
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel = true;
  });
  EXPECT_TRUE(run.Run(2, [&](const Iteration&) {
    while (!cancel) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return Status::Interrupted("cancelled");
  }, &cancel));
  canceller.join();
  for (const auto& r : g.reports) EXPECT_NE(r.status, IterationStatus::kCommitted) << r.n.ToString();
  EXPECT_EQ(run.started.size(), 1u);
}

TEST(DepsTest, WithoutDependenciesTheGivenOrderIsKept) {
  Graph g({{"1", ""}, {"2", ""}, {"3", ""}, {"4", ""}}, {});
  g.order = {3, 1, 0, 2};
  Checked run(g);
  run.Run(1);
  EXPECT_EQ(run.started, (std::vector<std::string>{"4", "2", "1", "3"}));
}

}  // namespace
}  // namespace fanout
