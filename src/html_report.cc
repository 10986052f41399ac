// html_report: see html_report.h. The page is kHtml below with the run's data
// (JSON, "</" escaped) in a script element; its script draws everything.
#include "html_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

namespace fanout {
namespace {

using Json = nlohmann::json;

// Seconds since `t0`, to the millisecond; -1 when the step never happened.
double Rel(double t, double t0) { return t > 0 ? std::round((t - t0) * 1000) / 1000 : -1; }

// The earliest time the run's iterations know of.
double Origin(const Manifest& m) {
  double t0 = 0;
  auto take = [&](double t) {
    if (t > 0 && (t0 == 0 || t < t0)) t0 = t;
  };
  for (const IterationReport& it : m.iterations) {
    take(it.started_at);
    for (const AttemptTrace& a : it.trace) take(a.queued);
  }
  return t0;
}

Json Header(const Manifest& m, const Manifest* previous) {
  Json h = {{"job", m.job},         {"run_id", m.run_id},     {"release", m.release},
            {"host", m.host},       {"started_at", m.started_at}, {"seconds", m.seconds},
            {"status", m.status},   {"max_workers", m.max_workers}, {"threads", m.threads},
            {"memory_limit", m.memory_limit}, {"error", m.error}, {"out_dir", m.out_dir}};
  h["counts"] = {m.counts.total, m.counts.committed, m.counts.failed, m.counts.skipped, m.counts.cancelled};
  if (previous) h["previous"] = {{"run_id", previous->run_id}, {"seconds", previous->seconds},
                                 {"status", previous->status}};
  return h;
}

// [n, kind, status, attempts, seconds, rows, bytes, error, sql, skip_reason,
//  run_reason, previous seconds or null]
Json Iterations(const Manifest& m, const Manifest* previous) {
  std::map<std::string, double> before;
  if (previous)
    for (const IterationReport& it : previous->iterations)
      if (it.status == IterationStatus::kCommitted) before[it.target] = it.seconds();
  Json out = Json::array();
  for (const IterationReport& it : m.iterations) {
    auto prev = before.find(it.target);
    std::string sql = it.trace.empty() ? "" : it.trace.back().sql;
    out.push_back({it.n.ToString(), it.kind, ToString(it.status), it.attempts, std::round(it.seconds() * 1000) / 1000,
                   it.rows, it.bytes, it.error, sql, it.skip_reason, it.run_reason,
                   prev == before.end() ? Json(nullptr) : Json(std::round(prev->second * 1000) / 1000)});
  }
  return out;
}

// [iteration index, attempt, status, worker, queued, started, staged,
//  engine_done, published, finished, retry_reason, error, cpu_seconds]
Json Attempts(const Manifest& m, double t0) {
  Json out = Json::array();
  for (size_t i = 0; i < m.iterations.size(); ++i) {
    for (const AttemptTrace& a : m.iterations[i].trace) {
      out.push_back({i, a.attempt, a.status, a.worker, Rel(a.queued, t0), Rel(a.started, t0), Rel(a.staged, t0),
                     Rel(a.engine_done, t0), Rel(a.published, t0), Rel(a.finished, t0), a.retry_reason,
                     a.status == "committed" ? "" : a.error, std::round(a.cpu_seconds * 1000) / 1000});
    }
  }
  return out;
}

// The page: kHtml, with "@DATA@" where the JSON goes.
#include "html_report_page.inc"

}  // namespace

std::string RenderHtmlReport(const Manifest& run, const Manifest* previous) {
  Json data = {{"run", Header(run, previous)},
               {"its", Iterations(run, previous)},
               {"att", Attempts(run, Origin(run))}};
  std::string json = data.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string safe;  // "</script>" inside a string must not end the element
  safe.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '<' && i + 1 < json.size() && json[i + 1] == '/') safe += "<\\";
    else safe += json[i];
  }
  std::string page = kHtml;
  const std::string mark = "@DATA@";
  page.replace(page.find(mark), mark.size(), safe);
  return page;
}

std::optional<Manifest> PreviousManifest(OutputStore& store, const std::string& run_id) {
  auto runs = store.ListRuns();
  if (!runs.ok()) return std::nullopt;
  for (auto id = runs->rbegin(); id != runs->rend(); ++id) {
    if (*id >= run_id) continue;
    auto text = store.ReadRunFile(*id + ".json");
    if (!text.ok()) continue;
    auto m = Manifest::FromJson(*text);
    if (m.ok()) return std::move(m).value();
  }
  return std::nullopt;
}

}  // namespace fanout
