"""Minimal ctypes binding of libfwtrain (standard library only).

Only what example.py uses is declared. Struct layouts mirror include/fwtrain/*.h;
every options struct is filled by its *_options_init() so defaults come from the
library, not from this file.
"""
import ctypes
import os
from ctypes import (POINTER, Structure, byref, c_char_p, c_double, c_int, c_int32, c_int64,
                    c_size_t, c_uint, c_void_p)

FWT_OK = 0
FWT_EAGAIN = -18


class FwtError(Structure):
    _fields_ = [("code", c_int32), ("http_status", c_int32), ("category", c_int32),
                ("attempts", c_int32), ("message", c_char_p), ("request_id", c_char_p)]


# Options structs grow by appending fields (ABI rule of the library). A trailing spare area keeps a
# newer library's *_options_init() from writing past the end of these Python-side copies.
_SPARE = ("_spare", ctypes.c_char * 256)

LOG_FN = ctypes.CFUNCTYPE(None, c_int, c_char_p, c_void_p)
PROGRESS_FN = ctypes.CFUNCTYPE(None, c_int, c_int64, c_char_p, c_void_p)


class ClientOptions(Structure):
    _fields_ = [("version", c_uint), ("base_url", c_char_p), ("api_key", c_char_p),
                ("account_id", c_char_p), ("hotload_base_url", c_char_p),
                ("inference_base_url", c_char_p), ("allow_insecure_http", c_int32),
                ("log_level", c_int32), ("log_fn", LOG_FN), ("log_payload", c_void_p),
                ("connect_timeout_ms", c_int64), ("header_timeout_ms", c_int64),
                ("body_timeout_ms", c_int64), ("retry_base_ms", c_int64), ("retry_cap_ms", c_int64),
                ("retry_budget_ms", c_int64), ("max_response_bytes", c_int64),
                ("heartbeat_interval_ms", c_int64), ("poll_floor_ms", c_int64), _SPARE]


class JobCreateOptions(Structure):
    _fields_ = [("version", c_uint), ("job_id", c_char_p), ("base_model", c_char_p),
                ("lora_rank", c_int32), ("max_context_length", c_int32), ("learning_rate", c_double),
                ("display_name", c_char_p), ("training_shape", c_char_p), ("skip_validations", c_int32),
                ("accelerator_count", c_int32), ("accelerator_type", c_char_p), ("node_count", c_int32),
                ("trainer_replica_count", c_int32), ("region", c_char_p), ("custom_image_tag", c_char_p),
                ("hot_load_deployment_id", c_char_p), ("extra_args", c_char_p), ("purpose", c_char_p),
                ("inactivity_timeout_s", c_int64), ("forward_only", c_int32),
                ("disable_inactivity_cleanup", c_int32), _SPARE]


class TrainingOptions(Structure):
    _fields_ = [("version", c_uint), ("job_id", c_char_p), ("trainer_url", c_char_p),
                ("base_model", c_char_p), ("lora_rank", c_int32), ("reserved0", c_int32),
                ("op_timeout_ms", c_int64), ("session_suffix", c_char_p), _SPARE]


class WaitOptions(Structure):
    """fwt_wait_options (types.h): embedded in the options of every wait, so it has no spare area."""
    _fields_ = [("version", c_uint), ("reserved0", c_int32), ("timeout_ms", c_int64),
                ("poll_interval_ms", c_int64), ("poll_initial_ms", c_int64), ("progress", PROGRESS_FN),
                ("progress_payload", c_void_p)]


class JobWaitOptions(Structure):
    _fields_ = [("version", c_uint), ("reserved0", c_int32), ("wait", WaitOptions),
                ("pending_timeout_ms", c_int64), ("healthz_timeout_ms", c_int64), _SPARE]


CLIENT_OPTIONS_VERSION = 1
JOB_WAIT_OPTIONS_VERSION = 1
JOB_CREATE_OPTIONS_VERSION = 1
TRAINING_OPTIONS_VERSION = 1
SAMPLER_BASE = 1


class FwtrainError(RuntimeError):
    def __init__(self, what, code, detail):
        msg = detail.message.decode() if detail and detail.message else ""
        super().__init__("%s: %s (%d%s)" % (what, msg, code,
                                            ", HTTP %d" % detail.http_status if detail and detail.http_status else ""))
        self.code = code
        self.http_status = detail.http_status if detail else 0


