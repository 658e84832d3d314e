"""Cancelling waits and closing watches early: polling stops at once and nothing is left behind.

The waits here are on jobs that never finish, so any poll seen after the cancellation would be
a leftover poller. Each check lets in-flight requests settle, then watches the emulator's
counters over a window longer than the waiter's longest poll interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
import pytest_asyncio
from blockbuster import blockbuster_ctx

from omics_waiter import ActivationJobStatus, OmicsWaiter, WatchEvent
from omics_waiter.testing import OmicsEmulator, Step

STORE = "1234567890"
OTHER_STORE = "2345678901"
R1 = "1111111111"
MAX_DELAY = 0.2
# Longer than MAX_DELAY (and than any retry delay): a leftover poller would poll in it.
QUIET_WINDOW = 1.5 * MAX_DELAY
# Cancellation points: before the first request, during the first polls, a few polls in.
CANCEL_AFTER = [0.0, 0.03, 0.11, 0.27]

MakeClient = Callable[..., Awaitable[Any]]
NEVER_ENDS = [Step(at=0.05, status="IN_PROGRESS", sources={R1: "IN_PROGRESS"})]


@pytest_asyncio.fixture
async def client(emulator: OmicsEmulator, make_client: MakeClient) -> Any:
    """An aiobotocore client that has already connected (so the first poll is prompt)."""
    client = await make_client(emulator)
    await client.list_read_set_activation_jobs(sequenceStoreId=STORE)
    return client


@pytest_asyncio.fixture
async def waiter(client: Any) -> OmicsWaiter:
    return OmicsWaiter(client, min_delay=0.05, max_delay=MAX_DELAY, max_tps=50, not_found_grace=1.0)


@pytest.fixture
def keys(emulator: OmicsEmulator) -> list[tuple[str, str]]:
    """Jobs that never finish: four in one store (swept with List), one alone in another."""
    swept = [(STORE, emulator.add_job(STORE, [R1], timeline=NEVER_ENDS)) for _ in range(4)]
    return [*swept, (OTHER_STORE, emulator.add_job(OTHER_STORE, [R1], timeline=NEVER_ENDS))]


async def stays_quiet(emu: OmicsEmulator) -> bool:
    """Whether no request reaches the emulator over QUIET_WINDOW (after in-flight ones settle)."""
    await anyio.sleep(0.05)
    before = emu.stats.requests
    await anyio.sleep(QUIET_WINDOW)
    return emu.stats.requests == before


def serves_the_emulator(task: asyncio.Task[Any]) -> bool:
    """Whether the task is the emulator's (aiohttp's server runs one per connection)."""
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and "/aiohttp/web_" in code.co_filename


async def settled_tasks() -> set[asyncio.Task[Any]]:
    """The live tasks, once in-flight requests have settled, except the emulator's."""
    await anyio.sleep(0.05)
    return {t for t in asyncio.all_tasks() if not t.done() and not serves_the_emulator(t)}


async def wait_one(waiter: OmicsWaiter, keys: list[tuple[str, str]]) -> None:
    await waiter.wait_for_activation_job(*keys[0], timeout=30)


async def wait_many(waiter: OmicsWaiter, keys: list[tuple[str, str]]) -> None:
    await waiter.wait_for_activation_jobs(keys, timeout=30)


async def watch_one(waiter: OmicsWaiter, keys: list[tuple[str, str]]) -> None:
    async for _ in waiter.watch_activation_job(*keys[0], timeout=30):
        pass


async def watch_many(waiter: OmicsWaiter, keys: list[tuple[str, str]]) -> None:
    async for _ in waiter.watch_activation_jobs(keys, timeout=30):
        pass


WAITS = {
    "wait_one": wait_one,
    "wait_many": wait_many,
    "watch_one": watch_one,
    "watch_many": watch_many,
}


@pytest.mark.asyncio
@pytest.mark.parametrize("after", CANCEL_AFTER)
@pytest.mark.parametrize("wait", list(WAITS))
async def test_cancelled_wait_sends_no_further_request(
    emulator: OmicsEmulator,
    waiter: OmicsWaiter,
    keys: list[tuple[str, str]],
    wait: str,
    after: float,
) -> None:
    with anyio.move_on_after(after) as scope:
        await WAITS[wait](waiter, keys)
    assert (scope.cancelled_caught, await stays_quiet(emulator)) == (True, True)


