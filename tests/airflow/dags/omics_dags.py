"""DAGs that `dag_runner.py` runs with ``dag.test()`` against the emulator.

IDs of jobs made in the emulator beforehand come in through the DAG run's conf; every wait
polls fast (the emulator's jobs last about a second).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from omics_waiter.airflow import OmicsJobSensor, OmicsStartRunOperator

FAST = {"min_delay": 0.1, "max_delay": 0.5}
START = pendulum.datetime(2026, 1, 1, tz="UTC")
ROLE = "arn:aws:iam::123456789012:role/omics-run"


def record_failure(context: Any) -> None:
    """Keep the exception of a task that failed (or will be retried) for the test to read."""
    path = os.environ["OMICS_TEST_FAILURES"]
    ti = context["ti"]
    with open(path, "a") as out:
        out.write(
            json.dumps(
                {
                    "dag_id": ti.dag_id,
                    "task_id": ti.task_id,
                    "try_number": ti.try_number,
                    "type": type(context.get("exception")).__name__,
                    "exception": str(context.get("exception")),
                }
            )
            + "\n"
        )


DEFAULTS = {"on_failure_callback": record_failure, "on_retry_callback": record_failure}

with DAG(
    "omics_start_and_wait",
    start_date=START,
    schedule=None,
    default_args=DEFAULTS,
):

    @task
    def task_ids(started: str) -> list[str]:
        import boto3
        from botocore.config import Config

        extra = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]
        client = boto3.client(
            "omics",
            region_name=extra["region_name"],
            endpoint_url=extra["endpoint_url"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(inject_host_prefix=False),
        )
        items = client.list_run_tasks(id=started)["items"]
        return [f"{started}/{item['taskId']}" for item in items]

    start = OmicsStartRunOperator(
        task_id="start",
        workflow_id="1234567",
        role_arn=ROLE,
        output_uri="s3://bucket/out",
        parameters={"sample": "NA12878"},
        waiter_options=FAST,
    )
    run_sensor = OmicsJobSensor(
        task_id="wait_run",
        kind="run",
        ids="{{ ti.xcom_pull(task_ids='start', key='run_id') }}",
        waiter_options=FAST,
    )
    listed = task_ids(start.output)
    tasks_sensor = OmicsJobSensor(
        task_id="wait_tasks", kind="task", ids=listed, waiter_options=FAST
    )
    start >> run_sensor >> listed

with DAG("omics_failed_run", start_date=START, schedule=None, default_args=DEFAULTS):
    OmicsJobSensor(
        task_id="wait_failed",
        kind="run",
        ids=["{{ dag_run.conf['failed_run'] }}"],
        waiter_options=FAST,
    )

with DAG("omics_partial_import", start_date=START, schedule=None, default_args=DEFAULTS):
    OmicsJobSensor(
        task_id="wait_partial",
        kind="read-set-import",
        ids=["{{ dag_run.conf['partial_import'] }}"],
        waiter_options=FAST,
    )
    OmicsJobSensor(
        task_id="wait_partial_accepted",
        kind="read-set-import",
        ids=["{{ dag_run.conf['partial_import'] }}"],
        accept_partial=True,
        waiter_options=FAST,
    )

with DAG("omics_until_running", start_date=START, schedule=None, default_args=DEFAULTS):
    OmicsJobSensor(
        task_id="wait_running",
        kind="run",
        ids=["{{ dag_run.conf['long_run'] }}"],
        until="RUNNING",
        waiter_options=FAST,
    )

with DAG("omics_retry_after_timeout", start_date=START, schedule=None, default_args=DEFAULTS):
    OmicsStartRunOperator(
        task_id="start_slow",
        workflow_id="1234567",
        role_arn=ROLE,
        output_uri="s3://bucket/out",
        name="slow-run",
        timeout=1.0,
        retries=6,
        retry_delay=0,
        waiter_options=FAST,
    )
