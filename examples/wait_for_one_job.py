"""Wait for one read set activation job with ``await``.

python examples/wait_for_one_job.py                   # on an embedded emulator
python examples/wait_for_one_job.py STORE_ID JOB_ID   # on AWS, with your credentials
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

from omics_waiter import (
    JobFailedError,
    JobPartiallyFailedError,
    OmicsWaiter,
    OmicsWaiterError,
    WaitTimeoutError,
)
from omics_waiter.testing import OmicsEmulator


async def wait_for(waiter: OmicsWaiter, store_id: str, job_id: str) -> int:
    try:
        job = await waiter.wait_for_activation_job(store_id, job_id, timeout=3600)
    except JobPartiallyFailedError as error:
        for source in error.failed_sources:
            print(f"read set {source.read_set_id} failed: {source.status_message}")
        return 1
    except JobFailedError as error:
        print(f"job {job_id} ended {error.job.status}: {error.job.status_message}")
        return 1
    except WaitTimeoutError as error:
        last = error.job.status if error.job else "never seen"
        print(f"gave up on job {job_id}; last seen {last}")
        return 3
    except OmicsWaiterError as error:  # access denied, not found, ...
        print(f"cannot wait on job {job_id}: {error}")
        return 4
    print(f"job {job.id} {job.status}: {len(job.finished_sources)} read sets activated")
    return 0


@contextlib.asynccontextmanager
async def on_emulator() -> AsyncIterator[tuple[OmicsWaiter, str, str]]:
    """A waiter on an embedded emulator, and a job running there."""
    store_id = "1234567890"
    async with OmicsEmulator(seed=1, job_seconds=(0.5, 1.0)) as emulator:
        job_id = emulator.add_job(store_id, ["1111111111", "2222222222", "3333333333"])
        async with OmicsWaiter.connect(
            endpoint_url=emulator.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            min_delay=0.2,
            max_delay=1.0,
        ) as waiter:
            yield waiter, store_id, job_id


async def main(argv: list[str]) -> int:
    if argv:
        store_id, job_id = argv
        async with OmicsWaiter.connect() as waiter:
            return await wait_for(waiter, store_id, job_id)
    async with on_emulator() as (waiter, store_id, job_id):
        return await wait_for(waiter, store_id, job_id)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
