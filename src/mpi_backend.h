// mpi_backend: the Cluster (cluster.h) of a run started by mpirun or srun,
// over MPI (compiled only when CMake finds MPI: FANOUT_WITH_MPI).
//
// Every MPI call of a rank is made by the thread that started the cluster
// (MPI_THREAD_FUNNELED): the runner's phases and the message loop of the
// backend run on it; the scheduler's threads talk to that loop through
// queues. Rank 0 answers each request ("a worker of mine is free") with the
// next iteration of the plan's order, or none; a rank sends each outcome to
// rank 0 as it finishes, then "bye" once its pool is done. Messages per
// iteration: one request, one answer, one outcome.
#pragma once

#include <atomic>
#include <memory>

#include "cluster.h"
#include "fanout/status.h"

namespace fanout {

// MPI_Init_thread; the ranks learn each other's hosts. `cancel` is the
// process's cancel flag (set by SIGINT/SIGTERM): the cluster sets it too when
// rank 0 cancels the run or another rank was interrupted. With
// `coordinator_only`, rank 0 hands out iterations and runs none.
// The cluster calls MPI_Finalize when destroyed.
Result<std::unique_ptr<Cluster>> StartMpiCluster(std::atomic<bool>* cancel, bool coordinator_only);

}  // namespace fanout
