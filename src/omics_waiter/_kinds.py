"""Job kinds as data: what the engine needs to know to wait on each kind of job.

A `Kind` names its Get operation and how to call and parse it, its List operation
(if the service has one to batch with) and how to read a page, its statuses sorted
into success, partial success and failure, the order a job moves through them (for
``until``), and its items. What counts as having reached an ``until`` status is data too
(`Kind.evidence`): the statuses the service's life cycle reaches only through it.
The scheduler is written against `Kind` alone: a new kind
is a reference, a model and one description here. `tests/unit/test_kinds.py` holds
these status sets against botocore's own waiters; docs/kinds.md says where and why
our verdicts differ.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ._errors import UnexpectedResponseError
from ._events import ItemStatusChanged, JobStatusChanged, SourceStatusChanged
from ._models import (
    ActivationJob,
    AnnotationImportJob,
    ReadSetExportJob,
    ReadSetImportJob,
    ReferenceImportJob,
    Run,
    Task,
    VariantImportJob,
    Workflow,
    WorkflowVersion,
    _OpenEnum,
    _required_text,
    _time,
    parse_annotation_import_job,
    parse_job,
    parse_read_set_export_job,
    parse_read_set_import_job,
    parse_reference_import_job,
    parse_run,
    parse_task,
    parse_variant_import_job,
    parse_workflow,
    parse_workflow_version,
)
from ._refs import (
    AnnotationImportJobRef,
    JobRef,
    ReadSetActivationJobRef,
    ReadSetExportJobRef,
    ReadSetImportJobRef,
    ReferenceImportJobRef,
    RunRef,
    TaskRef,
    VariantImportJobRef,
    WorkflowRef,
    WorkflowVersionRef,
)

__all__ = ["KINDS", "WORKFLOW_LISTING", "Kind", "Listing", "Operation", "Summary", "kind_of"]

JobT = TypeVar("JobT")
Params = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Operation:
    """An Omics operation: its API name (the budget lane) and the client's method for it."""

    name: str
    method: str


@dataclass(frozen=True, slots=True)
class Summary:
    """What one List item says of a job: which job, its status, when it was created."""

    ref: JobRef[Any]
    status: str
    creation_time: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Listing:
    """How to list jobs of a kind in batches.

    Attributes:
        operation: The List operation.
        batch: The batch a job belongs to (one List call covers one batch): its store,
            its run (tasks), or ``()`` for an account-wide List.
        params: The fixed request parameters of a batch.
        page_field: The response field holding the page's items.
        token_param: The request parameter carrying the page token.
        summary: Reads one item of a page of a batch.
        created_after: Whether the List takes ``filter.createdAfter`` (narrows sweeps).
        active_statuses: If set, a sweep lists only jobs in these statuses (one List each,
            ``status`` filter; runs and analytics imports, which have no creation filter):
            a watched job absent from all of them has moved on, and is fetched.
        status_param: Where the status filter goes: ``"status"`` (query) or
            ``"filter.status"`` (body).
    """

    operation: Operation
    batch: Callable[[Any], tuple[str, ...]]
    params: Callable[[tuple[str, ...]], Params]
    page_field: str
    token_param: str
    summary: Callable[[Mapping[str, Any], tuple[str, ...]], Summary]
    created_after: bool = False
    active_statuses: tuple[str, ...] = ()
    status_param: str = "status"


@dataclass(frozen=True, slots=True)
class ItemListing:
    """Items fetched by a separate List (a run's tasks), when a watch asks for items."""

    operation: Operation
    params: Callable[[Any], Params]
    page_field: str
    token_param: str
    parse: Callable[[Mapping[str, Any], Any], Any]


