#!/usr/bin/env bash
# A latency table measured in ONNX Runtime, for structure learning aimed at models deployed there:
# the layers and channel grids of `morphtrain --calibrate` for a config's model, each cell
# re-measured in ONNX Runtime (CPU, as many threads as cores), written in the same format
# (docs/latency_table.md), so that morph.hardware takes it as it takes morphtrain's own.
#   bash bench/ort_latency_table.sh OUT.json [CONFIG]      (CONFIG: configs/resnet20_fmnist_30.yaml)
# ONNX Runtime is npm's onnxruntime-node, installed with --ignore-scripts into MORPHTRAIN_ORT_DIR
# (default bench/.ort); Debian's python3-onnx (/usr/bin/python3) builds the one-layer models.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup.sh"
out="${1:?usage: bash bench/ort_latency_table.sh OUT.json [CONFIG]}"
config="${2:-$root/configs/resnet20_fmnist_30.yaml}"
ort_dir="${MORPHTRAIN_ORT_DIR:-$root/bench/.ort}"
command -v node >/dev/null || { echo "ort_latency_table: needs node (apt-get install nodejs npm)" >&2; exit 2; }
if [ ! -d "$ort_dir/node_modules/onnxruntime-node" ]; then
  npm install --silent --ignore-scripts --prefix "$ort_dir" onnxruntime-node >/dev/null 2>&1 ||
    { echo "ort_latency_table: npm could not install onnxruntime-node into $ort_dir" >&2; exit 2; }
fi
build morphtrain >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "== the layers and grids: morphtrain --calibrate (morphtrain's kernels)"
"$MORPHTRAIN_BUILD_DIR/tools/morphtrain" --calibrate "$work/template.json" --config "$config" | tail -2
echo "== the same cells in ONNX Runtime ($(nproc) threads)"
/usr/bin/python3 "$root/bench/ort_latency_table.py" models "$work/template.json" "$work"
MORPHTRAIN_ORT_DIR="$ort_dir" node "$root/bench/ort_latency_table.js" "$work/manifest.json" --threads "$(nproc)" > "$work/timings.jsonl"
version=$(node -e "console.log(require(require.resolve('onnxruntime-node/package.json', {paths: ['$ort_dir']})).version)")
/usr/bin/python3 "$root/bench/ort_latency_table.py" table "$work/template.json" "$work" "$work/timings.jsonl" "$out" \
  "onnxruntime-$version-cpu-$(nproc)t"
echo "wrote $out"
