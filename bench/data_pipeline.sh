#!/usr/bin/env bash
# Streaming image folders: morphtrain's loader (bench/bench_loader: decode on the loader's workers,
# random-resized crop and flip to 224, normalised float batches) against PyTorch's DataLoader with
# torchvision's ImageFolder and the same transforms, workers and batch size, alternating in one
# run (median img/s of ROUNDS each); then morphtrain's peak resident memory over a whole epoch of
# 2,000 and of 20,000 images, which must not grow with the folder.
#   bash bench/data_pipeline.sh [ROUNDS] [WORKERS]      (defaults 3 and the number of cores)
# Generates the JPEG folders (500x375, quality 90; numpy and PIL) under MORPHTRAIN_BENCH_DATA
# (default /tmp/morphtrain_jpeg_folders, reused between runs). Needs python3-torchvision
# (apt-get install python3-torchvision) for the PyTorch side; without it that side is skipped.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup.sh"
build bench_loader >/dev/null
rounds="${1:-3}"
workers="${2:-$(nproc)}"
data="${MORPHTRAIN_BENCH_DATA:-/tmp/morphtrain_jpeg_folders}"
for n in 2000 20000; do
  if [ ! -f "$data/$n.done" ]; then
    echo "writing $n JPEGs into $data/$n ..."
    /usr/bin/python3 "$root/bench/make_jpeg_folder.py" "$data/$n" "$n" && touch "$data/$n.done"
  fi
done
echo "machine: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores), $(date -u +%Y-%m-%d); batch 64, $workers workers"

field() { python3 -c "import json, sys; print(json.loads(sys.stdin.readline())['$1'])"; }
have_torch=1
/usr/bin/python3 -c 'import torchvision' 2>/dev/null || have_torch=0
mt_rates=() pt_rates=()
for ((r = 1; r <= rounds; r++)); do
  m=$("$MORPHTRAIN_BUILD_DIR/bench/bench_loader" --folder "$data/2000/train" --workers "$workers" --batches 30 | field img_per_s)
  mt_rates+=("$m")
  line="round $r: morphtrain $m img/s"
  if ((have_torch)); then
    p=$(/usr/bin/python3 "$root/bench/torch_loader.py" "$data/2000/train" --workers "$workers" --batches 30 | field img_per_s)
    pt_rates+=("$p")
    line+=", PyTorch DataLoader $p img/s"
  fi
  echo "$line"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "throughput, random-resized crop to 224 (median of $rounds):"
echo "  morphtrain          $(median "${mt_rates[@]}") img/s"
if ((have_torch)); then
  echo "  PyTorch DataLoader  $(median "${pt_rates[@]}") img/s"
  python3 -c "print('  ratio               %.2fx' % ($(median "${mt_rates[@]}") / $(median "${pt_rates[@]}")))"
else
  echo "  PyTorch DataLoader  skipped (no torchvision: apt-get install python3-torchvision)"
fi
echo
echo "morphtrain peak resident memory over one epoch:"
for n in 2000 20000; do
  echo "  $n images: $("$MORPHTRAIN_BUILD_DIR/bench/bench_loader" --folder "$data/$n/train" --workers "$workers" | field peak_rss_mb) MB"
done
