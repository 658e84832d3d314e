"""job_to_json: a model's fields in snake_case, statuses as strings, times in UTC ISO-8601."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from omics_waiter import ActivationJob, ActivationSource, Run, RunStatus, SourceStatus, Task
from omics_waiter._json import job_to_json

PLUS_TWO = dt.timezone(dt.timedelta(hours=2))


def test_a_run_becomes_its_fields_with_status_as_text_and_times_in_utc() -> None:
    run = Run(
        id="1234567",
        status=RunStatus.FAILED,
        failure_reason="Out of memory",
        creation_time=dt.datetime(2026, 1, 1, 12, 0, tzinfo=PLUS_TWO),
        tasks=(Task(run_id="1234567", task_id="42", status="FAILED"),),  # type: ignore[arg-type]
    )
    data = job_to_json(run)
    assert data is not None
    assert data["status"] == "FAILED"
    assert data["failure_reason"] == "Out of memory"
    assert data["creation_time"] == "2026-01-01T10:00:00+00:00"
    assert data["tasks"] == [
        {
            "run_id": "1234567",
            "task_id": "42",
            "status": "FAILED",
            "name": None,
            "status_message": None,
            "failure_reason": None,
            "creation_time": None,
            "start_time": None,
            "stop_time": None,
        }
    ]


def test_an_activation_job_keeps_its_sources_in_order_and_is_json_safe() -> None:
    job = ActivationJob(
        id="1234567890",
        sequence_store_id="2345678901",
        status="COMPLETED_WITH_FAILURES",  # type: ignore[arg-type]
        creation_time=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        sources=(
            ActivationSource("1111111111", SourceStatus.FINISHED),
            ActivationSource("2222222222", SourceStatus.FAILED, "archived too long"),
        ),
    )
    data = job_to_json(job)
    assert data is not None
    assert [s["read_set_id"] for s in data["sources"]] == ["1111111111", "2222222222"]
    assert json.loads(json.dumps(data)) == data


def test_a_status_this_release_does_not_know_is_kept_as_text() -> None:
    data = job_to_json(Run(id="1", status=RunStatus("PAUSED")))
    assert data is not None
    assert data["status"] == "PAUSED"


def test_none_is_none_and_anything_else_is_refused() -> None:
    assert job_to_json(None) is None
    with pytest.raises(TypeError):
        job_to_json({"id": "1"})
