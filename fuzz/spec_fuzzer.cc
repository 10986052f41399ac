// libFuzzer target: the job-file parser must return a Status for any input —
// never crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fanout/job_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto spec = fanout::ParseJobSpec(text, "/nonexistent-fanout-fuzz/job.yaml", {"scale=2"});
  (void)spec;
  return 0;
}
