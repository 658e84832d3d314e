"""The clock the engine reads and sleeps on; substitutable for tests."""

from __future__ import annotations

from typing import Protocol

import anyio

__all__ = ["AnyioClock", "Clock"]


class Clock(Protocol):
    """What the engine needs of time: a monotonic reading and a way to sleep."""

    def now(self) -> float:
        """Seconds on a monotonic clock."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep for `seconds` (cancellable)."""
        ...


class AnyioClock:
    """The event loop's own clock, so that trio's MockClock or looptime give virtual time."""

    def now(self) -> float:
        return anyio.current_time()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "AnyioClock()"
