// The output store and backend seams: a job run through a store that is not
// the local filesystem (an in-memory one, shaped like an object store) keeps
// every guarantee the runner owns — each output published with its marker,
// resume trusting markers, one failed publish failing only its iteration,
// the manifest in the store — and a backend other than the local one gets
// exactly the iterations still to run.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "fakes.h"
#include "fanout/job.h"
#include "fanout/record.h"
#include "fanout/store.h"
#include "job_internal.h"
#include "storage.h"
#include "temp_dir.h"

namespace fanout {
namespace {

using test::FakeBackend;
using test::InMemoryStore;

class StoreSeamTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    Write("t.csv", "id,v\n1,10\n2,20\n3,30\n");
    store_ = std::make_shared<InMemoryStore>(kOut, dir_ + "/scratch");
  }

  JobSpec Spec(const std::string& extra = "") {
    auto spec = ParseJobSpec("inputs: {t: t.csv}\nsequence: [1, 2, 3]\n"
                             "transform: SELECT id, v * $n AS w FROM t WHERE id <= $n\n"
                             "output: {dir: \"" + std::string(kOut) + "\"}\n" + extra,
                             dir_ + "/job.yaml");
    EXPECT_TRUE(spec.ok()) << spec.status().message();
    return *spec;
  }

  RunReport Run(const JobSpec& spec, bool resume = false) {
    RunOptions options;
    options.store = store_;
    options.resume = resume;
    return RunJob(spec, options);
  }

  static constexpr const char* kOut = "/nonexistent/fanout-memory-out";
  std::shared_ptr<InMemoryStore> store_;
};

TEST_F(StoreSeamTest, EveryIterationIsPublishedThroughTheStoreWithItsMarker) {
  RunReport report = Run(Spec());
  ASSERT_TRUE(report.status.ok()) << report.status.message();
  EXPECT_EQ(report.Count(IterationStatus::kCommitted), 3);
  auto outputs = store_->outputs();
  ASSERT_EQ(outputs.size(), 3u);
  for (int n = 1; n <= 3; ++n) {
    const auto& o = outputs.at("iter_" + std::to_string(n));
    EXPECT_EQ(o.marker.rows, n) << "iter_" << n;
    EXPECT_EQ(o.marker.run_id, report.run_id);
    ASSERT_EQ(o.marker.files.size(), 1u);
    EXPECT_EQ(o.marker.files[0].name, "part-00000.parquet");
    EXPECT_EQ(o.marker.files[0].bytes, static_cast<int64_t>(o.files.at("part-00000.parquet").size()));
    EXPECT_GT(o.marker.files[0].bytes, 0);
  }
  // Nothing went to the filesystem at output.dir, and the attempts' local
  // staging is gone.
  EXPECT_FALSE(std::filesystem::exists(kOut));
  EXPECT_TRUE(!std::filesystem::exists(dir_ + "/scratch/" + report.run_id));
  // The manifest is the store's, and reads back as the report.
  auto text = store_->ReadRunFile(report.run_id + ".json");
  ASSERT_TRUE(text.ok()) << text.status().message();
  auto manifest = Manifest::FromJson(*text);
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  EXPECT_EQ(manifest->status, "succeeded");
  EXPECT_EQ(manifest->counts.committed, 3);
  EXPECT_FALSE(*store_->LockHeld()) << "the run released the store's lock";
}

TEST_F(StoreSeamTest, ResumeTrustsTheStoresMarkersAndRerunsWhatChanged) {
  ASSERT_EQ(Run(Spec()).ExitCode(), 0);
  ASSERT_EQ(store_->publishes(), 3);
  RunReport again = Run(Spec(), /*resume=*/true);
  ASSERT_EQ(again.ExitCode(), 0) << again.status.message();
  EXPECT_EQ(again.Count(IterationStatus::kSkipped), 3);
  EXPECT_EQ(store_->publishes(), 3) << "an up-to-date output is never published again";
  // A changed param reruns only what it changes (every iteration here).
  RunReport changed = Run(Spec("params: {unused: 1}\n"), /*resume=*/true);
  ASSERT_EQ(changed.ExitCode(), 0) << changed.status.message();
  EXPECT_EQ(changed.Count(IterationStatus::kCommitted), 3);
  for (const IterationReport& it : changed.iterations) EXPECT_EQ(it.run_reason, "changed: params");
  ASSERT_EQ(store_->ListRuns()->size(), 3u);
}

TEST_F(StoreSeamTest, AFailedPublishFailsOnlyItsIterationAndKeepsTheOldOutput) {
  ASSERT_EQ(Run(Spec()).ExitCode(), 0);
  const Marker before = store_->outputs().at("iter_2").marker;
  store_->fail_publish = {"iter_2"};
  RunReport report = Run(Spec("params: {unused: 1}\n"));
  EXPECT_EQ(report.ExitCode(), 1);
  for (const IterationReport& it : report.iterations) {
    if (it.target == "iter_2") {
      EXPECT_EQ(it.status, IterationStatus::kFailed);
      EXPECT_NE(it.error.find("the store refused iter_2"), std::string::npos) << it.error;
    } else {
      EXPECT_EQ(it.status, IterationStatus::kCommitted) << it.target;
    }
  }
  EXPECT_EQ(store_->outputs().at("iter_2").marker, before) << "the old output stays whole";
}

