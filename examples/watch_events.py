"""Follow a read set activation job's progress with ``async for``.

    python examples/watch_events.py                   # on an embedded emulator
    python examples/watch_events.py STORE_ID JOB_ID   # on AWS, with your credentials

Every status change of the job and of each read set is one event; a transient error
(throttling, a dropped connection) is a `PollRetrying`. The job's terminal status is the last
event, whatever the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

from omics_waiter import (
    JobStatusChanged,
    OmicsWaiter,
    PollRetrying,
    SourceStatusChanged,
)
from omics_waiter.testing import Faults, OmicsEmulator


async def follow(waiter: OmicsWaiter, store_id: str, job_id: str) -> None:
    async for event in waiter.watch_activation_job(store_id, job_id, timeout=3600):
        if isinstance(event, JobStatusChanged):
            print(f"job {event.job.id}: {event.previous} -> {event.status}")
            if event.is_terminal:
                failed = [s.read_set_id for s in event.job.failed_sources]
                print(f"done: {event.status}; failed read sets: {failed or 'none'}")
        elif isinstance(event, SourceStatusChanged):
            source = event.source
            message = f" ({source.status_message})" if source.status_message else ""
            print(f"  read set {source.read_set_id}: {event.previous} -> {event.status}{message}")
        elif isinstance(event, PollRetrying):
            print(
                f"  {event.operation} {event.reason}: retry {event.attempt} in {event.delay:.2f}s"
            )


@contextlib.asynccontextmanager
async def on_emulator() -> AsyncIterator[tuple[OmicsWaiter, str, str]]:
    """A waiter on an embedded emulator that throttles some requests, and a job running there."""
    store_id = "1234567890"
    read_sets = ["1111111111", "2222222222", "3333333333", "4444444444"]
    emulator = OmicsEmulator(
        seed=6, job_seconds=(1.0, 1.5), failure_rate=0.3, faults=Faults(throttle_rate=0.2)
    )
    async with emulator:
        job_id = emulator.add_job(store_id, read_sets)
        async with OmicsWaiter.connect(
            endpoint_url=emulator.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            min_delay=0.2,
            max_delay=1.0,
        ) as waiter:
            yield waiter, store_id, job_id


async def main(argv: list[str]) -> None:
    if argv:
        store_id, job_id = argv
        async with OmicsWaiter.connect() as waiter:
            await follow(waiter, store_id, job_id)
        return
    async with on_emulator() as (waiter, store_id, job_id):
        await follow(waiter, store_id, job_id)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
