#!/usr/bin/env bash
# Build the libFuzzer targets of tests/fuzz/ (clang, ASan + UBSan) and run each for a bounded time.
#
#   scripts/fuzz.sh [-t SECONDS] [-j JOBS] [-b BUILD_DIR] [TARGET...]
#
#   -t SECONDS  fuzzing time per target (default 300; the `fuzz` lane of scripts/test.sh uses 20)
#   -j JOBS     targets fuzzed at the same time (default: nproc)
#   -b DIR      build directory (default build/fuzz)
#   TARGET      names such as registry or url (default: every target the build knows)
#
# Each target starts from its committed seeds (tests/fuzz/corpus/NAME/) plus what earlier runs
# found (DIR/fuzz-corpus/NAME/, kept between runs, never written into the repository). A finding
# (crash, sanitizer report, leak, timeout of one input, memory blow-up) fails the run; the input is
# saved as DIR/fuzz-artifacts/NAME-crash-* (or -leak-, -timeout-, -oom-). To keep it as a regression
# test, copy it into tests/fuzz/corpus/NAME/ once the bug is fixed: every lane replays that corpus.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

seconds=300 jobs=$(nproc) build="$root/build/fuzz"
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts "t:j:b:h" opt; do
  case $opt in
  t) seconds=$OPTARG ;;
  j) jobs=$OPTARG ;;
  b) build=$OPTARG ;;
  *) usage ;;
  esac
done
shift $((OPTIND - 1))
for v in "$seconds" "$jobs"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: not a positive number: $v" >&2; exit 2; }
done

cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DFWT_FUZZ=ON \
  -DFWT_BUILD_BENCH=OFF -DFWT_BUILD_EXAMPLES=OFF -DFWT_BUILD_TOOLS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzz_targets -- --no-print-directory >/dev/null

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cd "$build/tests/fuzz" && ls fuzz_* 2>/dev/null | sed -n 's/^fuzz_\([a-z_0-9]*\)$/\1/p' | sort)
fi
[ "${#targets[@]}" -gt 0 ] || { echo "fuzz: no target built" >&2; exit 2; }
for t in "${targets[@]}"; do
  [ -x "$build/tests/fuzz/fuzz_$t" ] || { echo "fuzz: unknown target $t" >&2; exit 2; }
done

art="$build/fuzz-artifacts" logs="$build/fuzz-logs"
mkdir -p "$art" "$logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# One target: fuzz for $seconds, with a hard bound well past it in case the fuzzer itself hangs.
run_one() {
  local t=$1 work="$build/fuzz-corpus/$1" seeds="$root/tests/fuzz/corpus/$1" log="$logs/$1.log"
  mkdir -p "$work"
  local rc=0
  timeout --kill-after=10 $((seconds + 120)) "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$art/$t-" "$work" "$seeds" >"$log" 2>&1 || rc=$?
  local runs
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz_$t: ok, ${runs:-?} runs in ${seconds} s"
  else
    echo "fuzz_$t: FINDING (exit $rc), log $log"
    grep -E "^==[0-9]+==ERROR|SUMMARY|runtime error|Test unit written|ALARM|out-of-memory" "$log" | head -8 | sed 's/^/  /'
  fi
  return "$rc"
}

echo "fuzz: ${#targets[@]} targets, ${seconds} s each, $jobs at a time"
start=$(date +%s)
pids=() names=() failed=()
for t in "${targets[@]}"; do
  run_one "$t" & pids+=($!) names+=("$t")
  if [ "${#pids[@]}" -ge "$jobs" ]; then
    wait "${pids[0]}" || failed+=("${names[0]}")
    pids=("${pids[@]:1}") names=("${names[@]:1}")
  fi
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed+=("${names[$i]}")
done
echo "fuzz: done in $(( $(date +%s) - start )) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: findings in: ${failed[*]} (inputs in $art)" >&2
  exit 1
fi