TEST_F(StoreSeamTest, AStoreOfAnotherLocationIsRefused) {
  RunOptions options;
  options.store = std::make_shared<InMemoryStore>("/elsewhere", dir_ + "/scratch");
  RunReport report = RunJob(Spec(), options);
  EXPECT_EQ(report.ExitCode(), 2);
  EXPECT_NE(report.status.message().find("/elsewhere"), std::string::npos) << report.status.message();
}

TEST_F(StoreSeamTest, ABackendGetsOnlyThePendingIterationsAndItsOutcomesAreTheManifests) {
  ASSERT_EQ(Run(Spec()).ExitCode(), 0);
  auto backend = std::make_shared<FakeBackend>([](const Iteration& it, std::string* error) {
    if (it.key == "3") {
      *error = "model diverged";
      return IterationStatus::kFailed;
    }
    return IterationStatus::kCommitted;
  });
  RunOptions options;
  options.store = store_;
  options.only = {"1", "3"};
  JobSpec spec = Spec("params: {unused: 2}\n");
  auto job = OpenJob(spec, options, NewPosixStorage(), [backend](const BackendContext&) {
    struct Forward : Backend {
      std::shared_ptr<FakeBackend> b;
      bool Run(const std::vector<Iteration>& its, std::vector<IterationReport>& reports,
               const std::vector<size_t>& order, const SchedulerOptions& o) override {
        return b->Run(its, reports, order, o);
      }
    };
    auto f = std::make_unique<Forward>();
    f->b = backend;
    return std::unique_ptr<Backend>(std::move(f));
  });
  ASSERT_TRUE(job.ok()) << job.status().message();
  RunReport report = (*job)->Run();
  EXPECT_EQ(report.ExitCode(), 1);
  EXPECT_EQ(std::set<std::string>(backend->given.begin(), backend->given.end()), (std::set<std::string>{"1", "3"}));
  auto manifest = Manifest::FromJson(*store_->ReadRunFile(report.run_id + ".json"));
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  ASSERT_EQ(manifest->iterations.size(), 2u);
  for (const IterationReport& it : manifest->iterations)
    EXPECT_EQ(it.status, it.n == Value(int64_t{3}) ? IterationStatus::kFailed : IterationStatus::kCommitted);
  EXPECT_EQ(manifest->status, "failed");
}

TEST_F(StoreSeamTest, AnOpenedJobLoadsOnceForValidatePlanAndRun) {
  RunOptions options;
  options.store = store_;
  auto job = Job::Open(Spec(), options);
  ASSERT_TRUE(job.ok()) << job.status().message();
  ASSERT_TRUE((*job)->Load().ok());
  // Loaded once: the input file may go now; validate, plan and run use the load.
  std::filesystem::remove(dir_ + "/t.csv");
  std::vector<std::string> warnings;
  EXPECT_TRUE((*job)->Validate(&warnings).ok());
  auto plan = (*job)->Plan();
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->size(), 3u);
  RunReport report = (*job)->Run();
  EXPECT_EQ(report.ExitCode(), 0) << report.status.message();
  EXPECT_EQ(store_->outputs().size(), 3u);
  EXPECT_EQ((*job)->Run().ExitCode(), 2) << "a job runs once";
}

}  // namespace
}  // namespace fanout

namespace fanout {
namespace {

class JobApiTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    Write("t.csv", "id\n1\n2\n");
  }
  JobSpec Spec(const std::string& out = "out") {
    auto spec = ParseJobSpec("inputs: {t: t.csv}\nsequence: [1, 2]\ntransform: SELECT id * $n AS x FROM t\n"
                             "output: {dir: " + out + "}\n",
                             dir_ + "/job.yaml");
    EXPECT_TRUE(spec.ok()) << spec.status().message();
    return *spec;
  }
};

// Run ids sort in start order (status and longest-first rely on it): a job
// opened first and run last gets the newest id.
TEST_F(JobApiTest, TheRunIdIsTakenWhenTheJobRunsNotWhenItOpens) {
  auto a = Job::Open(Spec());
  auto b = Job::Open(Spec());
  ASSERT_TRUE(a.ok() && b.ok());
  RunReport rb = (*b)->Run();
  RunReport ra = (*a)->Run();
  ASSERT_EQ(rb.ExitCode(), 0) << rb.status.message();
  ASSERT_EQ(ra.ExitCode(), 0) << ra.status.message();
  EXPECT_LT(rb.run_id, ra.run_id);
}

// Load may write the input cache: it refuses first what the run would refuse
// before loading (a target holding someone else's folder), writing nothing.
TEST_F(JobApiTest, LoadRefusesForeignTargetsBeforeWritingAnything) {
  std::filesystem::create_directories(dir_ + "/out/iter_2");
  Write("out/iter_2/mine.txt", "not fanout's");
  auto job = Job::Open(Spec());
  ASSERT_TRUE(job.ok()) << job.status().message();
  Status st = (*job)->Load();
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_NE(st.message().find("iter_2"), std::string::npos) << st.message();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/.fanout-cache")) << "the cache was written before the refusal";
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/out/_fanout"));
}

// A load before the run spills outside OUT (no run holds OUT's lock yet), and
// its folder goes with the job.
TEST_F(JobApiTest, AnEarlyLoadKeepsItsSpillOutOfTheOutputFolder) {
  auto job = Job::Open(Spec());
  ASSERT_TRUE(job.ok()) << job.status().message();
  ASSERT_TRUE((*job)->Load().ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/out")) << "Load wrote under OUT";
  RunReport report = (*job)->Run();
  EXPECT_EQ(report.ExitCode(), 0) << report.status.message();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/out/.fanout-staging"));
}

}  // namespace
}  // namespace fanout
