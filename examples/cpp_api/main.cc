// Using fanout from C++: builds a job in code (no job file), checks it with
// fanout::Validate, opens it once (fanout::Job: one load serves the plan and
// the run), runs it into a folder, prints a summary, and reads the run's
// manifest back through the output store as a typed record. Built only
// against an installed fanout (see README.md here).
//
//   cpp_api_example [folder]   (default: a new folder under /tmp)
#include <fanout/fanout.h>
#include <fanout/job.h>
#include <fanout/record.h>
#include <fanout/store.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

// The job: for n in 1..3, the sales of the first n days, summed per region.
fanout::Result<fanout::JobSpec> BuildJob(const std::string& dir) {
  std::ofstream(dir + "/sales.csv") << "day,region,amount\n1,north,10\n1,south,5\n2,north,7\n3,south,4\n";
  fanout::JobSpec spec;
  spec.name = "cpp-api-example";
  spec.inputs.push_back({"sales", dir + "/sales.csv", "csv", {}});
  spec.params["min_amount"] = fanout::Value(int64_t{5});
  spec.sequence.kind = fanout::SequenceSpec::Kind::kRange;
  spec.sequence.first = 1;
  spec.sequence.last = 3;
  spec.transform = fanout::TransformSpec{
      "SELECT region, sum(amount) AS total FROM sales WHERE day <= $n AND amount >= $min_amount "
      "GROUP BY region ORDER BY region",
      "main.cc"};
  spec.output.dir = dir + "/out";
  spec.cache.enabled = false;
  spec.run.max_workers = 2;
  FANOUT_RETURN_IF_ERROR(fanout::Validate(spec));
  return spec;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "";
  if (dir.empty()) {
    char tmpl[] = "/tmp/fanout-cpp-api-XXXXXX";
    if (!mkdtemp(tmpl)) return 2;
    dir = tmpl;
  }
  std::filesystem::create_directories(dir);
  auto spec = BuildJob(dir);
  if (!spec.ok()) {
    std::fprintf(stderr, "invalid job: %s\n", spec.status().message().c_str());
    return 2;
  }
  auto job = fanout::Job::Open(*spec);
  if (!job.ok()) {
    std::fprintf(stderr, "cannot open the job: %s\n", job.status().message().c_str());
    return 2;
  }
  fanout::Status loaded = (*job)->Load();
  auto plan = loaded.ok() ? (*job)->Plan() : fanout::Result<std::vector<fanout::PlannedIteration>>(loaded);
  if (!plan.ok()) {
    std::fprintf(stderr, "cannot plan: %s\n", plan.status().message().c_str());
    return 2;
  }
  std::printf("planned %zu iterations\n", plan->size());
  fanout::RunReport report = (*job)->Run();
  if (!report.status.ok()) std::fprintf(stderr, "run failed: %s\n", report.status.ToString().c_str());
  std::printf("%s: %d committed, %d failed, outputs in %s\n", report.job_name.c_str(),
              report.Count(fanout::IterationStatus::kCommitted), report.Count(fanout::IterationStatus::kFailed),
              report.out_dir.c_str());
  for (const auto& it : report.iterations)
    std::printf("  %s  %-9s %lld rows  %s\n", it.target.c_str(), fanout::ToString(it.status),
                static_cast<long long>(it.rows), it.error.c_str());
  // The manifest, read back through the store as a typed record.
  auto store = fanout::NewLocalStore(spec->output.dir);
  auto text = store->ReadRunFile(report.run_id + ".json");
  auto manifest = text.ok() ? fanout::Manifest::FromJson(*text) : fanout::Result<fanout::Manifest>(text.status());
  if (!manifest.ok()) {
    std::fprintf(stderr, "cannot read the manifest: %s\n", manifest.status().message().c_str());
    return 1;
  }
  std::printf("manifest %s: %s, %lld committed\n", manifest->run_id.c_str(), manifest->status.c_str(),
              static_cast<long long>(manifest->counts.committed));
  return report.ExitCode();
}
