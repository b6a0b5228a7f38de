"""Futures over fwt_future, with concurrent.futures semantics, and the handle ownership helpers.

Threads: the library completes futures on its worker thread. The C completion
callback registered here only hands the future to one Python dispatcher thread,
which takes the result and runs the ``add_done_callback`` functions, so user
code never runs on (or blocks) the library's worker, and a callback that raises
is logged, never propagated into C. Blocking waits release the GIL (ctypes
CDLL calls do), so any number of Python threads may wait on futures at once.
"""
from __future__ import annotations

import atexit
import itertools
import logging
import math
import queue
import threading
import time
import weakref
from ctypes import c_void_p
from typing import Any, Callable, Generic, List, Optional, TypeVar

from . import _lib
from .errors import CancelledError, FwtrainError, error_from_status

__all__ = ["Future"]

T = TypeVar("T")
_log = logging.getLogger("fwtrain")

# ---- the dispatcher thread -------------------------------------------------------------------

_queue: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
_dispatcher_lock = threading.Lock()
_dispatcher: Optional[threading.Thread] = None
_in_c = threading.local()  # set while a thread runs inside a library callback


def _dispatch_loop() -> None:
    while True:
        item = _queue.get()
        try:
            item()
        except BaseException:  # noqa: BLE001 - the dispatcher must survive anything a callback does
            _log.exception("fwtrain: exception in a deferred call")


def _post(fn: Callable[[], None]) -> None:
    """Run fn on the dispatcher thread (started on first use)."""
    global _dispatcher
    if _dispatcher is None:
        with _dispatcher_lock:
            if _dispatcher is None:
                t = threading.Thread(target=_dispatch_loop, name="fwtrain-callbacks", daemon=True)
                t.start()
                _dispatcher = t
    _queue.put(fn)


def in_library_callback() -> bool:
    """True on a thread currently inside a callback the library made (its worker thread)."""
    return getattr(_in_c, "active", False)


def release(free_fn: Callable[[Any], None], handle: Any) -> None:
    """Free a C handle now, or from the dispatcher when called inside a library callback.

    A garbage collection can run a finaliser on the library's worker thread (inside a
    callback); freeing there could wait on that very thread, so it is deferred.
    """
    if in_library_callback():
        _post(lambda: free_fn(handle))
    else:
        free_fn(handle)


# Futures with a registered C callback, by payload id: the strong reference keeps the Python
# object alive until the library has called back (the C side holds only the integer).
_waiting: "dict[int, Future[Any]]" = {}
_ids = itertools.count(1)


def _on_done(_f: Optional[int], payload: Optional[int]) -> None:
    _in_c.active = True
    try:
        fut = _waiting.pop(payload or 0, None)
        if fut is not None:
            _post(fut._fire)
    except BaseException:  # noqa: BLE001 - never let an exception cross into C
        pass
    finally:
        _in_c.active = False


_C_ON_DONE = _lib.FUTURE_CB(_on_done)  # one trampoline for the process, never freed

# ---- owned handles -----------------------------------------------------------------------------


