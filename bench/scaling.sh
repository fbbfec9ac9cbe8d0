#!/usr/bin/env bash
# Training throughput of 1 vs 2 processes on this machine: ResNet-20 on Fashion-MNIST through the
# morphtrain command, the same global batch (default 128) either way, steady-state img/s from
# metrics.jsonl (the first 10 steps, warm-up, are left out), and the ratio.
#   bash bench/scaling.sh [STEPS] [GLOBAL_BATCH]     (default 40 and 128; needs a built tree)
# Runs: 1 process x all cores (OpenMP), 1 process x 1 thread, 2 processes x 1 thread (mpirun).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MORPHTRAIN_BUILD_DIR:-$root/build}"
steps="${1:-40}" batch="${2:-128}"
cmake --build "$build" --target morphtrain >/dev/null
out="$(mktemp -d /tmp/mt_scaling_XXXXXX)"
trap 'rm -rf "$out"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun_2=(mpirun -np 2 --oversubscribe --bind-to none --mca pml ob1 --mca btl self,vader,tcp
          --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo)

# run NAME BATCH_PER_PROCESS THREADS [LAUNCHER...]: prints the steady img/s (global).
run() {
  local name="$1" per="$2" threads="$3"
  shift 3
  OMP_NUM_THREADS="$threads" "$@" "$build/tools/morphtrain" --config "$root/configs/resnet20_fmnist.yaml" \
    --set name="$name" --set output.root="$out" --set train.batch_size="$per" --set train.epochs=1 \
    --set train.max_steps="$steps" --set train.log_every=10 --set train.progress=plain \
    --set checkpoint.enabled=false >"$out/$name.log" 2>&1
  # img_per_s is the mean since the epoch began: t_k = k x batch / rate_k, steady = difference.
  python3 - "$out/$name"/*/metrics.jsonl "$batch" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"img_per_s"' in l]
batch = int(sys.argv[2])
t = {r["step"]: r["step"] * batch / r["img_per_s"] for r in rows}
a, b = min(k for k in t if k >= 10), max(t)
print(f"{(b - a) * batch / (t[b] - t[a]):.0f}")
PY
}

cores="$(nproc)"
one_all=$(run one_all "$batch" "$cores")
one_1=$(run one_1 "$batch" 1)
two=$(run two_1 "$((batch / 2))" 1 "${mpirun_2[@]}")
echo "ResNet-20, Fashion-MNIST, global batch $batch, steps 10..$steps, $cores cores"
echo "1 process x $cores threads  : $one_all img/s"
echo "1 process x 1 thread      : $one_1 img/s"
echo "2 processes x 1 thread    : $two img/s (mpirun, batch $((batch / 2)) per process)"
python3 -c "print(f'ratio 2 processes / 1 process x $cores threads: {$two / $one_all:.2f}; / 1 process x 1 thread: {$two / $one_1:.2f}')"
