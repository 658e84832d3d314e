"""The engine against a scripted fake client, in virtual time (no real sleeping)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import anyio
import anyio.lowlevel
import botocore.exceptions
import pytest
from trio.testing import MockClock

from fakes import JOB, STORE, FakeClient, FakeClock, client_error, job_body
from omics_waiter import (
    AccessDeniedError,
    ActivationJobStatus,
    InvalidInputError,
    JobFailedError,
    JobNotFoundError,
    JobPartiallyFailedError,
    JobStatusChanged,
    OmicsWaiter,
    PollRetrying,
    SourceStatusChanged,
    UnexpectedResponseError,
    WaitTimeoutError,
)
from omics_waiter._models import parse_job

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> object:
    """The scheduler runs several tasks: these tests need one coherent virtual time, which
    trio's MockClock gives (autojump). Integration tests cover asyncio end to end."""
    return ("trio", {"clock": MockClock(autojump_threshold=0)})


R1, R2 = "1111111111", "2222222222"


def make(script: list[object], **options: object) -> tuple[OmicsWaiter, FakeClient, FakeClock]:
    clock = FakeClock()
    client = FakeClient(script, clock)  # type: ignore[arg-type]
    options.setdefault("min_delay", 2.0)
    options.setdefault("max_delay", 60.0)
    waiter = OmicsWaiter(client, clock=clock, **options)  # type: ignore[arg-type]
    return waiter, client, clock


def describe(event: object) -> tuple[object, ...]:
    if isinstance(event, JobStatusChanged):
        return ("job", str(event.status), event.previous and str(event.previous))
    if isinstance(event, SourceStatusChanged):
        return (event.source.read_set_id, str(event.status), event.previous and str(event.previous))
    assert isinstance(event, PollRetrying)
    return ("retry", event.reason, event.attempt)


async def collect(waiter: OmicsWaiter, **kwargs: object) -> list[tuple[object, ...]]:
    return [describe(e) async for e in waiter.watch_activation_job(STORE, JOB, **kwargs)]  # type: ignore[arg-type]


async def test_watch_reports_every_change_once_and_ends_after_the_terminal_event() -> None:
    waiter, client, _ = make(
        [
            job_body("SUBMITTED", {R1: "NOT_STARTED", R2: "NOT_STARTED"}),
            job_body("IN_PROGRESS", {R1: "IN_PROGRESS", R2: "NOT_STARTED"}),
            job_body("IN_PROGRESS", {R1: "IN_PROGRESS", R2: "NOT_STARTED"}),
            job_body("IN_PROGRESS", {R1: "FINISHED", R2: "IN_PROGRESS"}),
            job_body("COMPLETED", {R1: "FINISHED", R2: "FINISHED"}),
        ]
    )
    assert await collect(waiter) == [
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
    assert len(client.calls) == 5


async def test_wait_returns_the_completed_job() -> None:
    waiter, _, _ = make(
        [job_body("IN_PROGRESS", {R1: "IN_PROGRESS"}), job_body("COMPLETED", {R1: "FINISHED"})]
    )
    job = await waiter.wait_for_activation_job(STORE, JOB)
    assert job.status is ActivationJobStatus.COMPLETED
    assert job.completion_time is not None
    assert [s.read_set_id for s in job.finished_sources] == [R1]


async def test_partial_failure_raises_with_the_failed_read_sets_and_their_messages() -> None:
    final = job_body(
        "COMPLETED_WITH_FAILURES",
        {R1: "FINISHED", R2: "FAILED"},
        source_messages={R2: "read set is corrupt"},
    )
    waiter, _, _ = make([final])
    with pytest.raises(JobPartiallyFailedError) as info:
        await waiter.wait_for_activation_job(STORE, JOB)
    assert [(s.read_set_id, s.status_message) for s in info.value.failed_sources] == [
        (R2, "read set is corrupt")
    ]
    assert isinstance(info.value, JobFailedError)
    assert info.value.job.status is ActivationJobStatus.COMPLETED_WITH_FAILURES


async def test_accept_partial_returns_a_job_completed_with_failures() -> None:
    waiter, _, _ = make([job_body("COMPLETED_WITH_FAILURES", {R1: "FAILED"})])
    job = await waiter.wait_for_activation_job(STORE, JOB, accept_partial=True)
    assert job.status is ActivationJobStatus.COMPLETED_WITH_FAILURES


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED"])
async def test_failed_and_cancelled_jobs_raise_job_failed(status: str) -> None:
    waiter, _, _ = make([job_body("CANCELLING"), job_body(status, message="stopped")])
    with pytest.raises(JobFailedError) as info:
        await waiter.wait_for_activation_job(STORE, JOB)
    assert not isinstance(info.value, JobPartiallyFailedError)
    assert info.value.job.status == status
    assert info.value.service_message == "stopped"


async def test_the_deadline_is_honoured_with_a_last_poll_exactly_at_it() -> None:
    waiter, client, clock = make([job_body("IN_PROGRESS", {R1: "IN_PROGRESS"})])
    start = clock.now()
    with pytest.raises(WaitTimeoutError) as info:
        await waiter.wait_for_activation_job(STORE, JOB, timeout=100.0)
    assert isinstance(info.value, TimeoutError)
    assert client.calls[0] == start  # the first poll is immediate
    assert client.calls[-1] == pytest.approx(start + 100.0)  # the last is at the deadline
    assert clock.now() == pytest.approx(start + 100.0)  # and nothing after it
    assert info.value.job is not None and info.value.job.status is ActivationJobStatus.IN_PROGRESS


async def test_an_absolute_deadline_works_like_a_timeout() -> None:
    waiter, client, clock = make([job_body("IN_PROGRESS")])
    start = clock.now()
    deadline = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=50)
    with pytest.raises(WaitTimeoutError):
        await waiter.wait_for_activation_job(STORE, JOB, deadline=deadline)
    assert client.calls[-1] - start == pytest.approx(50.0, abs=0.5)


