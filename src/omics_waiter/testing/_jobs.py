"""Job life cycles for every kind: scripted or drawn at random, evaluated lazily against a clock.

A job (an activation or import job, a run, a task, a workflow...) is a creation time plus a
timeline of `Step`s. Its state at any moment is the result of applying, in order, every step
whose offset has passed; nothing runs in the background. A random life cycle is drawn once, at
creation, and expressed as the same kind of timeline, so both kinds of job behave identically
from there on.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from omics_waiter.testing._kinds import Kind, spec

__all__ = [
    "TERMINAL_STATUSES",
    "Change",
    "Job",
    "JobSnapshot",
    "SourceSnapshot",
    "Step",
    "random_timeline",
]

#: Job statuses at which the service sets ``completionTime`` (activation, import and export
#: jobs). Runs, tasks and workflows have their own; see `Kind`.
TERMINAL_STATUSES = frozenset({"CANCELLED", "FAILED", "COMPLETED", "COMPLETED_WITH_FAILURES"})

_ITEM_FAILURES: dict[Kind, tuple[str, ...]] = {
    Kind.READ_SET_ACTIVATION_JOB: (
        "The read set could not be restored from archive storage. Try activating it again.",
        "The read set is not in the ARCHIVED state.",
        "An internal error occurred while activating the read set.",
        "The read set was deleted before activation finished.",
    ),
    Kind.READ_SET_IMPORT_JOB: (
        "The source file could not be read. Check the role's access to the bucket.",
        "The source file is not a valid FASTQ, BAM, CRAM or uBAM file.",
        "The reference in the file header does not match the reference ARN.",
    ),
    Kind.READ_SET_EXPORT_JOB: (
        "The destination bucket could not be written. Check the role's access to it.",
        "The read set is archived; activate it before exporting it.",
    ),
    Kind.REFERENCE_IMPORT_JOB: (
        "The source file could not be read. Check the role's access to the bucket.",
        "The source file is not a valid FASTA file.",
    ),
    Kind.VARIANT_IMPORT_JOB: (
        "The VCF file could not be parsed.",
        "The source file could not be read. Check the role's access to the bucket.",
    ),
    Kind.ANNOTATION_IMPORT_JOB: (
        "The annotation file could not be parsed with the given format options.",
        "The source file could not be read. Check the role's access to the bucket.",
    ),
}
_VERB: dict[Kind, tuple[str, str, str]] = {
    Kind.READ_SET_ACTIVATION_JOB: ("activate", "read sets", "Activation"),
    Kind.READ_SET_IMPORT_JOB: ("import", "sources", "Import"),
    Kind.READ_SET_EXPORT_JOB: ("export", "read sets", "Export"),
    Kind.REFERENCE_IMPORT_JOB: ("import", "sources", "Import"),
    Kind.VARIANT_IMPORT_JOB: ("import", "items", "Import"),
    Kind.ANNOTATION_IMPORT_JOB: ("import", "items", "Import"),
}
_TASK_FAILURES = (
    "Task exited with a non-zero exit code.",
    "Task ran out of memory.",
    "Task container image could not be pulled.",
)
_WORKFLOW_FAILURES = (
    "The workflow definition could not be parsed.",
    "The main workflow file was not found in the definition.",
)


@dataclass(frozen=True, slots=True)
class Step:
    """One change in a scripted timeline; the same for every kind of job.

    Args:
        at: Seconds after the job's creation (emulator clock) at which the step applies. For a
            run's tasks: seconds after the run's creation; a task exists from its first step.
        status: The status from this time on; None leaves it unchanged. Any string is allowed,
            including statuses the service does not define.
        status_message: The status message from this time on; None leaves it unchanged.
        sources: Item key to item status, or to ``(status, message)``. Item keys are read set
            IDs (activation, export, and the read sets an import creates), reference IDs
            (reference import) or S3 URIs (variant and annotation import). Any string allowed.
        failure_reason: A run's or task's ``failureReason`` from this time on.
    """

    at: float
    status: str | None = None
    status_message: str | None = None
    sources: Mapping[str, str | tuple[str, str]] = field(default_factory=dict)
    failure_reason: str | None = None

    def __post_init__(self) -> None:
        if not (self.at >= 0.0 and math.isfinite(self.at)):
            raise ValueError(f"Step.at must be >= 0 seconds, got {self.at!r}")


@dataclass(frozen=True, slots=True)
class SourceSnapshot:
    """One item of a job (a read set, a source file, a variant file), as of some moment."""

    key: str
    status: str
    status_message: str | None


@dataclass(frozen=True, slots=True)
class JobSnapshot:
    """A job's full state as of some moment; times are on the emulator clock.

    ``completion_time`` is when the status became one of the kind's final statuses;
    ``start_time`` when it first became the kind's running status; ``update_time`` when the
    last step applied.
    """

    id: str
    scope: str
    status: str
    status_message: str | None
    failure_reason: str | None
    creation_time: float
    start_time: float | None
    completion_time: float | None
    update_time: float
    sources: tuple[SourceSnapshot, ...]

    @property
    def sequence_store_id(self) -> str:
        """The scope of an activation, import or export job: its sequence store."""
        return self.scope


@dataclass(frozen=True, slots=True)
class Change:
    """A status change of a job, for events: when, and the state from then on."""

    at: float
    snapshot: JobSnapshot


@dataclass(frozen=True, slots=True)
class Job:
    """A job of any kind: identity, creation time, its whole timeline, and its request data.

    ``scope`` is what the job lives in (a sequence or reference store ID, a run ID for a task,
    a workflow ID for a version, "" for runs, workflows and analytics jobs). ``seq`` orders jobs
    created at the same clock reading (newest = highest). ``attrs`` holds request fields echoed
    in responses.
    """

    kind: Kind
    id: str
    scope: str
    item_keys: tuple[str, ...]
    created: float
    seq: int
    timeline: tuple[Step, ...]
    visible_at: float
    attrs: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        job_id: str,
        scope: str,
        item_keys: Sequence[str] = (),
        created: float,
        seq: int,
        timeline: Sequence[Step],
        kind: Kind = Kind.READ_SET_ACTIVATION_JOB,
        visible_after: float = 0.0,
        attrs: Mapping[str, Any] | None = None,
    ) -> Job:
        """Validate a timeline against the job's items and freeze it in order of ``at``."""
        known = set(item_keys)
        for step in timeline:
            unknown = sorted(set(step.sources) - known)
            if unknown:
                raise ValueError(f"Step at {step.at} names items not in the job: {unknown}")
        if not visible_after >= 0:
            raise ValueError(f"visible_after must be >= 0 seconds, got {visible_after!r}")
        ordered = tuple(sorted(timeline, key=lambda step: step.at))  # stable: ties keep order
        return cls(
            kind=kind,
            id=job_id,
            scope=scope,
            item_keys=tuple(item_keys),
            created=created,
            seq=seq,
            timeline=ordered,
            visible_at=created + visible_after,
            attrs=dict(attrs or {}),
        )

    @property
    def read_set_ids(self) -> tuple[str, ...]:
        """The item keys of an activation or export job: its read sets."""
        return self.item_keys

    @property
    def sequence_store_id(self) -> str:
        return self.scope

    def visible(self, now: float) -> bool:
        """Whether Get and List see the job yet."""
        return now >= self.visible_at

    def snapshot(self, now: float) -> JobSnapshot:
        """The job's state at emulator-clock time ``now``."""
        return self._evaluate(now - self.created, record=False)[0]

    def changes(self) -> list[Change]:
        """Every status change in the timeline, in order (the first is the initial status)."""
        return self._evaluate(math.inf, record=True)[1]

    def _evaluate(self, elapsed: float, *, record: bool) -> tuple[JobSnapshot, list[Change]]:
        kind = spec(self.kind)
        status = kind.initial_status
        message: str | None = None
        reason: str | None = None
        started: float | None = None
        completed: float | None = None
        updated = self.created
        initial_item = kind.item_statuses[0] if kind.item_statuses else "NOT_STARTED"
        items: dict[str, tuple[str, str | None]] = dict.fromkeys(
            self.item_keys, (initial_item, None)
        )
        changes: list[Change] = []

        def snapshot() -> JobSnapshot:
            return JobSnapshot(
                id=self.id,
                scope=self.scope,
                status=status,
                status_message=message,
                failure_reason=reason,
                creation_time=self.created,
                start_time=started,
                completion_time=completed,
                update_time=updated,
                sources=tuple(SourceSnapshot(key, *items[key]) for key in self.item_keys),
            )

        if record:
            changes.append(Change(self.created, snapshot()))
        for step in self.timeline:
            if step.at > elapsed:
                break
            moment = self.created + step.at
            changed = step.status is not None and step.status != status
            if step.status is not None:
                if step.status in kind.final_statuses:
                    if completed is None:
                        completed = moment
                else:
                    completed = None
                if step.status == kind.running_status and started is None:
                    started = moment
                status = step.status
            if step.status_message is not None:
                message = step.status_message
            if step.failure_reason is not None:
                reason = step.failure_reason
            for key, change in step.sources.items():
                if isinstance(change, tuple):
                    items[key] = (change[0], change[1])
                else:
                    items[key] = (change, items[key][1])
            updated = moment
            if changed and record:
                changes.append(Change(moment, snapshot()))
        return snapshot(), changes


