"""Airflow's environment for the tests in this folder, set before Airflow is first imported.

Airflow reads its configuration (and creates ``AIRFLOW_HOME/airflow.cfg``) when it is first
imported: each test process gets a home of its own in a temporary directory, so that no
test touches ``~/airflow`` and pytest-xdist workers do not share one. The ``dag.test()``
tests run Airflow in a subprocess (`dag_runner.py`) with a metadata DB of their own.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

_HOME = tempfile.mkdtemp(prefix="omics-waiter-airflow-")
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
os.environ["AIRFLOW_HOME"] = _HOME
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from emulator_thread import EmulatorThread  # noqa: E402

FAST = {"min_delay": 0.1, "max_delay": 0.5}


def connection(url: str) -> str:
    """AIRFLOW_CONN_AWS_DEFAULT for an emulator."""
    return json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"region_name": "us-east-1", "endpoint_url": url},
        }
    )


@pytest.fixture
def emulator_thread() -> Iterator[EmulatorThread]:
    """An emulator served from a thread (for synchronous `execute` calls), short jobs."""
    served = EmulatorThread(seed=3, job_seconds=(0.2, 0.6))
    try:
        yield served
    finally:
        served.close()
