"""Regression tests of scheduler and waiter bugs the kinds tests found, in virtual time.

A clock read twice between deciding to sleep and sleeping (a negative sleep on a busy
machine), a reference of no known kind registered halfway through a wait_many, and a
batch whose List answered 404 failing its jobs without the not-found grace; the last jobs
of a batch left to per-job polls too early. Also one found
while adding push to the benchmark: reconciliation spaced by a backoff grown past
reconcile_delay.
"""

from __future__ import annotations

import itertools
from typing import Any

import anyio
import pytest
import trio.testing

from fakes import JOB, STORE, T0, FakeClient, job_body
from omics_waiter import (
    InvalidInputError,
    JobRef,
    JobStatusChanged,
    OmicsWaiter,
    ReadSetActivationJobRef,
    RunRef,
)
from omics_waiter._push import StatusHint


def virtual() -> dict[str, object]:
    return {"clock": trio.testing.MockClock(autojump_threshold=0)}


class SteppingClock:
    """The event loop's clock, `step` seconds further on at each reading: time passes
    between two readings, as on any real (and busy) machine. Sleeps as `AnyioClock` does:
    a negative delay is an error."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.reads = 0

    def now(self) -> float:
        self.reads += 1
        return anyio.current_time() + self.reads * self.step

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


async def wait_with(clock: SteppingClock) -> None:
    client = FakeClient([job_body("IN_PROGRESS")] * 5 + [job_body("COMPLETED")])
    # min_delay == max_delay: every poll is exactly 1 s after the last, so the steps below
    # put the next poll just after the lane's first reading and before its second.
    waiter = OmicsWaiter(client, clock=clock, min_delay=1, max_delay=1)  # type: ignore[arg-type]
    await waiter.wait_for_activation_job(STORE, JOB, timeout=100)


def test_a_wait_survives_time_passing_between_two_readings_of_the_clock() -> None:
    # For some number k of readings between the lane's check and its sleep, a step of
    # 1/(k + 0.5) s puts the poll due between the two: try every k up to 40.
    for k in range(1, 40):
        anyio.run(
            wait_with, SteppingClock(1 / (k + 0.5)), backend="trio", backend_options=virtual()
        )


class OtherRef(JobRef[Any]):
    """A reference of no kind this release knows (a subclass made elsewhere)."""

    __slots__ = ()
    kind = "other"

    @property
    def ids(self) -> tuple[str, ...]:
        return ("1",)


async def refused_then_another_wait() -> list[str]:
    calls: list[str] = []

    class Client(FakeClient):
        async def get_run(self, *, id: str) -> Any:
            calls.append(f"GetRun {id}")
            await anyio.sleep(0.01)
            return {"id": id, "status": "RUNNING"}

    client = Client([job_body("IN_PROGRESS")] * 3 + [job_body("COMPLETED")])
    waiter = OmicsWaiter(client, min_delay=1, max_delay=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError) as info:
        await waiter.wait_many([RunRef("1234567"), OtherRef()], timeout=60)
    calls.append(f"refused, naming {info.value.argument}")
    await waiter.wait_for_activation_job(STORE, JOB, timeout=60)
    return calls


def test_a_refused_wait_many_registers_nothing() -> None:
    calls = anyio.run(refused_then_another_wait, backend="trio", backend_options=virtual())
    assert calls == ["refused, naming refs"]


class StoreClient(FakeClient):
    """One sequence store whose jobs complete at given (virtual) times; Get and List
    answer from the clock, and every request is recorded."""

    def __init__(self, done_at: dict[str, float]) -> None:
        super().__init__([])
        self.done_at = done_at
        self.requests: list[tuple[str, float]] = []

    def _status(self, job_id: str) -> str:
        return "COMPLETED" if anyio.current_time() >= self.done_at[job_id] else "IN_PROGRESS"

    async def get_read_set_activation_job(self, *, id: str, sequenceStoreId: str) -> Any:
        self.requests.append(("Get", anyio.current_time()))
        await anyio.sleep(0.01)
        return job_body(self._status(id), job_id=id)

    async def list_read_set_activation_jobs(self, **kwargs: Any) -> Any:
        self.requests.append(("List", anyio.current_time()))
        await anyio.sleep(0.01)
        items = [
            {"id": j, "sequenceStoreId": STORE, "status": self._status(j), "creationTime": T0}
            for j in sorted(self.done_at)
        ]
        return {"activationJobs": items}


async def last_jobs_of_a_batch() -> tuple[dict[str, float], StoreClient]:
    # Six jobs of one store: four end at 5 s, two run on (to 40 s and 60 s).
    done_at = {f"{n}" * 10: 5.0 for n in range(1, 5)} | {"5" * 10: 40.0, "6" * 10: 60.0}
    client = StoreClient(done_at)
    waiter = OmicsWaiter(client, min_delay=2, max_delay=2)  # type: ignore[arg-type]
    refs = [ReadSetActivationJobRef(STORE, j) for j in done_at]
    seen: dict[str, float] = {}
    async with waiter:
        async for event in waiter.watch_many(refs, final_only=True, timeout=100):
            assert isinstance(event, JobStatusChanged), event
            seen[event.ref.job_id] = anyio.current_time()
    return {j: seen[j] - done_at[j] for j in done_at}, client


def test_the_last_jobs_of_a_batch_are_swept_until_they_are_no_more_than_its_pages() -> None:
    latency, client = anyio.run(last_jobs_of_a_batch, backend="trio", backend_options=virtual())
    # Two jobs left of a one-page sweep: still swept (no Get until one of them finishes),
    # for fewer requests than polling the two one by one at min_delay would cost ...
    between = [op for op, t in client.requests if 8.0 <= t < 40.0]
    assert between and set(between) == {"List"}, between
    assert len(between) <= (40.0 - 8.0) * 2 / 2.0
    # ... and the last one alone is polled by Get (as cheap as a List page, and final).
    after = [op for op, t in client.requests if t > 43.0]
    assert after and set(after) == {"Get"}, after
    assert max(latency.values()) <= 2.0 + 0.1, latency


class Ticking:
    """An event source that keeps push on: every 2 s an event about a job no one watches."""

    async def check(self) -> None:
        pass

    async def receive(self) -> list[StatusHint]:
        await anyio.sleep(2)
        return [StatusHint("activation", (STORE, "1111111111"), "IN_PROGRESS", None, "e")]


async def dropped_final_event(done_at: float, reconcile_delay: float) -> list[float]:
    """The times of the Gets of a job whose final event never comes, from its first Get."""
    calls: list[float] = []

    class Client(FakeClient):
        async def get_read_set_activation_job(self, *, id: str, sequenceStoreId: str) -> Any:
            calls.append(anyio.current_time())
            await anyio.lowlevel.checkpoint()
            return job_body("COMPLETED" if calls[-1] - calls[0] >= done_at else "IN_PROGRESS")

    # max_delay beyond reconcile_delay, as the defaults are (120 s and 60 s).
    waiter = OmicsWaiter(
        Client([]),  # type: ignore[arg-type]
        min_delay=1,
        max_delay=120,
        reconcile_delay=reconcile_delay,
    )
    waiter._events = Ticking()
    async with waiter:
        await waiter.wait_for_activation_job(STORE, JOB, timeout=10_000)
    return [t - calls[0] for t in calls]


def test_a_dropped_final_event_is_caught_within_reconcile_delay_whatever_max_delay() -> None:
    # While push carries the watch, a poll only reconciles: it comes every reconcile_delay,
    # the documented bound on a dropped event's delay. The bug: a backoff that had grown
    # past reconcile_delay (towards max_delay) spaced the polls further apart.
    times = anyio.run(dropped_final_event, 1000.0, 10.0, backend="trio", backend_options=virtual())
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert times[-1] - 1000.0 <= 10.0 + 1e-6, times
    assert max(gaps[3:]) <= 10.0 + 1e-6, gaps
