#!/usr/bin/env bash
# morphtrain against PyTorch 1.13 on this machine, alternating in one invocation so both see the
# same noise, medians over REPS rounds:
#   speed   ResNet-20 (3x32x32, batch 128) training step and inference; ResNet-50 (3x224x224,
#           batch 32) training step. PyTorch runs with the tuned settings of
#           notes/performance.md: channels_last, malloc thresholds, OpenBLAS (1 thread), all cores.
#   memory  peak resident memory (/usr/bin/time) of the training runs: morphtrain's timed runs
#           against PyTorch runs without the malloc thresholds, which raise its peak (the lower,
#           harder anchor).
#   bash bench/resnet20_vs_torch.sh [REPS] [--quick]
# REPS defaults to 3; --quick leaves ResNet-50 out (about 6 minutes of the run on 2 cores).
# Needs python3-torch, /usr/bin/time and a built tree (MORPHTRAIN_BUILD_DIR, default build/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MORPHTRAIN_BUILD_DIR:-$root/build}"
reps="${1:-3}"
quick="${2:-}"
cmake --build "$build" --target bench_step >/dev/null
threads="$(nproc)"
[ -x /usr/bin/time ] || { echo "resnet20_vs_torch.sh: /usr/bin/time is missing (apt install time)" >&2; exit 1; }

torch_env=(env MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=100000000000
           MALLOC_TOP_PAD_=1000000000 OPENBLAS_NUM_THREADS=1)
plain_env=(env OPENBLAS_NUM_THREADS=1)
if [ -d /usr/lib/x86_64-linux-gnu/openblas-pthread ]; then
  torch_env+=(LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread)
  plain_env+=(LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread)
fi

# Each case: a name, then the arguments bench_step and torch_bench.py share.
cases=("resnet20.train|--mode train"
       "resnet20.infer|--mode infer")
[ "$quick" = "--quick" ] ||
  cases+=("resnet50.train|--model resnet50 --size 224 --batch 32 --mode train --warmup 2 --steps 4")

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rate() { sed -n 's/.*"img_per_s": \([0-9.]*\).*/\1/p' "$1" | awk '{printf "%.1f", $1}'; }
peak_mb() { awk '{printf "%.0f", $1 / 1024}' "$1"; }  # /usr/bin/time -f %M: kilobytes
declare -A results
for ((r = 1; r <= reps; r++)); do
  for c in "${cases[@]}"; do
    name="${c%%|*}"
    read -r -a args <<<"${c#*|}"
    /usr/bin/time -f %M -o "$tmp/mt.mem" "$build/bench/bench_step" "${args[@]}" >"$tmp/mt.out" 2>/dev/null
    "${torch_env[@]}" /usr/bin/python3 "$root/bench/torch_bench.py" "${args[@]}" --threads "$threads" >"$tmp/pt.out"
    results[$name.mt]+="$(rate "$tmp/mt.out") "
    results[$name.pt]+="$(rate "$tmp/pt.out") "
    line="rep $r $name: morphtrain $(rate "$tmp/mt.out") img/s, pytorch $(rate "$tmp/pt.out") img/s"
    if [[ "$name" == *.train ]]; then
      /usr/bin/time -f %M -o "$tmp/pt.mem" "${plain_env[@]}" /usr/bin/python3 "$root/bench/torch_bench.py" \
        "${args[@]}" --threads "$threads" >/dev/null
      results[$name.mt_mem]+="$(peak_mb "$tmp/mt.mem") "
      results[$name.pt_mem]+="$(peak_mb "$tmp/pt.mem") "
      line+="; peak memory morphtrain $(peak_mb "$tmp/mt.mem") MB, pytorch $(peak_mb "$tmp/pt.mem") MB"
    fi
    echo "$line"
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a / b}'; }
echo
printf '%-24s %12s %12s %8s\n' "median of $reps" morphtrain pytorch ratio
for c in "${cases[@]}"; do
  name="${c%%|*}"
  m=$(echo "${results[$name.mt]}" | median)
  t=$(echo "${results[$name.pt]}" | median)
  printf '%-24s %12s %12s %8s\n' "$name img/s" "$m" "$t" "$(ratio "$m" "$t")"
done
for c in "${cases[@]}"; do
  name="${c%%|*}"
  [[ "$name" == *.train ]] || continue
  m=$(echo "${results[$name.mt_mem]}" | median)
  t=$(echo "${results[$name.pt_mem]}" | median)
  printf '%-24s %12s %12s %8s\n' "$name peak MB" "$m" "$t" "$(ratio "$m" "$t")"
done
