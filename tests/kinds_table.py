"""Every kind of job, for the kinds tests: model-shaped Get and List bodies, emulator jobs with
scripted outcomes, and the watch contract checked for jobs of any kind.

`response(word, status)` is a Get response as the service model shapes it (a test holds each
against the model), so the unit tests read what the service sends. `add(emu, word, outcome)`
adds a job of a kind to the emulator whose timeline ends in `outcome` and returns its
reference. `check_events` is `invariants.check_events` for any kind: keyed by reference.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from omics_waiter import (
    ItemStatusChanged,
    JobRef,
    JobStatusChanged,
    JobWatchFailed,
    PollRetrying,
    ReadSetActivationJobRef,
    ReadSetExportJobRef,
    ReadSetImportJobRef,
    ReferenceImportJobRef,
    RunRef,
    TaskRef,
    VariantImportJobRef,
    WatchEvent,
    WorkflowRef,
    WorkflowVersionRef,
)
from omics_waiter._kinds import KINDS
from omics_waiter.testing import OmicsEmulator, Step

__all__ = [
    "ANALYTICS",
    "PARTIAL_KINDS",
    "STORAGE",
    "WORDS",
    "add",
    "check_events",
    "item_key",
    "missing",
    "response",
]

WORDS = list(KINDS)
STORAGE = ["activation", "read-set-import", "read-set-export", "reference-import"]
ANALYTICS = ["variant-import", "annotation-import"]
PARTIAL_KINDS = [word for word in WORDS if KINDS[word].partial]

STORE, OTHER_STORE, JOB = "1234567890", "2345678901", "3456789012"
R1, R2 = "1111111111", "2222222222"
RUN, TASK, WORKFLOW, VERSION = "1234567", "7654321", "4242424", "v1.0"
UUID = "0123abcd-0123-4567-89ab-0123456789ab"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
ROLE = "arn:aws:iam::123456789012:role/omics"
S3_1, S3_2 = "s3://bucket/a.vcf.gz", "s3://bucket/b.vcf.gz"

# -- Get responses as the model shapes them ----------------------------------------------


def _storage_items(word: str, statuses: Sequence[str]) -> list[dict[str, Any]]:
    """Two items in `statuses`; a FAILED one has a message; import items name their read set
    or reference only once FINISHED, as the service does."""
    out = []
    for index, (key, status) in enumerate(zip((R1, R2), statuses, strict=True)):
        if word == "activation":
            item: dict[str, Any] = {"readSetId": key, "status": status}
        elif word == "read-set-export":
            item = {"id": key, "status": status}
        elif word == "read-set-import":
            item = {
                "sourceFiles": {"source1": f"s3://bucket/sample-{index}.fastq.gz"},
                "sourceFileType": "FASTQ",
                "subjectId": "subject",
                "sampleId": f"sample-{index}",
                "status": status,
            }
            if status == "FINISHED":
                item["readSetId"] = key
        else:
            item = {"sourceFile": f"s3://bucket/ref-{index}.fa", "status": status}
            if status == "FINISHED":
                item["referenceId"] = key
        if status == "FAILED":
            item["statusMessage"] = f"Item {index + 1} failed."
        out.append(item)
    return out


def _item_statuses(word: str, status: str) -> tuple[str, str]:
    analytics = word in ANALYTICS
    done, failed = ("COMPLETED", "FAILED") if analytics else ("FINISHED", "FAILED")
    running = "IN_PROGRESS"
    first = "SUBMITTED" if analytics else "NOT_STARTED"
    return {
        "COMPLETED": (done, done),
        "COMPLETED_WITH_FAILURES": (done, failed),
        "FAILED": (failed, failed),
        "SUBMITTED": (first, first),
    }.get(status, (running, first))


def response(word: str, status: str, *, message: str | None = None) -> dict[str, Any]:
    """A Get response of kind `word` in `status`, shaped as the service model says.

    Jobs with items have two: both done on COMPLETED, the second FAILED (with a message) on
    COMPLETED_WITH_FAILURES, both FAILED on FAILED.
    """
    body: dict[str, Any]
    items = _item_statuses(word, status)
    if word in STORAGE:
        body = {"id": JOB, "status": status, "creationTime": NOW}
        if word == "reference-import":
            body |= {"referenceStoreId": STORE, "roleArn": ROLE}
        else:
            body["sequenceStoreId"] = STORE
        if word == "read-set-import":
            body["roleArn"] = ROLE
        if word == "read-set-export":
            body["destination"] = "s3://bucket/exports/"
        field = {"read-set-export": "readSets"}.get(word, "sources")
        body[field] = _storage_items(word, items)
    elif word in ANALYTICS:
        body = {
            "id": UUID,
            "destinationName": "my_store",
            "roleArn": ROLE,
            "status": status,
            "statusMessage": message or "",
            "creationTime": NOW,
            "updateTime": NOW,
            "runLeftNormalization": False,
            "items": [
                {"source": source, "jobStatus": item}
                for source, item in zip((S3_1, S3_2), items, strict=True)
            ],
        }
        if word == "variant-import":
            for item in body["items"]:
                if item["jobStatus"] == "FAILED":
                    item["statusMessage"] = "Not a VCF file."
        else:
            body |= {
                "versionName": "default",
                "formatOptions": {"vcfOptions": {}},
                "completionTime": NOW,
            }
        return body
    elif word == "run":
        body = {"id": RUN, "arn": f"arn:aws:omics:us-east-1:123456789012:run/{RUN}"}
        body["status"] = status
    elif word == "task":
        body = {"taskId": TASK, "status": status}
    elif word == "workflow":
        body = {"id": WORKFLOW, "status": status}
    else:
        assert word == "workflow-version", word
        body = {"workflowId": WORKFLOW, "versionName": VERSION, "status": status}
    if message is not None:
        body["statusMessage"] = message
    return body


def response_ref(word: str) -> JobRef[Any]:
    """The reference of `response(word, ...)`."""
    return {
        "activation": ReadSetActivationJobRef(STORE, JOB),
        "read-set-import": ReadSetImportJobRef(STORE, JOB),
        "read-set-export": ReadSetExportJobRef(STORE, JOB),
        "reference-import": ReferenceImportJobRef(STORE, JOB),
        "run": RunRef(RUN),
        "task": TaskRef(RUN, TASK),
        "variant-import": VariantImportJobRef(UUID),
        "annotation-import": _annotation_ref(UUID),
        "workflow": WorkflowRef(WORKFLOW),
        "workflow-version": WorkflowVersionRef(WORKFLOW, VERSION),
    }[word]


def _annotation_ref(job_id: str) -> JobRef[Any]:
    from omics_waiter import AnnotationImportJobRef

    return AnnotationImportJobRef(job_id)


def job(word: str, status: str, *, message: str | None = None) -> Any:
    """The model of `response(word, status)`, parsed as the engine parses it."""
    kind = KINDS[word]
    return kind.parse(response(word, status, message=message), response_ref(word))


# -- Jobs in the emulator -----------------------------------------------------------------

_numbers = itertools.count(1)


def _keys(word: str) -> tuple[str, str]:
    if word in ANALYTICS:
        n = next(_numbers)
        return f"s3://bucket/{n}/a.vcf.gz", f"s3://bucket/{n}/b.vcf.gz"
    return R1, R2


@dataclass(frozen=True)
class Outcome:
    """How a scripted job ends: its final status, and its items' (first, second)."""

    status: str
    items: tuple[str | tuple[str, str], str | tuple[str, str]]
    message: str | None = None


