"""Many jobs in one asyncio service, under one request budget.

    python examples/many_jobs_service.py              # on an embedded emulator
    python examples/many_jobs_service.py STORE_ID     # on AWS: resume the store's running jobs

A service keeps one `OmicsWaiter` for its lifetime. Its request handlers may each wait on their
own job, concurrently: all their polls share the waiter's budget (5 requests per second per
operation by default, the service's quota), so a hundred waits do not get throttled. And after a
restart, the jobs still running are found with `list_activation_jobs` and waited on together
with `wait_for_activation_jobs`, which polls a store's jobs with one List request.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

from omics_waiter import ActivationJob, JobFailedError, OmicsWaiter
from omics_waiter.testing import OmicsEmulator

STORE_ID = "1234567890"


async def handle_request(waiter: OmicsWaiter, store_id: str, read_set_ids: list[str]) -> str:
    """One request handler: activate read sets, answer when they are ready."""
    started = await waiter.start_activation_job(store_id, read_set_ids)
    try:
        job = await waiter.wait_for_activation_job(store_id, started.id, timeout=600)
    except JobFailedError as error:
        failed = len(error.job.failed_sources)
        return f"job {started.id}: {error.job.status}, {failed} of {len(read_set_ids)} failed"
    return f"job {job.id}: {job.status}, {len(job.finished_sources)} read set(s) active"


async def resume(waiter: OmicsWaiter, store_id: str) -> None:
    """After a restart: wait on every job of the store that is still running."""
    # One listing, filtered here: two listings by status could both hold a job that moved
    # from SUBMITTED to IN_PROGRESS between them.
    running = [
        job for job in await waiter.list_activation_jobs(store_id) if not job.status.is_terminal
    ]
    print(f"resuming {len(running)} running jobs")
    outcomes = await waiter.wait_for_activation_jobs(
        [(job.sequence_store_id, job.id) for job in running], accept_partial=True, timeout=600
    )
    for summary, outcome in zip(running, outcomes, strict=True):
        if isinstance(outcome, ActivationJob):
            print(f"job {summary.id}: {outcome.status}")
        else:  # the error this job's wait ended with; the others were not affected
            print(f"job {summary.id}: {type(outcome).__name__}: {outcome}")


@contextlib.asynccontextmanager
async def on_emulator() -> AsyncIterator[tuple[OmicsWaiter, OmicsEmulator]]:
    emulator = OmicsEmulator(seed=11, job_seconds=(0.3, 1.0), failure_rate=0.1, quota_tps=5)
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
        yield waiter, emulator


async def main(argv: list[str]) -> None:
    if argv:
        async with OmicsWaiter.connect() as waiter:
            await resume(waiter, argv[0])
        return
    async with on_emulator() as (waiter, emulator):
        # Six concurrent requests, each waiting on its own job.
        requests = [[str(6000000000 + 10 * i + k) for k in range(1 + i % 4)] for i in range(6)]
        answers = await asyncio.gather(
            *(handle_request(waiter, STORE_ID, read_sets) for read_sets in requests)
        )
        print("\n".join(answers))
        # Jobs left running by a previous process (here: created behind the waiter's back).
        for i in range(3):
            emulator.add_job(STORE_ID, [str(7000000000 + i)])
        await resume(waiter, STORE_ID)
        throttled = emulator.stats.count(None, 429)
        print(f"requests the service throttled: {throttled} (the budget kept under its quota)")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
