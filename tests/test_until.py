"""`until` through the real aiobotocore client against the emulator, on the life cycles where
a status on the way may not have been reached: runs and tasks cancelled while PENDING,
STARTING or RUNNING (STOPPING, then CANCELLED), and a RUNNING missed between two polls.

The emulator's clock moves only when the test moves it, once the waiter has seen the job in
its current status (told by a watch without `until` on the same waiter): so what the waiter
observes is exactly the statuses the test lets it see.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import anyio
import pytest
import pytest_asyncio

from omics_waiter import (
    JobFailedError,
    JobRef,
    JobStatusChanged,
    OmicsWaiter,
    RunRef,
    TaskRef,
)
from omics_waiter._clock import AnyioClock
from omics_waiter.testing import OmicsEmulator, Step
from omics_waiter.testing._jobs import random_run
from unit.test_kinds import LIFE_CYCLES

MakeClient = Callable[..., Awaitable[Any]]
# The run's (or task's) plan: STARTING at 1 s, RUNNING at 2 s, COMPLETED much later.
PLAN = [Step(1.0, "STARTING"), Step(2.0, "RUNNING"), Step(100.0, "COMPLETED")]
AT = {"PENDING": 0.5, "STARTING": 1.5, "RUNNING": 2.5}


class EmulatorClock:
    """The emulator's time, moved by the test alone."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[tuple[OmicsEmulator, EmulatorClock]]:
    clock = EmulatorClock()
    # job_seconds sets how long a cancelled run stays STOPPING: 0.1 s of emulator time.
    async with OmicsEmulator(seed=3, job_seconds=(1.0, 1.0), clock=clock) as emulator:
        yield emulator, clock


def add(emulator: OmicsEmulator, word: str, steps: list[Step]) -> tuple[str, JobRef[Any]]:
    if word == "run":
        run_id = emulator.add_run(timeline=steps)
        return run_id, RunRef(run_id)
    run_id = emulator.add_run(tasks=[[Step(0.0), *steps]])
    return run_id, TaskRef(run_id, emulator.task_ids(run_id)[0])


async def status_of(client: Any, ref: JobRef[Any]) -> str:
    if isinstance(ref, RunRef):
        return str((await client.get_run(id=ref.run_id))["status"])
    assert isinstance(ref, TaskRef)
    return str((await client.get_run_task(id=ref.run_id, taskId=ref.task_id))["status"])


async def waiter_of(emulator: OmicsEmulator, make_client: MakeClient) -> OmicsWaiter:
    client = await make_client(emulator)
    return OmicsWaiter(
        client, min_delay=0.02, max_delay=0.05, not_found_grace=1, clock=AnyioClock()
    )


async def follow(
    waiter: OmicsWaiter, ref: JobRef[Any], clock: EmulatorClock, moves: dict[str, float]
) -> list[str]:
    """Watch `ref` to its end; when the waiter has seen a status of `moves`, move the
    emulator's clock to the time given for it. Returns the statuses seen."""
    seen = []
    async for event in waiter.watch(ref, timeout=10):
        if isinstance(event, JobStatusChanged):
            status = str(event.job.status)
            seen.append(status)
            if status in moves:
                clock.now = moves[status]
    return seen


async def outcome(waiter: OmicsWaiter, ref: JobRef[Any], until: str, into: list[Any]) -> None:
    try:
        into.append(await waiter.wait(ref, until=until, timeout=10))
    except JobFailedError as exc:
        into.append(exc)


@pytest.mark.asyncio
@pytest.mark.parametrize("word", ["run", "task"])
@pytest.mark.parametrize("cancelled_at", ["PENDING", "STARTING", "RUNNING"])
@pytest.mark.parametrize("until", ["STARTING", "RUNNING"])
async def test_a_job_cancelled_and_seen_stopping_fails_until_without_reaching_it(
    emu: tuple[OmicsEmulator, EmulatorClock],
    make_client: MakeClient,
    word: str,
    cancelled_at: str,
    until: str,
) -> None:
    emulator, clock = emu
    run_id, ref = add(emulator, word, PLAN)
    client = await make_client(emulator)
    clock.now = AT[cancelled_at]
    assert await status_of(client, ref) == cancelled_at
    await client.cancel_run(id=run_id)  # STOPPING now, CANCELLED 0.1 s later
    waiter = await waiter_of(emulator, make_client)
    results: list[Any] = []
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(outcome, waiter, ref, until, results)
            seen = await follow(waiter, ref, clock, {"STOPPING": AT[cancelled_at] + 1.0})
    assert seen == ["STOPPING", "CANCELLED"]
    (error,) = results
    assert isinstance(error, JobFailedError), error
    assert str(error.job.status) == "CANCELLED"
    assert f"ended CANCELLED without reaching {until}" in str(error)