# -- random life cycles ---------------------------------------------------------------------


def random_timeline(
    rng: random.Random,
    read_set_ids: Sequence[str],
    *,
    job_seconds: tuple[float, float],
    failure_rate: float,
    kind: Kind = Kind.READ_SET_ACTIVATION_JOB,
) -> tuple[Step, ...]:
    """Draw a realistic life cycle for a job with items (activation, import, export jobs).

    SUBMITTED, then IN_PROGRESS early on; every item starts and then finishes or fails at its
    own times; the job turns terminal once the last item is done, at a total duration drawn
    from ``job_seconds``: COMPLETED if no item failed, FAILED if all did,
    COMPLETED_WITH_FAILURES otherwise.

    Args:
        rng: The generator to draw from; the same state gives the same timeline.
        read_set_ids: The job's item keys.
        job_seconds: The range of total durations, in seconds.
        failure_rate: The probability that each item fails.
        kind: The job's kind (its item statuses and messages).

    Returns:
        The job's timeline.
    """
    item_statuses = spec(kind).item_statuses or ("NOT_STARTED", "IN_PROGRESS", "FINISHED", "FAILED")
    _, running, done, failed_status = item_statuses
    verb, noun, title = _VERB[kind]
    low, high = job_seconds
    duration = rng.uniform(low, high)
    started = duration * rng.uniform(0.05, 0.2)
    steps = [Step(at=started, status="IN_PROGRESS")]
    failed = 0
    for key in read_set_ids:
        begin = rng.uniform(started, started + (duration - started) * 0.5)
        end = rng.uniform(begin, duration)
        steps.append(Step(at=begin, sources={key: running}))
        if rng.random() < failure_rate:
            failed += 1
            outcome: str | tuple[str, str] = (failed_status, rng.choice(_ITEM_FAILURES[kind]))
        else:
            outcome = done
        steps.append(Step(at=end, sources={key: outcome}))
    total = len(read_set_ids)
    if failed == 0:
        final = Step(at=duration, status="COMPLETED", status_message=f"{title} completed.")
    elif failed == total:
        final = Step(at=duration, status="FAILED", status_message=f"All {noun} failed to {verb}.")
    else:
        final = Step(
            at=duration,
            status="COMPLETED_WITH_FAILURES",
            status_message=f"{failed} of {total} {noun} failed to {verb}.",
        )
    steps.append(final)
    return tuple(steps)


