"""Pure delay decisions: the waiter backoff between polls, and the retry backoff.

No I/O and no clock here: the engine passes in what it observed and how much
time remains, and these functions say how long to sleep.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import tenacity

__all__ = ["RetryBackoff", "poll_delay", "waiter_backoff"]

Uniform = Callable[[float, float], float]


def waiter_backoff(attempt: int, min_delay: float, max_delay: float, uniform: Uniform) -> float:
    """The Smithy waiter delay before poll `attempt` + 1 (attempt counts from 1).

    ``ceiling = log2(max/min) + 1``; the window is ``min * 2**(attempt-1)`` up to the
    ceiling, then ``max``; the delay is drawn uniformly from ``[min, window]``.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    ceiling = math.log2(max_delay / min_delay) + 1
    window = max_delay if attempt > ceiling else min_delay * 2 ** (attempt - 1)
    return uniform(min_delay, min(window, max_delay))


def poll_delay(
    attempt: int,
    remaining: float,
    min_delay: float,
    max_delay: float,
    uniform: Uniform = random.uniform,
) -> float | None:
    """Seconds until the next poll, or None if the deadline allows no further poll.

    When the backoff would leave less than `min_delay` before the deadline, the
    next poll is the last one and happens at the deadline itself, so a wait never
    overshoots its deadline and never gives up early.
    """
    if remaining <= 0:
        return None
    delay = waiter_backoff(attempt, min_delay, max_delay, uniform)
    if remaining - delay <= min_delay:
        return remaining
    return delay


class RetryBackoff:
    """Full-jitter exponential backoff for transient errors (tenacity's strategy).

    Retry n waits a random time in ``[0, min(maximum, initial * 2**(n-1))]``.
    """

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self._wait = tenacity.wait_random_exponential(multiplier=initial, max=maximum)
        self._state = tenacity.RetryCallState(
            retry_object=tenacity.AsyncRetrying(), fn=None, args=(), kwargs={}
        )

    def delay(self, attempt: int, remaining: float) -> float | None:
        """Seconds until retry `attempt` (from 1), at most `remaining`; None if no time is left."""
        if remaining <= 0:
            return None
        self._state.attempt_number = attempt
        return min(self._wait(self._state), remaining)

    def __repr__(self) -> str:
        return f"RetryBackoff(initial={self.initial}, maximum={self.maximum})"
