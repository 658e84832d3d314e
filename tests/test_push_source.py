"""`SqsEventSource` against moto's SQS and EventBridge (a real server, no mocks).

Events are put on EventBridge with PutEvents and routed by a rule made by `setup_events`,
or sent to the queue by hand where a test needs a body EventBridge would never send.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
import pytest_asyncio
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from omics_waiter import InvalidInputError, OmicsWaiterError, ServiceError
from omics_waiter._client import Transient
from omics_waiter._events_setup import setup_events, teardown_events
from omics_waiter._push import SqsEventSource, StatusHint

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
STORE = "1234567890"
RUN = "7777777"

_SESSION = get_session()


@pytest.fixture(autouse=True)
def _no_aws_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see none of the machine's AWS settings."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_PROFILE", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


@pytest_asyncio.fixture
async def aws(moto_server: str) -> AsyncIterator[tuple[Any, Any]]:
    """An SQS and an EventBridge client on the moto server."""
    config = AioConfig(retries={"mode": "standard", "total_max_attempts": 1})
    options = {"region_name": REGION, "endpoint_url": moto_server, "config": config}
    async with (
        _SESSION.create_client("sqs", **options, **CREDENTIALS) as sqs,
        _SESSION.create_client("events", **options, **CREDENTIALS) as events,
    ):
        yield sqs, events


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest_asyncio.fixture
async def wired(moto_server: str) -> AsyncIterator[str]:
    """A queue fed by an aws.omics rule, as `setup_events` makes them; its URL.

    Torn down after the test: every aws.omics rule left on moto's bus would get a copy of
    every event later tests put.
    """
    options: dict[str, Any] = {"region_name": REGION, "endpoint_url": moto_server}
    name = unique("push")
    yield await setup_events(name, **options, **CREDENTIALS)
    await teardown_events(name, **options, **CREDENTIALS)


@pytest_asyncio.fixture
async def queue_url(aws: tuple[Any, Any]) -> AsyncIterator[str]:
    """A bare queue, for messages sent by hand; deleted after the test (if still there)."""
    sqs, _ = aws
    created = await sqs.create_queue(QueueName=unique("bare"))
    yield str(created["QueueUrl"])
    with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):
        await sqs.delete_queue(QueueUrl=created["QueueUrl"])


def source(url: str, **options: Any) -> SqsEventSource:
    options.setdefault("region_name", REGION)
    options.setdefault("wait_seconds", 1)
    return SqsEventSource(url, **options, **CREDENTIALS)


def event(detail_type: str, detail: dict[str, Any], source: str = "aws.omics") -> dict[str, Any]:
    return {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}


async def put_events(events: Any, entries: list[dict[str, Any]]) -> None:
    for start in range(0, len(entries), 10):
        response = await events.put_events(Entries=entries[start : start + 10])
        assert response["FailedEntryCount"] == 0


async def receive_until(
    src: SqsEventSource, count: int, *, seconds: float = 10
) -> list[StatusHint]:
    """Receive until at least `count` hints came, for at most `seconds`."""
    hints: list[StatusHint] = []
    with anyio.fail_after(seconds):
        while len(hints) < count:
            hints += await src.receive()
    return hints


async def queue_depth(sqs: Any, url: str) -> int:
    """Messages still in the queue, visible or received and not deleted."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    response = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
    return sum(int(response["Attributes"][name]) for name in names)


def envelope(event_id: str, detail: dict[str, Any], detail_type: str = "Run Status Change") -> str:
    return json.dumps(
        {
            "version": "0",
            "id": event_id,
            "detail-type": detail_type,
            "source": "aws.omics",
            "time": "2024-05-01T12:30:00Z",
            "detail": detail,
        }
    )


def running(event_id: str) -> str:
    return envelope(event_id, {"runId": RUN, "status": "RUNNING"})


# -- events routed by EventBridge -------------------------------------------------------------