def load(path=None):
    """Load libfwtrain.so and declare the signatures used here."""
    lib = ctypes.CDLL(path or os.environ.get("FWTRAIN_LIB", "libfwtrain.so"))
    sig = {
        "fwt_version_string": (c_char_p, []),
        "fwt_strerror": (c_char_p, [c_int]),
        "fwt_error_last": (POINTER(FwtError), []),
        "fwt_free": (None, [c_void_p]),
        "fwt_client_options_init": (c_int, [POINTER(ClientOptions), c_uint]),
        "fwt_client_new": (c_int, [POINTER(c_void_p), POINTER(ClientOptions)]),
        "fwt_client_free": (None, [c_void_p]),
        "fwt_job_create_options_init": (c_int, [POINTER(JobCreateOptions), c_uint]),
        "fwt_job_create": (c_int, [POINTER(c_void_p), c_void_p, POINTER(JobCreateOptions)]),
        "fwt_job_wait_options_init": (c_int, [POINTER(JobWaitOptions), c_uint]),
        "fwt_job_wait_ready_result": (c_int, [POINTER(c_void_p), c_void_p, c_char_p, POINTER(JobWaitOptions),
                                              c_int64]),
        "fwt_job_id": (c_char_p, [c_void_p]),
        "fwt_job_free": (None, [c_void_p]),
        "fwt_training_options_init": (c_int, [POINTER(TrainingOptions), c_uint]),
        "fwt_job_open_training": (c_int, [POINTER(c_void_p), c_void_p, c_void_p, POINTER(TrainingOptions)]),
        "fwt_training_free": (None, [c_void_p]),
        "fwt_training_session_id": (c_char_p, [c_void_p]),
        "fwt_training_create_model": (c_int, [POINTER(c_void_p), c_void_p]),
        "fwt_training_save_state": (c_int, [POINTER(c_void_p), c_void_p, c_char_p, c_int64]),
        "fwt_training_load_state": (c_int, [POINTER(c_void_p), c_void_p, c_char_p]),
        "fwt_training_load_state_with_optimizer_result": (c_int, [c_void_p, c_char_p, c_int64]),
        "fwt_training_save_weights_for_sampler_ext": (c_int, [POINTER(c_void_p), c_void_p, c_char_p, c_int,
                                                              c_int64]),
        "fwt_future_wait": (c_int, [c_void_p, c_int64]),
        "fwt_future_status": (c_int, [c_void_p]),
        "fwt_future_error": (POINTER(FwtError), [c_void_p]),
        "fwt_future_free": (None, [c_void_p]),
        "fwt_future_take_string": (c_int, [POINTER(c_void_p), c_void_p]),
        "fwt_future_take_sampler_save": (c_int, [POINTER(c_void_p), c_void_p]),
        "fwt_sampler_save_snapshot_name": (c_char_p, [c_void_p]),
        "fwt_sampler_save_free": (None, [c_void_p]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


def last_error(lib):
    """fwt_error_last(): the detail of this thread's last failed synchronous call."""
    return lib.fwt_error_last().contents


def check(lib, what, rc):
    """Raise FwtrainError with fwt_error_last() when a synchronous call failed."""
    if rc != FWT_OK:
        raise FwtrainError(what, rc, last_error(lib))


class Future:
    """An fwt_future: wait() blocks, then take_*() reads the result once."""

    def __init__(self, lib, handle):
        self.lib, self.handle = lib, handle

    def wait(self, timeout_ms=-1):
        rc = self.lib.fwt_future_wait(self.handle, timeout_ms)
        if rc != FWT_OK:
            raise FwtrainError("wait", rc, last_error(self.lib))
        return self.lib.fwt_future_status(self.handle)

    def error(self):
        """fwt_future_error(): the failure detail of a completed future, or None."""
        p = self.lib.fwt_future_error(self.handle)
        return p.contents if p else None

    def result_status(self, what):
        status = self.wait()
        if status != FWT_OK:
            raise FwtrainError(what, status, self.error())

    def take_string(self, what):
        self.result_status(what)
        out = c_void_p()
        check(self.lib, what, self.lib.fwt_future_take_string(byref(out), self.handle))
        try:
            return ctypes.string_at(out.value).decode() if out.value else ""
        finally:
            self.lib.fwt_free(out)

    def free(self):
        if self.handle:
            self.lib.fwt_future_free(self.handle)
            self.handle = None
