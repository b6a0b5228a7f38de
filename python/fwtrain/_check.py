"""Argument checks made before any C call (internal): TypeError / ValueError naming the argument."""
from __future__ import annotations

import array
import math
from ctypes import POINTER, c_float, c_int64, cast
from typing import Any, Optional, Tuple


def text(name: str, v: Any, optional: bool = False, allow_empty: bool = False) -> Optional[bytes]:
    """A str argument as UTF-8 bytes; None only when optional."""
    if v is None:
        if optional:
            return None
        raise TypeError("%s is required (a str), got None" % name)
    if not isinstance(v, str):
        raise TypeError("%s must be a str, not %s" % (name, type(v).__name__))
    if not v and not allow_empty:
        raise ValueError("%s must not be empty" % name)
    if "\x00" in v:
        raise ValueError("%s must not contain NUL characters" % name)
    return v.encode("utf-8")


def integer(name: str, v: Any, lo: Optional[int] = None, hi: Optional[int] = None) -> int:
    """An int argument (bool refused) within [lo, hi] (at most the int64 range the C side takes)."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("%s must be an int, not %s" % (name, type(v).__name__))
    lo = -2 ** 63 if lo is None else lo
    hi = 2 ** 63 - 1 if hi is None else hi
    if v < lo:
        raise ValueError("%s must be >= %d, got %d" % (name, lo, v))
    if v > hi:
        raise ValueError("%s must be <= %d, got %d" % (name, hi, v))
    return v


def number(name: str, v: Any, lo: Optional[float] = None) -> float:
    """A finite real argument (int or float, bool refused), >= lo when given."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError("%s must be a number, not %s" % (name, type(v).__name__))
    f = float(v)
    if not math.isfinite(f):
        raise ValueError("%s must be finite, got %r" % (name, v))
    if lo is not None and f < lo:
        raise ValueError("%s must be >= %s, got %r" % (name, lo, v))
    return f


def seconds_ms(name: str, v: Any, none_ms: int = 0) -> int:
    """Seconds (None = the library's default, none_ms) to the library's milliseconds (> 0)."""
    if v is None:
        return none_ms
    f = number(name, v)
    if f <= 0:
        raise ValueError("%s must be > 0 seconds, got %r" % (name, v))
    if f > 9.2e15:  # the int64 milliseconds the C side takes
        raise ValueError("%s is too large, got %r" % (name, v))
    return max(1, int(math.ceil(f * 1000.0)))


def flag(name: str, v: Any) -> int:
    """A bool argument as 0/1."""
    if not isinstance(v, bool):
        raise TypeError("%s must be a bool, not %s" % (name, type(v).__name__))
    return 1 if v else 0


def _as_list(name: str, v: Any) -> Any:
    if isinstance(v, (str, bytes)):
        raise TypeError("%s must be a sequence of numbers, not %s" % (name, type(v).__name__))
    if hasattr(v, "tolist") and callable(v.tolist):  # numpy / torch tensors, TensorData
        return v.tolist()
    if hasattr(v, "data") and isinstance(getattr(v, "data"), (list, tuple)):
        return v.data
    return v


def int64_array(name: str, v: Any) -> Tuple[Any, Any, int]:
    """(keepalive, int64 *, n) for a sequence of ints (array('q') is used without a copy)."""
    if isinstance(v, array.array) and v.typecode == "q":
        arr = v
    else:
        v = _as_list(name, v)
        try:
            arr = array.array("q", v)
        except TypeError:
            raise TypeError("%s must be a sequence of ints" % name) from None
        except OverflowError:
            raise ValueError("%s holds a value outside the int64 range" % name) from None
    n = len(arr)
    if n == 0:
        return arr, None, 0
    addr, _ = arr.buffer_info()
    return arr, cast(addr, POINTER(c_int64)), n


def float_array(name: str, v: Any) -> Tuple[Any, Any, int]:
    """(keepalive, float *, n) for a sequence of finite numbers."""
    if isinstance(v, array.array) and v.typecode == "f":
        arr = v
    else:
        v = _as_list(name, v)
        try:
            arr = array.array("f", v)
        except TypeError:
            raise TypeError("%s must be a sequence of numbers" % name) from None
    for i, x in enumerate(arr):
        if not math.isfinite(x):
            raise ValueError("%s[%d] must be finite, got %r" % (name, i, x))
    n = len(arr)
    if n == 0:
        return arr, None, 0
    addr, _ = arr.buffer_info()
    return arr, cast(addr, POINTER(c_float)), n
