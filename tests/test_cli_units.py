"""The command line's pure parts: exit codes, job splitting and tokens, the JSON records."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import re
import signal

import click
import pytest
from rich.console import Console

from omics_waiter import (
    AccessDeniedError,
    ActivationJob,
    ActivationJobStatus,
    ActivationSource,
    BudgetModeChanged,
    InvalidInputError,
    ItemStatusChanged,
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
from omics_waiter._cli_common import (
    board_exit_code,
    check_read_sets,
    chunk_requests,
    exit_code,
)
from omics_waiter._display import (
    Interrupted,
    JobBoard,
    budget_text,
    event_record,
    iso_time,
    summary,
)
from omics_waiter._events import JobWatchFailed
from omics_waiter._models import (
    JobItem,
    JobStatus,
    ReadSetImportJob,
    Run,
    RunStatus,
    Task,
    TaskStatus,
)
from omics_waiter._refs import ReadSetActivationJobRef, RunRef, TaskRef, WorkflowVersionRef
from omics_waiter._words import parse_ref

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


# -- every kind ------------------------------------------------------------------------------


RUN = Run(id="1234567", status=RunStatus.RUNNING, creation_time=T0)
TASKS = (
    Task("1234567", "7000001", TaskStatus.COMPLETED),
    Task("1234567", "7000002", TaskStatus.FAILED, failure_reason="Out of memory."),
)


def test_a_run_line_has_its_kind_its_id_and_counts_only_when_its_tasks_were_fetched() -> None:
    running = dataclasses.replace(RUN, tasks=TASKS)
    without = event_record(JobStatusChanged(RUN, None), tasks=False)
    assert (without["kind"], without["run_id"], without["status"]) == ("run", "1234567", "RUNNING")
    assert "sequence_store_id" not in without
    assert (without["total_items"], without["failed_items"], without["final"]) == (
        None,
        None,
        False,
    )
    counted = event_record(JobStatusChanged(running, RunStatus.STARTING), tasks=True)
    assert (counted["total_items"], counted["finished_items"], counted["failed_items"]) == (2, 1, 1)
    assert "total_read_sets" not in counted
    task = event_record(ItemStatusChanged(running, TASKS[1], TaskStatus.RUNNING))
    assert (task["type"], task["kind"], task["run_id"], task["item"]) == (
        "item_status_changed",
        "run",
        "1234567",
        "7000002",
    )
    assert (task["status"], task["previous"], task["status_message"]) == (
        "FAILED",
        "RUNNING",
        "Out of memory.",
    )
    reached = event_record(JobStatusChanged(RUN, RunStatus.STARTING), until="RUNNING")
    assert reached["final"] is True


def test_a_lines_time_is_when_its_event_was_observed() -> None:
    moment = dt.datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=dt.timezone.utc)
    record = event_record(JobStatusChanged(RUN, None, time=moment))
    assert record["time"] == "2024-05-01T10:00:00.250+00:00"


@pytest.mark.parametrize(
    ("event", "ids"),
    [
        (
            PollRetrying(
                None, "ListRunTasks", "ThrottlingException", 1, 0.5, batch=("1234567",), kind="task"
            ),
            {"kind": "task", "run_id": "1234567", "task_id": None},
        ),
        (
            PollRetrying(None, "ListRuns", "ConnectionError", 2, 1.0, kind="run"),
            {"kind": "run", "run_id": None},
        ),
        (
            PollRetrying(RunRef("1234567"), "GetRun", "ReadTimeout", 1, 0.5, kind="run"),
            {"kind": "run", "run_id": "1234567"},
        ),
        (
            PollRetrying(
                None,
                "ListReadSetImportJobs",
                "HTTP 429",
                1,
                0.5,
                batch=(STORE,),
                kind="read-set-import",
            ),
            {"kind": "read-set-import", "sequence_store_id": STORE, "job_id": None},
        ),
    ],
)
def test_a_retry_line_names_its_job_or_its_batch_by_the_kinds_fields(
    event: PollRetrying, ids: dict[str, str | None]
) -> None:
    record = event_record(event)
    assert {key: record[key] for key in ids} == ids
    assert set(record) - set(ids) == {
        "type",
        "time",
        "status",
        "previous",
        "status_message",
        "operation",
        "reason",
        "attempt",
        "delay",
        "throttling",
    }


def test_a_budget_mode_change_is_its_own_line() -> None:
    record = event_record(BudgetModeChanged("fallback", "shared"))
    assert (record["type"], record["mode"], record["previous"], record["kind"]) == (
        "budget_mode_changed",
        "fallback",
        "shared",
        None,
    )


def import_job(status: str, *items: tuple[str, str, str | None]) -> ReadSetImportJob:
    return ReadSetImportJob(
        id="5000000001",
        sequence_store_id=STORE,
        status=JobStatus(status),
        creation_time=T0,
        completion_time=T0 + dt.timedelta(seconds=75),
        items=tuple(
            JobItem(key=key, status=SourceStatus(s), status_message=m, source=key)
            for key, s, m in items
        ),
    )


def rendered(thing: object) -> str:
    out = io.StringIO()
    Console(width=140, file=out, color_system=None).print(thing)
    return out.getvalue()


def test_the_summary_names_failed_items_and_says_each_kinds_outcome() -> None:
    partial = import_job(
        "COMPLETED_WITH_FAILURES",
        ("s3://b/one.fastq", "FINISHED", None),
        ("s3://b/two.fastq", "FAILED", "Not a FASTQ file."),
    )
    failed_run = dataclasses.replace(
        RUN, status=RunStatus.FAILED, status_message="Task 7000002 failed: Out of memory."
    )
    board = JobBoard([partial.ref, RUN.ref])
    board.apply(JobStatusChanged(partial, None))
    board.apply(JobStatusChanged(failed_run, RunStatus.RUNNING))
    text = rendered(summary(board))
    assert "Failed sources" in text
    assert "s3://b/two.fastq" in text
    assert "Not a FASTQ file." in text
    assert "Failed jobs" in text
    assert "Task 7000002 failed: Out of memory." in text
    assert "1 read set import job: 1 completed with failures; 1 run: 1 failed" in text
    assert board_exit_code(board) == 1


def test_until_reached_is_a_success_and_said_so() -> None:
    board = JobBoard([RUN.ref], until="RUNNING")
    board.apply(JobStatusChanged(RUN, RunStatus.STARTING))
    assert board_exit_code(board) == 0
    assert "1 run: 1 running" in rendered(summary(board))
    early = JobBoard([RUN.ref], until="RUNNING")
    early.apply(JobStatusChanged(dataclasses.replace(RUN, status=RunStatus.STARTING), None))
    assert board_exit_code(early) == 4  # no outcome yet: the watch should not have ended


class FakeBudget:
    def __init__(self, mode: str, rates: dict[str, float], replicas: int | None = None) -> None:
        self.mode = mode
        self.max_tps = 5.0
        self.replicas = replicas
        self._rates = rates

    def rate(self, operation: str) -> float:
        return self._rates.get(operation, self.max_tps)


def test_the_budget_line_says_its_mode_and_the_rates_throttling_cut() -> None:
    board = JobBoard([RUN.ref])
    assert budget_text(board) is None  # not connected yet
    board.budget = FakeBudget("local", {})
    assert budget_text(board) is None  # nothing worth a line
    board.budget = FakeBudget("local", {"GetRun": 2.5})
    assert budget_text(board) == "rate cut by throttling: GetRun 2.5/s of 5/s"
    board.budget = FakeBudget("shared", {}, replicas=3)
    assert budget_text(board) == "request budget: shared through Redis by 3 processes"
    board.budget = FakeBudget("fallback", {"GetRun": 1.25, "ListRuns": 1.25})
    board.apply(BudgetModeChanged("fallback", "shared"))
    said = budget_text(board)
    assert said is not None
    assert said.startswith("request budget: fallback (Redis unreachable)")
    assert "1.2/s" in said
    assert board.budget_line == said  # noted for the live display's thread


@pytest.mark.parametrize(
    ("word", "text", "ref"),
    [
        ("activation", f"{STORE}/1000000001", ReadSetActivationJobRef(STORE, "1000000001")),
        ("run", "1234567", RunRef("1234567")),
        ("task", "1234567/7000001", TaskRef("1234567", "7000001")),
        ("workflow-version", "123/v1.2", WorkflowVersionRef("123", "v1.2")),
    ],
)
def test_an_id_on_the_command_line_is_its_kinds_reference(
    word: str, text: str, ref: object
) -> None:
    assert parse_ref(word, text) == ref


@pytest.mark.parametrize(
    ("word", "text", "said"),
    [
        ("task", "1234567", "task ID '1234567' must be RUN_ID/TASK_ID"),
        ("run", "1/2", "run ID '1/2' must be RUN_ID"),
        ("reference-import", "1/2", "REFERENCE_STORE_ID must be a string of 10 to 36 digits"),
    ],
)
def test_a_bad_id_names_itself_and_its_field(word: str, text: str, said: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(said)):
        parse_ref(word, text)
