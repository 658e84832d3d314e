"""Counters: API requests per operation and final HTTP status; events by outcome."""

from __future__ import annotations

__all__ = ["EVENT_OUTCOMES", "EmulatorStats"]

#: What can become of a status-change event: accepted by PutEvents (each copy), dropped on
#: purpose (``event_drop_rate``), an extra copy (``event_duplicate_rate``), or not delivered
#: after every retry.
EVENT_OUTCOMES = ("published", "dropped", "duplicated", "failed")


class EmulatorStats:
    """Counts of API requests by operation and by final HTTP status, and of events.

    Statuses are strings (``"200"``, ``"429"``), plus ``"dropped"`` for connections closed with
    no response. Requests that match no operation count under ``"Unknown"``.
    """

    __slots__ = ("_events", "_requests")

    def __init__(self) -> None:
        self._requests: dict[str, dict[str, int]] = {}
        self._events = dict.fromkeys(EVENT_OUTCOMES, 0)

    @property
    def requests(self) -> dict[str, dict[str, int]]:
        """A snapshot: operation -> status -> count."""
        return {operation: dict(counts) for operation, counts in self._requests.items()}

    @property
    def events(self) -> dict[str, int]:
        """A snapshot of event counts: published, dropped, duplicated, failed."""
        return dict(self._events)

    def count(self, operation: str | None = None, status: int | str | None = None) -> int:
        """How many requests matched; None matches everything.

        Args:
            operation: An operation name such as ``"GetReadSetActivationJob"``.
            status: An HTTP status (``429`` or ``"429"``) or ``"dropped"``.
        """
        wanted = None if status is None else str(status)
        return sum(
            number
            for op, counts in self._requests.items()
            if operation is None or op == operation
            for code, number in counts.items()
            if wanted is None or code == wanted
        )

    def reset(self) -> None:
        """Forget every count."""
        self._requests.clear()
        self._events = dict.fromkeys(EVENT_OUTCOMES, 0)

    def record(self, operation: str, status: int | str) -> None:
        """Count one request."""
        counts = self._requests.setdefault(operation, {})
        key = str(status)
        counts[key] = counts.get(key, 0) + 1

    def record_events(self, outcome: str, number: int = 1) -> None:
        """Count events with one of `EVENT_OUTCOMES`."""
        self._events[outcome] += number

    def __repr__(self) -> str:
        return f"EmulatorStats(requests={self._requests!r}, events={self._events!r})"