@dataclass(frozen=True, slots=True)
class Kind(Generic[JobT]):
    """How to fetch, read and judge one kind of job.

    Attributes:
        word: The command line's word for it (also `JobRef.kind`).
        noun: What to call it in messages.
        ref_type: Its reference type.
        model: Its model type (what waiting on it returns).
        get: The operation that fetches one job.
        get_params: The Get request's parameters for a reference.
        parse: Parses a Get response (with the reference, for fields the response lacks).
        success: Terminal statuses that count as success.
        partial: Terminal statuses of success with failed items.
        failure: Terminal statuses that count as failure.
        progression: The statuses a job passes through on its way to success, in order
            (``until`` may name those that are not terminal).
        evidence: For each status ``until`` may name, the statuses that show a job passed
            it: the status itself and those the service's life cycle reaches only through
            it (a run CANCELLED or STOPPING may never have run; a COMPLETED one has).
        item_noun: What to call one of its items.
        listing: Batch polling through a List operation, if the service has one.
        item_listing: A separate List for its items (a run's tasks), if any.
    """

    word: str
    noun: str
    ref_type: type[JobRef[JobT]]
    model: type[JobT]
    get: Operation
    get_params: Callable[[Any], Params]
    parse: Callable[[Mapping[str, Any], Any], JobT]
    success: frozenset[str]
    partial: frozenset[str]
    failure: frozenset[str]
    progression: tuple[str, ...]
    evidence: Mapping[str, frozenset[str]] = field(compare=False)
    item_noun: str = "item"
    listing: Listing | None = None
    item_listing: ItemListing | None = None

    @property
    def terminal(self) -> frozenset[str]:
        """The statuses after which a job does not change."""
        return self.success | self.partial | self.failure

    def status(self, job: JobT) -> _OpenEnum:
        status: _OpenEnum = job.status  # type: ignore[attr-defined]
        return status

    def items(self, job: JobT) -> Sequence[tuple[str, Any, _OpenEnum]]:
        """The job's items as (key, item, status), in the service's order."""
        out: list[tuple[str, Any, _OpenEnum]] = []
        for item in job.items:  # type: ignore[attr-defined]
            key = getattr(item, "key", None) or getattr(item, "read_set_id", None)
            if key is None:
                key = item.task_id
            out.append((f"{self.item_noun} {key}", item, item.status))
        return out

    def is_terminal(self, status: str) -> bool:
        return status in self.terminal

    def job_event(self, job: JobT, previous: _OpenEnum | None) -> JobStatusChanged:
        return JobStatusChanged(job=job, previous=previous, terminal=self.is_terminal(job.status))  # type: ignore[attr-defined]

    def item_event(self, job: JobT, item: Any, previous: _OpenEnum | None) -> ItemStatusChanged:
        if isinstance(job, ActivationJob):
            return SourceStatusChanged(job=job, item=item, previous=previous)
        return ItemStatusChanged(job=job, item=item, previous=previous)

    def unknown_status(self, job: JobT) -> str | None:
        """Describe the first status in `job` this release does not know, if any."""
        status = self.status(job)
        if not status.is_known:
            return f"status {status.value!r}"
        for key, _, item_status in self.items(job):
            if not item_status.is_known:
                return f"status {item_status.value!r} for {key}"
        return None

    def check_identity(self, ref: JobRef[Any], job: JobT) -> None:
        """Raise if the service answered about another job than the one asked for."""
        got = job.ref  # type: ignore[attr-defined]
        if got != ref:
            raise UnexpectedResponseError(
                f"{self.get.name} for {self.noun} {ref} returned {self.noun} {got}"
            )


# -- Statuses -----------------------------------------------------------------------------

# `evidence`: a job is created in the first status of its progression, so any status shows it
# passed that one. A later status on the way is shown only by itself and by the statuses the
# life cycle reaches through it alone (COMPLETED shows a run ran), and never a status
# reached by cancelling or failing (STOPPING, CANCELLING, FAILED, CANCELLED, DELETED), which
# a job may reach from its first status. (A success ends a wait with success whatever
# `until`: see `_policy.verdict`.)

