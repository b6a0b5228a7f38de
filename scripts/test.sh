#!/usr/bin/env bash
# Builds everything and runs every test lane:
#   1. gcc, -Werror: all tests, then the valgrind lane (tests labelled 'valgrind')
#   2. clang + AddressSanitizer + UndefinedBehaviorSanitizer: all tests
#   3. clang + ThreadSanitizer: tests labelled 'tsan'
#   4. fuzz: the libFuzzer targets of tests/fuzz (clang + ASan + UBSan), each for FWT_FUZZ_SECONDS
#      (default 12); any finding fails the lane (scripts/fuzz.sh runs them longer on demand)
# The benchmarks (bench/) are built in the gcc lane only: they must compile warning-free, and the other lanes
# never run them. The whole run stays under 15 minutes on the 2-core VM.
# Set FWT_LANES="gcc asan tsan fuzz" (any subset) to run fewer lanes.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/deps.sh"
lanes=${FWT_LANES:-"gcc asan tsan fuzz"}
jobs=$(nproc)
build() { # dir, cmake args...
  local dir=$1; shift
  cmake -S "$root" -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j "$jobs" -- --no-print-directory >/dev/null
}
start=$(date +%s)
for lane in $lanes; do
  case $lane in
  gcc)
    echo "== lane gcc (-Werror) =="
    build "$root/build/gcc" -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ -DFWT_VALGRIND=ON -DFWT_BUILD_BENCH=ON
    ctest --test-dir "$root/build/gcc" --no-tests=error --output-on-failure -j "$jobs" -LE valgrind_lane
    echo "== lane valgrind =="
    ctest --test-dir "$root/build/gcc" --no-tests=error --output-on-failure -j "$jobs" -L valgrind_lane ;;
  asan)
    echo "== lane clang + ASan + UBSan =="
    build "$root/build/asan" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DFWT_SANITIZE=ON -DFWT_BUILD_BENCH=OFF
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir "$root/build/asan" --no-tests=error --output-on-failure -j "$jobs" ;;
  tsan)
    echo "== lane clang + TSan =="
    build "$root/build/tsan" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DFWT_TSAN=ON -DFWT_BUILD_BENCH=OFF
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
      ctest --test-dir "$root/build/tsan" --no-tests=error --output-on-failure -j "$jobs" -L tsan ;;
  fuzz)
    echo "== lane fuzz (libFuzzer, ASan + UBSan) =="
    "$root/scripts/fuzz.sh" -t "${FWT_FUZZ_SECONDS:-12}" -j "$jobs" ;;
  *) echo "unknown lane $lane" >&2; exit 2 ;;
  esac
done
echo "all lanes passed in $(( $(date +%s) - start )) s"
