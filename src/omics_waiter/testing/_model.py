"""The botocore service model, read once: routes, request parsing and validation.

Everything the emulator knows about the wire format of a request comes from botocore's Omics
model: each served operation's ``http.method`` and ``requestUri`` (``{label}`` and ``{label+}``),
its endpoint host prefix, which input members travel in the URI, the query string, headers or the
JSON body, and the constraints on each (required, length, value range, pattern, enum, list
length). Violations are reported in the words AWS uses::

    1 validation error detected: Value '123' at 'sequenceStoreId' failed to satisfy constraint:
    Member must have length greater than or equal to 10

The model's patterns are Java regular expressions; `java_pattern` translates the parts Python's
``re`` lacks (``\\p{L}`` and friends, ``||`` inside a class).
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from omics_waiter.testing._errors import ApiError

__all__ = [
    "SERVED_OPERATIONS",
    "Route",
    "Router",
    "check_argument",
    "format_timestamp",
    "java_pattern",
    "parse_request",
    "parse_timestamp_ms",
    "service_model",
]

#: The operations the emulator serves, in the order their routes are tried.
SERVED_OPERATIONS: tuple[str, ...] = (
    "StartReadSetActivationJob",
    "GetReadSetActivationJob",
    "ListReadSetActivationJobs",
    "StartReadSetImportJob",
    "GetReadSetImportJob",
    "ListReadSetImportJobs",
    "StartReadSetExportJob",
    "GetReadSetExportJob",
    "ListReadSetExportJobs",
    "StartReferenceImportJob",
    "GetReferenceImportJob",
    "ListReferenceImportJobs",
    "StartRun",
    "GetRun",
    "ListRuns",
    "CancelRun",
    "GetRunTask",
    "ListRunTasks",
    "StartVariantImportJob",
    "GetVariantImportJob",
    "ListVariantImportJobs",
    "StartAnnotationImportJob",
    "GetAnnotationImportJob",
    "ListAnnotationImportJobs",
    "CreateWorkflow",
    "GetWorkflow",
    "ListWorkflows",
    "CreateWorkflowVersion",
    "GetWorkflowVersion",
)

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_LABEL = re.compile(r"\{([^}+]+)(\+?)\}")


@functools.cache
def service_model() -> ServiceModel:
    """botocore's Omics service model (loaded once per process)."""
    return botocore.session.get_session().get_service_model("omics")


# -- routes -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    """How one operation is reached: method, path template, host prefix, success status."""

    operation: str
    method: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]
    host_prefix: str | None
    response_code: int