# Storage jobs (activation, read set import and export, reference import): botocore's
# waiters fail on COMPLETED_WITH_FAILURES; we tell it apart as partial success.
_STORAGE = {
    "success": frozenset({"COMPLETED"}),
    "partial": frozenset({"COMPLETED_WITH_FAILURES"}),
    "failure": frozenset({"FAILED", "CANCELLED"}),
    "progression": ("SUBMITTED", "IN_PROGRESS", "COMPLETED"),
    "evidence": {
        "SUBMITTED": frozenset(
            {"SUBMITTED", "IN_PROGRESS", "CANCELLING", "COMPLETED", "COMPLETED_WITH_FAILURES"}
            | {"FAILED", "CANCELLED"}
        ),
        "IN_PROGRESS": frozenset({"IN_PROGRESS", "COMPLETED", "COMPLETED_WITH_FAILURES"}),
    },
}
# Runs: botocore's RunCompleted keeps polling on CANCELLED and DELETED; both are final.
# A run cancelled while PENDING or STARTING goes to STOPPING, then CANCELLED, without running.
_RUN = {
    "success": frozenset({"COMPLETED"}),
    "partial": frozenset(),
    "failure": frozenset({"FAILED", "CANCELLED", "DELETED"}),
    "progression": ("PENDING", "STARTING", "RUNNING", "STOPPING", "COMPLETED"),
    "evidence": {
        "PENDING": frozenset(
            {"PENDING", "STARTING", "RUNNING", "STOPPING", "COMPLETED"}
            | {"FAILED", "CANCELLED", "DELETED"}
        ),
        "STARTING": frozenset({"STARTING", "RUNNING", "COMPLETED"}),
        "RUNNING": frozenset({"RUNNING", "COMPLETED"}),
        "STOPPING": frozenset({"STOPPING", "COMPLETED"}),
    },
}
# Tasks: as runs, but a task may end straight from RUNNING, so COMPLETED does not show it
# was STOPPING (a wait that sees it COMPLETED returns it all the same: a success).
_TASK = {
    "success": frozenset({"COMPLETED"}),
    "partial": frozenset(),
    "failure": frozenset({"FAILED", "CANCELLED"}),
    "progression": ("PENDING", "STARTING", "RUNNING", "STOPPING", "COMPLETED"),
    "evidence": {
        "PENDING": frozenset(
            {"PENDING", "STARTING", "RUNNING", "STOPPING", "COMPLETED", "FAILED", "CANCELLED"}
        ),
        "STARTING": frozenset({"STARTING", "RUNNING", "COMPLETED"}),
        "RUNNING": frozenset({"RUNNING", "COMPLETED"}),
        "STOPPING": frozenset({"STOPPING"}),
    },
}
# Analytics imports: botocore's *ImportJobCreated count CANCELLED as success and keep
# polling on COMPLETED_WITH_FAILURES; a cancelled import imported nothing: failure.
_ANALYTICS = {
    "success": frozenset({"COMPLETED"}),
    "partial": frozenset({"COMPLETED_WITH_FAILURES"}),
    "failure": frozenset({"FAILED", "CANCELLED"}),
    "progression": ("SUBMITTED", "IN_PROGRESS", "COMPLETED"),
    "evidence": {
        "SUBMITTED": frozenset(
            {"SUBMITTED", "IN_PROGRESS", "COMPLETED", "COMPLETED_WITH_FAILURES"}
            | {"FAILED", "CANCELLED"}
        ),
        "IN_PROGRESS": frozenset({"IN_PROGRESS", "COMPLETED", "COMPLETED_WITH_FAILURES"}),
    },
}
# Workflows: usable once ACTIVE; botocore's WorkflowActive polls on through DELETED and
# INACTIVE, which never become ACTIVE by themselves.
_WORKFLOW = {
    "success": frozenset({"ACTIVE"}),
    "partial": frozenset(),
    "failure": frozenset({"FAILED", "DELETED", "INACTIVE"}),
    "progression": ("CREATING", "ACTIVE"),
    "evidence": {
        "CREATING": frozenset({"CREATING", "ACTIVE", "UPDATING", "FAILED", "DELETED", "INACTIVE"}),
    },
}


