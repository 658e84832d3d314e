"""Push: HealthOmics status-change events, read from an SQS queue that EventBridge feeds.

HealthOmics sends a "... Status Change" event to EventBridge (source ``aws.omics``) when a job
changes status; a rule made by `setup_events` sends them to an SQS queue. `SqsEventSource`
long-polls that queue and turns each event into a `StatusHint`: a hint that one job changed,
which a Get confirms. Delivery is best-effort (events can be late, duplicated or lost), so
polling stays the ground truth; hints only make it react sooner.

`parse_message` is pure and never raises. `SqsEventSource` runs nothing in the background:
whoever calls `receive` owns the requests it makes. It uses aiobotocore, so asyncio only.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import anyio
import botocore.exceptions

from . import _metrics
from ._client import (
    NotFound,
    Transient,
    check_client_options,
    check_session,
    classify,
    layered_config,
    setup_errors,
)
from ._errors import AccessDeniedError, InvalidInputError, OmicsWaiterError, ServiceError
from ._metrics import NO_METRICS, Recorder
from ._models import JobStatus, RunStatus, TaskStatus, WorkflowStatus

__all__ = [
    "KINDS",
    "SOURCE",
    "EventSource",
    "Ignored",
    "SqsClient",
    "SqsEventSource",
    "StatusHint",
    "parse_message",
    "queue_region",
]

logger = logging.getLogger("omics_waiter")

#: The EventBridge ``source`` of HealthOmics events.
SOURCE = "aws.omics"

RECEIVE_MESSAGE = "ReceiveMessage"
DELETE_MESSAGE_BATCH = "DeleteMessageBatch"
GET_QUEUE_ATTRIBUTES = "GetQueueAttributes"

# SQS limits: at most 10 messages a receive (and a delete batch), long polls of at most 20 s.
MAX_MESSAGES = 10
MAX_WAIT_SECONDS = 20

# The API's statuses, from the models' enums: an event's word is mapped onto one of them.
_JOB_STATUSES = frozenset(s.value for s in JobStatus)
_RUN_STATUSES = frozenset(s.value for s in RunStatus)
_TASK_STATUSES = frozenset(s.value for s in TaskStatus)
_ANALYTICS_STATUSES = _JOB_STATUSES
_WORKFLOW_STATUSES = frozenset(s.value for s in WorkflowStatus)


@dataclasses.dataclass(frozen=True, slots=True)
class _Field:
    """Where one identifying field is read: ``detail[names[0]]``, else the next name, else
    the ID at the end of the ARN in ``detail[arn]`` if its resource type is `resource`."""

    names: tuple[str, ...]
    arn: str | None = None
    resource: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class _Kind:
    """One detail-type: the CLI word for its kind, its identifying fields, its API statuses."""

    kind: str
    fields: tuple[_Field, ...]
    statuses: frozenset[str]


_STORE_JOB = (_Field(("sequenceStoreId",)), _Field(("id",)))

#: Detail-type -> how to read it. The identifying fields are in the order of our references.
KINDS: Mapping[str, _Kind] = {
    "Read Set Activation Job Status Change": _Kind("activation", _STORE_JOB, _JOB_STATUSES),
    "Read Set Import Job Status Change": _Kind("read-set-import", _STORE_JOB, _JOB_STATUSES),
    "Read Set Export Job Status Change": _Kind("read-set-export", _STORE_JOB, _JOB_STATUSES),
    "Reference Import Job Status Change": _Kind(
        "reference-import", (_Field(("referenceStoreId",)), _Field(("id",))), _JOB_STATUSES
    ),
    "Run Status Change": _Kind("run", (_Field(("runId",), "arn", "run"),), _RUN_STATUSES),
    "Task Status Change": _Kind(
        "task",
        (_Field(("runId",), "runArn", "run"), _Field(("taskId",), "arn", "task")),
        _TASK_STATUSES,
    ),
    "Variant Import Job Status Change": _Kind(
        "variant-import", (_Field(("jobId",)),), _ANALYTICS_STATUSES
    ),
    "Annotation Import Job Status Change": _Kind(
        "annotation-import", (_Field(("jobId",)),), _ANALYTICS_STATUSES
    ),
    "Workflow Status Change": _Kind(
        "workflow", (_Field(("workflowId", "id"), "arn", "workflow"),), _WORKFLOW_STATUSES
    ),
}


class EventSource(Protocol):
    """The seam for push: a source of status-change hints that the waiter's receiver
    long-polls (`SqsEventSource` is the implementation; a test may give its own).

    Polling is the scheduler's own source of observations; an event source only tells
    it which jobs to fetch sooner.
    """

    async def check(self) -> None:
        """Make sure the source can be read; raise a typed error at once if not."""
        ...

    async def receive(self) -> Sequence[StatusHint]:
        """Wait for (long-poll) and return the next hints; maybe none."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class StatusHint:
    """An event saying that one job changed status: a reason to Get it now.

    Attributes:
        kind: The kind of job, as the CLI names it: ``"activation"``, ``"read-set-import"``,
            ``"read-set-export"``, ``"reference-import"``, ``"run"``, ``"task"``,
            ``"variant-import"``, ``"annotation-import"`` or ``"workflow"``.
        ids: What identifies the job, in the order of our references: (sequence store, job)
            for read set jobs, (reference store, job) for reference imports, (run,) for runs,
            (run, task) for tasks, (job,) for variant and annotation imports, (workflow,).
        status: The status the event reports: the API's value when the event's word is one
            of the kind's statuses in another spelling (``"In Progress"`` is
            ``"IN_PROGRESS"``), else the word as sent. Unconfirmed: Get the job.
        time: The event's time, timezone-aware, or None if it had none that parses.
        event_id: The event's ID (duplicates of an event share it).
    """

    kind: str
    ids: tuple[str, ...]
    status: str
    time: dt.datetime | None
    event_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class Ignored:
    """A message that is no job status change, and why.

    Attributes:
        reason: One of a few fixed phrases (``"malformed JSON"``, ``"not an EventBridge
            event"``, ``"foreign source"``, ``"unhandled detail-type"``, ``"missing ids"``,
            ``"missing status"``), safe to group and count by.
        detail: What was found instead, shortened (e.g. the foreign source), or None.
    """

    reason: str
    detail: str | None = None


