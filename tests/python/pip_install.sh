#!/usr/bin/env bash
# `pip install ./python` offline, into a venv that sees Debian's packages (--system-site-packages: setuptools
# comes from python3-setuptools, nothing is downloaded), then the installed package trains against
# fwtrain-local from outside the source tree.
# Args: PYTHON PACKAGE_DIR LIBFWTRAIN FWTRAIN_LOCAL
set -euo pipefail
python=$1 pkg=$2 lib=$3 server=$4
tmp=$(mktemp -d /tmp/fwt-pip-XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cp -r "$pkg" "$tmp/src"   # a copy: setuptools writes build/ and *.egg-info next to the sources
"$python" -m venv --system-site-packages "$tmp/venv"
PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 "$tmp/venv/bin/pip" install -q --no-build-isolation "$tmp/src"

key=pip-test-key
FWL_API_KEY=$key "$server" --port 0 --port-file "$tmp/port" --data-dir "$tmp/data" --job-start-ms 10 \
  >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "fwtrain-local did not start"; cat "$tmp/server.log"; exit 1; }

cd "$tmp"
FIREWORKS_API_KEY=$key FIREWORKS_BASE_URL="http://127.0.0.1:$(cat "$tmp/port")" FWTRAIN_LIB=$lib \
  "$tmp/venv/bin/python" - "$tmp" <<'PY'
import os, sys
import fwtrain
from fwtrain import TrainerJobManager, TrainerJobConfig, Datum, ModelInput, AdamParams

assert fwtrain.__file__.startswith(sys.argv[1] + "/venv/"), fwtrain.__file__   # the installed copy
assert os.path.isfile(os.path.join(os.path.dirname(fwtrain.__file__), "py.typed"))
base = "accounts/fireworks/models/fwtrain-local-byte"
with TrainerJobManager() as mgr:
    ep = mgr.create_and_wait(TrainerJobConfig(base_model=base, job_id="pip-job"), poll_interval_s=0.05, timeout_s=60)
    with mgr.create_training_client(ep) as tc:
        toks = list(b"installed package")
        d = Datum(model_input=ModelInput.from_ints(toks[:-1]),
                  loss_fn_inputs={"target_tokens": toks[1:], "weights": [1.0] * (len(toks) - 1)})
        loss = tc.forward_backward([d], "cross_entropy").result().metrics["loss:sum"]
        tc.optim_step(AdamParams(learning_rate=1e-3)).result()
        snap = tc.save_weights_for_sampler_ext("pip-final", checkpoint_type="base").snapshot_name
    model = mgr.promote_checkpoint(ep.job_id, snap, "pip-model")
print("pip install ok: loss %.3f, promoted %s (%s)" % (loss, model["name"], model["state"]))
PY
