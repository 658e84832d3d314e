"""The waiter on trio, through the real aiobotocore client, against the emulator over HTTP.

aiobotocore's default transport (aiohttp) runs only on asyncio; on trio, `OmicsWaiter.connect()`
picks aiobotocore's httpx transport. The emulator's server is aiohttp too, so it runs in a
thread with its own asyncio loop while each test runs its waiter with `trio.run`.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest
import trio

from emulator_thread import EmulatorThread
from omics_waiter import (
    ActivationJob,
    ActivationJobStatus,
    JobPartiallyFailedError,
    JobStatusChanged,
    OmicsWaiter,
    OmicsWaiterError,
    PollRetrying,
    SourceStatusChanged,
    WatchEvent,
)
from omics_waiter.testing import Faults, Step

T = TypeVar("T")

STORE, OTHER_STORE = "1234567890", "2345678901"
R1, R2 = "1111111111", "2222222222"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    emulator = EmulatorThread(seed=7, job_seconds=(0.2, 0.5), failure_rate=0.0)
    try:
        yield emulator
    finally:
        emulator.close()


def stepped(end: float = 0.6) -> list[Step]:
    return [
        Step(at=0.1, status="IN_PROGRESS", sources={R1: "IN_PROGRESS"}),
        Step(at=end / 2, sources={R1: "FINISHED", R2: "IN_PROGRESS"}),
        Step(at=end, status="COMPLETED", sources={R2: "FINISHED"}),
    ]


def partially_failed() -> list[Step]:
    return [
        Step(at=0.1, status="IN_PROGRESS"),
        Step(at=0.4, status="COMPLETED_WITH_FAILURES", sources={R1: "FINISHED", R2: "FAILED"}),
    ]


@asynccontextmanager
async def connect(url: str, **options: Any) -> AsyncIterator[OmicsWaiter]:
    async with OmicsWaiter.connect(
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        min_delay=0.05,
        max_delay=0.2,
        max_tps=50,
        timeout=10,
        **options,
    ) as waiter:
        yield waiter


def on_trio(url: str, use: Callable[[OmicsWaiter], Awaitable[T]]) -> T:
    """Connect on trio, run `use(waiter)`, and return what it returns."""

    async def main() -> T:
        # Proof that this is trio's loop, not asyncio's.
        assert trio.lowlevel.current_trio_token() is not None
        async with connect(url) as waiter:
            return await use(waiter)

    return trio.run(main)


def test_wait_for_a_job_on_trio(emu: EmulatorThread) -> None:
    job_id = emu.add_job(STORE, [R1, R2], stepped())
    job = on_trio(emu.url, lambda w: w.wait_for_activation_job(STORE, job_id))
    assert (job.id, job.status, len(job.finished_sources)) == (
        job_id,
        ActivationJobStatus.COMPLETED,
        2,
    )


def test_watch_a_job_on_trio_tells_each_change_once_and_the_end_last(
    emu: EmulatorThread,
) -> None:
    job_id = emu.add_job(STORE, [R1, R2], stepped(end=0.8))

    async def watch(waiter: OmicsWaiter) -> list[WatchEvent]:
        return [e async for e in waiter.watch_activation_job(STORE, job_id)]

    events = [e for e in on_trio(emu.url, watch) if not isinstance(e, PollRetrying)]
    jobs = [
        (str(e.status), e.previous and str(e.previous))
        for e in events
        if isinstance(e, JobStatusChanged)
    ]
    sources = [
        (e.source.read_set_id, str(e.status)) for e in events if isinstance(e, SourceStatusChanged)
    ]
    assert jobs[-1] == ("COMPLETED", "IN_PROGRESS")
    assert isinstance(events[-1], JobStatusChanged)
    assert len(jobs) == len(set(jobs))
    assert (R1, "FINISHED") in sources
    assert (R2, "FINISHED") in sources
    assert len(sources) == len(set(sources))


def test_wait_for_many_jobs_on_trio_sweeps_and_polls(emu: EmulatorThread) -> None:
    # Three jobs in one store are swept with List; the one in another store is polled with Get.
    keys = [(STORE, emu.add_job(STORE, [R1, R2], stepped())) for _ in range(2)]
    keys.append((STORE, emu.add_job(STORE, [R1, R2], partially_failed())))
    keys.append((OTHER_STORE, emu.add_job(OTHER_STORE, [R1, R2], stepped())))
    outcomes = on_trio(emu.url, lambda w: w.wait_for_activation_jobs(keys))
    assert [type(o).__name__ for o in outcomes] == [
        "ActivationJob",
        "ActivationJob",
        "JobPartiallyFailedError",
        "ActivationJob",
    ]
    partial = outcomes[2]
    assert isinstance(partial, JobPartiallyFailedError)
    assert [s.read_set_id for s in partial.failed_sources] == [R2]
    assert all(
        o.status is ActivationJobStatus.COMPLETED for o in outcomes if isinstance(o, ActivationJob)
    )


def test_start_and_list_on_trio(emu: EmulatorThread) -> None:
    store = "3456789012"

    async def start_then_list(waiter: OmicsWaiter) -> tuple[str, list[str]]:
        started = await waiter.start_activation_job(store, [R1], client_token="trio-1")
        listed = await waiter.list_activation_jobs(store)
        return started.id, [job.id for job in listed]

    started, listed = on_trio(emu.url, start_then_list)
    assert listed == [started]


def test_dropped_connections_are_retried_on_trio(emu: EmulatorThread) -> None:
    faulty = EmulatorThread(
        seed=3, job_seconds=(0.2, 0.5), failure_rate=0.0, faults=Faults(drop_rate=0.4)
    )
    try:
        job_id = faulty.add_job(STORE, [R1, R2], stepped())

        async def watch(waiter: OmicsWaiter) -> list[WatchEvent]:
            return [e async for e in waiter.watch_activation_job(STORE, job_id)]

        events = on_trio(faulty.url, watch)
    finally:
        faulty.close()
    last = events[-1]
    assert isinstance(last, JobStatusChanged)
    assert last.status is ActivationJobStatus.COMPLETED
    # How many requests drop depends on how many are made (timing): each that did is
    # retried and told as a ConnectionError, none as anything else.
    assert {e.reason for e in events if isinstance(e, PollRetrying)} <= {"ConnectionError"}


def test_on_trio_without_the_httpx_transport_connect_names_the_extra(
    emu: EmulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if neither httpx2 nor httpx were installed.
    monkeypatch.setitem(sys.modules, "httpx2", None)
    monkeypatch.setitem(sys.modules, "httpx", None)

    async def main() -> None:
        async with connect(emu.url):
            pass

    with pytest.raises(OmicsWaiterError, match=r"omics-waiter\[trio\]"):
        trio.run(main)