@pytest.mark.asyncio
@pytest.mark.parametrize("wait", list(WAITS))
async def test_cancelled_wait_leaves_no_task_behind(
    waiter: OmicsWaiter, keys: list[tuple[str, str]], wait: str
) -> None:
    before = await settled_tasks()
    with anyio.move_on_after(0.13):
        await WAITS[wait](waiter, keys)
    assert await settled_tasks() == before


@pytest.mark.asyncio
@pytest.mark.parametrize("wait", list(WAITS))
async def test_client_still_works_after_a_cancelled_wait(
    client: Any, waiter: OmicsWaiter, keys: list[tuple[str, str]], wait: str
) -> None:
    with anyio.move_on_after(0.04):
        await WAITS[wait](waiter, keys)
    response = await client.get_read_set_activation_job(sequenceStoreId=STORE, id=keys[0][1])
    assert response["id"] == keys[0][1]


@pytest.mark.asyncio
async def test_cancelling_a_task_group_of_waits_stops_every_poll(
    emulator: OmicsEmulator, waiter: OmicsWaiter, keys: list[tuple[str, str]]
) -> None:
    before = await settled_tasks()
    async with anyio.create_task_group() as tg:
        for wait in WAITS.values():
            tg.start_soon(wait, waiter, keys)
        await anyio.sleep(0.15)
        tg.cancel_scope.cancel()
    assert (await stays_quiet(emulator), await settled_tasks() == before) == (True, True)


# -- closing watches early ------------------------------------------------------------------


async def first_events(stream: AsyncIterator[WatchEvent], count: int) -> list[WatchEvent]:
    events = []
    async for event in stream:
        events.append(event)
        if len(events) == count:
            break
    return events


@pytest.mark.asyncio
@pytest.mark.parametrize("count", [1, 2])
async def test_closed_single_watch_ends_and_sends_no_further_request(
    emulator: OmicsEmulator, waiter: OmicsWaiter, keys: list[tuple[str, str]], count: int
) -> None:
    stream = waiter.watch_activation_job(*keys[0], timeout=30)
    taken = await first_events(stream, count)
    await stream.aclose()
    rest = [event async for event in stream]
    assert (len(taken), rest, await stays_quiet(emulator)) == (count, [], True)


@pytest.mark.asyncio
@pytest.mark.parametrize("count", [1, 6])
async def test_closed_many_watch_ends_and_sends_no_further_request(
    emulator: OmicsEmulator, waiter: OmicsWaiter, keys: list[tuple[str, str]], count: int
) -> None:
    stream = waiter.watch_activation_jobs(keys, timeout=30)
    taken = await first_events(stream, count)
    await stream.aclose()
    rest = [event async for event in stream]
    assert (len(taken), rest, await stays_quiet(emulator)) == (count, [], True)


# -- the event loop is never blocked --------------------------------------------------------


@pytest.mark.asyncio
async def test_a_full_wait_never_blocks_the_event_loop(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    job_id = emulator.add_job(
        STORE,
        [R1],
        timeline=[
            Step(at=0.05, status="IN_PROGRESS", sources={R1: "IN_PROGRESS"}),
            Step(at=0.4, status="COMPLETED", sources={R1: "FINISHED"}),
        ],
    )
    # Raises BlockingError on any blocking call (sleep, file or socket I/O) in the loop.
    with blockbuster_ctx():
        job = await waiter.wait_for_activation_job(STORE, job_id, timeout=10)
    assert job.status is ActivationJobStatus.COMPLETED


def client_connections(port: int) -> int:
    """Established TCP connections from a client to `port` on this host (from /proc/net)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01":  # 01: ESTABLISHED
                count += 1
    return count


@pytest.mark.asyncio
@pytest.mark.parametrize("wait", list(WAITS))
async def test_no_connection_is_left_open_after_cancelled_waits_and_connect_exits(
    emulator: OmicsEmulator, keys: list[tuple[str, str]], wait: str
) -> None:
    port = int(emulator.endpoint_url.rsplit(":", 1)[1])
    async with OmicsWaiter.connect(
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        min_delay=0.05,
        max_delay=MAX_DELAY,
        max_tps=50,
    ) as waiter:
        for after in CANCEL_AFTER[1:]:
            with anyio.move_on_after(after):
                await WAITS[wait](waiter, keys)
        # A request that completes leaves a kept-alive connection in the client's pool.
        await waiter.list_activation_jobs(STORE, limit=1)
        assert client_connections(port) >= 1
    await anyio.sleep(0.1)  # the closing handshakes
    assert client_connections(port) == 0
