#!/usr/bin/env bash
# A real Slurm on this machine, as users run fanout on it: munged, slurmctld
# and slurmd from Debian, started here with a generated one-node slurm.conf in
# a temporary folder (nothing under /etc is read or changed), then
#   1. sbatch --array=1-3 of `fanout run --shard auto`, then `fanout collect`
#   2. srun -n 3 --mpi=pmix `fanout run` (the MPI backend, detected)
# each checked against a local run of the same job. The daemons are stopped
# at the end, whatever happens. Needs root (slurmd runs jobs as their user).
#
#   tests/slurm/slurm_test.sh FANOUT_BIN      exit 0 passed, 77 skipped, else failed
set -euo pipefail
fanout=$(realpath "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (slurmd starts job steps as their user)"
for b in munged mungekey slurmctld slurmd sbatch srun sinfo; do
  command -v "$b" >/dev/null || skip "$b is not installed (Debian: slurm-wlm, munge)"
done
srun --help >/dev/null 2>&1 || true

tmp=$(mktemp -d /tmp/fanout-slurm-XXXXXX)
stepds_before=$(pgrep -x slurmstepd | tr '\n' ' ' || true)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # Step daemons of this Slurm (any not there before it started) outlive
  # slurmd for a moment: wait for them, then stop what is left.
  ours() { for p in $(pgrep -x slurmstepd || true); do
    case " $stepds_before " in *" $p "*) ;; *) echo "$p" ;; esac; done; }
  for _ in $(seq 25); do [ -z "$(ours)" ] && break; sleep 0.2; done
  for p in $(ours); do kill "$p" 2>/dev/null || true; done
  if [ -n "${FANOUT_KEEP_TEST_DIRS:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

# --- munge: its own key and socket ---------------------------------------------
mkdir -p "$tmp/munge" && chmod 700 "$tmp/munge"
mungekey -c -k "$tmp/munge/munge.key" >/dev/null
munged -F -f --key-file="$tmp/munge/munge.key" --socket="$tmp/munge/sock" --pid-file="$tmp/munge/pid" \
  --seed-file="$tmp/munge/seed" --log-file="$tmp/munged.log" &
pids+=($!)

# --- slurm.conf: one node (this host), 4 CPUs, ports free now -------------------
host=$(hostname -s)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mkdir -p "$tmp/state" "$tmp/spool"
cat > "$tmp/slurm.conf" <<CONF
ClusterName=fanouttest
SlurmctldHost=$host
SlurmctldPort=$(port)
SlurmdPort=$(port)
AuthType=auth/munge
AuthInfo=socket=$tmp/munge/sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
NodeName=$host CPUs=4 State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF="$tmp/slurm.conf"
slurmctld -D -i >"$tmp/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D >"$tmp/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && break
  sleep 0.2
done
[ "$(sinfo -h -o %t 2>/dev/null)" = idle ] || fail "the node did not come up: $(sinfo 2>&1)"

# --- the job, and what a local run writes ---------------------------------------
work="$tmp/work"
mkdir -p "$work"
cp -r "$src/examples/model_sequence/"{job.yaml,config,data,transforms} "$work/"
"$fanout" run "$work/job.yaml" --quiet >/dev/null
mv "$work/out" "$work/local-out"
same_as_local() {  # every iteration's rows equal the local run's
  python3 - "$work" "$1" <<'PY'
import json, os, subprocess, sys
work, out = sys.argv[1], sys.argv[2]
m = json.load(open(sys.argv[3])) if len(sys.argv) > 3 else None
for t in sorted(os.listdir(os.path.join(work, "local-out"))):
    if not t.startswith("iter_"): continue
    a = open(os.path.join(work, "local-out", t, "_SUCCESS")).read()
    b = open(os.path.join(out, t, "_SUCCESS")).read()
    fa = {f["name"]: f["xxh3"] for f in json.loads(a)["files"]}
    fb = {f["name"]: f["xxh3"] for f in json.loads(b)["files"]}
    if fa != fb: sys.exit("%s differs from the local run: %s vs %s" % (t, fa, fb))
PY
}

# --- 1. an array job of 3 shards, then collect -----------------------------------
cd "$work"
array=$(sbatch --parsable --array=1-3 --output="$tmp/array-%a.log" \
  --wrap "$fanout run $work/job.yaml --shard auto --quiet")
collect=$(sbatch --parsable --dependency=afterany:"$array" --output="$tmp/collect.log" \
  --wrap "$fanout collect $work/out --wait 60s")
for _ in $(seq 300); do
  squeue -h -j "$array,$collect" 2>/dev/null | grep -q . || break
  sleep 0.2
done
grep -q "SUMMARY: 9/9 iterations succeeded" "$tmp/collect.log" || fail "collect: $(cat "$tmp/collect.log")"
runs=$(ls "$work/out/_fanout/runs/" | grep -c "^slurm-$array.shard-.-of-3.json$") || true
[ "$runs" = 3 ] || fail "expected 3 shard manifests, got: $(ls "$work/out/_fanout/runs/")"
same_as_local "$work/out" || fail "the array job's outputs differ from the local run's"
echo "ok: sbatch --array=1-3 --shard auto + collect (run slurm-$array)"

# --- 2. one run on 3 MPI ranks started by srun -----------------------------------
rm -rf "$work/out"
srun --mpi=pmix -n 3 --output="$tmp/srun.log" "$fanout" run "$work/job.yaml" --max-workers 1 \
  || fail "srun: $(cat "$tmp/srun.log")"
grep -q "SUMMARY: 9/9 iterations succeeded" "$tmp/srun.log" || fail "srun: $(cat "$tmp/srun.log")"
python3 - "$work/out/_fanout/runs" <<'PY' || fail "srun's manifest"
import json, os, sys
runs = sys.argv[1]
m = json.load(open(os.path.join(runs, sorted(n for n in os.listdir(runs) if n.endswith(".json"))[-1])))
assert m["status"] == "succeeded", m["status"]
ranks = {it["rank"] for it in m["iterations"]}
assert len(ranks) > 1, "every iteration on one rank: %s" % ranks
print("ranks used:", sorted(ranks))
PY
same_as_local "$work/out" || fail "the srun outputs differ from the local run's"
echo "ok: srun --mpi=pmix -n 3 (MPI backend)"
