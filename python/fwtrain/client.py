"""The control plane: FireworksClient, TrainerJobManager and DeploymentManager.

Names and call shapes follow the official SDK (``fireworks.training.sdk``);
each object owns one libfwtrain client (one worker thread, one connection
pool). Durations are seconds, as in the official SDK.
"""
from __future__ import annotations

import json
import time
from ctypes import byref, c_char_p, c_void_p
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

from . import _check, _lib
from .errors import FwtrainError, NotFoundError, check
from .futures import Future, Owned

L = _lib.lib

__all__ = ["FireworksClient", "TrainerJobManager", "DeploymentManager", "TrainerJobConfig", "CreatedTrainerJob",
           "TrainerServiceEndpoint", "DeploymentConfig", "DeploymentInfo", "validate_output_model_id"]


class NativeClient(Owned):
    """An fwt_client (internal): owns the worker thread; closed after every session opened on it."""

    _free_name = "fwt_client_free"
    _kind = "client"
    _close_order = 2

    def __init__(self, api_key: Optional[str], base_url: Optional[str], account_id: Optional[str] = None,
                 inference_url: Optional[str] = None, hotload_api_url: Optional[str] = None,
                 allow_insecure_http: bool = False, unreachable_timeout_s: Optional[float] = None) -> None:
        o = _lib.ClientOptions()
        check(L.fwt_client_options_init(byref(o), 1), "client options")
        # The bytes objects must outlive fwt_client_new (it copies them).
        keep = [_check.text("api_key", api_key, optional=True), _check.text("base_url", base_url, optional=True),
                _check.text("account_id", account_id, optional=True),
                _check.text("inference_url", inference_url, optional=True),
                _check.text("hotload_api_url", hotload_api_url, optional=True)]
        o.api_key, o.base_url, o.account_id, o.inference_base_url, o.hotload_base_url = keep
        o.allow_insecure_http = _check.flag("allow_insecure_http", allow_insecure_http)
        if unreachable_timeout_s is not None:
            o.unreachable_timeout_ms = _check.seconds_ms("unreachable_timeout_s", unreachable_timeout_s)
        h = c_void_p()
        rc = L.fwt_client_new(byref(h), byref(o))
        o.api_key = None
        check(rc, "client")
        super().__init__(h)


def _job_dict(j: c_void_p) -> Dict[str, Any]:
    """The job as the official SDK's get() returns it: the resource's fields, camelCase."""
    return {
        "name": _lib.s(L.fwt_job_name(j)), "state": _lib.s(L.fwt_job_state(j)),
        "status": {"message": _lib.s(L.fwt_job_status_message(j))},
        "createTime": _lib.s(L.fwt_job_create_time(j)),
        "trainingConfig": {"baseModel": _lib.s(L.fwt_job_base_model(j)), "loraRank": int(L.fwt_job_lora_rank(j)),
                           "maxContextLength": int(L.fwt_job_max_context_length(j))},
        "hotLoadDeploymentId": _lib.s(L.fwt_job_hot_load_deployment_id(j)),
        "directRouteHandle": _lib.s(L.fwt_job_direct_route_handle(j)),
    }


def _model_dict(m: c_void_p) -> Dict[str, Any]:
    return {"name": _lib.s(L.fwt_model_name(m)), "state": _lib.s(L.fwt_model_state(m)),
            "kind": _lib.s(L.fwt_model_kind(m)), "baseModel": _lib.s(L.fwt_model_base_model(m))}


def _take(take_fn: Any, free_fn: Any, convert: Any) -> Any:
    """A take function for Future: move the C result out, convert it, free it."""
    def take(f: c_void_p) -> Any:
        out = c_void_p()
        check(take_fn(byref(out), f), "take result")
        try:
            return convert(out)
        finally:
            free_fn(out)
    return take


def validate_output_model_id(output_model_id: str) -> None:
    """Raise ValueError unless ``output_model_id`` is 1-63 characters of a-z, 0-9 and '-'."""
    check(L.fwt_promote_validate_output_model_id(_check.text("output_model_id", output_model_id)),
          "output_model_id")


@dataclass
class TrainerJobConfig:
    """What to create (the official TrainerJobConfig; None / 0 fields take the service's default).

    ``training_shape_ref`` selects the shape path (the shape fixes hardware and context);
    ``auto_shape=True`` the auto-shape path (the service picks); otherwise the manual path
    (``accelerator_type`` / ``accelerator_count`` / ``node_count``). A field the chosen path
    cannot carry is refused before any request. ``job_id`` is the client-chosen id (None: the
    library picks one).
    """

    base_model: str
    lora_rank: int = 0
    max_context_length: Optional[int] = None
    learning_rate: float = 1e-5
    node_count: Optional[int] = None
    display_name: Optional[str] = None
    hot_load_deployment_id: Optional[str] = None
    region: Optional[str] = None
    custom_image_tag: Optional[str] = None
    extra_args: Optional[List[str]] = None
    accelerator_type: Optional[str] = None
    accelerator_count: Optional[int] = None
    skip_validations: bool = False
    forward_only: bool = False
    training_shape_ref: Optional[str] = None
    job_id: Optional[str] = None
    purpose: Optional[str] = None
    trainer_replica_count: Optional[int] = None
    inactivity_timeout_s: Optional[int] = None
    disable_inactivity_cleanup: bool = False
    auto_shape: bool = False


