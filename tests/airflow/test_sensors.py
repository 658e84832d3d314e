"""OmicsJobSensor: deferring (providers' style), waiting in the worker, and turning the
trigger's event into a return value or an Airflow error."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, TaskDeferred

from conftest import FAST, connection
from emulator_thread import EmulatorThread
from omics_waiter import InvalidInputError
from omics_waiter.airflow import OmicsJobSensor, OmicsJobTrigger
from omics_waiter.testing import Step


def event(status: str, *, ids: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    ids = ids or ["1234567"]
    payload = {
        "status": status,
        "kind": "run",
        "ids": ids,
        "jobs": [{"id": i, "status": "COMPLETED"} for i in ids],
        "message": None,
        "error": None,
    }
    return payload | fields


def sensor(**arguments: Any) -> OmicsJobSensor:
    return OmicsJobSensor(**({"task_id": "wait", "kind": "run", "ids": ["1234567"]} | arguments))


def test_execute_defers_at_once_to_the_trigger_with_the_sensors_timeout() -> None:
    waiting = sensor(ids=["1234567", "7654321"], timeout=600, until="RUNNING", waiter_options=FAST)
    with pytest.raises(TaskDeferred) as deferred:
        waiting.execute({})
    assert deferred.value.trigger == OmicsJobTrigger(
        "run", ["1234567", "7654321"], timeout=600, until="RUNNING", waiter_options=FAST
    )
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == dt.timedelta(seconds=600)


def test_one_id_given_as_a_rendered_string_is_a_list_of_one() -> None:
    waiting = sensor(ids="{{ ti.xcom_pull('start', key='run_id') }}")
    waiting.ids = "1234567"  # as rendered
    with pytest.raises(TaskDeferred) as deferred:
        waiting.execute({})
    assert deferred.value.trigger.ids == ["1234567"]


def test_a_natively_rendered_numeric_id_is_taken_as_text() -> None:
    waiting = sensor(ids="{{ ti.xcom_pull('start', key='run_id') }}")
    waiting.ids = 1234567  # render_template_as_native_obj turns digits into a number
    with pytest.raises(TaskDeferred) as deferred:
        waiting.execute({})
    assert deferred.value.trigger.ids == ["1234567"]


def test_ids_that_render_badly_fail_before_deferring() -> None:
    waiting = sensor(ids="{{ params.run }}")
    waiting.ids = ["not-a-run"]
    with pytest.raises(InvalidInputError):
        waiting.execute({})


@pytest.mark.parametrize(
    ("arguments", "argument"),
    [
        ({"kind": "job"}, "kind"),
        ({"ids": []}, "ids"),
        ({"ids": ["1234567/1"]}, "ids"),
        ({"until": "DONE"}, "until"),
        ({"accept_partial": 1}, "accept_partial"),
        ({"deferrable": "true"}, "deferrable"),
        ({"waiter_options": {"min_delay": 0}}, "min_delay"),
        ({"waiter_options": {"poll": 1}}, "waiter_options"),
    ],
)
def test_a_bad_argument_fails_when_the_sensor_is_made(
    arguments: dict[str, Any], argument: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        sensor(**arguments)
    assert caught.value.argument == argument


def test_success_returns_the_job_as_a_dict() -> None:
    assert sensor().execute_complete({}, event("success")) == {
        "id": "1234567",
        "status": "COMPLETED",
    }


def test_success_of_several_jobs_returns_them_in_ids_order() -> None:
    jobs = sensor(ids=["2", "1"]).execute_complete({}, event("success", ids=["2", "1"]))
    assert [j["id"] for j in jobs] == ["2", "1"]


def test_failed_raises_with_the_services_reason() -> None:
    with pytest.raises(AirflowException, match="Out of memory") as caught:
        sensor().execute_complete(
            {}, event("failed", message="Out of memory", error="JobFailedError")
        )
    assert not isinstance(caught.value, AirflowSensorTimeout)


def test_partial_raises_listing_the_failed_items() -> None:
    with pytest.raises(AirflowException, match="2222222222"):
        sensor().execute_complete(
            {}, event("partial", message="1 of 2 read sets failed: 2222222222", error="X")
        )


def test_partial_returns_the_job_with_accept_partial() -> None:
    assert sensor(accept_partial=True).execute_complete({}, event("partial"))["id"] == "1234567"


def test_timeout_raises_airflow_sensor_timeout() -> None:
    with pytest.raises(AirflowSensorTimeout):
        sensor().execute_complete({}, event("timeout", error="WaitTimeoutError"))


def test_an_error_event_raises_an_airflow_exception() -> None:
    with pytest.raises(AirflowException, match="AccessDeniedError"):
        sensor().execute_complete({}, event("error", error="AccessDeniedError"))


def test_an_event_of_another_trigger_is_refused() -> None:
    with pytest.raises(AirflowException, match="not an OmicsJobTrigger event"):
        sensor().execute_complete({}, {"status": "done"})


def test_not_deferrable_it_waits_in_the_worker_on_the_engine(
    emulator_thread: EmulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", connection(emulator_thread.url))
    run = emulator_thread.call(lambda emu: emu.add_run(timeline=[Step(0.2, "COMPLETED")], tasks=0))
    job = sensor(ids=[run], deferrable=False, waiter_options=FAST).execute({})
    assert (job["id"], job["status"]) == (run, "COMPLETED")


def test_not_deferrable_a_failed_job_fails_the_task_with_its_reason(
    emulator_thread: EmulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", connection(emulator_thread.url))
    timeline = [Step(0.2, "FAILED", failure_reason="Disk full")]
    run = emulator_thread.call(lambda emu: emu.add_run(timeline=timeline, tasks=0))
    with pytest.raises(AirflowException, match="Disk full"):
        sensor(ids=[run], deferrable=False, waiter_options=FAST).execute({})
