#include "cluster.h"

#include <cstdlib>

namespace fanout {

namespace {
int Count(const char* text) {
  if (!text || !*text) return 0;
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  return *end == '\0' && v > 0 && v < (1 << 24) ? static_cast<int>(v) : 0;
}
}  // namespace

Launch DetectLaunch(const std::function<const char*(const char*)>& env) {
  Launch l;
  if (int size = Count(env("OMPI_COMM_WORLD_SIZE")); size > 0) {
    l.launcher = "mpirun";
    l.size = size;
    return l;
  }
  const int tasks = Count(env("SLURM_STEP_NUM_TASKS"));
  if (tasks < 2) return l;  // not srun, or one task: a run of its own
  l.launcher = "srun";
  l.size = tasks;
  if (!env("PMIX_RANK") && !env("PMI_RANK"))
    l.problem = "started by srun with " + std::to_string(tasks) +
                " tasks but without a PMI, so the tasks cannot form one run: start it with srun --mpi=pmix "
                "(see srun --mpi=list), or give --backend local to run the job once per task";
  return l;
}

}  // namespace fanout