@dataclass
class CreatedTrainerJob:
    """A job just created: its id and full resource name."""

    job_id: str
    job_name: str


@dataclass
class TrainerServiceEndpoint:
    """A ready trainer: ``base_url`` is its data-plane base (what a training client connects to)."""

    job_name: str
    job_id: str
    base_url: str


@dataclass
class DeploymentConfig:
    """What deployment to create (the official DeploymentConfig and its defaults: ``hot_load_bucket_type``
    None sends "FW_HOSTED", "" omits it; ``for_training`` False)."""

    deployment_id: str
    base_model: str
    description: Optional[str] = None
    min_replica_count: int = 0
    max_replica_count: int = 1
    hot_load_trainer_job: Optional[str] = None
    deployment_shape: Optional[str] = None
    accelerator_type: Optional[str] = None
    region: Optional[str] = None
    hot_load_bucket_type: Optional[str] = None
    enable_hot_load: bool = True
    for_training: bool = False
    skip_shape_validation: bool = False
    disable_speculative_decoding: bool = False


@dataclass
class DeploymentInfo:
    """A deployment as the control plane reports it; ``inference_model`` names it for sampling."""

    deployment_id: str
    name: str
    state: str
    base_model: str = ""
    hot_load_bucket_url: Optional[str] = None
    hot_load_trainer_job: Optional[str] = None
    inference_model: str = ""


def _deployment_info(d: c_void_p) -> DeploymentInfo:
    return DeploymentInfo(deployment_id=_lib.s(L.fwt_deployment_id(d)), name=_lib.s(L.fwt_deployment_name(d)),
                          state=_lib.s(L.fwt_deployment_state(d)), base_model=_lib.s(L.fwt_deployment_base_model(d)),
                          hot_load_bucket_url=_lib.s(L.fwt_deployment_hot_load_bucket_url(d)) or None,
                          hot_load_trainer_job=_lib.s(L.fwt_deployment_hot_load_trainer_job(d)) or None,
                          inference_model=_lib.s(L.fwt_deployment_name(d)))


def _hotload_status_dict(st: c_void_p) -> Dict[str, Any]:
    reps = []
    for i in range(L.fwt_hotload_status_replica_count(st)):
        reps.append({"current_snapshot_identity": _lib.opt_s(L.fwt_hotload_status_current_identity(st, i)),
                     "readiness": bool(L.fwt_hotload_status_ready(st, i)),
                     "loading_state": {"stage": _lib.s(L.fwt_hotload_status_stage(st, i)),
                                       "target_snapshot_identity":
                                           _lib.opt_s(L.fwt_hotload_status_target_identity(st, i))}})
    return {"replicas": reps}


def _wait_opts(timeout_s: Any, poll_interval_s: Any, name: str = "timeout_s") -> _lib.WaitOptions:
    w = _lib.WaitOptions()
    check(L.fwt_wait_options_init(byref(w), 1), "wait options")
    w.timeout_ms = _check.seconds_ms(name, timeout_s)
    w.poll_interval_ms = _check.seconds_ms("poll_interval_s", poll_interval_s)
    return w


