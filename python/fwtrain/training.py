"""The training client: one session and one model on a trainer (the official FiretitanTrainingClient).

Training ops return :class:`~fwtrain.futures.Future` objects; they are submitted in
call order (the trainer runs them in that order) while their results are fetched
concurrently, so a loop can queue forward_backward and optim_step and wait once::

    fb = training_client.forward_backward(batch, "cross_entropy")
    step = training_client.optim_step(AdamParams(learning_rate=1e-4))
    loss = fb.result().metrics["loss:sum"]
"""
from __future__ import annotations

from ctypes import byref, c_char_p, c_double, c_int, c_size_t, c_void_p
from typing import Any, Dict, List, Mapping, Optional, Sequence
from urllib.parse import urlsplit

from . import _check, _lib
from .client import NativeClient
from .errors import check
from .futures import Future, Owned
from .types import (LOSS_INPUTS, AdamParams, Datum, ForwardBackwardOutput, LoadWeightsResponse, ModelInput,
                    OptimStepResponse, SaveSamplerResult, SaveWeightsResponse, TensorData)

L = _lib.lib

__all__ = ["FiretitanServiceClient", "FiretitanTrainingClient", "resolve_checkpoint_path"]

_SAMPLER_TYPES = ("auto", "base", "delta", "merged_base")


def _metrics(m: Any) -> Dict[str, float]:
    return {_lib.s(L.fwt_metrics_name(m, i)): float(L.fwt_metrics_value(m, i)) for i in range(L.fwt_metrics_count(m))}


def _forward_output(o: Any) -> ForwardBackwardOutput:
    outs = []
    n = c_size_t()
    for i in range(L.fwt_forward_output_count(o)):
        p = L.fwt_forward_output_logprobs(o, i, byref(n))
        vals = p[:n.value] if p else []
        outs.append({"logprobs": TensorData(vals, "float32", [len(vals)])})
    return ForwardBackwardOutput(loss_fn_output_type=_lib.s(L.fwt_forward_output_type(o)), loss_fn_outputs=outs,
                                 metrics=_metrics(L.fwt_forward_output_metrics(o)))


def _take(take_fn: Any, free_fn: Any, convert: Any) -> Any:
    def take(f: c_void_p) -> Any:
        out = c_void_p()
        check(take_fn(byref(out), f), "take result")
        try:
            return convert(out)
        finally:
            free_fn(out)
    return take


def _take_string(f: c_void_p) -> str:
    out = c_void_p()
    check(L.fwt_future_take_string(byref(out), f), "take result")
    return _lib.take_cstr(out)


def _sampler_save(ss: Any) -> SaveSamplerResult:
    t = L.fwt_sampler_save_type(ss)
    return SaveSamplerResult(path=_lib.s(L.fwt_sampler_save_path(ss)),
                             snapshot_name=_lib.s(L.fwt_sampler_save_snapshot_name(ss)),
                             checkpoint_type=_lib.s(L.fwt_sampler_type_name(t)),
                             previous_snapshot_name=_lib.opt_s(L.fwt_sampler_save_previous_snapshot_name(ss)))


def sampler_type(name: str, v: Optional[str]) -> int:
    """A checkpoint_type name ("base", "delta", "merged_base", "auto"; None = auto) as fwt_sampler_type."""
    if v is None:
        return 0
    if not isinstance(v, str):
        raise TypeError("%s must be a str, not %s" % (name, type(v).__name__))
    if v.lower() not in _SAMPLER_TYPES:
        raise ValueError("%s must be one of %s, got %r" % (name, ", ".join(_SAMPLER_TYPES), v))
    out = c_int()
    check(L.fwt_sampler_type_parse(byref(out), v.encode()), name)
    return out.value


def loss_fn_code(loss_fn: Any) -> int:
    """A loss name as fwt_loss_fn."""
    b = _check.text("loss_fn", loss_fn)
    out = c_int()
    rc = L.fwt_loss_fn_parse(byref(out), b)
    if rc != _lib.FWT_OK:
        raise ValueError("loss_fn must be one of cross_entropy, importance_sampling, ppo, cispo, dro; got %r"
                         % loss_fn)
    return out.value


