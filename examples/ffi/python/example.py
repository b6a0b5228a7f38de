#!/usr/bin/env python3
"""libfwtrain from Python through ctypes (standard library only).

Run it against fwtrain-local or the Fireworks API, with the shared library built:
    export FIREWORKS_BASE_URL=http://127.0.0.1:8080 FIREWORKS_API_KEY=local-dev-key
    FWTRAIN_LIB=build/src/libfwtrain.so python3 examples/ffi/python/example.py

It creates a trainer job, opens a session, creates the model, saves a DCP state and a
base sampler snapshot (waiting on their futures), and shows both error paths: a
synchronous failure read with fwt_error_last() and a failed future read with
fwt_future_error().
"""
import ctypes
import os
import sys
import uuid
from ctypes import byref, c_void_p

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwtrain_ctypes as fw  # noqa: E402


def main():
    lib = fw.load()
    print("libfwtrain", lib.fwt_version_string().decode())
    base_model = os.environ.get("FWT_BASE_MODEL", "accounts/fireworks/models/fwtrain-local-byte").encode()

    # Client: base URL and key from FIREWORKS_BASE_URL / FIREWORKS_API_KEY (NULL fields = defaults).
    opts = fw.ClientOptions()
    fw.check(lib, "client options", lib.fwt_client_options_init(byref(opts), fw.CLIENT_OPTIONS_VERSION))
    client = c_void_p()
    fw.check(lib, "client", lib.fwt_client_new(byref(client), byref(opts)))
    job, training = c_void_p(), c_void_p()
    try:
        # Trainer job (client-chosen id; a rerun with the same id reuses it) and readiness.
        jo = fw.JobCreateOptions()
        lib.fwt_job_create_options_init(byref(jo), fw.JOB_CREATE_OPTIONS_VERSION)
        job_id = ("ffi-example-" + uuid.uuid4().hex[:8]).encode()
        jo.job_id, jo.base_model = job_id, base_model
        created = c_void_p()
        fw.check(lib, "create job", lib.fwt_job_create(byref(created), client, byref(jo)))
        wo = fw.JobWaitOptions()
        lib.fwt_job_wait_options_init(byref(wo), fw.JOB_WAIT_OPTIONS_VERSION)
        job = c_void_p()
        rc = lib.fwt_job_wait_ready_result(byref(job), client, lib.fwt_job_id(created), byref(wo), -1)
        lib.fwt_job_free(created)
        fw.check(lib, "wait for the trainer", rc)
        print("job", lib.fwt_job_id(job).decode(), "is ready")

        # Session + model.
        to = fw.TrainingOptions()
        lib.fwt_training_options_init(byref(to), fw.TRAINING_OPTIONS_VERSION)
        to.base_model = base_model
        training = c_void_p()
        fw.check(lib, "open session", lib.fwt_job_open_training(byref(training), client, job, byref(to)))
        print("session", lib.fwt_training_session_id(training).decode())
        f = c_void_p()
        fw.check(lib, "create_model", lib.fwt_training_create_model(byref(f), training))
        fut = fw.Future(lib, f)
        print("model", fut.take_string("create_model"))
        fut.free()

        # save_state returns a future; wait on it, then take its path.
        f = c_void_p()
        fw.check(lib, "save_state", lib.fwt_training_save_state(byref(f), training, b"ffi-state-1", 0))
        fut = fw.Future(lib, f)
        print("save_state ->", fut.take_string("save_state"))
        fut.free()

        # save_weights_for_sampler_ext (base): the snapshot name is session-qualified.
        f = c_void_p()
        fw.check(lib, "save_weights_for_sampler_ext",
                 lib.fwt_training_save_weights_for_sampler_ext(byref(f), training, b"ffi-sampler-1",
                                                               fw.SAMPLER_BASE, 0))
        fut = fw.Future(lib, f)
        fut.result_status("save_weights_for_sampler_ext")
        ss = c_void_p()
        fw.check(lib, "take sampler save", lib.fwt_future_take_sampler_save(byref(ss), fut.handle))
        snapshot = lib.fwt_sampler_save_snapshot_name(ss).decode()
        lib.fwt_sampler_save_free(ss)
        fut.free()
        print("sampler snapshot", snapshot)

        # Error path 1: a synchronous (blocking) call fails -> fwt_error_last().
        rc = lib.fwt_training_load_state_with_optimizer_result(training, b"no-such-checkpoint", 60000)
        err = fw.last_error(lib)
        if rc == fw.FWT_OK or err.code != rc or not err.message:
            raise SystemExit("expected a failure with a message from fwt_error_last()")
        print("sync error as expected: %s: %s" % (lib.fwt_strerror(rc).decode(), err.message.decode()))

        # Error path 2: a future fails -> fwt_future_error(). Loading a sampler snapshot as DCP state
        # is a user error the trainer reports on the future (docs/protocol.md §4.5).
        f = c_void_p()
        fw.check(lib, "load_state", lib.fwt_training_load_state(byref(f), training, snapshot.encode()))
        fut = fw.Future(lib, f)
        status = fut.wait()
        ferr = fut.error()
        if status == fw.FWT_OK or ferr is None or not ferr.message:
            raise SystemExit("expected the future to fail with a message from fwt_future_error()")
        print("future error as expected: %s: %s" % (lib.fwt_strerror(status).decode(), ferr.message.decode()))
        fut.free()
        print("ffi example OK")
        return 0
    except fw.FwtrainError as e:
        print("error:", e, file=sys.stderr)
        return 1
    finally:
        if training:
            lib.fwt_training_free(training)
        if job:
            lib.fwt_job_free(job)
        lib.fwt_client_free(client)


if __name__ == "__main__":
    sys.exit(main())
