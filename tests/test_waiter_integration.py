"""The single-job API through a real, SigV4-signing aiobotocore client against the emulator.

Every job here has a scripted timeline of a second or less; the waiter polls every 0.05-0.2 s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
import pytest
import pytest_asyncio

from omics_waiter import (
    AccessDeniedError,
    ActivationJob,
    ActivationJobStatus,
    InvalidInputError,
    JobFailedError,
    JobNotFoundError,
    JobPartiallyFailedError,
    JobStatusChanged,
    JobWatchFailed,
    OmicsWaiter,
    OmicsWaiterError,
    PollRetrying,
    ReadSetActivationJobRef,
    SourceStatusChanged,
    UnexpectedResponseError,
    WaitTimeoutError,
    WatchEvent,
)
from omics_waiter.testing import Faults, OmicsEmulator, Step

STORE = "1234567890"
R1, R2 = "1111111111", "2222222222"
GET = "GetReadSetActivationJob"
MIN_DELAY = 0.05
GRACE = 1.0

MakeClient = Callable[..., Awaitable[Any]]

# Steps 0.2 s apart, watched with polls at most 0.05 s apart: every state is observed.
STEPPED = [
    Step(at=0.2, status="IN_PROGRESS", sources={R1: "IN_PROGRESS"}),
    Step(at=0.4, sources={R1: "FINISHED", R2: "IN_PROGRESS"}),
    Step(at=0.6, sources={R2: "FINISHED"}),
    Step(at=0.8, status="COMPLETED", status_message="Activation completed."),
]
STEPPED_EVENTS = [
    ("job", "SUBMITTED", None),
    (R1, "NOT_STARTED", None),
    (R2, "NOT_STARTED", None),
    ("job", "IN_PROGRESS", "SUBMITTED"),
    (R1, "IN_PROGRESS", "NOT_STARTED"),
    (R1, "FINISHED", "IN_PROGRESS"),
    (R2, "IN_PROGRESS", "NOT_STARTED"),
    (R2, "FINISHED", "IN_PROGRESS"),
    ("job", "COMPLETED", "IN_PROGRESS"),
]
# Poll fast enough for STEPPED (per-watch overrides of the waiter's timing).
CLOSE_WATCH: dict[str, Any] = {"min_delay": 0.03, "max_delay": 0.05}


def completes_at(at: float) -> list[Step]:
    return [
        Step(at=0.05, status="IN_PROGRESS", sources={R1: "IN_PROGRESS"}),
        Step(at=at, status="COMPLETED", sources={R1: "FINISHED"}),
    ]


def describe(event: WatchEvent) -> tuple[object, ...]:
    if isinstance(event, JobStatusChanged):
        return ("job", str(event.status), event.previous and str(event.previous))
    if isinstance(event, SourceStatusChanged):
        return (event.source.read_set_id, str(event.status), event.previous and str(event.previous))
    assert isinstance(event, PollRetrying)
    return ("retry", event.reason)


def changes(events: Sequence[WatchEvent]) -> list[tuple[object, ...]]:
    """The status changes among `events`, without retries."""
    return [describe(e) for e in events if not isinstance(e, PollRetrying)]


def final_status(events: Sequence[WatchEvent]) -> str | None:
    """The status of the last event if it is a job's terminal event, else None."""
    last = events[-1] if events else None
    return str(last.status) if isinstance(last, JobStatusChanged) and last.is_terminal else None


def retry_reasons(events: Sequence[WatchEvent]) -> set[str]:
    return {e.reason for e in events if isinstance(e, PollRetrying)}


async def new_waiter(emu: OmicsEmulator, make_client: MakeClient, **config: Any) -> OmicsWaiter:
    return OmicsWaiter(
        await make_client(emu, **config),
        min_delay=MIN_DELAY,
        max_delay=0.2,
        max_tps=50,
        not_found_grace=GRACE,
    )