async def test_polls_back_off_while_nothing_changes_and_reset_on_a_change() -> None:
    still = job_body("IN_PROGRESS", {R1: "IN_PROGRESS"})
    moved = job_body("IN_PROGRESS", {R1: "FINISHED"})
    waiter, client, _ = make(
        [still, still, still, still, moved, moved, job_body("COMPLETED", {R1: "FINISHED"})]
    )
    await waiter.wait_for_activation_job(STORE, JOB, timeout=math.inf)
    gaps = [b - a for a, b in zip(client.calls, client.calls[1:], strict=False)]
    assert gaps[0] == pytest.approx(2.0)  # right after first sight: min_delay
    eps = 1e-9
    assert 2.0 - eps <= gaps[1] <= 4.0 + eps
    assert 2.0 - eps <= gaps[2] <= 8.0 + eps
    assert 2.0 - eps <= gaps[3] <= 16.0 + eps
    assert gaps[4] == pytest.approx(2.0)  # the read set moved: back to min_delay


async def test_throttling_is_retried_with_events_and_does_not_advance_the_poll_backoff() -> None:
    throttled = client_error("ThrottlingException", 429)
    waiter, client, _ = make(
        [job_body("IN_PROGRESS"), throttled, throttled, throttled, job_body("COMPLETED")]
    )
    events = await collect(waiter)
    assert events == [
        ("job", "IN_PROGRESS", None),
        ("retry", "ThrottlingException", 1),
        ("retry", "ThrottlingException", 2),
        ("retry", "ThrottlingException", 3),
        ("job", "COMPLETED", "IN_PROGRESS"),
    ]
    assert len(client.calls) == 5


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (client_error("InternalServerException", 500), "InternalServerException"),
        (client_error("RequestTimeoutException", 408), "RequestTimeoutException"),
        (client_error("ServiceUnavailable", 503), "ServiceUnavailable"),
        (botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"), "ReadTimeout"),
        (botocore.exceptions.ConnectionClosedError(endpoint_url="http://x"), "ConnectionError"),
        (botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"), "ConnectionError"),
    ],
)
async def test_transient_errors_are_retried(error: Exception, reason: str) -> None:
    waiter, _, _ = make([error, job_body("COMPLETED")])
    assert await collect(waiter) == [("retry", reason, 1), ("job", "COMPLETED", None)]


async def test_retry_events_carry_the_delay_that_is_then_slept() -> None:
    waiter, client, _ = make([client_error("ThrottlingException", 429), job_body("COMPLETED")])
    events = [e async for e in waiter.watch_activation_job(STORE, JOB)]
    retry = events[0]
    assert isinstance(retry, PollRetrying)
    assert retry.operation == "GetReadSetActivationJob" and retry.job_id == JOB
    assert (
        client.calls[1] - client.calls[0] >= retry.delay - 1e-9
    )  # later only if the budget says so


async def test_transient_errors_until_the_deadline_end_in_a_timeout() -> None:
    waiter, client, clock = make([client_error("ThrottlingException", 429)])
    start = clock.now()
    with pytest.raises(WaitTimeoutError) as info:
        await waiter.wait_for_activation_job(STORE, JOB, timeout=60.0)
    assert info.value.job is None
    assert client.calls[-1] - start <= 60.0 + 1e-9  # (float rounding of the virtual clock)
    assert clock.now() - start <= 60.0 + 1e-9


