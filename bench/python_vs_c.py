#!/usr/bin/env python3
"""Per-call time of the fwtrain Python package next to the C library, for the same calls on the same
server and job: job GET, checkpoint listing (20 rows), forward + result (one datum of 64 tokens).

    python3 bench/python_vs_c.py [--build build/gcc] [--iterations 300]

Starts a private fwtrain-local (loopback, temp data dir), prepares a job with 20 checkpoints, runs the
C side (build/<dir>/bench/calls) and the same calls through fwtrain, alternating in rounds, and prints one
JSON object: median microseconds per call (median of the rounds' medians) for each side and the ratio. The package and libfwtrain come
from this checkout (FWTRAIN_LIB = the build's libfwtrain.so).
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE_MODEL = "accounts/fireworks/models/fwtrain-local-byte"
KEY = "bench-key"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "gcc"), help="CMake build directory")
    ap.add_argument("--iterations", type=int, default=200, help="timed calls of each kind, per side and round")
    ap.add_argument("--rounds", type=int, default=3, help="alternating C / Python rounds (load drifts)")
    a = ap.parse_args()
    if a.iterations < 1 or a.rounds < 1:
        ap.error("--iterations and --rounds must be >= 1")
    server_bin = os.path.join(a.build, "server", "fwtrain-local")
    calls_bin = os.path.join(a.build, "bench", "calls")
    lib = os.path.join(a.build, "src", "libfwtrain.so")
    for p in (server_bin, calls_bin, lib):
        if not os.path.exists(p):
            sys.exit("bench: %s is missing (cmake -DFWT_BUILD_BENCH=ON, then build)" % p)
    os.environ["FWTRAIN_LIB"] = lib
    sys.path.insert(0, os.path.join(ROOT, "python"))

    tmp = tempfile.mkdtemp(prefix="fwt-bench-py-")
    proc = subprocess.Popen([server_bin, "--port", "0", "--port-file", tmp + "/port", "--data-dir", tmp + "/data",
                             "--job-start-ms", "10"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, FWL_API_KEY=KEY))
    try:
        for _ in range(400):
            if os.path.exists(tmp + "/port") and open(tmp + "/port").read().strip():
                break
            time.sleep(0.025)
        url = "http://127.0.0.1:" + open(tmp + "/port").read().strip()
        import fwtrain as fw

        mgr = fw.TrainerJobManager(api_key=KEY, base_url=url)
        ep = mgr.create_and_wait(fw.TrainerJobConfig(base_model=BASE_MODEL, job_id="bench-job"),
                                 poll_interval_s=0.05, timeout_s=60)
        tc = mgr.create_training_client(ep, base_model=BASE_MODEL)
        for i in range(20):
            tc.save_state("ckpt-%02d" % i).result()
        assert len(mgr.list_checkpoints(ep.job_id)) == 20

        toks = [ord("a") + i % 26 for i in range(65)]
        d = fw.Datum(model_input=fw.ModelInput.from_ints(toks[:-1]),
                     loss_fn_inputs={"target_tokens": toks[1:], "weights": [1.0] * 64})

        def timed(fn):
            fn()
            v = []
            for _ in range(a.iterations):
                t0 = time.perf_counter()
                fn()
                v.append((time.perf_counter() - t0) * 1e6)
            return statistics.median(v)

        keys = ("job_get_us", "list_checkpoints_us", "forward_us")
        rounds_c, rounds_py = [], []
        for _ in range(a.rounds):   # alternate, so a load swing hits both sides alike
            out = subprocess.run([calls_bin, url, ep.job_id, BASE_MODEL, str(a.iterations)], check=True,
                                 capture_output=True, text=True, env=dict(os.environ, FIREWORKS_API_KEY=KEY))
            rounds_c.append(json.loads(out.stdout))
            rounds_py.append({"job_get_us": timed(lambda: mgr.get(ep.job_id)),
                              "list_checkpoints_us": timed(lambda: mgr.list_checkpoints(ep.job_id)),
                              "forward_us": timed(lambda: tc.forward([d]).result())})
        c = {k: round(statistics.median(r[k] for r in rounds_c), 1) for k in keys}
        py = {k: round(statistics.median(r[k] for r in rounds_py), 1) for k in keys}
        tc.close()
        mgr.close()
        res = {"iterations": a.iterations, "rounds": a.rounds, "c": c, "python": py,
               "ratio_python_over_c": {k: round(py[k] / c[k], 2) for k in py}}
        print(json.dumps(res, indent=2))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
