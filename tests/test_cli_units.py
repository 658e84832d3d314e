"""The command line's pure parts: exit codes, job splitting and tokens, the JSON records."""

from __future__ import annotations

import datetime as dt
import io
import json
import signal

import click
import pytest
from rich.console import Console

from omics_waiter import (
    AccessDeniedError,
    ActivationJob,
    ActivationJobStatus,
    ActivationSource,
    InvalidInputError,
    JobFailedError,
    JobNotFoundError,
    JobPartiallyFailedError,
    JobStatusChanged,
    OmicsWaiterError,
    PollRetrying,
    ServiceError,
    SourceStatus,
    SourceStatusChanged,
    UnexpectedResponseError,
    WaitTimeoutError,
)
from omics_waiter._cli import (
    board_exit_code,
    check_read_sets,
    chunk_requests,
    exit_code,
)
from omics_waiter._display import Interrupted, JobBoard, event_record, iso_time, summary
from omics_waiter._events import JobWatchFailed
from omics_waiter._refs import ReadSetActivationJobRef

STORE = "1234567890"
T0 = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)

REF1 = ReadSetActivationJobRef("1234567890", "1000000001")


def job(job_id: str, status: str, *sources: tuple[str, str]) -> ActivationJob:
    return ActivationJob(
        id=job_id,
        sequence_store_id=STORE,
        status=ActivationJobStatus(status),
        creation_time=T0,
        sources=tuple(ActivationSource(r, SourceStatus(s), None) for r, s in sources),
    )


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidInputError("bad", argument="job_id"), 2),
        (click.UsageError("no"), 2),
        (
            WaitTimeoutError("late", ref=REF1, job=None),
            3,
        ),
        (JobFailedError("failed", job=job("1111111111", "FAILED")), 1),
        (JobPartiallyFailedError("partial", job=job("1111111111", "FAILED")), 1),
        (AccessDeniedError("denied", code="AccessDeniedException"), 4),
        (JobNotFoundError("gone", ref=REF1), 4),
        (ServiceError("quota", code="ServiceQuotaExceededException"), 4),
        (UnexpectedResponseError("garbled"), 4),
        (KeyboardInterrupt(), 130),
    ],
)
def test_exit_code_of_each_error(error: BaseException, code: int) -> None:
    assert exit_code(error) == code


def board_of(*outcomes: ActivationJob | Exception) -> JobBoard:
    board = JobBoard()
    for i, outcome in enumerate(outcomes):
        job_id = f"{1000000000 + i}"
        board.add(ReadSetActivationJobRef(STORE, job_id))
        if isinstance(outcome, ActivationJob):
            board.apply(JobStatusChanged(outcome, None))
        else:
            assert isinstance(outcome, WaitTimeoutError | AccessDeniedError)
            board.apply(JobWatchFailed(ReadSetActivationJobRef(STORE, job_id), outcome, None))
    return board


def test_every_job_completed_exits_0() -> None:
    assert board_exit_code(board_of(job("1000000000", "COMPLETED"))) == 0


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED", "COMPLETED_WITH_FAILURES"])
def test_any_failed_job_exits_1(status: str) -> None:
    board = board_of(job("1000000000", "COMPLETED"), job("1000000001", status))
    assert board_exit_code(board) == 1


def test_an_unknown_outcome_outranks_a_known_failure() -> None:
    timeout = WaitTimeoutError("late", ref=REF1, job=None)
    denied = AccessDeniedError("denied", code="AccessDeniedException")
    failed = job("1000000000", "FAILED")
    assert board_exit_code(board_of(failed, timeout)) == 3
    assert board_exit_code(board_of(failed, timeout, denied)) == 4


def test_a_job_without_a_final_event_is_not_a_success() -> None:
    board = board_of(job("1000000000", "IN_PROGRESS"))
    assert board_exit_code(board) == 4


def ids(count: int) -> list[str]:
    return [str(5000000000 + i) for i in range(count)]


def test_read_sets_are_split_into_jobs_of_at_most_20() -> None:
    requests = chunk_requests(STORE, ids(45), None)
    assert [len(read_sets) for read_sets, _ in requests] == [20, 20, 5]
    assert [r for read_sets, _ in requests for r in read_sets] == ids(45)


def test_tokens_without_a_given_token_are_deterministic_and_distinct() -> None:
    tokens = [token for _, token in chunk_requests(STORE, ids(45), None)]
    assert tokens == [token for _, token in chunk_requests(STORE, ids(45), None)]
    assert len(set(tokens)) == 3
    other_store = [token for _, token in chunk_requests("9999999999", ids(45), None)]
    assert not set(tokens) & set(other_store)
    assert all(1 <= len(token) <= 127 for token in tokens)


def test_a_given_token_is_used_as_is_for_one_job_and_numbered_for_several() -> None:
    assert chunk_requests(STORE, ids(3), "batch")[0][1] == "batch"
    assert [t for _, t in chunk_requests(STORE, ids(41), "batch")] == [
        "batch-1",
        "batch-2",
        "batch-3",
    ]
    long = [t for _, t in chunk_requests(STORE, ids(41), "x" * 127)]
    assert len(set(long)) == 3
    assert all(len(t) <= 127 for t in long)


