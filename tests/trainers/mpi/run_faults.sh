#!/usr/bin/env bash
# A rank that fails must end the whole MPI job non-zero within LIMIT seconds, and (kill) the last
# checkpoint rank 0 wrote must load.
#   run_faults.sh kill|hang WORKER LIMIT MPIRUN [MPIRUN ARGS...]
set -uo pipefail
mode="$1" worker="$2" limit="$3"
shift 3
dir="$(mktemp -d /tmp/mt_mpi_fault_XXXXXX)"
trap 'rm -rf "$dir"' EXIT
start=$(date +%s%N)
# A hard bound above the one under test, so that a failure here can never hang the suite.
timeout --kill-after=5 "$((limit * 3))" "$@" "$worker" "$mode" "$dir/checkpoints" >"$dir/log" 2>&1
rc=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "mpirun exited with $rc after ${elapsed_ms} ms"
tail -n 5 "$dir/log"
if [ "$rc" -eq 0 ]; then echo "FAIL: the job exited 0 although a rank failed"; exit 1; fi
# (timeout's own 124 / 137 come only after 3 x LIMIT, which the next check catches.)
if [ "$elapsed_ms" -gt "$((limit * 1000))" ]; then echo "FAIL: it took more than ${limit}s"; exit 1; fi
if [ "$mode" = kill ]; then
  env -u OMPI_COMM_WORLD_SIZE "$worker" load "$dir/checkpoints" || { echo "FAIL: the last checkpoint does not load"; exit 1; }
fi
echo "PASS"
