"""Descriptions of job kinds: what the engine needs to know to wait on one.

The engine is written against `JobKind`, not against activation jobs: adding
another HealthOmics job (read set import or export, reference import, a run and
its tasks) means a model, a parser and one more description here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ._client import GET_ACTIVATION_JOB, OmicsApi
from ._events import JobStatusChanged, SourceStatusChanged
from ._models import ActivationJob, ActivationJobStatus, ActivationSource, SourceStatus, _OpenEnum

__all__ = ["ACTIVATION_JOB", "JobKind"]

JobT = TypeVar("JobT")
ItemT = TypeVar("ItemT")
EventT = TypeVar("EventT")


@dataclass(frozen=True, slots=True)
class JobKind(Generic[JobT, ItemT, EventT]):
    """How to fetch, read and report one kind of job.

    Attributes:
        noun: What to call the job in messages.
        get_operation: The operation that fetches one job (the budget lane for it).
        fetch: ``fetch(api, store_id, job_id, not_after)`` returns the parsed job.
        status: The job's status.
        terminal: The statuses after which the job does not change.
        items: The job's sub-items (read sets, tasks), as (key, item, status).
        job_event: The event for a job status change ``(job, previous)``.
        item_event: The event for a sub-item status change ``(job, item, previous)``.
    """

    noun: str
    get_operation: str
    fetch: Callable[[OmicsApi, str, str, float], Awaitable[JobT]]
    status: Callable[[JobT], _OpenEnum]
    terminal: frozenset[_OpenEnum]
    items: Callable[[JobT], Sequence[tuple[str, ItemT, _OpenEnum]]]
    job_event: Callable[[JobT, _OpenEnum | None], EventT]
    item_event: Callable[[JobT, ItemT, _OpenEnum | None], EventT]

    def unknown_status(self, job: JobT) -> str | None:
        """Describe the first status in `job` this release does not know, if any."""
        status = self.status(job)
        if not status.is_known:
            return f"status {status.value!r}"
        for key, _, item_status in self.items(job):
            if not item_status.is_known:
                return f"status {item_status.value!r} for {key}"
        return None


def _fetch_activation_job(
    api: OmicsApi, store: str, job_id: str, not_after: float
) -> Awaitable[ActivationJob]:
    return api.get_activation_job(store, job_id, not_after=not_after)


def _activation_items(job: ActivationJob) -> Sequence[tuple[str, ActivationSource, _OpenEnum]]:
    return [(f"read set {s.read_set_id}", s, s.status) for s in job.sources]


def _activation_job_event(job: ActivationJob, previous: _OpenEnum | None) -> JobStatusChanged:
    assert previous is None or isinstance(previous, ActivationJobStatus)
    return JobStatusChanged(job=job, previous=previous)


def _activation_source_event(
    job: ActivationJob, source: ActivationSource, previous: _OpenEnum | None
) -> SourceStatusChanged:
    assert previous is None or isinstance(previous, SourceStatus)
    return SourceStatusChanged(
        sequence_store_id=job.sequence_store_id, job_id=job.id, source=source, previous=previous
    )


def _activation_status(job: ActivationJob) -> _OpenEnum:
    return job.status


ACTIVATION_JOB: JobKind[ActivationJob, ActivationSource, JobStatusChanged | SourceStatusChanged] = (
    JobKind(
        noun="read set activation job",
        get_operation=GET_ACTIVATION_JOB,
        fetch=_fetch_activation_job,
        status=_activation_status,
        terminal=frozenset(
            {
                ActivationJobStatus.CANCELLED,
                ActivationJobStatus.FAILED,
                ActivationJobStatus.COMPLETED,
                ActivationJobStatus.COMPLETED_WITH_FAILURES,
            }
        ),
        items=_activation_items,
        job_event=_activation_job_event,
        item_event=_activation_source_event,
    )
)
