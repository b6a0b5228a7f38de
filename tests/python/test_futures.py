"""Futures: concurrent.futures semantics, several threads, callbacks, cancellation, the GIL."""
import concurrent.futures as cf
import subprocess
import sys
import threading
import time

import pytest

from conftest import BASE_MODEL, datum, new_id


def pending_wait(mgr, fw):
    """A future that stays pending: waiting for a job parked in the capacity queue."""
    created = mgr.create(fw.TrainerJobConfig(base_model=BASE_MODEL, job_id=new_id("pend"),
                                             display_name="fwl-stay-pending"))
    return mgr.wait_for_ready_async(created.job_id, poll_interval_s=0.05, timeout_s=600)


def test_many_futures_from_many_threads(fw, tc):
    futs = [tc.forward([datum(fw, b"thread %d" % i)]) for i in range(24)]
    with cf.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(lambda f: f.result(60), futs * 3))   # each future waited by 3 threads
    for i, f in enumerate(futs):
        assert results[i] is results[i + 24] is results[i + 48] is f.result()
        assert f.done() and not f.running() and not f.cancelled()


def test_one_future_many_waiters_and_submitters(fw, tc):
    # Threads submit ops concurrently on one session and wait on each other's futures.
    futs, lock = [], threading.Lock()

    def submit(k):
        f = tc.forward_backward([datum(fw, b"sub %d" % k)])
        with lock:
            futs.append(f)
        return f.result(60).metrics["loss:sum"]

    with cf.ThreadPoolExecutor(6) as ex:
        losses = list(ex.map(submit, range(12)))
    assert len(losses) == 12 and all(v > 0 for v in losses)
    tc.optim_step().result(60)


def test_callbacks_run_once_off_the_worker_thread(fw, tc):
    f = tc.forward([datum(fw)])
    seen, lock, done = [], threading.Lock(), threading.Event()

    def cb(fut):
        with lock:
            seen.append((threading.current_thread().name, fut.result().metrics["loss:sum"]))
            if len(seen) == 5:
                done.set()

    ts = [threading.Thread(target=f.add_done_callback, args=(cb,)) for _ in range(5)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert done.wait(60)
    assert len(seen) == 5 and len({v for _, v in seen}) == 1
    # Every callback ran on a Python thread (the package's dispatcher or the registering thread).
    assert all(not name.startswith("Dummy") for name, _ in seen)
    # On a done future the callback runs at once, on the calling thread.
    here = []
    f.add_done_callback(lambda fut: here.append(threading.current_thread()))
    assert here == [threading.current_thread()]


def test_raising_callback_is_logged_and_later_ones_run(fw, tc, caplog):
    f = tc.forward([datum(fw)])
    ran = threading.Event()

    def bad(fut):
        raise RuntimeError("callback failure on purpose")

    f.add_done_callback(bad)
    f.add_done_callback(lambda fut: ran.set())
    assert ran.wait(60)
    f.add_done_callback(bad)   # already done: runs here, logged, not raised
    assert any("callback failure on purpose" in (r.exc_text or "") or "callback" in r.getMessage()
               for r in caplog.records)


def test_cancel_pending_and_timeouts(fw, mgr):
    f = pending_wait(mgr, fw)
    assert not f.done() and f.running()
    with pytest.raises(TimeoutError) as ei:
        f.result(timeout=0.05)
    assert not isinstance(ei.value, fw.FwtrainError)   # the wait timed out, not the operation
    assert not f.done()
    assert f.cancel() is True
    with pytest.raises(cf.CancelledError):
        f.result(10)
    with pytest.raises(fw.CancelledError):
        f.result(10)
    assert f.cancelled() and f.done()
    assert f.cancel() is False
    assert isinstance(f.exception(), fw.CancelledError)


def test_result_timeout_arguments(fw, tc):
    f = tc.forward([datum(fw)])
    with pytest.raises(ValueError):
        f.result(timeout=-1)
    with pytest.raises(TypeError):
        f.result(timeout="soon")
    assert f.result(timeout=60).metrics


def test_blocking_wait_releases_the_gil(fw, mgr):
    f = pending_wait(mgr, fw)
    stamps, stop = [], threading.Event()

    def spin():
        while not stop.is_set():
            stamps.append(time.monotonic())
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        f.result(timeout=1.0)
    t1 = time.monotonic()
    stop.set()
    t.join()
    f.cancel()
    # With the GIL held through the wait the other thread could not run at all; under any load it runs
    # a few times in the middle of a one-second wait.
    during = [s for s in stamps if t0 + 0.1 < s < t1 - 0.1]
    assert len(during) >= 2, "another Python thread did not run while result() blocked"


def test_closing_the_client_completes_pending_futures(fw, server):
    from conftest import API_KEY
    m = fw.TrainerJobManager(api_key=API_KEY, base_url=server.url)
    f = pending_wait(m, fw)
    fired = threading.Event()
    f.add_done_callback(lambda fut: fired.set())
    m.close()
    assert fired.wait(30)
    assert f.cancelled()
    with pytest.raises(ValueError):
        m.get("x")


def test_dropping_a_future_with_a_callback(fw, tc):
    fired = threading.Event()
    f = tc.forward([datum(fw)])
    f.add_done_callback(lambda fut: fired.set())
    del f
    assert fired.wait(60)


def test_interpreter_exit_with_pending_work_is_clean(server):
    from conftest import API_KEY, ROOT
    code = """
import sys; sys.path.insert(0, %r)
import fwtrain as fw
m = fw.TrainerJobManager(api_key=%r, base_url=%r)
c = m.create(fw.TrainerJobConfig(base_model=%r, job_id="exit-%%d" %% id(m), display_name="fwl-stay-pending"))
f = m.wait_for_ready_async(c.job_id, poll_interval_s=0.05, timeout_s=600)
f.add_done_callback(lambda fut: print("callback", fut.cancelled(), flush=True))
def bad(fut):
    raise ValueError("raised in a callback")
f.add_done_callback(bad)
print("exiting", flush=True)
""" % (ROOT + "/python", API_KEY, server.url, BASE_MODEL)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "exiting" in r.stdout


def test_ctrl_c_interrupts_a_blocking_wait(server):
    """result() with no timeout stays interruptible: SIGINT raises KeyboardInterrupt in the waiting thread."""
    import signal
    from conftest import API_KEY, ROOT
    code = """
import sys; sys.path.insert(0, %r)
import fwtrain as fw
m = fw.TrainerJobManager(api_key=%r, base_url=%r)
c = m.create(fw.TrainerJobConfig(base_model=%r, job_id="sigint-%%d" %% id(m), display_name="fwl-stay-pending"))
f = m.wait_for_ready_async(c.job_id, poll_interval_s=0.05, timeout_s=600)
try:
    print("waiting", flush=True)
    f.result()
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
""" % (ROOT + "/python", API_KEY, server.url, BASE_MODEL)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "waiting"
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 3, err
    assert "interrupted" in out
