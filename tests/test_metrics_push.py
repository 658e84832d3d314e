"""Push metrics end to end: the emulator publishes status changes through moto's EventBridge to
an SQS queue the waiter long-polls; a few messages are put on the queue by hand (a duplicate, a
malformed one, another source's). Counts are held against the emulator's published events.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
import pytest_asyncio
from aiobotocore.session import get_session

from metrics_reader import Metrics
from omics_waiter import ActivationJob, OmicsWaiter, ReadSetActivationJobRef
from omics_waiter._events_setup import setup_events, teardown_events
from omics_waiter.testing import OmicsEmulator, Step

STORE = "1234567890"
R1 = "1111111111"
RUN = "7777777"  # a run nobody here watches
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
EVENTS = "omics_waiter.events"


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    m = Metrics()
    yield m
    m.close()


@pytest_asyncio.fixture
async def queue_url(moto_server: str) -> AsyncIterator[str]:
    name = f"metrics-{uuid.uuid4().hex[:8]}"
    options: dict[str, Any] = {"region_name": "us-east-1", "endpoint_url": moto_server}
    url = await setup_events(name, **options, **CREDENTIALS)
    yield url
    await teardown_events(name, **options, **CREDENTIALS)


def envelope(event_id: str, source: str = "aws.omics") -> str:
    return json.dumps(
        {
            "version": "0",
            "id": event_id,
            "detail-type": "Run Status Change",
            "source": source,
            "time": "2024-05-01T12:30:00Z",
            "detail": {"runId": RUN, "status": "RUNNING"},
        }
    )


async def send(moto_server: str, queue_url: str, *bodies: str) -> None:
    async with get_session().create_client(
        "sqs", region_name="us-east-1", endpoint_url=moto_server, **CREDENTIALS
    ) as sqs:
        for body in bodies:
            await sqs.send_message(QueueUrl=queue_url, MessageBody=body)


def completing(at: float) -> list[Step]:
    return [Step(0.05, "IN_PROGRESS", sources={R1: "IN_PROGRESS"}), Step(at, "COMPLETED")]


@pytest.mark.asyncio
async def test_push_events_are_counted_by_outcome_and_detections_by_source(
    moto_server: str, queue_url: str, metrics: Metrics
) -> None:
    async with (
        OmicsEmulator(seed=3, events_endpoint_url=moto_server) as emu,
        OmicsWaiter.connect(
            endpoint_url=emu.endpoint_url,
            region_name="us-east-1",
            events_queue_url=queue_url,
            sqs_endpoint_url=moto_server,
            meter_provider=metrics.provider,
            min_delay=0.1,
            max_delay=0.5,
            reconcile_delay=30,
            **CREDENTIALS,
        ) as waiter,
    ):
        # Made now, so that the waiter sees each of them unfinished first.
        refs = [
            ReadSetActivationJobRef(STORE, emu.add_job(STORE, [R1], timeline=completing(1.0)))
            for _ in range(4)
        ]
        # Watched throughout, so that the waiter keeps receiving until every message is in.
        keeper = ReadSetActivationJobRef(STORE, emu.add_job(STORE, [R1], timeline=completing(3600)))
        stream = waiter.watch(keeper)
        with anyio.fail_after(20):
            outcomes = await waiter.wait_many(refs)
            await emu.events_settled()
            extra = [
                envelope("same-1"),
                envelope("same-1"),
                "{not json",
                envelope("s3", "aws.s3"),
            ]
            await send(moto_server, queue_url, *extra)
            expected = emu.stats.events["published"] + len(extra)
            while metrics.value(EVENTS) < expected:  # noqa: ASYNC110 - counted on receipt
                await anyio.sleep(0.05)
            assert metrics.value("omics_waiter.push.active") == 1
        await stream.aclose()
        published = emu.stats.events["published"]
    assert all(isinstance(o, ActivationJob) for o in outcomes), outcomes
    counts = metrics.by(EVENTS, "outcome")
    # Every event the emulator published is for a job watched here, or one that was (a
    # late event after its wait ended); the run's first event is foreign, its copy a duplicate.
    assert counts["used"] + counts["foreign"] == published + 1 + 1, counts
    assert counts["duplicate"] == 1
    assert counts["malformed"] == 1
    assert counts["used"] >= len(refs)
    # Hints (used, or foreign by job) have a time; the ignored messages are not hints.
    assert metrics.histogram("omics_waiter.events.lag").count == published + 1
    pushed = metrics.histogram("omics_waiter.detection.delay", source="push").count
    polled = metrics.histogram("omics_waiter.detection.delay", source="poll").count
    assert pushed + polled == len(refs)
    assert pushed >= 1
