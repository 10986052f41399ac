// fanout_faulty: the `fanout` command line with FANOUT_FAULT_AT honoured
// (tests/faulty_storage.h). The crash and fault tests run it; the production
// binary never injects faults.
//
//   FANOUT_FAULT_AT=N[:kill|:eio|:enospc][:sticky]  the Nth file-seam call
//   FANOUT_FAULT_AT=s3:<point>          SIGKILL at the S3 store's <point>
//                                       (before-complete: after the last part
//                                       of a multipart upload; before-marker:
//                                       every file sent, no _SUCCESS yet)
//   FANOUT_S3_PART_SIZE=BYTES           multipart above BYTES (S3 wants >= 5 MiB)
//   FANOUT_S3_LOCK_TTL=SECONDS          the run lock's expiry (default 60)
//   FANOUT_S3_READ_CHUNK=BYTES          ranged GETs of BYTES (verify, input fetch; default 64 MiB)
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "cli.h"
#include "faulty_storage.h"
#include "s3_client.h"

namespace {

char g_s3_point[64];

void KillAt(const char* point) {
  if (std::strcmp(point, g_s3_point) == 0) kill(getpid(), SIGKILL);
}

// True when FANOUT_FAULT_AT names an S3 fault point (then set up here).
bool S3FaultsFromEnv() {
  fanout::S3TestHooks hooks;
  if (const char* size = std::getenv("FANOUT_S3_PART_SIZE")) hooks.part_size = std::atoll(size);
  if (const char* ttl = std::getenv("FANOUT_S3_LOCK_TTL")) hooks.lock_ttl_seconds = std::atof(ttl);
  if (const char* chunk = std::getenv("FANOUT_S3_READ_CHUNK")) hooks.read_chunk = std::atoll(chunk);
  const char* spec = std::getenv("FANOUT_FAULT_AT");
  bool s3 = spec && std::strncmp(spec, "s3:", 3) == 0;
  if (s3) {
    std::string point = std::string(spec + 3).substr(0, sizeof g_s3_point - 1);
    point = point.substr(0, point.find(':'));
    std::strcpy(g_s3_point, point.c_str());
    hooks.at = &KillAt;
  }
  fanout::SetS3TestHooks(hooks);
  return s3;
}

}  // namespace

int main(int argc, char** argv) {
  fanout::CliHooks hooks;
  if (!S3FaultsFromEnv()) hooks.wrap_storage = fanout::MaybeFaultyFromEnv;
  return fanout::CliMain(argc, argv, hooks);
}
