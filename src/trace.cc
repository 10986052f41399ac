// trace: see trace.h.
#include "trace.h"

#include <cstdio>

namespace fanout {
namespace {

std::string Escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\\') out += "\\\\";
    else out += c;
  }
  return out;
}

std::string Num(double v, int decimals) {
  char buf[48];
  snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// b - a when both happened, else "".
std::string Span(double a, double b) { return a > 0 && b >= a ? Num(b - a, 6) : ""; }

void Row(std::string& out, const IterationReport& it, const AttemptTrace& a) {
  const double engine_end = a.engine_done > 0 ? a.engine_done : a.finished;
  const std::string fields[] = {
      Escape(it.n.ToString()), Escape(it.target), Escape(it.kind), std::to_string(a.attempt), a.status,
      std::to_string(a.worker), Num(a.queued, 6), Num(a.started, 6), Num(a.staged, 6), Num(a.engine_done, 6),
      Num(a.published, 6), Num(a.finished, 6), Span(a.queued, a.started), Span(a.staged, engine_end),
      Span(a.started, a.finished), std::to_string(a.rows), std::to_string(a.bytes), std::to_string(a.files),
      Num(a.cpu_seconds, 6), Escape(a.retry_reason), Escape(a.error), Escape(a.sql)};
  bool first = true;
  for (const std::string& f : fields) {
    if (!first) out += '\t';
    out += f;
    first = false;
  }
  out += '\n';
}

}  // namespace

std::string TraceTsv(const Manifest& m) {
  std::string out =
      "n\ttarget\tkind\tattempt\tstatus\tworker\tqueued\tstarted\tstaged\tengine_done\tpublished\tfinished\t"
      "wait_s\tengine_s\tattempt_s\trows\tbytes\tfiles\tcpu_s\tretry_reason\terror\tsql\n";
  for (const IterationReport& it : m.iterations)
    for (const AttemptTrace& a : it.trace) Row(out, it, a);
  return out;
}

}  // namespace fanout
