"""Every program in examples/ runs to completion on its embedded emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# What each example must print: evidence that it did its job, not just that it exited.
EXPECTED = {
    "wait_for_one_job.py": ["COMPLETED: 3 read sets activated"],
    "watch_events.py": ["-> IN_PROGRESS", "read set", "done: "],
    "many_jobs_service.py": ["resuming 3 running jobs", "the budget kept under its quota"],
    "start_and_wait.py": ["started job", "retrying 2 failed read sets"],
    "airflow_dag.py": ["start_run: success", "wait_tasks: success", "DAG run success"],
}


def test_every_example_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_on_the_emulator(name: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    for fragment in EXPECTED[name]:
        assert fragment in done.stdout
