"""Regression tests of scheduler and waiter bugs the kinds tests found, in virtual time.

A clock read twice between deciding to sleep and sleeping (a negative sleep on a busy
machine), a reference of no known kind registered halfway through a wait_many, and a
batch whose List answered 404 failing its jobs without the not-found grace.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
import trio.testing

from fakes import JOB, STORE, FakeClient, job_body
from omics_waiter import InvalidInputError, JobRef, OmicsWaiter, RunRef


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