class FireworksClient:
    """Account-level operations that need no running trainer: account, checkpoints, promotion.

    ``api_key`` None: $FIREWORKS_API_KEY; ``base_url`` None: $FIREWORKS_BASE_URL, else
    https://api.fireworks.ai. ``account_id`` None: resolved once from the key. Keyword-only
    extras: ``inference_url`` / ``hotload_api_url`` (default base_url), ``allow_insecure_http``
    (http:// to a non-loopback host), ``unreachable_timeout_s`` (how long a request retries
    while the server cannot be reached at all; default 30). Use as a context manager or call
    close(); every call after close() raises ValueError.
    """

    def __init__(self, api_key: Optional[str] = None, base_url: Optional[str] = None,
                 account_id: Optional[str] = None, additional_headers: Optional[Dict[str, str]] = None,
                 verify_ssl: Optional[bool] = None, *, inference_url: Optional[str] = None,
                 hotload_api_url: Optional[str] = None, allow_insecure_http: bool = False,
                 unreachable_timeout_s: Optional[float] = None) -> None:
        if additional_headers:
            raise ValueError("additional_headers is not supported by libfwtrain")
        if verify_ssl is not None and verify_ssl is not True:
            raise ValueError("verify_ssl=False is not supported: libfwtrain always verifies TLS")
        self._native = NativeClient(api_key, base_url, account_id, inference_url, hotload_api_url,
                                    allow_insecure_http, unreachable_timeout_s)

    # -- basics

    @property
    def base_url(self) -> str:
        """The control-plane base URL in use."""
        return _lib.s(self._native._call(L.fwt_client_base_url))

    @property
    def account_id(self) -> str:
        """The account id (the configured one, or resolved once from the key and cached)."""
        out = c_char_p()
        self._native._call(lambda h: check(L.fwt_client_account_id(byref(out), h), "account"))
        return _lib.s(out.value)

    def close(self) -> None:
        """Close the client (and every training session opened on it). Idempotent."""
        self._native.close()

    @property
    def closed(self) -> bool:
        """True once close() ran."""
        return self._native.closed

    def __enter__(self) -> "FireworksClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- checkpoints

    def list_checkpoints(self, job_id: str, page_size: int = 200) -> List[Dict[str, Any]]:
        """The job's checkpoints as the control plane lists them (all pages, server order).

        Each row is the server's object as sent (``name`` 4-segment, ``createTime``,
        ``updateTime``, ``checkpointType``, ``promotable``, ...) plus ``checkpointId`` (the last
        segment of the name) and ``resumable`` (DCP state). Works for deleted jobs during retention.
        """
        jid = _check.text("job_id", job_id)
        o = _lib.CheckpointListOptions()
        check(L.fwt_checkpoint_list_options_init(byref(o), 1), "list options")
        o.page_size = _check.integer("page_size", page_size, 1, 2 ** 31 - 1)
        lst = c_void_p()
        self._native._call(lambda h: check(L.fwt_job_list_checkpoints(byref(lst), h, jid, byref(o)),
                                           "list_checkpoints"))
        try:
            rows = []
            for i in range(L.fwt_checkpoint_list_count(lst)):
                r = L.fwt_checkpoint_list_get(lst, i)
                row = json.loads(_lib.s(L.fwt_checkpoint_row_json(r)) or "{}")
                row["checkpointId"] = _lib.s(L.fwt_checkpoint_row_id(r))
                row["resumable"] = bool(L.fwt_checkpoint_row_resumable(r))
                rows.append(row)
            return rows
        finally:
            L.fwt_checkpoint_list_free(lst)

    def promote_checkpoint_async(self, job_id: Optional[str] = None, checkpoint_id: Optional[str] = None,
                                 output_model_id: Optional[str] = None, base_model: Optional[str] = None, *,
                                 name: Optional[str] = None, hot_load_deployment_id: Optional[str] = None,
                                 timeout_s: Optional[float] = None) -> "Future[Dict[str, Any]]":
        """Start a promotion; the future completes with the model (see promote_checkpoint)."""
        if name is not None and (job_id is not None or checkpoint_id is not None):
            raise ValueError("give either name or job_id and checkpoint_id, not both")
        out_id = _check.text("output_model_id", output_model_id)
        if name is not None:
            nm = _check.text("name", name)
        else:
            jid = _check.text("job_id", job_id)
            cid = _check.text("checkpoint_id", checkpoint_id)
        if base_model is None:
            # The service needs the base model; the job knows it (the older SDK's behaviour).
            src = job_id if name is None else name.split("/")[3] if name.count("/") == 5 else None
            if src is None:
                raise ValueError("base_model is required with a name that is not "
                                 "accounts/<a>/rlorTrainerJobs/<job>/checkpoints/<id>")
            base_model = self._job_base_model(src)
        bm = _check.text("base_model", base_model)
        o = _lib.PromoteOptions()
        check(L.fwt_promote_options_init(byref(o), 1), "promote options")
        o.hot_load_deployment_id = _check.text("hot_load_deployment_id", hot_load_deployment_id, optional=True)
        if timeout_s is not None:
            o.wait.timeout_ms = _check.seconds_ms("timeout_s", timeout_s)
        f = c_void_p()
        if name is not None:
            self._native._call(lambda h: check(L.fwt_promote_checkpoint(byref(f), h, nm, out_id, bm, byref(o)),
                                               "promote_checkpoint"))
        else:
            self._native._call(lambda h: check(
                L.fwt_promote_checkpoint_by_id(byref(f), h, jid, cid, out_id, bm, byref(o)), "promote_checkpoint"))
        return Future(f, _take(L.fwt_future_take_model, L.fwt_model_free, _model_dict), "promote_checkpoint",
                      keep=self._native)

    def promote_checkpoint(self, job_id: Optional[str] = None, checkpoint_id: Optional[str] = None,
                           output_model_id: Optional[str] = None, base_model: Optional[str] = None, *,
                           name: Optional[str] = None, hot_load_deployment_id: Optional[str] = None,
                           timeout_s: Optional[float] = None) -> Dict[str, Any]:
        """Promote a sampler checkpoint to the model ``accounts/<a>/models/<output_model_id>`` and wait.

        The checkpoint is ``(job_id, checkpoint_id)`` (checkpoint_id = a snapshot_name from
        save_weights_for_sampler_ext) or ``name=`` its 4-segment row name. ``base_model`` None:
        read from the job. Returns the model: ``name``, ``state``, ``kind``, ``baseModel``.
        """
        return self.promote_checkpoint_async(job_id, checkpoint_id, output_model_id, base_model, name=name,
                                             hot_load_deployment_id=hot_load_deployment_id,
                                             timeout_s=timeout_s).result()

    def _job_base_model(self, job_id: str) -> str:
        jid = _check.text("job_id", job_id)
        j = c_void_p()
        self._native._call(lambda h: check(L.fwt_job_get(byref(j), h, jid), "get job"))
        try:
            return _lib.s(L.fwt_job_base_model(j))
        finally:
            L.fwt_job_free(j)


