#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 (build/fuzz) and runs each for RUNS executions
# (default 1 000 000: the slow suite's requirement) on a scratch copy of its seed corpus.
#   scripts/fuzz.sh [RUNS]
# Exit status is non-zero when a target crashes, leaks or trips a sanitizer; the reproducer is
# left in build/fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-1000000}"
cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DSKEG_BUILD_FUZZ=ON -DSKEG_BUILD_BENCH=OFF -DSKEG_BUILD_TESTS=OFF > /dev/null
targets=(resp_parser_fuzz native_frame_fuzz filter_parser_fuzz)
cmake --build build/fuzz --target "${targets[@]}"
mkdir -p build/fuzz/artifacts
for t in "${targets[@]}"; do
  corpus_name="${t%%_*}"
  scratch="build/fuzz/corpus-$t"
  mkdir -p "$scratch"
  echo "fuzz: $t, $RUNS runs"
  log="build/fuzz/$t.log"
  rc=0
  "build/fuzz/tests/fuzz/$t" -runs="$RUNS" -max_len=4096 -print_final_stats=1 \
    -artifact_prefix=build/fuzz/artifacts/ "$scratch" "tests/fuzz/corpus/$corpus_name" \
    > "$log" 2>&1 || rc=$?
  grep -E "^(stat::number_of_executed_units|==[0-9]+==|SUMMARY)" "$log" || true
  if [ "$rc" -ne 0 ]; then
    echo "fuzz: $t failed (exit $rc); see $log" >&2
    exit 1
  fi
done
echo "fuzz: all targets ran $RUNS executions without a finding"
