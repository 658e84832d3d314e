"""Start activating archived read sets, then wait for the job.

    python examples/start_and_wait.py                                # on an embedded emulator
    python examples/start_and_wait.py STORE_ID READ_SET_ID [...]     # on AWS (1-20 read sets)

The client token makes the start idempotent: if this program is killed after starting the job
and run again, it finds the same job instead of starting a second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sys
from collections.abc import AsyncIterator

from omics_waiter import JobPartiallyFailedError, OmicsWaiter
from omics_waiter.testing import OmicsEmulator


async def activate(waiter: OmicsWaiter, store_id: str, read_set_ids: list[str]) -> list[str]:
    """Activate read sets; return the ones that failed."""
    token = hashlib.sha256(f"{store_id}:{','.join(read_set_ids)}".encode()).hexdigest()[:64]
    started = await waiter.start_activation_job(store_id, read_set_ids, client_token=token)
    print(f"started job {started.id} ({started.status}) for {len(read_set_ids)} read sets")
    try:
        job = await waiter.wait_for_activation_job(store_id, started.id, timeout=3600)
    except JobPartiallyFailedError as error:
        for source in error.failed_sources:
            print(f"read set {source.read_set_id} failed: {source.status_message}")
        return [source.read_set_id for source in error.failed_sources]
    print(f"job {job.id} {job.status}: every read set is active")
    return []


@contextlib.asynccontextmanager
async def on_emulator() -> AsyncIterator[OmicsWaiter]:
    """A waiter on an embedded emulator where some read sets fail to activate."""
    emulator = OmicsEmulator(seed=7, job_seconds=(0.5, 1.0), failure_rate=0.25)
    async with (
        emulator,
        OmicsWaiter.connect(
            endpoint_url=emulator.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            min_delay=0.2,
            max_delay=1.0,
        ) as waiter,
    ):
        yield waiter


async def main(argv: list[str]) -> None:
    if argv:
        store_id, *read_set_ids = argv
        async with OmicsWaiter.connect() as waiter:
            await activate(waiter, store_id, read_set_ids)
        return
    read_set_ids = [str(5000000000 + i) for i in range(8)]
    async with on_emulator() as waiter:
        failed = await activate(waiter, "1234567890", read_set_ids)
        if failed:
            print(f"retrying {len(failed)} failed read sets in a new job")
            await activate(waiter, "1234567890", failed)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
