"""The fault matrix, many-job side: each fault of issue 6 against a mixed population of jobs.

Every case watches, through a real SigV4-signing aiobotocore client against the emulator, jobs
in two sequence stores at once: one with enough jobs to be swept with List, one with one or two
jobs polled with Get. Each asserts the final verdict of every job, the event-stream contract
(`invariants.check_events`: in order, nothing repeated, exactly one final event per job, so no
wait is lost) and what reached the emulator. The single-job side of the matrix is in
test_waiter_integration.py.

Timelines last a second or less and the waiter polls every 0.05-0.2 s, so each case takes
about a second (the quota case a few).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
import pytest

from invariants import Key, check_events, outcome
from omics_waiter import (
    AccessDeniedError,
    ActivationJob,
    ActivationJobStatus,
    ActivationSource,
    JobStatusChanged,
    JobWatchFailed,
    OmicsWaiter,
    PollRetrying,
    SourceStatus,
    UnexpectedResponseError,
    WaitTimeoutError,
    WatchEvent,
)
from omics_waiter.testing import Faults, OmicsEmulator, Step

SWEPT = "1234567890"  # enough watched jobs to be swept with List
POLLED = "2345678901"  # one or two watched jobs: polled with Get
R1, R2 = "1111111111", "2222222222"
GET = "GetReadSetActivationJob"
LIST = "ListReadSetActivationJobs"
MIN_DELAY = 0.05
MAX_DELAY = 0.2
GRACE = 1.0
COMPLETED = "COMPLETED"

MakeClient = Callable[..., Awaitable[Any]]


def completes_at(at: float) -> list[Step]:
    return [
        Step(at=0.05, status="IN_PROGRESS", sources={R1: "IN_PROGRESS"}),
        Step(at=at, status=COMPLETED, sources={R1: "FINISHED", R2: "FINISHED"}),
    ]


NEVER_ENDS = [Step(at=0.05, status="IN_PROGRESS", sources={R1: "IN_PROGRESS"})]
PAUSES = [
    Step(at=0.05, status="IN_PROGRESS", sources={R1: "IN_PROGRESS"}),
    Step(at=0.2, status="PAUSED"),
]


def add_jobs(
    emu: OmicsEmulator, store: str, timelines: Sequence[list[Step]], **kw: Any
) -> list[Key]:
    return [(store, emu.add_job(store, [R1, R2], timeline=t, **kw)) for t in timelines]


async def new_waiter(
    emu: OmicsEmulator,
    make_client: MakeClient,
    *,
    max_tps: float = 50,
    warm_up: bool = True,
    **client_config: Any,
) -> OmicsWaiter:
    """A waiter on a fresh client; warmed up (connected, so its first poll is prompt) unless
    told not to, and with the emulator's counters reset."""
    client = await make_client(emu, **client_config)
    if warm_up:
        await client.list_read_set_activation_jobs(sequenceStoreId=SWEPT)
    emu.stats.reset()
    return OmicsWaiter(
        client,
        min_delay=MIN_DELAY,
        max_delay=MAX_DELAY,
        max_tps=max_tps,
        not_found_grace=GRACE,
    )


async def watch_all(waiter: OmicsWaiter, keys: Sequence[Key], **kwargs: Any) -> list[WatchEvent]:
    kwargs.setdefault("timeout", 15)
    return [event async for event in waiter.watch_activation_jobs(keys, **kwargs)]


def verdicts(
    emu: OmicsEmulator, events: Sequence[WatchEvent], keys: Sequence[Key]
) -> dict[Key, str]:
    """Each job's outcome, once the stream is checked; a terminal job must be what the
    service holds (status and read sets)."""
    finals = check_events(events, keys)
    for (store, job_id), final in finals.items():
        if isinstance(final, JobStatusChanged):
            state = emu.job_state(store, job_id)
            assert (
                str(final.status),
                {s.read_set_id: str(s.status) for s in final.job.sources},
            ) == (
                state["status"],
                {s["readSetId"]: s["status"] for s in state["sources"]},
            ), f"the final event of {job_id} is not the service's final state"
    return {key: outcome(final) for key, final in finals.items()}