class TrainerJobManager(FireworksClient):
    """Service-mode trainer jobs: create, get, wait until ready, resume, delete (and promotion)."""

    def create(self, config: TrainerJobConfig) -> CreatedTrainerJob:
        """Create a trainer job and return at once (a 409 on the id returns the existing job)."""
        if not isinstance(config, TrainerJobConfig):
            raise TypeError("config must be a TrainerJobConfig, not %s" % type(config).__name__)
        o = _lib.JobCreateOptions()
        check(L.fwt_job_create_options_init(byref(o), 1), "job options")
        c = config
        keep = []

        def txt(name: str, v: Any) -> Optional[bytes]:
            b = _check.text("config." + name, v, optional=True)
            keep.append(b)
            return b
        o.base_model = txt("base_model", c.base_model if c.base_model is not None else _missing("base_model"))
        o.job_id = txt("job_id", c.job_id)
        o.lora_rank = _check.integer("config.lora_rank", c.lora_rank, 0, 2 ** 31 - 1)
        if c.max_context_length is not None:
            o.max_context_length = _check.integer("config.max_context_length", c.max_context_length, 1, 2 ** 31 - 1)
        o.learning_rate = _check.number("config.learning_rate", c.learning_rate, 0.0)
        if c.node_count is not None:
            o.node_count = _check.integer("config.node_count", c.node_count, 1, 2 ** 31 - 1)
        o.display_name = txt("display_name", c.display_name)
        o.training_shape = txt("training_shape_ref", c.training_shape_ref)
        o.skip_validations = _check.flag("config.skip_validations", c.skip_validations)
        if c.accelerator_count is not None:
            o.accelerator_count = _check.integer("config.accelerator_count", c.accelerator_count, 1, 2 ** 31 - 1)
        o.accelerator_type = txt("accelerator_type", c.accelerator_type)
        if c.trainer_replica_count is not None:
            o.trainer_replica_count = _check.integer("config.trainer_replica_count", c.trainer_replica_count, 1,
                                                     2 ** 31 - 1)
        o.region = txt("region", c.region)
        o.custom_image_tag = txt("custom_image_tag", c.custom_image_tag)
        o.hot_load_deployment_id = txt("hot_load_deployment_id", c.hot_load_deployment_id)
        if c.extra_args is not None:
            if isinstance(c.extra_args, str) or not all(isinstance(a, str) for a in c.extra_args):
                raise TypeError("config.extra_args must be a list of str")
            o.extra_args = txt("extra_args", " ".join(c.extra_args)) if c.extra_args else None
        o.purpose = txt("purpose", c.purpose)
        if c.inactivity_timeout_s is not None:
            o.inactivity_timeout_s = _check.integer("config.inactivity_timeout_s", c.inactivity_timeout_s, 1)
        o.forward_only = _check.flag("config.forward_only", c.forward_only)
        o.disable_inactivity_cleanup = _check.flag("config.disable_inactivity_cleanup", c.disable_inactivity_cleanup)
        o.auto_shape = _check.flag("config.auto_shape", c.auto_shape)
        j = c_void_p()
        self._native._call(lambda h: check(L.fwt_job_create(byref(j), h, byref(o)), "create job"))
        try:
            return CreatedTrainerJob(job_id=_lib.s(L.fwt_job_id(j)), job_name=_lib.s(L.fwt_job_name(j)))
        finally:
            L.fwt_job_free(j)

    def get(self, job_id: str) -> Dict[str, Any]:
        """The job resource (``name``, ``state``, ``status``, ``trainingConfig``, ...). NotFoundError if absent."""
        jid = _check.text("job_id", job_id)
        j = c_void_p()
        self._native._call(lambda h: check(L.fwt_job_get(byref(j), h, jid), "get job"))
        try:
            return _job_dict(j)
        finally:
            L.fwt_job_free(j)

    def wait_for_ready_async(self, job_id: str, poll_interval_s: float = 5.0, timeout_s: float = 900,
                             pending_timeout_s: Optional[float] = None) -> "Future[TrainerServiceEndpoint]":
        """Start waiting until the job is RUNNING and its trainer answers healthz (see wait_for_ready)."""
        jid = _check.text("job_id", job_id)
        o = _lib.JobWaitOptions()
        check(L.fwt_job_wait_options_init(byref(o), 1), "wait options")
        o.wait.timeout_ms = _check.seconds_ms("timeout_s", timeout_s)
        o.wait.poll_interval_ms = _check.seconds_ms("poll_interval_s", poll_interval_s)
        if o.wait.poll_initial_ms > o.wait.poll_interval_ms:
            o.wait.poll_initial_ms = o.wait.poll_interval_ms
        if pending_timeout_s is not None:
            o.pending_timeout_ms = _check.seconds_ms("pending_timeout_s", pending_timeout_s)
        f = c_void_p()
        self._native._call(lambda h: check(L.fwt_job_wait_ready(byref(f), h, jid, byref(o)), "wait_for_ready"))
        conv = (lambda j: TrainerServiceEndpoint(job_name=_lib.s(L.fwt_job_name(j)), job_id=_lib.s(L.fwt_job_id(j)),
                                                 base_url=_lib.s(L.fwt_job_trainer_url(j))))
        return Future(f, _take(L.fwt_future_take_job, L.fwt_job_free, conv), "wait_for_ready", keep=self._native)

    def wait_for_ready(self, job_id: str, job_name: Optional[str] = None, poll_interval_s: float = 5.0,
                       timeout_s: float = 900) -> TrainerServiceEndpoint:
        """Wait until the job is RUNNING and healthy; the endpoint's base_url is its data plane.

        ``timeout_s`` bounds the wait once the job left PENDING (a queued job may wait for
        capacity up to 48 h). ``job_name`` is accepted for the official signature and unused.
        """
        return self.wait_for_ready_async(job_id, poll_interval_s, timeout_s).result()

    def wait_for_existing(self, job_id: str, poll_interval_s: float = 5.0,
                          timeout_s: float = 900) -> TrainerServiceEndpoint:
        """Wait for an existing job to be ready (as wait_for_ready)."""
        return self.wait_for_ready(job_id, poll_interval_s=poll_interval_s, timeout_s=timeout_s)

    def create_and_wait(self, config: TrainerJobConfig, poll_interval_s: float = 5.0,
                        timeout_s: float = 900) -> TrainerServiceEndpoint:
        """Create the job and wait until it is ready."""
        created = self.create(config)
        return self.wait_for_ready(created.job_id, created.job_name, poll_interval_s, timeout_s)

    def resume(self, job_id: str) -> None:
        """POST :resume (from FAILED, CANCELLED, PAUSED or COMPLETED); follow with wait_for_ready."""
        jid = _check.text("job_id", job_id)
        self._native._call(lambda h: check(L.fwt_job_resume(h, jid), "resume job"))

    def resume_and_wait(self, job_id: str, poll_interval_s: float = 5.0,
                        timeout_s: float = 900) -> TrainerServiceEndpoint:
        """Resume the job and wait until it is ready."""
        self.resume(job_id)
        return self.wait_for_ready(job_id, poll_interval_s=poll_interval_s, timeout_s=timeout_s)

    def reconnect_and_wait(self, job_id: str, poll_interval_s: float = 5.0, timeout_s: float = 600.0,
                           max_wait_for_resumable_s: float = 120.0) -> TrainerServiceEndpoint:
        """Get back a trainer after a preemption: wait while it is in a transitional state, resume it
        if it stopped, then wait until ready (a RUNNING job is just waited for)."""
        _check.number("max_wait_for_resumable_s", max_wait_for_resumable_s, 0.0)
        deadline = time.monotonic() + max_wait_for_resumable_s
        while True:
            state = self.get(job_id)["state"]
            if state in ("JOB_STATE_RUNNING", "JOB_STATE_CREATING", "JOB_STATE_PENDING"):
                return self.wait_for_ready(job_id, poll_interval_s=poll_interval_s, timeout_s=timeout_s)
            if state in ("JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_PAUSED", "JOB_STATE_COMPLETED"):
                return self.resume_and_wait(job_id, poll_interval_s, timeout_s)
            if time.monotonic() >= deadline:
                raise FwtrainError("job %s stayed in %s for %s s without becoming resumable"
                                   % (job_id, state, max_wait_for_resumable_s), code=_lib.FWT_ESTATE)
            time.sleep(min(poll_interval_s, max(0.0, deadline - time.monotonic())))

    def delete_async(self, job_id: str) -> "Future[None]":
        """Start deleting the job (soft delete; its checkpoints stay listable and promotable)."""
        jid = _check.text("job_id", job_id)
        f = c_void_p()
        self._native._call(lambda h: check(L.fwt_job_delete(byref(f), h, jid), "delete job"))
        return Future(f, lambda _f: None, "delete job", keep=self._native)

    def delete(self, job_id: str) -> None:
        """Delete the job and wait until the server accepted it. NotFoundError if it does not exist."""
        self.delete_async(job_id).result()

    def create_training_client(self, job: Union[str, TrainerServiceEndpoint], base_model: Optional[str] = None,
                               lora_rank: Optional[int] = None, **kwargs: Any) -> "Any":
        """Open a training session on a ready job and create its model (a FiretitanTrainingClient).

        ``base_model`` / ``lora_rank`` None: the job's. Other keywords go to FiretitanTrainingClient.
        """
        from .training import FiretitanTrainingClient
        job_id = job.job_id if isinstance(job, TrainerServiceEndpoint) else job
        return FiretitanTrainingClient._open_on_job(self._native, job_id, base_model, lora_rank, **kwargs)


