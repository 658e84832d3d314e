"""The events a watch yields: status changes of jobs and of their items, and retries.

Every event carries `time`, when it was observed (a timezone-aware UTC datetime), and
the reference of its job (`ref`), whatever the kind.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from ._errors import OmicsWaiterError

if TYPE_CHECKING:
    from ._models import ActivationSource, SourceStatus
    from ._refs import JobRef

__all__ = [
    "BudgetModeChanged",
    "ItemStatusChanged",
    "JobStatusChanged",
    "JobWatchFailed",
    "PollRetrying",
    "PushModeChanged",
    "SourceStatusChanged",
    "WatchEvent",
]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True, slots=True)
class JobStatusChanged:
    """A job was seen for the first time, or its status changed.

    Attributes:
        job: The job as just observed: an `ActivationJob`, `Run`, `Task` ... (with its items).
        previous: The status reported before, or None on first sight.
        terminal: Whether the job will not change any more: this is its last event.
        time: When the change was observed.
    """

    job: Any
    previous: Any
    terminal: bool | None = None
    time: dt.datetime = field(default_factory=_now, compare=False)

    @property
    def ref(self) -> JobRef[Any]:
        """The job's reference."""
        ref: JobRef[Any] = self.job.ref
        return ref

    @property
    def status(self) -> Any:
        """The job's status."""
        return self.job.status

    @property
    def is_terminal(self) -> bool:
        """Whether this is the last event of the job."""
        if self.terminal is not None:
            return self.terminal
        return bool(getattr(self.job, "is_terminal", False))


@dataclass(frozen=True, slots=True)
class ItemStatusChanged:
    """An item of a job (a read set, a source file, a run's task) was first seen, or changed.

    Attributes:
        job: The job as just observed.
        item: The item as just observed (`ActivationSource`, `JobItem`, `Task`).
        previous: The item's status reported before, or None on first sight.
        time: When the change was observed.
    """

    job: Any
    item: Any
    previous: Any
    time: dt.datetime = field(default_factory=_now, compare=False)

    @property
    def ref(self) -> JobRef[Any]:
        """The job's reference."""
        ref: JobRef[Any] = self.job.ref
        return ref

    @property
    def status(self) -> Any:
        """The item's status."""
        return self.item.status


@dataclass(frozen=True, slots=True)
class SourceStatusChanged(ItemStatusChanged):
    """A read set of an activation job was seen for the first time, or its status changed.

    `source` is the read set (`ActivationSource`); `sequence_store_id` and `job_id` name its job.
    """

    @property
    def source(self) -> ActivationSource:
        """The read set as just observed."""
        source: ActivationSource = self.item
        return source

    @property
    def sequence_store_id(self) -> str:
        """The job's sequence store."""
        return str(self.job.sequence_store_id)

    @property
    def job_id(self) -> str:
        """The job the read set belongs to."""
        return str(self.job.id)

    if TYPE_CHECKING:

        @property
        def status(self) -> SourceStatus: ...


@dataclass(frozen=True, slots=True)
class PollRetrying:
    """A request failed with a transient error and will be retried after `delay` seconds.

    Attributes:
        ref: The job polled, or None for a batch (List) request.
        operation: The operation that failed, e.g. ``"GetRun"``.
        reason: The error code or kind, e.g. ``"ThrottlingException"``, ``"ReadTimeout"``.
        attempt: 1 for the first retry of this request, 2 for the second, ...
        delay: Seconds until the retry.
        throttling: Whether the service throttled the request (its error code says so).
        batch: For a batch request, what it lists: the store (``("1234567890",)``), the
            run whose tasks it lists, or ``()`` for an account-wide List.
        kind: The kind's word (``"activation"``, ``"run"`` ...), or None for a request
            not made for a kind (e.g. a start).
        time: When the failure was observed.
    """

    ref: JobRef[Any] | None
    operation: str
    reason: str
    attempt: int
    delay: float
    throttling: bool = False
    batch: tuple[str, ...] = ()
    kind: str | None = None
    time: dt.datetime = field(default_factory=_now, compare=False)

    @property
    def sequence_store_id(self) -> str | None:
        """The sequence (or reference) store of the job or batch, if it has one."""
        if self.ref is not None:
            store = getattr(self.ref, "sequence_store_id", None) or getattr(
                self.ref, "reference_store_id", None
            )
            return None if store is None else str(store)
        if self.batch and self.kind not in ("task", "run"):
            return self.batch[0]
        return None

    @property
    def job_id(self) -> str | None:
        """The job's ID (the last field of its reference), or None for a batch request."""
        return None if self.ref is None else self.ref.ids[-1]


@dataclass(frozen=True, slots=True)
class JobWatchFailed:
    """A watch stopped following one job: its error, which other jobs do not share.

    Every job of a many-job watch ends with exactly one final event: its terminal
    `JobStatusChanged`, or this.

    Attributes:
        ref: The job.
        error: Why: `WaitTimeoutError`, `JobNotFoundError`, `AccessDeniedError`,
            `UnexpectedResponseError`, ...
        job: The last job seen, if any.
        time: When the failure was observed.
    """

    ref: JobRef[Any]
    error: OmicsWaiterError
    job: Any = None
    time: dt.datetime = field(default_factory=_now, compare=False)

    @property
    def sequence_store_id(self) -> str | None:
        """The job's sequence (or reference) store, if it has one."""
        store = getattr(self.ref, "sequence_store_id", None) or getattr(
            self.ref, "reference_store_id", None
        )
        return None if store is None else str(store)

    @property
    def job_id(self) -> str:
        """The job's ID (the last field of its reference)."""
        return self.ref.ids[-1]


@dataclass(frozen=True, slots=True)
class BudgetModeChanged:
    """The request budget changed mode: ``"shared"``, ``"fallback"`` or ``"local"``.

    Attributes:
        mode: The new mode.
        previous: The mode before.
        time: When the change was noticed.
    """

    mode: str
    previous: str
    time: dt.datetime = field(default_factory=_now, compare=False)


@dataclass(frozen=True, slots=True)
class PushModeChanged:
    """Push events (EventBridge via SQS) started or stopped carrying the watch.

    In ``"push"`` mode, jobs are fetched when an event says they changed, and polled only
    every `reconcile_delay` to catch a dropped event; in ``"polling"`` mode (the queue
    failed or went quiet) polling takes over at its normal pace.

    Attributes:
        mode: ``"push"`` or ``"polling"``.
        previous: The mode before.
        reason: Why it changed, e.g. ``"ReceiveMessage failed: ConnectionError"``.
        time: When the change was noticed.
    """

    mode: str
    previous: str
    reason: str
    time: dt.datetime = field(default_factory=_now, compare=False)


WatchEvent: TypeAlias = (
    "JobStatusChanged | ItemStatusChanged | PollRetrying | JobWatchFailed | BudgetModeChanged"
    " | PushModeChanged"
)
"""Any event a watch yields."""
