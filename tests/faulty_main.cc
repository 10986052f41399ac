// fanout_faulty: the `fanout` command line with FANOUT_FAULT_AT honoured
// (tests/faulty_storage.h). The crash and fault tests run it; the production
// binary never injects faults.
#include "cli.h"
#include "faulty_storage.h"

int main(int argc, char** argv) {
  fanout::CliHooks hooks;
  hooks.wrap_storage = fanout::MaybeFaultyFromEnv;
  return fanout::CliMain(argc, argv, hooks);
}
