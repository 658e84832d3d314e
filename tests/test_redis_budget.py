"""RedisBudget against a real redis-server (6.2): the script's arithmetic, sharing, faults.

The script's arithmetic is checked with the time pinned (the script reads Redis's TIME
unless a test gives it one); sharing and faults run in short real time and assert
counts and modes, never durations.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import anyio
import pytest
import pytest_asyncio
import redis.asyncio

from fakes import ManualClock as FakeClock
from omics_waiter import AccessDeniedError, InvalidInputError, OmicsWaiter, RedisBudget
from omics_waiter._redis_budget import FALLBACK, SHARED, Reservation
from omics_waiter.testing import OmicsEmulator, Step
from servers import RedisServer, redis_server  # noqa: F401 - the fixture

GET = "GetReadSetActivationJob"
LIST = "ListReadSetActivationJobs"
STORE = "1234567890"
R1 = "1111111111"
# Redis time of a realistic size (2023), so that rounding would show.
T0 = 1_700_000_000_000_000

MakeClient = Callable[..., Awaitable[Any]]


async def reserve(
    budget: RedisBudget,
    at: float,
    operation: str = GET,
    *,
    horizon: float = math.inf,
    reported: Sequence[str] = (),
) -> Reservation:
    """One call of the script at T0 + `at` seconds of Redis time."""
    return await budget._reserve(operation, horizon, list(reported), now_us=T0 + round(at * 1e6))


@pytest_asyncio.fixture
async def budgets(redis_server: RedisServer) -> AsyncIterator[Callable[..., RedisBudget]]:  # noqa: F811
    """``budgets(**options)``: RedisBudgets on the test's server, closed at teardown."""
    made: list[RedisBudget] = []

    def make(**options: Any) -> RedisBudget:
        budget = RedisBudget(redis_server.url, **options)
        made.append(budget)
        return budget

    yield make
    for budget in made:
        await budget.aclose()


# -- the script's arithmetic, at pinned times ----------------------------------------------


@pytest.mark.asyncio
async def test_slots_are_spaced_at_the_rate_in_arrival_order(budgets: Any) -> None:
    budget = budgets(max_tps=5)
    waits = [(await reserve(budget, 0.0)).wait for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])


@pytest.mark.asyncio
async def test_replicas_take_slots_from_one_lane(budgets: Any) -> None:
    one, two = budgets(max_tps=5), budgets(max_tps=5)
    waits = [(await reserve(budget, 0.0)).wait for budget in (one, two, one, two)]
    assert waits == pytest.approx([0.0, 0.2, 0.4, 0.6])


@pytest.mark.asyncio
async def test_each_operation_has_its_own_lane(budgets: Any) -> None:
    budget = budgets(max_tps=5)
    await reserve(budget, 0.0, GET)
    assert (await reserve(budget, 0.0, LIST)).wait == 0.0


@pytest.mark.asyncio
async def test_no_slot_beyond_the_horizon_and_nothing_reserved(budgets: Any) -> None:
    budget = budgets(max_tps=1)
    await reserve(budget, 0.0)
    refused = await reserve(budget, 0.0, horizon=0.5)
    assert (refused.granted, refused.wait) == (False, 1.0)
    granted = await reserve(budget, 0.0, horizon=1.0)
    assert (granted.granted, granted.wait) == (True, 1.0)


@pytest.mark.asyncio
async def test_a_throttle_halves_the_rate_once_per_burst_then_it_recovers(budgets: Any) -> None:
    budget = budgets(max_tps=8)  # recovers 0.4 requests/s per second
    first = await reserve(budget, 0.0, reported=[GET])
    assert (first.cuts, first.rate) == ((4.0,), 4.0)
    same_burst = await reserve(budget, 0.5, reported=[GET])
    assert same_burst.cuts == (None,)
    assert same_burst.rate == pytest.approx(4.2)
    later = await reserve(budget, 2.0, reported=[GET])
    assert later.cuts == (pytest.approx(2.4),)
    assert (await reserve(budget, 7.0)).rate == pytest.approx(4.4)
    assert (await reserve(budget, 100.0)).rate == 8.0


