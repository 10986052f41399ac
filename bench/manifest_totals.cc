// fanout_manifest_totals: sums a fanout run manifest (`fanout run --json`
// output or OUT/_fanout/runs/<run-id>.json) for bench/run. Prints one line:
//   <iterations> <committed> <skipped> <failed> <rows> <bytes>
// The counts come from the manifest's "counts"; rows and bytes are summed over
// its iterations.
//
//   fanout_manifest_totals MANIFEST.json
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "fanout/record.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fanout_manifest_totals MANIFEST.json\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "fanout_manifest_totals: cannot open %s\n", argv[1]);
    return 1;
  }
  std::string text(std::istreambuf_iterator<char>(in), {});
  auto manifest = fanout::Manifest::FromJson(text);
  if (!manifest.ok()) {
    std::fprintf(stderr, "fanout_manifest_totals: %s is not a fanout run manifest: %s\n", argv[1],
                 manifest.status().message().c_str());
    return 1;
  }
  int64_t rows = 0, bytes = 0;
  for (const fanout::IterationReport& it : manifest->iterations) {
    rows += it.rows;
    bytes += it.bytes;
  }
  const fanout::ManifestCounts& counts = manifest->counts;
  std::printf("%lld %lld %lld %lld %lld %lld\n", static_cast<long long>(counts.total),
              static_cast<long long>(counts.committed), static_cast<long long>(counts.skipped),
              static_cast<long long>(counts.failed), static_cast<long long>(rows), static_cast<long long>(bytes));
  return 0;
}
