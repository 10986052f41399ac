// The run's trace and HTML report, through the real binary: every attempt is
// in the manifest and in <run-id>.trace.tsv with its times in order, and the
// report is one self-contained file that Chromium renders with one timeline
// bar per attempt (skipped when Debian's chromium is not installed).
#include <gtest/gtest.h>

#include <sstream>

#include "fanout/record.h"
#include "report.h"
#include "test_util.h"

namespace fanout {
namespace test {
namespace {

// n = 1 times out twice (a retried attempt, then a failed one); 2 and 3 commit.
constexpr char kJob[] =
    "name: report-job\n"
    "sequence: [1, 2, 3]\n"
    "transform: SELECT count(*) AS n FROM range(CASE WHEN $n = 1 THEN 10000000000 ELSE 10 END)\n"
    "output:\n  dir: out\n"
    "cache: false\n"
    "run: {timeout: 300ms, retries: 1, retry_backoff: 10ms, max_workers: 2}\n";

class ReportTest : public FanoutTest {
 protected:
  Manifest Read(const std::string& run_id) {
    auto m = Manifest::FromJson(ReadFile(OutPath("_fanout/runs/" + run_id + ".json")));
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : Manifest{};
  }
  // The run id of the report path a run printed ("fanout: report: ...").
  static std::string ReportPathOf(const RunResult& r) {
    std::string line = LineWith(r.err, "fanout: report: ");
    return line.empty() ? "" : line.substr(line.find(": report: ") + 10);
  }
  static size_t Count(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  }
};

void ExpectOrdered(const IterationReport& it, const AttemptTrace& a) {
  SCOPED_TRACE("n=" + it.n.ToString() + " attempt " + std::to_string(a.attempt));
  EXPECT_GT(a.queued, 0);
  EXPECT_LE(a.queued, a.started);
  EXPECT_LE(a.started, a.staged);
  EXPECT_LE(a.staged, a.engine_done);
  if (a.status == "committed") {
    EXPECT_LE(a.engine_done, a.published);
    EXPECT_LE(a.published, a.finished);
  } else {
    EXPECT_EQ(a.published, 0) << "an attempt that failed published nothing";
    EXPECT_LE(a.engine_done, a.finished);
  }
}

TEST_F(ReportTest, EveryAttemptIsTracedInOrderInTheManifestAndTheTsv) {
  Write("job.yaml", kJob);
  RunResult r = Run({"--json"});
  ASSERT_EQ(r.exit_code, 1) << r.Describe();
  Manifest m = Read(nlohmann::json::parse(r.out).value("run_id", ""));
  ASSERT_EQ(m.iterations.size(), 3u);
  size_t attempts = 0;
  for (const IterationReport& it : m.iterations) {
    ASSERT_EQ(it.trace.size(), static_cast<size_t>(it.attempts)) << it.n.ToString();
    attempts += it.trace.size();
    const double us = 1e-6;  // the trace's times are written to the microsecond
    EXPECT_LE(it.started_at, it.trace.front().started + us);
    EXPECT_LE(it.trace.back().finished, it.finished_at + us);
    for (size_t k = 0; k < it.trace.size(); ++k) {
      ExpectOrdered(it, it.trace[k]);
      if (k > 0) {
        EXPECT_LE(it.trace[k - 1].finished, it.trace[k].queued) << "a retry waits for the attempt before";
      }
    }
  }
  const IterationReport& slow = m.iterations[0];
  ASSERT_EQ(slow.trace.size(), 2u);
  EXPECT_EQ(slow.trace[0].status, "retried");
  EXPECT_EQ(slow.trace[0].retry_reason, "timeout");
  EXPECT_EQ(slow.trace[1].status, "failed");
  EXPECT_EQ(slow.trace[1].error, slow.error);
  EXPECT_NE(slow.trace[1].sql.find("range("), std::string::npos) << "the statement that was running";
  EXPECT_EQ(m.iterations[1].trace[0].status, "committed");
  EXPECT_EQ(m.iterations[1].trace[0].rows, m.iterations[1].rows);
  EXPECT_EQ(m.iterations[1].trace[0].bytes, m.iterations[1].bytes);

  std::string tsv = ReadFile(OutPath("_fanout/runs/" + m.run_id + ".trace.tsv"));
  EXPECT_EQ(Count(tsv, "\n"), attempts + 1) << tsv;
  EXPECT_EQ(tsv.rfind("n\ttarget\tkind\tattempt\tstatus\tworker\tqueued\t", 0), 0u) << tsv;
  EXPECT_EQ(Count(LineWith(tsv, "\tretried\t"), "\t"), Count(tsv.substr(0, tsv.find('\n')), "\t"));
  EXPECT_NE(LineWith(tsv, "\tfailed\t").find("timed out after 0.3s"), std::string::npos) << tsv;
}

TEST_F(ReportTest, TheHtmlReportIsSelfContainedAndRedrawnFromTheManifests) {
  Write("job.yaml", kJob);
  RunResult first = Run();
  ASSERT_EQ(first.exit_code, 1) << first.Describe();
  RunResult second = Run({"--resume"});  // 2 and 3 up to date: skipped
  ASSERT_EQ(second.exit_code, 1) << second.Describe();
  std::string path = ReportPathOf(second);
  ASSERT_FALSE(path.empty()) << second.Describe();
  std::string html = ReadFile(path);
  for (const char* url : {"http://", "https://", "//cdn", "src=\"", "href=\""})
    EXPECT_EQ(html.find(url), std::string::npos) << "the report must not load anything: " << url;
  EXPECT_NE(html.find("up to date"), std::string::npos) << "the skip reason";
  EXPECT_NE(html.find("timed out after 0.3s"), std::string::npos) << "the whole error";
  std::string first_id = fs::path(ReportPathOf(first)).stem().string();
  EXPECT_NE(html.find("\"previous\":{\"run_id\":\"" + first_id + "\""), std::string::npos) << "compared with run 1";

  RunResult redraw = Fanout({"report", OutPath(), "--run", first_id, "-o", Path("first.html")});
  ASSERT_EQ(redraw.exit_code, 0) << redraw.Describe();
  EXPECT_EQ(redraw.out, Path("first.html") + "\n");
  EXPECT_EQ(ReadFile(Path("first.html")), ReadFile(ReportPathOf(first))) << "the same page from the manifest";

  RunResult missing = Fanout({"report", OutPath(), "--run", "no-such-run"});
  EXPECT_EQ(missing.exit_code, 2) << missing.Describe();
  EXPECT_NE(missing.err.find("no-such-run.json"), std::string::npos) << missing.err;
}

// Debian's chromium, if installed (scripts/bootstrap.sh installs it).
std::string Chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (access(p, X_OK) == 0) return p;
  return "";
}

TEST_F(ReportTest, ChromiumDrawsOneTimelineBarPerAttempt) {
  const std::string chromium = Chromium();
  if (chromium.empty()) GTEST_SKIP() << "no /usr/bin/chromium: install Debian's chromium (scripts/bootstrap.sh)";
  Write("job.yaml", kJob);
  RunResult first = Run({"--json"});
  ASSERT_EQ(first.exit_code, 1) << first.Describe();
  RunResult second = Run({"--resume"});
  ASSERT_EQ(second.exit_code, 1) << second.Describe();
  for (const RunResult* r : {&first, &second}) {
    std::string path = ReportPathOf(*r);
    std::string run_id = fs::path(path).stem().string();
    size_t attempts = 0;
    for (const IterationReport& it : Read(run_id).iterations) attempts += it.trace.size();
    std::vector<std::string> base = {chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                     "--user-data-dir=" + Path("chromium-" + run_id)};
    std::vector<std::string> dump = base;
    dump.insert(dump.end(), {"--dump-dom", "file://" + path});
    RunResult dom = RunProcess(dump, Path(), std::chrono::seconds(60));
    ASSERT_EQ(dom.exit_code, 0) << dom.Describe();
    EXPECT_EQ(Count(dom.out, "<g class=\"attempt "), attempts) << "one bar per attempt";
    EXPECT_EQ(Count(dom.out, "<g class=\"attempt failed\""), 1u);
    EXPECT_EQ(Count(dom.out, "<g class=\"attempt retried\""), 1u);
    std::vector<std::string> shot = base;
    shot.insert(shot.end(), {"--screenshot=" + Path(run_id + ".png"), "--window-size=1280,900", "file://" + path});
    RunResult png = RunProcess(shot, Path(), std::chrono::seconds(60));
    ASSERT_EQ(png.exit_code, 0) << png.Describe();
    EXPECT_GT(fs::file_size(Path(run_id + ".png")), 10000u) << "a drawn page, not a blank one";
  }
}

TEST_F(ReportTest, TheRunLogHasEveryEventWithItsWholeErrorAsTextOrJson) {
  Write("job.yaml", kJob);
  RunResult text = Run();
  ASSERT_EQ(text.exit_code, 1) << text.Describe();
  std::string run_id = fs::path(ReportPathOf(text)).stem().string();
  std::string log = ReadFile(OutPath("_fanout/runs/" + run_id + ".log"));
  EXPECT_NE(LineWith(log, "INFO  loading inputs"), "") << log;
  EXPECT_NE(LineWith(log, "INFO  start n=2 attempt 1"), "") << log;
  EXPECT_NE(LineWith(log, "WARN  retry n=1"), "") << log;
  EXPECT_NE(LineWith(log, "ERROR failed n=1: timed out after 0.3s (run.timeout)"), "") << log;
  EXPECT_NE(LineWith(log, "INFO  committed n=3: 1 rows"), "") << log;
  EXPECT_NE(LineWith(log, "summary: failed, 2 committed, 1 failed"), "") << log;
  EXPECT_EQ(log.rfind("20", 0), 0u) << "each line starts with its UTC time: " << log;

  RunResult json = Run({"--resume", "--log-format", "json"});
  ASSERT_EQ(json.exit_code, 1) << json.Describe();
  run_id = fs::path(ReportPathOf(json)).stem().string();
  std::istringstream in(ReadFile(OutPath("_fanout/runs/" + run_id + ".log")));
  int lines = 0, skips = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_TRUE(j.contains("time") && j.contains("level") && j.contains("message")) << line;
    skips += j["message"].get<std::string>().rfind("skip n=", 0) == 0;
  }
  EXPECT_GT(lines, 5);
  EXPECT_EQ(skips, 2) << "2 and 3 are up to date";
  RunResult bad = Run({"--log-format", "xml"});
  EXPECT_EQ(bad.exit_code, 2) << bad.Describe();
}

TEST_F(ReportTest, StatusListsTheRunsNewestFirstAndOneRunWithRun) {
  Write("job.yaml", kJob);
  std::string first = fs::path(ReportPathOf(Run())).stem().string();
  std::string second = fs::path(ReportPathOf(Run({"--resume"}))).stem().string();
  RunResult all = Fanout({"status", OutPath()});
  ASSERT_EQ(all.exit_code, 0) << all.Describe();
  ASSERT_NE(all.out.find(first), std::string::npos) << all.out;
  EXPECT_LT(all.out.find(second), all.out.find(first)) << "newest first:\n" << all.out;
  EXPECT_NE(LineWith(all.out, "  " + first).find("failed"), std::string::npos) << all.out;

  RunResult one = Fanout({"status", OutPath(), "--run", first});
  ASSERT_EQ(one.exit_code, 0) << one.Describe();
  EXPECT_EQ(one.out.find(second), std::string::npos) << one.out;
  EXPECT_NE(LineWith(one.out, "iter_2").find("committed"), std::string::npos) << "run 1 committed 2:\n" << one.out;
  RunResult json = Fanout({"status", OutPath(), "--run", first, "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.Describe();
  EXPECT_EQ(nlohmann::json::parse(json.out).value("run_id", ""), first);
  RunResult none = Fanout({"status", OutPath(), "--run", "nope"});
  EXPECT_EQ(none.exit_code, 2) << none.Describe();
  EXPECT_NE(none.err.find("no run nope in"), std::string::npos) << none.err;
}

// The status line on a terminal (a pseudo-terminal made by script(1)) and
// the plain lines elsewhere.
TEST_F(ReportTest, ATerminalGetsOneRedrawnStatusLineAPipePlainLines) {
  if (access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/script (util-linux)";
  Write("job.yaml", kJob);
  RunResult plain = Run();
  ASSERT_EQ(plain.exit_code, 1) << plain.Describe();
  EXPECT_EQ(plain.err.find('\x1b'), std::string::npos) << "no escape codes off a terminal:\n" << plain.err;
  EXPECT_NE(LineWith(plain.err, "start  n=2"), "") << plain.err;
  EXPECT_NE(LineWith(plain.err, "FAILED n=1: timed out"), "") << plain.err;

  const std::string cmd = std::string(FANOUT_BIN) + " run " + Path("job.yaml") + " --resume";
  // script's exit code is the run's (-e); what the terminal showed is its stdout.
  std::vector<std::string> env = {"TERM=xterm", "FANOUT_STATUS=<<%f/%t running %r failed %F ETA %E>>"};
  Child child = StartProcess({"/usr/bin/script", "-qfec", cmd, "/dev/null"}, Path(), env);
  RunResult shown = WaitProcess(child);
  EXPECT_EQ(shown.exit_code, 1) << shown.Describe();
  EXPECT_NE(shown.out.find("\r\x1b[K<<2/3 running 1 failed 0 ETA "), std::string::npos)
      << "the status line, redrawn in place:\n" << shown.out;
  EXPECT_NE(shown.out.find("FAILED n=1: timed out"), std::string::npos) << shown.out;
  EXPECT_EQ(shown.out.find("start  n=1"), std::string::npos) << "starts scroll only with --verbose";

  Child quiet = StartProcess({"/usr/bin/script", "-qfec", cmd + " --quiet", "/dev/null"}, Path(), env);
  RunResult q = WaitProcess(quiet);
  EXPECT_EQ(q.out.find("<<"), std::string::npos) << "--quiet: no status line:\n" << q.out;
  EXPECT_NE(q.out.find("FAILED n=1"), std::string::npos) << q.out;
}

TEST(StatusLine, PlaceholdersAsNinjaStatus) {
  ProgressCounts c{10, 4, 2, 1, 75, 3725};
  EXPECT_EQ(FormatStatusLine("[%f/%t] %p r%r F%F %e ETA %E %b %% %x", c),
            "[4/10] 40% r2 F1 1:15 ETA 1:02:05 [########............] % %x");
  c.eta = -1;
  EXPECT_EQ(FormatStatusLine("%E", c), "?");
}

TEST(StatusLine, EtaFromEarlierRunsElseFromTheFinishedOnes) {
  std::vector<IterationReport> its(3);
  its[0].target = "a", its[1].target = "b", its[2].target = "c";
  EtaEstimator known;
  known.Plan(its);
  known.SetPast({{"a", 10}, {"b", 20}, {"c", 30}});
  EXPECT_DOUBLE_EQ(known.Eta(100, 2), 30);  // 60 s of work on 2 at once
  known.Started("c", 100);
  EXPECT_DOUBLE_EQ(known.Eta(110, 2), 25);  // c has done 10 of its 30
  EtaEstimator unknown;
  unknown.Plan(its);
  EXPECT_LT(unknown.Eta(100, 1), 0) << "nothing known yet";
  unknown.Finished("a", 4);
  EXPECT_DOUBLE_EQ(unknown.Eta(100, 1), 8);  // b and c at a's 4 s each
}

}  // namespace
}  // namespace test
}  // namespace fanout
