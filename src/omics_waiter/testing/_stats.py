"""Request counters: per operation and per final HTTP status."""

from __future__ import annotations

__all__ = ["EmulatorStats"]


class EmulatorStats:
    """Counts of API requests by operation and by final HTTP status.

    Statuses are strings (``"200"``, ``"429"``), plus ``"dropped"`` for connections closed with
    no response. Requests that match no operation count under ``"Unknown"``.
    """

    __slots__ = ("_requests",)

    def __init__(self) -> None:
        self._requests: dict[str, dict[str, int]] = {}

    @property
    def requests(self) -> dict[str, dict[str, int]]:
        """A snapshot: operation -> status -> count."""
        return {operation: dict(counts) for operation, counts in self._requests.items()}

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

    def record(self, operation: str, status: int | str) -> None:
        """Count one request."""
        counts = self._requests.setdefault(operation, {})
        key = str(status)
        counts[key] = counts.get(key, 0) + 1

    def __repr__(self) -> str:
        return f"EmulatorStats(requests={self._requests!r})"
