// A model with C++ in it, run by fanout (see README.md here and
// docs/cpp_api.md): job.yaml names a C++ transform, `segment`, which this
// program registers, and the SQL it runs calls a C++ scalar function,
// risk_score, registered on the job's engine before anything runs. Built only
// against an installed fanout.
//
//   cpp_transform_example JOB_YAML [OUTPUT_DIR]   (default: the job's output.dir)
#include <fanout/fanout.h>
#include <fanout/job.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

// The toy score: what a customer spent plus 20 per order. Called by the
// engine from many threads at once: it keeps no state.
fanout::Value RiskScore(const std::vector<fanout::Value>& args) {
  const auto orders = std::get<int64_t>(args[0].v);
  const auto total = std::get<double>(args[1].v);
  return fanout::Value(total + 20.0 * static_cast<double>(orders));
}

// One iteration: every customer's orders up to month $n, scored by the
// engine (risk_score), put in a segment here, appended to the result.
fanout::Status Segment(fanout::TransformContext& ctx) {
  auto scores = ctx.Query(
      "SELECT customer, count(*) AS orders, sum(amount)::DOUBLE AS total, "
      "risk_score(count(*), sum(amount)::DOUBLE) AS score "
      "FROM orders WHERE month <= $n GROUP BY customer ORDER BY customer");
  if (!scores.ok()) return scores.status();
  auto out = ctx.ResultTable({{"customer", fanout::SqlType::kBigint},
                              {"orders", fanout::SqlType::kBigint},
                              {"total", fanout::SqlType::kDouble},
                              {"score", fanout::SqlType::kDouble},
                              {"segment", fanout::SqlType::kVarchar}});
  if (!out.ok()) return out.status();
  const double gold = std::get<double>(ctx.params().at("gold").v);
  const double silver = std::get<double>(ctx.params().at("silver").v);
  for (const auto& row : scores->rows) {
    if (ctx.cancelled()) return fanout::Status::Interrupted("cancelled");
    const double score = std::get<double>(row[3].v);
    const char* segment = score >= gold ? "gold" : score >= silver ? "silver" : "bronze";
    FANOUT_RETURN_IF_ERROR((*out)->Append({row[0], row[1], row[2], row[3], fanout::Value(segment)}));
  }
  return fanout::Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s JOB_YAML [OUTPUT_DIR]\n", argv[0]);
    return 2;
  }
  auto spec = fanout::LoadJobSpec(argv[1]);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", spec.status().message().c_str());
    return 2;
  }
  if (argc > 2) spec->output.dir = argv[2];

  fanout::RunOptions options;
  options.on_engine_ready = [](fanout::Engine& engine) {
    return engine.RegisterScalarFunction("risk_score", {fanout::SqlType::kBigint, fanout::SqlType::kDouble},
                                         fanout::SqlType::kDouble, RiskScore);
  };
  // Change the version when Segment changes: --resume reruns what it computed.
  options.transforms["segment"] = {Segment, "segment-v1"};

  auto job = fanout::Job::Open(*spec, options);
  if (!job.ok()) {
    std::fprintf(stderr, "%s\n", job.status().message().c_str());
    return 2;
  }
  fanout::RunReport report = (*job)->Run();
  if (!report.status.ok()) std::fprintf(stderr, "%s\n", report.status.message().c_str());
  std::printf("%s: %d committed, %d failed, outputs in %s\n", report.job_name.c_str(),
              report.Count(fanout::IterationStatus::kCommitted), report.Count(fanout::IterationStatus::kFailed),
              report.out_dir.c_str());
  for (const auto& it : report.iterations)
    std::printf("  %s  %-9s %lld rows  %s\n", it.target.c_str(), fanout::ToString(it.status),
                static_cast<long long>(it.rows), it.error.c_str());
  return report.ExitCode();
}