def _compile(uri: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    path = uri.partition("?")[0]
    labels: list[str] = []
    regex = []
    position = 0
    for match in _LABEL.finditer(path):
        regex.append(re.escape(path[position : match.start()]))
        regex.append("(.+)" if match.group(2) else "([^/]+)")
        labels.append(match.group(1))
        position = match.end()
    regex.append(re.escape(path[position:]))
    return re.compile("".join(regex)), tuple(labels)


def _host_prefix(operation: OperationModel) -> str | None:
    endpoint = operation.endpoint
    prefix = endpoint.get("hostPrefix") if isinstance(endpoint, dict) else None
    return prefix if isinstance(prefix, str) else None


class Router:
    """Finds the served operation for a method, raw path and ``Host`` header."""

    def __init__(self, operations: Iterable[str] = SERVED_OPERATIONS) -> None:
        model = service_model()
        routes = []
        for name in operations:
            operation = model.operation_model(name)
            pattern, labels = _compile(operation.http["requestUri"])
            routes.append(
                Route(
                    operation=name,
                    method=operation.http["method"],
                    pattern=pattern,
                    labels=labels,
                    host_prefix=_host_prefix(operation),
                    response_code=int(operation.http.get("responseCode", 200)),
                )
            )
        self._routes = tuple(routes)
        self._prefixes = frozenset(
            prefix
            for name in model.operation_names
            if (prefix := _host_prefix(model.operation_model(name)))
        )

    @property
    def routes(self) -> tuple[Route, ...]:
        return self._routes

    def match(self, method: str, raw_path: str, host: str) -> tuple[Route, dict[str, str]] | None:
        """The route and its URI labels (percent-decoded), or None.

        A ``Host`` that starts with another operation group's prefix (``analytics-`` for a
        ``workflows-`` operation) matches nothing, as on AWS, where each prefix is another front
        end. A plain host, or one with the operation's own prefix, is accepted.
        """
        path = raw_path.partition("?")[0]
        host_prefix = next((p for p in self._prefixes if host.startswith(p)), None)
        for route in self._routes:
            if route.method != method:
                continue
            found = route.pattern.fullmatch(path)
            if found is None:
                continue
            if host_prefix is not None and host_prefix != route.host_prefix:
                return None
            return route, {
                label: unquote(value)
                for label, value in zip(route.labels, found.groups(), strict=True)
            }
        return None


# -- Java patterns --------------------------------------------------------------------------

# Planes 4-13 and 15-16 hold no assigned characters: only unassigned and private-use code
# points (category C). Scanning the rest is enough, and four times quicker than all of Unicode.
_SCANNED = (range(0x40000), range(0xE0000, 0xF0000))


@functools.cache
def _category_ranges() -> dict[str, str]:
    """Each major Unicode category as the inside of a Python character class."""
    found: dict[str, list[tuple[int, int]]] = {}
    for block in _SCANNED:
        previous = None
        start = block.start
        for code in block:
            major = unicodedata.category(chr(code))[0]
            if major != previous:
                if previous is not None:
                    found.setdefault(previous, []).append((start, code - 1))
                previous, start = major, code
        if previous is not None:
            found.setdefault(previous, []).append((start, block.stop - 1))
    found.setdefault("C", []).extend([(0x40000, 0xDFFFF), (0xF0000, sys.maxunicode)])
    return {
        major: "".join(
            f"\\U{low:08x}" if low == high else f"\\U{low:08x}-\\U{high:08x}"
            for low, high in ranges
        )
        for major, ranges in found.items()
    }


@functools.cache
def java_pattern(pattern: str) -> re.Pattern[str]:
    """A model pattern (Java syntax) as a compiled Python pattern with the same meaning."""
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and pattern.startswith(("\\p{", "\\P{"), index):
            end = pattern.index("}", index)
            name = pattern[index + 3 : end]
            ranges = _category_ranges()[name[0]]
            negated = pattern[index + 1] == "P"
            if in_class and not negated:
                out.append(ranges)
            else:
                out.append(("[^" if negated else "[") + ranges + "]")
            index = end + 1
            continue
        if char == "\\":
            out.append(pattern[index : index + 2])
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        elif char == "|" and in_class:
            out.append("\\|")  # a literal inside a Java class; Python warns on "||"
            index += 1
            continue
        out.append(char)
        index += 1
    return re.compile("".join(out))


# -- timestamps -----------------------------------------------------------------------------


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
            try:
                return math.floor(float(text) * 1000)
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


def format_timestamp(epoch_ms: int) -> str:
    """Epoch milliseconds as AWS sends a timestamp: ``2024-05-01T12:00:00.123Z``."""
    moment = _EPOCH + datetime.timedelta(milliseconds=epoch_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{epoch_ms % 1000:03d}Z"


# -- requests -------------------------------------------------------------------------------


class _Violations:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, value: object, where: str, constraint: str) -> None:
        shown = "null" if value is None else f"'{_show(value)}'"
        self.messages.append(
            f"Value {shown} at '{where}' failed to satisfy constraint: {constraint}"
        )

    def check(self) -> None:
        count = len(self.messages)
        if count:
            noun = "error" if count == 1 else "errors"
            raise ApiError(
                "ValidationException",
                f"{count} validation {noun} detected: " + "; ".join(self.messages),
            )


def _show(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), default=str)


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


def _scalar_from_text(text: str, shape: Shape, where: str) -> Any:
    """A URI label, query value or header as the member's type."""
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise ApiError(
                "ValidationException", f"Value '{text}' at '{where}' is not a valid integer."
            ) from None
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise ApiError(
                "ValidationException", f"Value '{text}' at '{where}' is not a valid number."
            ) from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ApiError(
                "ValidationException", f"Value '{text}' at '{where}' is not a valid boolean."
            )
        return text.lower() == "true"
    return text


