"""The wire format: parsing and validating requests, rendering responses, timestamps.

Constraints and messages follow the botocore model and the wording AWS uses for
ValidationException ("1 validation error detected: Value ... at ... failed to satisfy
constraint: ...").
"""

from __future__ import annotations

import datetime
import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omics_waiter.testing._errors import ApiError
from omics_waiter.testing._jobs import JobSnapshot
from omics_waiter.testing._store import ListFilter

__all__ = [
    "JOB_STATUSES",
    "GetRequest",
    "ListRequest",
    "StartRequest",
    "format_timestamp",
    "get_body",
    "list_item",
    "parse_get",
    "parse_list",
    "parse_start",
    "parse_timestamp_ms",
    "start_body",
    "validate_id",
]

JOB_STATUSES = (
    "SUBMITTED",
    "IN_PROGRESS",
    "CANCELLING",
    "CANCELLED",
    "FAILED",
    "COMPLETED",
    "COMPLETED_WITH_FAILURES",
)
_DIGITS = re.compile(r"[0-9]+")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


@dataclass(frozen=True, slots=True)
class StartRequest:
    sequence_store_id: str
    client_token: str | None
    read_set_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GetRequest:
    sequence_store_id: str
    job_id: str


@dataclass(frozen=True, slots=True)
class ListRequest:
    sequence_store_id: str
    max_results: int
    next_token: str | None
    filter: ListFilter


class _Violations:
    def __init__(self) -> None:
        self._messages: list[str] = []

    def add(self, value: object, where: str, constraint: str) -> None:
        shown = "null" if value is None else f"'{value}'"
        self._messages.append(
            f"Value {shown} at '{where}' failed to satisfy constraint: {constraint}"
        )

    def check(self) -> None:
        count = len(self._messages)
        if count:
            noun = "error" if count == 1 else "errors"
            raise ApiError(
                "ValidationException",
                f"{count} validation {noun} detected: " + "; ".join(self._messages),
            )


def _check_length(violations: _Violations, value: str, where: str, low: int, high: int) -> None:
    if len(value) < low:
        violations.add(value, where, f"Member must have length greater than or equal to {low}")
    if len(value) > high:
        violations.add(value, where, f"Member must have length less than or equal to {high}")


def _check_id(violations: _Violations, value: object, where: str) -> str:
    if value is None:
        violations.add(None, where, "Member must not be null")
        return ""
    if not isinstance(value, str):
        violations.add(value, where, "Member must be a string")
        return ""
    _check_length(violations, value, where, 10, 36)
    if not _DIGITS.fullmatch(value):
        violations.add(value, where, "Member must satisfy regular expression pattern: [0-9]+")
    return value


def validate_id(value: str, name: str) -> None:
    """Check an ID against the model (10-36 digits).

    Raises:
        ValueError: Naming ``name``.
    """
    violations = _Violations()
    _check_id(violations, value, name)
    try:
        violations.check()
    except ApiError as exc:
        raise ValueError(exc.message) from None


def _json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        decoded = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(
            "ValidationException", "Could not parse the request body: it is not valid JSON."
        ) from None
    if not isinstance(decoded, dict):
        raise ApiError("ValidationException", "The request body must be a JSON object.")
    return decoded


def _printable(value: str) -> bool:
    # The model's pattern [\p{L}\p{M}\p{Z}\p{S}\p{N}\p{P}]+: anything but control characters.
    return all(not unicodedata.category(char).startswith("C") for char in value)


def parse_start(sequence_store_id: str, body: bytes) -> StartRequest:
    """Parse and validate StartReadSetActivationJob.

    Raises:
        ApiError: ValidationException.
    """
    violations = _Violations()
    _check_id(violations, sequence_store_id, "sequenceStoreId")
    payload = _json_body(body)
    token = payload.get("clientToken")
    if token is not None:
        if not isinstance(token, str):
            violations.add(token, "clientToken", "Member must be a string")
            token = None
        else:
            _check_length(violations, token, "clientToken", 1, 127)
            if not _printable(token):
                violations.add(
                    token,
                    "clientToken",
                    "Member must satisfy regular expression pattern: "
                    r"[\p{L}||\p{M}||\p{Z}||\p{S}||\p{N}||\p{P}]+",
                )
    sources = payload.get("sources")
    read_set_ids: list[str] = []
    if sources is None:
        violations.add(None, "sources", "Member must not be null")
    elif not isinstance(sources, list):
        violations.add(sources, "sources", "Member must be a list")
    else:
        if len(sources) < 1:
            violations.add(sources, "sources", "Member must have length greater than or equal to 1")
        if len(sources) > 20:
            violations.add(
                f"[{len(sources)} items]",
                "sources",
                "Member must have length less than or equal to 20",
            )
        for index, source in enumerate(sources, start=1):
            where = f"sources.{index}.member.readSetId"
            if not isinstance(source, dict):
                violations.add(source, f"sources.{index}.member", "Member must be a structure")
                continue
            read_set_ids.append(_check_id(violations, source.get("readSetId"), where))
    violations.check()
    return StartRequest(sequence_store_id, token, tuple(read_set_ids))