@pytest.mark.parametrize(
    ("read_sets", "token", "argument"),
    [
        (["1"], None, "--read-set-id"),
        (["5000000000", "5000000000"], None, "read_set_ids"),
        (["5000000000"], "", "client_token"),
        (["5000000000"], "x" * 128, "client_token"),
    ],
)
def test_bad_read_sets_or_token_are_invalid_input(
    read_sets: list[str], token: str | None, argument: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_read_sets(read_sets, token)
    assert caught.value.argument == argument


def test_json_records_have_the_documented_keys() -> None:
    running = job("1000000000", "IN_PROGRESS", ("5000000000", "FINISHED"), ("5000000001", "FAILED"))
    source = ActivationSource("5000000001", SourceStatus.FAILED, "Gone.")
    records = [
        event_record(JobStatusChanged(running, ActivationJobStatus.SUBMITTED)),
        event_record(SourceStatusChanged(running, source, SourceStatus.IN_PROGRESS)),
        event_record(
            PollRetrying(
                None,
                "ListReadSetActivationJobs",
                "Throttling",
                2,
                1.5,
                batch=(STORE,),
                kind="activation",
            )
        ),
        event_record(
            JobWatchFailed(
                ReadSetActivationJobRef(STORE, "1000000000"),
                AccessDeniedError("no", code="AccessDeniedException"),
                running,
            )
        ),
    ]
    for record in records:
        json.dumps(record)
        assert dt.datetime.fromisoformat(record["time"]).tzinfo is not None
        assert record["sequence_store_id"] == STORE
    job_event, source_event, retry, failure = records
    assert job_event["status"] == "IN_PROGRESS"
    assert job_event["previous"] == "SUBMITTED"
    assert (job_event["finished_read_sets"], job_event["failed_read_sets"]) == (1, 1)
    assert source_event["read_set_id"] == "5000000001"
    assert source_event["status_message"] == "Gone."
    assert retry["job_id"] is None
    assert retry["status"] is None
    assert (retry["attempt"], retry["delay"]) == (2, 1.5)
    assert failure["type"] == "job_wait_failed"
    assert (failure["error"], failure["error_code"]) == (
        "AccessDeniedError",
        "AccessDeniedException",
    )
    assert failure["status"] == "IN_PROGRESS"


def test_a_signal_exits_128_plus_its_number() -> None:
    assert (exit_code(Interrupted(signal.SIGINT)), exit_code(Interrupted(signal.SIGTERM))) == (
        130,
        143,
    )


def test_retries_are_counted_as_throttled_by_their_flag_not_their_text() -> None:
    job_ref = ReadSetActivationJobRef(STORE, "1000000000")
    board = JobBoard([job_ref])
    board.apply(PollRetrying(job_ref, "Get", "SlowDown", 1, 0.1, throttling=True))
    board.apply(PollRetrying(job_ref, "Get", "ThrottlingException", 2, 0.1))
    board.apply(PollRetrying(None, "List", "HTTP 429", 1, 0.1, throttling=True, batch=(STORE,)))
    [row] = board.rows
    assert (row.retries, row.throttles) == (2, 1)
    assert (board.store_retries, board.store_throttles) == (1, 1)


def test_a_retry_line_says_whether_the_service_throttled() -> None:
    throttled = PollRetrying(
        None, "List", "ThrottlingException", 1, 0.5, throttling=True, batch=(STORE,)
    )
    refused = PollRetrying(
        ReadSetActivationJobRef(STORE, "1000000000"), "Get", "ConnectionError", 3, 1.25
    )
    assert event_record(throttled)["throttling"] is True
    assert event_record(refused)["throttling"] is False


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            WaitTimeoutError("late", ref=REF1, job=None),
            "timed out",
        ),
        (JobNotFoundError("gone", ref=REF1), "not found"),
        (AccessDeniedError("no", code="AccessDeniedException"), "access denied"),
        (UnexpectedResponseError("garbled"), "unexpected response"),
        (ServiceError("quota", code="ServiceQuotaExceededException"), "service error"),
        (Interrupted(signal.SIGTERM), "interrupted"),
    ],
)
def test_the_summary_says_how_a_wait_ended_as_a_person_would(
    error: OmicsWaiterError, said: str
) -> None:
    board = JobBoard([REF1])
    board.apply(JobWatchFailed(REF1, error, None))
    out = io.StringIO()
    Console(width=120, file=out, color_system=None).print(summary(board))
    text = out.getvalue()
    assert f"1 read set activation job: 1 {said}" in text
    assert type(error).__name__ not in text


def test_list_and_event_times_share_one_format() -> None:
    moment = dt.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert iso_time(moment) == "2024-05-01T10:00:00.123+00:00"
    record = event_record(JobStatusChanged(job("1000000000", "IN_PROGRESS"), None))
    assert len(record["time"]) == len(iso_time(moment))
    assert record["time"].endswith("+00:00")
