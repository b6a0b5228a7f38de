"""The exception hierarchy: one class per family of fwt_status codes.

Every exception the library reports derives from :class:`FwtrainError`, which
carries the C status ``code``, the last ``http_status`` seen (0 if none), the
server-reported ``category`` ("user", "server" or "unknown"), the server's
``request_id`` ("" if none) and the number of HTTP ``attempts`` made. Where a
builtin exception means the same thing the class derives from it too, so
``except TimeoutError`` and ``except ValueError`` keep working.

Arguments Python can check itself are rejected before any C call with plain
``ValueError`` / ``TypeError`` naming the argument.
"""
from __future__ import annotations

import concurrent.futures
from typing import Dict, Optional, Type

from . import _lib

__all__ = [
    "FwtrainError", "InvalidArgumentError", "AuthenticationError", "NotFoundError", "ConflictError",
    "RateLimitError", "DeadlineExceededError", "CancelledError", "TransportError", "RemoteError",
    "HTTPError", "ProtocolError", "StateError", "LocalIOError", "CorruptError", "UnsupportedError",
    "ExpiredError", "error_from_status",
]

_CATEGORIES = {0: "unknown", 1: "user", 2: "server"}


class FwtrainError(Exception):
    """Base class of every error reported by libfwtrain.

    Attributes:
        code: the fwt_status (a negative int, e.g. -6 for FWT_ENOTFOUND).
        status_name: the library's description of ``code``.
        message: the library's message (never contains the API key).
        http_status: the last HTTP status seen, 0 if none.
        category: "user", "server" or "unknown" (who caused a server-side failure).
        request_id: the server's request id or the future's request_id, "" if none.
        attempts: HTTP attempts made for the failing request.
    """

    code: int
    status_name: str
    message: str
    http_status: int
    category: str
    request_id: str
    attempts: int

    def __init__(self, message: str, code: int = -1, http_status: int = 0, category: str = "unknown",
                 request_id: str = "", attempts: int = 0) -> None:
        self.code = code
        self.status_name = _lib.s(_lib.lib.fwt_strerror(code))
        self.message = message
        self.http_status = http_status
        self.category = category
        self.request_id = request_id
        self.attempts = attempts
        extra = []
        if http_status and ("HTTP %d" % http_status) not in message:
            extra.append("HTTP %d" % http_status)
        if request_id and request_id not in message:
            extra.append("request %s" % request_id)
        text = message or self.status_name
        super().__init__(text + (" (%s)" % ", ".join(extra) if extra else ""))


class InvalidArgumentError(FwtrainError, ValueError):
    """FWT_EINVAL: the library rejected an argument; the message names it."""


class AuthenticationError(FwtrainError):
    """FWT_EAUTH: 401/403 — a bad key, a non-training key, or no permission."""


class NotFoundError(FwtrainError):
    """FWT_ENOTFOUND: 404, the resource does not exist."""


class ConflictError(FwtrainError):
    """FWT_ECONFLICT: 409, already exists or in a transitional state."""


class RateLimitError(FwtrainError):
    """FWT_ERATELIMIT: 429 persisted past the retry budget."""


class DeadlineExceededError(FwtrainError, TimeoutError):
    """FWT_ETIMEDOUT: a library deadline passed (wait bound, header, body, overall)."""


class CancelledError(FwtrainError, concurrent.futures.CancelledError):
    """FWT_ECANCELED: the operation was cancelled locally."""


class TransportError(FwtrainError, ConnectionError):
    """FWT_ECONNECT / FWT_ETLS: the server could not be reached (or TLS failed)."""


class RemoteError(FwtrainError):
    """FWT_EREMOTE: the server ran the operation and it failed; see ``category``."""


class ExpiredError(FwtrainError):
    """FWT_EEXPIRED: 410 while polling, the server lost the promise."""


class HTTPError(FwtrainError):
    """FWT_EHTTP: any other non-2xx status; see ``http_status``."""


class ProtocolError(FwtrainError):
    """FWT_EPROTO / FWT_ETOOLARGE: the answer does not follow the protocol (or is too large)."""


class StateError(FwtrainError):
    """FWT_ESTATE: the object is in the wrong state for this call."""


class LocalIOError(FwtrainError, OSError):
    """FWT_EIO: local file or directory I/O failed."""


class CorruptError(LocalIOError):
    """FWT_ECORRUPT: a local file holds corrupt data (e.g. a bad checkpoints.jsonl line)."""


class UnsupportedError(FwtrainError):
    """FWT_EUNSUPPORTED: the server or option does not support this."""


_BY_CODE: Dict[int, Type[FwtrainError]] = {
    _lib.FWT_EINVAL: InvalidArgumentError, _lib.FWT_EAUTH: AuthenticationError,
    _lib.FWT_ENOTFOUND: NotFoundError, _lib.FWT_ECONFLICT: ConflictError,
    _lib.FWT_ERATELIMIT: RateLimitError, _lib.FWT_ETIMEDOUT: DeadlineExceededError,
    _lib.FWT_ECANCELED: CancelledError, _lib.FWT_ECONNECT: TransportError, _lib.FWT_ETLS: TransportError,
    _lib.FWT_EREMOTE: RemoteError, _lib.FWT_EEXPIRED: ExpiredError, _lib.FWT_EHTTP: HTTPError,
    _lib.FWT_EPROTO: ProtocolError, _lib.FWT_ETOOLARGE: ProtocolError, _lib.FWT_ESTATE: StateError,
    _lib.FWT_EIO: LocalIOError, _lib.FWT_ECORRUPT: CorruptError, _lib.FWT_EUNSUPPORTED: UnsupportedError,
}


def error_from_status(code: int, detail: "Optional[_lib.Error]" = None, what: str = "") -> FwtrainError:
    """Build the exception for status ``code`` from an fwt_error detail (copied: the C one is short-lived)."""
    cls = _BY_CODE.get(code, FwtrainError)
    if detail is not None and detail.code == code:
        msg, http, cat = _lib.s(detail.message), detail.http_status, _CATEGORIES.get(detail.category, "unknown")
        rid, attempts = _lib.s(detail.request_id), detail.attempts
    else:
        msg, http, cat, rid, attempts = "", 0, "unknown", "", 0
    if not msg:
        msg = _lib.s(_lib.lib.fwt_strerror(code))
    if what:
        msg = "%s: %s" % (what, msg)
    return cls(msg, code=code, http_status=http, category=cat, request_id=rid, attempts=attempts)


def check(rc: int, what: str = "") -> None:
    """Raise the exception for a failed synchronous call, using this thread's fwt_error_last()."""
    if rc != _lib.FWT_OK:
        raise error_from_status(rc, _lib.lib.fwt_error_last().contents, what)