MALFORMED = "malformed JSON"
NOT_AN_EVENT = "not an EventBridge event"
FOREIGN_SOURCE = "foreign source"
UNHANDLED_DETAIL_TYPE = "unhandled detail-type"
MISSING_IDS = "missing ids"
MISSING_STATUS = "missing status"
# What the metrics call an ignored message: another source's or event type's (else broken).
_IGNORED = {FOREIGN_SOURCE: _metrics.FOREIGN, UNHANDLED_DETAIL_TYPE: _metrics.FOREIGN}

# IDs and statuses are short words; anything else in those fields is not what we wait on.
_WORD = re.compile(r"[^\s\x00-\x1f\x7f]{1,128}")
_PHRASE = re.compile(r"[^\x00-\x1f\x7f]{1,128}")
_DETAIL_LIMIT = 80


def _shorten(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("unicode_escape", "backslashreplace").decode("ascii")
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 3] + "..."


def _word(value: object) -> str | None:
    return value if isinstance(value, str) and _WORD.fullmatch(value) else None


def _id_from_arn(arn: object, resource: str) -> str | None:
    """``arn:PARTITION:omics:REGION:ACCOUNT:RESOURCE/ID`` -> ID, if RESOURCE is `resource`."""
    if not isinstance(arn, str):
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "omics":
        return None
    kind, sep, rest = parts[5].partition("/")
    return _word(rest) if sep and kind == resource else None


def _read_field(detail: Mapping[str, Any], field: _Field) -> str | None:
    for name in field.names:
        if (value := _word(detail.get(name))) is not None:
            return value
    if field.arn is not None and field.resource is not None:
        return _id_from_arn(detail.get(field.arn), field.resource)
    return None


