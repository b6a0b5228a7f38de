#!/usr/bin/env bash
# Soak the gcc lane's test suite to find flaky tests: run it N rounds while the
# machine is kept busy, then print how often each test failed.
#
#   scripts/soak-tests.sh [-n ROUNDS] [-R REGEX] [-E REGEX] [-j JOBS] [-l LOADERS] [-V] [-b BUILD_DIR]
#
#   -n ROUNDS   rounds to run (default 30)
#   -R REGEX    only tests matching REGEX (ctest -R)
#   -E REGEX    skip tests matching REGEX (ctest -E)
#   -j JOBS     tests run in parallel (default: nproc, like scripts/test.sh)
#   -l LOADERS  busy-loop processes kept running during each round (default: nproc; 0 = no load)
#   -V          also run the valgrind lane (tests labelled valgrind_lane) each round
#   -b DIR      build directory (default build/gcc; configured like the gcc lane if missing)
#
# The load is one `while :; do :; done` shell per loader, started at the beginning of each round and
# killed at its end; each also carries a time bound (`timeout`), so a soak killed with SIGKILL
# leaves no loader behind for longer than one round's bound.
# Leave the source tree alone while it runs: some tests read it (install_tree builds tests/install/*.c).
# Logs of failing rounds are kept in BUILD_DIR/soak/. Exit status: 0 when every test passed every
# round, 1 when any test failed, 2 on a usage or build error.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

rounds=30 include="" exclude="" jobs=$(nproc) loaders=$(nproc) valgrind=0 build="$root/build/gcc"
round_bound=1800 # seconds: no round of the whole suite comes close; bounds a leftover loader
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts "n:R:E:j:l:Vb:h" opt; do
  case $opt in
  n) rounds=$OPTARG ;;
  R) include=$OPTARG ;;
  E) exclude=$OPTARG ;;
  j) jobs=$OPTARG ;;
  l) loaders=$OPTARG ;;
  V) valgrind=1 ;;
  b) build=$OPTARG ;;
  *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
for v in "$rounds" "$jobs" "$loaders"; do
  [[ $v =~ ^[0-9]+$ ]] || { echo "soak-tests: not a number: $v" >&2; exit 2; }
done
[ "$rounds" -ge 1 ] && [ "$jobs" -ge 1 ] || { echo "soak-tests: -n and -j must be >= 1" >&2; exit 2; }

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ -DFWT_VALGRIND=ON \
    -DFWT_BUILD_BENCH=ON >/dev/null || exit 2
fi
cmake --build "$build" -j "$jobs" -- --no-print-directory >/dev/null || { echo "soak-tests: build failed" >&2; exit 2; }

filter=()
[ -n "$include" ] && filter+=(-R "$include")
[ -n "$exclude" ] && filter+=(-E "$exclude")
lane_args=(-LE valgrind_lane)
[ "$valgrind" -eq 1 ] && lane_args=()

# Every selected test starts at 0 failures, so the report lists the ones that never failed too.
declare -A fails=()
mapfile -t names < <(ctest --test-dir "$build" -N "${lane_args[@]}" "${filter[@]}" |
  sed -n 's/^ *Test *#[0-9]*: \(.*\)$/\1/p')
[ "${#names[@]}" -gt 0 ] || { echo "soak-tests: no test selected" >&2; exit 2; }
for t in "${names[@]}"; do fails[$t]=0; done

logdir="$build/soak"
mkdir -p "$logdir"
rm -f "$logdir"/round-*.log

load_pids=()
stop_load() {
  local p
  for p in "${load_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${load_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  load_pids=()
}
start_load() {
  local i
  for ((i = 0; i < loaders; i++)); do
    timeout "$round_bound" sh -c 'while :; do :; done' &
    load_pids+=($!)
  done
}
trap 'stop_load' EXIT
trap 'exit 130' INT TERM

echo "soak: ${#names[@]} tests, $rounds rounds, -j $jobs, $loaders busy loops (nproc $(nproc))"
start=$(date +%s)
bad_rounds=0
for ((r = 1; r <= rounds; r++)); do
  log="$logdir/round-$r.log"
  start_load
  rc=0
  ctest --test-dir "$build" --no-tests=error --output-on-failure -j "$jobs" --timeout 600 \
    "${lane_args[@]}" "${filter[@]}" >"$log" 2>&1 || rc=$?
  stop_load
  # ctest's summary: "The following tests FAILED:" then lines "<tab> 12 - name (Failed)".
  mapfile -t failed < <(sed -n '/The following tests FAILED:/,$ s/^[[:space:]]*[0-9]\{1,\} - \(.*\) ([^()]*)[[:space:]]*$/\1/p' "$log")
  if [ "$rc" -ne 0 ] && [ "${#failed[@]}" -eq 0 ]; then
    failed=("<ctest exit $rc, no test named: see $log>")
  fi
  for t in "${failed[@]}"; do fails[$t]=$(( ${fails[$t]:-0} + 1 )); done
  if [ "${#failed[@]}" -gt 0 ]; then
    bad_rounds=$((bad_rounds + 1))
    echo "round $r/$rounds: FAILED ${failed[*]} (log: $log)"
  else
    rm -f "$log"
    echo "round $r/$rounds: ok"
  fi
done

echo
echo "failures per test after $rounds rounds ($(( $(date +%s) - start )) s, $loaders busy loops, -j $jobs):"
total=0
for t in "${!fails[@]}"; do printf '%6d  %s\n' "${fails[$t]}" "$t"; done | sort -k1,1nr -k2
for t in "${!fails[@]}"; do total=$((total + fails[$t])); done
echo "total: $total failures in $bad_rounds of $rounds rounds"
[ "$total" -eq 0 ]