@pytest.mark.asyncio
async def test_receive_returns_exactly_the_omics_hints_and_empties_the_queue(
    aws: tuple[Any, Any], wired: str, caplog: pytest.LogCaptureFixture
) -> None:
    sqs, events = aws
    job_detail = {"id": "5555555555", "sequenceStoreId": STORE, "status": "IN_PROGRESS"}
    await put_events(
        events,
        [
            event("Read Set Activation Job Status Change", job_detail),
            event("Run Status Change", {"runId": RUN, "status": "RUNNING"}),
            event("Task Status Change", {"runId": RUN, "taskId": "8888888", "status": "FAILED"}),
            event("Workflow Status Change", {"workflowId": "9999999", "status": "ACTIVE"}),
            event("Read Set Status Change", {"id": "1111111111", "status": "ACTIVE"}),
            event("Run Status Change", {"runId": "1", "status": "RUNNING"}, source="my.app"),
        ],
    )
    caplog.set_level(logging.INFO, logger="omics_waiter")
    async with source(wired) as src:
        hints = await receive_until(src, 4)
        assert await queue_depth(sqs, wired) == 0
        assert await src.receive() == []
    assert sorted((h.kind, h.ids, h.status) for h in hints) == [
        ("activation", (STORE, "5555555555"), "IN_PROGRESS"),
        ("run", (RUN,), "RUNNING"),
        ("task", (RUN, "8888888"), "FAILED"),
        ("workflow", ("9999999",), "ACTIVE"),
    ]
    assert len({h.event_id for h in hints}) == 4
    assert all(h.time is not None for h in hints)
    # The read set's event is routed (the rule takes all of aws.omics) and ignored; the
    # foreign source never reaches the queue.
    assert [r.getMessage() for r in caplog.records if "unhandled detail-type" in r.getMessage()]
    assert not [r for r in caplog.records if "foreign source" in r.getMessage()]


@pytest.mark.asyncio
async def test_a_burst_of_300_events_drains(aws: tuple[Any, Any], queue_url: str) -> None:
    # Sent straight to the queue, as EventBridge would deliver them: routing 300 events
    # through moto's PutEvents takes seconds (benchmarks/push_drain.py does it).
    sqs, _ = aws
    bodies = [
        envelope(f"burst-{n}", {"runId": str(1_000_000 + n), "status": "RUNNING"})
        for n in range(300)
    ]
    for start in range(0, len(bodies), 10):
        entries = [
            {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])
        ]
        await sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    async with source(queue_url) as src:
        hints = await receive_until(src, 300, seconds=30)
    assert sorted(int(h.ids[0]) for h in hints) == list(range(1_000_000, 1_000_300))
    assert await queue_depth(sqs, queue_url) == 0


# -- messages sent by hand ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_malformed_messages_are_ignored_logged_once_and_deleted(
    aws: tuple[Any, Any], queue_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    sqs, _ = aws
    for text in ("not json", "{also not json", envelope("e-1", {"runId": RUN, "status": "X"})):
        await sqs.send_message(QueueUrl=queue_url, MessageBody=text)
    caplog.set_level(logging.INFO, logger="omics_waiter")
    async with source(queue_url) as src:
        hints = await receive_until(src, 1)
        while await queue_depth(sqs, queue_url):
            hints += await src.receive()
    assert [h.event_id for h in hints] == ["e-1"]
    malformed = [r for r in caplog.records if "malformed JSON" in r.getMessage()]
    assert len(malformed) == 1
    assert malformed[0].levelno == logging.INFO
    assert queue_url in malformed[0].getMessage()


@pytest.mark.asyncio
async def test_duplicates_of_an_event_give_one_hint(aws: tuple[Any, Any], queue_url: str) -> None:
    sqs, _ = aws
    body = envelope("dup-1", {"runId": RUN, "status": "RUNNING"})
    other = envelope("other-1", {"runId": RUN, "status": "COMPLETED"})
    for text in (body, body, other, body):
        await sqs.send_message(QueueUrl=queue_url, MessageBody=text)
    async with source(queue_url) as src:
        hints = await receive_until(src, 2)
        while await queue_depth(sqs, queue_url):
            hints += await src.receive()
    assert sorted(h.event_id for h in hints) == ["dup-1", "other-1"]


@pytest.mark.asyncio
async def test_the_dedupe_window_is_bounded(aws: tuple[Any, Any], queue_url: str) -> None:
    sqs, _ = aws
    first = envelope("a", {"runId": RUN, "status": "RUNNING"})
    second = envelope("b", {"runId": RUN, "status": "COMPLETED"})
    async with source(queue_url, dedupe_window=1) as src:
        received = []
        for text in (first, second, first):
            await sqs.send_message(QueueUrl=queue_url, MessageBody=text)
            received += [h.event_id for h in await receive_until(src, 1)]
    assert received == ["a", "b", "a"]


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_check_passes_on_a_queue_that_exists(queue_url: str) -> None:
    async with source(queue_url) as src:
        await src.check()


