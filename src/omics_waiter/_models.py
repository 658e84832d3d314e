"""Typed values for every kind of job, parsed once from the service's responses.

Statuses are open enums: a value AWS adds later is kept (``is_known`` False) rather than
crashing the parser, and the engine reports it clearly.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import UnexpectedResponseError
from ._refs import (
    AnnotationImportJobRef,
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

__all__ = [
    "ActivationJob",
    "ActivationJobStatus",
    "ActivationJobSummary",
    "ActivationSource",
    "AnnotationImportJob",
    "JobItem",
    "JobStatus",
    "ReadSetExportJob",
    "ReadSetImportJob",
    "ReferenceImportJob",
    "Run",
    "RunStatus",
    "SourceStatus",
    "Task",
    "TaskStatus",
    "VariantImportJob",
    "Workflow",
    "WorkflowStatus",
    "WorkflowVersion",
]


class _OpenEnum(str, enum.Enum):
    """A string enum that keeps values the service sends but this release does not know.

    A new status added by AWS must not crash a parser: the value is kept as a
    pseudo-member whose `is_known` is False, and the engine reports it clearly.
    """

    @classmethod
    def _missing_(cls, value: object) -> _OpenEnum | None:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    @property
    def is_known(self) -> bool:
        """Whether this status is one this release of omics-waiter knows."""
        return self._name_ in type(self).__members__

    def __str__(self) -> str:
        return str(self.value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self._name_}"


class ActivationJobStatus(_OpenEnum):
    """The status of a read set activation job."""

    SUBMITTED = "SUBMITTED"
    IN_PROGRESS = "IN_PROGRESS"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_FAILURES = "COMPLETED_WITH_FAILURES"

    @property
    def is_terminal(self) -> bool:
        """Whether the job will not change any more."""
        return self in _TERMINAL_JOB


_TERMINAL_JOB = frozenset(
    {
        ActivationJobStatus.CANCELLED,
        ActivationJobStatus.FAILED,
        ActivationJobStatus.COMPLETED,
        ActivationJobStatus.COMPLETED_WITH_FAILURES,
    }
)


class SourceStatus(_OpenEnum):
    """The status of one read set (a source) in an activation job."""

    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    FINISHED = "FINISHED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        """Whether the read set will not change any more."""
        return self in (SourceStatus.FINISHED, SourceStatus.FAILED)


@dataclass(frozen=True, slots=True)
class ActivationSource:
    """One read set of an activation job.

    Attributes:
        read_set_id: The read set's ID.
        status: Where its activation stands.
        status_message: The service's message, usually set when it failed.
    """

    read_set_id: str
    status: SourceStatus
    status_message: str | None = None


@dataclass(frozen=True, slots=True)
class ActivationJob:
    """A read set activation job, as GetReadSetActivationJob returned it.

    Attributes:
        id: The job's ID.
        sequence_store_id: The sequence store the job runs in.
        status: The job's status.
        status_message: The service's message about the status, if any.
        creation_time: When the job was created (timezone-aware).
        completion_time: When it reached a terminal status, if it has.
        sources: The job's read sets, in the service's order.
    """

    id: str
    sequence_store_id: str
    status: ActivationJobStatus
    creation_time: dt.datetime
    status_message: str | None = None
    completion_time: dt.datetime | None = None
    sources: tuple[ActivationSource, ...] = ()

    @property
    def is_terminal(self) -> bool:
        """Whether the job will not change any more."""
        return self.status.is_terminal

    @property
    def ref(self) -> ReadSetActivationJobRef:
        """The reference to this job."""
        return ReadSetActivationJobRef(self.sequence_store_id, self.id)

    @property
    def items(self) -> tuple[ActivationSource, ...]:
        """Its read sets (the same as `sources`)."""
        return self.sources

    @property
    def failed_items(self) -> tuple[ActivationSource, ...]:
        """The read sets whose activation failed (the same as `failed_sources`)."""
        return self.failed_sources

    @property
    def failed_sources(self) -> tuple[ActivationSource, ...]:
        """The read sets whose activation failed."""
        return tuple(s for s in self.sources if s.status is SourceStatus.FAILED)

    @property
    def finished_sources(self) -> tuple[ActivationSource, ...]:
        """The read sets that were activated."""
        return tuple(s for s in self.sources if s.status is SourceStatus.FINISHED)


@dataclass(frozen=True, slots=True)
class ActivationJobSummary:
    """A job as ListReadSetActivationJobs returns it: no per-read-set detail."""

    id: str
    sequence_store_id: str
    status: ActivationJobStatus
    creation_time: dt.datetime
    completion_time: dt.datetime | None = None

    @property
    def is_terminal(self) -> bool:
        """Whether the job will not change any more."""
        return self.status.is_terminal


# Parsing: the one place raw botocore dicts become values.


def _field(raw: Mapping[str, Any], name: str, what: str) -> Any:
    try:
        return raw[name]
    except KeyError:
        raise UnexpectedResponseError(f"{what} has no {name!r} field") from None
    except TypeError:
        raise UnexpectedResponseError(f"{what} is not an object: {type(raw).__name__}") from None


def _text(raw: Mapping[str, Any], name: str, what: str, *, required: bool = True) -> str | None:
    value = _field(raw, name, what) if required else raw.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise UnexpectedResponseError(f"{what} field {name!r} is not a string: {value!r}")
    return value


def _time(raw: Mapping[str, Any], name: str, what: str, *, required: bool) -> dt.datetime | None:
    value = _field(raw, name, what) if required else raw.get(name)
    if value is None and not required:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise UnexpectedResponseError(
                f"{what} field {name!r} is not a time: {value!r}"
            ) from None
    if not isinstance(value, dt.datetime):
        raise UnexpectedResponseError(f"{what} field {name!r} is not a time: {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


def _required_text(raw: Mapping[str, Any], name: str, what: str) -> str:
    value = _text(raw, name, what)
    assert value is not None
    return value


def _required_time(raw: Mapping[str, Any], name: str, what: str) -> dt.datetime:
    value = _time(raw, name, what, required=True)
    assert value is not None
    return value


def parse_source(raw: Mapping[str, Any]) -> ActivationSource:
    """Parse one `sources` item of a GetReadSetActivationJob response."""
    what = "an activation job source"
    return ActivationSource(
        read_set_id=_required_text(raw, "readSetId", what),
        status=SourceStatus(_required_text(raw, "status", what)),
        status_message=_text(raw, "statusMessage", what, required=False),
    )


def parse_job(raw: Mapping[str, Any]) -> ActivationJob:
    """Parse a GetReadSetActivationJob response.

    Raises:
        UnexpectedResponseError: the response lacks a required field or has one of the wrong type.
    """
    what = "GetReadSetActivationJob's response"
    sources = raw.get("sources", []) if isinstance(raw, Mapping) else None
    if not isinstance(sources, list):
        raise UnexpectedResponseError(f"{what} field 'sources' is not a list: {sources!r}")
    return ActivationJob(
        id=_required_text(raw, "id", what),
        sequence_store_id=_required_text(raw, "sequenceStoreId", what),
        status=ActivationJobStatus(_required_text(raw, "status", what)),
        status_message=_text(raw, "statusMessage", what, required=False),
        creation_time=_required_time(raw, "creationTime", what),
        completion_time=_time(raw, "completionTime", what, required=False),
        sources=tuple(parse_source(s) for s in sources),
    )


def parse_summary(raw: Mapping[str, Any]) -> ActivationJobSummary:
    """Parse one `activationJobs` item of a ListReadSetActivationJobs response."""
    what = "a ListReadSetActivationJobs item"
    return ActivationJobSummary(
        id=_required_text(raw, "id", what),
        sequence_store_id=_required_text(raw, "sequenceStoreId", what),
        status=ActivationJobStatus(_required_text(raw, "status", what)),
        creation_time=_required_time(raw, "creationTime", what),
        completion_time=_time(raw, "completionTime", what, required=False),
    )


# -- Workflow runs and tasks --------------------------------------------------------------


class RunStatus(_OpenEnum):
    """The status of a workflow run."""

    PENDING = "PENDING"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    COMPLETED = "COMPLETED"
    DELETED = "DELETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


class TaskStatus(_OpenEnum):
    """The status of one task of a workflow run."""

    PENDING = "PENDING"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Task:
    """A task of a workflow run, as GetRunTask (or ListRunTasks) returned it.

    Attributes:
        run_id: The run it belongs to.
        task_id: The task's ID.
        status: Its status.
        name: The task's name in the workflow, if given.
        status_message: The service's message about the status, if any.
        failure_reason: Why it failed, if it did.
        creation_time: When it was created, if told.
        start_time: When it started, if it has.
        stop_time: When it stopped, if it has.
    """

    run_id: str
    task_id: str
    status: TaskStatus
    name: str | None = None
    status_message: str | None = None
    failure_reason: str | None = None
    creation_time: dt.datetime | None = None
    start_time: dt.datetime | None = None
    stop_time: dt.datetime | None = None

    @property
    def ref(self) -> TaskRef:
        """The reference to this task."""
        return TaskRef(self.run_id, self.task_id)

    @property
    def items(self) -> tuple[()]:
        """A task has no items."""
        return ()

    @property
    def failed_items(self) -> tuple[()]:
        """A task has no items."""
        return ()


@dataclass(frozen=True, slots=True)
class Run:
    """A workflow run, as GetRun returned it.

    Attributes:
        id: The run's ID.
        status: Its status.
        name: The run's name, if given.
        arn: The run's ARN.
        workflow_id: The workflow it runs.
        status_message: The service's message about the status, if any.
        failure_reason: Why it failed, if it did.
        creation_time: When it was created, if told.
        start_time: When it started, if it has.
        stop_time: When it stopped, if it has.
        output_uri: Where its outputs go (``runOutputUri``), if told.
        tasks: Its tasks (ListRunTasks), when they were asked for (``items=True``); else empty.
    """

    id: str
    status: RunStatus
    name: str | None = None
    arn: str | None = None
    workflow_id: str | None = None
    status_message: str | None = None
    failure_reason: str | None = None
    creation_time: dt.datetime | None = None
    start_time: dt.datetime | None = None
    stop_time: dt.datetime | None = None
    output_uri: str | None = None
    tasks: tuple[Task, ...] = ()

    @property
    def ref(self) -> RunRef:
        """The reference to this run."""
        return RunRef(self.id)

    @property
    def items(self) -> tuple[Task, ...]:
        """Its tasks, when fetched (the same as `tasks`)."""
        return self.tasks

    @property
    def failed_items(self) -> tuple[Task, ...]:
        """The tasks that failed (of those fetched)."""
        return tuple(t for t in self.tasks if t.status is TaskStatus.FAILED)


def parse_task(raw: Mapping[str, Any], run_id: str) -> Task:
    """Parse a GetRunTask response, or one `items` entry of ListRunTasks."""
    what = "a run task"
    return Task(
        run_id=run_id,
        task_id=_required_text(raw, "taskId", what),
        status=TaskStatus(_required_text(raw, "status", what)),
        name=_text(raw, "name", what, required=False),
        status_message=_text(raw, "statusMessage", what, required=False),
        failure_reason=_text(raw, "failureReason", what, required=False),
        creation_time=_time(raw, "creationTime", what, required=False),
        start_time=_time(raw, "startTime", what, required=False),
        stop_time=_time(raw, "stopTime", what, required=False),
    )


def parse_run(raw: Mapping[str, Any], tasks: tuple[Task, ...] = ()) -> Run:
    """Parse a GetRun response (or a ListRuns item)."""
    what = "GetRun's response"
    return Run(
        id=_required_text(raw, "id", what),
        status=RunStatus(_required_text(raw, "status", what)),
        name=_text(raw, "name", what, required=False),
        arn=_text(raw, "arn", what, required=False),
        workflow_id=_text(raw, "workflowId", what, required=False),
        status_message=_text(raw, "statusMessage", what, required=False),
        failure_reason=_text(raw, "failureReason", what, required=False),
        creation_time=_time(raw, "creationTime", what, required=False),
        start_time=_time(raw, "startTime", what, required=False),
        stop_time=_time(raw, "stopTime", what, required=False),
        output_uri=_text(raw, "runOutputUri", what, required=False),
        tasks=tasks,
    )


# -- Storage and analytics jobs -----------------------------------------------------------


class JobStatus(_OpenEnum):
    """The status of a read set import or export, reference import or analytics import job."""

    SUBMITTED = "SUBMITTED"
    IN_PROGRESS = "IN_PROGRESS"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_FAILURES = "COMPLETED_WITH_FAILURES"


@dataclass(frozen=True, slots=True)
class JobItem:
    """One item of an import or export job: a source file, a read set or a reference.

    Attributes:
        key: What identifies it in the job, the same all its life: its read set (export),
            else its source file (imports), else its position (``"#3"``). A source file
            that appears twice in a job is told apart by its position (``"s3://... #2"``).
        status: Its status (`SourceStatus`; `JobStatus` for analytics import items).
        status_message: The service's message, usually set when it failed.
        source: Its source file (S3 URI), when the job has one.
        resource_id: The read set it exports, or the read set or reference an import
            created (known once it FINISHED).
    """

    key: str
    status: SourceStatus | JobStatus
    status_message: str | None = None
    source: str | None = None
    resource_id: str | None = None


@dataclass(frozen=True, slots=True)
class _StorageJob:
    id: str
    status: JobStatus
    status_message: str | None = None
    creation_time: dt.datetime | None = None
    completion_time: dt.datetime | None = None
    items: tuple[JobItem, ...] = ()

    @property
    def failed_items(self) -> tuple[JobItem, ...]:
        """The items that failed."""
        return tuple(i for i in self.items if i.status in (SourceStatus.FAILED, JobStatus.FAILED))


@dataclass(frozen=True, slots=True)
class ReadSetImportJob(_StorageJob):
    """A read set import job (GetReadSetImportJob); `items` are its sources.

    Attributes:
        sequence_store_id: Its sequence store.
    """

    sequence_store_id: str = ""

    @property
    def ref(self) -> ReadSetImportJobRef:
        """The reference to this job."""
        return ReadSetImportJobRef(self.sequence_store_id, self.id)


@dataclass(frozen=True, slots=True)
class ReadSetExportJob(_StorageJob):
    """A read set export job (GetReadSetExportJob); `items` are its read sets.

    Attributes:
        sequence_store_id: Its sequence store.
    """

    sequence_store_id: str = ""

    @property
    def ref(self) -> ReadSetExportJobRef:
        """The reference to this job."""
        return ReadSetExportJobRef(self.sequence_store_id, self.id)


@dataclass(frozen=True, slots=True)
class ReferenceImportJob(_StorageJob):
    """A reference import job (GetReferenceImportJob); `items` are its sources.

    Attributes:
        reference_store_id: Its reference store.
    """

    reference_store_id: str = ""

    @property
    def ref(self) -> ReferenceImportJobRef:
        """The reference to this job."""
        return ReferenceImportJobRef(self.reference_store_id, self.id)


@dataclass(frozen=True, slots=True)
class VariantImportJob(_StorageJob):
    """A variant import job (GetVariantImportJob); `items` are its source files.

    Attributes:
        destination_name: The variant store it imports into.
    """

    destination_name: str | None = None

    @property
    def ref(self) -> VariantImportJobRef:
        """The reference to this job."""
        return VariantImportJobRef(self.id)


@dataclass(frozen=True, slots=True)
class AnnotationImportJob(_StorageJob):
    """An annotation import job (GetAnnotationImportJob); `items` are its source files.

    Attributes:
        destination_name: The annotation store it imports into.
    """

    destination_name: str | None = None

    @property
    def ref(self) -> AnnotationImportJobRef:
        """The reference to this job."""
        return AnnotationImportJobRef(self.id)


class WorkflowStatus(_OpenEnum):
    """The status of a workflow or workflow version."""

    CREATING = "CREATING"
    ACTIVE = "ACTIVE"
    UPDATING = "UPDATING"
    DELETED = "DELETED"
    FAILED = "FAILED"
    INACTIVE = "INACTIVE"


@dataclass(frozen=True, slots=True)
class Workflow:
    """A private workflow (GetWorkflow).

    Attributes:
        id: Its ID.
        status: Its status: usable once ACTIVE.
        name: Its name, if given.
        arn: Its ARN.
        status_message: The service's message about the status, if any.
        creation_time: When it was created, if told.
    """

    id: str
    status: WorkflowStatus
    name: str | None = None
    arn: str | None = None
    status_message: str | None = None
    creation_time: dt.datetime | None = None

    @property
    def ref(self) -> WorkflowRef:
        """The reference to this workflow."""
        return WorkflowRef(self.id)

    @property
    def items(self) -> tuple[()]:
        """A workflow has no items."""
        return ()

    @property
    def failed_items(self) -> tuple[()]:
        """A workflow has no items."""
        return ()


@dataclass(frozen=True, slots=True)
class WorkflowVersion:
    """A workflow version (GetWorkflowVersion).

    Attributes:
        workflow_id: The workflow.
        version_name: The version's name.
        status: Its status: usable once ACTIVE.
        arn: Its ARN.
        status_message: The service's message about the status, if any.
        creation_time: When it was created, if told.
    """

    workflow_id: str
    version_name: str
    status: WorkflowStatus
    arn: str | None = None
    status_message: str | None = None
    creation_time: dt.datetime | None = None

    @property
    def ref(self) -> WorkflowVersionRef:
        """The reference to this workflow version."""
        return WorkflowVersionRef(self.workflow_id, self.version_name)

    @property
    def items(self) -> tuple[()]:
        """A workflow version has no items."""
        return ()

    @property
    def failed_items(self) -> tuple[()]:
        """A workflow version has no items."""
        return ()


def _list(raw: Mapping[str, Any], name: str, what: str) -> list[Any]:
    value = raw.get(name, []) if isinstance(raw, Mapping) else None
    if value is None:
        return []
    if not isinstance(value, list):
        raise UnexpectedResponseError(f"{what} field {name!r} is not a list: {value!r}")
    return value


def _item(raw: Mapping[str, Any], index: int, what: str, *, analytics: bool = False) -> JobItem:
    status_field = "jobStatus" if analytics else "status"
    status_text = _required_text(raw, status_field, what)
    status: SourceStatus | JobStatus = (
        JobStatus(status_text) if analytics else SourceStatus(status_text)
    )
    source = _text(raw, "source", what, required=False) or _text(
        raw, "sourceFile", what, required=False
    )
    files = raw.get("sourceFiles")
    if source is None and isinstance(files, Mapping):
        source = _text(files, "source1", what, required=False)
    # An export's read set is its `id`; an import names the read set (reference) it
    # created only once FINISHED, so that name cannot be its key: the key would change.
    exported = _text(raw, "id", what, required=False)
    created = _text(raw, "readSetId", what, required=False) or _text(
        raw, "referenceId", what, required=False
    )
    return JobItem(
        key=exported or source or f"#{index + 1}",
        status=status,
        status_message=_text(raw, "statusMessage", what, required=False),
        source=source,
        resource_id=exported or created,
    )


def _items(
    raw: Mapping[str, Any], field: str, what: str, *, analytics: bool
) -> tuple[JobItem, ...]:
    items = [
        _item(item, i, what, analytics=analytics) for i, item in enumerate(_list(raw, field, what))
    ]
    seen = collections.Counter(item.key for item in items)
    return tuple(
        dataclasses.replace(item, key=f"{item.key} #{i + 1}") if seen[item.key] > 1 else item
        for i, item in enumerate(items)
    )


def _storage_fields(
    raw: Mapping[str, Any], what: str, items_field: str, *, analytics: bool = False
) -> dict[str, Any]:
    return {
        "id": _required_text(raw, "id", what),
        "status": JobStatus(_required_text(raw, "status", what)),
        "status_message": _text(raw, "statusMessage", what, required=False),
        "creation_time": _time(raw, "creationTime", what, required=False),
        "completion_time": _time(raw, "completionTime", what, required=False),
        "items": _items(raw, items_field, what, analytics=analytics),
    }


def parse_read_set_import_job(raw: Mapping[str, Any]) -> ReadSetImportJob:
    """Parse a GetReadSetImportJob response."""
    what = "GetReadSetImportJob's response"
    return ReadSetImportJob(
        **_storage_fields(raw, what, "sources"),
        sequence_store_id=_required_text(raw, "sequenceStoreId", what),
    )


def parse_read_set_export_job(raw: Mapping[str, Any]) -> ReadSetExportJob:
    """Parse a GetReadSetExportJob response."""
    what = "GetReadSetExportJob's response"
    return ReadSetExportJob(
        **_storage_fields(raw, what, "readSets"),
        sequence_store_id=_required_text(raw, "sequenceStoreId", what),
    )


def parse_reference_import_job(raw: Mapping[str, Any]) -> ReferenceImportJob:
    """Parse a GetReferenceImportJob response."""
    what = "GetReferenceImportJob's response"
    return ReferenceImportJob(
        **_storage_fields(raw, what, "sources"),
        reference_store_id=_required_text(raw, "referenceStoreId", what),
    )


def parse_variant_import_job(raw: Mapping[str, Any]) -> VariantImportJob:
    """Parse a GetVariantImportJob response."""
    what = "GetVariantImportJob's response"
    return VariantImportJob(
        **_storage_fields(raw, what, "items", analytics=True),
        destination_name=_text(raw, "destinationName", what, required=False),
    )


def parse_annotation_import_job(raw: Mapping[str, Any]) -> AnnotationImportJob:
    """Parse a GetAnnotationImportJob response."""
    what = "GetAnnotationImportJob's response"
    return AnnotationImportJob(
        **_storage_fields(raw, what, "items", analytics=True),
        destination_name=_text(raw, "destinationName", what, required=False),
    )


def parse_workflow(raw: Mapping[str, Any]) -> Workflow:
    """Parse a GetWorkflow response."""
    what = "GetWorkflow's response"
    return Workflow(
        id=_required_text(raw, "id", what),
        status=WorkflowStatus(_required_text(raw, "status", what)),
        name=_text(raw, "name", what, required=False),
        arn=_text(raw, "arn", what, required=False),
        status_message=_text(raw, "statusMessage", what, required=False),
        creation_time=_time(raw, "creationTime", what, required=False),
    )


def parse_workflow_version(raw: Mapping[str, Any]) -> WorkflowVersion:
    """Parse a GetWorkflowVersion response."""
    what = "GetWorkflowVersion's response"
    return WorkflowVersion(
        workflow_id=_required_text(raw, "workflowId", what),
        version_name=_required_text(raw, "versionName", what),
        status=WorkflowStatus(_required_text(raw, "status", what)),
        arn=_text(raw, "arn", what, required=False),
        status_message=_text(raw, "statusMessage", what, required=False),
        creation_time=_time(raw, "creationTime", what, required=False),
    )