def _phrase(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() and _PHRASE.fullmatch(value) else None


def _status(value: str, statuses: frozenset[str]) -> str:
    spelled = value.strip().upper().replace(" ", "_").replace("-", "_")
    return spelled if spelled in statuses else value


def _time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def parse_message(body: str) -> StatusHint | Ignored:
    """Read an SQS message body holding an EventBridge event from HealthOmics.

    Pure, and never raises: anything but a job status change with its IDs and status is
    `Ignored`, with the reason.
    """
    try:
        envelope = json.loads(body)
    except (TypeError, ValueError, RecursionError):
        return Ignored(MALFORMED)
    if not isinstance(envelope, dict):
        return Ignored(NOT_AN_EVENT, type(envelope).__name__)
    event_id = envelope.get("id")
    source = envelope.get("source")
    detail_type = envelope.get("detail-type")
    detail = envelope.get("detail")
    if not (
        isinstance(event_id, str)
        and event_id
        and isinstance(source, str)
        and isinstance(detail_type, str)
        and isinstance(detail, dict)
    ):
        return Ignored(NOT_AN_EVENT, _shorten(sorted(map(str, envelope))))
    if source != SOURCE:
        return Ignored(FOREIGN_SOURCE, _shorten(source))
    kind = KINDS.get(detail_type)
    if kind is None:
        return Ignored(UNHANDLED_DETAIL_TYPE, _shorten(detail_type))
    ids = tuple(_read_field(detail, field) for field in kind.fields)
    if None in ids:
        return Ignored(MISSING_IDS, detail_type)
    status = _phrase(detail.get("status"))
    if status is None:
        return Ignored(MISSING_STATUS, detail_type)
    return StatusHint(
        kind=kind.kind,
        ids=tuple(i for i in ids if i is not None),
        status=_status(status, kind.statuses),
        time=_time(envelope.get("time")),
        event_id=event_id,
    )


# -- errors ------------------------------------------------------------------------------------

_NO_QUEUE_CODES = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue"}
)
# SQS's own throttling words: in-flight message limit, KMS throttling of encrypted queues.
_SQS_THROTTLING_CODES = frozenset(
    {"OverLimit", "KmsThrottled", "KMS.ThrottlingException", "RequestThrottled"}
)


def translate_error(exc: Exception, operation: str, resource: str) -> Exception:
    """Translate an SQS or EventBridge failure into a `Transient` or a typed error.

    `classify` does the common part; here a missing queue is a `ServiceError`, and a refusal
    that `classify` would call invalid input is a `ServiceError` too (our requests are valid
    by construction: a 400 means the queue, rule or their settings are wrong). Every typed
    error names `resource`. Anything unrecognised is returned as it is.
    """
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "")
        query_code = str(error.get("QueryErrorCode") or "")
        message = error.get("Message")
        if code in _NO_QUEUE_CODES or query_code in _NO_QUEUE_CODES:
            return ServiceError(
                f"{operation}: {resource} does not exist",
                code=code,
                service_message=message,
                operation=operation,
            )
        if code in _SQS_THROTTLING_CODES:
            return Transient(code, operation, throttling=True)
    translated = classify(exc, operation)
    if isinstance(translated, NotFound):
        return ServiceError(
            f"{operation}: {resource} was not found: {translated.service_message}",
            code="ResourceNotFoundException",
            service_message=translated.service_message,
            operation=operation,
        )
    if isinstance(translated, AccessDeniedError):
        return AccessDeniedError(
            f"{translated} ({resource})",
            code=translated.code,
            service_message=translated.service_message,
            operation=operation,
        )
    if isinstance(translated, InvalidInputError | ServiceError) and isinstance(
        exc, botocore.exceptions.ClientError
    ):
        return ServiceError(
            f"{operation} on {resource} was refused: {translated.code or 'an error'}: "
            f"{translated.service_message}",
            code=translated.code,
            service_message=translated.service_message,
            operation=operation,
        )
    if isinstance(translated, OmicsWaiterError) and translated is not exc:
        return type(translated)(f"{translated} ({resource})")
    return translated


# -- the queue ---------------------------------------------------------------------------------


class SqsClient(Protocol):
    """The part of an aiobotocore SQS client `SqsEventSource` uses."""

    async def receive_message(self, **kwargs: Any) -> Any: ...

    async def delete_message_batch(self, **kwargs: Any) -> Any: ...

    async def get_queue_attributes(self, **kwargs: Any) -> Any: ...


