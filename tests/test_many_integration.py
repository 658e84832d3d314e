"""The many-job API through a real aiobotocore client against the emulator.

Every test checks the watch's contract with `invariants.check_events`: per job, its events come
in order, each ``previous`` is the status last reported for that job or read set, no transition
is reported twice, and exactly one final event (a terminal `JobStatusChanged` or a
`JobWatchFailed`) ends the job's events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
import pytest_asyncio

from invariants import Key, check_events, outcome
from omics_waiter import (
    ActivationJob,
    ActivationJobStatus,
    ActivationSource,
    JobFailedError,
    JobNotFoundError,
    JobPartiallyFailedError,
    OmicsWaiter,
    PollRetrying,
    SourceStatus,
    WaitTimeoutError,
    WatchEvent,
)
from omics_waiter.testing import Faults, OmicsEmulator, Step

BATCH_STORE = "1234567890"  # many watched jobs: swept with List
SOLO_STORE = "2345678901"  # one or two watched jobs: polled with Get
R1, R2 = "1111111111", "2222222222"
GET = "GetReadSetActivationJob"
LIST = "ListReadSetActivationJobs"
MAX_DELAY = 0.2

MakeClient = Callable[..., Awaitable[Any]]


def completes_at(at: float, *, started: float = 0.05) -> list[Step]:
    return [
        Step(at=started, status="IN_PROGRESS", sources={R1: "IN_PROGRESS"}),
        Step(at=at, status="COMPLETED", sources={R1: "FINISHED"}),
    ]


async def new_waiter(
    emu: OmicsEmulator, make_client: MakeClient, *, max_tps: float = 50
) -> OmicsWaiter:
    """A waiter whose client has already connected; the emulator's stats reset."""
    client = await make_client(emu)
    await client.list_read_set_activation_jobs(sequenceStoreId=BATCH_STORE)
    emu.stats.reset()
    return OmicsWaiter(
        client, min_delay=0.05, max_delay=MAX_DELAY, max_tps=max_tps, not_found_grace=1.0
    )


@pytest_asyncio.fixture
async def waiter(emulator: OmicsEmulator, make_client: MakeClient) -> OmicsWaiter:
    return await new_waiter(emulator, make_client)


async def watch_all(waiter: OmicsWaiter, keys: Sequence[Key], **kwargs: Any) -> list[WatchEvent]:
    kwargs.setdefault("timeout", 15)
    return [event async for event in waiter.watch_activation_jobs(keys, **kwargs)]


