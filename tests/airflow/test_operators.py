"""OmicsStartRunOperator: starting, the run ID in XCom, deferring, and no duplicate runs
across retries (against the emulator, through the real client)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, TaskDeferred

from conftest import FAST, connection
from emulator_thread import EmulatorThread
from omics_waiter import InvalidInputError
from omics_waiter.airflow import OmicsJobTrigger, OmicsStartRunOperator
from omics_waiter.airflow._runs import TAG, TaskInstanceKey

ROLE = "arn:aws:iam::123456789012:role/omics"


@dataclass
class FakeTaskInstance:
    """What the operator reads of a task instance, and the XComs it pushes."""

    try_number: int = 1
    dag_id: str = "pipeline"
    task_id: str = "start"
    run_id: str = "manual__2026-01-01"
    map_index: int = -1
    xcoms: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


def operator(**arguments: Any) -> OmicsStartRunOperator:
    defaults = {
        "task_id": "start",
        "workflow_id": "1234567",
        "role_arn": ROLE,
        "output_uri": "s3://bucket/out",
        "waiter_options": FAST,
    }
    return OmicsStartRunOperator(**(defaults | arguments))


@pytest.fixture
def aws_default(emulator_thread: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> EmulatorThread:
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", connection(emulator_thread.url))
    return emulator_thread


def starts(emulator: EmulatorThread) -> int:
    return sum(emulator.stats().get("StartRun", {}).values())


def get_run(emulator: EmulatorThread, run_id: str) -> dict[str, Any]:
    return emulator.call(lambda emu: emu.job_state("run", run_id))


def test_execute_starts_the_run_pushes_its_id_and_defers_on_it(
    aws_default: EmulatorThread,
) -> None:
    ti = FakeTaskInstance()
    with pytest.raises(TaskDeferred) as deferred:
        operator(timeout=600, until="RUNNING").execute({"ti": ti})
    run_id = ti.xcoms["run_id"]
    assert deferred.value.trigger == OmicsJobTrigger(
        "run", [run_id], timeout=600, until="RUNNING", waiter_options=FAST
    )
    assert deferred.value.timeout == dt.timedelta(seconds=600)
    assert starts(aws_default) == 1


def test_the_run_is_tagged_with_its_task_instance_and_named_after_it(
    aws_default: EmulatorThread,
) -> None:
    ti = FakeTaskInstance()
    with pytest.raises(TaskDeferred):
        operator(parameters={"sample": "NA12878"}).execute({"ti": ti})
    run = get_run(aws_default, ti.xcoms["run_id"])
    key = TaskInstanceKey("pipeline", "start", "manual__2026-01-01", -1, 1)
    assert run["tags"][TAG] == key.tag
    assert run["name"] == key.default_name
    assert run["parameters"] == {"sample": "NA12878"}


def test_start_run_kwargs_reach_startrun_and_the_callers_tags_are_kept(
    aws_default: EmulatorThread,
) -> None:
    ti = FakeTaskInstance()
    extra = {"tags": {"team": "genomics"}, "storageType": "DYNAMIC", "logLevel": "ALL"}
    with pytest.raises(TaskDeferred):
        operator(start_run_kwargs=extra).execute({"ti": ti})
    run = get_run(aws_default, ti.xcoms["run_id"])
    assert run["tags"]["team"] == "genomics"
    assert TAG in run["tags"]
    assert (run["storageType"], run["logLevel"]) == ("DYNAMIC", "ALL")


def test_a_retry_waits_on_the_run_an_earlier_try_started(aws_default: EmulatorThread) -> None:
    first, second = FakeTaskInstance(try_number=1), FakeTaskInstance(try_number=2)
    with pytest.raises(TaskDeferred):
        operator().execute({"ti": first})
    with pytest.raises(TaskDeferred):
        operator().execute({"ti": second})
    assert second.xcoms["run_id"] == first.xcoms["run_id"]
    assert starts(aws_default) == 1


def test_a_retry_with_a_name_of_the_users_finds_the_run_by_its_tag(
    aws_default: EmulatorThread,
) -> None:
    other = FakeTaskInstance(task_id="other")
    first, second = FakeTaskInstance(try_number=1), FakeTaskInstance(try_number=2)
    for ti in (other, first, second):
        with pytest.raises(TaskDeferred):
            operator(task_id=ti.task_id, name="nightly").execute({"ti": ti})
    assert second.xcoms["run_id"] == first.xcoms["run_id"] != other.xcoms["run_id"]
    assert starts(aws_default) == 2


def test_a_retry_after_the_earlier_run_failed_starts_a_new_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failing = EmulatorThread(seed=3, job_seconds=(0.1, 0.2), failure_rate=1.0)
    try:
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", connection(failing.url))
        first = FakeTaskInstance(try_number=1)
        with pytest.raises(AirflowException):
            operator(deferrable=False).execute({"ti": first})
        second = FakeTaskInstance(try_number=2)
        with pytest.raises(TaskDeferred):
            operator().execute({"ti": second})
        assert second.xcoms["run_id"] != first.xcoms["run_id"]
        assert starts(failing) == 2
    finally:
        failing.close()


def test_the_same_try_executed_again_gets_the_same_run_from_the_request_id(
    aws_default: EmulatorThread,
) -> None:
    tis = [FakeTaskInstance(), FakeTaskInstance()]
    for ti in tis:
        with pytest.raises(TaskDeferred):
            operator().execute({"ti": ti})
    assert tis[0].xcoms["run_id"] == tis[1].xcoms["run_id"]


def test_without_waiting_it_returns_the_run_id_once_started(aws_default: EmulatorThread) -> None:
    ti = FakeTaskInstance()
    assert operator(wait_for_completion=False).execute({"ti": ti}) == ti.xcoms["run_id"]


def test_not_deferrable_it_waits_in_the_worker(aws_default: EmulatorThread) -> None:
    ti = FakeTaskInstance()
    assert operator(deferrable=False).execute({"ti": ti}) == ti.xcoms["run_id"]


def test_execute_complete_returns_the_run_id() -> None:
    event = {"status": "success", "kind": "run", "ids": ["42"], "jobs": [{}], "message": None}
    assert operator().execute_complete({}, event | {"error": None}) == "42"


def test_a_timed_out_wait_raises_a_retryable_airflow_exception() -> None:
    event = {"status": "timeout", "kind": "run", "ids": ["42"], "jobs": [None]}
    with pytest.raises(AirflowException) as caught:
        operator().execute_complete({}, event | {"message": "late", "error": "WaitTimeoutError"})
    assert not isinstance(caught.value, AirflowSensorTimeout)


def test_a_failed_run_raises_with_the_services_reason() -> None:
    event = {"status": "failed", "kind": "run", "ids": ["42"], "jobs": [None]}
    with pytest.raises(AirflowException, match="Out of memory"):
        operator().execute_complete({}, event | {"message": "Out of memory", "error": "X"})


@pytest.mark.parametrize(
    ("arguments", "argument"),
    [
        ({"workflow_id": "wf-1"}, "workflow_id"),
        ({"role_arn": "omics-role"}, "role_arn"),
        ({"output_uri": ""}, "output_uri"),
        ({"parameters": ["a"]}, "parameters"),
        ({"name": "x" * 129}, "name"),
        ({"until": "FAILED"}, "until"),
        ({"timeout": -1}, "timeout"),
        ({"wait_for_completion": "no"}, "wait_for_completion"),
        ({"waiter_options": {"max_tps": -1}}, "max_tps"),
        ({"start_run_kwargs": {"requestId": "x"}}, "start_run_kwargs"),
        ({"start_run_kwargs": {"bogus": 1}}, "start_run_kwargs"),
        ({"start_run_kwargs": ["runGroupId"]}, "start_run_kwargs"),
    ],
)
def test_a_bad_argument_fails_when_the_operator_is_made(
    arguments: dict[str, Any], argument: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        operator(**arguments)
    assert caught.value.argument == argument


def test_a_template_that_renders_badly_fails_before_any_request() -> None:
    op = operator(workflow_id="{{ params.workflow }}")
    op.workflow_id = "not digits"
    with pytest.raises(InvalidInputError):
        op.execute({"ti": FakeTaskInstance()})


def test_request_ids_differ_by_try_and_tags_do_not() -> None:
    one = TaskInstanceKey("d", "t", "r", -1, 1)
    two = TaskInstanceKey("d", "t", "r", -1, 2)
    assert one.request_id != two.request_id
    assert one.tag == two.tag
    assert 1 <= len(one.request_id) <= 128
    assert len(TaskInstanceKey("d" * 300, "t", "r", 0, 1).default_name) <= 128
