"""Retry pacing: a job's retries and not-found polls follow one pacing, alone or among many.

Issue 9, defects 1 and 4: in a many-job wait, a job that is not found, or whose Gets fail,
must not burn the shared budget (before the fix it was re-polled at once, hundreds of times a
second); and the last not-found poll lands at the end of the grace period, not a backoff later.
Counts, not durations, are asserted: the emulator counts every request it answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from omics_waiter import JobNotFoundError, OmicsWaiter, PollRetrying
from omics_waiter.testing import Faults, OmicsEmulator, Step

# Every test here holds delays against the clock: alone, not beside xdist workers.
pytestmark = pytest.mark.serial


STORE = "2345678901"
MISSING = "1000000001"
R1 = "1111111111"
GET = "GetReadSetActivationJob"

MakeClient = Callable[..., Awaitable[Any]]


async def waiter_for(emu: OmicsEmulator, make_client: MakeClient, **options: Any) -> OmicsWaiter:
    client = await make_client(emu)
    await client.list_read_set_activation_jobs(sequenceStoreId=STORE)  # connect first
    emu.stats.reset()
    options.setdefault("max_tps", 200)
    return OmicsWaiter(client, **options)


@pytest.mark.asyncio
async def test_a_missing_job_among_many_is_polled_at_the_single_wait_pace(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    # The retry backoff for not-found polls starts at min_delay (0.2 s) and doubles up to
    # max_delay (0.4 s), full jitter: over a 1.5 s grace a wait makes a dozen or so polls.
    waiter = await waiter_for(
        emulator, make_client, min_delay=0.2, max_delay=0.4, not_found_grace=1.5
    )
    existing = emulator.add_job(STORE, [R1], timeline=[Step(1.0, "COMPLETED")])
    with anyio.fail_after(10):
        outcomes = await waiter.wait_for_activation_jobs([(STORE, MISSING), (STORE, existing)])
    assert isinstance(outcomes[0], JobNotFoundError)
    not_found = emulator.stats.count(GET, 404)
    # Before the fix: hundreds of 404s (each retry scheduled at once, at max_tps).
    assert 2 <= not_found <= 40, not_found


@pytest.mark.asyncio
async def test_server_errors_among_many_jobs_are_retried_at_the_promised_delays(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    waiter = await waiter_for(emulator, make_client, min_delay=0.2, max_delay=0.4)
    jobs = [(STORE, emulator.add_job(STORE, [R1], timeline=[Step(0.1, "COMPLETED")]))]
    jobs.append((STORE, emulator.add_job(STORE, [R1], timeline=[Step(0.1, "COMPLETED")])))
    emulator.set_faults(Faults(error_rate=1.0))
    retries: list[PollRetrying] = []
    with anyio.move_on_after(1.5):
        async for event in waiter.watch_activation_jobs(jobs, timeout=30):
            if isinstance(event, PollRetrying):
                retries.append(event)
    errors = emulator.stats.count(GET, 500)
    # Each job retries after a full-jitter delay of up to 0.4 s: a few dozen 500s in 1.5 s.
    assert 2 <= errors <= 40, errors
    # Every failed request is told once, as a retry with the delay it will wait.
    assert len(retries) in (errors, errors - 1, errors - 2)


@pytest.mark.asyncio
async def test_a_missing_job_is_reported_at_the_end_of_the_grace_period_not_later(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    # A retry backoff of up to 5 s would overshoot a 1 s grace by seconds; the last
    # not-found poll must land at the end of the grace period instead.
    waiter = await waiter_for(
        emulator, make_client, min_delay=0.5, max_delay=5.0, not_found_grace=1.0
    )
    started = anyio.current_time()
    with anyio.fail_after(10), pytest.raises(JobNotFoundError):
        await waiter.wait_for_activation_job(STORE, MISSING)
    elapsed = anyio.current_time() - started
    assert 1.0 <= elapsed < 1.6, elapsed


@pytest.mark.asyncio
async def test_a_client_that_retries_on_its_own_still_cuts_the_budget_on_throttling(
    emulator: OmicsEmulator, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 9, defect 6: botocore's own retries hid the 429s from the budget.
    client = await make_client(emulator, retries={"mode": "standard", "total_max_attempts": 3})
    with caplog.at_level("WARNING", logger="omics_waiter"):
        waiter = OmicsWaiter(client, min_delay=0.05, max_delay=0.2, max_tps=20)
    assert sum("retries on its own" in r.getMessage() for r in caplog.records) == 1
    job_id = emulator.add_job(STORE, [R1], timeline=[Step(0.6, "COMPLETED")])
    with emulator.faults_window(Faults(throttle_rate=1.0), duration=0.3), anyio.fail_after(10):
        await waiter.wait_for_activation_job(STORE, job_id)
    assert emulator.stats.count(GET, 429) >= 1
    assert waiter.budget.rate(GET) < 20


@pytest.mark.asyncio
async def test_a_client_without_retries_draws_no_warning(
    emulator: OmicsEmulator, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client(emulator)  # total_max_attempts=1, as connect() makes it
    with caplog.at_level("WARNING", logger="omics_waiter"):
        OmicsWaiter(client)
    assert not [r for r in caplog.records if "retries on its own" in r.getMessage()]
