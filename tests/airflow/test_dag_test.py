"""``dag.test()`` end to end against the emulator, on a temporary SQLite metadata DB.

The DAGs (dags/omics_dags.py) run once, in a subprocess (`dag_runner.py`) whose Airflow
configuration is its own; each test reads one outcome from what it reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("airflow-home")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    done = subprocess.run(
        [sys.executable, str(HERE / "dag_runner.py"), str(home)],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULTS ")]
    if done.returncode != 0 or not lines:
        pytest.fail(
            f"dag_runner.py failed ({done.returncode}):\n{done.stdout[-4000:]}\n"
            f"{done.stderr[-4000:]}"
        )
    results: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULTS "))
    results["output"] = done.stdout + done.stderr
    return results


def tasks(outcome: dict[str, Any], dag_id: str) -> dict[str, Any]:
    found: dict[str, Any] = outcome[dag_id]["tasks"]
    return found


def failure(outcome: dict[str, Any], dag_id: str, task_id: str) -> dict[str, Any]:
    """What the task's first failed try raised."""
    return next(f for f in outcome["failures"] if (f["dag_id"], f["task_id"]) == (dag_id, task_id))


def test_a_dag_starts_a_run_and_waits_on_it_and_on_its_tasks(outcome: dict[str, Any]) -> None:
    ran = tasks(outcome, "omics_start_and_wait")
    assert {t: ran[t]["state"] for t in ran} == dict.fromkeys(
        ("start", "wait_run", "task_ids", "wait_tasks"), "success"
    )
    run_id = ran["start"]["value"]
    assert ran["wait_run"]["value"]["id"] == run_id
    assert ran["wait_run"]["value"]["status"] == "COMPLETED"
    finished = ran["wait_tasks"]["value"]
    finished = finished if isinstance(finished, list) else [finished]
    assert {(t["run_id"], t["status"]) for t in finished} == {(run_id, "COMPLETED")}


def test_a_failed_run_fails_its_task_with_the_services_reason(outcome: dict[str, Any]) -> None:
    assert tasks(outcome, "omics_failed_run")["wait_failed"]["state"] == "failed"
    assert (
        "Task align failed: out of memory"
        in failure(outcome, "omics_failed_run", "wait_failed")["exception"]
    )


def test_a_partial_import_fails_its_task_naming_the_failed_source(
    outcome: dict[str, Any],
) -> None:
    assert tasks(outcome, "omics_partial_import")["wait_partial"]["state"] == "failed"
    message = failure(outcome, "omics_partial_import", "wait_partial")["exception"]
    assert "1 of 2 sources failed" in message
    assert "File is not a valid FASTQ" in message


def test_a_partial_import_passes_with_accept_partial(outcome: dict[str, Any]) -> None:
    accepted = tasks(outcome, "omics_partial_import")["wait_partial_accepted"]
    assert (accepted["state"], accepted["value"]["status"]) == (
        "success",
        "COMPLETED_WITH_FAILURES",
    )


def test_until_running_succeeds_while_the_run_runs(outcome: dict[str, Any]) -> None:
    waited = tasks(outcome, "omics_until_running")["wait_running"]
    assert (waited["state"], waited["value"]["status"]) == ("success", "RUNNING")


def test_the_retry_of_a_start_whose_wait_timed_out_waits_on_the_same_run(
    outcome: dict[str, Any],
) -> None:
    # The run lasts 3 s or more; each try may wait 1 s: the first times out, a later one
    # sees the run end (when depends on the machine's speed, not on what is tested).
    started = tasks(outcome, "omics_retry_after_timeout")["start_slow"]
    assert started["state"] == "success"
    assert started["try_number"] >= 2
    assert outcome["runs_named"]["slow-run"] == 1


def test_the_first_try_of_that_start_failed_on_its_timeout(outcome: dict[str, Any]) -> None:
    first = failure(outcome, "omics_retry_after_timeout", "start_slow")
    assert (first["try_number"], first["type"]) == (1, "AirflowException")
    assert "timeout (WaitTimeoutError)" in first["exception"]


@pytest.mark.parametrize(
    "complaint",
    ["Task was destroyed but it is pending", "Unclosed client session", "Unclosed connector"],
)
def test_the_triggers_new_loops_leave_nothing_behind(
    outcome: dict[str, Any], complaint: str
) -> None:
    # dag.test() runs each trigger in a new loop and calls no cleanup(): the shared waiter's
    # task must end with its loop, and its client must be closed.
    assert complaint not in outcome["output"]


def test_airflow_lists_omics_waiter_as_a_provider(outcome: dict[str, Any]) -> None:
    assert "omics-waiter" in outcome["providers"]
