#!/usr/bin/env bash
# The rl_loop example against fwtrain-local:
#   1. a fixed-seed run: every step's hotload is checked (check=ok) and the mean reward of the last five
#      steps exceeds that of the first five (computed from the printed lines);
#   2. SIGKILL in the middle, rerun: it resumes from its checkpoint and reprints the steps after it exactly
#      as they were printed before the kill, then completes; a third run finds the run complete;
#   3. the same loop while the inference endpoint fails often (5xx/429/408/dropped connections).
# Args: FWTRAIN_LOCAL RL_LOOP [STEPS [WRAPPER...]]
# With a WRAPPER (e.g. valgrind and its options) only a short run is made, under the wrapper: every step must
# check its hotload and the wrapper must report no error (the reward test needs more steps than that affords).
set -euo pipefail
server=$1 rl_loop=$2 steps=${3:-20}
shift $(( $# < 3 ? $# : 3 ))
wrap=("$@")
tmp=$(mktemp -d /tmp/fwt-rl-loop-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

# start_server NAME ARGS... : sets $url
start_server() {
  local name=$1; shift
  "$server" --port 0 --port-file "$tmp/$name.port" --data-dir "$tmp/$name.data" --api-key rl-key --job-start-ms 10 \
    --hotload-ms 5 --seed 7 "$@" >"$tmp/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do [ -s "$tmp/$name.port" ] && break; sleep 0.05; done
  [ -s "$tmp/$name.port" ] || fail "fwtrain-local ($name) did not start"
  url="http://127.0.0.1:$(tr -d '[:space:]' < "$tmp/$name.port")"
}
# mean of the reward= values of lines FROM..TO (1-based) of a file
mean_reward() { sed -n "$2,$3p" "$1" | sed -n 's/.*reward=\([0-9.]*\).*/\1/p' | awk '{s+=$1; n++} END {printf "%.6f", s/n}'; }

export FIREWORKS_API_KEY=rl-key
start_server main
export FIREWORKS_BASE_URL=$url

if [ "${#wrap[@]}" -gt 0 ]; then
  echo "-- rl_loop: $steps steps under ${wrap[0]}"
  "${wrap[@]}" "$rl_loop" --log-path "$tmp/run-w" --steps "$steps" --group-size 4 --seed 3 >"$tmp/w.out" 2>"$tmp/w.err" \
    || { cat "$tmp/w.out" "$tmp/w.err"; fail "rl_loop under ${wrap[0]} exited non-zero"; }
  cat "$tmp/w.out"
  [ "$(grep -c ' check=ok$' "$tmp/w.out")" -eq "$steps" ] || fail "not every step checked its hotload"
  echo "-- rl_loop OK under ${wrap[0]}"
  exit 0
fi

echo "-- rl_loop: $steps steps with a fixed seed"
"$rl_loop" --log-path "$tmp/run-a" --steps "$steps" --seed 3 >"$tmp/a.out" 2>"$tmp/a.err" \
  || { cat "$tmp/a.out" "$tmp/a.err"; fail "rl_loop exited non-zero"; }
cat "$tmp/a.out"
[ "$(grep -c ' check=ok$' "$tmp/a.out")" -eq "$steps" ] || fail "not every step checked its hotload"
first=$(mean_reward "$tmp/a.out" 1 5)
last=$(mean_reward "$tmp/a.out" $((steps - 4)) "$steps")
echo "   mean reward: first five steps $first, last five steps $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b > a) }' || fail "the mean reward did not rise ($first -> $last)"

echo "-- rl_loop: SIGKILL after step 7 (checkpoints every 3 steps), then resume"
set +e
"$rl_loop" --log-path "$tmp/run-b" --steps 10 --seed 5 --dcp-save-interval 3 --crash-after-step 7 >"$tmp/b1.out" 2>"$tmp/b1.err"
rc=$?
set -e
[ "$rc" -eq 137 ] || { cat "$tmp/b1.out" "$tmp/b1.err"; fail "the first run did not die by SIGKILL (exit $rc)"; }
[ "$(tail -1 "$tmp/b1.out" | sed 's/ .*//')" = "step=7" ] || fail "the first run did not stop after step 7"
"$rl_loop" --log-path "$tmp/run-b" --steps 10 --seed 5 --dcp-save-interval 3 >"$tmp/b2.out" 2>"$tmp/b2.err" \
  || { cat "$tmp/b2.out" "$tmp/b2.err"; fail "the resumed run exited non-zero"; }
grep -q 'resuming job .* at step 6 ' "$tmp/b2.err" || { cat "$tmp/b2.err"; fail "the rerun did not resume from the step-6 checkpoint"; }
resumed=$(sed -n 's/.*at step \([0-9]*\).*/\1/p' "$tmp/b2.err" | head -1)
[ "$(head -1 "$tmp/b2.out" | sed 's/ .*//')" = "step=$((resumed + 1))" ] || fail "the rerun did not continue at step $((resumed + 1))"
[ "$(tail -1 "$tmp/b2.out" | sed 's/ .*//')" = "step=10" ] || fail "the resumed run did not finish"
# steps printed by both runs: identical lines except the snapshot names, which carry each session's suffix
strip() { sed 's/ snapshot=[^ ]*//' "$1"; }
overlap=$(comm -12 <(strip "$tmp/b1.out" | sed 's/ .*//' | sort) <(strip "$tmp/b2.out" | sed 's/ .*//' | sort) | wc -l)
[ "$overlap" -eq 1 ] || fail "$overlap steps printed by both runs, want 1 (step 7)"
while read -r key; do
  [ "$(strip "$tmp/b1.out" | grep "^$key ")" = "$(strip "$tmp/b2.out" | grep "^$key ")" ] \
    || fail "$key differs after the resume: $(grep "^$key " "$tmp/b1.out") vs $(grep "^$key " "$tmp/b2.out")"
done < <(comm -12 <(strip "$tmp/b1.out" | sed 's/ .*//' | sort) <(strip "$tmp/b2.out" | sed 's/ .*//' | sort))
echo "   resumed at step $resumed; $overlap step(s) printed by both runs are identical"
"$rl_loop" --log-path "$tmp/run-b" --steps 10 --seed 5 --dcp-save-interval 3 >"$tmp/b3.out" 2>"$tmp/b3.err" \
  || fail "the third run exited non-zero"
grep -q 'already complete' "$tmp/b3.err" || fail "the third run did not find the run complete"

echo "-- rl_loop against an inference endpoint that fails often (503/429 + Retry-After/408/dropped connections)"
start_server faulty --faults seed=11,http503=0.15,http429=0.1,retry_after=1,http408=0.1,drop=0.1,only=/inference/
FIREWORKS_BASE_URL=$url "$rl_loop" --log-path "$tmp/run-c" --steps 3 --seed 2 >"$tmp/c.out" 2>"$tmp/c.err" \
  || { cat "$tmp/c.out" "$tmp/c.err"; fail "rl_loop under inference faults exited non-zero"; }
[ "$(grep -c ' check=ok$' "$tmp/c.out")" -eq 3 ] || fail "rl_loop under faults did not check 3 hotloads"
echo "   survived; server log lines mentioning faults: $(grep -c 'fault' "$tmp/faulty.log" || true)"
echo "-- rl_loop OK"
