"""The metrics' pure parts: request and wait outcomes, and the gauges' kept values, which the
exporter's thread reads without calling into the budget (or the loop)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from metrics_reader import Metrics
from omics_waiter import JobNotFoundError, RunRef, ServiceError, WaitTimeoutError
from omics_waiter._client import NotFound, Transient, classify, request_outcome
from omics_waiter._kinds import ACTIVATION_JOB, KINDS
from omics_waiter._metrics import failure_outcome, recorder, wait_outcome


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    m = Metrics()
    yield m
    m.close()


def client_error(status: int, code: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetRun",
    )


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (client_error(429, "ThrottlingException"), "throttled"),
        (client_error(400, "ThrottlingException"), "throttled"),
        (client_error(400, "TooManyRequestsException"), "throttled"),
        (client_error(429, ""), "throttled"),
        (client_error(500, "InternalServerException"), "transient"),
        (client_error(503, "ServiceUnavailable"), "transient"),
        (client_error(408, "RequestTimeoutException"), "transient"),
        (botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"), "transient"),
        (botocore.exceptions.ConnectionClosedError(endpoint_url="http://x"), "transient"),
        (client_error(404, "ResourceNotFoundException"), "not_found"),
        (client_error(403, "AccessDeniedException"), "error"),
        (client_error(400, "ValidationException"), "error"),
        (client_error(402, "ServiceQuotaExceededException"), "error"),
        (botocore.exceptions.NoCredentialsError(), "error"),
    ],
)
def test_a_failed_request_is_counted_as_classify_sees_it(exc: Exception, outcome: str) -> None:
    translated = classify(exc, "GetRun")
    assert request_outcome(translated) == outcome
    # `throttled` is exactly what retries report as throttling (PollRetrying.throttling).
    throttling = isinstance(translated, Transient) and translated.throttling
    assert (outcome == "throttled") is throttling
    assert (outcome == "not_found") is isinstance(translated, NotFound)


@pytest.mark.parametrize(
    ("kind", "status", "until", "outcome"),
    [
        ("activation", "COMPLETED", None, "success"),
        ("activation", "COMPLETED_WITH_FAILURES", None, "partial"),
        ("activation", "FAILED", None, "failed"),
        ("activation", "CANCELLED", None, "failed"),
        ("run", "COMPLETED", None, "success"),
        ("run", "DELETED", None, "failed"),
        ("run", "RUNNING", "RUNNING", "success"),
        ("run", "COMPLETED", "RUNNING", "success"),
        ("run", "FAILED", "RUNNING", "failed"),
        ("workflow", "ACTIVE", None, "success"),
        ("workflow", "INACTIVE", None, "failed"),
    ],
)
def test_a_wait_that_reached_its_end_is_counted_by_the_kinds_verdict(
    kind: str, status: str, until: str | None, outcome: str
) -> None:
    assert wait_outcome(KINDS[kind], status, until) == outcome


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (WaitTimeoutError("late"), "timeout"),
        (JobNotFoundError("gone", ref=RunRef("1234567")), "not_found"),
        (ServiceError("boom", code="Boom"), "error"),
    ],
)
def test_a_wait_that_failed_is_counted_by_its_error(error: Exception, outcome: str) -> None:
    assert failure_outcome(error) == outcome


class LoopBudget:
    """A budget that notes which threads read its rate and mode."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self.readers: set[int] = set()

    def rate(self, operation: str) -> float:
        self.readers.add(threading.get_ident())
        return self._rate

    @property
    def mode(self) -> str:
        self.readers.add(threading.get_ident())
        return "local"


def collect_on_a_thread(metrics: Metrics) -> dict[str, float]:
    out: dict[str, float] = {}
    thread = threading.Thread(
        target=lambda: out.update(metrics.by("omics_waiter.budget.rate", "operation"))
    )
    thread.start()
    thread.join()
    return out


def test_gauges_read_kept_values_never_the_budget(metrics: Metrics) -> None:
    budget = LoopBudget(3.0)
    recording = recorder(metrics.provider, budget)  # type: ignore[arg-type]
    recording.request("GetRun", "ok", 0.01)
    budget._rate = 1.5  # the budget changes; no request since
    assert collect_on_a_thread(metrics) == {"GetRun": 3.0}
    assert budget.readers == {threading.get_ident()}


def test_budgets_are_reported_once_each_and_added_up(metrics: Metrics) -> None:
    shared, other = LoopBudget(2.0), LoopBudget(5.0)
    for budget in (shared, shared, other):  # two waiters share the first budget
        recorder(metrics.provider, budget).request("GetRun", "ok", 0.01)  # type: ignore[arg-type]
    assert collect_on_a_thread(metrics) == {"GetRun": 7.0}
    assert metrics.by("omics_waiter.budget.mode", "mode") == {
        "local": 2,
        "shared": 0,
        "fallback": 0,
    }


def test_a_waiter_no_longer_referenced_is_no_longer_reported(metrics: Metrics) -> None:
    budget = LoopBudget(2.0)
    recorder(metrics.provider, budget).request("GetRun", "ok", 0.01)  # type: ignore[arg-type]
    del budget
    assert collect_on_a_thread(metrics) == {}


def test_a_gone_waiters_requests_stay_counted(metrics: Metrics) -> None:
    budget = LoopBudget(2.0)
    recording = recorder(metrics.provider, budget)  # type: ignore[arg-type]
    for _ in range(3):
        recording.request("GetRun", "ok", 0.01)
    assert metrics.value("omics_waiter.requests") == 3
    del recording, budget
    recorder(metrics.provider, LoopBudget(1.0)).request("GetRun", "ok", 0.01)  # type: ignore[arg-type]
    assert metrics.value("omics_waiter.requests", operation="GetRun", outcome="ok") == 4


def test_detection_delay_skips_jobs_not_seen_unfinished(metrics: Metrics) -> None:
    recording = recorder(metrics.provider, LoopBudget(1.0))  # type: ignore[arg-type]

    class Job:
        status = "COMPLETED"
        completion_time = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)

    job: Any = Job()
    recording.observed(ACTIVATION_JOB, job, seen_open=False, pushed=False)
    assert metrics.histogram("omics_waiter.detection.delay").count == 0
    recording.observed(ACTIVATION_JOB, job, seen_open=True, pushed=True)
    recorded = metrics.histogram("omics_waiter.detection.delay", source="push")
    assert recorded.count == 1
    assert 2.0 <= recorded.sum < 3.0


def test_import_omics_waiter_imports_no_opentelemetry() -> None:
    code = (
        "import sys, omics_waiter; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'opentelemetry'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
