"""The outcome of a wait as a JSON-safe event payload, and back into an Airflow result.

The payload (what `OmicsJobTrigger` yields, and what a sensor that does not defer builds the
same way)::

    {"status": "success" | "partial" | "failed" | "timeout" | "error",
     "kind": "run", "ids": ["1234567"],
     "jobs": [{...the model's fields...} | null, ...],   # in ids order
     "message": "the service's reason" | null,
     "error": "JobFailedError" | null}

With several jobs the status is the worst of theirs (error, timeout, failed, partial,
success, in that order), the error the class of the first job with that status, and the
message each such job's, prefixed by its ID.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio

from .._errors import JobFailedError, JobPartiallyFailedError, WaitTimeoutError
from .._json import job_to_json
from .._kinds import KINDS, Kind
from .._refs import JobRef
from .._waiter import OmicsWaiter

__all__ = ["STATUSES", "error_payload", "outcome_payload", "wait_payload"]

#: Event statuses, from best to worst.
STATUSES = ("success", "partial", "failed", "timeout", "error")


def _reason(thing: Any) -> str | None:
    """A run's or task's failure reason where it has one, else its status message."""
    reason = getattr(thing, "failure_reason", None) or getattr(thing, "status_message", None)
    return None if reason is None else str(reason)


def _item_name(item: Any) -> str:
    for attribute in ("read_set_id", "key", "task_id"):
        value = getattr(item, attribute, None)
        if value is not None:
            return str(value)
    return "?"


def _failed_items(kind: Kind[Any], job: Any) -> str:
    failed = tuple(job.failed_items)
    named = []
    for item in failed:
        reason = _reason(item)
        named.append(f"{_item_name(item)} ({reason})" if reason else _item_name(item))
    return (
        f"{len(failed)} of {len(job.items)} {kind.item_noun}s failed: "
        f"{', '.join(named) or 'unknown'}"
    )


def _judge(kind: Kind[Any], outcome: Any) -> tuple[str, Any, str | None, str | None]:
    """(status, job, message, error class) of one job's outcome: a model or an error."""
    if isinstance(outcome, BaseException):
        job = getattr(outcome, "job", None)
        name = type(outcome).__name__
        if isinstance(outcome, JobPartiallyFailedError):
            return "partial", job, _failed_items(kind, job), name
        if isinstance(outcome, JobFailedError):
            return "failed", job, _reason(job) or str(outcome), name
        if isinstance(outcome, WaitTimeoutError):
            return "timeout", job, str(outcome), name
        return "error", job, str(outcome), name
    if str(outcome.status) in kind.partial:  # accepted partial success
        return "partial", outcome, _failed_items(kind, outcome), None
    return "success", outcome, _reason(outcome), None


def outcome_payload(kind: str, ids: Sequence[str], outcomes: Sequence[Any]) -> dict[str, Any]:
    """The payload for each job's outcome (its model, or the error its wait raised)."""
    judged = [_judge(KINDS[kind], outcome) for outcome in outcomes]
    worst = max((j[0] for j in judged), key=STATUSES.index)
    chosen = [(i, j) for i, j in zip(ids, judged, strict=True) if j[0] == worst]
    if len(ids) == 1:
        message = judged[0][2]
    else:
        parts = [f"{KINDS[kind].noun} {i}: {j[2]}" for i, j in chosen if j[2]]
        message = "; ".join(parts) or None
    return {
        "status": worst,
        "kind": kind,
        "ids": list(ids),
        "jobs": [job_to_json(j[1]) for j in judged],
        "message": message,
        "error": chosen[0][1][3],
    }


def error_payload(kind: str, ids: Sequence[str], error: BaseException) -> dict[str, Any]:
    """The payload for a wait that could not start (no waiter: a connection, Redis ...)."""
    return {
        "status": "error",
        "kind": kind,
        "ids": list(ids),
        "jobs": [None] * len(ids),
        "message": str(error) or type(error).__name__,
        "error": type(error).__name__,
    }


async def wait_payload(
    waiter: OmicsWaiter,
    kind: str,
    ids: Sequence[str],
    refs: Sequence[JobRef[Any]],
    *,
    timeout: float | None,  # noqa: ASYNC109 - the wait's own deadline, as OmicsWaiter's
    until: str | None,
    accept_partial: bool,
) -> dict[str, Any]:
    """Wait on jobs of one kind and describe how it ended.

    Without `until` the jobs are waited on together (`wait_many`); with it, each by `wait`
    on the same waiter (so still coalesced), since only `wait` takes `until`.
    """
    seconds = float("inf") if timeout is None else timeout
    outcomes: list[Any]
    if until is None:
        outcomes = await waiter.wait_many(refs, timeout=seconds, accept_partial=accept_partial)
    else:
        outcomes = [None] * len(refs)

        async def wait_one(index: int, ref: JobRef[Any]) -> None:
            try:
                outcomes[index] = await waiter.wait(
                    ref, timeout=seconds, until=until, accept_partial=accept_partial
                )
            except Exception as exc:  # the job's outcome, as wait_many reports it
                outcomes[index] = exc

        async with anyio.create_task_group() as group:
            for index, ref in enumerate(refs):
                group.start_soon(wait_one, index, ref)
    return outcome_payload(kind, ids, outcomes)
