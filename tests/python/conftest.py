"""pytest fixtures: a private fwtrain-local per test session, and clients on it.

The server binary is $FWTRAIN_LOCAL (ctest passes the built one), else the newest
build/*/server/fwtrain-local of this checkout. The package is imported from
python/ of this checkout unless $FWTRAIN_PYTHON_INSTALLED is set (then the
installed one is tested). The API key reaches the server through FWL_API_KEY,
never argv.
"""
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if not os.environ.get("FWTRAIN_PYTHON_INSTALLED"):
    sys.path.insert(0, os.path.join(ROOT, "python"))

API_KEY = "pytest-key-" + uuid.uuid4().hex[:8]
BASE_MODEL = "accounts/fireworks/models/fwtrain-local-byte"


def server_binary():
    env = os.environ.get("FWTRAIN_LOCAL")
    if env:
        return env
    found = sorted(glob.glob(os.path.join(ROOT, "build", "*", "server", "fwtrain-local")),
                   key=os.path.getmtime, reverse=True)
    if not found:
        raise RuntimeError("fwtrain-local not found: build it or set FWTRAIN_LOCAL")
    return found[0]


class LocalServer:
    """One fwtrain-local process on a free port with a temp data dir."""

    def __init__(self, *extra):
        self.tmp = tempfile.mkdtemp(prefix="fwt-pytest-")
        self.extra = list(extra)
        self.proc = None
        self.url = None
        self.start()

    def start(self):
        port_file = os.path.join(self.tmp, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        env = dict(os.environ, FWL_API_KEY=API_KEY)
        # The ASan lane preloads the sanitizer runtime for Python; the server links its own.
        env.pop("LD_PRELOAD", None)
        self.log = open(os.path.join(self.tmp, "server.log"), "ab")
        self.proc = subprocess.Popen([server_binary(), "--port", "0", "--port-file", port_file, "--data-dir",
                                      os.path.join(self.tmp, "data"), "--job-start-ms", "10", "--hotload-ms", "10",
                                      "--promote-ms", "10"] + self.extra,
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            if self.proc.poll() is not None:
                raise RuntimeError("fwtrain-local exited: " + self.log_text())
            time.sleep(0.02)
        else:
            raise RuntimeError("fwtrain-local did not start: " + self.log_text())
        self.url = "http://127.0.0.1:%s" % open(port_file).read().strip()

    def set_job_state(self, job_id, state):
        """Put a job into `state` as the service would (preemption, pause): rewrite its record atomically."""
        import json
        path = os.path.join(self.tmp, "data", "jobs", job_id, "job.json")
        with open(path) as f:
            rec = json.load(f)
        rec["state"] = state
        with open(path + ".tmp", "w") as f:
            json.dump(rec, f)
        os.replace(path + ".tmp", path)

    def log_text(self):
        with open(os.path.join(self.tmp, "server.log"), "rb") as f:
            return f.read()[-4000:].decode("utf-8", "replace")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def close(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def server():
    s = LocalServer()
    yield s
    s.close()


@pytest.fixture(scope="session")
def fw():
    import fwtrain
    return fwtrain


@pytest.fixture()
def env(server, monkeypatch):
    """FIREWORKS_API_KEY / FIREWORKS_BASE_URL set as a user would."""
    monkeypatch.setenv("FIREWORKS_API_KEY", API_KEY)
    monkeypatch.setenv("FIREWORKS_BASE_URL", server.url)
    return server


@pytest.fixture()
def mgr(server, fw):
    m = fw.TrainerJobManager(api_key=API_KEY, base_url=server.url)
    yield m
    m.close()


@pytest.fixture()
def deploy_mgr(server, fw):
    m = fw.DeploymentManager(api_key=API_KEY, base_url=server.url)
    yield m
    m.close()


def new_id(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture()
def job(mgr, fw):
    """A ready trainer job (full-parameter)."""
    created = mgr.create(fw.TrainerJobConfig(base_model=BASE_MODEL, job_id=new_id("py")))
    return mgr.wait_for_ready(created.job_id, poll_interval_s=0.05, timeout_s=60)


@pytest.fixture()
def tc(mgr, job):
    """A training client with its model created."""
    t = mgr.create_training_client(job, base_model=BASE_MODEL)
    yield t
    t.close()


def datum(fw, text=b"hello world"):
    toks = list(text)
    return fw.Datum(model_input=fw.ModelInput.from_ints(toks[:-1]),
                    loss_fn_inputs={"target_tokens": toks[1:], "weights": [1.0] * (len(toks) - 1)})