@pytest.mark.asyncio
@pytest.mark.parametrize("word", ["run", "task"])
async def test_a_job_cancelled_while_pending_ends_a_watch_until_running_at_cancelled(
    emu: tuple[OmicsEmulator, EmulatorClock], make_client: MakeClient, word: str
) -> None:
    emulator, clock = emu
    run_id, ref = add(emulator, word, PLAN)
    client = await make_client(emulator)
    waiter = await waiter_of(emulator, make_client)
    seen: list[str] = []
    with anyio.fail_after(10):
        async for event in waiter.watch_many([ref], until="RUNNING", timeout=10):
            assert isinstance(event, JobStatusChanged), event
            seen.append(str(event.job.status))
            if seen[-1] == "PENDING":
                await client.cancel_run(id=run_id)
            elif seen[-1] == "STOPPING":
                clock.now += 1.0
    assert seen == ["PENDING", "STOPPING", "CANCELLED"]


@pytest.mark.asyncio
@pytest.mark.parametrize("word", ["run", "task"])
@pytest.mark.parametrize("end", ["COMPLETED", "FAILED"])
async def test_a_running_missed_between_polls_is_judged_by_the_end(
    emu: tuple[OmicsEmulator, EmulatorClock], make_client: MakeClient, word: str, end: str
) -> None:
    """PENDING, then (RUNNING unseen) STOPPING: not evidence; COMPLETED shows the run ran,
    FAILED does not."""
    emulator, clock = emu
    steps = [Step(1.0, "STARTING"), Step(2.0, "RUNNING"), Step(2.1, "STOPPING"), Step(3.0, end)]
    _, ref = add(emulator, word, steps)
    waiter = await waiter_of(emulator, make_client)
    results: list[Any] = []
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(outcome, waiter, ref, "RUNNING", results)
            seen = await follow(waiter, ref, clock, {"PENDING": 2.5, "STOPPING": 4.0})
    assert seen == ["PENDING", "STOPPING", end]
    (result,) = results
    if end == "COMPLETED":
        assert str(result.status) == "COMPLETED"
    else:
        assert isinstance(result, JobFailedError)
        assert "ended FAILED without reaching RUNNING" in str(result)


@pytest.mark.asyncio
@pytest.mark.parametrize("cancelled_at", ["PENDING", "STARTING", "RUNNING"])
async def test_the_emulators_cancelled_runs_and_tasks_are_life_cycles_the_rule_holds(
    emu: tuple[OmicsEmulator, EmulatorClock], make_client: MakeClient, cancelled_at: str
) -> None:
    """What the unit tests hold `Kind.evidence` to (`LIFE_CYCLES`) is what the emulator does."""
    emulator, clock = emu
    client = await make_client(emulator)
    run_id, run = add(emulator, "run", PLAN)
    tasks_run, task = add(emulator, "task", PLAN)
    seen: dict[JobRef[Any], list[str]] = {run: [], task: []}
    for now in [0.0, 0.5, 1.5, 2.5]:
        if now > AT[cancelled_at]:
            break
        clock.now = now
        for ref in seen:
            seen[ref].append(await status_of(client, ref))
    await client.cancel_run(id=run_id)
    await client.cancel_run(id=tasks_run)
    for now in [AT[cancelled_at], AT[cancelled_at] + 1.0]:
        clock.now = now
        for ref in seen:
            seen[ref].append(await status_of(client, ref))
    for ref, statuses in seen.items():
        path = tuple(dict.fromkeys(statuses))
        assert path in LIFE_CYCLES[ref.kind], path
        assert path[-2:] == ("STOPPING", "CANCELLED")


def _path(first: str, steps: Sequence[Step]) -> tuple[str, ...]:
    """The statuses a timeline goes through, from the one a job is created in."""
    return tuple(dict.fromkeys([first, *(s.status for s in steps if s.status is not None)]))


def test_the_emulators_random_runs_and_their_tasks_follow_the_life_cycles() -> None:
    """Runs drawn at random: completed, or failed by a task (the others cancelled, or never
    started); each run's and task's statuses are a life cycle of `LIFE_CYCLES`."""
    endings = set()
    for seed in range(300):
        plan = random_run(
            random.Random(seed), ["a", "b", "c"], job_seconds=(1.0, 2.0), failure_rate=0.3
        )
        run = _path("PENDING", plan.timeline)
        assert run in LIFE_CYCLES["run"], (seed, run)
        for steps in plan.tasks:
            if steps:  # a task a failure kept from starting never exists
                task = _path("PENDING", steps)
                assert task in LIFE_CYCLES["task"], (seed, task)
                endings.add(task[-1])
    assert endings == {"COMPLETED", "FAILED", "CANCELLED"}  # every ending was drawn
