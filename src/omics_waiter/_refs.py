"""References to jobs: one frozen, hashable value per kind of HealthOmics job.

A reference says which job to wait on and, through its type parameter, what waiting
on it returns: ``await waiter.wait(RunRef("1234567"))`` is a `Run`. Every field is
checked when the reference is made, so a bad ID is an `InvalidInputError` before any
request. The ID rules are the service model's (a test holds them against it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ._errors import InvalidInputError

if TYPE_CHECKING:
    from ._models import (  # noqa: F401 - named in the type parameters of the references below
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
    )

__all__ = [
    "AnnotationImportJobRef",
    "JobRef",
    "ReadSetActivationJobRef",
    "ReadSetExportJobRef",
    "ReadSetImportJobRef",
    "ReferenceImportJobRef",
    "RunRef",
    "TaskRef",
    "VariantImportJobRef",
    "WorkflowRef",
    "WorkflowVersionRef",
]

JobT = TypeVar("JobT", covariant=True)
_Ref = TypeVar("_Ref", bound="JobRef[Any]")

# field rule -> (pattern, min length, max length), as in the service model.
_STORE_ID = (r"[0-9]+", 10, 36)
_WORKFLOWS_ID = (r"[0-9]+", 1, 18)
_UUID = (r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}", 36, 36)
_VERSION_NAME = (r"[A-Za-z0-9][A-Za-z0-9\-\._]*", 1, 64)
RULES: dict[str, tuple[str, int, int]] = {
    "sequence_store_id": _STORE_ID,
    "reference_store_id": _STORE_ID,
    "job_id": _STORE_ID,
    "run_id": _WORKFLOWS_ID,
    "task_id": _WORKFLOWS_ID,
    "workflow_id": _WORKFLOWS_ID,
    "version_name": _VERSION_NAME,
}
_COMPILED = {name: re.compile(rule[0]) for name, rule in RULES.items()}
_UUID_RE = re.compile(_UUID[0])


def _describe(pattern: str, low: int, high: int) -> str:
    if pattern == r"[0-9]+":
        return f"a string of {low} to {high} digits"
    if pattern == _UUID[0]:
        return "a lowercase UUID"
    return (
        f"a string of {low} to {high} letters, digits, '-', '.' or '_' "
        "(starting with a letter or digit)"
    )


def check_field(name: str, value: object, *, uuid: bool = False) -> str:
    """Check one ID field by its rule; return it."""
    pattern, low, high = _UUID if uuid else RULES[name]
    compiled = _UUID_RE if uuid else _COMPILED[name]
    what = _describe(pattern, low, high)
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be {what}, not {type(value).__name__}", argument=name)
    if not (low <= len(value) <= high and compiled.fullmatch(value)):
        raise InvalidInputError(f"{name} must be {what}, got {value!r}", argument=name)
    return value


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """A reference type's field names, in order (read once per type)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


class JobRef(Generic[JobT]):
    """A reference to one HealthOmics job; waiting on it returns a `JobT`.

    Subclasses are frozen dataclasses whose fields are the job's identifiers.
    """

    __slots__ = ()

    #: The kind's word, as the command line spells it (``"activation"``, ``"run"`` ...).
    kind: ClassVar[str]
    _uuid_fields: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        for name in _field_names(type(self)):
            check_field(name, getattr(self, name), uuid=name in self._uuid_fields)

    @classmethod
    def _from_service(cls: type[_Ref], *ids: str) -> _Ref:
        """A reference to IDs the service itself returned, not checked again.

        For the hot path of List pages (hundreds of items a sweep, most of them jobs
        nobody watches): an ID the service got wrong matches no watched job, which
        checking it would not change.
        """
        ref = object.__new__(cls)
        for name, value in zip(_field_names(cls), ids, strict=True):
            object.__setattr__(ref, name, value)
        return ref

    @property
    def ids(self) -> tuple[str, ...]:
        """The identifiers, in field order."""
        return tuple(getattr(self, name) for name in _field_names(type(self)))

    def __str__(self) -> str:
        return "/".join(self.ids)


@dataclass(frozen=True, slots=True)
class ReadSetActivationJobRef(JobRef["ActivationJob"]):
    """A read set activation job (StartReadSetActivationJob)."""

    kind: ClassVar[str] = "activation"
    sequence_store_id: str
    job_id: str


@dataclass(frozen=True, slots=True)
class ReadSetImportJobRef(JobRef["ReadSetImportJob"]):
    """A read set import job (StartReadSetImportJob)."""

    kind: ClassVar[str] = "read-set-import"
    sequence_store_id: str
    job_id: str


@dataclass(frozen=True, slots=True)
class ReadSetExportJobRef(JobRef["ReadSetExportJob"]):
    """A read set export job (StartReadSetExportJob)."""

    kind: ClassVar[str] = "read-set-export"
    sequence_store_id: str
    job_id: str


@dataclass(frozen=True, slots=True)
class ReferenceImportJobRef(JobRef["ReferenceImportJob"]):
    """A reference import job (StartReferenceImportJob)."""

    kind: ClassVar[str] = "reference-import"
    reference_store_id: str
    job_id: str


@dataclass(frozen=True, slots=True)
class RunRef(JobRef["Run"]):
    """A workflow run (StartRun)."""

    kind: ClassVar[str] = "run"
    run_id: str


@dataclass(frozen=True, slots=True)
class TaskRef(JobRef["Task"]):
    """One task of a workflow run."""

    kind: ClassVar[str] = "task"
    run_id: str
    task_id: str


@dataclass(frozen=True, slots=True)
class VariantImportJobRef(JobRef["VariantImportJob"]):
    """A variant import job (StartVariantImportJob)."""

    kind: ClassVar[str] = "variant-import"
    _uuid_fields: ClassVar[frozenset[str]] = frozenset({"job_id"})
    job_id: str


@dataclass(frozen=True, slots=True)
class AnnotationImportJobRef(JobRef["AnnotationImportJob"]):
    """An annotation import job (StartAnnotationImportJob)."""

    kind: ClassVar[str] = "annotation-import"
    _uuid_fields: ClassVar[frozenset[str]] = frozenset({"job_id"})
    job_id: str


@dataclass(frozen=True, slots=True)
class WorkflowRef(JobRef["Workflow"]):
    """A private workflow (CreateWorkflow): waiting on it waits until it is ACTIVE."""

    kind: ClassVar[str] = "workflow"
    workflow_id: str


@dataclass(frozen=True, slots=True)
class WorkflowVersionRef(JobRef["WorkflowVersion"]):
    """A workflow version (CreateWorkflowVersion): waiting on it waits until it is ACTIVE."""

    kind: ClassVar[str] = "workflow-version"
    workflow_id: str
    version_name: str


REF_TYPES: tuple[type[JobRef[object]], ...] = (
    ReadSetActivationJobRef,
    ReadSetImportJobRef,
    ReadSetExportJobRef,
    ReferenceImportJobRef,
    RunRef,
    TaskRef,
    VariantImportJobRef,
    AnnotationImportJobRef,
    WorkflowRef,
    WorkflowVersionRef,
)
