"""Typed values for read set activation jobs, parsed once from the service's responses."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import UnexpectedResponseError

__all__ = [
    "ActivationJob",
    "ActivationJobStatus",
    "ActivationJobSummary",
    "ActivationSource",
    "SourceStatus",
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
