"""Waits on push events: the emulator publishes through moto's EventBridge to an SQS queue
that the waiter long-polls; polling reconciles. Real parts end to end: the emulator over
HTTP with SigV4, moto's server as EventBridge and SQS, the waiter's aiobotocore clients.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
import pytest_asyncio
from aiobotocore.session import get_session

from omics_waiter import (
    ActivationJob,
    OmicsWaiter,
    PushModeChanged,
    ReadSetActivationJobRef,
    Run,
    RunRef,
    RunStatus,
    ServiceError,
)
from omics_waiter._events_setup import setup_events, teardown_events
from omics_waiter.testing import OmicsEmulator, Step

STORE = "1234567890"
R1 = "1111111111"
GET = "GetReadSetActivationJob"
LIST = "ListReadSetActivationJobs"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest_asyncio.fixture
async def queue_url(moto_server: str) -> AsyncIterator[str]:
    """A queue fed by a rule on source aws.omics (`omics-waiter events setup`), removed after."""
    name = f"waiter-{uuid.uuid4().hex[:8]}"
    options: dict[str, Any] = {"region_name": "us-east-1", "endpoint_url": moto_server}
    url = await setup_events(name, **options, **CREDENTIALS)
    yield url
    await teardown_events(name, **options, **CREDENTIALS)


def connect(emu: OmicsEmulator, queue: str, moto: str, **options: Any) -> Any:
    return OmicsWaiter.connect(
        endpoint_url=emu.endpoint_url,
        region_name="us-east-1",
        events_queue_url=queue,
        sqs_endpoint_url=moto,
        **CREDENTIALS,
        **options,
    )


def completing(at: float) -> list[Step]:
    return [Step(0.05, "IN_PROGRESS", sources={R1: "IN_PROGRESS"}), Step(at, "COMPLETED")]


@pytest.mark.asyncio
async def test_events_carry_the_wait_and_polling_only_reconciles(
    moto_server: str, queue_url: str
) -> None:
    async with OmicsEmulator(seed=3, events_endpoint_url=moto_server) as emu:
        refs = [
            ReadSetActivationJobRef(
                STORE, emu.add_job(STORE, [R1], timeline=completing(0.5 + i / 10))
            )
            for i in range(6)
        ]
        async with connect(
            emu, queue_url, moto_server, min_delay=0.1, max_delay=0.5, reconcile_delay=30
        ) as waiter:
            with anyio.fail_after(20):
                outcomes = await waiter.wait_many(refs)
    assert all(isinstance(o, ActivationJob) for o in outcomes), outcomes
    # Without events, a 0.5 s max_delay would sweep a few times a second for seconds; with
    # them, Gets follow the events (about one per job) and sweeps are reconciliation only.
    assert emu.stats.count(GET, 200) <= len(refs) + 3, emu.stats.requests
    assert emu.stats.count(LIST) <= 6, emu.stats.requests


@pytest.mark.asyncio
async def test_the_events_queue_is_read_through_the_callers_session_too(
    moto_server: str, queue_url: str
) -> None:
    """connect(session=...) makes the SQS client from that session (its credentials, its
    hooks), not from a new one: here, a hook registered on the session sees the SQS calls."""
    from aiobotocore.session import AioSession

    session = AioSession()
    session.set_credentials("testing", "testing")
    calls: list[str] = []
    session.register("before-call.sqs", lambda model, **_: calls.append(model.name))
    async with OmicsEmulator(seed=3, events_endpoint_url=moto_server) as emu:
        ref = ReadSetActivationJobRef(STORE, emu.add_job(STORE, [R1], timeline=completing(0.3)))
        async with OmicsWaiter.connect(
            session=session,
            endpoint_url=emu.endpoint_url,
            region_name="us-east-1",
            events_queue_url=queue_url,
            sqs_endpoint_url=moto_server,
            min_delay=0.1,
            max_delay=0.5,
        ) as waiter:
            with anyio.fail_after(20):
                job = await waiter.wait(ref)
    assert isinstance(job, ActivationJob)
    assert {"GetQueueAttributes", "ReceiveMessage"} <= set(calls), calls


@pytest.mark.asyncio
async def test_dropped_events_are_caught_by_reconciliation(
    moto_server: str, queue_url: str
) -> None:
    async with OmicsEmulator(seed=4, events_endpoint_url=moto_server, event_drop_rate=0.5) as emu:
        refs = [
            ReadSetActivationJobRef(STORE, emu.add_job(STORE, [R1], timeline=completing(0.3)))
            for _ in range(5)
        ]
        async with connect(
            emu, queue_url, moto_server, min_delay=0.1, max_delay=0.5, reconcile_delay=1.0
        ) as waiter:
            with anyio.fail_after(20):
                outcomes = await waiter.wait_many(refs)
    assert all(isinstance(o, ActivationJob) for o in outcomes), outcomes


@pytest.mark.asyncio
async def test_duplicated_and_reordered_events_change_nothing_reported(
    moto_server: str, queue_url: str
) -> None:
    async with OmicsEmulator(
        seed=5, events_endpoint_url=moto_server, event_delay=(0.0, 0.6), event_duplicate_rate=0.5
    ) as emu:
        refs = [
            ReadSetActivationJobRef(STORE, emu.add_job(STORE, [R1], timeline=completing(0.4)))
            for _ in range(4)
        ]
        async with connect(
            emu, queue_url, moto_server, min_delay=0.1, max_delay=0.5, reconcile_delay=2.0
        ) as waiter:
            with anyio.fail_after(20):
                events = [e async for e in waiter.watch_many(refs)]
    finals = [e for e in events if getattr(e, "is_terminal", False)]
    assert sorted(str(e.ref) for e in finals) == sorted(str(r) for r in refs)
    changes = [
        (str(e.ref), str(e.previous), str(e.status))
        for e in events
        if type(e).__name__ == "JobStatusChanged"
    ]
    assert len(changes) == len(set(changes)), changes  # no transition told twice


@pytest.mark.asyncio
async def test_a_queue_that_does_not_exist_fails_at_connect_naming_it(
    moto_server: str,
) -> None:
    missing = f"{moto_server}/123456789012/no-such-queue-{uuid.uuid4().hex[:6]}"
    async with OmicsEmulator(seed=6) as emu:
        with pytest.raises(ServiceError, match="no-such-queue"):
            async with connect(emu, missing, moto_server):
                pass
        assert emu.stats.requests == {}


@pytest.mark.asyncio
async def test_a_queue_deleted_mid_run_hands_the_watch_back_to_polling(
    moto_server: str, queue_url: str
) -> None:
    async with OmicsEmulator(seed=7, events_endpoint_url=moto_server) as emu:
        first = ReadSetActivationJobRef(STORE, emu.add_job(STORE, [R1], timeline=completing(0.2)))
        # Late enough that the first job's end is seen, and the queue deleted, before it ends,
        # however slow a loaded machine is (the test lasts the 20 s long poll anyway).
        late = ReadSetActivationJobRef(STORE, emu.add_job(STORE, [R1], timeline=completing(8.0)))
        async with connect(
            emu, queue_url, moto_server, min_delay=0.1, max_delay=0.5, reconcile_delay=30
        ) as waiter:
            modes: list[str] = []
            with anyio.fail_after(25):
                async for event in waiter.watch_many([first, late]):
                    if isinstance(event, PushModeChanged):
                        modes.append(event.mode)
                    if getattr(event, "is_terminal", False) and event.ref == first:
                        async with get_session().create_client(
                            "sqs", region_name="us-east-1", endpoint_url=moto_server, **CREDENTIALS
                        ) as sqs:
                            await sqs.delete_queue(QueueUrl=queue_url)
    # Events carried the first job; the queue's loss handed the second to polling, which
    # found it finished although no event could tell.
    assert modes[:1] == ["push"]
    assert "polling" in modes
    assert emu.stats.count(GET, 200) >= 2


@pytest.mark.asyncio
async def test_runs_and_tasks_are_carried_by_events_too(moto_server: str, queue_url: str) -> None:
    async with OmicsEmulator(seed=8, events_endpoint_url=moto_server) as emu:
        runs = [
            RunRef(
                emu.add_run(
                    timeline=[
                        Step(0.1, "STARTING"),
                        Step(0.3, "RUNNING"),
                        Step(3.0 + i / 10, "COMPLETED"),
                    ]
                )
            )
            for i in range(3)
        ]
        async with connect(
            emu, queue_url, moto_server, min_delay=0.5, max_delay=0.5, reconcile_delay=30
        ) as waiter:
            with anyio.fail_after(20):
                outcomes = await waiter.wait_many(runs)
    assert all(isinstance(o, Run) and o.status is RunStatus.COMPLETED for o in outcomes)
    # Polling alone would Get each run every 0.5 s for 3 s: 6 or more each. On events: a first
    # Get and the confirming one, and at most one poll before the first message turns push on
    # (a waiter starts polling and turns to push with its first message).
    assert emu.stats.count("GetRun", 200) <= 3 * len(runs), emu.stats.requests


@pytest.mark.asyncio
async def test_a_queue_that_comes_back_hands_the_watch_back_to_push(
    moto_server: str,
) -> None:
    name = f"waiter-{uuid.uuid4().hex[:8]}"
    options: dict[str, Any] = {"region_name": "us-east-1", "endpoint_url": moto_server}
    queue = await setup_events(name, **options, **CREDENTIALS)
    modes: list[str] = []
    try:
        async with OmicsEmulator(seed=9, events_endpoint_url=moto_server) as emu:
            first = ReadSetActivationJobRef(
                STORE, emu.add_job(STORE, [R1], timeline=completing(0.2))
            )
            late = ReadSetActivationJobRef(
                STORE,
                emu.add_job(
                    STORE,
                    [R1],
                    # SUBMITTED until 24 s: a status change (so an event) 3 s before it
                    # ends, after the queue is back (a change of message alone sends none).
                    timeline=[Step(24, "IN_PROGRESS"), Step(27, "COMPLETED")],
                ),
            )
            async with connect(
                emu, queue, moto_server, min_delay=0.1, max_delay=0.5, reconcile_delay=30
            ) as waiter:
                with anyio.fail_after(40):
                    async for event in waiter.watch_many([first, late]):
                        if isinstance(event, PushModeChanged):
                            modes.append(event.mode)
                            if event.mode == "polling":
                                # The queue is back (same name, rule and target).
                                await setup_events(name, **options, **CREDENTIALS)
                        if getattr(event, "is_terminal", False) and event.ref == first:
                            await teardown_events(name, **options, **CREDENTIALS)
    finally:
        await teardown_events(name, **options, **CREDENTIALS)
    assert modes[:3] == ["push", "polling", "push"], modes
