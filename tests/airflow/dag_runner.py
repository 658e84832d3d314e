"""Run the test DAGs with ``dag.test()`` on a fresh SQLite metadata DB; print the outcomes.

Run as a subprocess (``python dag_runner.py HOME``), so that Airflow's configuration, read
from the environment when Airflow is first imported, belongs to this process alone:
``AIRFLOW_HOME`` and the DAGs folder in the test's temporary directory, the AWS connection
pointing at an emulator this process serves from a thread.

Prints one JSON object: per DAG, each task's state, try number and return value; the
failures the DAGs' callback recorded; the emulator's request counts.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/, for emulator_thread


def main(home: Path) -> None:
    from emulator_thread import EmulatorThread
    from omics_waiter.testing import OmicsEmulator, Step

    emulator = EmulatorThread(seed=7, job_seconds=(3.0, 3.5))
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(HERE / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"region_name": "us-east-1", "endpoint_url": emulator.url},
                }
            ),
            "OMICS_TEST_FAILURES": str(home / "failures.jsonl"),
        }
    )
    timings: dict[str, float] = {}
    began = time.monotonic()
    from airflow.utils import db

    db.initdb()
    timings["initdb"] = time.monotonic() - began

    def add(emu: OmicsEmulator) -> dict[str, str]:
        failed = emu.add_run(
            timeline=[
                Step(0.2, "STARTING"),
                Step(0.4, "RUNNING"),
                Step(0.8, "FAILED", failure_reason="Task align failed: out of memory"),
            ],
            tasks=0,
        )
        partial = emu.add_read_set_import_job(
            "1234567890",
            ["1111111111", "2222222222"],
            timeline=[
                Step(0.2, "IN_PROGRESS"),
                Step(
                    0.8,
                    "COMPLETED_WITH_FAILURES",
                    sources={
                        "1111111111": "FINISHED",
                        "2222222222": ("FAILED", "File is not a valid FASTQ"),
                    },
                ),
            ],
        )
        long_run = emu.add_run(
            timeline=[Step(0.2, "STARTING"), Step(0.5, "RUNNING"), Step(600, "COMPLETED")],
            tasks=0,
        )
        return {
            "failed_run": failed,
            "partial_import": f"1234567890/{partial}",
            "long_run": long_run,
        }

    conf = emulator.call(add)

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(HERE / "dags"))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    results: dict[str, object] = {"conf": conf}
    for dag_id in sys.argv[2:] or sorted(bag.dag_ids):
        dag = bag.get_dag(dag_id)
        began = time.monotonic()
        run = dag.test(run_conf=conf)
        timings[dag_id] = time.monotonic() - began
        tasks = {}
        for ti in run.get_task_instances():
            tasks[ti.task_id] = {
                "state": None if ti.state is None else str(ti.state),
                "try_number": ti.try_number,
                "value": _return_value(ti),
            }
        results[dag_id] = {"state": str(run.state), "tasks": tasks}
    failures = home / "failures.jsonl"
    results["failures"] = (
        [json.loads(line) for line in failures.read_text().splitlines()]
        if failures.exists()
        else []
    )
    results["emulator"] = emulator.stats()
    results["runs_named"] = {name: _runs_named(emulator.url, name) for name in ("slow-run",)}
    from airflow.providers_manager import ProvidersManager

    results["providers"] = sorted(ProvidersManager().providers)
    results["timings"] = timings
    emulator.close()
    print("RESULTS " + json.dumps(results))


def _runs_named(url: str, name: str) -> int:
    """How many runs of that name the emulator holds (a duplicate start would make two)."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "omics",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(inject_host_prefix=False),
    )
    return len(client.list_runs(name=name)["items"])


def _return_value(ti: object) -> object:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(
                key="return_value",
                dag_ids=ti.dag_id,  # type: ignore[attr-defined]
                task_ids=ti.task_id,  # type: ignore[attr-defined]
                run_id=ti.run_id,  # type: ignore[attr-defined]
            )
        ).first()
        return None if row is None else row.value


if __name__ == "__main__":
    main(Path(sys.argv[1]))
