"""Activation job life cycles: scripted or drawn at random, evaluated lazily against a clock.

A job is a creation time plus a timeline of `Step`s. Its state at any moment is the result of
applying, in order, every step whose offset has passed; nothing runs in the background. A random
life cycle is drawn once, at creation, and expressed as the same kind of timeline, so both kinds
of job behave identically from there on.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "TERMINAL_STATUSES",
    "Job",
    "JobSnapshot",
    "SourceSnapshot",
    "Step",
    "random_timeline",
]

#: Job statuses at which the service sets ``completionTime``.
TERMINAL_STATUSES = frozenset({"CANCELLED", "FAILED", "COMPLETED", "COMPLETED_WITH_FAILURES"})

_SOURCE_FAILURES = (
    "The read set could not be restored from archive storage. Try activating it again.",
    "The read set is not in the ARCHIVED state.",
    "An internal error occurred while activating the read set.",
    "The read set was deleted before activation finished.",
)


@dataclass(frozen=True, slots=True)
class Step:
    """One change in a scripted job timeline.

    Args:
        at: Seconds after the job's creation (emulator clock) at which the step applies.
        status: The job status from this time on; None leaves it unchanged. Any string is
            allowed, including statuses the service does not define.
        status_message: The job status message from this time on; None leaves it unchanged.
        sources: Read set ID to source status, or to ``(status, message)``. Any string allowed.
    """

    at: float
    status: str | None = None
    status_message: str | None = None
    sources: Mapping[str, str | tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.at >= 0.0:
            raise ValueError(f"Step.at must be >= 0 seconds, got {self.at!r}")


@dataclass(frozen=True, slots=True)
class SourceSnapshot:
    """One read set of a job, as of some moment."""

    read_set_id: str
    status: str
    status_message: str | None


@dataclass(frozen=True, slots=True)
class JobSnapshot:
    """A job's full state as of some moment; times are on the emulator clock."""

    id: str
    sequence_store_id: str
    status: str
    status_message: str | None
    creation_time: float
    completion_time: float | None
    sources: tuple[SourceSnapshot, ...]


@dataclass(frozen=True, slots=True)
class Job:
    """An activation job: identity, creation time and its whole timeline.

    ``seq`` orders jobs created at the same clock reading (newest = highest).
    """

    id: str
    sequence_store_id: str
    read_set_ids: tuple[str, ...]
    created: float
    seq: int
    timeline: tuple[Step, ...]
    visible_at: float

    @classmethod
    def build(
        cls,
        *,
        job_id: str,
        sequence_store_id: str,
        read_set_ids: Sequence[str],
        created: float,
        seq: int,
        timeline: Sequence[Step],
        visible_after: float = 0.0,
    ) -> Job:
        """Validate a timeline against the job's read sets and freeze it in order of ``at``."""
        known = set(read_set_ids)
        for step in timeline:
            unknown = sorted(set(step.sources) - known)
            if unknown:
                raise ValueError(f"Step at {step.at} names read sets not in the job: {unknown}")
        if visible_after < 0:
            raise ValueError(f"visible_after must be >= 0 seconds, got {visible_after!r}")
        ordered = tuple(sorted(timeline, key=lambda step: step.at))  # stable: ties keep order
        return cls(
            id=job_id,
            sequence_store_id=sequence_store_id,
            read_set_ids=tuple(read_set_ids),
            created=created,
            seq=seq,
            timeline=ordered,
            visible_at=created + visible_after,
        )

    def visible(self, now: float) -> bool:
        """Whether Get and List see the job yet."""
        return now >= self.visible_at

    def snapshot(self, now: float) -> JobSnapshot:
        """The job's state at emulator-clock time ``now``."""
        status = "SUBMITTED"
        message: str | None = None
        completed: float | None = None
        initial: tuple[str, str | None] = ("NOT_STARTED", None)
        sources = dict.fromkeys(self.read_set_ids, initial)
        elapsed = now - self.created
        for step in self.timeline:
            if step.at > elapsed:
                break
            if step.status is not None:
                if step.status in TERMINAL_STATUSES:
                    if completed is None:
                        completed = self.created + step.at
                else:
                    completed = None
                status = step.status
            if step.status_message is not None:
                message = step.status_message
            for read_set_id, change in step.sources.items():
                if isinstance(change, tuple):
                    sources[read_set_id] = (change[0], change[1])
                else:
                    sources[read_set_id] = (change, sources[read_set_id][1])
        return JobSnapshot(
            id=self.id,
            sequence_store_id=self.sequence_store_id,
            status=status,
            status_message=message,
            creation_time=self.created,
            completion_time=completed,
            sources=tuple(
                SourceSnapshot(read_set_id, *sources[read_set_id])
                for read_set_id in self.read_set_ids
            ),
        )


def random_timeline(
    rng: random.Random,
    read_set_ids: Sequence[str],
    *,
    job_seconds: tuple[float, float],
    failure_rate: float,
) -> tuple[Step, ...]:
    """Draw a realistic life cycle for a job.

    SUBMITTED, then IN_PROGRESS early on; every source starts and then finishes or fails at its
    own times; the job turns terminal once the last source is done, at a total duration drawn
    from ``job_seconds``.

    Args:
        rng: The generator to draw from; the same state gives the same timeline.
        read_set_ids: The job's sources.
        job_seconds: The range of total durations, in seconds.
        failure_rate: The probability that each source fails.

    Returns:
        The job's timeline.
    """
    low, high = job_seconds
    duration = rng.uniform(low, high)
    started = duration * rng.uniform(0.05, 0.2)
    steps = [Step(at=started, status="IN_PROGRESS")]
    failed = 0
    for read_set_id in read_set_ids:
        begin = rng.uniform(started, started + (duration - started) * 0.5)
        end = rng.uniform(begin, duration)
        steps.append(Step(at=begin, sources={read_set_id: "IN_PROGRESS"}))
        if rng.random() < failure_rate:
            failed += 1
            outcome: str | tuple[str, str] = ("FAILED", rng.choice(_SOURCE_FAILURES))
        else:
            outcome = "FINISHED"
        steps.append(Step(at=end, sources={read_set_id: outcome}))
    total = len(read_set_ids)
    if failed == 0:
        final = Step(at=duration, status="COMPLETED", status_message="Activation completed.")
    elif failed == total:
        final = Step(
            at=duration, status="FAILED", status_message="All read sets failed to activate."
        )
    else:
        final = Step(
            at=duration,
            status="COMPLETED_WITH_FAILURES",
            status_message=f"{failed} of {total} read sets failed to activate.",
        )
    steps.append(final)
    return tuple(steps)