def _outcome(word: str, outcome: str) -> Outcome:
    analytics = word in ANALYTICS
    done = "COMPLETED" if analytics else "FINISHED"
    if word in ("workflow", "workflow-version"):
        table = {"success": "ACTIVE", "failure": "FAILED"}
        return Outcome(table[outcome], (done, done), "The definition is invalid.")
    if word in ("run", "task"):
        table = {"success": "COMPLETED", "failure": "FAILED", "cancelled": "CANCELLED"}
        return Outcome(table[outcome], (done, done), "Task ran out of memory.")
    return {
        "success": Outcome("COMPLETED", (done, done)),
        "partial": Outcome(
            "COMPLETED_WITH_FAILURES", (done, ("FAILED", "Item 2 is corrupt.")), "1 of 2 failed."
        ),
        "failure": Outcome(
            "FAILED",
            (("FAILED", "Item 1 is corrupt."), ("FAILED", "Item 2 is corrupt.")),
            "All failed.",
        ),
        "cancelled": Outcome("CANCELLED", (done, done), "Cancelled by the user."),
    }[outcome]


def add(
    emu: OmicsEmulator,
    word: str,
    outcome: str = "success",
    *,
    at: float = 0.3,
    store: str = STORE,
    workflow_id: str | None = None,
    timeline: Sequence[Step] | None = None,
) -> JobRef[Any]:
    """Add a job of kind `word` that starts running at once and ends in `outcome` (success,
    partial, failure, cancelled) `at` seconds after creation; return its reference.

    `store` is the sequence or reference store of storage jobs. A task is the only task of a
    new run, which follows it (`add_run_of_tasks` makes a run of many). A workflow version
    belongs to `workflow_id` (default: a new workflow, ACTIVE at once).
    `timeline` replaces the scripted one (for runs: the run's own timeline, no tasks).
    """
    end = _outcome(word, outcome)
    if word in ("run", "task"):
        task_steps = [
            Step(at=0.0),
            Step(at=min(0.05, at / 2), status="RUNNING"),
            Step(at=at, status=end.status, failure_reason=end.message),
        ]
        if word == "run":
            steps = timeline or [
                Step(at=0.0, status="STARTING"),
                Step(at=min(0.05, at / 2), status="RUNNING"),
                Step(
                    at=at, status=end.status, status_message=end.message, failure_reason=end.message
                ),
            ]
            return RunRef(emu.add_run(timeline=steps))
        run_id = emu.add_run(tasks=[timeline or task_steps])
        return TaskRef(run_id, emu.task_ids(run_id)[0])
    if word in ("workflow", "workflow-version"):
        steps = list(timeline or [Step(at=at, status=end.status, status_message=end.message)])
        if word == "workflow":
            return WorkflowRef(emu.add_workflow(timeline=steps))
        if workflow_id is None:
            workflow_id = emu.add_workflow(timeline=[Step(at=0.0, status="ACTIVE")])
        name = f"v{next(_numbers)}"
        return WorkflowVersionRef(
            workflow_id, emu.add_workflow_version(workflow_id, name, timeline=steps)
        )
    k1, k2 = _keys(word)
    steps = list(
        timeline
        or [
            Step(at=min(0.05, at / 2), status="IN_PROGRESS", sources={k1: "IN_PROGRESS"}),
            Step(
                at=at,
                status=end.status,
                status_message=end.message,
                sources={k1: end.items[0], k2: end.items[1]},
            ),
        ]
    )
    if word == "activation":
        return ReadSetActivationJobRef(store, emu.add_job(store, [k1, k2], timeline=steps))
    if word == "read-set-export":
        return ReadSetExportJobRef(
            store, emu.add_read_set_export_job(store, [k1, k2], timeline=steps)
        )
    if word == "read-set-import":
        return ReadSetImportJobRef(
            store, emu.add_read_set_import_job(store, [k1, k2], timeline=steps)
        )
    if word == "reference-import":
        return ReferenceImportJobRef(
            store, emu.add_reference_import_job(store, [k1, k2], timeline=steps)
        )
    if word == "variant-import":
        return VariantImportJobRef(emu.add_variant_import_job("my_store", [k1, k2], timeline=steps))
    assert word == "annotation-import", word
    return _annotation_ref(emu.add_annotation_import_job("my_store", [k1, k2], timeline=steps))