class Owned:
    """A C object owned by a Python object: close() frees it once, calls after close raise ValueError.

    close() waits for calls in progress on other threads (the C objects must not be freed while in use).
    """

    _free_name = ""
    _kind = "object"

    def __init__(self, handle: c_void_p) -> None:
        self._handle: Optional[c_void_p] = handle
        self._cv = threading.Condition(threading.Lock())
        self._users = 0
        self._children: "weakref.WeakSet[Owned]" = weakref.WeakSet()
        _live.add(self)

    def _adopt(self, child: "Owned") -> None:
        """Register an object that must be closed before this one (a session on a client)."""
        self._children.add(child)

    def _acquire(self) -> c_void_p:
        with self._cv:
            if self._handle is None:
                raise ValueError("this %s is closed" % self._kind)
            self._users += 1
            return self._handle

    def _release(self) -> None:
        with self._cv:
            self._users -= 1
            if self._users == 0:
                self._cv.notify_all()

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Call fn(handle, *args) with the handle pinned open."""
        h = self._acquire()
        try:
            return fn(h, *args)
        finally:
            self._release()

    @property
    def closed(self) -> bool:
        """True once close() ran."""
        return self._handle is None

    def close(self) -> None:
        """Free the C object. Safe to call more than once; waits for calls in progress."""
        for child in list(self._children):
            child.close()
        with self._cv:
            if self._handle is None:
                return
            while self._users:
                self._cv.wait()
            h, self._handle = self._handle, None
        release(getattr(_lib.lib, self._free_name), h)

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()  # type: ignore[attr-defined]

    def __del__(self) -> None:
        try:
            if getattr(self, "_handle", None) is not None and not _shutting_down:
                self.close()
        except Exception:  # noqa: BLE001 - finalisers never raise
            pass


_live: "weakref.WeakSet[Owned]" = weakref.WeakSet()
_shutting_down = False


def _busy(o: Owned) -> bool:
    return bool(o._users) or any(_busy(c) for c in list(o._children))


@atexit.register
def _close_all() -> None:
    """Close what is still open (sessions before clients) while the interpreter can still run callbacks."""
    global _shutting_down
    objs = sorted(list(_live), key=lambda o: getattr(o, "_close_order", 0))
    for o in objs:
        if _busy(o):   # a daemon thread is inside a call on it: leave it rather than hang the exit
            continue
        try:
            o.close()
        except Exception:  # noqa: BLE001
            pass
    _shutting_down = True


# ---- futures -----------------------------------------------------------------------------------

_PENDING, _DONE = 0, 1
_SLICE_MS = 200  # longest uninterruptible stretch of a blocking wait


class Future(Generic[T]):
    """The result of an asynchronous libfwtrain call (concurrent.futures.Future semantics).

    ``result(timeout=None)`` blocks (without holding the GIL) and returns the value or raises
    the operation's :class:`~fwtrain.errors.FwtrainError`; a timeout of the wait itself raises
    the builtin ``TimeoutError`` and leaves the operation running. ``cancel()`` stops local
    work (the service has no server-side cancel). Several threads may wait on one future; the
    value is taken from C once and shared.
    """

    def __init__(self, handle: c_void_p, take: Callable[[c_void_p], T], what: str, keep: Any = None) -> None:
        self._handle: Optional[c_void_p] = handle
        self._take = take
        self._what = what
        self._keep = keep  # the objects the C future's work depends on (client, session)
        self._lock = threading.Lock()
        self._state = _PENDING
        self._value: Any = None
        self._exc: Optional[BaseException] = None
        self._callbacks: List[Callable[["Future[T]"], Any]] = []
        self._c_registered = False
        self._fired = False
        self._users = 0

    def __repr__(self) -> str:
        return "<fwtrain.Future %s %s>" % (self._what, "done" if self.done() else "pending")

    # -- pinning: the C future is freed only when no thread is inside a call on it

    def _pin(self) -> Optional[c_void_p]:
        with self._lock:
            h = self._handle
            if h is not None:
                self._users += 1
            return h

    def _unpin(self) -> None:
        with self._lock:
            self._users -= 1
            h = self._handle if (self._users == 0 and self._state == _DONE) else None
            if h is not None:
                self._handle = None
        if h is not None:
            release(_lib.lib.fwt_future_free, h)

    # -- state

    def done(self) -> bool:
        """True once the operation completed (success, failure or cancellation)."""
        if self._state == _DONE:
            return True
        h = self._pin()
        if h is None:
            return self._state == _DONE
        try:
            return bool(_lib.lib.fwt_future_is_done(h))
        finally:
            self._unpin()

    def running(self) -> bool:
        """True while the operation is pending (it starts when submitted)."""
        return not self.done()

    def cancelled(self) -> bool:
        """True if the operation ended by cancellation."""
        if not self.done():
            return False
        self._resolve()
        return isinstance(self._exc, CancelledError)

    def cancel(self) -> bool:
        """Cancel local work; True if the future was pending and is now cancelled, False if already done."""
        if self._state == _DONE:
            return False
        h = self._pin()
        if h is None:
            return False
        try:
            return _lib.lib.fwt_future_cancel(h) == _lib.FWT_OK
        finally:
            self._unpin()

    # -- results

    def _resolve(self) -> None:
        """Take the outcome out of the C future once (the caller knows it is done)."""
        if self._state == _DONE:
            return
        h = self._pin()
        if h is None:
            return
        try:
            with self._lock:
                if self._state == _DONE:
                    return
                status = _lib.lib.fwt_future_status(h)
                if status == _lib.FWT_OK:
                    try:
                        self._value = self._take(h)
                    except BaseException as e:  # noqa: BLE001 - stored and re-raised to every waiter
                        self._exc = e
                else:
                    p = _lib.lib.fwt_future_error(h)
                    self._exc = error_from_status(status, p.contents if p else None, self._what)
                self._state = _DONE
                self._take = None  # type: ignore[assignment]
        finally:
            self._unpin()  # the last user frees the C future: the outcome lives in Python now

    def _wait(self, timeout: Optional[float]) -> None:
        if self._state == _DONE:
            return
        if timeout is None:
            ms = -1
        else:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError("timeout must be a number of seconds or None, not %s" % type(timeout).__name__)
            if math.isnan(timeout) or timeout < 0:
                raise ValueError("timeout must be >= 0 seconds, got %r" % timeout)
            ms = int(math.ceil(timeout * 1000.0)) if math.isfinite(timeout) else -1
        if in_library_callback():
            raise RuntimeError("fwtrain: a future cannot be waited on inside a library callback")
        h = self._pin()
        if h is None:
            return
        try:
            # Wait in slices so the interpreter runs signal handlers (Ctrl-C raises KeyboardInterrupt
            # within a slice) instead of sitting in C until the operation ends.
            deadline = None if ms < 0 else time.monotonic() + ms / 1000.0
            while True:
                left = _SLICE_MS if deadline is None else min(_SLICE_MS, max(0, int((deadline - time.monotonic())
                                                                                     * 1000.0)))
                rc = _lib.lib.fwt_future_wait(h, left)
                if rc != _lib.FWT_ETIMEDOUT or (deadline is not None and time.monotonic() >= deadline):
                    break
            if rc == _lib.FWT_ETIMEDOUT:
                raise TimeoutError("%s: not done after %s s" % (self._what, timeout))
            if rc != _lib.FWT_OK:
                raise error_from_status(rc, _lib.lib.fwt_error_last().contents, self._what)
        finally:
            self._unpin()
        self._resolve()

    def result(self, timeout: Optional[float] = None) -> T:
        """Wait up to ``timeout`` seconds (None: no limit) and return the value or raise the failure."""
        self._wait(timeout)
        if self._exc is not None:
            raise self._exc
        return self._value  # type: ignore[no-any-return]

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        """Wait like result() and return the failure (None on success)."""
        self._wait(timeout)
        return self._exc

    # -- callbacks

    def add_done_callback(self, fn: Callable[["Future[T]"], Any]) -> None:
        """Call ``fn(future)`` once the future is done (at once, on this thread, if it already is).

        Callbacks run on a Python dispatcher thread, never on the library's worker; an
        exception raised by ``fn`` is logged (logger "fwtrain") and otherwise ignored.
        """
        if not callable(fn):
            raise TypeError("fn must be callable")
        with self._lock:
            register = run_now = False
            if not self._fired and self._state != _DONE:
                self._callbacks.append(fn)
                register = not self._c_registered
                self._c_registered = True
            elif not self._callbacks or self._fired:
                run_now = True
            else:  # done but the dispatcher has not run the earlier callbacks yet: keep the order
                self._callbacks.append(fn)
        if run_now:
            self._run_callback(fn)
        if not register:
            return
        key = next(_ids)
        _waiting[key] = self
        h = self._pin()
        try:
            rc = _lib.lib.fwt_future_on_done(h, _C_ON_DONE, c_void_p(key)) if h is not None else _lib.FWT_ESTATE
        finally:
            if h is not None:
                self._unpin()
        if rc != _lib.FWT_OK:
            # Already resolved and released (or another registration): fire from the dispatcher.
            _waiting.pop(key, None)
            _post(self._fire)

    def _run_callback(self, fn: Callable[["Future[T]"], Any]) -> None:
        try:
            fn(self)
        except Exception:  # noqa: BLE001 - concurrent.futures logs and carries on
            _log.exception("fwtrain: exception calling callback for %r", self)

    def _fire(self) -> None:
        """Dispatcher thread: take the outcome and run the callbacks."""
        try:
            self._resolve()
        except BaseException:  # noqa: BLE001
            _log.exception("fwtrain: could not take the result of %r", self)
        with self._lock:
            self._fired = True
            cbs, self._callbacks = self._callbacks, []
        for fn in cbs:
            self._run_callback(fn)

    # -- lifetime

    def _free(self) -> None:
        # Only reached from __del__: nobody else can hold a pin any more.
        h, self._handle = self._handle, None
        if h is not None and not _shutting_down:
            release(_lib.lib.fwt_future_free, h)

    def __del__(self) -> None:
        try:
            self._free()
        except Exception:  # noqa: BLE001
            pass


def completed(value: T, what: str = "") -> "Future[T]":
    """A Future already holding ``value`` (for calls that finish synchronously)."""
    f: Future[T] = Future(None, lambda h: value, what)  # type: ignore[arg-type]
    f._state = _DONE
    f._value = value
    return f


def failed(exc: FwtrainError, what: str = "") -> "Future[Any]":
    """A Future already holding the failure ``exc``."""
    f: Future[Any] = Future(None, lambda h: None, what)  # type: ignore[arg-type]
    f._state = _DONE
    f._exc = exc
    return f
