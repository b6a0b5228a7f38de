#!/usr/bin/env bash
# The promote example against fwtrain-local (rl_loop has its own test: tests/sampling/run_rl_loop.sh).
# Args: FWTRAIN_LOCAL SFT_RESUME PROMOTE DATASET
set -euo pipefail
server=$1 sft_resume=$2 promote=$3 dataset=$4
tmp=$(mktemp -d /tmp/fwt-examples-XXXXXX)
pid=""
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$tmp"; }
trap cleanup EXIT
"$server" --port 0 --port-file "$tmp/port" --data-dir "$tmp/data" --api-key examples-key --job-start-ms 10 \
  --hotload-ms 10 --promote-ms 20 >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { echo "fwtrain-local did not start"; cat "$tmp/server.log"; exit 1; }
export FIREWORKS_BASE_URL="http://127.0.0.1:$(tr -d '[:space:]' < "$tmp/port")"
export FIREWORKS_API_KEY=examples-key
fail() { echo "FAIL: $*"; echo "--- server log"; tail -30 "$tmp/server.log"; exit 1; }

echo "-- promote example on a finished sft_resume run"
"$sft_resume" --log-path "$tmp/run" --dataset "$dataset" --steps 3 >/dev/null 2>"$tmp/sft.err" \
  || { cat "$tmp/sft.err"; fail "sft_resume"; }
"$promote" "$tmp/run/checkpoints.jsonl" example-model-1 >"$tmp/promote.out" 2>&1 \
  || { cat "$tmp/promote.out"; fail "promote example"; }
cat "$tmp/promote.out"
grep -q '^model: accounts/.*/models/example-model-1$' "$tmp/promote.out" || fail "no model line"
grep -q '^kind: ' "$tmp/promote.out" || fail "no kind line"
# nothing promotable → exit 3
head -c 0 /dev/null >"$tmp/empty.jsonl"
set +e
"$promote" "$tmp/empty.jsonl" >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 3 ] || fail "promote on an empty registry exited $rc, want 3"
echo "-- examples OK"
