#!/usr/bin/env bash
# Is the slim network worth deploying? Inference at batch 128 of the dense ResNet-20 against slim
# versions of a learned structure (as learned, widths rounded to multiples of 8 and of 16), at the
# structure's own FLOPs and scaled to 30% of them, in morphtrain (bench/bench_slim: the models
# alternate, median of the rounds) and, when node is there, in ONNX Runtime (the same models
# exported as ONNX, alternating, speed-up per round: median and range).
#   bash bench/deploy_speed.sh [STRUCTURE.json] [ROUNDS]
# STRUCTURE defaults to the newest main-job run's (runs/resnet20_fmnist_morph/*/structure.json).
# ONNX Runtime is optional: npm's onnxruntime-node (CPU library inside) is installed with
# --ignore-scripts (its post-install step only fetches GPU files) into MORPHTRAIN_ORT_DIR
# (default bench/.ort, not committed); without node and npm that part is skipped, saying so.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup.sh"
build bench_slim >/dev/null
structure="${1:-$(ls -t "$root"/runs/resnet20_fmnist_morph/*/structure.json 2>/dev/null | head -1)}"
rounds="${2:-5}"
[ -f "$structure" ] || { echo "deploy_speed: no structure file (run bash scripts/run.sh first, or name one)" >&2; exit 2; }
config="$root/configs/resnet20_fmnist_morph.yaml"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "structure: $structure"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores), $(date -u +%Y-%m-%d)"

for budget in learned 0.3; do
  flags=()
  [ "$budget" = learned ] || flags=(--fraction "$budget")
  echo
  echo "== morphtrain, $budget FLOPs ($rounds alternating rounds, median)"
  "$MORPHTRAIN_BUILD_DIR/bench/bench_slim" --config "$config" --structure "$structure" --round-to 1,8,16 \
    --batch 128 --rounds "$rounds" --onnx-dir "$work/$budget" "${flags[@]}"
done

ort_dir="${MORPHTRAIN_ORT_DIR:-$root/bench/.ort}"
if ! command -v node >/dev/null; then
  echo; echo "ONNX Runtime: skipped (no node; apt-get install nodejs npm to measure it)"; exit 0
fi
if [ ! -d "$ort_dir/node_modules/onnxruntime-node" ]; then
  if ! command -v npm >/dev/null || ! npm install --silent --ignore-scripts --prefix "$ort_dir" onnxruntime-node >/dev/null 2>&1; then
    echo; echo "ONNX Runtime: skipped (npm install --ignore-scripts onnxruntime-node into $ort_dir failed)"; exit 0
  fi
fi
for budget in learned 0.3; do
  echo
  echo "== ONNX Runtime (onnxruntime-node, CPU, $(nproc) threads), $budget FLOPs ($rounds alternating rounds)"
  (cd "$work/$budget" && MORPHTRAIN_ORT_DIR="$ort_dir" node "$root/bench/ort_speed.js" --batch 128 \
     --threads "$(nproc)" --rounds "$rounds" --reps 8 dense.onnx slim_round1.onnx slim_round8.onnx slim_round16.onnx) |
    python3 -c '
import json, statistics, sys
rounds = {}
for line in sys.stdin:
    r = json.loads(line)
    rounds.setdefault(r["round"], {})[r["model"]] = r["img_s"]
dense = [m["dense.onnx"] for m in rounds.values()]
print("%-9s %12s %22s" % ("round_to", "slim img/s", "speed-up median (range)"))
for k in ("1", "8", "16"):
    name = "slim_round%s.onnx" % k
    ratios = [m[name] / m["dense.onnx"] for m in rounds.values()]
    print("%-9s %12.0f %10.2fx (%.2f-%.2f)" % (k, statistics.median(m[name] for m in rounds.values()),
                                              statistics.median(ratios), min(ratios), max(ratios)))
print("dense: %.0f img/s median (%.0f-%.0f)" % (statistics.median(dense), min(dense), max(dense)))'
done