@pytest_asyncio.fixture
async def waiter(emulator: OmicsEmulator, make_client: MakeClient) -> OmicsWaiter:
    """A waiter whose client has already connected (so the first poll is prompt); stats reset."""
    waiter = await new_waiter(emulator, make_client)
    await waiter.list_activation_jobs(STORE)
    emulator.stats.reset()
    return waiter


async def watch_all(waiter: OmicsWaiter, job_id: str, **kwargs: Any) -> list[WatchEvent]:
    return [event async for event in waiter.watch_activation_job(STORE, job_id, **kwargs)]


# -- outcomes -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_wait_returns_the_completed_job(emulator: OmicsEmulator, waiter: OmicsWaiter) -> None:
    job_id = emulator.add_job(STORE, [R1, R2], timeline=STEPPED)
    job = await waiter.wait_for_activation_job(STORE, job_id, timeout=10)
    assert (job.id, job.status, [s.read_set_id for s in job.finished_sources]) == (
        job_id,
        ActivationJobStatus.COMPLETED,
        [R1, R2],
    )


@pytest.mark.asyncio
async def test_partial_failure_raises_with_the_failed_read_sets_and_their_messages(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    job_id = emulator.add_job(
        STORE,
        [R1, R2],
        timeline=[
            Step(at=0.1, status="IN_PROGRESS", sources={R1: "IN_PROGRESS", R2: "IN_PROGRESS"}),
            Step(
                at=0.3,
                status="COMPLETED_WITH_FAILURES",
                status_message="1 of 2 read sets failed to activate.",
                sources={R1: "FINISHED", R2: ("FAILED", "Read set is not archived.")},
            ),
        ],
    )
    with pytest.raises(JobPartiallyFailedError) as info:
        await waiter.wait_for_activation_job(STORE, job_id, timeout=10)
    assert [(s.read_set_id, s.status_message) for s in info.value.failed_sources] == [
        (R2, "Read set is not archived.")
    ]


@pytest.mark.asyncio
async def test_accept_partial_returns_the_job_completed_with_failures(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    job_id = emulator.add_job(
        STORE,
        [R1, R2],
        timeline=[
            Step(
                at=0.2,
                status="COMPLETED_WITH_FAILURES",
                sources={R1: "FINISHED", R2: ("FAILED", "Read set is not archived.")},
            )
        ],
    )
    job = await waiter.wait_for_activation_job(STORE, job_id, timeout=10, accept_partial=True)
    assert (job.status, [s.read_set_id for s in job.failed_sources]) == (
        ActivationJobStatus.COMPLETED_WITH_FAILURES,
        [R2],
    )


@pytest.mark.asyncio
async def test_failed_job_raises_job_failed_with_the_service_message(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    job_id = emulator.add_job(
        STORE,
        [R1],
        timeline=[
            Step(at=0.1, status="IN_PROGRESS"),
            Step(
                at=0.3,
                status="FAILED",
                status_message="All read sets failed to activate.",
                sources={R1: ("FAILED", "Read set is not archived.")},
            ),
        ],
    )
    with pytest.raises(JobFailedError) as info:
        await waiter.wait_for_activation_job(STORE, job_id, timeout=10)
    assert (type(info.value), info.value.job.status, info.value.service_message) == (
        JobFailedError,
        ActivationJobStatus.FAILED,
        "All read sets failed to activate.",
    )


CANCELLED_TIMELINE = [
    Step(at=0.2, status="IN_PROGRESS"),
    Step(at=0.4, status="CANCELLING", status_message="Cancellation requested."),
    Step(at=0.6, status="CANCELLED", status_message="Cancelled by the user."),
]


@pytest.mark.asyncio
async def test_cancelled_job_raises_job_failed(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    job_id = emulator.add_job(STORE, [R1], timeline=CANCELLED_TIMELINE)
    with pytest.raises(JobFailedError) as info:
        await waiter.wait_for_activation_job(STORE, job_id, timeout=10)
    assert (type(info.value), info.value.job.status, info.value.service_message) == (
        JobFailedError,
        ActivationJobStatus.CANCELLED,
        "Cancelled by the user.",
    )


@pytest.mark.asyncio
async def test_watch_reports_cancelling_then_cancelled_last(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    job_id = emulator.add_job(STORE, [R1], timeline=CANCELLED_TIMELINE)
    events = await watch_all(waiter, job_id, timeout=10, **CLOSE_WATCH)
    assert changes(events) == [
        ("job", "SUBMITTED", None),
        (R1, "NOT_STARTED", None),
        ("job", "IN_PROGRESS", "SUBMITTED"),
        ("job", "CANCELLING", "IN_PROGRESS"),
        ("job", "CANCELLED", "CANCELLING"),
    ]


# -- timeout and not found ------------------------------------------------------------------


NEVER_ENDS = [Step(at=0.05, status="IN_PROGRESS", sources={R1: "IN_PROGRESS"})]


@pytest.mark.asyncio
async def test_job_that_never_finishes_times_out_with_the_last_job_seen(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    job_id = emulator.add_job(STORE, [R1], timeline=NEVER_ENDS)
    with pytest.raises(WaitTimeoutError) as info:
        await waiter.wait_for_activation_job(STORE, job_id, timeout=0.5)
    last = info.value.job
    assert (info.value.job_id, last and last.id, last and last.status) == (
        job_id,
        job_id,
        ActivationJobStatus.IN_PROGRESS,
    )


@pytest.mark.serial  # measures time or rates: alone, not beside xdist workers
@pytest.mark.asyncio
async def test_timeout_ends_the_wait_within_one_min_delay_of_the_deadline(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    job_id = emulator.add_job(STORE, [R1], timeline=NEVER_ENDS)
    timeout = 0.6
    start = anyio.current_time()
    with pytest.raises(WaitTimeoutError):
        await waiter.wait_for_activation_job(STORE, job_id, timeout=timeout)
    elapsed = anyio.current_time() - start
    # Generous slack for a loaded machine; the claim is "not early, not a poll interval late".
    assert timeout - 0.01 <= elapsed <= timeout + MIN_DELAY + 0.25


@pytest.mark.asyncio
async def test_job_never_found_raises_not_found_after_the_grace_period(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    missing = "9999999999"
    start = anyio.current_time()
    with pytest.raises(JobNotFoundError) as info:
        await waiter.wait_for_activation_job(STORE, missing, timeout=10)
    elapsed = anyio.current_time() - start
    assert (info.value.job_id, info.value.sequence_store_id, info.value.code, elapsed >= GRACE) == (
        missing,
        STORE,
        "ResourceNotFoundException",
        True,
    )


async def not_found_until_the_deadline(waiter: OmicsWaiter, how: str, ref: Any) -> object:
    """What `how` (wait, watch, watch_many, wait_many) ends with for a job never found."""
    if how == "wait":
        try:
            return await waiter.wait(ref, timeout=0.5)
        except OmicsWaiterError as exc:
            return exc
    if how == "wait_many":
        (outcome,) = await waiter.wait_many([ref], timeout=0.5)
        return outcome
    if how == "watch":
        try:
            return [e async for e in waiter.watch(ref, timeout=0.5)]
        except OmicsWaiterError as exc:
            return exc
    events = [e async for e in waiter.watch_many([ref], timeout=0.5)]
    return events[-1].error if isinstance(events[-1], JobWatchFailed) else events[-1]


@pytest.mark.asyncio
@pytest.mark.parametrize("how", ["wait", "watch", "watch_many", "wait_many"])
async def test_a_deadline_before_the_not_found_grace_ends_is_a_timeout_saying_so(
    emulator: OmicsEmulator, make_client: MakeClient, how: str
) -> None:
    waiter = OmicsWaiter(
        await make_client(emulator), min_delay=MIN_DELAY, max_delay=0.2, not_found_grace=30
    )
    ref = ReadSetActivationJobRef(STORE, "9999999999")
    with anyio.fail_after(5):
        outcome = await not_found_until_the_deadline(waiter, how, ref)
    assert type(outcome) is WaitTimeoutError, outcome
    assert (outcome.ref, outcome.job) == (ref, None)
    assert "had not been found so far" in str(outcome)
    assert emulator.stats.count(GET, 404) >= 1


@pytest.mark.asyncio
async def test_job_visible_within_the_grace_period_is_followed_to_completion(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    job_id = emulator.add_job(STORE, [R1], timeline=completes_at(0.6), visible_after=0.4)
    job = await waiter.wait_for_activation_job(STORE, job_id, timeout=10)
    assert (job.status, emulator.stats.count(GET, 404) >= 1) == (
        ActivationJobStatus.COMPLETED,
        True,
    )


# -- refusals and faults --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_wrong_secret_raises_access_denied_after_exactly_one_request(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    job_id = emulator.add_job(STORE, [R1], timeline=completes_at(0.2))
    waiter = await new_waiter(emulator, make_client, credentials=("testing", "wrong", None))
    with pytest.raises(AccessDeniedError) as info:
        await waiter.wait_for_activation_job(STORE, job_id, timeout=10)
    assert (info.value.code, emulator.stats.requests) == (
        "InvalidSignatureException",
        {GET: {"403": 1}},
    )


@pytest.mark.asyncio
async def test_throttling_storm_is_retried_until_the_job_completes(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    job_id = emulator.add_job(STORE, [R1], timeline=completes_at(0.8))
    with emulator.faults_window(Faults(throttle_rate=0.5), duration=1.0):
        events = await watch_all(waiter, job_id, timeout=10)
    assert (
        final_status(events),
        "ThrottlingException" in retry_reasons(events),
        emulator.stats.count(GET, 429) >= 1,
    ) == ("COMPLETED", True, True)


@pytest.mark.asyncio
async def test_burst_of_server_errors_is_retried_until_the_job_completes(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    job_id = emulator.add_job(STORE, [R1], timeline=completes_at(0.3))
    with emulator.faults_window(Faults(error_rate=1.0), duration=0.5):
        events = await watch_all(waiter, job_id, timeout=10)
    assert (
        final_status(events),
        retry_reasons(events),
        emulator.stats.count(GET, 500) >= 1,
    ) == ("COMPLETED", {"InternalServerException"}, True)


@pytest.mark.asyncio
async def test_dropped_connections_are_retried_until_the_job_completes(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    job_id = emulator.add_job(STORE, [R1], timeline=completes_at(0.3))
    with emulator.faults_window(Faults(drop_rate=1.0), duration=0.4):
        events = await watch_all(waiter, job_id, timeout=10)
    assert (
        final_status(events),
        retry_reasons(events),
        emulator.stats.count(GET, "dropped") >= 1,
    ) == ("COMPLETED", {"ConnectionError"}, True)


@pytest.mark.asyncio
async def test_slow_responses_time_out_and_are_retried_until_the_job_completes(
    emulator: OmicsEmulator, make_client: MakeClient
) -> None:
    waiter = await new_waiter(emulator, make_client, read_timeout=0.3)
    job_id = emulator.add_job(STORE, [R1], timeline=completes_at(0.3))
    with emulator.faults_window(Faults(slow_rate=1.0, slow_seconds=1.0), duration=0.5):
        events = await watch_all(waiter, job_id, timeout=10)
    assert (final_status(events), retry_reasons(events)) == (
        "COMPLETED",
        {"ReadTimeout"},
    )


@pytest.mark.asyncio
async def test_unknown_status_raises_unexpected_response_with_the_job(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    job_id = emulator.add_job(STORE, [R1], timeline=[Step(at=0.1, status="PAUSED")])
    with pytest.raises(UnexpectedResponseError) as info:
        await waiter.wait_for_activation_job(STORE, job_id, timeout=10)
    job = info.value.job
    assert (job and str(job.status), job and job.status.is_known) == ("PAUSED", False)


@pytest.mark.asyncio
async def test_malformed_body_raises_unexpected_response(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    job_id = emulator.add_job(STORE, [R1], timeline=completes_at(0.5))
    errors: list[type[BaseException]] = []
    # Several waits, so that the emulator's several kinds of malformed body are drawn.
    with emulator.faults_window(Faults(malformed_rate=1.0, operations=frozenset({GET}))):
        for _ in range(4):
            try:
                await waiter.wait_for_activation_job(STORE, job_id, timeout=10)
            except OmicsWaiterError as exc:
                errors.append(type(exc))
    assert errors == [UnexpectedResponseError] * 4


# -- event sequences and resuming -----------------------------------------------------------


@pytest.mark.asyncio
async def test_watch_reports_first_sight_then_each_change_once_and_the_terminal_event_last(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    job_id = emulator.add_job(STORE, [R1, R2], timeline=STEPPED)
    events = await watch_all(waiter, job_id, timeout=10, **CLOSE_WATCH)
    assert changes(events) == STEPPED_EVENTS


@pytest.mark.asyncio
async def test_resuming_with_since_repeats_nothing_and_misses_nothing(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    # Twin jobs: one watched in full, the other watched to a mid point and resumed.
    full_id = emulator.add_job(STORE, [R1, R2], timeline=STEPPED)
    split_id = emulator.add_job(STORE, [R1, R2], timeline=STEPPED)
    full: list[WatchEvent] = []
    first: list[WatchEvent] = []
    second: list[WatchEvent] = []

    async def watch_full() -> None:
        full.extend(await watch_all(waiter, full_id, timeout=10, **CLOSE_WATCH))

    async def watch_split() -> None:
        last: ActivationJob | None = None
        stream = waiter.watch_activation_job(STORE, split_id, timeout=10, **CLOSE_WATCH)
        async for event in stream:
            first.append(event)
            if isinstance(event, JobStatusChanged):
                last = event.job
            # The end of the IN_PROGRESS observation: R1 started, R2 not yet.
            if describe(event) == (R1, "IN_PROGRESS", "NOT_STARTED"):
                break
        await stream.aclose()
        assert last is not None
        second.extend(await watch_all(waiter, split_id, timeout=10, since=last, **CLOSE_WATCH))

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch_full)
        tg.start_soon(watch_split)
    before, after = changes(first), changes(second)
    assert (before + after, set(before) & set(after)) == (changes(full), set())


# -- connect() ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_connect_with_an_endpoint_url_reaches_the_emulator(
    emulator: OmicsEmulator,
) -> None:
    job_id = emulator.add_job(STORE, [R1], timeline=completes_at(0.2))
    async with OmicsWaiter.connect(
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        min_delay=MIN_DELAY,
        max_delay=0.2,
    ) as waiter:
        job = await waiter.wait_for_activation_job(STORE, job_id, timeout=10)
    assert (job.status, emulator.stats.count(GET, 200) >= 1) == (
        ActivationJobStatus.COMPLETED,
        True,
    )


@pytest.mark.asyncio
async def test_connect_closes_its_client_on_exit(emulator: OmicsEmulator) -> None:
    job_id = emulator.add_job(STORE, [R1], timeline=completes_at(0.2))
    async with OmicsWaiter.connect(
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        min_delay=MIN_DELAY,
        max_delay=0.2,
    ) as waiter:
        await waiter.wait_for_activation_job(STORE, job_id, timeout=10)
    before = emulator.stats.requests
    # A closed client sends nothing, and the waiter says so at once instead of retrying
    # until its timeout.
    with anyio.fail_after(5), pytest.raises(OmicsWaiterError) as info:
        await waiter.wait_for_activation_job(STORE, job_id, timeout=3600)
    assert not isinstance(info.value, WaitTimeoutError)
    assert emulator.stats.requests == before


@pytest.mark.asyncio
async def test_a_call_on_the_closed_client_of_connect_says_it_is_closed(
    emulator: OmicsEmulator,
) -> None:
    async with OmicsWaiter.connect(
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as waiter:
        pass
    with anyio.fail_after(5), pytest.raises(OmicsWaiterError, match="closed"):
        await waiter.list_activation_jobs(STORE)


@pytest.mark.asyncio
async def test_connect_makes_its_client_from_a_callers_session(emulator: OmicsEmulator) -> None:
    import aiobotocore.session

    session = aiobotocore.session.AioSession()
    session.set_credentials("testing", "testing")
    job_id = emulator.add_job(STORE, [R1], timeline=completes_at(0.2))
    async with OmicsWaiter.connect(
        session=session,
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        min_delay=MIN_DELAY,
        max_delay=0.2,
    ) as waiter:
        job = await waiter.wait_for_activation_job(STORE, job_id, timeout=10)
    assert job.status is ActivationJobStatus.COMPLETED


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("session", "profile_name", "message"),
    [
        ("not a session", None, "session must be an aiobotocore AioSession"),
        ("aio", "other", "give session or profile_name, not both"),
    ],
)
async def test_connect_refuses_a_bad_session_before_any_request(
    emulator: OmicsEmulator, session: object, profile_name: str | None, message: str
) -> None:
    import aiobotocore.session

    given = aiobotocore.session.AioSession() if session == "aio" else session
    with pytest.raises(InvalidInputError, match=message):
        async with OmicsWaiter.connect(
            session=given,
            profile_name=profile_name,
            endpoint_url=emulator.endpoint_url,
            region_name="us-east-1",
        ):
            pass
    assert not emulator.stats.requests


# The endpoint can also come from the environment, as for any AWS SDK client; host-prefix
# injection must then be off too, or every request goes to a "control-storage-" host.
@pytest.mark.asyncio
@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_OMICS"])
async def test_connect_takes_the_endpoint_from_the_environment(
    emulator: OmicsEmulator, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.delenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", raising=False)
    monkeypatch.setenv(variable, emulator.endpoint_url)
    job_id = emulator.add_job(STORE, [R1], timeline=completes_at(0.2))
    async with OmicsWaiter.connect(
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        min_delay=MIN_DELAY,
        max_delay=0.2,
        timeout=5,
    ) as waiter:
        job = await waiter.wait_for_activation_job(STORE, job_id)
    assert job.status is ActivationJobStatus.COMPLETED


@pytest.mark.asyncio
async def test_connect_takes_the_endpoint_from_the_profile(
    emulator: OmicsEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    config = tmp_path / "config"
    config.write_text(f"[profile emulated]\nendpoint_url = {emulator.endpoint_url}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_OMICS",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    ):
        monkeypatch.delenv(name, raising=False)
    async with OmicsWaiter.connect(
        profile_name="emulated",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        timeout=5,
    ) as waiter:
        jobs = await waiter.list_activation_jobs(STORE)
    assert emulator.stats.count("ListReadSetActivationJobs", 200) == 1
    assert jobs == []


@pytest.mark.asyncio
async def test_ignored_configured_endpoints_leave_aws_and_its_host_prefixes(
    emulator: OmicsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    async with OmicsWaiter.connect(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    ) as waiter:
        client: Any = waiter._api.client
        assert (client.meta.endpoint_url, client.meta.config.inject_host_prefix) == (
            "https://omics.us-east-1.amazonaws.com",
            True,
        )


@pytest.mark.asyncio
async def test_a_configured_endpoint_that_is_no_url_is_invalid_input_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "localhost:8080")
    with pytest.raises(InvalidInputError) as info:
        async with OmicsWaiter.connect(region_name="us-east-1"):
            pass
    assert info.value.argument == "AWS_ENDPOINT_URL"


# -- start and list: retries reported, and the cause named ----------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("call", ["list", "start"])
async def test_a_refused_connection_is_reported_on_each_retry_and_named_at_the_timeout(
    call: str,
) -> None:
    retries: list[PollRetrying] = []
    async with OmicsWaiter.connect(
        endpoint_url="http://127.0.0.1:1",  # nothing listens there: connection refused
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        min_delay=0.05,
        max_delay=0.1,
        timeout=0.5,
    ) as waiter:
        with pytest.raises(WaitTimeoutError) as info:
            if call == "list":
                await waiter.list_activation_jobs(STORE, on_retry=retries.append)
            else:
                await waiter.start_activation_job(STORE, [R1], on_retry=retries.append)
    operation = "ListReadSetActivationJobs" if call == "list" else "StartReadSetActivationJob"
    assert f"{operation} kept failing (ConnectionError: " in str(info.value)
    assert "127.0.0.1:1" in str(info.value)
    assert retries
    assert {(r.sequence_store_id, r.job_id, r.operation, r.reason) for r in retries} == {
        (STORE, None, operation, "ConnectionError")
    }
    assert [r.attempt for r in retries] == list(range(1, len(retries) + 1))


@pytest.mark.asyncio
async def test_throttled_starts_are_reported_as_throttling(
    emulator: OmicsEmulator, waiter: OmicsWaiter
) -> None:
    retries: list[PollRetrying] = []
    start = "StartReadSetActivationJob"
    with emulator.faults_window(Faults(throttle_rate=1.0, operations=frozenset({start})), 0.3):
        started = await waiter.start_activation_job(STORE, [R1], on_retry=retries.append)
    assert started.sequence_store_id == STORE
    assert retries
    assert all(r.throttling and r.reason == "ThrottlingException" for r in retries)
    assert emulator.stats.count(start, 429) == len(retries)


# -- a client made as connect() makes it, for a waiter built by hand -------------------------


async def creation_time_zone(client: Any, job_id: str) -> object:
    """The time zone of a timestamp as the client parsed it: botocore's dateutil parser
    gives dateutil's ``tzutc()``, the fast parser `datetime.timezone.utc`."""
    raw = await client.get_read_set_activation_job(sequenceStoreId=STORE, id=job_id)
    return raw["creationTime"].tzinfo


@pytest.mark.asyncio
async def test_open_client_makes_a_fast_client_from_a_callers_session_and_leaves_it_as_it_was(
    emulator: OmicsEmulator,
) -> None:
    import datetime as dt

    import aiobotocore.session

    session = aiobotocore.session.AioSession()
    session.set_credentials("testing", "testing")
    job_id = emulator.add_job(STORE, [R1], timeline=completes_at(0.2))
    where = {"region_name": "us-east-1", "endpoint_url": emulator.endpoint_url}
    async with OmicsWaiter.open_client(session=session, **where) as client:
        fast = await creation_time_zone(client, job_id)
        waiter = OmicsWaiter(client, min_delay=MIN_DELAY, max_delay=0.2)
        job = await waiter.wait(ReadSetActivationJobRef(STORE, job_id), timeout=10)
        retries = client.meta.config.retries
    from aiobotocore.config import AioConfig

    config = AioConfig(inject_host_prefix=False)
    async with session.create_client("omics", config=config, **where) as other:
        usual = await creation_time_zone(other, job_id)
    assert job.status is ActivationJobStatus.COMPLETED
    assert fast is dt.timezone.utc
    assert retries["total_max_attempts"] == 1
    assert usual is not dt.timezone.utc  # the session's own clients keep botocore's parser


@pytest.mark.asyncio
async def test_a_client_that_parses_timestamps_slowly_is_warned_of_once(
    emulator: OmicsEmulator, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    usual = await make_client(emulator)
    OmicsWaiter(usual)
    OmicsWaiter(usual)
    async with OmicsWaiter.open_client(
        region_name="us-east-1",
        endpoint_url=emulator.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as fast:
        OmicsWaiter(fast)
    warnings = [r for r in caplog.records if "parses timestamps" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "OmicsWaiter.open_client" in warnings[0].getMessage()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"session": "not a session"}, "session"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"read_timeout": -1}, "read_timeout"),
        ({"endpoint_url": "not a url"}, "endpoint_url"),
    ],
)
async def test_open_client_refuses_bad_input_before_any_request(
    emulator: OmicsEmulator, options: dict[str, Any], argument: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        async with OmicsWaiter.open_client(region_name="us-east-1", **options):
            pass
    assert info.value.argument == argument
    assert not emulator.stats.requests