def _model_tokens(i: int, mi: Any) -> Any:
    if isinstance(mi, ModelInput):
        return mi.tokens
    if hasattr(mi, "to_ints") and callable(mi.to_ints):
        return mi.to_ints()
    if isinstance(mi, (str, bytes)) or mi is None:
        raise TypeError("data[%d].model_input must be a ModelInput or a sequence of token ids" % i)
    return mi


def build_batch(data: Any) -> Any:
    """An fwt_batch from a list of Datum (validated; the caller frees it)."""
    if isinstance(data, Datum) or not isinstance(data, (list, tuple)):
        raise TypeError("data must be a list of Datum, not %s" % type(data).__name__)
    if not data:
        raise ValueError("data must hold at least one Datum")
    b = c_void_p()
    check(L.fwt_batch_new(byref(b)), "batch")
    try:
        for i, d in enumerate(data):
            if not isinstance(d, Datum):
                raise TypeError("data[%d] must be a Datum, not %s" % (i, type(d).__name__))
            if not isinstance(d.loss_fn_inputs, Mapping):
                raise TypeError("data[%d].loss_fn_inputs must be a mapping" % i)
            unknown = [k for k in d.loss_fn_inputs if k not in LOSS_INPUTS]
            if unknown:
                raise ValueError("data[%d].loss_fn_inputs has unknown key %r (known: %s)"
                                 % (i, unknown[0], ", ".join(LOSS_INPUTS)))
            if "target_tokens" not in d.loss_fn_inputs:
                raise ValueError("data[%d].loss_fn_inputs['target_tokens'] is required" % i)
            dt = _lib.Datum()
            check(L.fwt_datum_init(byref(dt), 1), "datum")
            keep = []
            k, dt.tokens, dt.n_tokens = _check.int64_array("data[%d].model_input" % i, _model_tokens(i, d.model_input))
            keep.append(k)
            k, dt.target_tokens, dt.n_target_tokens = _check.int64_array(
                "data[%d].loss_fn_inputs['target_tokens']" % i, d.loss_fn_inputs["target_tokens"])
            keep.append(k)
            for key in ("weights", "logprobs", "advantages"):
                if key in d.loss_fn_inputs and d.loss_fn_inputs[key] is not None:
                    k, ptr, n = _check.float_array("data[%d].loss_fn_inputs[%r]" % (i, key), d.loss_fn_inputs[key])
                    keep.append(k)
                    setattr(dt, key, ptr)
                    setattr(dt, "n_" + key, n)
            if dt.n_tokens == 0:
                raise ValueError("data[%d].model_input must hold at least one token" % i)
            check(L.fwt_batch_add_datum(b, byref(dt)), "data[%d]" % i)
        return b
    except BaseException:
        L.fwt_batch_free(b)
        raise


def _loss_config(cfg: Any) -> Optional[_lib.LossConfig]:
    if cfg is None:
        return None
    if not isinstance(cfg, Mapping):
        raise TypeError("loss_fn_config must be a mapping of name -> number")
    c = _lib.LossConfig()
    check(L.fwt_loss_config_init(byref(c), 1), "loss config")
    n = len(cfg)
    keys = (c_char_p * max(n, 1))()
    vals = (c_double * max(n, 1))()
    for i, (k, v) in enumerate(cfg.items()):
        keys[i] = _check.text("loss_fn_config key", k)
        vals[i] = _check.number("loss_fn_config[%r]" % k, v)
    c.keys = keys
    c.values = vals
    c.n = n
    return c


def resolve_checkpoint_path(name: str, source_job_id: Optional[str] = None) -> str:
    """The path load_state* takes: "gs://..." and "/..." unchanged; with a source job
    "cross_job://<job>/<name>"; else the name unchanged (no request is made)."""
    n = _check.text("name", name)
    j = _check.text("source_job_id", source_job_id, optional=True)
    out = c_void_p()
    check(L.fwt_resolve_checkpoint_path(byref(out), n, j), "resolve_checkpoint_path")
    return _lib.take_cstr(out)


