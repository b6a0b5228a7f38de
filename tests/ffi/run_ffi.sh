#!/usr/bin/env bash
# Start fwtrain-local on a free port with a temp data dir, run the ctypes example, stop the server.
# Args: FWTRAIN_LOCAL LIBFWTRAIN PYTHON EXAMPLE
set -euo pipefail
server=$1 lib=$2 python=$3 example=$4
tmp=$(mktemp -d /tmp/fwt-ffi-XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
"$server" --port 0 --port-file "$tmp/port" --data-dir "$tmp/data" --api-key ffi-test-key --job-start-ms 10 \
  >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { echo "fwtrain-local did not start"; cat "$tmp/server.log"; exit 1; }
export FIREWORKS_BASE_URL="http://127.0.0.1:$(tr -d '[:space:]' < "$tmp/port")"
export FIREWORKS_API_KEY=ffi-test-key
export FWTRAIN_LIB=$lib
if ! "$python" "$example"; then
  echo "--- server log"; tail -50 "$tmp/server.log"; exit 1
fi