@pytest.mark.asyncio
async def test_check_on_a_queue_that_does_not_exist_raises_a_service_error_naming_it(
    moto_server: str,
) -> None:
    missing = f"{moto_server}/123456789012/{unique('missing')}"
    async with source(missing) as src:
        with pytest.raises(ServiceError) as caught:
            await src.check()
    assert missing in str(caught.value)
    assert caught.value.code == "AWS.SimpleQueueService.NonExistentQueue"
    assert caught.value.operation == "GetQueueAttributes"


@pytest.mark.asyncio
async def test_a_queue_deleted_while_in_use_raises_a_service_error_from_receive(
    aws: tuple[Any, Any], queue_url: str
) -> None:
    sqs, _ = aws
    await sqs.send_message(QueueUrl=queue_url, MessageBody=envelope("e", {"runId": RUN}))
    async with source(queue_url) as src:
        await src.receive()
        await sqs.delete_queue(QueueUrl=queue_url)
        with pytest.raises(ServiceError) as caught:
            await src.receive()
    assert queue_url in str(caught.value)
    assert caught.value.operation == "ReceiveMessage"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        yield probe.getsockname()[1]


@pytest.mark.asyncio
async def test_an_unreachable_queue_raises_transient_from_receive_and_check(
    closed_port: int,
) -> None:
    url = f"http://127.0.0.1:{closed_port}/123456789012/q"
    async with source(url, connect_timeout=1) as src:
        with pytest.raises(Transient):
            await src.receive()
        with pytest.raises(Transient):
            await src.check()


# -- options and clients ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_client_passed_in_is_used_and_left_open(
    aws: tuple[Any, Any], queue_url: str
) -> None:
    sqs, _ = aws
    await sqs.send_message(QueueUrl=queue_url, MessageBody=running("mine"))
    async with SqsEventSource(queue_url, client=sqs, wait_seconds=1) as src:
        hints = await receive_until(src, 1)
    assert [h.event_id for h in hints] == ["mine"]
    assert await queue_depth(sqs, queue_url) == 0  # the client still works


@pytest.mark.asyncio
async def test_aws_endpoint_url_sqs_overrides_the_endpoint_of_an_aws_queue_url(
    aws: tuple[Any, Any], queue_url: str, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs, _ = aws
    name = queue_url.rsplit("/", 1)[1]
    aws_url = f"https://sqs.{REGION}.amazonaws.com/123456789012/{name}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto_server)
    await sqs.send_message(QueueUrl=queue_url, MessageBody=running("env"))
    # No region_name: it comes from the queue URL.
    async with SqsEventSource(aws_url, wait_seconds=1, **CREDENTIALS) as src:
        hints = await receive_until(src, 1)
    assert [h.event_id for h in hints] == ["env"]


@pytest.mark.asyncio
async def test_a_closed_source_refuses_to_receive(queue_url: str) -> None:
    src = source(queue_url)
    await src.check()
    await src.aclose()
    with pytest.raises(OmicsWaiterError, match="closed"):
        await src.receive()


@pytest.mark.asyncio
async def test_no_region_is_invalid_input_before_any_request(moto_server: str) -> None:
    with pytest.raises(InvalidInputError, match="Region") as caught:
        async with SqsEventSource(f"{moto_server}/123456789012/q", **CREDENTIALS):
            pass
    assert caught.value.argument == "region_name"


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"queue_url": "not a url"}, "queue_url"),
        ({"queue_url": "https://sqs.us-east-1.amazonaws.com/q"}, "queue_url"),
        ({"queue_url": "ftp://sqs.us-east-1.amazonaws.com/1/q"}, "queue_url"),
        ({"queue_url": 42}, "queue_url"),
        ({"wait_seconds": 0}, "wait_seconds"),
        ({"wait_seconds": 21}, "wait_seconds"),
        ({"wait_seconds": 2.5}, "wait_seconds"),
        ({"receives_in_flight": 0}, "receives_in_flight"),
        ({"receives_in_flight": 11}, "receives_in_flight"),
        ({"receives_in_flight": True}, "receives_in_flight"),
        ({"dedupe_window": 0}, "dedupe_window"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"connect_timeout": float("inf")}, "connect_timeout"),
    ],
)
def test_bad_options_are_invalid_input_naming_the_option(
    options: dict[str, Any], argument: str
) -> None:
    url = options.pop("queue_url", "https://sqs.us-east-1.amazonaws.com/123456789012/q")
    with pytest.raises(InvalidInputError) as caught:
        SqsEventSource(url, **options)
    assert caught.value.argument == argument
    assert argument in str(caught.value)