@pytest.mark.asyncio
async def test_the_rate_never_falls_below_the_floor(budgets: Any) -> None:
    budget = budgets(max_tps=1)  # floor 0.2
    for second in range(4):
        cut = await reserve(budget, float(second), reported=[GET])
    assert cut.cuts == (0.2,)


@pytest.mark.asyncio
async def test_a_throttle_pushes_the_next_slot_out(budgets: Any) -> None:
    budget = budgets(max_tps=10)
    assert (await reserve(budget, 0.0, reported=[GET])).wait == pytest.approx(0.2)


@pytest.mark.asyncio
async def test_a_throttle_reported_with_another_operation_cuts_only_its_own(
    budgets: Any,
) -> None:
    budget = budgets(max_tps=5)
    listing = await reserve(budget, 0.0, LIST, reported=[GET])
    assert (listing.cuts, listing.rate) == ((2.5,), 5.0)
    assert (await reserve(budget, 0.0, GET)).rate == 2.5


@pytest.mark.asyncio
async def test_replicas_silent_for_the_timeout_stop_counting(budgets: Any) -> None:
    one, two = budgets(replica_timeout=60), budgets(replica_timeout=60)
    await reserve(one, 0.0)
    assert (await reserve(two, 0.0)).replicas == 2
    assert (await reserve(one, 61.0)).replicas == 1


@pytest.mark.asyncio
async def test_every_key_expires(redis_server: RedisServer, budgets: Any) -> None:  # noqa: F811
    budget = budgets(max_tps=5)
    assert await budget.acquire(GET)
    budget.throttled(LIST)
    assert await budget.acquire(GET)
    async with redis.asyncio.Redis.from_url(redis_server.url) as client:
        keys = sorted(k.decode() for k in await client.keys("*"))
        ttls = [await client.pttl(key) for key in keys]
    assert keys == [
        "{omics-waiter}:lane:GetReadSetActivationJob",
        "{omics-waiter}:lane:ListReadSetActivationJobs",
        "{omics-waiter}:replicas",
    ]
    assert all(0 < ttl <= 130_000 for ttl in ttls), ttls


