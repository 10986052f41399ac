#include "cluster.h"

#include <gtest/gtest.h>

#include <map>

namespace fanout {
namespace {

Launch From(const std::map<std::string, std::string>& vars) {
  return DetectLaunch([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(DetectLaunch, MpirunSrunWithAPmiAndWhatIsNotALaunch) {
  EXPECT_EQ(From({}).launcher, "");
  Launch mpirun = From({{"OMPI_COMM_WORLD_SIZE", "3"}, {"OMPI_COMM_WORLD_RANK", "1"}});
  EXPECT_EQ(mpirun.launcher, "mpirun");
  EXPECT_EQ(mpirun.size, 3);
  Launch srun = From({{"SLURM_STEP_NUM_TASKS", "3"}, {"PMIX_RANK", "0"}});
  EXPECT_EQ(srun.launcher, "srun");
  EXPECT_TRUE(srun.problem.empty());
  EXPECT_EQ(From({{"SLURM_STEP_NUM_TASKS", "2"}, {"PMI_RANK", "1"}}).problem, "");
  // A batch script or a one-task step (an array job's task) is no cluster run.
  EXPECT_EQ(From({{"SLURM_STEP_NUM_TASKS", "1"}, {"PMIX_RANK", "0"}}).launcher, "");
  EXPECT_EQ(From({{"SLURM_JOB_ID", "7"}, {"SLURM_NTASKS", "4"}}).launcher, "");
  // Several tasks without a PMI cannot form one run: said, not guessed.
  Launch bare = From({{"SLURM_STEP_NUM_TASKS", "3"}});
  EXPECT_EQ(bare.launcher, "srun");
  EXPECT_NE(bare.problem.find("srun --mpi=pmix"), std::string::npos);
  // Garbage is no launch.
  EXPECT_EQ(From({{"OMPI_COMM_WORLD_SIZE", "three"}}).launcher, "");
  EXPECT_EQ(From({{"OMPI_COMM_WORLD_SIZE", "-1"}}).launcher, "");
  EXPECT_EQ(From({{"SLURM_STEP_NUM_TASKS", "3x"}, {"PMIX_RANK", "0"}}).launcher, "");
}

}  // namespace
}  // namespace fanout
