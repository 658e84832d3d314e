"""Checks on arguments, made before any request, with messages that name the argument."""

from __future__ import annotations

import datetime as dt
import math
import re
import urllib.parse
from collections.abc import Iterable

from ._errors import InvalidInputError

__all__ = [
    "check_deadline",
    "check_id",
    "check_seconds",
    "check_timeout_and_deadline",
    "check_url",
]

_ID = re.compile(r"[0-9]{10,36}")


def check_id(name: str, value: object) -> str:
    """An ID of the Omics API: a string of 10 to 36 digits."""
    if not isinstance(value, str):
        raise InvalidInputError(
            f"{name} must be a string of 10 to 36 digits, not {type(value).__name__}",
            argument=name,
        )
    if not _ID.fullmatch(value):
        raise InvalidInputError(
            f"{name} must be a string of 10 to 36 digits, got {value!r}", argument=name
        )
    return value


def check_ids(name: str, values: Iterable[object]) -> list[str]:
    return [check_id(name, v) for v in values]


def check_seconds(
    name: str, value: object, *, allow_zero: bool = False, allow_inf: bool = False
) -> float:
    """A duration in seconds: a real number, positive (or zero), finite unless allowed."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(
            f"{name} must be a number of seconds, not {type(value).__name__}", argument=name
        )
    try:
        seconds = float(value)
    except OverflowError:
        raise InvalidInputError(f"{name} is too large: {value!r}", argument=name) from None
    low = "zero or more" if allow_zero else "more than zero"
    if math.isnan(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        raise InvalidInputError(f"{name} must be {low} seconds, got {value!r}", argument=name)
    if math.isinf(seconds) and not allow_inf:
        raise InvalidInputError(f"{name} must be finite, got {value!r}", argument=name)
    return seconds


def check_rate(name: str, value: object) -> float:
    """A rate in requests per second: a positive, finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(
            f"{name} must be a number of requests per second, not {type(value).__name__}",
            argument=name,
        )
    try:
        rate = float(value)
    except OverflowError:
        raise InvalidInputError(f"{name} is too large: {value!r}", argument=name) from None
    if not (math.isfinite(rate) and rate > 0):
        raise InvalidInputError(
            f"{name} must be a finite number of requests per second above zero, got {value!r}",
            argument=name,
        )
    return rate


def check_deadline(value: object, *, now: dt.datetime | None = None) -> float:
    """An absolute deadline: a timezone-aware datetime in the future; returns seconds left."""
    if not isinstance(value, dt.datetime):
        raise InvalidInputError(
            f"deadline must be a datetime, not {type(value).__name__}", argument="deadline"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(
            "deadline must be timezone-aware (e.g. datetime.now(timezone.utc) + ...)",
            argument="deadline",
        )
    remaining = (value - (now or dt.datetime.now(dt.timezone.utc))).total_seconds()
    if remaining <= 0:
        raise InvalidInputError(
            f"deadline must be in the future, got {value.isoformat()}", argument="deadline"
        )
    return remaining


def check_timeout_and_deadline(timeout: object, deadline: object, default_timeout: float) -> float:
    """Seconds the wait may last, from `timeout` or `deadline` (not both), else the default."""
    if timeout is not None and deadline is not None:
        raise InvalidInputError("give timeout or deadline, not both", argument="timeout")
    if deadline is not None:
        return check_deadline(deadline)
    if timeout is not None:
        return check_seconds("timeout", timeout, allow_inf=True)
    return default_timeout


def check_url(name: str, value: object, *, argument: str | None = None) -> str:
    """An endpoint URL: ``http://`` or ``https://`` and a host name."""
    parts = urllib.parse.urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(
            f"{name} must be an http:// or https:// URL, got {value!r}",
            argument=argument or name,
        )
    return str(value)
