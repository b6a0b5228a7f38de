"""Bad input never reaches C unchecked, errors carry their detail, closed objects never crash."""
import concurrent.futures as cf
import os
import subprocess
import sys

import pytest

from conftest import API_KEY, BASE_MODEL, ROOT, datum


def test_hierarchy(fw):
    assert issubclass(fw.InvalidArgumentError, ValueError)
    assert issubclass(fw.DeadlineExceededError, TimeoutError)
    assert issubclass(fw.CancelledError, cf.CancelledError)
    assert issubclass(fw.TransportError, ConnectionError)
    assert issubclass(fw.CorruptError, fw.LocalIOError) and issubclass(fw.LocalIOError, OSError)
    for cls in (fw.NotFoundError, fw.AuthenticationError, fw.ConflictError, fw.RateLimitError, fw.RemoteError,
                fw.HTTPError, fw.ProtocolError, fw.StateError, fw.UnsupportedError, fw.ExpiredError):
        assert issubclass(cls, fw.FwtrainError)


@pytest.mark.parametrize("call,exc,name", [
    (lambda m, fw: m.get(None), TypeError, "job_id"),
    (lambda m, fw: m.get(""), ValueError, "job_id"),
    (lambda m, fw: m.get("a\x00b"), ValueError, "job_id"),
    (lambda m, fw: m.get(42), TypeError, "job_id"),
    (lambda m, fw: m.create({"base_model": "x"}), TypeError, "config"),
    (lambda m, fw: m.create(fw.TrainerJobConfig(base_model=None)), TypeError, "base_model"),
    (lambda m, fw: m.create(fw.TrainerJobConfig(base_model="m", lora_rank=-1)), ValueError, "lora_rank"),
    (lambda m, fw: m.create(fw.TrainerJobConfig(base_model="m", learning_rate=float("nan"))), ValueError,
     "learning_rate"),
    (lambda m, fw: m.create(fw.TrainerJobConfig(base_model="m", forward_only="yes")), TypeError, "forward_only"),
    (lambda m, fw: m.create(fw.TrainerJobConfig(base_model="m", extra_args="--a --b")), TypeError, "extra_args"),
    (lambda m, fw: m.wait_for_ready("j", timeout_s=-1), ValueError, "timeout_s"),
    (lambda m, fw: m.wait_for_ready("j", poll_interval_s="1"), TypeError, "poll_interval_s"),
    (lambda m, fw: m.wait_for_ready("j", timeout_s=1e300), ValueError, "timeout_s"),
    (lambda m, fw: m.list_checkpoints("j", page_size=0), ValueError, "page_size"),
    (lambda m, fw: m.promote_checkpoint("j", "c", None, base_model="b"), TypeError, "output_model_id"),
    (lambda m, fw: m.promote_checkpoint("j", "c", "Bad Id", base_model="b"), ValueError, "output_model_id"),
])
def test_manager_arguments(mgr, fw, call, exc, name):
    with pytest.raises(exc) as ei:
        call(mgr, fw)
    assert name in str(ei.value)


@pytest.mark.parametrize("call,exc,name", [
    (lambda t, fw: t.forward_backward("not a list"), TypeError, "data"),
    (lambda t, fw: t.forward_backward([]), ValueError, "data"),
    (lambda t, fw: t.forward_backward([{"tokens": [1]}]), TypeError, "data[0]"),
    (lambda t, fw: t.forward_backward([datum(fw)], "bogus_loss"), ValueError, "loss_fn"),
    (lambda t, fw: t.forward_backward([datum(fw)], None), TypeError, "loss_fn"),
    (lambda t, fw: t.forward_backward([datum(fw)], loss_fn_config=[1]), TypeError, "loss_fn_config"),
    (lambda t, fw: t.forward_backward([datum(fw)], "ppo", loss_fn_config={"k": float("inf")}), ValueError,
     "loss_fn_config"),
    (lambda t, fw: t.forward([fw.Datum([1, 2], {"target_tokens": [2, 3], "bogus": [1]})]), ValueError, "bogus"),
    (lambda t, fw: t.forward([fw.Datum([1, 2], {"weights": [1.0, 1.0]})]), ValueError, "target_tokens"),
    (lambda t, fw: t.forward([fw.Datum([1, 2], {"target_tokens": [2, "x"]})]), TypeError, "target_tokens"),
    (lambda t, fw: t.forward([fw.Datum([1, 2], {"target_tokens": [2, 3], "weights": [1.0, float("nan")]})]),
     ValueError, "weights"),
    (lambda t, fw: t.forward([fw.Datum([1, 2, 3], {"target_tokens": [2, 3], "weights": [1.0, 1.0]})]),
     ValueError, "n_"),
    (lambda t, fw: t.forward([fw.Datum([], {"target_tokens": []})]), ValueError, "model_input"),
    (lambda t, fw: t.forward([fw.Datum([2 ** 70], {"target_tokens": [1]})]), ValueError, "model_input"),
    (lambda t, fw: t.optim_step({"learning_rate": 1}), TypeError, "adam_params"),
    (lambda t, fw: t.optim_step(fw.AdamParams(learning_rate=float("nan"))), ValueError, "learning_rate"),
    (lambda t, fw: t.save_state("", 0), ValueError, "name"),
    (lambda t, fw: t.save_state("x", ttl_seconds=-5), ValueError, "ttl_seconds"),
    (lambda t, fw: t.save_state("a/b"), ValueError, "name"),
    (lambda t, fw: t.save_state("big", ttl_seconds=2 ** 70), ValueError, "ttl_seconds"),
    (lambda t, fw: t.load_state(None), TypeError, "path"),
    (lambda t, fw: t.save_weights_for_sampler_ext("s", checkpoint_type="huge"), ValueError, "checkpoint_type"),
    (lambda t, fw: t.save_weights_for_sampler_ext("s", checkpoint_type=1), TypeError, "checkpoint_type"),
    (lambda t, fw: t.resolve_checkpoint_path("n", source_job_id=5), TypeError, "source_job_id"),
])
def test_training_arguments(tc, fw, call, exc, name):
    with pytest.raises(exc) as ei:
        call(tc, fw)
    assert name in str(ei.value)
    # The session is unharmed.
    assert tc.forward([datum(fw)]).result(60).metrics