def add_run_of_tasks(emu: OmicsEmulator, ends: Sequence[float]) -> list[TaskRef]:
    """One run whose tasks complete at `ends` (seconds after creation); their references."""
    tasks = [
        [
            Step(at=0.0),
            Step(at=min(0.05, end / 2), status="RUNNING"),
            Step(at=end, status="COMPLETED"),
        ]
        for end in ends
    ]
    run_id = emu.add_run(tasks=tasks)
    return [TaskRef(run_id, task_id) for task_id in emu.task_ids(run_id)]


def missing(word: str) -> JobRef[Any]:
    """A reference to a job that does not exist (in a store or run no job uses)."""
    return {
        "activation": ReadSetActivationJobRef("9999999999", "9999999998"),
        "read-set-import": ReadSetImportJobRef("9999999999", "9999999998"),
        "read-set-export": ReadSetExportJobRef("9999999999", "9999999998"),
        "reference-import": ReferenceImportJobRef("9999999999", "9999999998"),
        "run": RunRef("999999999"),
        "task": TaskRef("999999999", "999999998"),
        "variant-import": VariantImportJobRef("ffffffff-ffff-4fff-8fff-ffffffffffff"),
        "annotation-import": _annotation_ref("ffffffff-ffff-4fff-8fff-fffffffffffe"),
        "workflow": WorkflowRef("999999999"),
        "workflow-version": WorkflowVersionRef("999999999", "v9"),
    }[word]