class FiretitanTrainingClient(Owned):
    """A session with one model on a trainer. Create it with
    ``TrainerJobManager.create_training_client`` or ``FiretitanServiceClient.create_training_client``.

    close() unloads the model (unless ``keep_model_on_free``) and ends the session; futures
    already returned stay valid.
    """

    _free_name = "fwt_training_free"
    _kind = "training client"
    _close_order = 1

    def __init__(self, _native: NativeClient, _handle: c_void_p) -> None:
        super().__init__(_handle)
        self._native = _native
        _native._adopt(self)

    # -- construction

    @staticmethod
    def _options(base_model: Optional[str], lora_rank: Optional[int], op_timeout_s: Optional[float],
                 session_suffix: Optional[str], keep_model_on_free: bool,
                 unload_timeout_s: Optional[float]) -> _lib.TrainingOptions:
        o = _lib.TrainingOptions()
        check(L.fwt_training_options_init(byref(o), 1), "training options")
        o.base_model = _check.text("base_model", base_model, optional=True)
        if lora_rank is not None:
            o.lora_rank = _check.integer("lora_rank", lora_rank, 0, 2 ** 31 - 1)
        if op_timeout_s is not None:
            o.op_timeout_ms = _check.seconds_ms("op_timeout_s", op_timeout_s)
        o.session_suffix = _check.text("session_suffix", session_suffix, optional=True)
        o.keep_model_on_free = _check.flag("keep_model_on_free", keep_model_on_free)
        if unload_timeout_s is not None:
            o.unload_timeout_ms = _check.seconds_ms("unload_timeout_s", unload_timeout_s)
        return o

    def _create_model(self) -> None:
        f = c_void_p()
        self._call(lambda h: check(L.fwt_training_create_model(byref(f), h), "create_model"))
        Future(f, _take_string, "create_model", keep=self).result()

    @classmethod
    def _open_on_job(cls, native: NativeClient, job_id: Any, base_model: Optional[str] = None,
                     lora_rank: Optional[int] = None, op_timeout_s: Optional[float] = None,
                     session_suffix: Optional[str] = None, keep_model_on_free: bool = False,
                     unload_timeout_s: Optional[float] = None) -> "FiretitanTrainingClient":
        jid = _check.text("job_id", job_id)
        o = cls._options(base_model, lora_rank, op_timeout_s, session_suffix, keep_model_on_free, unload_timeout_s)
        j = c_void_p()
        native._call(lambda h: check(L.fwt_job_get(byref(j), h, jid), "get job"))
        t = c_void_p()
        try:
            native._call(lambda h: check(L.fwt_job_open_training(byref(t), h, j, byref(o)), "open training"))
        finally:
            L.fwt_job_free(j)
        tc = cls(native, t)
        try:
            tc._create_model()
        except BaseException:
            tc.close()
            raise
        return tc

    # -- properties

    @property
    def session_id(self) -> str:
        """The trainer session id."""
        return _lib.s(self._call(L.fwt_training_session_id))

    @property
    def session_suffix(self) -> str:
        """The 8-hex suffix qualifying this session's snapshot names."""
        return _lib.s(self._call(L.fwt_training_session_suffix))

    @property
    def model_id(self) -> str:
        """The model id the trainer assigned."""
        return _lib.s(self._call(L.fwt_training_model_id))

    @property
    def base_url(self) -> str:
        """The trainer's data-plane base URL."""
        return _lib.s(self._call(L.fwt_training_url))

    @property
    def last_sampler_snapshot(self) -> Optional[str]:
        """The latest sampler snapshot saved on this session (what the next delta applies on top of)."""
        out = c_void_p()
        self._call(lambda h: check(L.fwt_training_last_sampler_snapshot(byref(out), h), "last snapshot"))
        return _lib.take_cstr(out) if out.value else None

    # -- ops

    def forward_backward(self, data: Sequence[Datum], loss_fn: str = "cross_entropy",
                         loss_fn_config: Optional[Mapping[str, float]] = None) -> "Future[ForwardBackwardOutput]":
        """Forward and backward pass over ``data`` with ``loss_fn``; gradients accumulate until optim_step."""
        code = loss_fn_code(loss_fn)
        cfg = _loss_config(loss_fn_config)
        b = build_batch(data)
        f = c_void_p()
        try:
            self._call(lambda h: check(L.fwt_training_forward_backward_config(
                byref(f), h, b, code, byref(cfg) if cfg is not None else None), "forward_backward"))
        finally:
            L.fwt_batch_free(b)
        return Future(f, _take(L.fwt_future_take_forward_output, L.fwt_forward_output_free, _forward_output),
                      "forward_backward", keep=self)

    def forward(self, data: Sequence[Datum], loss_fn: str = "cross_entropy") -> "Future[ForwardBackwardOutput]":
        """Forward pass only (no gradient kept): logprobs and loss metrics."""
        code = loss_fn_code(loss_fn)
        b = build_batch(data)
        f = c_void_p()
        try:
            self._call(lambda h: check(L.fwt_training_forward(byref(f), h, b, code), "forward"))
        finally:
            L.fwt_batch_free(b)
        return Future(f, _take(L.fwt_future_take_forward_output, L.fwt_forward_output_free, _forward_output),
                      "forward", keep=self)

    def optim_step(self, adam_params: Optional[AdamParams] = None) -> "Future[OptimStepResponse]":
        """Apply the accumulated gradients with Adam (None: the library's defaults)."""
        p = _lib.AdamParams()
        check(L.fwt_adam_params_init(byref(p), 1), "adam params")
        if adam_params is not None:
            if not isinstance(adam_params, AdamParams):
                raise TypeError("adam_params must be an AdamParams, not %s" % type(adam_params).__name__)
            for k in ("learning_rate", "beta1", "beta2", "eps", "weight_decay", "grad_clip_norm"):
                setattr(p, k, _check.number("adam_params." + k, getattr(adam_params, k)))
        f = c_void_p()
        self._call(lambda h: check(L.fwt_training_optim_step(byref(f), h, byref(p)), "optim_step"))
        return Future(f, _take(L.fwt_future_take_metrics, L.fwt_metrics_free,
                               lambda m: OptimStepResponse(_metrics(m))), "optim_step", keep=self)

    def save_state(self, name: str, ttl_seconds: Optional[int] = None) -> "Future[SaveWeightsResponse]":
        """Save the full training state (weights + optimizer, DCP) as ``name``; None TTL keeps it."""
        n = _check.text("name", name)
        ttl = 0 if ttl_seconds is None else _check.integer("ttl_seconds", ttl_seconds, 0)
        f = c_void_p()
        self._call(lambda h: check(L.fwt_training_save_state(byref(f), h, n, ttl), "save_state"))
        return Future(f, lambda fh: SaveWeightsResponse(_take_string(fh)), "save_state", keep=self)

    def load_state(self, path: str) -> "Future[LoadWeightsResponse]":
        """Load weights from a saved state; the optimizer state is reset."""
        p = _check.text("path", path)
        f = c_void_p()
        self._call(lambda h: check(L.fwt_training_load_state(byref(f), h, p), "load_state"))
        return Future(f, lambda fh: LoadWeightsResponse(_take_string(fh)), "load_state", keep=self)

    def load_state_with_optimizer(self, path: str) -> "Future[LoadWeightsResponse]":
        """Load weights and optimizer state (resume exactly)."""
        p = _check.text("path", path)
        f = c_void_p()
        self._call(lambda h: check(L.fwt_training_load_state_with_optimizer(byref(f), h, p),
                                   "load_state_with_optimizer"))
        return Future(f, lambda fh: LoadWeightsResponse(_take_string(fh)), "load_state_with_optimizer", keep=self)

    def save_weights_for_sampler_ext_async(self, name: str, checkpoint_type: Optional[str] = None,
                                           ttl_seconds: Optional[int] = None) -> "Future[SaveSamplerResult]":
        """Start a sampler save (see save_weights_for_sampler_ext)."""
        n = _check.text("name", name)
        t = sampler_type("checkpoint_type", checkpoint_type)
        ttl = 0 if ttl_seconds is None else _check.integer("ttl_seconds", ttl_seconds, 0)
        f = c_void_p()
        self._call(lambda h: check(L.fwt_training_save_weights_for_sampler_ext(byref(f), h, n, t, ttl),
                                   "save_weights_for_sampler_ext"))
        return Future(f, _take(L.fwt_future_take_sampler_save, L.fwt_sampler_save_free, _sampler_save),
                      "save_weights_for_sampler_ext", keep=self)

    def save_weights_for_sampler_ext(self, name: str, checkpoint_type: Optional[str] = None,
                                     ttl_seconds: Optional[int] = None,
                                     timeout: Optional[float] = None) -> SaveSamplerResult:
        """Save HF weights for sampling/promotion and wait: ``checkpoint_type`` "base" (full),
        "delta" (against the previous snapshot), "merged_base" (LoRA) or None (base first, then
        delta). Returns ``.path`` and the session-qualified ``.snapshot_name``."""
        return self.save_weights_for_sampler_ext_async(name, checkpoint_type, ttl_seconds).result(timeout)

    def resolve_checkpoint_path(self, name: str, source_job_id: Optional[str] = None) -> str:
        """See :func:`fwtrain.resolve_checkpoint_path`."""
        return resolve_checkpoint_path(name, source_job_id)

    def list_checkpoints(self) -> List[str]:
        """The DCP checkpoint names the live trainer holds."""
        out = c_void_p()
        self._call(lambda h: check(L.fwt_training_list_checkpoints(byref(out), h), "list_checkpoints"))
        try:
            return [_lib.s(L.fwt_string_list_get(out, i)) for i in range(L.fwt_string_list_count(out))]
        finally:
            L.fwt_string_list_free(out)

    def unload_model(self) -> "Future[None]":
        """Free the model and its session slot on the trainer; no op can follow."""
        f = c_void_p()
        self._call(lambda h: check(L.fwt_training_unload_model(byref(f), h), "unload_model"))
        return Future(f, lambda _f: None, "unload_model", keep=self)


