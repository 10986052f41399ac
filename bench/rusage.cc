// fanout_rusage: runs a command and writes its wall time, CPU time and peak
// RSS to a file, in the format bench/run reads from `/usr/bin/time -f
// '%e %U %S %M'` (bench/run uses this only where GNU time is not installed):
//   <wall s> <user s> <sys s> <max RSS KiB>
//
//   fanout_rusage OUTFILE CMD [ARG...]
// Exits with the command's exit code (128 + signal when it was killed).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace {

double Seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fanout_rusage OUTFILE CMD [ARG...]\n");
    return 2;
  }
  auto started = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("fanout_rusage: fork");
    return 2;
  }
  if (pid == 0) {
    execvp(argv[2], argv + 2);
    std::perror("fanout_rusage: exec");
    _exit(127);
  }
  int status = 0;
  struct rusage usage = {};
  if (wait4(pid, &status, 0, &usage) < 0) {
    std::perror("fanout_rusage: wait4");
    return 2;
  }
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  FILE* out = std::fopen(argv[1], "w");
  if (!out) {
    std::perror("fanout_rusage: output file");
    return 2;
  }
  // ru_maxrss is in KiB on Linux, like GNU time's %M.
  std::fprintf(out, "%.3f %.3f %.3f %ld\n", wall, Seconds(usage.ru_utime), Seconds(usage.ru_stime), usage.ru_maxrss);
  std::fclose(out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