# -- The watch contract, for any kind ------------------------------------------------------


def item_key(item: Any) -> str:
    """What identifies an item in its job: a read set, a source, a task."""
    for name in ("key", "read_set_id", "task_id"):
        value = getattr(item, name, None)
        if value is not None:
            return str(value)
    raise AssertionError(f"an item without a key: {item!r}")


def check_events(
    events: Sequence[WatchEvent], refs: Iterable[JobRef[Any]], since: Iterable[Any] = ()
) -> dict[JobRef[Any], JobStatusChanged | JobWatchFailed]:
    """The watch contract for jobs of any kind; returns each job's final event.

    Per job: the first sight has ``previous`` None (or the status in `since`), each later
    event's ``previous`` is the status reported before, no transition is told twice, no
    event of a job and no retry for it follow its final event, and every job has exactly one
    final event (a terminal `JobStatusChanged`, or `JobWatchFailed`), the last of its events.
    """
    refs = list(refs)
    status: dict[JobRef[Any], str | None] = dict.fromkeys(refs)
    items: dict[tuple[JobRef[Any], str], str | None] = {}
    for job in since:
        status[job.ref] = str(job.status)
        for item in job.items:
            items[(job.ref, item_key(item))] = str(item.status)
    told: set[tuple[object, ...]] = set()
    finals: dict[JobRef[Any], JobStatusChanged | JobWatchFailed] = {}
    for event in events:
        if isinstance(event, PollRetrying):
            if event.ref is not None:
                assert event.ref in status, f"a retry for a job not watched: {event}"
                assert event.ref not in finals, f"a retry after the end of {event.ref}: {event}"
            continue
        ref = event.ref  # type: ignore[union-attr]
        assert ref in status, f"an event for a job not watched: {event}"
        assert ref not in finals, f"an event after the final one of {ref}: {event}"
        if isinstance(event, JobWatchFailed):
            finals[ref] = event
            continue
        previous = None if event.previous is None else str(event.previous)
        if isinstance(event, JobStatusChanged):
            assert previous == status[ref], f"wrong previous: {event}"
            transition: tuple[object, ...] = (ref, previous, str(event.status))
            status[ref] = str(event.status)
            if event.is_terminal:
                finals[ref] = event
        else:
            assert isinstance(event, ItemStatusChanged), event
            key = (ref, item_key(event.item))
            assert previous == items.get(key), f"wrong previous: {event}"
            transition = (key, previous, str(event.status))
            items[key] = str(event.status)
        assert transition[1] != transition[2], f"a change to the same status: {event}"
        assert transition not in told, f"a transition told twice: {event}"
        told.add(transition)
    assert set(finals) == set(refs), f"jobs without a final event: {set(refs) - set(finals)}"
    return finals