def random_workflow_timeline(
    rng: random.Random, *, job_seconds: tuple[float, float], failure_rate: float
) -> tuple[Step, ...]:
    """CREATING, then ACTIVE (or FAILED with a message, with probability ``failure_rate``)."""
    duration = rng.uniform(*job_seconds)
    if rng.random() < failure_rate:
        return (Step(at=duration, status="FAILED", status_message=rng.choice(_WORKFLOW_FAILURES)),)
    return (Step(at=duration, status="ACTIVE"),)


@dataclass(frozen=True, slots=True)
class RunPlan:
    """A run's timeline and its tasks' timelines (task steps count from the run's creation)."""

    timeline: tuple[Step, ...]
    tasks: tuple[tuple[Step, ...], ...]


def random_run(
    rng: random.Random,
    task_names: Sequence[str],
    *,
    job_seconds: tuple[float, float],
    failure_rate: float,
) -> RunPlan:
    """Draw a run: PENDING, STARTING, RUNNING; its tasks start and end while it is RUNNING;
    STOPPING, then COMPLETED. A task fails with probability ``failure_rate``; the first failure
    fails the run (STOPPING, then FAILED with a message and reason), cancels the tasks still
    running and prevents the ones not started yet.
    """
    duration = rng.uniform(*job_seconds)
    starting = duration * rng.uniform(0.02, 0.08)
    running = duration * rng.uniform(0.1, 0.2)
    window = duration * 0.85
    drafts = []
    for name in task_names:
        created = rng.uniform(running, running + (window - running) * 0.5)
        task_running = rng.uniform(created, created + (window - created) * 0.2)
        end = rng.uniform(task_running, window)
        fails = rng.random() < failure_rate
        reason = rng.choice(_TASK_FAILURES) if fails else None
        drafts.append((name, created, task_running, end, reason))
    failures = [draft for draft in drafts if draft[4] is not None]
    tasks: list[tuple[Step, ...]] = []
    if not failures:
        for _name, created, task_running, end, _ in drafts:
            tasks.append(_task_steps(created, task_running, end, "COMPLETED"))
        run = (
            Step(at=starting, status="STARTING"),
            Step(at=running, status="RUNNING"),
            Step(at=duration * 0.9, status="STOPPING"),
            Step(at=duration, status="COMPLETED"),
        )
        return RunPlan(run, tuple(tasks))
    name, _, _, failed_at, reason = min(failures, key=lambda draft: draft[3])
    assert reason is not None
    stopped = failed_at + (duration - failed_at) * 0.5
    for task_name, created, task_running, end, task_reason in drafts:
        if created > failed_at:
            tasks.append(())  # never started
        elif task_name == name or end <= failed_at:
            status = "FAILED" if task_reason is not None else "COMPLETED"
            steps = _task_steps(created, task_running, end, status)
            if task_reason is not None:
                steps = (
                    *steps[:-1],
                    Step(
                        at=end,
                        status=status,
                        status_message=task_reason,
                        failure_reason=task_reason.rstrip(".")[:64],
                    ),
                )
            tasks.append(steps)
        else:
            steps = _task_steps(created, task_running, stopped, "CANCELLED")
            tasks.append(
                (
                    *[s for s in steps[:-1] if s.at < failed_at],
                    Step(at=failed_at, status="STOPPING"),
                    steps[-1],
                )
            )
    run = (
        Step(at=starting, status="STARTING"),
        Step(at=running, status="RUNNING"),
        Step(at=failed_at, status="STOPPING"),
        Step(
            at=stopped,
            status="FAILED",
            status_message=f"Task {name} failed: {reason}",
            failure_reason=reason.rstrip(".")[:64],
        ),
    )
    return RunPlan(run, tuple(tasks))


