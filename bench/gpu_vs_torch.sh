#!/usr/bin/env bash
# The GPU backend against eager PyTorch on the same GPU, alternating in one invocation so both
# see the same conditions: ResNet-20 (3x32x32) at batch 128 and 512, ResNet-50 (3x224x224) at
# batch 64, training steps (forward, cross-entropy, backward, SGD momentum) with TF32 convolutions
# on both sides (PyTorch's default). Needs a build with the CUDA backend, a visible GPU, and a
# python3 whose torch has CUDA (PYTHON=... to pick one; torchvision for ResNet-50).
#   bash bench/gpu_vs_torch.sh [REPS]     (default 3)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MORPHTRAIN_BUILD_DIR:-$root/build}"
reps="${1:-3}"
python="${PYTHON:-python3}"
cmake --build "$build" --target bench_step >/dev/null

rate() { sed -n 's/.*"img_per_s": \([0-9.]*\).*/\1/p'; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cases=("resnet20 128 32" "resnet20 512 32" "resnet50 64 224")
declare -A results
for ((r = 1; r <= reps; r++)); do
  for c in "${cases[@]}"; do
    read -r model batch size <<<"$c"
    m=$("$build/bench/bench_step" --backend cuda --model "$model" --batch "$batch" --size "$size" | rate)
    t=$("$python" "$root/bench/torch_bench.py" --device cuda --model "$model" --batch "$batch" --size "$size" | rate)
    results[$c.mt]+="$m "
    results[$c.pt]+="$t "
    echo "rep $r $model batch $batch: morphtrain $m img/s, pytorch $t img/s"
  done
done
echo
printf '%-10s %6s %14s %14s %8s\n' model batch morphtrain pytorch ratio
for c in "${cases[@]}"; do
  read -r model batch size <<<"$c"
  m=$(echo "${results[$c.mt]}" | median)
  t=$(echo "${results[$c.pt]}" | median)
  printf '%-10s %6s %14s %14s %8s\n' "$model" "$batch" "$m" "$t" "$(awk -v a="$m" -v b="$t" 'BEGIN {printf "%.2fx", a / b}')"
done
