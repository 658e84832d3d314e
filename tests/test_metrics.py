"""The waiter's OpenTelemetry instruments, read back through the SDK's in-memory reader while
the waiter talks to the emulator over HTTP (a real aiobotocore client, SigV4, injected faults);
every count is held against what the emulator itself counted, and the detection delay against
the emulator's completion times (the benchmark's definition: the caller's receipt minus the
emulator's true completion time).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
import pytest_asyncio

from metrics_reader import Metrics
from omics_waiter import (
    ActivationJob,
    InvalidInputError,
    JobStatusChanged,
    OmicsWaiter,
    ReadSetActivationJobRef,
    RunRef,
)
from omics_waiter.testing import Faults, OmicsEmulator, Step
from servers import RedisServer, redis_server  # noqa: F401 - the fixture

STORE, OTHER = "1234567890", "2345678901"
R1 = "1111111111"
GET = "GetReadSetActivationJob"
LIST = "ListReadSetActivationJobs"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
TIMING = {"min_delay": 0.05, "max_delay": 0.2}
FAST = {**TIMING, "max_tps": 50}

REQUESTS = "omics_waiter.requests"
WAITS = "omics_waiter.waits"
WATCHED = "omics_waiter.jobs.watched"
DELAY = "omics_waiter.detection.delay"
RATE = "omics_waiter.budget.rate"
MODE = "omics_waiter.budget.mode"


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    m = Metrics()
    yield m
    m.close()


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[OmicsEmulator]:
    async with OmicsEmulator(seed=7) as emulator:
        yield emulator


def connect(emu: OmicsEmulator, metrics: Metrics, **options: Any) -> Any:
    return OmicsWaiter.connect(
        endpoint_url=emu.endpoint_url,
        region_name="us-east-1",
        meter_provider=metrics.provider,
        **CREDENTIALS,
        **{**FAST, **options},
    )


def ends(status: str, at: float) -> list[Step]:
    return [Step(0.05, "IN_PROGRESS", sources={R1: "IN_PROGRESS"}), Step(at, status)]


NEVER_ENDS = [Step(0.05, "IN_PROGRESS", sources={R1: "IN_PROGRESS"})]


def add(emu: OmicsEmulator, store: str, timeline: list[Step]) -> ReadSetActivationJobRef:
    return ReadSetActivationJobRef(store, emu.add_job(store, [R1], timeline=timeline))


# -- requests -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_requests_are_counted_by_operation_and_outcome_as_the_emulator_saw_them(
    emu: OmicsEmulator, metrics: Metrics
) -> None:
    # A swept store (List, then Gets) and a polled one (Gets): throttles and 500s on both
    # operations. (Not dropped connections: aiohttp sends an idempotent request again, once,
    # when a reused connection drops, so the emulator sees two requests where we send one.)
    refs = [add(emu, STORE, ends("COMPLETED", 0.4 + i / 20)) for i in range(5)]
    refs.append(add(emu, OTHER, ends("COMPLETED", 0.5)))
    emu.set_faults(Faults(throttle_rate=0.25, error_rate=0.15))
    async with connect(emu, metrics) as waiter:
        with anyio.fail_after(30):
            await waiter.wait_many(refs)
    for op in (GET, LIST):
        outcomes = metrics.by(REQUESTS, "outcome", operation=op)
        assert outcomes.get("ok", 0) == emu.stats.count(op, 200), (op, outcomes)
        assert outcomes.get("throttled", 0) == emu.stats.count(op, 429), (op, outcomes)
        assert outcomes.get("transient", 0) == emu.stats.count(op, 500), (op, outcomes)
        assert set(outcomes) <= {"ok", "throttled", "transient"}, outcomes
        assert metrics.histogram("omics_waiter.request.duration", operation=op).count == (
            emu.stats.count(op)
        )
    assert metrics.value(REQUESTS, outcome="throttled") > 0
    assert metrics.value(REQUESTS, outcome="transient") > 0


@pytest.mark.asyncio
async def test_not_found_requests_and_their_waits_are_counted(
    emu: OmicsEmulator, metrics: Metrics
) -> None:
    missing = ReadSetActivationJobRef(STORE, "9999999999")
    async with connect(emu, metrics, not_found_grace=0.3) as waiter:
        with anyio.fail_after(10):
            [outcome] = await waiter.wait_many([missing])
    assert type(outcome).__name__ == "JobNotFoundError"
    assert metrics.value(REQUESTS, operation=GET, outcome="not_found") == emu.stats.count(GET, 404)
    assert emu.stats.count(GET, 404) >= 2
    assert metrics.by(WAITS, "outcome") == {"not_found": 1}


@pytest.mark.asyncio
async def test_refused_requests_count_as_errors(emu: OmicsEmulator, metrics: Metrics) -> None:
    ref = add(emu, STORE, NEVER_ENDS)
    async with OmicsWaiter.connect(
        endpoint_url=emu.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="not-the-secret",
        meter_provider=metrics.provider,
        **FAST,
    ) as waiter:
        with anyio.fail_after(10):
            [outcome] = await waiter.wait_many([ref])
    assert type(outcome).__name__ == "AccessDeniedError"
    assert metrics.value(REQUESTS, operation=GET, outcome="error") == emu.stats.count(GET, 403)
    assert emu.stats.count(GET, 403) == 1
    assert metrics.by(WAITS, "outcome") == {"error": 1}


# -- waits and watched jobs -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_each_job_of_a_wait_many_counts_one_wait_by_its_outcome(
    emu: OmicsEmulator, metrics: Metrics
) -> None:
    timelines = [
        ends("COMPLETED", 0.3),
        ends("COMPLETED", 0.4),
        ends("COMPLETED_WITH_FAILURES", 0.3),
        ends("FAILED", 0.35),
        NEVER_ENDS,
    ]
    refs = [add(emu, STORE, t) for t in timelines]
    async with connect(emu, metrics) as waiter:
        with anyio.fail_after(10):
            outcomes = await waiter.wait_many(refs, timeout=1.0)
    assert len(outcomes) == 5
    assert metrics.by(WAITS, "outcome", kind="activation") == {
        "success": 2,
        "partial": 1,
        "failed": 1,
        "timeout": 1,
    }


@pytest.mark.asyncio
async def test_a_watch_closed_early_counts_its_jobs_cancelled_and_unwatched(
    emu: OmicsEmulator, metrics: Metrics
) -> None:
    refs = [add(emu, STORE, NEVER_ENDS) for _ in range(2)]
    async with connect(emu, metrics) as waiter:
        stream = waiter.watch_many(refs)
        with anyio.fail_after(10):
            await stream.__anext__()
        assert metrics.value(WATCHED, kind="activation") == 2
        await stream.aclose()
    assert metrics.by(WAITS, "outcome") == {"cancelled": 2}
    assert metrics.value(WATCHED) == 0


@pytest.mark.asyncio
async def test_jobs_watched_counts_each_job_once_by_kind_while_it_is_watched(
    emu: OmicsEmulator, metrics: Metrics
) -> None:
    jobs = [add(emu, STORE, NEVER_ENDS) for _ in range(3)]
    run = RunRef(emu.add_run(timeline=[Step(0.05, "RUNNING")], tasks=[]))
    async with connect(emu, metrics) as waiter:
        first = waiter.watch_many([*jobs, run])
        second = waiter.watch(jobs[0])  # a second watch of a job: still one job watched
        with anyio.fail_after(10):
            await first.__anext__()
        assert metrics.by(WATCHED, "kind") == {"activation": 3, "run": 1}
        await first.aclose()
        assert metrics.by(WATCHED, "kind") == {"activation": 1, "run": 0}
        await second.aclose()
    assert metrics.by(WATCHED, "kind") == {"activation": 0, "run": 0}


# -- detection delay ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_detection_delay_is_completion_to_delivery(
    emu: OmicsEmulator, metrics: Metrics
) -> None:
    # Every job must be seen unfinished first (a job final at first sight has no delay): they
    # end 1.5 s on, which a loaded machine's connect and first sweep stay well within.
    refs = [add(emu, STORE, ends("COMPLETED", 1.5 + i / 10)) for i in range(6)]
    delivered: list[float] = []  # the final event's time (taken as it is delivered)
    received: list[float] = []  # the benchmark's definition, on the emulator's clock
    async with connect(emu, metrics) as waiter:
        with anyio.fail_after(10):
            async for event in waiter.watch_many(refs):
                if isinstance(event, JobStatusChanged) and event.is_terminal:
                    done = emu.completion_time(event.job.id)
                    assert done is not None
                    received.append(time.monotonic() - done)
                    delivered.append((event.time - event.job.completion_time).total_seconds())
    recorded = metrics.histogram(DELAY, kind="activation", source="poll")
    assert recorded.count == len(refs) == len(delivered)
    assert recorded.sum == pytest.approx(sum(delivered), abs=0.005 * len(refs))
    # The caller hears of a job after its delivery (wire times are whole milliseconds).
    assert recorded.sum <= sum(received) + 0.002 * len(refs)


@pytest.mark.asyncio
async def test_detection_delay_counts_jobs_only_a_list_saw_unfinished(
    emu: OmicsEmulator, metrics: Metrics
) -> None:
    # wait_many asks for each job by ID only once a List shows it finished.
    refs = [add(emu, STORE, ends("COMPLETED", 1.5 + i / 10)) for i in range(5)]
    async with connect(emu, metrics) as waiter:
        with anyio.fail_after(10):
            outcomes = await waiter.wait_many(refs)
    assert all(isinstance(o, ActivationJob) for o in outcomes), outcomes
    assert emu.stats.count(GET) == len(refs)  # (no Get before a job finished)
    assert metrics.histogram(DELAY, source="poll").count == len(refs)


@pytest.mark.asyncio
async def test_jobs_final_at_first_sight_have_no_detection_delay(
    emu: OmicsEmulator, metrics: Metrics
) -> None:
    refs = [add(emu, STORE, [Step(0.0, "COMPLETED")]) for _ in range(4)]
    assert all(emu.completion_time(r.job_id) is not None for r in refs)
    async with connect(emu, metrics) as waiter:
        with anyio.fail_after(10):
            await waiter.wait_many(refs)
    assert metrics.by(WAITS, "outcome") == {"success": 4}
    assert metrics.histogram(DELAY).count == 0


# -- the budget ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_rate_gauge_shows_the_budget_cut_by_throttles(
    emu: OmicsEmulator, metrics: Metrics
) -> None:
    refs = [add(emu, OTHER, ends("COMPLETED", 0.5))]
    emu.set_faults(Faults(throttle_rate=0.5, operations=frozenset({GET})))
    async with connect(emu, metrics, max_tps=40) as waiter:
        with anyio.fail_after(10):
            await waiter.wait_many(refs)
        allowed = waiter.budget.rate(GET)
    assert emu.stats.count(GET, 429) > 0
    rate = metrics.value(RATE, operation=GET)
    # Kept after the last request; the budget has regained a little since.
    assert 0 < rate <= allowed < 40
    assert metrics.by(MODE, "mode") == {"local": 1, "shared": 0, "fallback": 0}


@pytest.mark.asyncio
async def test_a_shared_budget_reports_the_shared_mode_and_rate(
    emu: OmicsEmulator,
    metrics: Metrics,
    redis_server: RedisServer,  # noqa: F811
) -> None:
    refs = [add(emu, OTHER, ends("COMPLETED", 0.3))]
    async with connect(emu, metrics, budget_url=redis_server.url, max_tps=20) as waiter:
        with anyio.fail_after(10):
            await waiter.wait_many(refs)
    assert metrics.by(MODE, "mode") == {"local": 0, "shared": 1, "fallback": 0}
    assert metrics.value(RATE, operation=GET) == 20


@pytest.mark.asyncio
async def test_a_lost_shared_budget_reports_fallback(
    emu: OmicsEmulator,
    metrics: Metrics,
    redis_server: RedisServer,  # noqa: F811
) -> None:
    refs = [add(emu, OTHER, ends("COMPLETED", 0.3))]
    redis_server.stop()
    async with connect(emu, metrics, budget_url=redis_server.url, max_tps=20) as waiter:
        with anyio.fail_after(10):
            await waiter.wait_many(refs)
    assert metrics.by(MODE, "mode") == {"local": 0, "shared": 0, "fallback": 1}
    assert metrics.value(RATE, operation=GET) == 20  # one replica's share: all of it


@pytest.mark.asyncio
async def test_waiters_on_one_provider_report_each_budget_once(
    emu: OmicsEmulator, metrics: Metrics, make_client: Any
) -> None:
    client = await make_client(emu)
    first = OmicsWaiter(client, max_tps=7, meter_provider=metrics.provider, **TIMING)
    second = OmicsWaiter(client, max_tps=11, meter_provider=metrics.provider, **TIMING)
    # A third waiter sharing the first's budget adds no budget of its own.
    third = OmicsWaiter(client, budget=first.budget, meter_provider=metrics.provider, **TIMING)
    with anyio.fail_after(10):
        for waiter in (first, second, third):
            await waiter.wait_many([add(emu, OTHER, ends("COMPLETED", 0.1))])
    assert metrics.value(RATE, operation=GET) == 7 + 11
    assert metrics.by(MODE, "mode") == {"local": 2, "shared": 0, "fallback": 0}
    assert metrics.value(REQUESTS, operation=GET) == emu.stats.count(GET)


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_meter_provider_that_is_none_is_refused_before_any_request(
    emu: OmicsEmulator,
) -> None:
    with pytest.raises(InvalidInputError, match="meter_provider") as caught:
        async with OmicsWaiter.connect(
            endpoint_url=emu.endpoint_url,
            region_name="us-east-1",
            meter_provider="prometheus",
            **CREDENTIALS,
        ):
            pass
    assert caught.value.argument == "meter_provider"
    assert emu.stats.count() == 0
