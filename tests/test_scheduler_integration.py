"""One scheduler per waiter, through the real client against the emulator: waits share it,
are batched by it, and leave it without disturbing one another."""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from omics_waiter import ActivationJob, OmicsWaiter, ReadSetActivationJobRef
from omics_waiter.testing import OmicsEmulator, Step

STORE = "1234567890"
R1 = "1111111111"
GET = "GetReadSetActivationJob"
LIST = "ListReadSetActivationJobs"

MakeClient = Callable[..., Awaitable[Any]]


async def waiter_for(emu: OmicsEmulator, make_client: MakeClient, **options: Any) -> OmicsWaiter:
    client = await make_client(emu)
    await client.list_read_set_activation_jobs(sequenceStoreId=STORE)  # connect first
    emu.stats.reset()
    return OmicsWaiter(client, min_delay=0.05, max_delay=0.2, max_tps=50, **options)


def job(emu: OmicsEmulator, at: float) -> ReadSetActivationJobRef:
    return ReadSetActivationJobRef(
        STORE, emu.add_job(STORE, [R1], timeline=[Step(at, "COMPLETED")])
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("entered", [False, True], ids=["consumer-driven", "async-with"])
async def test_concurrent_single_waits_are_swept_together(
    emulator: OmicsEmulator, make_client: MakeClient, entered: bool
) -> None:
    waiter = await waiter_for(emulator, make_client)
    refs = [job(emulator, 0.4) for _ in range(12)]
    results: dict[ReadSetActivationJobRef, Any] = {}

    async def one(ref: ReadSetActivationJobRef) -> None:
        results[ref] = await waiter.wait(ref, timeout=10)

    with anyio.fail_after(10):
        if entered:
            async with waiter, anyio.create_task_group() as tg:
                for ref in refs:
                    tg.start_soon(one, ref)
        else:
            async with anyio.create_task_group() as tg:
                for ref in refs:
                    tg.start_soon(one, ref)
    assert all(isinstance(r, ActivationJob) for r in results.values())
    # Twelve waits of one store: List sweeps find them, and each is fetched about once.
    assert emulator.stats.count(LIST) >= 1
    assert emulator.stats.count(GET) <= len(refs) + 4, emulator.stats.requests


@pytest.mark.asyncio
async def test_two_waits_on_one_job_cost_what_one_wait_costs(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    waiter = await waiter_for(emulator, make_client)
    shared = job(emulator, 1.0)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter.wait, shared)
            tg.start_soon(waiter.wait, shared)
    two = emulator.stats.count(GET)
    alone = await waiter_for(emulator, make_client)  # (resets the counts)
    with anyio.fail_after(10):
        await alone.wait(job(emulator, 1.0))
    one = emulator.stats.count(GET)
    # Polls are jittered, so the counts differ a little; two waits polling on their own
    # would cost about twice as much.
    assert two <= one + 3, (two, one)


@pytest.mark.asyncio
async def test_cancelling_the_wait_that_drives_does_not_disturb_another(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    waiter = await waiter_for(emulator, make_client)
    never = ReadSetActivationJobRef(STORE, emulator.add_job(STORE, [R1], timeline=[]))
    soon = job(emulator, 0.6)
    outcome: list[Any] = []

    async def other() -> None:
        outcome.append(await waiter.wait(soon, timeout=10))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            with anyio.move_on_after(0.2):
                # This wait drives the scheduler (no `async with`): cancelled mid-drive.
                tg.start_soon(other)
                await waiter.wait(never, timeout=10)
    assert isinstance(outcome[0], ActivationJob)


@pytest.mark.asyncio
async def test_leaving_an_async_for_early_stops_its_polling_inside_async_with(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    waiter = await waiter_for(emulator, make_client)
    never = ReadSetActivationJobRef(STORE, emulator.add_job(STORE, [R1], timeline=[]))
    with anyio.fail_after(10):
        async with waiter:
            async for _ in waiter.watch(never):
                break  # no aclose(): dropping the stream ends its watch
            gc.collect()
            await anyio.sleep(0.3)  # let in-flight requests land
            before = emulator.stats.count(GET)
            await anyio.sleep(0.6)  # (real time: requests would come every 0.05-0.2 s)
            after = emulator.stats.count(GET)
    assert after == before
