// The `fanout` command: run | validate | plan | status.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "fanout/fanout.h"
#include "report.h"
#include "storage.h"

namespace {

std::atomic<bool> g_cancel{false};

// First SIGINT/SIGTERM: stop starting iterations, interrupt the running ones,
// keep what committed. Second: exit at once (staging is never visible).
void OnSignal(int) {
  if (g_cancel.exchange(true)) _exit(130);
  const char msg[] = "\nfanout: interrupted: stopping (again to exit at once)\n";
  ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
}

void InstallSignalHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int Fail(const fanout::Status& st) {
  fprintf(stderr, "fanout: error: %s\n", st.message().c_str());
  if (st.code() == fanout::Status::Code::kInterrupted) return 130;
  return st.code() == fanout::Status::Code::kInvalid || st.code() == fanout::Status::Code::kBusy ? 2 : 1;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// --only 2,56 (repeatable): at least one n, each once.
fanout::Result<std::vector<std::string>> ParseOnly(const std::vector<std::string>& given) {
  std::vector<std::string> out;
  for (const std::string& s : given) {
    size_t start = 0;
    while (start <= s.size()) {
      size_t end = s.find(',', start);
      if (end == std::string::npos) end = s.size();
      std::string n = Trim(s.substr(start, end - start));
      if (!n.empty() && std::find(out.begin(), out.end(), n) != out.end())
        return fanout::Status::Invalid("--only: n = " + n + " is given twice; give each n once");
      if (!n.empty()) out.push_back(n);
      start = end + 1;
    }
  }
  if (out.empty()) return fanout::Status::Invalid("--only needs at least one n, e.g. --only 2,56");
  return out;
}

// --max-workers N: an integer from 1 to kMaxThreads.
fanout::Result<int> ParseMaxWorkers(const std::string& text) {
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < 1 || v > fanout::kMaxThreads)
    return fanout::Status::Invalid("--max-workers must be an integer from 1 to " + std::to_string(fanout::kMaxThreads) +
                                   " (the iterations in flight at once), got '" + text + "'");
  return static_cast<int>(v);
}

int Run(const std::string& job, const std::vector<std::string>& sets, fanout::RunOptions options, bool json) {
  auto spec = fanout::LoadJobSpec(job, sets);
  if (!spec.ok()) return Fail(spec.status());
  fanout::ConsoleProgress progress(stderr, fanout::ConsoleProgress::IsSmartTerminal(stderr));
  options.events = &progress;
  options.cancel = &g_cancel;
  options.storage = fanout::MaybeFaultyFromEnv(fanout::NewPosixStorage());
  InstallSignalHandlers();
  fanout::RunReport report = fanout::RunJob(*spec, options);
  progress.Done();
  if (!report.status.ok() && report.iterations.empty()) return Fail(report.status);
  if (!report.status.ok() && report.manifest_path.empty() && report.ExitCode() == 2) return Fail(report.status);
  std::string summary = fanout::FormatSummary(report);
  if (json) {
    fputs(summary.c_str(), stderr);
    fputs(report.ToJson().c_str(), stdout);
  } else {
    fputs(summary.c_str(), stdout);
  }
  if (!report.status.ok()) fprintf(stderr, "fanout: error: %s\n", report.status.message().c_str());
  return report.ExitCode();
}

int Validate(const std::string& job, const std::vector<std::string>& sets) {
  auto spec = fanout::LoadJobSpec(job, sets);
  if (!spec.ok()) return Fail(spec.status());
  fanout::Status st = fanout::ValidateJob(*spec);
  if (!st.ok()) return Fail(st);
  printf("%s: valid\n", spec->path.c_str());
  return 0;
}

int Plan(const std::string& job, const std::vector<std::string>& sets, fanout::RunOptions options, bool json) {
  auto spec = fanout::LoadJobSpec(job, sets);
  if (!spec.ok()) return Fail(spec.status());
  auto plan = fanout::PlanJob(*spec, options);
  if (!plan.ok()) return Fail(plan.status());
  if (json) {
    auto a = nlohmann::ordered_json::array();
    for (const auto& p : *plan) {
      nlohmann::ordered_json e;
      e["n"] = nlohmann::json::parse(p.n.ToJson());
      e["kind"] = p.kind;
      e["target"] = p.target;
      e["params"] = nlohmann::json::parse(fanout::Value(fanout::ValueMap(p.params.begin(), p.params.end())).ToJson());
      e["sql"] = p.sql;
      if (options.resume) e["would_run"] = p.would_run, e["reason"] = p.run_reason;
      a.push_back(e);
    }
    printf("%s\n", a.dump(2).c_str());
    return 0;
  }
  printf("job %s: %zu iterations -> %s\n", spec->name.c_str(), plan->size(), spec->output.dir.c_str());
  for (const auto& p : *plan) {
    std::string params;
    for (const auto& [k, v] : p.params)
      if (k != "n" && k != "kind") params += (params.empty() ? "" : " ") + k + "=" + v.ToJson();
    printf("  n=%-8s %s%s  %s\n", p.n.ToString().c_str(), p.target.c_str(),
           p.kind.empty() ? "" : (" kind=" + p.kind).c_str(), params.c_str());
    if (options.resume) printf("           %s: %s\n", p.would_run ? "run " : "skip", p.run_reason.c_str());
  }
  // The SQL once per distinct text (every n of a kind shares it; values are bound).
  std::vector<std::string> shown;
  for (const auto& p : *plan) {
    if (std::find(shown.begin(), shown.end(), p.sql) != shown.end()) continue;
    shown.push_back(p.sql);
    printf("\nSQL%s (params bound as $name):\n%s", p.kind.empty() ? "" : (" for kind " + p.kind).c_str(), p.sql.c_str());
  }
  return 0;
}

int Status(const std::string& out, bool json) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> runs;
  for (const auto& e : fs::directory_iterator(fs::path(out) / "_fanout" / "runs", ec))
    if (e.path().extension() == ".json") runs.push_back(e.path());
  if (ec || runs.empty()) {
    fprintf(stderr, "fanout: error: no run manifests under %s/_fanout/runs (is this a fanout output folder?)\n",
            out.c_str());
    return 2;
  }
  std::sort(runs.begin(), runs.end());
  auto storage = fanout::NewPosixStorage();
  auto read_json = [&](const fs::path& p) {
    auto text = storage->ReadFile(p.string());
    return text.ok() ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json(nlohmann::json::value_t::discarded);
  };
  auto last = read_json(runs.back());
  if (last.is_discarded() || !last.is_object()) {
    fprintf(stderr, "fanout: error: cannot read the manifest %s\n", runs.back().c_str());
    return 2;
  }
  if (json) {
    printf("%s\n", last.dump(2).c_str());
    return 0;
  }
  printf("%zu runs in %s/_fanout/runs\n", runs.size(), out.c_str());
  size_t first = runs.size() > 10 ? runs.size() - 10 : 0;
  for (size_t i = first; i < runs.size(); ++i) {
    auto m = read_json(runs[i]);
    if (m.is_discarded() || !m.is_object()) continue;
    auto c = m["counts"];
    printf("  %s  %-11s %3d committed %3d failed %3d skipped %3d cancelled  %.1fs\n",
           m.value("run_id", "?").c_str(), m.value("status", "?").c_str(), c.value("committed", 0),
           c.value("failed", 0), c.value("skipped", 0), c.value("cancelled", 0), m.value("seconds", 0.0));
  }
  printf("last run %s:\n", last.value("run_id", "?").c_str());
  for (const auto& it : last["iterations"]) {
    std::string err = it["error"].is_string() ? it["error"].get<std::string>() : "";
    printf("  %-12s %-10s %10lld rows  %s\n", it["target"].get<std::string>().c_str(),
           it["status"].get<std::string>().c_str(), static_cast<long long>(it.value("rows", 0LL)),
           err.substr(0, err.find('\n')).c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fanout: run a model sequence in parallel; every iteration committed atomically"};
  app.require_subcommand(1);
  std::string job, out;
  std::vector<std::string> sets, only;
  std::string max_workers;
  bool resume = false, json = false;

  auto* run = app.add_subcommand("run", "run every iteration; exit 0 ok, 1 some failed, 2 invalid, 130 interrupted");
  run->add_option("job", job, "job file (YAML)")->required();
  run->add_option("--max-workers", max_workers, "iterations in flight at once (1 to " +
                                                    std::to_string(fanout::kMaxThreads) + ")");
  auto* run_only = run->add_option("--only", only, "run only these n (comma-separated)");
  run->add_option("--set", sets, "param override, name=value (repeatable)");
  run->add_flag("--resume", resume, "skip iterations whose _SUCCESS fingerprint matches");
  run->add_flag("--json", json, "print the run manifest as JSON on stdout");

  auto* validate = app.add_subcommand("validate", "check the job: parse, load schemas, prepare every transform");
  validate->add_option("job", job, "job file (YAML)")->required();
  validate->add_option("--set", sets, "param override, name=value (repeatable)");

  auto* plan = app.add_subcommand("plan", "print the resolved iterations, their params and SQL");
  plan->add_option("job", job, "job file (YAML)")->required();
  auto* plan_only = plan->add_option("--only", only, "only these n (comma-separated)");
  plan->add_option("--set", sets, "param override, name=value (repeatable)");
  plan->add_flag("--resume", resume, "show which iterations would run and why");
  plan->add_flag("--json", json, "print JSON");

  auto* status = app.add_subcommand("status", "what the last runs wrote, from the manifests");
  status->add_option("out", out, "output folder")->required();
  status->add_flag("--json", json, "print the last manifest as JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  fanout::RunOptions options;
  if (run->count("--max-workers")) {
    auto workers = ParseMaxWorkers(max_workers);
    if (!workers.ok()) return Fail(workers.status());
    options.max_workers = *workers;
  }
  if (run_only->count() + plan_only->count() > 0) {
    auto wanted = ParseOnly(only);
    if (!wanted.ok()) return Fail(wanted.status());
    options.only = std::move(wanted).value();
  }
  options.resume = resume;
  if (*run) return Run(job, sets, options, json);
  if (*validate) return Validate(job, sets);
  if (*plan) return Plan(job, sets, options, json);
  try {
    return Status(out, json);
  } catch (const nlohmann::json::exception& e) {  // a manifest that is not fanout's
    fprintf(stderr, "fanout: error: unexpected manifest content under %s/_fanout/runs: %s\n", out.c_str(), e.what());
    return 2;
  }
}
