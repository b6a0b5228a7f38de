#!/usr/bin/env bash
# libfwtrain in two minutes: build, start a local Fireworks training server, train with
# checkpoints, kill the trainer with SIGKILL mid-run, resume it, promote the result.
# Usage: scripts/demo.sh            (everything stays under ./demo-run; rerun at will)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build/demo
run=$root/demo-run
steps=${FWT_DEMO_STEPS:-60}
kill_at=${FWT_DEMO_KILL_AT:-27}
interval=10

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf '\n\033[31mdemo failed: %s\033[0m\n' "$*" >&2; exit 1; }
# sft_resume prints "step=N loss=<hex float>": exact, so two runs compare bit for bit. Shown to people as
# a decimal, with the exact value beside it.
show_steps() {
  local s l d
  while read -r s l; do
    if LC_ALL=C printf -v d '%.4f' "${l#loss=}" 2>/dev/null; then
      printf '    step %-3s loss %s   (exact: %s)\n' "${s#step=}" "$d" "${l#loss=}"
    else
      printf '    %s %s\n' "$s" "$l"   # not the expected format: show it as printed
    fi
  done
}
server_pid=""
trainer_pid=""
cleanup() {
  [ -n "$trainer_pid" ] && kill -9 "$trainer_pid" 2>/dev/null || true
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'die "interrupted"' INT TERM

say "1/7 Checking build dependencies (Debian packages; installs only what is missing)"
"$root/scripts/deps.sh" || die "could not install the dependencies"

say "2/7 Building libfwtrain, fwtrain-local, the fwtrain CLI and the examples (${FWT_DEMO_BUILD_TYPE:-Release})"
note "1-3 minutes the first time on 2 cores, seconds afterwards; the compiler output goes to ${build#$root/}/build.log"
mkdir -p "$build"
t0=$(date +%s)
{ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="${FWT_DEMO_BUILD_TYPE:-Release}" -DFWT_BUILD_TESTS=OFF \
    -DFWT_BUILD_BENCH=OFF && cmake --build "$build" -j "$(nproc)"; } >"$build/build.log" 2>&1 ||
  { tail -40 "$build/build.log"; die "build failed (full output: $build/build.log)"; }
note "built in $(( $(date +%s) - t0 )) s into $build"

say "3/7 Starting fwtrain-local, a local server speaking the Fireworks Training API"
rm -rf "$run"
mkdir -p "$run"
"$build/server/fwtrain-local" --port 0 --port-file "$run/port" --data-dir "$run/server-data" \
  --api-key demo-key --job-start-ms 100 >"$run/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do [ -s "$run/port" ] && break; sleep 0.1; done
[ -s "$run/port" ] || { cat "$run/server.log"; die "fwtrain-local did not start"; }
export FIREWORKS_BASE_URL="http://127.0.0.1:$(tr -d '[:space:]' <"$run/port")"
export FIREWORKS_API_KEY=demo-key
note "listening on $FIREWORKS_BASE_URL (data in $run/server-data)"
note "everything below talks to it through FIREWORKS_BASE_URL and FIREWORKS_API_KEY, as with the real service"

sft=("$build/examples/sft_resume" --log-path "$run/my_training" --dataset "$root/examples/data/tiny_corpus.jsonl"
     --steps "$steps" --dcp-save-interval "$interval")

say "4/7 Training: $steps steps, a DCP checkpoint every $interval steps; we SIGKILL it once it passes step $kill_at"
note "${sft[*]#$root/}"
"${sft[@]}" >"$run/run1.out" 2>"$run/run1.err" &
trainer_pid=$!
while ! grep -q "^step=$kill_at " "$run/run1.out" 2>/dev/null; do
  kill -0 "$trainer_pid" 2>/dev/null || { cat "$run/run1.err"; die "the trainer exited before step $kill_at"; }
  sleep 0.02
done
{ kill -9 "$trainer_pid"; wait "$trainer_pid"; } 2>/dev/null || true
trainer_pid=""
last1=$(tail -1 "$run/run1.out" | sed 's/ .*//; s/step=//')
head -3 "$run/run1.out" | show_steps
note "..."
tail -2 "$run/run1.out" | show_steps
note "killed with SIGKILL after step $last1. checkpoints.jsonl now holds:"
sed 's/^/    /' "$run/my_training/checkpoints.jsonl"

say "5/7 Running the very same command again: it resumes from the last checkpoint"
"${sft[@]}" >"$run/run2.out" 2>"$run/run2.err" || { cat "$run/run2.err"; die "the resumed run failed"; }
grep -m1 'resuming' "$run/run2.err" | sed 's/^sft_resume: /    /' || die "the second run did not resume"
first=$(head -1 "$run/run2.out" | sed 's/ .*//; s/step=//')
note "it continued at step $first and ran to step $steps:"
head -2 "$run/run2.out" | show_steps
note "..."
tail -1 "$run/run2.out" | show_steps
# Steps printed by both runs must agree bit for bit: the lines hold the exact losses (%a), compared as text.
overlap=$(comm -12 <(sort "$run/run1.out") <(sort "$run/run2.out") | wc -l)
conflicts=$(sort -u "$run/run1.out" "$run/run2.out" | sed 's/ .*//' | sort | uniq -d | wc -l)
[ "$conflicts" -eq 0 ] || die "the resumed run printed a different loss for a step both runs trained"
note "steps $first..$last1 were trained twice and gave bit-identical losses ($overlap exact values agree)"
[ "$(tail -1 "$run/run2.out" | sed 's/ .*//')" = "step=$steps" ] || die "the resumed run did not reach step $steps"

say "6/7 Promoting the final checkpoint (kind BOTH: resumable and promotable) with the fwtrain CLI"
note "fwtrain promote --checkpoints-jsonl demo-run/my_training/checkpoints.jsonl"
"$build/tools/fwtrain" promote --checkpoints-jsonl "$run/my_training/checkpoints.jsonl" \
  >"$run/promote.out" \
  2>"$run/promote.err" || { cat "$run/promote.err"; die "promotion failed"; }
sed 's/^/    /' "$run/promote.out"

say "RL: examples/rl_loop, on-policy RL through a deployment (sample, score, importance_sampling, hotload every step)"
note "rl_loop --log-path demo-run/rl --steps 20 --seed 3"
"$build/examples/rl_loop" --log-path "$run/rl" --steps 20 --seed 3 >"$run/rl.out" 2>"$run/rl.err" \
  || { cat "$run/rl.err"; die "rl_loop failed"; }
head -2 "$run/rl.out" | sed 's/^/    /'
note "..."
tail -2 "$run/rl.out" | sed 's/^/    /'
rl_mean() { sed -n "$1,$2p" "$run/rl.out" | sed -n 's/.*reward=\([0-9.]*\).*/\1/p' | awk '{s+=$1; n++} END {printf "%.4f", s/n}'; }
note "mean reward: first five steps $(rl_mean 1 5), last five $(rl_mean 16 20); every hotload checked (check=ok)"

say "7/7 Stopping fwtrain-local"
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
note "all outputs are in $run (run1.out, run2.out, my_training/checkpoints.jsonl, server.log)"
printf '\n\033[32mdemo OK\033[0m: trained, killed, resumed bit-for-bit, promoted.\n'