def _missing(name: str) -> Any:
    raise TypeError("config.%s is required" % name)


class DeploymentManager:
    """Deployments used for sampling and weight sync: create, get, delete, re-attach, hotload, wait, warmup.

    ``inference_url`` / ``hotload_api_url`` default to ``base_url``. Waits return False (as the
    official SDK does) where it does; other failures raise FwtrainError subclasses.
    """

    def __init__(self, api_key: Optional[str] = None, base_url: Optional[str] = None,
                 inference_url: Optional[str] = None, hotload_api_url: Optional[str] = None,
                 account_id: Optional[str] = None, additional_headers: Optional[Dict[str, str]] = None,
                 verify_ssl: Optional[bool] = None, *, allow_insecure_http: bool = False,
                 unreachable_timeout_s: Optional[float] = None) -> None:
        if additional_headers:
            raise ValueError("additional_headers is not supported by libfwtrain")
        if verify_ssl is not None and verify_ssl is not True:
            raise ValueError("verify_ssl=False is not supported: libfwtrain always verifies TLS")
        self._native = NativeClient(api_key, base_url, account_id, inference_url, hotload_api_url,
                                    allow_insecure_http, unreachable_timeout_s)
        #: The message of the last failed wait_for_hotload (None after a success).
        self.last_hotload_error: Optional[str] = None

    def close(self) -> None:
        """Close the manager's client. Idempotent."""
        self._native.close()

    def __enter__(self) -> "DeploymentManager":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def account_id(self) -> str:
        """The account id."""
        out = c_char_p()
        self._native._call(lambda h: check(L.fwt_client_account_id(byref(out), h), "account"))
        return _lib.s(out.value)

    def get(self, deployment_id: str) -> Optional[DeploymentInfo]:
        """The deployment, or None if it does not exist."""
        did = _check.text("deployment_id", deployment_id)
        d = c_void_p()
        try:
            self._native._call(lambda h: check(L.fwt_deployment_get(byref(d), h, did), "get deployment"))
        except NotFoundError:
            return None
        try:
            return _deployment_info(d)
        finally:
            L.fwt_deployment_free(d)

    def create_or_get(self, config: DeploymentConfig, force_recreate: bool = False) -> DeploymentInfo:
        """Get the deployment, or create it; one in FAILED / DELETING / DELETED (or force_recreate) is
        deleted and created again."""
        if not isinstance(config, DeploymentConfig):
            raise TypeError("config must be a DeploymentConfig, not %s" % type(config).__name__)
        did = _check.text("config.deployment_id", config.deployment_id)
        _check.flag("force_recreate", force_recreate)
        existing = self.get(config.deployment_id)
        if existing is not None and (force_recreate or existing.state in ("FAILED", "DELETING", "DELETED")):
            self.delete(config.deployment_id)
        o = _lib.DeploymentCreateOptions()
        check(L.fwt_deployment_create_options_init(byref(o), 1), "deployment options")
        c = config
        keep = []

        def txt(name: str, v: Any) -> Optional[bytes]:
            b = _check.text("config." + name, v, optional=True)
            keep.append(b)
            return b
        o.base_model = txt("base_model", c.base_model if c.base_model is not None else _missing("base_model"))
        o.description = txt("description", c.description)
        o.min_replica_count = _check.integer("config.min_replica_count", c.min_replica_count, 0, 2 ** 31 - 1)
        o.max_replica_count = _check.integer("config.max_replica_count", c.max_replica_count, 0, 2 ** 31 - 1)
        o.hot_load_trainer_job = txt("hot_load_trainer_job", c.hot_load_trainer_job)
        o.deployment_shape = txt("deployment_shape", c.deployment_shape)
        o.accelerator_type = txt("accelerator_type", c.accelerator_type)
        o.region = txt("region", c.region)
        o.hot_load_bucket_type = txt("hot_load_bucket_type", c.hot_load_bucket_type)
        o.disable_hot_load = 1 - _check.flag("config.enable_hot_load", c.enable_hot_load)
        o.for_training = _check.flag("config.for_training", c.for_training)
        o.skip_shape_validation = _check.flag("config.skip_shape_validation", c.skip_shape_validation)
        o.disable_speculative_decoding = _check.flag("config.disable_speculative_decoding",
                                                     c.disable_speculative_decoding)
        d = c_void_p()
        self._native._call(lambda h: check(L.fwt_deployment_create(byref(d), h, did, byref(o)), "create deployment"))
        try:
            return _deployment_info(d)
        finally:
            L.fwt_deployment_free(d)

    def delete(self, deployment_id: str, timeout_s: Optional[float] = None) -> None:
        """Delete the deployment and wait until it is gone (default bound 60 s). Gone already: no error."""
        did = _check.text("deployment_id", deployment_id)
        w = _wait_opts(timeout_s, None)
        f = c_void_p()
        self._native._call(lambda h: check(L.fwt_deployment_delete(byref(f), h, did, byref(w)), "delete deployment"))
        Future(f, lambda _f: None, "delete deployment", keep=self._native).result()

    def wait_for_ready_async(self, deployment_id: str, timeout_s: float = 600,
                             poll_interval_s: float = 15) -> "Future[DeploymentInfo]":
        """Start waiting until the deployment is READY (see wait_for_ready)."""
        did = _check.text("deployment_id", deployment_id)
        w = _wait_opts(timeout_s, poll_interval_s)
        f = c_void_p()
        self._native._call(lambda h: check(L.fwt_deployment_wait_ready(byref(f), h, did, byref(w)),
                                           "wait_for_ready"))
        return Future(f, _take(L.fwt_future_take_deployment, L.fwt_deployment_free, _deployment_info),
                      "deployment wait_for_ready", keep=self._native)

    def wait_for_ready(self, deployment_id: str, timeout_s: float = 600,
                       poll_interval_s: float = 15) -> DeploymentInfo:
        """Wait until READY (or CREATING and already serving). FAILED/DELETING/DELETED raise StateError."""
        return self.wait_for_ready_async(deployment_id, timeout_s, poll_interval_s).result()

    def reattach_trainer(self, deployment: Union[DeploymentInfo, str], *, base_model: str, trainer_job_name: str,
                         timeout_s: float = 300, poll_interval_s: float = 5) -> DeploymentInfo:
        """Point the deployment at another trainer job, then wait until its hotload manager is up
        again (a WeightSyncer on it must then reset_delta_chain())."""
        dep_id = deployment.deployment_id if isinstance(deployment, DeploymentInfo) else deployment
        did = _check.text("deployment", dep_id)
        jid = _check.text("trainer_job_name", trainer_job_name)
        _check.text("base_model", base_model)
        d = c_void_p()
        self._native._call(lambda h: check(L.fwt_deployment_reattach(byref(d), h, did, jid), "reattach"))
        try:
            info = _deployment_info(d)
        finally:
            L.fwt_deployment_free(d)
        self.wait_for_hotload_ready(dep_id, base_model, timeout_s=timeout_s, poll_interval_s=poll_interval_s)
        return info

    def hotload(self, deployment_id: str, base_model: str, snapshot_identity: str,
                incremental_snapshot_metadata: Optional[Dict[str, Any]] = None, reset_prompt_cache: bool = True,
                path: Optional[str] = None) -> Dict[str, Any]:
        """Ask the deployment to load a snapshot (acceptance only; follow with wait_for_hotload).

        ``incremental_snapshot_metadata`` makes it a delta load: ``previous_snapshot_identity``
        (required), ``compression_format``, ``checksum_format``. ``path``: the optional
        x-fireworks-hot-load-source-url.
        """
        did = _check.text("deployment_id", deployment_id)
        bm = _check.text("base_model", base_model)
        ident = _check.text("snapshot_identity", snapshot_identity)
        o = _lib.HotloadOptionsBuf()
        check(L.fwt_hotload_options_init(byref(o), 1), "hotload options")
        keep = []
        if incremental_snapshot_metadata is not None:
            if not isinstance(incremental_snapshot_metadata, dict):
                raise TypeError("incremental_snapshot_metadata must be a dict")
            m = incremental_snapshot_metadata
            keep = [_check.text("incremental_snapshot_metadata['previous_snapshot_identity']",
                                m.get("previous_snapshot_identity")),
                    _check.text("incremental_snapshot_metadata['compression_format']", m.get("compression_format"),
                                optional=True),
                    _check.text("incremental_snapshot_metadata['checksum_format']", m.get("checksum_format"),
                                optional=True)]
            o.o.previous_snapshot_identity, o.o.compression_format, o.o.checksum_format = keep
        o.o.no_reset_prompt_cache = 1 - _check.flag("reset_prompt_cache", reset_prompt_cache)
        o.o.source_url = _check.text("path", path, optional=True)
        self._native._call(lambda h: check(L.fwt_deployment_hotload(h, did, bm, ident, byref(o)), "hotload"))
        return {"identity": snapshot_identity}

    def hotload_check_status(self, deployment_id: str, base_model: str) -> Dict[str, Any]:
        """The hotload status: ``{"replicas": [{current_snapshot_identity, readiness, loading_state}]}``."""
        did = _check.text("deployment_id", deployment_id)
        bm = _check.text("base_model", base_model)
        st = c_void_p()
        self._native._call(lambda h: check(L.fwt_deployment_hotload_status(byref(st), h, did, bm), "hotload status"))
        try:
            return _hotload_status_dict(st)
        finally:
            L.fwt_hotload_status_free(st)

    def wait_for_hotload_async(self, deployment_id: str, base_model: str, expected_identity: str,
                               timeout_seconds: float = 400, poll_interval: float = 5) -> "Future[Dict[str, Any]]":
        """Start waiting until replica 0 is ready with ``expected_identity``; completes with the status."""
        did = _check.text("deployment_id", deployment_id)
        bm = _check.text("base_model", base_model)
        ident = _check.text("expected_identity", expected_identity)
        w = _wait_opts(timeout_seconds, poll_interval, "timeout_seconds")
        f = c_void_p()
        self._native._call(lambda h: check(L.fwt_deployment_wait_hotload(byref(f), h, did, bm, ident, byref(w)),
                                           "wait_for_hotload"))
        return Future(f, _take(L.fwt_future_take_hotload_status, L.fwt_hotload_status_free, _hotload_status_dict),
                      "wait_for_hotload", keep=self._native)

    def wait_for_hotload(self, deployment_id: str, base_model: str, expected_identity: str,
                         timeout_seconds: float = 400, poll_interval: float = 5) -> bool:
        """Wait for a hotload: True once loaded, False on a timeout or a load error for this identity
        (the reason is in ``last_hotload_error``), as the official SDK does."""
        try:
            self.wait_for_hotload_async(deployment_id, base_model, expected_identity, timeout_seconds,
                                        poll_interval).result()
        except (TimeoutError, FwtrainError) as e:
            if isinstance(e, FwtrainError) and e.code not in (_lib.FWT_ETIMEDOUT, _lib.FWT_EREMOTE):
                raise
            self.last_hotload_error = str(e)
            return False
        self.last_hotload_error = None
        return True

    def hotload_and_wait(self, deployment_id: str, base_model: str, snapshot_identity: str,
                         incremental_snapshot_metadata: Optional[Dict[str, Any]] = None,
                         reset_prompt_cache: bool = True, timeout_seconds: float = 400,
                         path: Optional[str] = None) -> bool:
        """hotload() then wait_for_hotload()."""
        self.hotload(deployment_id, base_model, snapshot_identity, incremental_snapshot_metadata,
                     reset_prompt_cache, path)
        return self.wait_for_hotload(deployment_id, base_model, snapshot_identity, timeout_seconds)

    def wait_for_hotload_ready(self, deployment_id: str, base_model: str, timeout_s: float = 300,
                               poll_interval_s: float = 5) -> Dict[str, Any]:
        """The readiness gate before a first hotload: wait until the hotload manager reports replicas."""
        did = _check.text("deployment_id", deployment_id)
        bm = _check.text("base_model", base_model)
        w = _wait_opts(timeout_s, poll_interval_s)
        f = c_void_p()
        self._native._call(lambda h: check(L.fwt_deployment_wait_hotload_ready(byref(f), h, did, bm, byref(w)),
                                           "wait_for_hotload_ready"))
        return Future(f, _take(L.fwt_future_take_hotload_status, L.fwt_hotload_status_free, _hotload_status_dict),
                      "wait_for_hotload_ready", keep=self._native).result()

    def warmup_async(self, model: str, max_retries: int = 10, retry_interval_s: float = 10.0,
                     max_tokens: int = 4) -> "Future[None]":
        """Start the warmup probe (see warmup)."""
        dep = _check.text("model", model).decode()
        if "/deployments/" in dep:
            dep = dep.rsplit("/", 1)[1]
        did = dep.encode()
        o = _lib.WarmupOptionsBuf()
        check(L.fwt_warmup_options_init(byref(o), 1), "warmup options")
        o.o.max_tries = _check.integer("max_retries", max_retries, 1, 2 ** 31 - 1)
        o.o.max_tokens = _check.integer("max_tokens", max_tokens, 1, 2 ** 31 - 1)
        o.o.retry_interval_ms = _check.seconds_ms("retry_interval_s", retry_interval_s)
        f = c_void_p()
        self._native._call(lambda h: check(L.fwt_deployment_warmup(byref(f), h, did, byref(o)), "warmup"))
        return Future(f, lambda _f: None, "warmup", keep=self._native)

    def warmup(self, model: str, max_retries: int = 10, retry_interval_s: float = 10.0,
               max_tokens: int = 4) -> bool:
        """Send a tiny completion until one succeeds; True if the deployment answered.

        ``model`` is the deployment id or its inference name ``accounts/<a>/deployments/<id>``.
        """
        try:
            self.warmup_async(model, max_retries, retry_interval_s, max_tokens).result()
        except FwtrainError:
            return False
        return True

    def sampler(self, deployment_id: str) -> "Any":
        """A SamplingClient on the deployment (completions through this manager's client)."""
        from .sampling import SamplingClient
        return SamplingClient(self, deployment_id)
