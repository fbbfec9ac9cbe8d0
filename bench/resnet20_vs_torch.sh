#!/usr/bin/env bash
# ResNet-20 (3x32x32, batch 128, synthetic data): morphtrain against PyTorch 1.13 on this
# machine, alternating in one invocation so both see the same noise. PyTorch runs with the tuned
# settings of notes/performance.md: channels_last, malloc thresholds, OpenBLAS (1 thread), all cores.
#   bash bench/resnet20_vs_torch.sh [REPS]     (default 3; needs python3-torch and a built tree)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MORPHTRAIN_BUILD_DIR:-$root/build}"
reps="${1:-3}"
cmake --build "$build" --target bench_step >/dev/null
threads="$(nproc)"

torch_env=(env MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=100000000000
           MALLOC_TOP_PAD_=1000000000 OPENBLAS_NUM_THREADS=1)
[ -d /usr/lib/x86_64-linux-gnu/openblas-pthread ] &&
  torch_env+=(LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread)

rate() { sed -n 's/.*"img_per_s": \([0-9.]*\).*/\1/p'; }
declare -A results
for ((r = 1; r <= reps; r++)); do
  for mode in train infer; do
    m=$("$build/bench/bench_step" --mode "$mode" | rate)
    t=$("${torch_env[@]}" /usr/bin/python3 "$root/bench/torch_bench.py" --mode "$mode" --threads "$threads" | rate)
    results[$mode.mt]+="$m "
    results[$mode.pt]+="$t "
    echo "rep $r $mode: morphtrain $m img/s, pytorch $t img/s"
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
printf '%-6s %14s %14s %8s\n' mode morphtrain pytorch ratio
for mode in train infer; do
  m=$(echo "${results[$mode.mt]}" | median)
  t=$(echo "${results[$mode.pt]}" | median)
  printf '%-6s %14s %14s %8s\n' "$mode" "$m" "$t" "$(awk -v a="$m" -v b="$t" 'BEGIN {printf "%.2fx", a / b}')"
done
