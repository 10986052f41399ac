// cli: the `fanout` command line (run | validate | plan | status), as a
// function so that the real binary (main.cc) and a test binary with a
// fault-injecting file seam (tests/faulty_main.cc) share every line of it.
#pragma once

#include <functional>
#include <memory>

#include "storage.h"

namespace fanout {

struct CliHooks {
  // Wraps the file seam of `run` (null: the local filesystem as it is).
  std::function<std::shared_ptr<Storage>(std::shared_ptr<Storage>)> wrap_storage;
};

// Parses argv, runs the command, returns the process's exit code.
int CliMain(int argc, char** argv, const CliHooks& hooks);

}  // namespace fanout
