"""Sampling completions from a deployment, with the logprobs the RL losses need.

``SamplingClient(deploy_mgr, deployment_id).sample(...)`` returns a Future of a
:class:`SampleResponse`; hundreds can be in flight on one client. A 404/425
answered while a hotload swaps the weights is retried (``hotload_retry_*``).
"""
from __future__ import annotations

from ctypes import byref, c_char_p, c_int64, c_size_t, c_void_p
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Union

from . import _check, _lib
from .errors import check
from .futures import Future

L = _lib.lib

__all__ = ["SamplingClient", "SampledCompletion", "SampleResponse"]


@dataclass
class SampledCompletion:
    """One choice: its text, generated token ids, their sampling logprobs (if asked) and finish reason."""

    text: str
    tokens: List[int]
    logprobs: Optional[List[float]]
    finish_reason: str


@dataclass
class SampleResponse:
    """All choices of one request, the prompt's tokens (and with echo + logprobs their logprobs), usage."""

    completions: List[SampledCompletion]
    prompt_tokens: Optional[List[int]]
    prompt_logprobs: Optional[List[float]]
    usage_prompt_tokens: int
    usage_completion_tokens: int


def _completion(c: Any) -> SampleResponse:
    n = c_size_t()
    out = []
    for i in range(L.fwt_completion_count(c)):
        tp = L.fwt_completion_tokens(c, i, byref(n))
        toks = tp[:n.value] if tp else []
        lp = L.fwt_completion_logprobs(c, i, byref(n))
        lps = lp[:n.value] if lp else None
        out.append(SampledCompletion(_lib.s(L.fwt_completion_text(c, i)), list(toks), lps,
                                     _lib.s(L.fwt_completion_finish_reason(c, i))))
    pt = L.fwt_completion_prompt_tokens(c, byref(n))
    ptoks = pt[:n.value] if pt else None
    pl = L.fwt_completion_prompt_logprobs(c, byref(n))
    plps = pl[:n.value] if pl else None
    a, b = c_int64(), c_int64()
    L.fwt_completion_usage(c, byref(a), byref(b))
    return SampleResponse(out, ptoks, plps, a.value, b.value)


class SamplingClient:
    """Samples from one deployment through a DeploymentManager's (or FireworksClient's) client."""

    def __init__(self, manager: Any, deployment_id: str) -> None:
        native = getattr(manager, "_native", None)
        if native is None:
            raise TypeError("manager must be a DeploymentManager or FireworksClient")
        _check.text("deployment_id", deployment_id)
        self._native = native
        self.deployment_id = deployment_id

    def sample(self, prompt: Union[str, Sequence[int]], max_tokens: int = 16, n: int = 1,
               temperature: float = 1.0, top_p: float = 1.0, top_k: int = 0, logprobs: bool = False,
               echo: bool = False, seed: Optional[int] = None, stop: Optional[Sequence[str]] = None,
               request_timeout_s: Optional[float] = None, hotload_retry_interval_s: Optional[float] = None,
               hotload_retry_timeout_s: Optional[float] = None) -> "Future[SampleResponse]":
        """Sample ``n`` completions of ``prompt`` (text or token ids)."""
        r = _lib.SampleRequest()
        check(L.fwt_sample_request_init(byref(r), 1), "sample request")
        keep: List[Any] = []
        if isinstance(prompt, str):
            r.prompt_text = _check.text("prompt", prompt)
        else:
            if prompt is None:
                raise TypeError("prompt is required (a str or a sequence of token ids)")
            k, r.prompt_tokens, r.n_prompt_tokens = _check.int64_array("prompt", prompt)
            keep.append(k)
            if r.n_prompt_tokens == 0:
                raise ValueError("prompt must hold at least one token")
        r.max_tokens = _check.integer("max_tokens", max_tokens, 0, 2 ** 31 - 1)
        r.n = _check.integer("n", n, 1, 2 ** 31 - 1)
        r.temperature = _check.number("temperature", temperature, 0.0)
        r.top_p = _check.number("top_p", top_p)
        if not 0.0 < r.top_p <= 1.0:
            raise ValueError("top_p must be in (0, 1], got %r" % top_p)
        r.top_k = _check.integer("top_k", top_k, 0, 2 ** 31 - 1)
        r.logprobs = _check.flag("logprobs", logprobs)
        r.echo = _check.flag("echo", echo)
        if seed is not None:
            r.has_seed = 1
            r.seed = _check.integer("seed", seed, 0, 2 ** 53)
        if stop is not None:
            if isinstance(stop, str):
                stop = [stop]
            arr = (c_char_p * max(len(stop), 1))()
            for i, s in enumerate(stop):
                arr[i] = _check.text("stop[%d]" % i, s)
            keep.append(arr)
            r.stop, r.n_stop = arr, len(stop)
        if request_timeout_s is not None:
            r.request_timeout_ms = _check.seconds_ms("request_timeout_s", request_timeout_s)
        if hotload_retry_interval_s is not None:
            r.hotload_retry_interval_ms = _check.seconds_ms("hotload_retry_interval_s", hotload_retry_interval_s)
        if hotload_retry_timeout_s is not None:
            r.hotload_retry_timeout_ms = _check.seconds_ms("hotload_retry_timeout_s", hotload_retry_timeout_s)
        did = self.deployment_id.encode()
        f = c_void_p()
        self._native._call(lambda h: check(L.fwt_sample(byref(f), h, did, byref(r)), "sample"))

        def take(fh: c_void_p) -> SampleResponse:
            out = c_void_p()
            check(L.fwt_future_take_completion(byref(out), fh), "take completion")
            try:
                return _completion(out)
            finally:
                L.fwt_completion_free(out)
        return Future(f, take, "sample", keep=self._native)
