#!/usr/bin/env bash
# Fuzzes every parser of outside input with libFuzzer (tests/fuzz/), SECONDS each (default 600):
#   bash scripts/fuzz.sh [SECONDS] [HARNESS...]     e.g. bash scripts/fuzz.sh 120 idx cifar
# Builds the harnesses and the parsers they reach with clang (-fsanitize=fuzzer,address,undefined)
# into build-fuzz, linked against the normal build's libraries (tests/fuzz/build_fuzzers.py),
# then runs each harness on a working corpus in
# build-fuzz/corpus/<harness>, seeded from tests/fuzz/corpus/<harness>. Crashes, leaks, sanitizer
# reports and inputs over 2 GiB of memory land in build-fuzz/findings/<harness>/; once fixed, copy
# them into tests/fuzz/corpus/<harness>/, where the normal test suite replays them (ctest -R fuzz_corpus).
#   MORPHTRAIN_FUZZ_DIR  build directory (default: build-fuzz)
#   MORPHTRAIN_JOBS      build jobs of the normal build (default: all cores)
# Prints one line per harness: executions, coverage (edges), corpus size and findings.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
# Only for fuzzing: the normal build needs neither. (libFuzzer's runtime ships with clang's
# compiler-rt in Debian; libfuzzer-14-dev adds its headers and the standalone library.)
ensure_packages clang libfuzzer-14-dev

seconds="${1:-600}"
shift || true
all=(safetensors idx cifar image config yaml_graph structure trainer_state latency_table onnx)
harnesses=("$@")
((${#harnesses[@]})) || harnesses=("${all[@]}")

dir="${MORPHTRAIN_FUZZ_DIR:-$root/build-fuzz}"
build morphtrain  # the normal build's libraries, which the harnesses link (build_fuzzers.py says why)
python3 "$root/tests/fuzz/build_fuzzers.py" "$MORPHTRAIN_BUILD_DIR" "$dir" "${harnesses[@]}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=0
for h in "${harnesses[@]}"; do
  corpus="$dir/corpus/$h" findings="$dir/findings/$h" log="$dir/fuzz_$h.log"
  mkdir -p "$corpus" "$findings"
  # -rss_limit_mb: an input that makes a reader allocate past 2 GiB is a finding (a size taken
  # from a header unchecked), not a slow input.
  set +e
  "$dir/fuzz_$h" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
    -artifact_prefix="$findings/" "$corpus" "$root/tests/fuzz/corpus/$h" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo "?")
  found=$(find "$findings" -type f | wc -l)
  echo "fuzz_$h: ${seconds}s, ${runs} executions, coverage ${cov} edges, corpus $(ls "$corpus" | wc -l) files, findings ${found} (exit ${rc}; log ${log})"
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then failed=1; fi
done
exit "$failed"
