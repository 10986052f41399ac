// html_report: a run as one self-contained HTML file,
// OUT/_fanout/runs/<run-id>.html. Everything it needs is inside it (CSS, the
// script, the data as JSON); it asks no other host for anything, so it opens
// offline from disk. The script draws: the header, a timeline (one lane per
// worker thread, each attempt a bar of its phases: waiting for a compute
// slot, engine work, commit; failed and retried attempts marked; hover for
// details; drag to zoom, double-click to reset), iterations in flight and
// finished over time, a sortable table of iterations, the failures (whole
// error, the failing SQL), the skipped ones with their reason, and each
// iteration's time beside the previous run's on the same OUT.
#pragma once

#include <optional>
#include <string>

#include "fanout/record.h"
#include "fanout/store.h"

namespace fanout {

// `previous` (may be null): the run before `run` on the same output.
std::string RenderHtmlReport(const Manifest& run, const Manifest* previous);

// The newest run on `store` older than `run_id` whose manifest reads; none
// when there is none.
std::optional<Manifest> PreviousManifest(OutputStore& store, const std::string& run_id);

}  // namespace fanout