class FiretitanServiceClient:
    """Connects to a trainer by its data-plane URL (``TrainerServiceEndpoint.base_url``).

    ``control_base_url`` None: the scheme and host of ``base_url`` (where the gateway lives).
    """

    def __init__(self, base_url: str, api_key: Optional[str] = None, *, control_base_url: Optional[str] = None,
                 allow_insecure_http: bool = False) -> None:
        _check.text("base_url", base_url)
        if control_base_url is None:
            u = urlsplit(base_url)
            if not u.scheme or not u.netloc:
                raise ValueError("base_url must be an absolute http(s) URL, got %r" % base_url)
            control_base_url = "%s://%s" % (u.scheme, u.netloc)
        self.base_url = base_url
        self._native = NativeClient(api_key, control_base_url, allow_insecure_http=allow_insecure_http)

    def create_training_client(self, base_model: str, lora_rank: int = 0, *, op_timeout_s: Optional[float] = None,
                               session_suffix: Optional[str] = None, keep_model_on_free: bool = False,
                               unload_timeout_s: Optional[float] = None) -> FiretitanTrainingClient:
        """Open a session on the trainer and create its model (full-parameter when lora_rank is 0)."""
        o = FiretitanTrainingClient._options(base_model, lora_rank, op_timeout_s, session_suffix,
                                             keep_model_on_free, unload_timeout_s)
        if o.base_model is None:
            raise TypeError("base_model is required (a str), got None")
        o.trainer_url = _check.text("base_url", self.base_url)
        t = c_void_p()
        self._native._call(lambda h: check(L.fwt_training_new(byref(t), h, byref(o)), "open training"))
        tc = FiretitanTrainingClient(self._native, t)
        try:
            tc._create_model()
        except BaseException:
            tc.close()
            raise
        return tc

    def close(self) -> None:
        """Close the client and every training client created from it."""
        self._native.close()

    def __enter__(self) -> "FiretitanServiceClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

