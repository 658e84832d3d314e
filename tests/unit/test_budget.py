import anyio
import pytest
from trio.testing import MockClock

from fakes import ManualClock as FakeClock
from omics_waiter._budget import RequestBudget
from omics_waiter._scheduler import BURSTS
from omics_waiter.testing._faults import Quota


def test_slots_are_spaced_at_the_rate_in_arrival_order() -> None:
    clock = FakeClock(0.0)
    budget = RequestBudget(5.0, clock=clock)
    slots = [budget.reserve("Get", float("inf")) for _ in range(6)]
    assert slots == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])


def test_each_operation_has_its_own_lane() -> None:
    clock = FakeClock(0.0)
    budget = RequestBudget(5.0, clock=clock)
    assert budget.reserve("Get", 10) == 0.0
    assert budget.reserve("List", 10) == 0.0
    assert budget.reserve("Get", 10) == pytest.approx(0.2)


def test_no_slot_after_not_after_and_nothing_reserved() -> None:
    clock = FakeClock(0.0)
    budget = RequestBudget(1.0, clock=clock)
    assert budget.reserve("Get", 10) == 0.0
    assert budget.reserve("Get", 0.5) is None
    assert budget.reserve("Get", 10) == 1.0


def test_a_burst_goes_at_once_after_a_quiet_spell_then_slots_are_spaced() -> None:
    clock = FakeClock(0.0)
    budget = RequestBudget(20.0, clock=clock, bursts={"Get": 0.5})
    slots = [budget.reserve("Get", float("inf")) for _ in range(12)]
    # 0.5 s of 20/s: ten at once, then one every 1/20 s
    assert slots == pytest.approx([0.0] * 10 + [0.05, 0.10])
    clock.time = 10.0  # quiet: the burst is back
    assert [budget.reserve("Get", float("inf")) for _ in range(10)] == pytest.approx([10.0] * 10)
    # an operation without a burst keeps even spacing
    assert [budget.reserve("List", float("inf")) for _ in range(3)] == pytest.approx(
        [10.0, 10.05, 10.1]
    )


def test_a_burst_is_at_most_one_second_of_the_rate_and_never_below_one_request() -> None:
    clock = FakeClock(0.0)
    budget = RequestBudget(4.0, clock=clock, bursts={"Get": 5.0, "Slow": 0.1})
    assert [budget.reserve("Get", float("inf")) for _ in range(5)] == pytest.approx(
        [0.0, 0.0, 0.0, 0.0, 0.25]
    )
    assert [budget.reserve("Slow", float("inf")) for _ in range(2)] == pytest.approx([0.0, 0.25])


def test_a_throttle_spends_the_burst() -> None:
    clock = FakeClock(0.0)
    budget = RequestBudget(20.0, clock=clock, recovery=0.0, bursts={"Get": 0.5})
    budget.throttled("Get")  # cut to 10/s: the next slot one interval (0.1 s) out, no burst
    assert budget.reserve("Get", float("inf")) == pytest.approx(0.1)
    assert budget.reserve("Get", float("inf")) == pytest.approx(0.2)


def test_the_waiters_bursts_are_for_gets_only() -> None:
    assert BURSTS
    assert all(name.startswith("Get") and 0 < burst <= 1 for name, burst in BURSTS.items())


def test_throttling_halves_the_rate_once_per_burst_then_it_recovers() -> None:
    clock = FakeClock(0.0)
    budget = RequestBudget(8.0, clock=clock, recovery=1.0)
    budget.throttled("Get")
    budget.throttled("Get")  # the same burst: not cut again
    assert budget.rate("Get") == 4.0
    clock.time = 2.0
    assert budget.rate("Get") == 6.0
    budget.throttled("Get")
    assert budget.rate("Get") == 3.0
    clock.time = 100.0
    assert budget.rate("Get") == 8.0


def test_the_rate_never_falls_below_min_rate() -> None:
    clock = FakeClock(0.0)
    budget = RequestBudget(4.0, clock=clock, min_rate=1.0, recovery=0.0)
    for step in range(10):
        clock.time = step * 2.0
        budget.throttled("Get")
    assert budget.rate("Get") == 1.0


def test_a_throttle_pushes_the_next_slot_out() -> None:
    clock = FakeClock(0.0)
    budget = RequestBudget(10.0, clock=clock, recovery=0.0)
    budget.throttled("Get")
    assert budget.reserve("Get", 10) == pytest.approx(0.2)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", [("trio", {"clock": MockClock(autojump_threshold=0)})])
async def test_a_hundred_concurrent_acquirers_stay_inside_the_rate() -> None:
    budget = RequestBudget(5.0, clock=_AnyioClock())
    times: list[float] = []

    async def one() -> None:
        assert await budget.acquire("Get")
        times.append(anyio.current_time())

    async with anyio.create_task_group() as tg:
        for _ in range(100):
            tg.start_soon(one)
    times.sort()
    for i in range(len(times) - 5):
        # any six consecutive requests span at least one second: <= 5 per second
        assert times[i + 5] - times[i] >= 1.0 - 1e-6


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", [("trio", {"clock": MockClock(autojump_threshold=0)})])
@pytest.mark.parametrize("rate", [1.0, 5.0, 20.0])
async def test_bursts_never_overrun_a_service_bucket_of_one_second_of_quota(rate: float) -> None:
    # The emulator's quota is the service's shape: a token bucket holding one second of it.
    budget = RequestBudget(rate, clock=_AnyioClock(), bursts=BURSTS)
    quota = Quota(rate, anyio.current_time)
    operation = next(iter(BURSTS))
    refused = 0

    async def one(start: float) -> None:
        nonlocal refused
        await anyio.sleep(start)
        assert await budget.acquire(operation)
        refused += not quota.admit(operation)

    async with anyio.create_task_group() as tg:
        for i in range(300):
            # bursts of 25 arrivals, 1.3 s apart: each drains the burst and queues
            tg.start_soon(one, (i // 25) * 1.3 + (i % 3) * 0.01)
    assert refused == 0


class _AnyioClock:
    def now(self) -> float:
        return anyio.current_time()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)
