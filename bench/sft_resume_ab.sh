#!/usr/bin/env bash
# A/B of two sft_resume binaries on one fwtrain-local (issue 15 item 3: steps per second of the pipelined loop
# against a build from before it, e.g. a worktree of an older commit). Rounds alternate which binary runs first;
# each run trains STEPS steps of the default model on examples/data/tiny_corpus.jsonl from a fresh --log-path
# (its own job; no DCP save inside the run). Prints one JSON object: each side's median steps/s (wall time of
# the whole run, job start included), ratio = median over rounds of time_A / time_B, and whether every run
# printed the same losses (it must: the server runs ops in seq_id order, pipelined or not).
#
#   bench/sft_resume_ab.sh FWTRAIN_LOCAL SFT_A SFT_B [STEPS (100)] [ROUNDS (5)]
#   extra arguments for B only (e.g. --pipeline-depth 1): SFT_B_ARGS="..." in the environment
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
server=$1 a=$2 b=$3 steps=${4:-100} rounds=${5:-5}
read -r -a b_args <<<"${SFT_B_ARGS:-}"
tmp=$(mktemp -d /tmp/fwt-sft-ab-XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
load0=$(cut -d' ' -f1 /proc/loadavg)
FWL_API_KEY=ab-key "$server" --port 0 --port-file "$tmp/port" --data-dir "$tmp/data" --job-start-ms 0 \
  >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "sft_resume_ab: fwtrain-local did not start" >&2; exit 1; }
export FIREWORKS_BASE_URL="http://127.0.0.1:$(tr -d '[:space:]' <"$tmp/port")" FIREWORKS_API_KEY=ab-key

# run SIDE BIN ROUND [ARGS...]: prints the run's wall seconds; its step lines go to $tmp/SIDE-ROUND.out
run() {
  local side=$1 bin=$2 r=$3; shift 3
  local t0 t1
  t0=$(date +%s.%N)
  "$bin" --log-path "$tmp/$side-$r" --dataset "$root/examples/data/tiny_corpus.jsonl" --steps "$steps" \
    --dcp-save-interval 0 "$@" >"$tmp/$side-$r.out" 2>"$tmp/$side-$r.err" ||
    { cat "$tmp/$side-$r.err" >&2; echo "sft_resume_ab: $side failed" >&2; exit 1; }
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }'
}
ta=() tb=() ratios=()
for ((r = 0; r <= rounds; r++)); do # round 0 warms up (page cache, server buffers) and is not counted
  if (( r % 2 )); then x=$(run B "$b" "$r" "${b_args[@]}"); y=$(run A "$a" "$r"); else y=$(run A "$a" "$r"); x=$(run B "$b" "$r" "${b_args[@]}"); fi
  (( r == 0 )) && continue
  ta+=("$y") tb+=("$x") ratios+=("$(awk -v a="$y" -v b="$x" 'BEGIN { printf "%.6f", a / b }')")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
same=true
for f in "$tmp"/[AB]-*.out; do
  grep '^step=' "$f" | cmp -s - <(grep '^step=' "$tmp/A-0.out") || same=false
done
printf '{"bench":"sft_resume_ab","steps":%d,"rounds":%d,"a_steps_per_s":%.1f,"b_steps_per_s":%.1f,"ratio_b_over_a":%.3f,"identical_losses":%s,"loadavg_1m_before":%s,"loadavg_1m_after":%s}\n' \
  "$steps" "$rounds" "$(awk -v s="$steps" -v t="$(median "${ta[@]}")" 'BEGIN { print s / t }')" \
  "$(awk -v s="$steps" -v t="$(median "${tb[@]}")" 'BEGIN { print s / t }')" \
  "$(median "${ratios[@]}")" "$same" "$load0" "$(cut -d' ' -f1 /proc/loadavg)"
[ "$same" = true ]