def parse_get(sequence_store_id: str, job_id: str) -> GetRequest:
    """Validate GetReadSetActivationJob.

    Raises:
        ApiError: ValidationException.
    """
    violations = _Violations()
    _check_id(violations, sequence_store_id, "sequenceStoreId")
    _check_id(violations, job_id, "id")
    violations.check()
    return GetRequest(sequence_store_id, job_id)


def parse_timestamp_ms(value: object, where: str) -> int:
    """A wire timestamp (ISO-8601 string, or epoch seconds) as epoch milliseconds.

    Raises:
        ApiError: ValidationException.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return math.floor(value * 1000)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=datetime.timezone.utc)
            return (parsed - _EPOCH) // datetime.timedelta(milliseconds=1)
    raise ApiError(
        "ValidationException",
        f"Value '{value}' at '{where}' could not be parsed as an ISO-8601 timestamp.",
    )


def parse_list(sequence_store_id: str, query: Mapping[str, str], body: bytes) -> ListRequest:
    """Parse and validate ListReadSetActivationJobs.

    Raises:
        ApiError: ValidationException.
    """
    violations = _Violations()
    _check_id(violations, sequence_store_id, "sequenceStoreId")
    max_results = 100
    raw_max = query.get("maxResults")
    if raw_max is not None:
        try:
            max_results = int(raw_max)
        except ValueError:
            raise ApiError(
                "ValidationException", f"Value '{raw_max}' at 'maxResults' is not a valid integer."
            ) from None
        if max_results < 1:
            violations.add(
                raw_max, "maxResults", "Member must have value greater than or equal to 1"
            )
        if max_results > 100:
            violations.add(
                raw_max, "maxResults", "Member must have value less than or equal to 100"
            )
    next_token = query.get("nextToken")
    if next_token is not None:
        _check_length(violations, next_token, "nextToken", 1, 6144)
    payload = _json_body(body)
    raw_filter = payload.get("filter")
    status = None
    after = before = None
    if raw_filter is not None:
        if not isinstance(raw_filter, dict):
            violations.add(raw_filter, "filter", "Member must be a structure")
        else:
            status = raw_filter.get("status")
            if status is not None and status not in JOB_STATUSES:
                violations.add(
                    status,
                    "filter.status",
                    "Member must satisfy enum value set: [" + ", ".join(JOB_STATUSES) + "]",
                )
            if raw_filter.get("createdAfter") is not None:
                after = parse_timestamp_ms(raw_filter["createdAfter"], "filter.createdAfter")
            if raw_filter.get("createdBefore") is not None:
                before = parse_timestamp_ms(raw_filter["createdBefore"], "filter.createdBefore")
    violations.check()
    return ListRequest(
        sequence_store_id,
        max_results,
        next_token,
        ListFilter(status=status, created_after_ms=after, created_before_ms=before),
    )


def format_timestamp(epoch_ms: int) -> str:
    """Epoch milliseconds as AWS sends a timestamp: ``2024-05-01T12:00:00.123Z``."""
    moment = _EPOCH + datetime.timedelta(milliseconds=epoch_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{epoch_ms % 1000:03d}Z"


def start_body(job: JobSnapshot, created_ms: int) -> dict[str, Any]:
    """The StartReadSetActivationJob response."""
    return {
        "id": job.id,
        "sequenceStoreId": job.sequence_store_id,
        "status": job.status,
        "creationTime": format_timestamp(created_ms),
    }


def list_item(job: JobSnapshot, created_ms: int, completed_ms: int | None) -> dict[str, Any]:
    """One ``activationJobs`` entry of ListReadSetActivationJobs."""
    item = start_body(job, created_ms)
    if completed_ms is not None:
        item["completionTime"] = format_timestamp(completed_ms)
    return item


def get_body(job: JobSnapshot, created_ms: int, completed_ms: int | None) -> dict[str, Any]:
    """The GetReadSetActivationJob response."""
    body: dict[str, Any] = {
        "id": job.id,
        "sequenceStoreId": job.sequence_store_id,
        "status": job.status,
        "creationTime": format_timestamp(created_ms),
    }
    if job.status_message is not None:
        body["statusMessage"] = job.status_message
    if completed_ms is not None:
        body["completionTime"] = format_timestamp(completed_ms)
    sources = []
    for source in job.sources:
        item = {"readSetId": source.read_set_id, "status": source.status}
        if source.status_message is not None:
            item["statusMessage"] = source.status_message
        sources.append(item)
    body["sources"] = sources
    return body
