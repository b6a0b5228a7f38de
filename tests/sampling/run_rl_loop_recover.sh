#!/usr/bin/env bash
# In-process recovery of the rl_loop example (issue 14 item 5), against fwtrain-local:
#   A. a fixed-seed run on its own server, never interrupted: the reference lines;
#   B. the same run on a fresh server, which the test SIGKILLs as soon as B printed step K and restarts on the same
#      --data-dir and port. B must finish in the same process (exit 0, exactly one "recovered in-process" line on
#      stderr), and every step line it printed, the recomputed ones included, must be A's line of that step.
# Rounds: K=1 (no checkpoint yet: the recovery starts a fresh model at step 0) and K=4 (the step-3 checkpoint, or
# a later one, is reloaded with its optimizer state).
# No timing assumption: the kill is triggered by reading B's step line from a pipe, after a random delay below the
# time of one of A's steps (seeded: FWT_TEST_SEED=N reproduces the draw), so it lands somewhere in the next step or
# two: sampling, a training op, a save, a hotload or the check; every place must recover, and no assertion depends
# on where it landed. The waits below are hang guards only.
# Args: FWTRAIN_LOCAL RL_LOOP [WRAPPER...]   (a WRAPPER, e.g. valgrind and its options, runs B under it)
set -euo pipefail
server=$1 rl_loop=$2
shift 2
wrap=("$@")
steps=15 interval=3 # the kills come after step 1 or 4: the later steps are the margin for a slow reader
tmp=$(mktemp -d /tmp/fwt-rl-recover-XXXXXX)
srv_pid=
rl_pid=
cleanup() {
  for p in $rl_pid $srv_pid; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ -n "${FWT_KEEP_TMP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$tmp"/*.out "$tmp"/*.err "$tmp"/*.log; do [ -e "$f" ] && { echo "--- $f"; tail -30 "$f"; }; done
  exit 1
}

# start_server NAME PORT : fwtrain-local on DATA dir $tmp/NAME.data (kept across restarts); sets $srv_pid and $port
start_server() {
  local name=$1 want=$2
  rm -f "$tmp/$name.port"
  "$server" --port "$want" --port-file "$tmp/$name.port" --data-dir "$tmp/$name.data" --api-key rl-key \
    --job-start-ms 10 --hotload-ms 5 --seed 7 >>"$tmp/$name.log" 2>&1 &
  srv_pid=$!
  for _ in $(seq 1200); do # hang guard: 60 s
    [ -s "$tmp/$name.port" ] && break
    kill -0 "$srv_pid" 2>/dev/null || fail "fwtrain-local ($name) exited at start (port $want)"
    sleep 0.05
  done
  [ -s "$tmp/$name.port" ] || fail "fwtrain-local ($name) did not start"
  port=$(tr -d '[:space:]' <"$tmp/$name.port")
}
stop_server() { kill -9 "$srv_pid"; wait "$srv_pid" 2>/dev/null || true; srv_pid=; }

# The comparable form of step lines: the snapshot name loses its last "-<8 hex>" part. That part is the training
# session's suffix (fwt_training_session_suffix), drawn at random for every session, so it differs between any two
# runs and, within B, before and after the recovery; the rest of the name (the step) is compared.
norm() { sed -E 's/( snapshot=[^ ]*)-[0-9a-f]{8}( |$)/\1\2/' "$1"; }
step_of() { sed -E 's/^step=([0-9]+) .*/\1/'; }

export FIREWORKS_API_KEY=rl-key
args=(--steps "$steps" --seed 4 --dcp-save-interval "$interval")

seed=${FWT_TEST_SEED:-$(( $(date +%s) ^ $$ ))}
echo "# FWT_TEST_SEED=$seed"
RANDOM=$seed

echo "-- A: $steps steps, uninterrupted"
start_server a 0
t0=$(date +%s%N)
FIREWORKS_BASE_URL="http://127.0.0.1:$port" "$rl_loop" --log-path "$tmp/run-a" "${args[@]}" \
  >"$tmp/a.out" 2>"$tmp/a.err" || fail "run A exited non-zero"
step_ms=$(( ($(date +%s%N) - t0) / 1000000 / steps + 1 ))
stop_server
[ "$(grep -c ' check=ok$' "$tmp/a.out")" -eq "$steps" ] || fail "run A did not check $steps hotloads"
[ "$(step_of <"$tmp/a.out" | tr '\n' ' ')" = "$(seq -s ' ' 1 "$steps") " ] || fail "run A did not print steps 1..$steps"
norm "$tmp/a.out" >"$tmp/a.norm"

for kill_after in 1 4; do
  b=b$kill_after
  echo "-- B: the same run; fwtrain-local SIGKILLed after step $kill_after and restarted on its data dir and port"
  start_server "$b" 0
  b_port=$port
  mkfifo "$tmp/$b.fifo"
  FIREWORKS_BASE_URL="http://127.0.0.1:$b_port" "${wrap[@]}" "$rl_loop" --log-path "$tmp/run-$b" "${args[@]}" \
    >"$tmp/$b.fifo" 2>"$tmp/$b.err" &
  rl_pid=$!
  killed=0
  : >"$tmp/$b.out"
  while IFS= read -r line; do
    printf '%s\n' "$line" >>"$tmp/$b.out"
    if [ "$killed" -eq 0 ] && [ "${line%% *}" = "step=$kill_after" ]; then
      sleep "$(awk -v ms=$(( RANDOM % step_ms )) 'BEGIN { printf "%.3f", ms / 1000 }')"
      stop_server
      start_server "$b" "$b_port" # the same port: the client's base URL still reaches it
      killed=1
    fi
  done <"$tmp/$b.fifo"
  set +e
  wait "$rl_pid"
  rc=$?
  set -e
  rl_pid=
  stop_server
  [ "$killed" -eq 1 ] || fail "run B never printed step $kill_after"
  [ "$rc" -eq 0 ] || fail "run B did not survive the server's SIGKILL (exit $rc)"
  # the example's own line (the library's warning says it too, with the session's details)
  [ "$(grep -c '^rl_loop: .*recovered in-process' "$tmp/$b.err")" -eq 1 ] || fail "run B did not log exactly one recovery"
  from=$(sed -n 's/^rl_loop: .*recovered in-process.*continuing from step \([0-9]*\)$/\1/p' "$tmp/$b.err")
  [ -n "$from" ] && [ $((from % interval)) -eq 0 ] && [ "$from" -lt "$steps" ] \
    || fail "run B's recovery did not continue from a checkpointed step (\"$from\")"
  # B's steps: 1..X (X: the last step printed before the failure), then from+1..steps; X >= from (X == from: the
  # failure came right after a checkpoint, nothing is printed twice) and X >= kill_after. Each line is A's line.
  mapfile -t got < <(step_of <"$tmp/$b.out")
  x=$(( ${#got[@]} - (steps - from) ))
  [ "$x" -ge "$kill_after" ] && [ "$x" -ge "$from" ] || fail "run B printed steps ${got[*]}, recovering at $from"
  want="$(seq -s ' ' 1 "$x") $(seq -s ' ' $((from + 1)) "$steps")"
  [ "${got[*]}" = "$want" ] || fail "run B printed steps ${got[*]}, want $want (recovered at step $from)"
  while IFS= read -r line; do
    ref=$(grep "^${line%% *} " "$tmp/a.norm") || fail "run B printed ${line%% *}, which A did not"
    [ "$line" = "$ref" ] || fail "run B: \"$line\" != run A: \"$ref\""
  done < <(norm "$tmp/$b.out")
  recomputed=$((x - from))
  echo "   recovered at step $from after printing step $x; $recomputed step(s) recomputed; all ${#got[@]} lines equal A's"
done
echo "-- rl_loop recovery OK"
