"""RedisBudget shared by real OS processes, against the emulator with its quota enforced.

Each replica is a Python process running a small script; the emulator and the Redis
server run in (or beside) the test process. The tests assert counts, never durations.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence

import pytest
import pytest_asyncio

from omics_waiter import RedisBudget
from omics_waiter.testing import OmicsEmulator, Step
from servers import RedisServer, redis_server  # noqa: F401 - the fixture

# Replica processes sharing a rate: alone, not beside xdist workers.
pytestmark = pytest.mark.serial


GET = "GetReadSetActivationJob"
STORE = "1234567890"
R1 = "1111111111"

# A replica: connects (the budget too), says "ready", reads the jobs to wait on from
# stdin, waits on all of them at once, one wait per job, and prints their outcomes.
REPLICA = r"""
import asyncio, json, sys
from omics_waiter import OmicsWaiter, OmicsWaiterError

async def main(endpoint, redis_url, tps):
    async with OmicsWaiter.connect(
        endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
        min_delay=0.2, max_delay=0.4, timeout=60,
        budget_url=redis_url, max_tps=tps,
    ) as waiter:
        print("ready", flush=True)
        jobs = json.loads(sys.stdin.readline())

        async def one(job):
            try:
                return (await waiter.wait_for_activation_job(jobs["store"], job)).status.value
            except OmicsWaiterError as exc:
                return type(exc).__name__

        outcomes = await asyncio.gather(*(one(job) for job in jobs["ids"]))
        print(json.dumps(outcomes), flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
"""

# A hog: as many callers as it likes, all asking the shared budget for slots; it prints
# a line per slot.
HOG = r"""
import asyncio, sys
from omics_waiter import RedisBudget

async def main(redis_url):
    async with RedisBudget(redis_url, max_tps=5) as budget:
        async def ask():
            while True:
                await budget.acquire("GetReadSetActivationJob")
                print("slot", flush=True)
        await asyncio.gather(*(ask() for _ in range(50)))

asyncio.run(main(sys.argv[1]))
"""


async def spawn(script: str, *args: str) -> asyncio.subprocess.Process:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )


async def line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    text = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    if not text:
        raise AssertionError(f"the replica ended ({await process.wait()}) before answering")
    return text.decode().strip()


async def stop_all(processes: Sequence[asyncio.subprocess.Process]) -> None:
    for process in processes:
        if process.returncode is None:
            process.kill()
        await process.wait()


@pytest_asyncio.fixture
async def processes() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """A list to put spawned processes in; every one is killed at teardown."""
    spawned: list[asyncio.subprocess.Process] = []
    yield spawned
    await stop_all(spawned)


@pytest.mark.asyncio
async def test_three_replicas_sharing_one_budget_are_never_throttled(
    redis_server: RedisServer,  # noqa: F811
    processes: list[asyncio.subprocess.Process],
) -> None:
    quota = 10.0
    per_replica = 10
    async with OmicsEmulator(seed=5, quota_tps=quota) as emu:
        for _ in range(3):
            processes.append(await spawn(REPLICA, emu.endpoint_url, redis_server.url, str(quota)))
        assert [await line(p) for p in processes] == ["ready"] * 3
        emu.stats.reset()
        for i, process in enumerate(processes):
            timeline = [Step(0.1, "IN_PROGRESS"), Step(1.0 + 0.1 * i, "COMPLETED")]
            ids = [emu.add_job(STORE, [R1], timeline=timeline) for _ in range(per_replica)]
            assert process.stdin is not None
            process.stdin.write(json.dumps({"store": STORE, "ids": ids}).encode() + b"\n")
            await process.stdin.drain()
        outcomes = [json.loads(await line(p)) for p in processes]
        gets = emu.stats.count(GET)
        throttled = emu.stats.count(status=429)
    assert outcomes == [["COMPLETED"] * per_replica] * 3
    # 30 waits polling every 0.2-0.4 s ask for far more than the quota: the budget held.
    assert gets >= 30
    assert throttled == 0


@pytest.mark.asyncio
async def test_a_replica_killed_mid_run_holds_no_more_than_one_slot(
    redis_server: RedisServer,  # noqa: F811
    processes: list[asyncio.subprocess.Process],
) -> None:
    hog = await spawn(HOG, redis_server.url)
    processes.append(hog)
    for _ in range(5):
        assert await line(hog) == "slot"
    async with RedisBudget(redis_server.url, max_tps=5) as budget:
        # A process holds one reserved slot at a time, however many callers it has, so
        # the next free slot is never more than two slots (0.4 s) away: the one it
        # holds, and the one after it, which goes to whoever asks first.
        during = await budget._reserve(GET, math.inf, [])
        assert during.wait <= 0.4 + 0.05
        await asyncio.sleep(during.wait + 0.1)  # our slot passes: we hold nothing
        hog.send_signal(signal.SIGKILL)
        assert await hog.wait() == -signal.SIGKILL
        after = await budget._reserve(GET, math.inf, [])
    # What the killed process held delays the others by no more than that.
    assert after.wait <= 0.4 + 0.05
    assert during.replicas == 2
