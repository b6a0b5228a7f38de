#!/usr/bin/env bash
# A/B of two sft_resume set-ups (issue 15 item 3: steps per second of the pipelined loop against a build from
# before it, e.g. a worktree of an older commit). Each side is a client binary and the fwtrain-local it trains on:
# B uses A's server unless FWTRAIN_LOCAL_B names its own (to compare whole systems, old client + old server against
# new client + new server). Rounds alternate which side runs first; each run trains STEPS steps of the default
# model on examples/data/tiny_corpus.jsonl from a fresh --log-path (its own job; no DCP save inside the run).
#
# Two figures per side, medians over the rounds:
#   steps_per_s       steady state: steps from the first tenth of the run to the last, over the time between their
#                     "step=" lines (each line is stamped when it arrives), so job start, session, dataset load and
#                     the final checkpoint do not dilute the per-step rate;
#   run_steps_per_s   STEPS over the whole run's wall time (all of the above included).
# ratio_b_over_a is the median over rounds of A's steady-state time per step over B's (and run_ratio_b_over_a for
# whole runs); identical_losses says whether every run printed the same step lines (it must: the server runs ops in
# seq_id order, pipelined or not).
#
#   bench/sft_resume_ab.sh FWTRAIN_LOCAL SFT_A SFT_B [STEPS (300)] [ROUNDS (5)]
#   extra arguments for B only (e.g. --pipeline-depth 1): SFT_B_ARGS="..." in the environment
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
server_a=$1 a=$2 b=$3 steps=${4:-300} rounds=${5:-5}
server_b=${FWTRAIN_LOCAL_B:-$server_a}
read -r -a b_args <<<"${SFT_B_ARGS:-}"
(( steps >= 20 )) || { echo "sft_resume_ab: STEPS must be at least 20" >&2; exit 2; }
tmp=$(mktemp -d /tmp/fwt-sft-ab-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
load0=$(cut -d' ' -f1 /proc/loadavg)

# start_server SIDE BIN: starts fwtrain-local on a free port; sets url_SIDE
start_server() {
  local side=$1 bin=$2
  FWL_API_KEY=ab-key "$bin" --port 0 --port-file "$tmp/port-$side" --data-dir "$tmp/data-$side" --job-start-ms 0 \
    >"$tmp/server-$side.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do [ -s "$tmp/port-$side" ] && break; sleep 0.05; done
  [ -s "$tmp/port-$side" ] || { echo "sft_resume_ab: fwtrain-local ($side) did not start" >&2; exit 1; }
  printf -v "url_$side" 'http://127.0.0.1:%s' "$(tr -d '[:space:]' <"$tmp/port-$side")"
}
start_server A "$server_a"
if [ "$server_b" = "$server_a" ]; then url_B=$url_A; else start_server B "$server_b"; fi
export FIREWORKS_API_KEY=ab-key

# run SIDE BIN ROUND [ARGS...]: prints "<steady seconds per step> <run seconds>"; the run's step lines, each
# prefixed with its arrival time, go to $tmp/SIDE-ROUND.out
run() {
  local side=$1 bin=$2 r=$3 url_var="url_$1"; shift 3
  local t0 t1 out="$tmp/$side-$r.out"
  sync # the previous run's final checkpoint is written back now, not during this run
  t0=$EPOCHREALTIME
  FIREWORKS_BASE_URL=${!url_var} "$bin" --log-path "$tmp/$side-$r" --dataset "$root/examples/data/tiny_corpus.jsonl" \
    --steps "$steps" --dcp-save-interval 0 "$@" 2>"$tmp/$side-$r.err" |
    while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$out"
  [ "${PIPESTATUS[0]}" = 0 ] || { cat "$tmp/$side-$r.err" >&2; echo "sft_resume_ab: $side failed" >&2; exit 1; }
  t1=$EPOCHREALTIME
  awk -v first=$((steps / 10)) -v last="$steps" -v t0="$t0" -v t1="$t1" '
    $2 == "step=" first { a = $1 } $2 == "step=" last { b = $1 }
    END { if (!a || !b) exit 1; printf "%.9f %.6f", (b - a) / (last - first), t1 - t0 }' "$out"
}
sa=() sb=() wa=() wb=() ratios=() run_ratios=()
for ((r = 0; r <= rounds; r++)); do # round 0 warms up (page cache, server buffers) and is not counted
  if (( r % 2 )); then x=$(run B "$b" "$r" "${b_args[@]}"); y=$(run A "$a" "$r"); else y=$(run A "$a" "$r"); x=$(run B "$b" "$r" "${b_args[@]}"); fi
  (( r == 0 )) && continue
  read -r ya yw <<<"$y"
  read -r xa xw <<<"$x"
  sa+=("$ya") sb+=("$xa") wa+=("$yw") wb+=("$xw")
  ratios+=("$(awk -v a="$ya" -v b="$xa" 'BEGIN { printf "%.6f", a / b }')")
  run_ratios+=("$(awk -v a="$yw" -v b="$xw" 'BEGIN { printf "%.6f", a / b }')")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
same=true
for f in "$tmp"/[AB]-*.out; do
  cut -d' ' -f2- "$f" | grep '^step=' | cmp -s - <(cut -d' ' -f2- "$tmp/A-0.out" | grep '^step=') || same=false
done
rate() { awk -v t="$1" -v s="$2" 'BEGIN { printf "%.1f", s / t }'; }
printf '{"bench":"sft_resume_ab","steps":%d,"rounds":%d,"separate_servers":%s,"a_steps_per_s":%s,"b_steps_per_s":%s,"ratio_b_over_a":%.3f,"a_run_steps_per_s":%s,"b_run_steps_per_s":%s,"run_ratio_b_over_a":%.3f,"identical_losses":%s,"loadavg_1m_before":%s,"loadavg_1m_after":%s}\n' \
  "$steps" "$rounds" "$([ "$server_b" = "$server_a" ] && echo false || echo true)" \
  "$(rate "$(median "${sa[@]}")" 1)" "$(rate "$(median "${sb[@]}")" 1)" "$(median "${ratios[@]}")" \
  "$(rate "$(median "${wa[@]}")" "$steps")" "$(rate "$(median "${wb[@]}")" "$steps")" "$(median "${run_ratios[@]}")" \
  "$same" "$load0" "$(cut -d' ' -f1 /proc/loadavg)"
[ "$same" = true ]