# -- Lists --------------------------------------------------------------------------------


def _store_summary(
    ref_type: type[JobRef[Any]], what: str
) -> Callable[[Mapping[str, Any], tuple[str, ...]], Summary]:
    def summary(raw: Mapping[str, Any], batch: tuple[str, ...]) -> Summary:
        return Summary(
            ref=ref_type._from_service(batch[0], _required_text(raw, "id", what)),
            status=_required_text(raw, "status", what),
            creation_time=_time(raw, "creationTime", what, required=False),
        )

    return summary


def _store_listing(
    name: str, method: str, store_param: str, page_field: str, ref_type: Any, store_attr: str
) -> Listing:
    return Listing(
        operation=Operation(name, method),
        batch=lambda ref: (getattr(ref, store_attr),),
        params=lambda batch: {store_param: batch[0]},
        page_field=page_field,
        token_param="nextToken",
        summary=_store_summary(ref_type, f"a {name} item"),
        created_after=True,
        status_param="filter.status",
    )


def _run_summary(raw: Mapping[str, Any], batch: tuple[str, ...]) -> Summary:
    what = "a ListRuns item"
    return Summary(
        RunRef._from_service(_required_text(raw, "id", what)),
        _required_text(raw, "status", what),
        _time(raw, "creationTime", what, required=False),
    )


def _task_summary(raw: Mapping[str, Any], batch: tuple[str, ...]) -> Summary:
    what = "a ListRunTasks item"
    return Summary(
        TaskRef._from_service(batch[0], _required_text(raw, "taskId", what)),
        _required_text(raw, "status", what),
        _time(raw, "creationTime", what, required=False),
    )


def _analytics_summary(
    ref_type: Any, what: str
) -> Callable[[Mapping[str, Any], tuple[str, ...]], Summary]:
    def summary(raw: Mapping[str, Any], batch: tuple[str, ...]) -> Summary:
        return Summary(
            ref_type._from_service(_required_text(raw, "id", what)),
            _required_text(raw, "status", what),
            _time(raw, "creationTime", what, required=False),
        )

    return summary


def _no_params(batch: tuple[str, ...]) -> Params:
    return {}


# -- The kinds ----------------------------------------------------------------------------

ACTIVATION_JOB: Kind[ActivationJob] = Kind(
    word="activation",
    noun="read set activation job",
    ref_type=ReadSetActivationJobRef,
    model=ActivationJob,
    get=Operation("GetReadSetActivationJob", "get_read_set_activation_job"),
    get_params=lambda r: {"sequenceStoreId": r.sequence_store_id, "id": r.job_id},
    parse=lambda raw, ref: parse_job(raw),
    item_noun="read set",
    listing=_store_listing(
        "ListReadSetActivationJobs",
        "list_read_set_activation_jobs",
        "sequenceStoreId",
        "activationJobs",
        ReadSetActivationJobRef,
        "sequence_store_id",
    ),
    **_STORAGE,  # type: ignore[arg-type]
)

READ_SET_IMPORT_JOB: Kind[ReadSetImportJob] = Kind(
    word="read-set-import",
    noun="read set import job",
    ref_type=ReadSetImportJobRef,
    model=ReadSetImportJob,
    get=Operation("GetReadSetImportJob", "get_read_set_import_job"),
    get_params=lambda r: {"sequenceStoreId": r.sequence_store_id, "id": r.job_id},
    parse=lambda raw, ref: parse_read_set_import_job(raw),
    item_noun="source",
    listing=_store_listing(
        "ListReadSetImportJobs",
        "list_read_set_import_jobs",
        "sequenceStoreId",
        "importJobs",
        ReadSetImportJobRef,
        "sequence_store_id",
    ),
    **_STORAGE,  # type: ignore[arg-type]
)

