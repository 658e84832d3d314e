"""The request budget: one client-side rate limit per operation, shared by every wait.

`Budget` is the seam the engine uses: acquire a slot for an operation before a time,
report a throttle. `RequestBudget` is the local implementation (one process); a
budget shared by several processes implements the same protocol.

Requests are handed out in first-come order, at most `rate` per second per
operation on average (GCRA: each lane keeps the time of its next free slot, pushed one
interval, ``1 / rate``, further by each request). An operation may be given a *burst*:
after a quiet spell, up to ``burst x rate`` of its requests go at once instead of
``1 / rate`` apart. The engine gives one to Gets, which come in bursts (a List sweep
shows several jobs finished at once; spacing their Gets evenly made the k-th wait
k - 1 intervals, the larger part of the detection tail), and none to Lists, whose
sweeps the scheduler paces itself. A burst is at most one second of the rate, so the
service's own token bucket, whose capacity is at least one second of its quota, never
runs dry while our rate stays at or below the quota. On a throttling response the rate
is halved (multiplicative decrease) and the burst is spent, then the rate climbs back
linearly over time (additive increase) to the configured maximum: AIMD, as TCP does it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ._clock import Clock

__all__ = ["Budget", "RequestBudget"]


@runtime_checkable
class Budget(Protocol):
    """Request slots per operation, shared by every wait on a waiter (or by several waiters).

    Times are readings of the waiter's clock (`Clock.now`).
    """

    async def acquire(self, operation: str, not_after: float) -> bool:
        """Wait for a request slot for `operation`; False if none is free by `not_after`.

        True means the request may be sent now.
        """
        ...

    def throttled(self, operation: str) -> None:
        """Record that the service throttled a request of `operation` (cuts the rate)."""
        ...

    def rate(self, operation: str) -> float:
        """The rate currently allowed for `operation`, in requests per second."""
        ...

    @property
    def mode(self) -> str:
        """``"local"`` (this process alone), ``"shared"``, or ``"fallback"`` (shared budget
        unreachable: a local share of it)."""
        ...


# Throttles within this many seconds of a cut belong to the same burst and do not cut again.
_CUT_COOLDOWN = 1.0


@dataclass(slots=True)
class _Lane:
    """The state of one operation's rate: what it was cut to, and when; its next slot."""

    rate_at_cut: float
    cut_at: float
    next_slot: float
    burst: float  # seconds of the rate that may go at once


class RequestBudget:
    """A per-operation rate limit with AIMD adaptation.

    Args:
        max_rate: Requests per second per operation, at most.
        clock: The clock to read and sleep on.
        min_rate: The floor a run of throttles can cut the rate to.
        recovery: Requests per second regained per second after a cut.
        bursts: Seconds of rate each named operation may spend at once after a quiet
            spell (at most 1; operations not named: none, slots evenly spaced).
    """

    def __init__(
        self,
        max_rate: float,
        *,
        clock: Clock,
        min_rate: float | None = None,
        recovery: float | None = None,
        bursts: Mapping[str, float] | None = None,
    ) -> None:
        self.max_rate = max_rate
        self.min_rate = min_rate if min_rate is not None else min(max_rate, 0.2)
        self.recovery = recovery if recovery is not None else max_rate / 20
        self._clock = clock
        self._bursts = {name: min(1.0, max(0.0, b)) for name, b in (bursts or {}).items()}
        self._lanes: dict[str, _Lane] = {}

    @property
    def mode(self) -> str:
        """Always ``"local"``: this budget belongs to one process."""
        return "local"

    def rate(self, operation: str) -> float:
        """The rate currently allowed for `operation`, in requests per second."""
        lane = self._lanes.get(operation)
        if lane is None:
            return self.max_rate
        return self._rate(lane, self._clock.now())

    def _rate(self, lane: _Lane, now: float) -> float:
        regained = self.recovery * max(0.0, now - lane.cut_at)
        return min(self.max_rate, lane.rate_at_cut + regained)

    def _lane(self, operation: str) -> _Lane:
        lane = self._lanes.get(operation)
        if lane is None:
            now = self._clock.now()
            burst = self._bursts.get(operation, 0.0)
            lane = self._lanes[operation] = _Lane(self.max_rate, now - 1e9, now, burst)
        return lane

    @staticmethod
    def _tolerance(lane: _Lane, rate: float) -> float:
        """How far ahead of the lane's next slot a request may go: (burst size - 1) / rate."""
        return max(0.0, lane.burst * rate - 1.0) / rate

    def reserve(self, operation: str, not_after: float) -> float | None:
        """Reserve the next request slot for `operation`, no later than `not_after`.

        Returns the time of the slot, or None (and reserves nothing) if the
        earliest free slot is after `not_after`.
        """
        lane = self._lane(operation)
        now = self._clock.now()
        slot = max(now, lane.next_slot - self._tolerance(lane, self._rate(lane, now)))
        if slot > not_after:
            return None
        lane.next_slot = max(lane.next_slot, slot) + 1.0 / self._rate(lane, slot)
        return slot

    async def acquire(self, operation: str, not_after: float = float("inf")) -> bool:
        """Wait for a request slot for `operation`; False if none is free by `not_after`."""
        slot = self.reserve(operation, not_after)
        if slot is None:
            return False
        wait = slot - self._clock.now()
        if wait > 0:
            await self._clock.sleep(wait)
        return True

    def throttled(self, operation: str) -> None:
        """Record a throttling response: halve the rate, spend the burst, and push the next
        slot one interval (of the new rate) out."""
        lane = self._lane(operation)
        now = self._clock.now()
        if now - lane.cut_at < _CUT_COOLDOWN:
            return
        rate = lane.rate_at_cut = max(self.min_rate, self._rate(lane, now) / 2)
        lane.cut_at = now
        lane.next_slot = max(lane.next_slot, now + 1.0 / rate + self._tolerance(lane, rate))

    def __repr__(self) -> str:
        return f"RequestBudget(max_rate={self.max_rate}, min_rate={self.min_rate})"
