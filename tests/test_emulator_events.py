"""EventBridge status-change events, through moto's EventBridge and SQS.

A rule on ``{"source": ["aws.omics"]}`` sends every event the emulator publishes to a queue;
the tests read the envelopes back. moto's default SQS message template leaves out ``account``
(EventBridge sends it), so the target's input transformer spells out EventBridge's envelope.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiobotocore.session import get_session

from emulator_kinds import ManualClock
from omics_waiter.testing import OmicsEmulator, Step
from omics_waiter.testing._events import EventSchedule, EventSettings
from omics_waiter.testing._jobs import Job
from omics_waiter.testing._kinds import Kind
from omics_waiter.testing._stats import EmulatorStats

STORE = "1234567890"
ENVELOPE = (
    '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", '
    '"account": "<account>", "time": "<time>", "region": "<region>", "resources": <resources>, '
    '"detail": <detail>}'
)
PATHS = {
    name: f"$.{name}"
    for name in ("id", "detail-type", "source", "account", "time", "region", "resources", "detail")
}


class Queue:
    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs = sqs
        self.url = url

    async def drain(self) -> list[dict[str, Any]]:
        """Every message in the queue, oldest first, as parsed envelopes."""
        bodies = []
        while True:
            response = await self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages = response.get("Messages", [])
            if not messages:
                return bodies
            bodies += [json.loads(message["Body"]) for message in messages]
            await self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )


@pytest_asyncio.fixture
async def queue(moto_server: str) -> AsyncIterator[Queue]:
    """A fresh queue that a rule on source aws.omics feeds, removed afterwards."""
    options = {
        "region_name": "us-east-1",
        "endpoint_url": moto_server,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    name = f"omics-{uuid.uuid4().hex[:8]}"
    session = get_session()
    async with (
        session.create_client("sqs", **options) as sqs,
        session.create_client("events", **options) as events,
    ):
        url = (await sqs.create_queue(QueueName=name))["QueueUrl"]
        attributes = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        await events.put_rule(Name=name, EventPattern=json.dumps({"source": ["aws.omics"]}))
        await events.put_targets(
            Rule=name,
            Targets=[
                {
                    "Id": "queue",
                    "Arn": attributes["Attributes"]["QueueArn"],
                    "InputTransformer": {"InputPathsMap": PATHS, "InputTemplate": ENVELOPE},
                }
            ],
        )
        try:
            yield Queue(sqs, url)
        finally:
            await events.remove_targets(Rule=name, Ids=["queue"])
            await events.delete_rule(Name=name)
            await sqs.delete_queue(QueueUrl=url)


def statuses(events: list[dict[str, Any]], detail_type: str, key: str, value: str) -> list[str]:
    return [
        e["detail"]["status"]
        for e in events
        if e["detail-type"] == detail_type and e["detail"].get(key) == value
    ]


@pytest.mark.asyncio
async def test_every_status_change_of_every_kind_arrives_in_eventbridges_envelope(
    moto_server: str, queue: Queue
) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock, events_endpoint_url=moto_server) as emu:
        activation = emu.add_job(
            STORE,
            ["1111111111", "2222222222"],
            timeline=[
                Step(at=0.1, status="IN_PROGRESS"),
                Step(at=0.2, sources={"2222222222": ("FAILED", "Not archived.")}),
                Step(at=0.3, status="COMPLETED_WITH_FAILURES", status_message="1 of 2 failed."),
            ],
        )
        done = [Step(at=0.1, status="IN_PROGRESS"), Step(at=0.3, status="COMPLETED")]
        imported = emu.add_read_set_import_job(STORE, timeline=done)
        exported = emu.add_read_set_export_job(STORE, ["1111111111"], timeline=done)
        reference = emu.add_reference_import_job(STORE, timeline=done)
        variant = emu.add_variant_import_job("my_store", timeline=done)
        annotation = emu.add_annotation_import_job("my_store", timeline=done)
        workflow = emu.add_workflow(name="germline", timeline=[Step(at=0.2, status="ACTIVE")])
        emu.add_workflow_version(workflow, "v1", timeline=[Step(at=0.2, status="ACTIVE")])
        run = emu.add_run(
            name="sample-1",
            workflow_id=workflow,
            tasks=[
                [Step(at=0.1), Step(at=0.15, status="RUNNING"), Step(at=0.3, status="COMPLETED")],
                [Step(at=0.1), Step(at=0.15, status="RUNNING"), Step(at=0.25, status="FAILED")],
            ],
        )
        first_task, second_task = emu.task_ids(run)
        clock.advance(1.0)
        await emu.events_settled()
        stats = emu.stats.events
        created = emu.job_state(STORE, activation)["creationTime"]
    events = await queue.drain()
    assert stats == {"published": len(events), "dropped": 0, "duplicated": 0, "failed": 0}
    assert {e["source"] for e in events} == {"aws.omics"}
    assert {e["account"] for e in events} == {"123456789012"}
    assert {e["region"] for e in events} == {"us-east-1"}
    assert statuses(events, "Read Set Activation Job Status Change", "id", activation) == [
        "SUBMITTED",
        "IN_PROGRESS",
        "COMPLETED_WITH_FAILURES",
    ]
    for detail_type, job_id in [
        ("Read Set Import Job Status Change", imported),
        ("Read Set Export Job Status Change", exported),
        ("Reference Import Job Status Change", reference),
    ]:
        assert statuses(events, detail_type, "id", job_id) == [
            "SUBMITTED",
            "IN_PROGRESS",
            "COMPLETED",
        ]
    for detail_type, job_id in [
        ("Variant Import Job Status Change", variant),
        ("Annotation Import Job Status Change", annotation),
    ]:
        assert statuses(events, detail_type, "jobId", job_id) == [
            "SUBMITTED",
            "IN_PROGRESS",
            "COMPLETED",
        ]
    assert statuses(events, "Workflow Status Change", "workflowId", workflow) == [
        "CREATING",
        "ACTIVE",
    ]
    assert statuses(events, "Run Status Change", "runId", run) == [
        "PENDING",
        "STARTING",
        "RUNNING",
        "STOPPING",
        "FAILED",
    ]
    assert statuses(events, "Task Status Change", "taskId", first_task) == [
        "PENDING",
        "RUNNING",
        "COMPLETED",
    ]
    assert statuses(events, "Task Status Change", "taskId", second_task) == [
        "PENDING",
        "RUNNING",
        "FAILED",
    ]
    # The detail fields of each kind.
    by_type = {e["detail-type"]: e for e in events}
    assert set(by_type["Read Set Activation Job Status Change"]["detail"]) >= {
        "id",
        "omicsVersion",
        "sequenceStoreId",
        "status",
    }
    assert by_type["Read Set Activation Job Status Change"]["detail"]["sequenceStoreId"] == STORE
    assert set(by_type["Reference Import Job Status Change"]["detail"]) >= {
        "id",
        "omicsVersion",
        "referenceStoreId",
        "status",
    }
    run_event = by_type["Run Status Change"]
    assert set(run_event["detail"]) == {
        "omicsVersion",
        "arn",
        "status",
        "uuid",
        "runId",
        "runName",
        "runOutputUri",
        "workflowId",
        "workflowName",
    }
    assert run_event["detail"]["workflowName"] == "germline"
    assert run_event["detail"]["runName"] == "sample-1"
    assert run_event["resources"] == [run_event["detail"]["arn"]]
    assert set(by_type["Task Status Change"]["detail"]) == {
        "omicsVersion",
        "arn",
        "status",
        "runArn",
        "runUuid",
        "runId",
        "runName",
        "workflowId",
        "workflowName",
        "taskId",
    }
    assert set(by_type["Variant Import Job Status Change"]["detail"]) == {
        "omicsVersion",
        "arn",
        "status",
        "jobId",
        "storeName",
    }
    # The event time is the change's wall-clock time, to the second as EventBridge has it.
    assert events[0]["time"] == created[:19] + "Z"
    completed = [e for e in events if e["detail"].get("status") == "COMPLETED_WITH_FAILURES"]
    assert completed[0]["detail"]["statusMessage"] == "1 of 2 failed."


async def knobs_run(moto_server: str, queue: Queue) -> tuple[dict[str, int], list[tuple[str, str]]]:
    clock = ManualClock()
    async with OmicsEmulator(
        seed=5,
        clock=clock,
        events_endpoint_url=moto_server,
        event_drop_rate=0.2,
        event_duplicate_rate=0.3,
        event_delay=(0.0, 0.5),
        job_seconds=(0.2, 0.4),
    ) as emu:
        for _ in range(4):
            emu.add_job(STORE, ["1111111111", "2222222222"])
            emu.add_run(tasks=2)
        clock.advance(2.0)  # every change, and every delay, has passed
        await emu.events_settled()
        stats = emu.stats.events
    events = await queue.drain()
    return stats, [(e["resources"][0], e["detail"]["status"]) for e in events]


@pytest.mark.asyncio
async def test_drop_duplicate_and_delay_knobs_are_seeded(moto_server: str, queue: Queue) -> None:
    first_stats, first = await knobs_run(moto_server, queue)
    again_stats, again = await knobs_run(moto_server, queue)
    assert first_stats == again_stats
    assert first_stats["dropped"] > 0
    assert first_stats["duplicated"] > 0
    assert first_stats["failed"] == 0
    assert first_stats["published"] == len(first) == len(again)
    assert len(set(first)) < len(first)  # duplicates arrived
    # Delays reorder: some job's statuses arrive out of the order they happened in.
    order = {"SUBMITTED": 0, "PENDING": 0, "STARTING": 1, "IN_PROGRESS": 1, "RUNNING": 2}
    reordered = False
    for resource in {r for r, _ in first}:
        ranks = [order.get(status, 9) for r, status in first if r == resource]
        reordered = reordered or ranks != sorted(ranks)
    assert reordered


@pytest.mark.asyncio
async def test_published_count_follows_from_the_knobs(moto_server: str, queue: Queue) -> None:
    clock = ManualClock()
    async with OmicsEmulator(
        seed=9,
        clock=clock,
        events_endpoint_url=moto_server,
        event_drop_rate=0.5,
        event_duplicate_rate=0.5,
    ) as emu:
        job = emu.add_job(STORE, ["1111111111"], timeline=[Step(at=0.1, status="COMPLETED")])
        runs = [emu.add_run(timeline=[Step(at=0.1, status="RUNNING")]) for _ in range(10)]
        clock.advance(1.0)
        await emu.events_settled()
        stats = emu.stats.events
    changes = 2 + 2 * len(runs)
    assert stats["published"] == changes - stats["dropped"] + stats["duplicated"]
    assert len(await queue.drain()) == stats["published"]
    assert job


@pytest.mark.asyncio
async def test_an_unreachable_endpoint_never_stops_the_emulator(make_client: Any) -> None:
    clock = ManualClock()
    async with OmicsEmulator(clock=clock, events_endpoint_url="http://127.0.0.1:9") as emu:
        client = await make_client(emu)
        job = emu.add_job(STORE, ["1111111111"], timeline=[Step(at=0.1, status="COMPLETED")])
        clock.advance(1.0)
        await emu.events_settled()
        got = await client.get_read_set_activation_job(sequenceStoreId=STORE, id=job)
        stats = emu.stats.events
    assert got["status"] == "COMPLETED"
    assert stats == {"published": 0, "dropped": 0, "duplicated": 0, "failed": 2}


def _job(created: float, steps: list[Step], job_id: str) -> Job:
    return Job.build(
        job_id=job_id, scope=STORE, item_keys=["1"], created=created, seq=0, timeline=steps
    )


def test_schedule_decides_the_same_however_often_it_is_asked() -> None:
    settings = EventSettings(
        endpoint_url="http://unused", delay=(0.0, 1.0), drop_rate=0.3, duplicate_rate=0.3
    )
    steps = [Step(at=0.1 * i, status=f"S{i}") for i in range(1, 9)]
    jobs = {
        (Kind.READ_SET_ACTIVATION_JOB, STORE, str(n)): _job(0.0, steps, str(n)) for n in range(20)
    }

    def collect(times: list[float]) -> tuple[list[tuple[str, str]], dict[str, int]]:
        stats = EmulatorStats()
        schedule = EventSchedule(
            settings=settings,
            seed=1,
            lookup=jobs.get,
            describe=lambda job, snap: (
                "Read Set Activation Job Status Change",
                {"id": job.id, "status": snap.status},
                job.id,
            ),
            epoch_ms=lambda t: int(t * 1000),
            stats=stats,
        )
        for job in jobs.values():
            schedule.watch(job)
        seen = []
        for now in times:
            seen += [(e.resource, e.detail["status"]) for e in schedule.due(now)]
        return sorted(seen), stats.events

    once = collect([5.0])
    often = collect([i / 100 for i in range(501)])
    assert once == often
    assert once[1]["dropped"] > 0
    assert once[1]["duplicated"] > 0


def test_event_settings_refuse_bad_knobs() -> None:
    with pytest.raises(ValueError, match="event_delay"):
        EventSettings(endpoint_url="http://x", delay=(2.0, 1.0))
    with pytest.raises(ValueError, match="event_drop_rate"):
        EventSettings(endpoint_url="http://x", drop_rate=1.5)
    with pytest.raises(ValueError, match="events_endpoint_url"):
        OmicsEmulator(event_drop_rate=0.5)
