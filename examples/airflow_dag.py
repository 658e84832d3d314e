"""An Airflow DAG: start a HealthOmics workflow run, wait on it, then on each of its tasks.

Put this file in your DAGs folder (docs/airflow.md goes through it step by step), or run it
once here, on the local emulator::

    python examples/airflow_dag.py

That makes a temporary ``AIRFLOW_HOME`` with a SQLite metadata database, starts the
emulator (``omics-waiter emulator``), points the ``aws_default`` connection at it, and runs
the DAG with ``dag.test()``. Needs ``omics-waiter[airflow]``.

The waits are deferred: `OmicsStartRunOperator` starts the run (never twice for one task
instance, across retries) and pushes its ID to XCom at once; `OmicsJobSensor` then waits
in the triggerer, where every HealthOmics wait of the process shares one waiter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

DAG_ID = "omics_start_and_wait"


def main() -> int:
    """Run the DAG once with ``dag.test()`` on an emulator; print what each task returned."""
    with tempfile.TemporaryDirectory(prefix="airflow-example-") as home:
        emulator = subprocess.Popen(
            [sys.executable, "-m", "omics_waiter", "emulator", "--job-seconds", "2:4"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert emulator.stdout is not None
            url = emulator.stdout.readline().strip().removeprefix("endpoint_url=")
            # Airflow reads its settings once, when it is first imported: set them first.
            os.environ.update(
                AIRFLOW_HOME=home,
                AIRFLOW__CORE__DAGS_FOLDER=str(Path(__file__).parent),
                AIRFLOW__CORE__LOAD_EXAMPLES="False",
                AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
                AIRFLOW__LOGGING__LOGGING_LEVEL="ERROR",
                AIRFLOW_CONN_AWS_DEFAULT=json.dumps(
                    {
                        "conn_type": "aws",
                        "login": "testing",
                        "password": "testing",
                        "extra": {
                            "region_name": "us-east-1",
                            "endpoint_url": url,
                            # For the Amazon provider's own hooks (list_tasks below); the
                            # omics-waiter classes turn it off themselves at an endpoint.
                            "config_kwargs": {"inject_host_prefix": False},
                        },
                    }
                ),
            )
            return run_once()
        finally:
            emulator.terminate()
            emulator.wait()


def run_once() -> int:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.initdb()  # the metadata database (what `airflow db migrate` does)
    dag = DagBag(dag_folder=__file__).get_dag(DAG_ID)
    assert dag is not None
    run = dag.test()
    for ti in sorted(run.get_task_instances(), key=lambda ti: ti.start_date):
        print(f"{ti.task_id}: {ti.state}")
    print(f"DAG run {run.state}")
    return 0 if run.state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())

# The DAG itself. Below the runner, so that running this file configures Airflow before
# anything imports it; Airflow's DAG processor imports the file and finds the DAG here.

import pendulum  # noqa: E402
from airflow.sdk import DAG, Param, task  # noqa: E402

from omics_waiter.airflow import OmicsJobSensor, OmicsStartRunOperator  # noqa: E402

with DAG(
    DAG_ID,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={
        "workflow_id": Param("1234567", type="string"),
        "role_arn": Param("arn:aws:iam::123456789012:role/OmicsRun", type="string"),
        "output_uri": Param("s3://my-bucket/runs/", type="string"),
        "sample": Param("NA12878", type="string"),
    },
):
    start = OmicsStartRunOperator(
        task_id="start_run",
        workflow_id="{{ params.workflow_id }}",
        role_arn="{{ params.role_arn }}",
        output_uri="{{ params.output_uri }}",
        parameters={"sample": "{{ params.sample }}"},
        # Return once the run is started: the sensor below waits on it.
        wait_for_completion=False,
    )
    wait_run = OmicsJobSensor(
        task_id="wait_run",
        kind="run",
        ids="{{ ti.xcom_pull(task_ids='start_run', key='run_id') }}",
        timeout=6 * 3600,
        waiter_options={"min_delay": 1.0, "max_delay": 30.0},
    )

    @task
    def list_tasks(run: dict[str, Any]) -> list[str]:
        """The run's tasks, as ``RUN_ID/TASK_ID`` (the form the ``task`` kind takes)."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        client = AwsBaseHook(aws_conn_id="aws_default", client_type="omics").conn
        pages = client.get_paginator("list_run_tasks").paginate(id=run["id"])
        return [f"{run['id']}/{item['taskId']}" for page in pages for item in page["items"]]

    wait_tasks = OmicsJobSensor(
        task_id="wait_tasks",
        kind="task",
        ids=list_tasks(wait_run.output),
        waiter_options={"min_delay": 1.0, "max_delay": 30.0},
    )
    start >> wait_run
