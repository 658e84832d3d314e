"""Pure decisions of the scheduler: what an observation means, and when to ask again.

No I/O and no clock: the scheduler passes in what it observed and the time, and these
functions answer. They are tested without a clock (tests/unit/test_policy.py).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from ._errors import JobFailedError, JobNotFoundError, JobPartiallyFailedError, WaitTimeoutError
from ._kinds import Kind
from ._refs import JobRef

__all__ = [
    "Mode",
    "Priority",
    "Timing",
    "deadline_error",
    "listed_priority",
    "not_found_error",
    "not_found_retry",
    "reached",
    "verdict",
]


# Defaults, chosen for jobs that last minutes to hours:
# - a change is followed by a poll 5 s later, so a job that moves is followed closely;
# - a job that sits still is polled at most every 2 minutes, so an hours-long job
#   costs about 30 requests an hour and is seen to finish within 2 minutes;
# - 24 hours bounds every wait, so a stuck job cannot hang a service forever;
# - 5 requests per second per operation is the service's default quota;
# - a job started a moment ago may take a few seconds to become visible: 30 s of grace.
DEFAULT_MIN_DELAY = 5.0
DEFAULT_MAX_DELAY = 120.0
DEFAULT_TIMEOUT = 24 * 3600.0
DEFAULT_MAX_TPS = 5.0
DEFAULT_NOT_FOUND_GRACE = 30.0
DEFAULT_RETRY_INITIAL = 1.0
DEFAULT_RETRY_MAX = 30.0
# With push events, a dropped event delays a job's detection by at most this long.
DEFAULT_RECONCILE_DELAY = 60.0


@dataclass(frozen=True, slots=True)
class Timing:
    """The validated timing options of one wait."""

    min_delay: float
    max_delay: float
    not_found_grace: float
    retry_initial: float
    retry_max: float


class Mode(enum.IntEnum):
    """How closely a job is followed; a job watched by several waits follows the closest."""

    #: Only its final state matters: fetched when a List shows it finished (or by polling).
    FINAL = 0
    #: Every status change: fetched when a List shows it changed.
    CHANGES = 1
    #: Its items' progress too: also polled on its own, at the backoff's pace.
    PROGRESS = 2


class Priority(enum.IntEnum):
    """Priority classes of requests, most urgent first.

    Finishing is what waits are for, and at scale the first sight of thousands of jobs
    must not delay it.
    """

    SWEEP = 0  # a List sweep of a batch
    FINAL = 1  # a Get of a job a List (or an event) shows finished
    CHANGED = 2  # a Get of a job a List shows otherwise changed
    FIRST = 3  # the first Get of a job a List shows
    POLL = 4  # a per-job poll (a job outside any swept batch)
    PROGRESS = 5  # a per-job poll for items' progress


def listed_priority(
    kind: Kind[Any],
    listed: str,
    last: str | None,
    listed_before: str | None,
    mode: Mode,
) -> Priority | None:
    """What a List item showing `listed` means for a job last seen as `last`.

    Returns the priority of the Get to make, or None if no Get is needed.
    """
    if last is not None and listed == last:
        return None
    if kind.is_terminal(listed):
        return Priority.FINAL
    if mode is Mode.FINAL:
        return None  # only the final state is wanted
    if last is not None or listed_before not in (None, listed):
        return Priority.CHANGED
    return Priority.FIRST


def not_found_retry(now: float, not_found_since: float, grace: float, delay: float) -> float | None:
    """Seconds until the next poll of a job not found since `not_found_since`, or None to
    give up. The last poll lands at the end of the grace period, never after it."""
    end = not_found_since + grace
    if now >= end:
        return None
    return min(delay, end - now)


def reached(kind: Kind[Any], status: str, until: str | None) -> bool:
    """Whether a job in `status` has reached what a wait asked for.

    Without `until`: a terminal status. With `until`: a status that shows the job passed
    `until` (`Kind.evidence`: a run STOPPING may never have run), or any terminal status
    (which ends the wait either way).
    """
    if kind.is_terminal(status):
        return True
    if until is None:
        return False
    return status in kind.evidence.get(until, ())


def verdict(kind: Kind[Any], job: Any, *, accept_partial: bool, until: str | None = None) -> Any:
    """The job, if it counts as success for a wait; else raise the matching `JobFailedError`.

    Called once `reached` is true. With `until`, a job that is not over has passed it; one
    that failed raises, saying whether it ended without reaching `until`.
    """
    status = str(job.status)
    if until is not None and not kind.is_terminal(status):
        return job  # reached `until` on the way
    if status in kind.success:
        return job
    if status in kind.partial:
        if accept_partial:
            return job
        failed = tuple(job.failed_items)
        names = ", ".join(
            str(getattr(i, "key", None) or getattr(i, "read_set_id", i)) for i in failed
        )
        raise JobPartiallyFailedError(
            f"{kind.noun} {job.ref} completed, but {len(failed)} of {len(job.items)} "
            f"{kind.item_noun}s failed: {names or 'unknown'}",
            job=job,
        )
    message = getattr(job, "status_message", None) or getattr(job, "failure_reason", None)
    detail = f": {message}" if message else ""
    if until is not None and status not in kind.evidence.get(until, ()):
        raise JobFailedError(
            f"{kind.noun} {job.ref} ended {status} without reaching {until}{detail}", job=job
        )
    raise JobFailedError(f"{kind.noun} {job.ref} ended {status}{detail}", job=job)


def _where(ref: JobRef[Any]) -> str:
    store = getattr(ref, "sequence_store_id", None)
    if store is not None:
        return f" in sequence store {store}"
    store = getattr(ref, "reference_store_id", None)
    if store is not None:
        return f" in reference store {store}"
    return ""


def not_found_error(
    kind: Kind[Any],
    ref: JobRef[Any],
    *,
    operation: str,
    service_message: str | None = None,
) -> JobNotFoundError:
    """The error for a job that stayed not found for the whole grace period."""
    return JobNotFoundError(
        f"{kind.noun} {ref.ids[-1]} was not found{_where(ref)}",
        ref=ref,
        service_message=service_message,
        operation=operation,
    )


def deadline_error(
    kind: Kind[Any], ref: JobRef[Any], *, last: Any, never_found: bool
) -> WaitTimeoutError:
    """The error for a job still unfinished at the deadline.

    A job not found so far is not yet "not found": that takes the whole grace period, and
    the deadline came first (a job started a moment ago may not be visible yet). So it is a
    timeout too, whose message says the job had not been found.
    """
    detail = ", and it had not been found so far" if never_found else ""
    return WaitTimeoutError(
        f"gave up waiting for {kind.noun} {ref.ids[-1]}{_where(ref)}: the deadline passed{detail}",
        ref=ref,
        job=last,
    )
