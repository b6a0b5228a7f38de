#!/usr/bin/env bash
# The weight_sync and promote examples against fwtrain-local.
# Args: FWTRAIN_LOCAL WEIGHT_SYNC SFT_RESUME PROMOTE DATASET
set -euo pipefail
server=$1 weight_sync=$2 sft_resume=$3 promote=$4 dataset=$5
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

echo "-- weight_sync: 3 RL steps, each hotload checked against the trainer's logprobs"
"$weight_sync" --steps 3 >"$tmp/ws.out" || { cat "$tmp/ws.out"; fail "weight_sync"; }
cat "$tmp/ws.out"
[ "$(grep -c 'check=ok' "$tmp/ws.out")" -eq 3 ] || fail "weight_sync did not check 3 hotloads"
grep -q 'step=2 .*type=delta' "$tmp/ws.out" || fail "later syncs should be deltas"

echo "-- weight_sync against an inference endpoint that fails often (503/429 + Retry-After/408/dropped connections)"
"$server" --port 0 --port-file "$tmp/fport" --data-dir "$tmp/fdata" --api-key examples-key --job-start-ms 10 \
  --hotload-ms 10 --faults seed=11,http503=0.15,http429=0.1,retry_after=1,http408=0.1,drop=0.1,only=/inference/ \
  >"$tmp/fserver.log" 2>&1 &
fpid=$!
for _ in $(seq 100); do [ -s "$tmp/fport" ] && break; sleep 0.1; done
[ -s "$tmp/fport" ] || { kill "$fpid"; fail "faulty fwtrain-local did not start"; }
set +e
FIREWORKS_BASE_URL="http://127.0.0.1:$(tr -d '[:space:]' < "$tmp/fport")" "$weight_sync" --steps 2 >"$tmp/fws.out" 2>"$tmp/fws.err"
frc=$?
set -e
kill "$fpid" 2>/dev/null || true
wait "$fpid" 2>/dev/null || true
faults=$(grep -c 'fault' "$tmp/fserver.log" || true)
[ "$frc" -eq 0 ] || { cat "$tmp/fws.out" "$tmp/fws.err"; fail "weight_sync under inference faults exited $frc"; }
[ "$(grep -c 'check=ok' "$tmp/fws.out")" -eq 2 ] || fail "weight_sync under faults did not check 2 hotloads"
echo "   survived; server log lines mentioning faults: $faults"

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