def parse_request(
    operation: OperationModel,
    labels: Mapping[str, str],
    query: Mapping[str, Sequence[str]],
    headers: Mapping[str, Sequence[str]],
    body: bytes,
) -> dict[str, Any]:
    """The operation's input, gathered from where the model says each member travels, validated.

    Args:
        operation: The operation's model.
        labels: URI labels by their name in the ``requestUri``.
        query: Query parameters, each with all its values.
        headers: Lower-case header names, each with all its values.
        body: The raw request body (JSON for every served operation).

    Returns:
        Member name to value, as JSON types; timestamps as epoch milliseconds.

    Raises:
        ApiError: ValidationException, with every violation found.
    """
    shape = operation.input_shape
    if shape is None:
        return {}
    payload = _json_body(body)
    params: dict[str, Any] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri":
            if wire_name in labels:
                params[name] = _scalar_from_text(labels[wire_name], member, name)
        elif location == "querystring":
            values = query.get(wire_name)
            if values:
                if isinstance(member, ListShape):
                    params[name] = [
                        _scalar_from_text(value, member.member, name) for value in values
                    ]
                else:
                    params[name] = _scalar_from_text(values[0], member, name)
        elif location == "header":
            values = headers.get(wire_name.lower())
            if values:
                params[name] = _scalar_from_text(values[0], member, name)
        elif name in payload and payload[name] is not None:
            params[name] = payload[name]
    violations = _Violations()
    validated = _structure(shape, params, "", violations)
    violations.check()
    return validated


def _where(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _structure(
    shape: StructureShape, value: Mapping[str, Any], prefix: str, violations: _Violations
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name in shape.required_members:
        if value.get(name) is None:
            violations.add(None, _where(prefix, name), "Member must not be null")
    for name, member in shape.members.items():
        if value.get(name) is None:
            continue
        result[name] = _value(member, value[name], _where(prefix, name), violations)
    return result


def _length(value: Any, shape: Shape, where: str, violations: _Violations) -> None:
    size = len(value)
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    if low is not None and size < low:
        violations.add(value, where, f"Member must have length greater than or equal to {low}")
    if high is not None and size > high:
        violations.add(value, where, f"Member must have length less than or equal to {high}")


def _value(shape: Shape, value: Any, where: str, violations: _Violations) -> Any:
    kind = shape.type_name
    if kind == "structure" and shape.metadata.get("document"):
        # A document (StartRun's parameters): any JSON value, kept as it is.
        return value
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, dict):
            violations.add(value, where, "Member must be a structure")
            return None
        return _structure(shape, value, where, violations)
    if kind == "list":
        assert isinstance(shape, ListShape)
        if not isinstance(value, list):
            violations.add(value, where, "Member must be a list")
            return None
        _length(value, shape, where, violations)
        return [
            _value(shape.member, item, f"{where}.{index}.member", violations)
            for index, item in enumerate(value, start=1)
        ]
    if kind == "map":
        assert isinstance(shape, MapShape)
        if not isinstance(value, dict):
            violations.add(value, where, "Member must be a map")
            return None
        _length(value, shape, where, violations)
        return {
            _value(shape.key, key, f"{where}.key", violations): _value(
                shape.value, item, f"{where}.{key}", violations
            )
            for key, item in value.items()
        }
    if kind == "timestamp":
        try:
            return parse_timestamp_ms(value, where)
        except ApiError as exc:
            violations.messages.append(exc.message)
            return None
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            violations.add(value, where, "Member must be an integer")
            return None
        low = shape.metadata.get("min")
        high = shape.metadata.get("max")
        if low is not None and value < low:
            violations.add(value, where, f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            violations.add(value, where, f"Member must have value less than or equal to {high}")
        return value
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            violations.add(value, where, "Member must be a number")
            return None
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            violations.add(value, where, "Member must be a boolean")
            return None
        return value
    if kind == "document":
        return value
    if not isinstance(value, str):  # string, blob (base64 text in JSON)
        violations.add(value, where, "Member must be a string")
        return None
    if kind == "string":
        _length(value, shape, where, violations)
        pattern = shape.metadata.get("pattern")
        if pattern is not None and not java_pattern(pattern).fullmatch(value):
            violations.add(
                value, where, f"Member must satisfy regular expression pattern: {pattern}"
            )
        enum: list[str] = getattr(shape, "enum", [])
        if enum and value not in enum:
            violations.add(
                value, where, "Member must satisfy enum value set: [" + ", ".join(enum) + "]"
            )
    return value


def check_argument(operation: str, member: str, value: Any, argument: str) -> None:
    """Check a test-API argument as the service checks an operation's input member.

    Raises:
        ValueError: Naming ``argument``, in the service's words.
    """
    shape = service_model().operation_model(operation).input_shape
    assert shape is not None
    violations = _Violations()
    _value(shape.members[member], value, argument, violations)
    try:
        violations.check()
    except ApiError as exc:
        raise ValueError(exc.message) from None
