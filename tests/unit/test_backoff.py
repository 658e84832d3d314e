import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omics_waiter._backoff import RetryBackoff, poll_delay, waiter_backoff


def upper(low: float, high: float) -> float:
    return high


def lower(low: float, high: float) -> float:
    return low


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (5, 32.0), (6, 60.0), (50, 60.0)],
)
def test_waiter_backoff_window_doubles_then_caps_at_max_delay(
    attempt: int, expected: float
) -> None:
    # ceiling = log2(60/2) + 1 = 5.9: attempts 1-5 double, later ones use max_delay.
    assert waiter_backoff(attempt, 2.0, 60.0, upper) == expected


def test_waiter_backoff_never_goes_below_min_delay() -> None:
    assert waiter_backoff(7, 2.0, 60.0, lower) == 2.0


@given(
    attempt=st.integers(1, 200),
    low=st.floats(0.01, 100),
    factor=st.floats(1, 1000),
)
def test_waiter_backoff_stays_within_min_and_max(attempt: int, low: float, factor: float) -> None:
    high = low * factor
    for uniform in (lower, upper):
        delay = waiter_backoff(attempt, low, high, uniform)
        assert low <= delay <= high * (1 + 1e-12)


def test_poll_delay_makes_the_last_poll_at_the_deadline() -> None:
    # 7 s remain; a 4 s delay would leave 3 s, less than... no: 7-4=3 > 2, so plain delay.
    assert poll_delay(2, 7.0, 2.0, 60.0, upper) == 4.0
    # 5 s remain; a 4 s delay would leave 1 s <= min_delay: poll at the deadline instead.
    assert poll_delay(2, 5.0, 2.0, 60.0, upper) == 5.0


def test_poll_delay_is_none_when_no_time_remains() -> None:
    assert poll_delay(1, 0.0, 2.0, 60.0, upper) is None
    assert poll_delay(1, -1.0, 2.0, 60.0, upper) is None


def test_poll_delay_with_unbounded_time_is_plain_backoff() -> None:
    assert poll_delay(3, math.inf, 2.0, 60.0, upper) == 8.0


def test_retry_backoff_is_full_jitter_within_a_doubling_window() -> None:
    backoff = RetryBackoff(initial=1.0, maximum=10.0)
    for attempt, window in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (9, 10.0)]:
        delays = [backoff.delay(attempt, math.inf) for _ in range(200)]
        assert all(d is not None and 0.0 <= d <= window for d in delays)
        assert (
            max(d for d in delays if d is not None) > window / 2
        )  # really jittered up to the window


def test_retry_backoff_is_capped_by_the_time_remaining() -> None:
    backoff = RetryBackoff(initial=100.0, maximum=100.0)
    assert all(backoff.delay(3, 0.5) <= 0.5 for _ in range(50))  # type: ignore[operator]
    assert backoff.delay(1, 0.0) is None