_QUEUE_HOST = re.compile(
    r"(?:sqs\.(?P<region>[a-z0-9-]+)|(?P<legacy>[a-z0-9-]+)\.queue|queue)"
    r"\.amazonaws\.com(?:\.cn)?"
)


def _split_queue_url(queue_url: object) -> urllib.parse.SplitResult:
    if not isinstance(queue_url, str):
        raise InvalidInputError(
            f"queue_url must be a string, not {type(queue_url).__name__}", argument="queue_url"
        )
    parts = urllib.parse.urlsplit(queue_url)
    path = parts.path.strip("/").split("/")
    if parts.scheme not in ("http", "https") or not parts.hostname or len(path) != 2:
        raise InvalidInputError(
            "queue_url must be an SQS queue URL such as "
            f"https://sqs.us-east-1.amazonaws.com/123456789012/NAME, got {queue_url!r}",
            argument="queue_url",
        )
    return parts


def queue_region(queue_url: str) -> str | None:
    """The Region in an AWS queue URL (``https://sqs.REGION.amazonaws.com/ACCOUNT/NAME``).

    None for a URL that names no Region (another endpoint, such as a local server).
    """
    host = (urllib.parse.urlsplit(queue_url).hostname or "").lower()
    match = _QUEUE_HOST.fullmatch(host)
    if match is None:
        return None
    return match["region"] or match["legacy"] or "us-east-1"


