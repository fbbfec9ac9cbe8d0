#!/usr/bin/env bash
# The whole pipeline on several ranks through the morphtrain command: it must succeed, rank 0
# alone must write (one run directory, one metrics line per logged step), and a resume must find
# every phase done.
#   run_pipeline.sh MORPHTRAIN CONFIG MPIRUN [MPIRUN ARGS...]
set -uo pipefail
morphtrain="$1" config="$2"
shift 2
dir="$(mktemp -d /tmp/mt_mpi_pipeline_XXXXXX)"
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; tail -n 20 "$dir/log"; exit 1; }
"$@" "$morphtrain" --config "$config" --set output.root="$dir/runs" >"$dir/log" 2>&1 || fail "the pipeline exited $?"
runs=("$dir"/runs/mpi_pipeline/*/)
[ "${#runs[@]}" -eq 1 ] || fail "${#runs[@]} run directories (only rank 0 may create one)"
run="${runs[0]}"
for f in pipeline.json structure.json report.md slim.safetensors learn/learned_structure.json \
         learn/checkpoints/last retrain/checkpoints/last; do
  [ -e "$run/$f" ] || fail "$f is missing"
done
grep -q "global batch 32" "$dir/log" || fail "no data-parallel banner"
read -r dense slim < <(sed -n 's/^== reshape: \([0-9]*\) -> \([0-9]*\) parameters$/\1 \2/p' "$dir/log")
[ -n "${slim:-}" ] && [ "$slim" -lt "$dense" ] || fail "the reshape did not slim the model (${dense:-?} -> ${slim:-?})"
# 256 samples / (2 x 16) = 8 steps per epoch, 2 epochs, a line every 4 steps: 4 lines, once each.
steps=$(grep -c '"loss"' "$run/learn/metrics.jsonl")
[ "$steps" -eq 4 ] || fail "learn/metrics.jsonl has $steps step lines, expected 4 (one writer)"
"$@" "$morphtrain" --config "$config" --set output.root="$dir/runs" --resume auto >"$dir/log" 2>&1 ||
  fail "the resume exited $?"
grep -q "learn: done" "$dir/log" || fail "the resume ran the learn phase again"
echo "PASS"