def test_closed_objects_raise_and_close_twice(fw, mgr, job):
    t = mgr.create_training_client(job)
    f1 = t.forward([datum(fw)])
    r1 = f1.result(60)
    f2 = t.forward([datum(fw)])
    t.close()
    t.close()
    assert t.closed
    # Futures outlive their session: a finished one keeps its value, a pending one was cancelled.
    assert f1.result() is r1
    assert f2.done()
    try:
        assert f2.result(60).metrics
    except fw.CancelledError:
        assert f2.cancelled()
    with pytest.raises(ValueError, match="closed"):
        t.forward([datum(fw)])
    with pytest.raises(ValueError, match="closed"):
        _ = t.session_id
    mgr.close()
    mgr.close()
    with pytest.raises(ValueError, match="closed"):
        mgr.get(job.job_id)


def test_closed_session_closes_its_checkpointer_and_syncer(fw, mgr, job, tmp_path):
    t = mgr.create_training_client(job)
    ck = fw.Checkpointer(t, log_path=str(tmp_path), job_id=job.job_id)
    ws = fw.WeightSyncer(policy_client=t)
    t.close()
    assert ck.closed and ws.closed
    with pytest.raises(ValueError, match="closed"):
        ck.step_done(1, 1)
    with pytest.raises(ValueError, match="closed"):
        ws.save_and_hotload("x")
    ws.cancel()   # closed: nothing to cancel, no crash


def test_closing_the_client_closes_its_sessions(fw, server, job):
    m = fw.TrainerJobManager(api_key=API_KEY, base_url=server.url)
    t = m.create_training_client(job)
    m.close()
    assert t.closed
    with pytest.raises(ValueError):
        t.list_checkpoints()


def test_error_detail(fw, tc, mgr):
    with pytest.raises(fw.NotFoundError) as ei:
        mgr.get("missing-job")
    e = ei.value
    assert (e.code, e.http_status) == (-6, 404)
    assert isinstance(e.request_id, str) and isinstance(e.attempts, int) and e.attempts >= 1
    assert e.status_name and e.message
    f = tc.load_state("no-such-checkpoint")
    err = f.exception(60)
    assert isinstance(err, fw.FwtrainError)
    assert err.category in ("user", "server", "unknown")
    assert err.request_id, "a failed training future names its request id"


def test_api_key_never_in_errors(fw, server):
    secret = "sk-very-secret-0123456789"
    with fw.TrainerJobManager(api_key=secret, base_url=server.url) as m:
        for call in (lambda: m.get("x"), lambda: m.list_checkpoints("x"), lambda: m.account_id):
            with pytest.raises(fw.FwtrainError) as ei:
                call()
            assert secret not in str(ei.value) and secret not in repr(ei.value.args)


def test_no_key_is_a_clear_error(fw, server, monkeypatch):
    monkeypatch.delenv("FIREWORKS_API_KEY", raising=False)
    with pytest.raises(fw.InvalidArgumentError) as ei:
        fw.FireworksClient(base_url=server.url)
    assert "key" in str(ei.value).lower()


def test_unsupported_official_options(fw, server):
    with pytest.raises(ValueError, match="verify_ssl"):
        fw.FireworksClient(api_key=API_KEY, base_url=server.url, verify_ssl=False)
    with pytest.raises(ValueError, match="additional_headers"):
        fw.DeploymentManager(api_key=API_KEY, base_url=server.url, additional_headers={"x": "y"})


def test_unreachable_server_is_transport_error(fw):
    with fw.TrainerJobManager(api_key=API_KEY, base_url="http://127.0.0.1:9", unreachable_timeout_s=0.3) as m:
        with pytest.raises(fw.TransportError) as ei:
            m.get("x")
        assert isinstance(ei.value, ConnectionError) and ei.value.code == -12


def _import(env_lib):
    env = dict(os.environ, FWTRAIN_LIB=env_lib, PYTHONPATH=os.path.join(ROOT, "python"))
    return subprocess.run([sys.executable, "-c", "import fwtrain; print(fwtrain.library_path)"],
                          capture_output=True, text=True, env=env, timeout=60)


def test_missing_library_is_one_clear_import_error(tmp_path):
    r = _import(str(tmp_path / "nothing.so"))
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: fwtrain: cannot load libfwtrain")
    for part in ("FWTRAIN_LIB=", "build tree", "installed tree", "nothing.so"):
        assert part in last


def test_library_lookup_takes_fwtrain_lib_file_or_dir(fw):
    lib = os.environ.get("FWTRAIN_LIB") or fw.library_path
    r = _import(os.path.dirname(os.path.abspath(lib)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == os.path.join(os.path.dirname(os.path.abspath(lib)), "libfwtrain.so")