# -- sharing, in real time -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_throttle_seen_by_one_replica_cuts_the_rate_another_sees(
    budgets: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="omics_waiter")
    one, two = budgets(max_tps=5), budgets(max_tps=5)
    assert await two.acquire(GET)
    one.throttled(GET)
    assert await one.acquire(GET)  # carries the report
    assert await two.acquire(GET)
    assert two.rate(GET) < 3.0  # 2.5, regained a little since
    assert any("seen by" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_busy_replicas_take_turns(budgets: Any) -> None:
    one, two = budgets(max_tps=40), budgets(max_tps=40)
    granted = {"one": 0, "two": 0}

    async def keep_asking(name: str, budget: RedisBudget) -> None:
        while sum(granted.values()) < 40:
            assert await budget.acquire(GET)
            granted[name] += 1

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(keep_asking, "one", one)
        # Two joins with fewer callers, later: it still gets its turns.
        await anyio.sleep(0.1)
        for _ in range(5):
            tg.start_soon(keep_asking, "two", two)
    assert granted["two"] >= 10, granted


@pytest.mark.asyncio
async def test_many_callers_in_one_process_stay_within_the_rate(budgets: Any) -> None:
    budget = budgets(max_tps=20)
    times: list[float] = []

    async def one() -> None:
        assert await budget.acquire(GET)
        times.append(anyio.current_time())

    async with anyio.create_task_group() as tg:
        for _ in range(25):
            tg.start_soon(one)
    times.sort()
    # Any 21 consecutive slots span at least one second, give or take the sleeps' jitter.
    assert all(times[i + 20] - times[i] >= 0.95 for i in range(len(times) - 20))


# -- faults ------------------------------------------------------------------------------


async def until(condition: Callable[[], bool]) -> None:
    """Poll `condition` until it holds (fails the test after 10 seconds)."""
    with anyio.fail_after(10):
        while True:
            if condition():
                return
            await anyio.sleep(0.02)


def warnings_of(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and text in r.getMessage()
    ]


@pytest.mark.asyncio
async def test_redis_lost_mid_run_falls_back_at_the_share_and_rejoins_and_no_wait_is_lost(
    redis_server: RedisServer,  # noqa: F811
    budgets: Any,
    make_client: MakeClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="omics_waiter")
    replicas = [budgets(max_tps=20, probe_interval=0.2) for _ in range(2)]
    async with OmicsEmulator(seed=3, quota_tps=20) as emu:
        jobs = [
            emu.add_job(STORE, [R1], timeline=[Step(0.3, "IN_PROGRESS"), Step(1.5, "COMPLETED")])
            for _ in range(8)
        ]
        waiters = [
            OmicsWaiter(await make_client(emu), budget=budget, min_delay=0.1, max_delay=0.2)
            for budget in replicas
        ]
        for budget in replicas:
            await budget.connect()
            assert await budget.acquire(LIST)  # both are seen live: the share is 1/2
        fallback_rates: set[float] = set()
        finals: list[str] = []

        async def wait(waiter: OmicsWaiter, job: str) -> None:
            finals.append((await waiter.wait_for_activation_job(STORE, job, timeout=20)).status)

        async def outage() -> None:
            await anyio.sleep(0.4)
            redis_server.stop()
            await until(lambda: all(b.mode == FALLBACK for b in replicas))
            fallback_rates.update(b.rate(GET) for b in replicas)
            await anyio.sleep(0.6)
            redis_server.start()

        async with anyio.create_task_group() as tg:
            tg.start_soon(outage)
            for i, job in enumerate(jobs):
                tg.start_soon(wait, waiters[i % 2], job)
        # Waits ended before a probe may have found Redis back: keep asking until then.
        with anyio.fail_after(10):
            while not all(b.mode == SHARED for b in replicas):
                for budget in replicas:
                    await budget.acquire(GET)
        assert emu.stats.count(status=429) == 0
    assert finals == ["COMPLETED"] * len(jobs)
    assert fallback_rates == {10.0}
    assert len(warnings_of(caplog, "unreachable")) == 2  # once per replica
    assert len(warnings_of(caplog, "back on the shared budget")) == 2


@pytest.mark.asyncio
async def test_after_a_redis_restart_the_share_still_counts_the_replicas_seen_before(
    redis_server: RedisServer,  # noqa: F811
    budgets: Any,
) -> None:
    one, two = budgets(max_tps=10, probe_interval=0.05), budgets(max_tps=10)
    for budget in (two, one):
        assert await budget.acquire(GET)
    assert one.replicas == 2
    redis_server.restart()  # forgets everything, the replicas included
    with anyio.fail_after(10):
        while one.mode != FALLBACK:
            assert await one.acquire(GET)
        while one.mode != SHARED:
            assert await one.acquire(GET)
    for _ in range(3):
        assert await one.acquire(GET)
    assert (one.mode, one.replicas) == (SHARED, 1)  # rejoined, and it holds
    redis_server.stop()
    assert await one.acquire(GET)
    assert (one.mode, one.rate(GET)) == (FALLBACK, 5.0)


@pytest.mark.asyncio
async def test_the_first_local_slot_comes_one_local_interval_after_the_loss(
    redis_server: RedisServer,  # noqa: F811
    budgets: Any,
) -> None:
    clock = FakeClock(0.0)
    budget = budgets(max_tps=4, clock=clock, fallback_replicas=2)
    assert await budget.acquire(GET)
    redis_server.stop()
    assert await budget.acquire(GET)
    # Alone, its share is the whole 4/s: a slot 0.25 s on, not at once on top of the
    # shared slot it just had.
    assert (budget.mode, clock.sleeps[-1]) == (FALLBACK, pytest.approx(0.25))


@pytest.mark.asyncio
async def test_a_malformed_budget_url_fails_before_any_request(
    emulator: OmicsEmulator,
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        async with OmicsWaiter.connect(
            endpoint_url=emulator.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            budget_url="redis//127.0.0.1:6379",
        ):
            pass
    assert caught.value.argument == "url"
    assert emulator.stats.count() == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("password", ["wrong", None])
async def test_refused_redis_credentials_fail_before_any_omics_request(
    emulator: OmicsEmulator, password: str | None
) -> None:
    with RedisServer(password="right") as protected:
        url = protected.url_with(password) if password else f"redis://127.0.0.1:{protected.port}/0"
        with pytest.raises(AccessDeniedError, match="refused the budget's credentials"):
            async with OmicsWaiter.connect(
                endpoint_url=emulator.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                budget_url=url,
            ) as waiter:
                await waiter.wait_for_activation_job(STORE, "9876543210")
    assert emulator.stats.count() == 0


@pytest.mark.asyncio
async def test_refused_credentials_are_raised_by_the_first_acquire() -> None:
    with RedisServer(password="right") as protected:
        budget = RedisBudget(protected.url_with("wrong"))
        try:
            with pytest.raises(AccessDeniedError):
                await budget.acquire(GET)
        finally:
            await budget.aclose()


@pytest.mark.asyncio
async def test_the_right_password_joins_the_shared_budget() -> None:
    with RedisServer(password="right") as protected:
        async with RedisBudget(protected.url) as budget:
            assert await budget.acquire(GET)
            assert (budget.mode, budget.replicas) == (SHARED, 1)


@pytest.mark.asyncio
async def test_redis_down_at_start_is_a_fallback_then_a_rejoin(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="omics_waiter")
    server = RedisServer()
    try:
        async with RedisBudget(server.url, probe_interval=0.1) as budget:
            assert budget.mode == FALLBACK
            assert await budget.acquire(GET)
            server.start()
            with anyio.fail_after(10):
                while budget.mode != SHARED:
                    assert await budget.acquire(GET)
            assert await budget.acquire(GET)
            assert budget.replicas == 1
    finally:
        server.close()
    assert len(warnings_of(caplog, "unreachable")) == 1


@pytest.mark.asyncio
async def test_connect_with_budget_url_owns_the_budget_and_leaves_on_exit(
    redis_server: RedisServer,  # noqa: F811
    emulator: OmicsEmulator,
) -> None:
    job = emulator.add_job(STORE, [R1], timeline=[Step(0.2, "COMPLETED")])
    async with OmicsWaiter.connect(
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        min_delay=0.1,
        max_tps=7,
        budget_url=redis_server.url,
    ) as waiter:
        assert "RedisBudget(" in repr(waiter)
        assert "max_tps=7" in repr(waiter)
        await waiter.wait_for_activation_job(STORE, job)
        async with redis.asyncio.Redis.from_url(redis_server.url) as client:
            assert await client.zcard("{omics-waiter}:replicas") == 1
    async with redis.asyncio.Redis.from_url(redis_server.url) as client:
        assert await client.zcard("{omics-waiter}:replicas") == 0


@pytest.mark.asyncio
async def test_budget_url_and_budget_exclude_each_other(redis_server: RedisServer) -> None:  # noqa: F811
    budget = RedisBudget(redis_server.url)
    with pytest.raises(InvalidInputError) as caught:
        async with OmicsWaiter.connect(
            region_name="us-east-1", budget_url=redis_server.url, budget=budget
        ):
            pass
    assert caught.value.argument == "budget_url"