READ_SET_EXPORT_JOB: Kind[ReadSetExportJob] = Kind(
    word="read-set-export",
    noun="read set export job",
    ref_type=ReadSetExportJobRef,
    model=ReadSetExportJob,
    get=Operation("GetReadSetExportJob", "get_read_set_export_job"),
    get_params=lambda r: {"sequenceStoreId": r.sequence_store_id, "id": r.job_id},
    parse=lambda raw, ref: parse_read_set_export_job(raw),
    item_noun="read set",
    listing=_store_listing(
        "ListReadSetExportJobs",
        "list_read_set_export_jobs",
        "sequenceStoreId",
        "exportJobs",
        ReadSetExportJobRef,
        "sequence_store_id",
    ),
    **_STORAGE,  # type: ignore[arg-type]
)

REFERENCE_IMPORT_JOB: Kind[ReferenceImportJob] = Kind(
    word="reference-import",
    noun="reference import job",
    ref_type=ReferenceImportJobRef,
    model=ReferenceImportJob,
    get=Operation("GetReferenceImportJob", "get_reference_import_job"),
    get_params=lambda r: {"referenceStoreId": r.reference_store_id, "id": r.job_id},
    parse=lambda raw, ref: parse_reference_import_job(raw),
    item_noun="source",
    listing=_store_listing(
        "ListReferenceImportJobs",
        "list_reference_import_jobs",
        "referenceStoreId",
        "importJobs",
        ReferenceImportJobRef,
        "reference_store_id",
    ),
    **_STORAGE,  # type: ignore[arg-type]
)

RUN: Kind[Run] = Kind(
    word="run",
    noun="run",
    ref_type=RunRef,
    model=Run,
    get=Operation("GetRun", "get_run"),
    get_params=lambda r: {"id": r.run_id},
    parse=lambda raw, ref: parse_run(raw),
    item_noun="task",
    listing=Listing(
        operation=Operation("ListRuns", "list_runs"),
        batch=lambda ref: (),
        params=_no_params,
        page_field="items",
        token_param="startingToken",
        summary=_run_summary,
        active_statuses=("PENDING", "STARTING", "RUNNING", "STOPPING"),
    ),
    item_listing=ItemListing(
        operation=Operation("ListRunTasks", "list_run_tasks"),
        params=lambda r: {"id": r.run_id},
        page_field="items",
        token_param="startingToken",
        parse=lambda raw, ref: parse_task(raw, ref.run_id),
    ),
    **_RUN,  # type: ignore[arg-type]
)

TASK: Kind[Task] = Kind(
    word="task",
    noun="task",
    ref_type=TaskRef,
    model=Task,
    get=Operation("GetRunTask", "get_run_task"),
    get_params=lambda r: {"id": r.run_id, "taskId": r.task_id},
    parse=lambda raw, ref: parse_task(raw, ref.run_id),
    listing=Listing(
        operation=Operation("ListRunTasks", "list_run_tasks"),
        batch=lambda ref: (ref.run_id,),
        params=lambda batch: {"id": batch[0]},
        page_field="items",
        token_param="startingToken",
        summary=_task_summary,
    ),
    **_TASK,  # type: ignore[arg-type]
)

VARIANT_IMPORT_JOB: Kind[VariantImportJob] = Kind(
    word="variant-import",
    noun="variant import job",
    ref_type=VariantImportJobRef,
    model=VariantImportJob,
    get=Operation("GetVariantImportJob", "get_variant_import_job"),
    get_params=lambda r: {"jobId": r.job_id},
    parse=lambda raw, ref: parse_variant_import_job(raw),
    item_noun="source",
    listing=Listing(
        operation=Operation("ListVariantImportJobs", "list_variant_import_jobs"),
        batch=lambda ref: (),
        params=_no_params,
        page_field="variantImportJobs",
        token_param="nextToken",
        summary=_analytics_summary(VariantImportJobRef, "a ListVariantImportJobs item"),
        active_statuses=("SUBMITTED", "IN_PROGRESS"),
        status_param="filter.status",
    ),
    **_ANALYTICS,  # type: ignore[arg-type]
)

