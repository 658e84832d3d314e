"""Turning successive observations of a job into status-change events (pure)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from ._kinds import Kind
from ._models import _OpenEnum

__all__ = ["JobTracker"]

JobT = TypeVar("JobT")


class JobTracker(Generic[JobT]):
    """Remembers the statuses last reported for one job and reports what changed.

    Order of the events of one observation: the job's event first, then its
    items' events in the service's order, except that a terminal job's event
    comes after its items', so that it is always the last event of a job.

    Args:
        kind: The job kind.
        since: A job observed earlier (e.g. before a restart); only changes after it are reported.
    """

    __slots__ = ("_items", "_status", "kind", "last")

    def __init__(self, kind: Kind[JobT], since: JobT | None = None) -> None:
        self.kind = kind
        self.last: JobT | None = None
        self._status: _OpenEnum | None = None
        self._items: dict[str, _OpenEnum] = {}
        if since is not None:
            self._remember(since)

    def _remember(self, job: JobT) -> None:
        self.last = job
        self._status = self.kind.status(job)
        for key, _, status in self.kind.items(job):
            self._items[key] = status

    @property
    def is_terminal(self) -> bool:
        return self._status is not None and str(self._status) in self.kind.terminal

    def observe(self, job: JobT) -> list[Any]:
        """Record an observation; return its events (empty when nothing changed)."""
        kind = self.kind
        status = kind.status(job)
        job_event = None
        if status != self._status:
            job_event = kind.job_event(job, self._status)
        events: list[Any] = []
        for key, item, item_status in kind.items(job):
            previous = self._items.get(key)
            if item_status != previous:
                events.append(kind.item_event(job, item, previous))
        if job_event is not None:
            if str(status) in kind.terminal:
                events.append(job_event)
            else:
                events.insert(0, job_event)
        self._remember(job)
        return events