def retried(events: Sequence[WatchEvent]) -> set[tuple[str, str]]:
    """(operation, reason) of every retry reported."""
    return {(e.operation, e.reason) for e in events if isinstance(e, PollRetrying)}


def seen_unchanged(key: Key) -> ActivationJob:
    """A job as first seen: SUBMITTED, its read sets not started (for `since=`)."""
    store, job_id = key
    return ActivationJob(
        id=job_id,
        sequence_store_id=store,
        status=ActivationJobStatus.SUBMITTED,
        creation_time=dt.datetime.now(dt.timezone.utc),
        sources=(
            ActivationSource(R1, SourceStatus.NOT_STARTED),
            ActivationSource(R2, SourceStatus.NOT_STARTED),
        ),
    )


# -- transient faults never kill a wait before its deadline ---------------------------------


@pytest.mark.asyncio
async def test_throttling_storm_on_half_of_all_requests_loses_no_job(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    waiter = await new_waiter(emulator, make_client)
    keys = add_jobs(emulator, SWEPT, [completes_at(0.3 + i * 0.1) for i in range(5)])
    keys += add_jobs(emulator, POLLED, [completes_at(0.4), completes_at(0.8)])
    with emulator.faults_window(Faults(throttle_rate=0.5), duration=1.0):
        events = await watch_all(waiter, keys)
    assert verdicts(emulator, events, keys) == dict.fromkeys(keys, COMPLETED)
    reasons = {reason for _, reason in retried(events)}
    assert (reasons, emulator.stats.count(None, 429) >= 1) == ({"ThrottlingException"}, True)


# Every request fails for `window` seconds; jobs finish just after it, so both the List sweeps
# and the Get polls must be retried through it.
OUTAGES = {
    "server-error-burst": (Faults(error_rate=1.0), 0.5, "InternalServerException", {}),
    "dropped-connections": (Faults(drop_rate=1.0), 0.4, "ConnectionError", {}),
    "responses-slower-than-the-read-timeout": (
        Faults(slow_rate=1.0, slow_seconds=1.0),
        0.5,
        "ReadTimeout",
        {"read_timeout": 0.3},
    ),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("case", list(OUTAGES))
async def test_outage_is_retried_by_list_sweeps_and_get_polls_until_every_job_completes(
    emulator: OmicsEmulator, make_client: MakeClient, case: str
) -> None:
    faults, window, reason, client_config = OUTAGES[case]
    waiter = await new_waiter(emulator, make_client, **client_config)
    keys = add_jobs(emulator, SWEPT, [completes_at(window + 0.1 + i * 0.1) for i in range(4)])
    keys += add_jobs(emulator, POLLED, [completes_at(window + 0.2)])
    with emulator.faults_window(faults, duration=window):
        events = await watch_all(waiter, keys)
    assert verdicts(emulator, events, keys) == dict.fromkeys(keys, COMPLETED)
    assert retried(events) == {(LIST, reason), (GET, reason)}


@pytest.mark.asyncio
async def test_jobs_not_visible_for_a_moment_are_followed_to_completion(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    waiter = await new_waiter(emulator, make_client)
    hidden = 0.4  # well within the not-found grace period
    keys = add_jobs(emulator, SWEPT, [completes_at(0.7)] * 4, visible_after=hidden)
    keys += add_jobs(emulator, POLLED, [completes_at(0.7)], visible_after=hidden)
    events = await watch_all(waiter, keys)
    assert verdicts(emulator, events, keys) == dict.fromkeys(keys, COMPLETED)
    not_found = {
        e.sequence_store_id
        for e in events
        if isinstance(e, PollRetrying) and e.reason == "ResourceNotFoundException"
    }
    assert not_found == {SWEPT, POLLED}


@pytest.mark.serial  # measures time or rates: alone, not beside xdist workers
@pytest.mark.asyncio
async def test_demand_ten_times_the_quota_is_brought_under_it_and_every_wait_completes(
    make_client: MakeClient,
) -> None:
    quota = 5
    async with OmicsEmulator(seed=3, quota_tps=quota) as emu:
        waiter = await new_waiter(emu, make_client, max_tps=10 * quota)
        singles = add_jobs(emu, POLLED, [completes_at(0.5)] * 30)
        keys = add_jobs(emu, SWEPT, [completes_at(0.5)] * 4)
        keys += add_jobs(emu, "3456789012", [completes_at(0.5)])
        results: dict[Key, str] = {}
        events: list[WatchEvent] = []
        throttled_by_second: list[int] = []

        async def wait_one(key: Key) -> None:
            job = await waiter.wait_for_activation_job(*key, timeout=30)
            results[key] = str(job.status)

        async def watch_many() -> None:
            events.extend(await watch_all(waiter, keys, timeout=30))

        async def sample() -> None:
            while True:
                await anyio.sleep(1.0)
                throttled_by_second.append(emu.stats.count(None, 429))

        start = anyio.current_time()
        async with anyio.create_task_group() as waits:
            waits.start_soon(sample)
            async with anyio.create_task_group() as tg:
                for key in singles:
                    tg.start_soon(wait_one, key)
                tg.start_soon(watch_many)
            waits.cancel_scope.cancel()
        elapsed = anyio.current_time() - start
        throttled = emu.stats.count(None, 429)
    assert results == dict.fromkeys(singles, COMPLETED)
    assert verdicts(emu, events, keys) == dict.fromkeys(keys, COMPLETED)
    # AIMD halves the rate at most once a second: the first seconds draw 429s, then the
    # budget settles near the quota and 429s become rare.
    counts = throttled_by_second
    first_two, last_two = counts[1], counts[-1] - counts[-3]
    # A client that kept to max_tps would draw (max_tps - quota) 429s a second on Get alone.
    fixed_rate = (10 * quota - quota) * elapsed
    assert (last_two <= first_two / 4, throttled < fixed_rate / 2) == (True, True), (
        f"429s: {throttled} in {elapsed:.1f}s, cumulated each second: {counts}"
    )


# -- fail fast on faults that will not heal -------------------------------------------------


@pytest.mark.asyncio
async def test_refused_credentials_fail_every_job_after_one_request_per_store_or_job(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    waiter = await new_waiter(
        emulator, make_client, warm_up=False, credentials=("testing", "wrong", None)
    )
    keys = add_jobs(emulator, SWEPT, [completes_at(0.2)] * 3)
    keys += add_jobs(emulator, POLLED, [completes_at(0.2)] * 2)
    events = await watch_all(waiter, keys)
    finals = check_events(events, keys)
    assert {
        key: (type(final.error).__name__, final.error.code)
        for key, final in finals.items()
        if isinstance(final, JobWatchFailed)
    } == dict.fromkeys(keys, (AccessDeniedError.__name__, "InvalidSignatureException"))
    assert emulator.stats.requests == {LIST: {"403": 1}, GET: {"403": 2}}


@pytest.mark.asyncio
async def test_jobs_that_never_finish_time_out_at_the_deadline_and_the_others_complete(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    waiter = await new_waiter(emulator, make_client)
    stuck = add_jobs(emulator, SWEPT, [NEVER_ENDS] * 3) + add_jobs(emulator, POLLED, [NEVER_ENDS])
    done = add_jobs(emulator, SWEPT, [completes_at(0.3)] * 2)
    done += add_jobs(emulator, POLLED, [completes_at(0.3)])
    keys = stuck + done
    timeout = 1.0
    start = anyio.current_time()
    timed: list[tuple[float, WatchEvent]] = []
    async for event in waiter.watch_activation_jobs(keys, timeout=timeout):
        timed.append((anyio.current_time() - start, event))
    events = [event for _, event in timed]
    assert verdicts(emulator, events, keys) == (
        dict.fromkeys(stuck, WaitTimeoutError.__name__) | dict.fromkeys(done, COMPLETED)
    )
    last_seen = {
        (e.sequence_store_id, e.job_id): e.job and str(e.job.status)
        for e in events
        if isinstance(e, JobWatchFailed)
    }
    assert last_seen == dict.fromkeys(stuck, "IN_PROGRESS")
    # Generous slack for a loaded machine; the claim is "not early, not a poll interval late".
    ended = [at for at, e in timed if isinstance(e, JobWatchFailed)]
    assert all(timeout - 0.01 <= at <= timeout + MIN_DELAY + 0.25 for at in ended), ended


@pytest.mark.asyncio
@pytest.mark.parametrize("store", [SWEPT, POLLED], ids=["swept", "polled"])
async def test_unknown_status_fails_only_its_job(
    emulator: OmicsEmulator, make_client: MakeClient, store: str
) -> None:
    waiter = await new_waiter(emulator, make_client)
    swept = [completes_at(0.3 + i * 0.05) for i in range(4)]
    polled = [completes_at(0.4)] * 2
    (swept if store == SWEPT else polled)[0] = PAUSES
    keys = add_jobs(emulator, SWEPT, swept) + add_jobs(emulator, POLLED, polled)
    odd = keys[0] if store == SWEPT else keys[4]
    events = await watch_all(waiter, keys)
    expected = dict.fromkeys(keys, COMPLETED) | {odd: UnexpectedResponseError.__name__}
    assert verdicts(emulator, events, keys) == expected
    failed = check_events(events, keys)[odd]
    assert isinstance(failed, JobWatchFailed)
    assert isinstance(failed.error, UnexpectedResponseError)
    assert failed.error.job is not None and str(failed.error.job.status) == "PAUSED"


@pytest.mark.asyncio
async def test_malformed_get_body_fails_only_the_job_it_answers(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    waiter = await new_waiter(emulator, make_client)
    # The swept jobs are already seen (`since`) and change only after the window, so the one
    # Get-polled job is the only one fetched while every Get body is malformed.
    window = 0.5
    swept = add_jobs(
        emulator,
        SWEPT,
        [[Step(window + 0.3, COMPLETED, sources={R1: "FINISHED", R2: "FINISHED"})]] * 3,
    )
    polled = add_jobs(emulator, POLLED, [completes_at(0.3)])
    keys = swept + polled
    since = [seen_unchanged(key) for key in swept]
    with emulator.faults_window(
        Faults(malformed_rate=1.0, operations=frozenset({GET})), duration=window
    ):
        events = [e async for e in waiter.watch_activation_jobs(keys, since=since, timeout=15)]
    finals = check_events(events, keys, since)
    assert {key: outcome(final) for key, final in finals.items()} == (
        dict.fromkeys(swept, COMPLETED) | dict.fromkeys(polled, UnexpectedResponseError.__name__)
    )
    assert emulator.stats.count(GET, 200) >= len(keys)  # the malformed one and each swept job


@pytest.mark.asyncio
async def test_malformed_list_page_fails_only_the_swept_store(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    waiter = await new_waiter(emulator, make_client)
    # Ending 1.5 s after they are added, the jobs are seen running first, and so swept, even
    # by a slowed event loop (at 0.3 s, one under xdist on a loaded machine saw them ended).
    swept = add_jobs(emulator, SWEPT, [completes_at(1.5)] * 3)
    polled = add_jobs(emulator, POLLED, [completes_at(1.5)] * 2)
    keys = swept + polled
    with emulator.faults_window(Faults(malformed_rate=1.0, operations=frozenset({LIST}))):
        events = await watch_all(waiter, keys)
    assert verdicts(emulator, events, keys) == (
        dict.fromkeys(swept, UnexpectedResponseError.__name__) | dict.fromkeys(polled, COMPLETED)
    )
