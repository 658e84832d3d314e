"""The job kinds the emulator serves, as data: statuses, item statuses, operations, events.

Every kind runs on the same machinery (a timeline of `Step`s evaluated against the clock); what
differs between kinds is held here, in one table a test can hold against the service model.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["KINDS", "Kind", "KindSpec", "spec"]


class Kind(str, enum.Enum):
    """A kind of job-like resource. The values are what `OmicsEmulator.job_state` accepts."""

    READ_SET_ACTIVATION_JOB = "read_set_activation_job"
    READ_SET_IMPORT_JOB = "read_set_import_job"
    READ_SET_EXPORT_JOB = "read_set_export_job"
    REFERENCE_IMPORT_JOB = "reference_import_job"
    RUN = "run"
    TASK = "task"
    VARIANT_IMPORT_JOB = "variant_import_job"
    ANNOTATION_IMPORT_JOB = "annotation_import_job"
    WORKFLOW = "workflow"
    WORKFLOW_VERSION = "workflow_version"


_STORAGE_FINAL = frozenset({"CANCELLED", "FAILED", "COMPLETED", "COMPLETED_WITH_FAILURES"})
_RUN_FINAL = frozenset({"COMPLETED", "DELETED", "CANCELLED", "FAILED"})
_WORKFLOW_FINAL = frozenset({"ACTIVE", "FAILED", "DELETED", "INACTIVE"})


@dataclass(frozen=True, slots=True)
class KindSpec:
    """What sets a kind apart.

    Attributes:
        kind: The kind.
        noun: How messages name one ("Read set import job").
        initial_status: The status of a new one.
        final_statuses: Statuses that set ``completionTime`` (``stopTime`` for runs and tasks)
            and that `OmicsEmulator.completion_time` reports.
        item_statuses: The statuses of its items (NOT_STARTED, IN_PROGRESS, done, failed), or
            None for kinds without items.
        running_status: The status that sets ``startTime``, if the kind has one.
        get_operation: The operation that reads one.
        detail_type: Its EventBridge detail-type, or None if the service sends no event.
        id_digits: Length of its generated numeric IDs; 0 means a UUID; None means the caller
            names it (workflow versions).
    """

    kind: Kind
    noun: str
    initial_status: str
    final_statuses: frozenset[str]
    item_statuses: tuple[str, str, str, str] | None
    running_status: str | None
    get_operation: str
    detail_type: str | None
    id_digits: int | None


_STORAGE_ITEMS = ("NOT_STARTED", "IN_PROGRESS", "FINISHED", "FAILED")
_ANALYTICS_ITEMS = ("SUBMITTED", "IN_PROGRESS", "COMPLETED", "FAILED")

KINDS: dict[Kind, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(
            Kind.READ_SET_ACTIVATION_JOB,
            "Read set activation job",
            "SUBMITTED",
            _STORAGE_FINAL,
            _STORAGE_ITEMS,
            None,
            "GetReadSetActivationJob",
            "Read Set Activation Job Status Change",
            10,
        ),
        KindSpec(
            Kind.READ_SET_IMPORT_JOB,
            "Read set import job",
            "SUBMITTED",
            _STORAGE_FINAL,
            _STORAGE_ITEMS,
            None,
            "GetReadSetImportJob",
            "Read Set Import Job Status Change",
            10,
        ),
        KindSpec(
            Kind.READ_SET_EXPORT_JOB,
            "Read set export job",
            "SUBMITTED",
            _STORAGE_FINAL,
            _STORAGE_ITEMS,
            None,
            "GetReadSetExportJob",
            "Read Set Export Job Status Change",
            10,
        ),
        KindSpec(
            Kind.REFERENCE_IMPORT_JOB,
            "Reference import job",
            "SUBMITTED",
            _STORAGE_FINAL,
            _STORAGE_ITEMS,
            None,
            "GetReferenceImportJob",
            "Reference Import Job Status Change",
            10,
        ),
        KindSpec(
            Kind.RUN,
            "Run",
            "PENDING",
            _RUN_FINAL,
            None,
            "RUNNING",
            "GetRun",
            "Run Status Change",
            7,
        ),
        KindSpec(
            Kind.TASK,
            "Task",
            "PENDING",
            _RUN_FINAL - {"DELETED"},
            None,
            "RUNNING",
            "GetRunTask",
            "Task Status Change",
            7,
        ),
        KindSpec(
            Kind.VARIANT_IMPORT_JOB,
            "Variant import job",
            "SUBMITTED",
            _STORAGE_FINAL,
            _ANALYTICS_ITEMS,
            None,
            "GetVariantImportJob",
            "Variant Import Job Status Change",
            0,
        ),
        KindSpec(
            Kind.ANNOTATION_IMPORT_JOB,
            "Annotation import job",
            "SUBMITTED",
            _STORAGE_FINAL,
            _ANALYTICS_ITEMS,
            None,
            "GetAnnotationImportJob",
            "Annotation Import Job Status Change",
            0,
        ),
        KindSpec(
            Kind.WORKFLOW,
            "Workflow",
            "CREATING",
            _WORKFLOW_FINAL,
            None,
            None,
            "GetWorkflow",
            "Workflow Status Change",
            7,
        ),
        KindSpec(
            Kind.WORKFLOW_VERSION,
            "Workflow version",
            "CREATING",
            _WORKFLOW_FINAL,
            None,
            None,
            "GetWorkflowVersion",
            None,
            None,
        ),
    )
}


def spec(kind: Kind) -> KindSpec:
    """The spec of ``kind``."""
    return KINDS[kind]