ANNOTATION_IMPORT_JOB: Kind[AnnotationImportJob] = Kind(
    word="annotation-import",
    noun="annotation import job",
    ref_type=AnnotationImportJobRef,
    model=AnnotationImportJob,
    get=Operation("GetAnnotationImportJob", "get_annotation_import_job"),
    get_params=lambda r: {"jobId": r.job_id},
    parse=lambda raw, ref: parse_annotation_import_job(raw),
    item_noun="source",
    listing=Listing(
        operation=Operation("ListAnnotationImportJobs", "list_annotation_import_jobs"),
        batch=lambda ref: (),
        params=_no_params,
        page_field="annotationImportJobs",
        token_param="nextToken",
        summary=_analytics_summary(AnnotationImportJobRef, "a ListAnnotationImportJobs item"),
        active_statuses=("SUBMITTED", "IN_PROGRESS"),
        status_param="filter.status",
    ),
    **_ANALYTICS,  # type: ignore[arg-type]
)

WORKFLOW: Kind[Workflow] = Kind(
    word="workflow",
    noun="workflow",
    ref_type=WorkflowRef,
    model=Workflow,
    get=Operation("GetWorkflow", "get_workflow"),
    get_params=lambda r: {"id": r.workflow_id},
    parse=lambda raw, ref: parse_workflow(raw),
    **_WORKFLOW,  # type: ignore[arg-type]
)

WORKFLOW_VERSION: Kind[WorkflowVersion] = Kind(
    word="workflow-version",
    noun="workflow version",
    ref_type=WorkflowVersionRef,
    model=WorkflowVersion,
    get=Operation("GetWorkflowVersion", "get_workflow_version"),
    get_params=lambda r: {"workflowId": r.workflow_id, "versionName": r.version_name},
    parse=lambda raw, ref: parse_workflow_version(raw),
    **_WORKFLOW,  # type: ignore[arg-type]
)

#: ListWorkflows, for ``omics-waiter list workflow`` only. It is not `WORKFLOW.listing`, so
#: the scheduler never batches workflow waits through it: a workflow is polled with
#: GetWorkflow alone (ListWorkflows has no status filter, so a sweep could not narrow to the
#: workflows still being created, and the account's workflows outlive their creation).
#: It asks for PRIVATE workflows: those GetWorkflow finds without a type, so that every ID
#: listed is one ``wait workflow`` takes.
WORKFLOW_LISTING = Listing(
    operation=Operation("ListWorkflows", "list_workflows"),
    batch=lambda ref: (),
    params=lambda batch: {"type": "PRIVATE"},
    page_field="items",
    token_param="startingToken",
    summary=_analytics_summary(WorkflowRef, "a ListWorkflows item"),
)

KINDS: dict[str, Kind[Any]] = {
    kind.word: kind
    for kind in (
        ACTIVATION_JOB,
        READ_SET_IMPORT_JOB,
        READ_SET_EXPORT_JOB,
        REFERENCE_IMPORT_JOB,
        RUN,
        TASK,
        VARIANT_IMPORT_JOB,
        ANNOTATION_IMPORT_JOB,
        WORKFLOW,
        WORKFLOW_VERSION,
    )
}
_BY_REF: dict[type[Any], Kind[Any]] = {kind.ref_type: kind for kind in KINDS.values()}


def kind_of(ref: JobRef[JobT]) -> Kind[JobT]:
    """The kind of a reference.

    Raises:
        InvalidInputError: `ref` is not a job reference.
    """
    kind = _BY_REF.get(type(ref))
    if kind is None:
        from ._errors import InvalidInputError

        raise InvalidInputError(
            f"expected a job reference such as RunRef(...), not {type(ref).__name__}",
            argument="ref",
        )
    return kind