def _task_steps(created: float, running: float, end: float, final: str) -> tuple[Step, ...]:
    return (
        Step(at=created, status="PENDING"),
        Step(at=created + (running - created) * 0.5, status="STARTING"),
        Step(at=running, status="RUNNING"),
        Step(at=end, status=final),
    )


def derived_run(tasks: Sequence[Sequence[Step]], names: Sequence[str]) -> tuple[Step, ...]:
    """A run timeline that follows scripted tasks: RUNNING when the first task appears;
    once every task has ended, STOPPING, and 50 ms later COMPLETED, or FAILED if a task failed
    (the run fails from the first task failure on, as the service does).
    """
    firsts = [min(step.at for step in task) for task in tasks if task]
    first = min(firsts, default=0.0)
    run = [Step(at=first / 2, status="STARTING"), Step(at=first, status="RUNNING")]
    failures = [
        (step.at, index, step)
        for index, task in enumerate(tasks)
        for step in task
        if step.status == "FAILED"
    ]
    if failures:
        at, index, step = min(failures, key=lambda item: (item[0], item[1]))
        reason = step.failure_reason or step.status_message or "Task failed"
        run += [
            Step(at=at, status="STOPPING"),
            Step(
                at=at + 0.05,
                status="FAILED",
                status_message=f"Task {names[index]} failed: {reason}",
                failure_reason=reason[:64],
            ),
        ]
        return tuple(run)
    ends = [
        max(step.at for step in task if step.status is not None)
        for task in tasks
        if any(step.status is not None for step in task)
    ]
    end = max(ends, default=first)
    run += [Step(at=end, status="STOPPING"), Step(at=end + 0.05, status="COMPLETED")]
    return tuple(run)