def _check_count(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(
            f"{name} must be a whole number from {low} to {high}, got {value!r}", argument=name
        )
    return value


class SqsEventSource:
    """Long-polls an SQS queue of HealthOmics events and returns them as `StatusHint` values.

    One queue per consumer: a message one consumer receives, another does not see (see
    docs/push.md). Use it as ``async with SqsEventSource(url) as source:`` or call `aclose`.

    Args:
        queue_url: The queue's URL, as `setup_events` returns it.
        client: An aiobotocore SQS client you own (and close); by default the source makes
            its own from the options below, on first use, and closes it in `aclose`.
        region_name: The queue's Region (default: read from an AWS queue URL, else from the
            profile or environment).
        session: An aiobotocore ``AioSession`` to make the client from (e.g. with
            assume-role credentials); not with `profile_name`.
        profile_name: A profile from the AWS config files.
        endpoint_url: Another SQS endpoint than AWS's (default: ``AWS_ENDPOINT_URL_SQS``;
            for a queue URL that is not on an AWS host, that host).
        aws_access_key_id: Explicit credentials (default: the usual credential chain).
        aws_secret_access_key: See above.
        aws_session_token: See above.
        wait_seconds: Seconds a receive waits for a message (long poll), 1 to 20.
        receives_in_flight: Receives made at once while the queue holds a backlog, 1 to 10.
        dedupe_window: How many recent event IDs are remembered to drop duplicates.
        connect_timeout: Seconds to connect, per request.
        verify: Whether to verify TLS certificates, or a CA bundle's path (default: botocore's).
        client_config: A botocore ``Config`` of yours (proxies, user agent ...): every option
            it sets is used, but retries stay off and the read timeout outlasts a long poll.
    """

    def __init__(
        self,
        queue_url: str,
        *,
        client: SqsClient | None = None,
        region_name: str | None = None,
        session: object | None = None,
        profile_name: str | None = None,
        endpoint_url: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        wait_seconds: int = MAX_WAIT_SECONDS,
        receives_in_flight: int = 4,
        dedupe_window: int = 4096,
        connect_timeout: float = 10.0,
        verify: bool | str | None = None,
        client_config: object | None = None,
    ) -> None:
        parts = _split_queue_url(queue_url)
        check_session(session, profile_name)
        check_client_options(verify, client_config)
        self.queue_url = queue_url
        self._wait_seconds = _check_count("wait_seconds", wait_seconds, 1, MAX_WAIT_SECONDS)
        self._in_flight = _check_count("receives_in_flight", receives_in_flight, 1, 10)
        self._window = _check_count("dedupe_window", dedupe_window, 1, 1_000_000)
        if isinstance(connect_timeout, bool) or not (
            isinstance(connect_timeout, int | float) and 0 < connect_timeout < float("inf")
        ):
            raise InvalidInputError(
                f"connect_timeout must be a positive number of seconds, got {connect_timeout!r}",
                argument="connect_timeout",
            )
        if endpoint_url is None:
            endpoint_url = os.environ.get("AWS_ENDPOINT_URL_SQS") or None
        if endpoint_url is None and queue_region(queue_url) is None and client is None:
            # Not an AWS queue URL: the queue is served where its URL points.
            endpoint_url = f"{parts.scheme}://{parts.netloc}"
        self._client = client
        self._client_options: dict[str, Any] = {
            "region_name": region_name or queue_region(queue_url),
            "endpoint_url": endpoint_url,
            "aws_access_key_id": aws_access_key_id,
            "aws_secret_access_key": aws_secret_access_key,
            "aws_session_token": aws_session_token,
            "verify": verify,
        }
        self._client_config = client_config
        self._session = session
        self._profile_name = profile_name
        self._connect_timeout = float(connect_timeout)
        self._stack = contextlib.AsyncExitStack()
        self._opening = anyio.Lock()
        self._closed = False
        # After a receive that filled a batch, the queue likely holds more: drain it with
        # several receives at once rather than one long poll.
        self._backlog = False
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._logged: set[str] = set()
        #: Where ignored and duplicate messages are counted (the waiter's metrics).
        self.metrics: Recorder = NO_METRICS

    def __repr__(self) -> str:
        return f"SqsEventSource({self.queue_url!r})"

    async def __aenter__(self) -> SqsEventSource:
        await self._sqs()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client the source made (a client passed in stays open)."""
        self._closed = True
        await self._stack.aclose()

    async def _sqs(self) -> SqsClient:
        if self._closed:
            raise OmicsWaiterError(f"{self!r} is closed")
        if self._client is not None:
            return self._client
        async with self._opening:
            if self._client is None:
                self._client = await self._open()
        return self._client

    async def _open(self) -> SqsClient:
        import aiobotocore.session

        with setup_errors(self._profile_name, self._client_options["region_name"]):
            session = self._session or aiobotocore.session.AioSession(profile=self._profile_name)
            assert isinstance(session, aiobotocore.session.AioSession)
            # One attempt (the caller retries, with its own backoff), and a read timeout that
            # a long poll, which answers within wait_seconds, cannot outlast: whatever a
            # caller's config says.
            config = layered_config(
                {"connect_timeout": self._connect_timeout},
                self._client_config,
                {"read_timeout": self._wait_seconds + 10},
            )
            client: SqsClient = await self._stack.enter_async_context(
                session.create_client("sqs", config=config, **self._client_options)
            )
        return client

    async def _call(self, operation: str, method: str, **params: Any) -> Any:
        client = await self._sqs()
        try:
            response = await getattr(client, method)(QueueUrl=self.queue_url, **params)
        except Exception as exc:
            translated = translate_error(exc, operation, f"queue {self.queue_url}")
            if translated is exc:
                raise
            raise translated from exc
        return response if isinstance(response, Mapping) else {}

    async def check(self) -> None:
        """Make sure the queue exists and may be read (GetQueueAttributes).

        Raises:
            ServiceError: The queue does not exist.
            AccessDeniedError: Access to the queue is denied, or no credentials.
            Transient: A fault worth retrying (throttling, a dropped connection).
        """
        await self._call(GET_QUEUE_ATTRIBUTES, "get_queue_attributes", AttributeNames=["QueueArn"])

    async def receive(self) -> list[StatusHint]:
        """Receive what the queue holds (one long poll when it is quiet) and delete it.

        Every message received is deleted, hint or not; messages that are no job status
        change are logged once per reason (INFO, logger ``omics_waiter``); an event seen
        recently (same event ID) is dropped. Returns the hints in the order received, maybe
        none. After a receive that filled a batch, the next makes `receives_in_flight`
        receives at once, without waiting, to drain a backlog quickly.

        Raises:
            ServiceError: The queue does not exist (for instance, deleted while in use).
            AccessDeniedError: Access to the queue is denied, or no credentials.
            Transient: A fault worth retrying after a backoff. Nothing is lost: messages
                a failed receive took come back after the queue's visibility timeout.
        """
        if self._backlog:
            lanes, wait = self._in_flight, 0
        else:
            lanes, wait = 1, self._wait_seconds
        results: list[list[Mapping[str, Any]] | Exception] = [[] for _ in range(lanes)]

        async def lane(index: int) -> None:
            try:
                results[index] = await self._receive_batch(wait)
            except Exception as exc:  # kept, so that other lanes' messages are not lost
                results[index] = exc

        if lanes == 1:
            await lane(0)
        else:
            async with anyio.create_task_group() as group:
                for index in range(lanes):
                    group.start_soon(lane, index)
        batches = [r for r in results if not isinstance(r, Exception)]
        errors = [r for r in results if isinstance(r, Exception)]
        for error in errors:
            if not isinstance(error, OmicsWaiterError | Transient):
                raise error  # a bug: surface it
        messages = [message for batch in batches for message in batch]
        if errors and not messages:
            self._backlog = False
            # A typed error (the queue is gone) says more than a transient one.
            raise next((e for e in errors if isinstance(e, OmicsWaiterError)), errors[0])
        # Errors beside received messages: return what was received (it is deleted);
        # a lasting fault shows again on the next receive.
        self._backlog = any(len(batch) == MAX_MESSAGES for batch in batches)
        return self._hints(messages)

    async def _receive_batch(self, wait: int) -> list[Mapping[str, Any]]:
        response = await self._call(
            RECEIVE_MESSAGE,
            "receive_message",
            MaxNumberOfMessages=MAX_MESSAGES,
            WaitTimeSeconds=wait,
        )
        messages = [m for m in response.get("Messages") or () if isinstance(m, Mapping)]
        if messages:
            await self._delete(messages)
        return messages

    async def _delete(self, messages: Sequence[Mapping[str, Any]]) -> None:
        """Delete received messages; a failure only means they may come back (and be deduped)."""
        entries = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(messages)
            if isinstance(message.get("ReceiptHandle"), str)
        ]
        if not entries:
            return
        try:
            response = await self._call(
                DELETE_MESSAGE_BATCH, "delete_message_batch", Entries=entries
            )
        except (OmicsWaiterError, Transient) as exc:
            self._log_once(
                f"delete:{type(exc).__name__}",
                logging.WARNING,
                "could not delete messages from %s (they may be received again): %s",
                self.queue_url,
                exc,
            )
            return
        for failed in response.get("Failed") or ():
            code = failed.get("Code") if isinstance(failed, Mapping) else None
            self._log_once(
                f"delete:{code}",
                logging.WARNING,
                "could not delete a message from %s (it may be received again): %s",
                self.queue_url,
                _shorten(code),
            )

    def _hints(self, messages: Iterable[Mapping[str, Any]]) -> list[StatusHint]:
        hints = []
        for message in messages:
            body = message.get("Body")
            parsed = parse_message(body) if isinstance(body, str) else Ignored(MALFORMED)
            if isinstance(parsed, Ignored):
                self.metrics.event(_IGNORED.get(parsed.reason, _metrics.MALFORMED))
                self._log_once(
                    parsed.reason,
                    logging.INFO,
                    "ignoring messages on %s: %s%s (logged once per reason)",
                    self.queue_url,
                    parsed.reason,
                    "" if parsed.detail is None else f" ({parsed.detail})",
                )
            elif self._first_sighting(parsed.event_id):
                hints.append(parsed)
            else:
                self.metrics.event(_metrics.DUPLICATE)
        return hints

    def _first_sighting(self, event_id: str) -> bool:
        if event_id in self._seen:
            self._seen.move_to_end(event_id)
            return False
        self._seen[event_id] = None
        if len(self._seen) > self._window:
            self._seen.popitem(last=False)
        return True

    def _log_once(self, key: str, level: int, message: str, *args: object) -> None:
        if key not in self._logged:
            self._logged.add(key)
            logger.log(level, message, *args)