class _ThrottledClient(FakeClient):
    """Throttles every Get, recording which job was asked for and when."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__([client_error("ThrottlingException", 429)], clock)
        self.asked: list[tuple[str, float]] = []

    async def get_read_set_activation_job(self, *, id: str, sequenceStoreId: str) -> Any:
        self.asked.append((id, clock_now(self.clock)))
        return await super().get_read_set_activation_job(id=id, sequenceStoreId=sequenceStoreId)


def clock_now(clock: FakeClock | None) -> float:
    assert clock is not None
    return clock.now()


async def test_no_request_for_a_job_after_its_waits_deadline_while_another_wait_goes_on() -> None:
    # Throttled throughout, the budget falls to its floor and queues retries of both jobs:
    # a slot that comes after the first wait's deadline is not spent on its job.
    clock = FakeClock()
    client = _ThrottledClient(clock)
    waiter = OmicsWaiter(client, clock=clock, min_delay=2.0, max_delay=60.0)  # type: ignore[arg-type]
    short, long = "3333333333", "4444444444"
    ended: dict[str, float] = {}

    async def wait(job_id: str, seconds: float) -> None:
        with pytest.raises(WaitTimeoutError):
            await waiter.wait_for_activation_job(STORE, job_id, timeout=seconds)
        ended[job_id] = clock.now()

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait, short, 20.0)
        tg.start_soon(wait, long, 120.0)
    asked_short = [t for job_id, t in client.asked if job_id == short]
    assert asked_short and max(asked_short) <= 20.0 + 1e-9
    assert ended[short] <= 20.0 + 2.0 + 1e-9  # (at most a request's grace after it)
    assert max(t for job_id, t in client.asked if job_id == long) <= 120.0 + 1e-9


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("AccessDeniedException", 403),
        ("UnrecognizedClientException", 403),
        ("InvalidSignatureException", 403),
        ("ExpiredTokenException", 403),
    ],
)
async def test_access_errors_fail_at_once(code: str, status: int) -> None:
    waiter, client, _ = make([client_error(code, status, "no")])
    with pytest.raises(AccessDeniedError) as info:
        await waiter.wait_for_activation_job(STORE, JOB)
    assert info.value.code == code and info.value.service_message == "no"
    assert len(client.calls) == 1


async def test_missing_credentials_fail_at_once() -> None:
    waiter, client, _ = make([botocore.exceptions.NoCredentialsError()])
    with pytest.raises(AccessDeniedError):
        await waiter.wait_for_activation_job(STORE, JOB)
    assert len(client.calls) == 1


async def test_a_validation_exception_from_the_service_fails_at_once() -> None:
    waiter, client, _ = make([client_error("ValidationException", 400, "bad id")])
    with pytest.raises(InvalidInputError) as info:
        await waiter.wait_for_activation_job(STORE, JOB)
    assert info.value.code == "ValidationException"
    assert len(client.calls) == 1


async def test_not_found_is_retried_through_the_grace_period_then_raised() -> None:
    waiter, client, clock = make(
        [client_error("ResourceNotFoundException", 404)], not_found_grace=10.0
    )
    start = clock.now()
    with pytest.raises(JobNotFoundError) as info:
        await waiter.wait_for_activation_job(STORE, JOB)
    assert info.value.job_id == JOB and info.value.sequence_store_id == STORE
    assert len(client.calls) > 2
    assert 10.0 <= clock.now() - start <= 10.0 + 30.0


async def test_a_job_that_becomes_visible_within_the_grace_period_is_followed() -> None:
    missing = client_error("ResourceNotFoundException", 404)
    waiter, _, _ = make([missing, missing, job_body("COMPLETED")], not_found_grace=30.0)
    events = await collect(waiter)
    assert events == [
        ("retry", "ResourceNotFoundException", 1),
        ("retry", "ResourceNotFoundException", 2),
        ("job", "COMPLETED", None),
    ]


async def test_an_unknown_status_is_reported_then_raised_as_unexpected() -> None:
    waiter, _, _ = make([job_body("IN_PROGRESS"), job_body("PAUSED")])
    watch = waiter.watch_activation_job(STORE, JOB)
    seen = []
    with pytest.raises(UnexpectedResponseError) as info:
        async for event in watch:
            seen.append(event)
    assert isinstance(seen[-1], JobStatusChanged) and seen[-1].status == "PAUSED"
    assert not seen[-1].status.is_known
    assert "PAUSED" in str(info.value)
    assert info.value.job is not None


async def test_a_malformed_response_is_an_unexpected_response_error() -> None:
    waiter, client, _ = make([{"message": "<html>oops</html>"}])
    with pytest.raises(UnexpectedResponseError):
        await waiter.wait_for_activation_job(STORE, JOB)
    assert len(client.calls) == 1


async def test_since_resumes_without_repeating_what_was_seen() -> None:
    seen = parse_job(job_body("IN_PROGRESS", {R1: "FINISHED", R2: "IN_PROGRESS"}))
    waiter, _, _ = make(
        [
            job_body("IN_PROGRESS", {R1: "FINISHED", R2: "IN_PROGRESS"}),
            job_body("COMPLETED_WITH_FAILURES", {R1: "FINISHED", R2: "FAILED"}),
        ]
    )
    assert await collect(waiter, since=seen) == [
        (R2, "FAILED", "IN_PROGRESS"),
        ("job", "COMPLETED_WITH_FAILURES", "IN_PROGRESS"),
    ]


async def test_cancelling_a_wait_stops_polling_at_once() -> None:
    waiter, client, _ = make([job_body("IN_PROGRESS")])
    with anyio.CancelScope() as scope:
        async for _ in waiter.watch_activation_job(STORE, JOB):
            scope.cancel()
    calls = len(client.calls)
    await anyio.lowlevel.checkpoint()
    assert calls == 1 and scope.cancelled_caught


async def test_closing_the_iterator_early_ends_it() -> None:
    waiter, client, _ = make([job_body("IN_PROGRESS", {R1: "IN_PROGRESS"})])
    watch = waiter.watch_activation_job(STORE, JOB)
    first = await watch.__anext__()
    assert isinstance(first, JobStatusChanged)
    await watch.aclose()
    assert [e async for e in watch] == []
    assert len(client.calls) == 1


BAD_INPUTS = [
    ({"sequence_store_id": "123"}, "sequence_store_id"),
    ({"sequence_store_id": "12345678901234567890123456789012345678"}, "sequence_store_id"),
    ({"sequence_store_id": "abcdefghijk"}, "sequence_store_id"),
    ({"sequence_store_id": 1234567890}, "sequence_store_id"),
    ({"job_id": ""}, "job_id"),
    ({"job_id": "12345 67890"}, "job_id"),
    ({"timeout": 0}, "timeout"),
    ({"timeout": -5}, "timeout"),
    ({"timeout": float("nan")}, "timeout"),
    ({"timeout": "60"}, "timeout"),
    ({"timeout": True}, "timeout"),
    ({"timeout": 5, "deadline": dt.datetime.now(dt.timezone.utc)}, "timeout"),
    ({"deadline": dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)}, "deadline"),
    ({"deadline": dt.datetime.now() + dt.timedelta(hours=1)}, "deadline"),
    ({"deadline": 12345.0}, "deadline"),
    ({"min_delay": 0}, "min_delay"),
    ({"min_delay": 100, "max_delay": 10}, "min_delay"),
    ({"max_delay": math.inf}, "max_delay"),
    ({"accept_partial": "yes"}, "accept_partial"),
]


@pytest.mark.parametrize(("kwargs", "argument"), BAD_INPUTS)
async def test_bad_input_is_refused_before_any_request(
    kwargs: dict[str, object], argument: str
) -> None:
    waiter, client, _ = make([job_body("COMPLETED")])
    args = {"sequence_store_id": STORE, "job_id": JOB} | kwargs
    with pytest.raises(InvalidInputError) as info:
        await waiter.wait_for_activation_job(**args)  # type: ignore[arg-type]
    assert info.value.argument == argument
    assert isinstance(info.value, ValueError)
    assert client.calls == []


def test_since_of_another_job_is_refused() -> None:
    waiter, _, _ = make([job_body("COMPLETED")])
    other = parse_job(job_body("IN_PROGRESS", job_id="5555555555"))
    with pytest.raises(InvalidInputError) as info:
        waiter.watch_activation_job(STORE, JOB, since=other)
    assert info.value.argument == "since"


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"min_delay": -1}, "min_delay"),
        ({"max_delay": 0}, "max_delay"),
        ({"min_delay": 10, "max_delay": 5}, "min_delay"),
        ({"timeout": 0}, "timeout"),
        ({"max_tps": 0}, "max_tps"),
        ({"max_tps": math.inf}, "max_tps"),
        ({"not_found_grace": -1}, "not_found_grace"),
    ],
)
def test_bad_waiter_options_are_refused_when_it_is_built(
    options: dict[str, object], argument: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        OmicsWaiter(FakeClient([]), **options)  # type: ignore[arg-type]
    assert info.value.argument == argument


async def test_a_job_not_found_when_a_deadline_before_the_grace_passes_times_out() -> None:
    """Not found takes the whole grace period; a deadline before it is a timeout."""
    waiter, _, _ = make([client_error("ResourceNotFoundException", 404)], not_found_grace=30.0)
    with pytest.raises(WaitTimeoutError) as info:
        await waiter.wait_for_activation_job(STORE, JOB, timeout=10.0)
    assert type(info.value) is WaitTimeoutError and info.value.job is None
    assert "had not been found so far" in str(info.value)
