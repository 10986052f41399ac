// cluster: the processes of one run started together by a launcher (the
// ranks of `mpirun` or `srun`), as the runner sees them. Every rank parses,
// checks and loads the same job; rank 0, the coordinator, owns the output
// (lock, staging, skips, the manifest) and hands the iterations out through
// the backend the cluster makes (backend.h); the others run what they are
// handed. Every method is collective unless it says otherwise: every rank
// calls it, in the same order, from the thread that started the cluster.
// src/mpi_backend.cc implements it over MPI; this header names no MPI type.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "backend.h"
#include "fanout/status.h"

namespace fanout {

class Cluster {
 public:
  virtual ~Cluster() = default;
  // Not collective.
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual const std::string& host() const = 0;
  bool coordinator() const { return rank() == 0; }
  // "rank 2 on host-b": how errors name a rank. Not collective.
  std::string Name(int rank, const std::string& host) const {
    return "rank " + std::to_string(rank) + " of " + std::to_string(size()) + " on " + host;
  }

  // Every rank gives its own status; every rank gets the same: ok when all
  // were ok, else the failures of the ranks that failed, each named (rank,
  // host), with the code of the first (an interrupted rank makes the whole
  // interrupted).
  virtual Status Agree(const Status& mine) = 0;
  // Rank 0's `text` on every rank (the others' is ignored).
  virtual std::string Share(const std::string& text) = 0;
  // What runs the iterations on this rank: on rank 0 the coordinator (hands
  // out iterations one request at a time, runs some itself unless
  // coordinator-only, gathers every outcome: the barrier); on the others a
  // worker that asks rank 0 for iterations until there are none. Not
  // collective (made once per rank).
  virtual std::unique_ptr<Backend> NewBackend(const BackendContext& context) = 0;
};

// Whether a launcher started this process as one of several ranks, from its
// environment (`env` is getenv): Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE
// (and _RANK); Slurm's srun sets SLURM_STEP_NUM_TASKS, and with a PMI
// (`srun --mpi=pmix` or `--mpi=pmi2`) PMIX_RANK or PMI_RANK. `launcher` is
// "" when none did; `problem` says why such a start cannot run as one run
// (srun with several tasks but no PMI: each task would be a run of its own).
struct Launch {
  std::string launcher;  // "mpirun", "srun" or ""
  int size = 0;          // the ranks it started
  std::string problem;
};
Launch DetectLaunch(const std::function<const char*(const char*)>& env);

}  // namespace fanout