@pytest.mark.asyncio
async def test_a_store_with_many_jobs_is_swept_with_list_and_costs_few_gets(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    duration = 1.2
    # No IN_PROGRESS step: each batch job changes once after first sight.
    batch = [
        (BATCH_STORE, emulator.add_job(BATCH_STORE, [R1], timeline=[Step(duration, "COMPLETED")]))
        for _ in range(10)
    ]
    solo = [(SOLO_STORE, emulator.add_job(SOLO_STORE, [R1], timeline=completes_at(0.3)))]
    events = await watch_all(waiter, batch + solo)
    check_events(events, batch + solo)
    # Polled one by one at least every MAX_DELAY, the batch jobs alone would cost this many.
    per_job_gets = len(batch) * (1 + duration / MAX_DELAY)
    gets, lists = emulator.stats.count(GET), emulator.stats.count(LIST)
    assert (lists >= 1, gets < per_job_gets / 2) == (True, True), (gets, lists)


@pytest.mark.asyncio
async def test_mixed_outcomes_each_end_their_own_job(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    partial = [
        Step(at=0.1, status="IN_PROGRESS"),
        Step(
            at=0.3,
            status="COMPLETED_WITH_FAILURES",
            sources={R1: "FINISHED", R2: ("FAILED", "Read set is not archived.")},
        ),
    ]
    failed = [
        Step(at=0.1, status="IN_PROGRESS"),
        Step(at=0.4, status="FAILED", sources={R1: ("FAILED", "No."), R2: ("FAILED", "No.")}),
    ]
    expected = {
        (BATCH_STORE, emulator.add_job(BATCH_STORE, [R1], timeline=completes_at(0.3))): "COMPLETED",
        (BATCH_STORE, emulator.add_job(BATCH_STORE, [R1, R2], timeline=partial)): (
            "COMPLETED_WITH_FAILURES"
        ),
        (BATCH_STORE, emulator.add_job(BATCH_STORE, [R1, R2], timeline=failed)): "FAILED",
        (BATCH_STORE, "9999999999"): "JobNotFoundError",
        (SOLO_STORE, emulator.add_job(SOLO_STORE, [R1], timeline=completes_at(0.2))): "COMPLETED",
        (SOLO_STORE, "8888888888"): "JobNotFoundError",
    }
    events = await watch_all(waiter, list(expected))
    finals = check_events(events, expected)
    assert {key: outcome(final) for key, final in finals.items()} == expected


@pytest.mark.asyncio
async def test_jobs_finishing_at_the_same_instant_each_end_once(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    keys = [
        (BATCH_STORE, emulator.add_job(BATCH_STORE, [R1, R2], timeline=completes_at(0.4)))
        for _ in range(6)
    ]
    events = await watch_all(waiter, keys)
    finals = check_events(events, keys)
    assert {outcome(final) for final in finals.values()} == {"COMPLETED"}


@pytest.mark.asyncio
async def test_jobs_changing_between_list_pages_are_all_followed_to_the_end(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    waiter = await new_waiter(emulator, make_client, max_tps=300)
    # 120 jobs: List needs two pages, and statuses change throughout the sweeps.
    keys = [
        (
            BATCH_STORE,
            emulator.add_job(
                BATCH_STORE, [R1], timeline=completes_at(0.3 + (i % 20) * 0.02, started=0.1)
            ),
        )
        for i in range(120)
    ]
    events = await watch_all(waiter, keys)
    finals = check_events(events, keys)
    assert (
        {outcome(final) for final in finals.values()},
        emulator.stats.count(LIST, 200) >= 2,
    ) == ({"COMPLETED"}, True)


@pytest.mark.asyncio
async def test_wait_for_many_returns_outcomes_in_input_order(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    failed = [Step(at=0.1, status="FAILED", status_message="All read sets failed.")]
    partial = [
        Step(at=0.15, status="COMPLETED_WITH_FAILURES", sources={R1: ("FAILED", "Corrupt.")})
    ]
    keys = [
        # The first listed finishes last.
        (BATCH_STORE, emulator.add_job(BATCH_STORE, [R1], timeline=completes_at(0.5))),
        (SOLO_STORE, "8888888888"),
        (BATCH_STORE, emulator.add_job(BATCH_STORE, [R1], timeline=failed)),
        (SOLO_STORE, emulator.add_job(SOLO_STORE, [R1], timeline=completes_at(0.1))),
        (BATCH_STORE, emulator.add_job(BATCH_STORE, [R1], timeline=partial)),
    ]
    outcomes = await waiter.wait_for_activation_jobs(keys, timeout=15)
    assert [
        (job.id, str(job.status)) if isinstance(job, ActivationJob) else type(job).__name__
        for job in outcomes
    ] == [
        (keys[0][1], "COMPLETED"),
        JobNotFoundError.__name__,
        JobFailedError.__name__,
        (keys[3][1], "COMPLETED"),
        JobPartiallyFailedError.__name__,
    ]


@pytest.mark.asyncio
async def test_throttling_window_loses_no_job(emulator: OmicsEmulator, waiter: OmicsWaiter) -> None:
    keys = [
        (BATCH_STORE, emulator.add_job(BATCH_STORE, [R1], timeline=completes_at(0.2 + i * 0.05)))
        for i in range(10)
    ] + [
        (SOLO_STORE, emulator.add_job(SOLO_STORE, [R1], timeline=completes_at(0.3 + i * 0.2)))
        for i in range(2)
    ]
    with emulator.faults_window(Faults(throttle_rate=0.5), duration=1.0):
        events = await watch_all(waiter, keys)
    finals = check_events(events, keys)
    assert (
        {outcome(final) for final in finals.values()},
        any(isinstance(e, PollRetrying) for e in events),
        emulator.stats.count(None, 429) >= 1,
    ) == ({"COMPLETED"}, True, True)


def unchanged(store: str, job_id: str) -> ActivationJob:
    """A job as first seen: SUBMITTED, its read set not started."""
    return ActivationJob(
        id=job_id,
        sequence_store_id=store,
        status=ActivationJobStatus.SUBMITTED,
        creation_time=dt.datetime.now(dt.timezone.utc),
        sources=(ActivationSource(R1, SourceStatus.NOT_STARTED),),
    )


@pytest.mark.serial  # measures time or rates: alone, not beside xdist workers
@pytest.mark.asyncio
async def test_a_budget_at_the_quota_draws_no_throttling(make_client: MakeClient) -> None:
    async with OmicsEmulator(seed=2, quota_tps=5) as emu:
        waiter = await new_waiter(emu, make_client, max_tps=5)
        # 100 jobs, already seen (so no first-sight Gets); 8 finish at once, more than the
        # quota's burst of 5, and the rest never do.
        keys = [(BATCH_STORE, emu.add_job(BATCH_STORE, [R1], timeline=[])) for _ in range(92)]
        keys += [
            (
                BATCH_STORE,
                emu.add_job(BATCH_STORE, [R1], timeline=[Step(at=0.2, status="COMPLETED")]),
            )
            for _ in range(8)
        ]
        since = [unchanged(*key) for key in keys]
        events = await watch_all(waiter, keys, since=since, timeout=2.5)
        finals = check_events(events, keys, since)
        outcomes = sorted(outcome(final) for final in finals.values())
        assert (
            emu.stats.count(None, 429),
            outcomes.count("COMPLETED"),
            outcomes.count(WaitTimeoutError.__name__),
            emu.stats.count(GET, 200),
        ) == (0, 8, 92, 8)


@pytest.mark.asyncio
async def test_jobs_already_terminal_in_since_end_without_waiting_for_the_deadline(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    # A job already terminal in `since` had its final event before: it ends at once,
    # with no event and no request, in List-swept and Get-polled stores alike.
    keys = [
        (BATCH_STORE, emulator.add_job(BATCH_STORE, [R1], timeline=completes_at(0.05)))
        for _ in range(3)
    ]
    done = [await waiter.wait_for_activation_job(*key, timeout=10) for key in keys]
    requests = emulator.stats.count()
    events = await watch_all(waiter, keys, since=done, timeout=1.0)
    assert events == []
    assert emulator.stats.count() == requests
