// The `fanout` binary: the command line of cli.h over the local filesystem.
#include "cli.h"

int main(int argc, char** argv) { return fanout::CliMain(argc, argv, {}); }
