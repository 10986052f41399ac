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
#include <nlohmann/json.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fanout_manifest_totals MANIFEST.json\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  auto manifest = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded() || !manifest.contains("iterations")) {
    std::fprintf(stderr, "fanout_manifest_totals: %s is not a fanout run manifest\n", argv[1]);
    return 1;
  }
  int64_t rows = 0, bytes = 0;
  for (const auto& it : manifest["iterations"]) {
    rows += it.value("rows", int64_t{0});
    bytes += it.value("bytes", int64_t{0});
  }
  const auto& counts = manifest["counts"];
  std::printf("%d %d %d %d %lld %lld\n", counts.value("total", 0), counts.value("committed", 0),
              counts.value("skipped", 0), counts.value("failed", 0), static_cast<long long>(rows),
              static_cast<long long>(bytes));
  return 0;
}
