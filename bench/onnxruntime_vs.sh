#!/usr/bin/env bash
# Inference of the dense ResNet-20 (1x28x28, the main job's input, batch 128): morphtrain's own
# kernels (bench/bench_step --mode infer) against ONNX Runtime running morphtrain's ONNX export of
# the same network (npm's onnxruntime-node, CPU, as many threads as cores), alternating, medians.
#   bash bench/onnxruntime_vs.sh [ROUNDS]        (default 3)
# ONNX Runtime is optional: it is installed with npm --ignore-scripts (the post-install step only
# fetches GPU files) into MORPHTRAIN_ORT_DIR (default bench/.ort); without node this says so and
# stops.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup.sh"
build morphtrain bench_step >/dev/null
rounds="${1:-3}"
ort_dir="${MORPHTRAIN_ORT_DIR:-$root/bench/.ort}"
if ! command -v node >/dev/null; then
  echo "ONNX Runtime comparison skipped: no node (apt-get install nodejs npm)"; exit 0
fi
if [ ! -d "$ort_dir/node_modules/onnxruntime-node" ]; then
  npm install --silent --ignore-scripts --prefix "$ort_dir" onnxruntime-node >/dev/null 2>&1 ||
    { echo "ONNX Runtime comparison skipped: npm could not install onnxruntime-node"; exit 0; }
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$MORPHTRAIN_BUILD_DIR/tools/morphtrain" --config "$root/configs/resnet20_fmnist.yaml" --set data.dataset=synthetic \
  --export "$work/resnet20.onnx" >/dev/null
echo "machine: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores), $(date -u +%Y-%m-%d)"
mt=() ort=()
for ((r = 1; r <= rounds; r++)); do
  m=$("$MORPHTRAIN_BUILD_DIR/bench/bench_step" --mode infer --channels 1 --size 28 --batch 128 |
      sed -n 's/.*"img_per_s": \([0-9.]*\).*/\1/p')
  o=$(cd "$work" && MORPHTRAIN_ORT_DIR="$ort_dir" node "$root/bench/ort_speed.js" --batch 128 --threads "$(nproc)" \
        --rounds 1 --reps 20 resnet20.onnx | python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())["img_s"])')
  mt+=("$m") ort+=("$o")
  echo "round $r: morphtrain $m img/s, ONNX Runtime $o img/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
python3 -c "m, o = $(median "${mt[@]}"), $(median "${ort[@]}"); print('median: morphtrain %.0f, ONNX Runtime %.0f img/s: %.2fx' % (m, o, m / o))"
