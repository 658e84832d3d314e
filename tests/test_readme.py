"""The README's library example runs as written against the emulator.

Only its literal IDs are replaced with the emulator's (the service picks run and task IDs);
the endpoint comes from ``AWS_ENDPOINT_URL_OMICS``, as it would for any botocore client.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator_thread import EmulatorThread
from omics_waiter.testing import Step

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


@pytest.fixture
def emulator() -> Iterator[EmulatorThread]:
    served = EmulatorThread(seed=7)
    yield served
    served.close()


def test_the_readme_example_waits_on_a_run_its_tasks_and_watches_another(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    (example,) = _python_blocks(README.read_text())
    assert 'connect(region_name="us-east-1")' in example
    tasks = [[Step(0.1, "RUNNING"), Step(0.4, "COMPLETED")]] * 2
    first = emulator.call(lambda emu: emu.add_run(tasks=tasks))
    failed = emulator.call(
        lambda emu: emu.add_run(
            timeline=[Step(0.1, "RUNNING"), Step(0.5, "FAILED", failure_reason="out of memory")]
        )
    )
    task_ids = emulator.call(lambda emu: emu.task_ids(first))
    # The first wait is on a run that completes; the same example is then run on one that fails.
    outputs = []
    for run_id in (first, failed):
        code = (
            example.replace('TaskRef("1234567"', f"TaskRef({first!r}")
            .replace('"1234567"', repr(run_id))
            .replace('("111", "222")', repr(tuple(task_ids)))
            .replace('"7654321"', repr(first))
            .replace("timeout=6 * 3600", "timeout=30")
            # The emulator's jobs last a second, not hours: poll at its pace.
            .replace(
                'connect(region_name="us-east-1")',
                'connect(region_name="us-east-1", min_delay=0.1, max_delay=0.5)',
            )
        )
        script = tmp_path / f"readme_{run_id}.py"
        script.write_text(code)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env |= {
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_ENDPOINT_URL_OMICS": emulator.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        done = subprocess.run(
            [sys.executable, str(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert (done.returncode, done.stderr) == (0, "")
        outputs.append(done.stdout)
    completed, failure = outputs
    assert completed.startswith(("RunStatus.COMPLETED ", "COMPLETED "))
    assert "failed: out of memory" in failure
    assert "JobStatusChanged" in completed
