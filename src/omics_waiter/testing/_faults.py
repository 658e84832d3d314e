"""Fault injection: the settings (`Faults`), their schedule over time, and the request quota."""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from omics_waiter.testing._errors import ERROR_STATUS
from omics_waiter.testing._model import SERVED_OPERATIONS

__all__ = [
    "OPERATIONS",
    "Decision",
    "FaultSchedule",
    "Faults",
    "Outcome",
    "Quota",
    "decide",
]

#: The operations the emulator serves.
OPERATIONS = frozenset(SERVED_OPERATIONS)

_RATES = ("throttle_rate", "error_rate", "drop_rate", "slow_rate", "malformed_rate")


@dataclass(frozen=True, slots=True)
class Faults:
    """Faults injected into API responses; every random choice is drawn from the seeded RNG.

    Args:
        throttle_rate: Probability of a 429 ThrottlingException.
        error_rate: Probability of an error response with ``error_code`` (by default a 500
            InternalServerException).
        drop_rate: Probability that the connection is closed with no response.
        slow_rate: Probability that a response is held back ``slow_seconds``.
        slow_seconds: How long a slow response is held back (meant to exceed a client's read
            timeout).
        latency: Seconds added to every response.
        malformed_rate: Probability of a 200 whose body is not valid JSON or lacks required
            fields (the operation is not carried out).
        error_code: The error ``error_rate`` injects: any code the service sends, e.g.
            ServiceQuotaExceededException (402) or RequestTimeoutException (408).
        operations: The operations affected; None means every served operation.

    Raises:
        ValueError: A rate outside [0, 1], a negative time, an unknown error code or operation.
    """

    throttle_rate: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 5.0
    latency: float = 0.0
    malformed_rate: float = 0.0
    error_code: str = "InternalServerException"
    operations: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for name in _RATES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Faults.{name} must be between 0 and 1, got {value!r}")
        for name in ("slow_seconds", "latency"):
            value = getattr(self, name)
            if not (value >= 0.0 and math.isfinite(value)):
                raise ValueError(f"Faults.{name} must be >= 0 seconds, got {value!r}")
        if self.error_code not in ERROR_STATUS:
            raise ValueError(
                f"Faults.error_code must be one of {sorted(ERROR_STATUS)}, got {self.error_code!r}"
            )
        if self.operations is not None:
            unknown = sorted(set(self.operations) - OPERATIONS)
            if unknown:
                raise ValueError(
                    f"Faults.operations must be among {sorted(OPERATIONS)}, got {unknown}"
                )

    def applies_to(self, operation: str) -> bool:
        """Whether these faults affect ``operation``."""
        return self.operations is None or operation in self.operations


class Outcome(enum.Enum):
    """What a fault does to a request instead of answering it normally."""

    THROTTLE = "throttle"
    ERROR = "error"
    DROP = "drop"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class Decision:
    """The faults chosen for one request: a delay, then possibly an outcome."""

    delay: float = 0.0
    outcome: Outcome | None = None


def decide(faults: Faults, rng: random.Random, operation: str) -> Decision:
    """Draw the faults for one request. Rates of zero draw nothing, keeping runs repeatable."""
    if not faults.applies_to(operation):
        return Decision()

    def hit(rate: float) -> bool:
        return rate > 0.0 and rng.random() < rate

    delay = faults.latency
    if hit(faults.slow_rate):
        delay += faults.slow_seconds
    outcome = None
    if hit(faults.throttle_rate):
        outcome = Outcome.THROTTLE
    elif hit(faults.error_rate):
        outcome = Outcome.ERROR
    elif hit(faults.drop_rate):
        outcome = Outcome.DROP
    elif hit(faults.malformed_rate):
        outcome = Outcome.MALFORMED
    return Decision(delay=delay, outcome=outcome)


class _Window:
    __slots__ = ("faults", "until")

    def __init__(self, faults: Faults, until: float) -> None:
        self.faults = faults
        self.until = until


class FaultSchedule:
    """The fault settings in force: the base settings, overridden by time-limited windows.

    The newest open window that has not expired wins; otherwise the base settings apply.
    Expiry is checked against the clock when asked, so nothing runs in the background.
    """

    def __init__(self, base: Faults, clock: Callable[[], float]) -> None:
        self._base = base
        self._clock = clock
        self._windows: list[_Window] = []

    def set_base(self, faults: Faults) -> None:
        self._base = faults

    def open_window(self, faults: Faults, duration: float) -> object:
        """Override the settings for ``duration`` seconds; returns a handle for `close_window`."""
        window = _Window(faults, self._clock() + duration)
        self._windows.append(window)
        return window

    def close_window(self, handle: object) -> None:
        self._windows = [window for window in self._windows if window is not handle]

    def current(self) -> Faults:
        now = self._clock()
        for window in reversed(self._windows):
            if now < window.until:
                return window.faults
        return self._base


class _TokenBucket:
    __slots__ = ("_capacity", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, now: float) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._stamp = now

    def take(self, now: float) -> bool:
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


def _rate(value: float, name: str) -> float:
    if not (isinstance(value, (int, float)) and value > 0.0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


class Quota:
    """A request quota per operation: a token bucket holding up to max(1, tps).

    ``tps`` is one rate for every operation, or a rate per operation name (operations not
    named have no quota).
    """

    def __init__(self, tps: float | Mapping[str, float], clock: Callable[[], float]) -> None:
        self._rates: dict[str, float] | None = None
        self._default: float | None = None
        if isinstance(tps, Mapping):
            unknown = sorted(set(tps) - OPERATIONS)
            if unknown:
                raise ValueError(f"quota_tps names operations not served: {unknown}")
            self._rates = {
                name: _rate(value, f"quota_tps[{name!r}]") for name, value in tps.items()
            }
        else:
            self._default = _rate(tps, "quota_tps")
        self._clock = clock
        self._buckets: dict[str, _TokenBucket] = {}

    def admit(self, operation: str) -> bool:
        """Take a token for ``operation``; False means the request is over quota."""
        rate = self._default if self._rates is None else self._rates.get(operation)
        if rate is None:
            return True
        now = self._clock()
        bucket = self._buckets.get(operation)
        if bucket is None:
            bucket = self._buckets[operation] = _TokenBucket(rate, now)
        return bucket.take(now)
