"""Runs wait through the one engine, via the real client against the emulator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from omics_waiter import JobFailedError, OmicsWaiter, Run, RunRef, RunStatus
from omics_waiter.testing import OmicsEmulator, Step

MakeClient = Callable[..., Awaitable[Any]]


@pytest.mark.asyncio
async def test_a_run_is_waited_for_until_completed_and_a_cancelled_one_fails(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    waiter = OmicsWaiter(await make_client(emulator), min_delay=0.05, max_delay=0.2, max_tps=50)
    done = emulator.add_run(timeline=[Step(0.05, "RUNNING"), Step(0.3, "COMPLETED")])
    cancelled = emulator.add_run(timeline=[Step(0.05, "RUNNING"), Step(0.3, "CANCELLED")])
    with anyio.fail_after(10):
        run = await waiter.wait(RunRef(done))
        outcomes = await waiter.wait_many([RunRef(done), RunRef(cancelled)])
    assert isinstance(run, Run)
    assert run.status is RunStatus.COMPLETED
    assert isinstance(outcomes[1], JobFailedError)
    assert outcomes[1].job.status is RunStatus.CANCELLED


@pytest.mark.asyncio
async def test_until_running_returns_once_the_run_runs(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    waiter = OmicsWaiter(await make_client(emulator), min_delay=0.05, max_delay=0.2, max_tps=50)
    run_id = emulator.add_run(timeline=[Step(0.1, "RUNNING"), Step(30, "COMPLETED")])
    with anyio.fail_after(10):
        run = await waiter.wait(RunRef(run_id), until="RUNNING")
    assert run.status is RunStatus.RUNNING
