"""The events a watch yields: status changes of jobs and of their read sets, and retries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from ._errors import OmicsWaiterError
from ._models import ActivationJob, ActivationJobStatus, ActivationSource, SourceStatus

__all__ = [
    "JobStatusChanged",
    "JobWatchFailed",
    "PollRetrying",
    "SourceStatusChanged",
    "WatchEvent",
]


@dataclass(frozen=True, slots=True)
class JobStatusChanged:
    """A job was seen for the first time, or its status or status message changed.

    Attributes:
        job: The job as just observed (with all its read sets).
        previous: The status reported before, or None on first sight.
    """

    job: ActivationJob
    previous: ActivationJobStatus | None

    @property
    def status(self) -> ActivationJobStatus:
        return self.job.status

    @property
    def is_terminal(self) -> bool:
        """Whether this is the last event of the job."""
        return self.job.is_terminal


@dataclass(frozen=True, slots=True)
class SourceStatusChanged:
    """A read set of a job was seen for the first time, or its status changed.

    Attributes:
        sequence_store_id: The job's sequence store.
        job_id: The job the read set belongs to.
        source: The read set as just observed.
        previous: The status reported before, or None on first sight.
    """

    sequence_store_id: str
    job_id: str
    source: ActivationSource
    previous: SourceStatus | None

    @property
    def status(self) -> SourceStatus:
        return self.source.status


@dataclass(frozen=True, slots=True)
class PollRetrying:
    """A poll failed with a transient error and will be retried after `delay` seconds.

    Attributes:
        sequence_store_id: The store polled.
        job_id: The job polled, or None for a batch (List) poll of the store.
        operation: The operation that failed, e.g. ``"GetReadSetActivationJob"``.
        reason: The error code or kind, e.g. ``"ThrottlingException"``, ``"ReadTimeout"``.
        attempt: 1 for the first retry of this poll, 2 for the second, ...
        delay: Seconds until the retry.
        throttling: Whether the service asked to slow down (a throttling error code or an
            HTTP 429), as opposed to a fault such as a 5xx, a timeout or a dropped connection.
    """

    sequence_store_id: str
    job_id: str | None
    operation: str
    reason: str
    attempt: int
    delay: float
    throttling: bool = False


@dataclass(frozen=True, slots=True)
class JobWatchFailed:
    """A many-job watch stopped following one job: its error, which the others do not share.

    Every job of a many-job watch ends with exactly one final event: its terminal
    `JobStatusChanged`, or this.

    Attributes:
        sequence_store_id: The job's sequence store.
        job_id: The job.
        error: Why: `WaitTimeoutError`, `JobNotFoundError`, `AccessDeniedError`,
            `UnexpectedResponseError`, ...
        job: The last job seen, if any.
    """

    sequence_store_id: str
    job_id: str
    error: OmicsWaiterError
    job: ActivationJob | None


WatchEvent: TypeAlias = "JobStatusChanged | SourceStatusChanged | PollRetrying | JobWatchFailed"
"""Any event a watch yields."""
