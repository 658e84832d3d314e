"""A real Airflow: 20 deferred `OmicsJobSensor` tasks waited on by a real triggerer process.

The API server, scheduler, DAG processor and triggerer run as separate processes (each in
a session of its own, so that stopping its process group stops its workers too) on a
temporary SQLite metadata database, with the LocalExecutor at a parallelism of 4. The
emulator runs in a thread of this process; every process reaches it through the AWS
connection given as ``AIRFLOW_CONN_AWS_DEFAULT``.

The emulator's clock is held still until every sensor has deferred and the triggerer has
swept their runs: the runs cannot end before all 20 triggers wait, however slowly Airflow
starts (and on a loaded machine it is slow). Then the clock runs, and a twin emulator (same
seed, same runs, same clock) is waited on by one `wait_many` in this process, the yardstick
for what one shared waiter costs from there on.

Slow (40 to 75 seconds) and heavy (four Airflow processes and their workers): marked
``serial``, to run outside the parallel part of the suite; its three tests share one DAG run.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from emulator_thread import EmulatorThread
from omics_waiter import OmicsWaiter, RunRef

# One Airflow for the module's tests: serial, so they run in one process, after the rest.
pytestmark = pytest.mark.serial

RUNS = 20
DAG_ID = "omics_twenty_sensors"
# Short polls, so that the runs' ends are seen within a couple of seconds.
WAITER_OPTIONS = {"min_delay": 1.0, "max_delay": 2.0}
# A single-run waiter never lists; a waiter watching this many runs sweeps ListRuns
# (BATCH_THRESHOLD per active status of a run: PENDING, STARTING, RUNNING, STOPPING).
SWEEP_THRESHOLD = 12
GIVE_UP = 240.0  # seconds for the whole DAG run: a hung Airflow fails the test, not the suite
AIRFLOW = Path(sys.executable).with_name("airflow")


class HeldClock:
    """A clock that stands still until `release`, then runs at real speed from there."""

    def __init__(self) -> None:
        self._held_at: float | None = time.monotonic()
        self._offset = 0.0

    def __call__(self) -> float:
        held = self._held_at
        return held if held is not None else time.monotonic() - self._offset

    def release(self) -> None:
        assert self._held_at is not None
        self._offset = time.monotonic() - self._held_at
        self._held_at = None


def _add_runs(thread: EmulatorThread) -> list[str]:
    return thread.call(lambda emu: [emu.add_run(name=f"sensor-{i}", tasks=1) for i in range(RUNS)])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


DAG_FILE = """\
import datetime as dt

from airflow.sdk import DAG

from omics_waiter.airflow import OmicsJobSensor

RUNS = {runs!r}

with DAG(
    {dag_id!r},
    schedule="@once",
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
):
    for i, run_id in enumerate(RUNS):
        OmicsJobSensor(
            task_id=f"run_{{i}}",
            kind="run",
            ids=[run_id],
            waiter_options={options!r},
            timeout=180,
        )
"""


class Airflow:
    """Airflow's processes on a temporary home; `stop` ends each one's process group."""

    def __init__(self, home: Path, endpoint_url: str) -> None:
        self.home = home
        self.db = home / "airflow.db"
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
        env.update(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="4",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{self.db}",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(port),
            AIRFLOW__API__WORKERS="1",
            # Their defaults (8793, 8794) are fixed: free ones, for tests run side by side.
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(_free_port()),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(_free_port()),
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(16),
            AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
            AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC="1",
            AIRFLOW_CONN_AWS_DEFAULT=json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"region_name": "us-east-1", "endpoint_url": endpoint_url},
                }
            ),
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        self.env = env
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def migrate(self) -> None:
        subprocess.run(
            [AIRFLOW, "db", "migrate"], env=self.env, check=True, capture_output=True, timeout=120
        )

    def start(self) -> None:
        for command in ("api-server", "scheduler", "dag-processor", "triggerer"):
            with open(self.home / f"{command}.log", "wb") as log:
                self.processes[command] = subprocess.Popen(
                    [AIRFLOW, command],
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )

    def stop(self) -> None:
        """SIGTERM to every process group, SIGKILL to what is left after 10 s."""
        family = []
        for process in self.processes.values():
            with contextlib.suppress(psutil.NoSuchProcess):
                family += psutil.Process(process.pid).children(recursive=True)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        give_up = time.monotonic() + 10
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, give_up - time.monotonic()))
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # A worker that left its group (a new session of its own) is still ours: end it too.
        for child in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the metadata database (read-only; an empty answer before it exists)."""
        try:
            con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        except sqlite3.OperationalError:
            return []
        try:
            return con.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # a table not made yet, a lock held too long
            return []
        finally:
            con.close()

    def logs(self) -> str:
        states = self.query(
            "select state, count(*) from task_instance where dag_id = ? group by state", DAG_ID
        )
        triggers = self.query("select id, triggerer_id from trigger")
        # The log of each task that failed, or is to be retried: why it did not defer.
        task_logs = [
            path
            for path in sorted((self.home / "logs").glob(f"dag_id={DAG_ID}/*/task_id=*/*.log"))
            if any(path.parent.name == f"task_id={task}" for task in self.failed_tasks())
        ]
        logs = [(path.parent.name, path) for path in task_logs[:3]] + [
            (name, self.home / f"{name}.log") for name in self.processes
        ]
        return f"task states: {states}\ntriggers (id, triggerer): {triggers}\n" + "\n".join(
            f"--- {name} (last 3000 characters) ---\n" + path.read_text(errors="replace")[-3000:]
            for name, path in logs
        )

    def failed_tasks(self) -> list[str]:
        rows = self.query(
            "select task_id from task_instance where dag_id = ? and state in "
            "('failed', 'up_for_retry', 'upstream_failed')",
            DAG_ID,
        )
        return [task for (task,) in rows]


def _until(what: str, check: Callable[[], bool], airflow: Airflow, deadline: float) -> None:
    """Poll `check` until it holds; fail with Airflow's logs at the deadline."""
    while not check():
        if airflow.failed_tasks():
            pytest.fail(f"a task failed before {what}\n{airflow.logs()}")
        for name, process in airflow.processes.items():
            if process.poll() is not None:
                pytest.fail(
                    f"airflow {name} exited ({process.returncode}) before {what}\n" + airflow.logs()
                )
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{airflow.logs()}")
        time.sleep(0.25)


def _requests(thread: EmulatorThread, operation: str | None = None) -> int:
    stats = thread.stats()
    ops = [operation] if operation else list(stats)
    return sum(sum(stats.get(op, {}).values()) for op in ops)


@dataclasses.dataclass
class Outcome:
    dag_run_state: str | None
    task_states: dict[str, str]
    returned: dict[str, Any]  # task ID -> its XCom return value
    true_statuses: dict[str, str]  # run ID -> its status in the emulator
    held_requests: dict[str, int]  # while the clock was held: operation -> count
    after_release: dict[str, int]  # the triggers' requests once it ran
    wait_many: dict[str, int]  # the twin's, from the release on
    seconds: float


def _by_op(thread: EmulatorThread) -> dict[str, int]:
    return {op: sum(codes.values()) for op, codes in thread.stats().items()}


def _minus(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {op: n - before.get(op, 0) for op, n in after.items() if n - before.get(op, 0)}


def _wait_many(url: str, runs: list[str], done: list[Any]) -> None:
    async def wait() -> None:
        async with OmicsWaiter.connect(
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            **WAITER_OPTIONS,
        ) as waiter:
            done.extend(await waiter.wait_many([RunRef(r) for r in runs], timeout=120))

    asyncio.run(wait())


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """The whole DAG run, once for this module's tests."""
    started = time.monotonic()
    deadline = started + GIVE_UP
    clock = HeldClock()
    options = {"seed": 7, "job_seconds": (2.0, 4.0), "clock": clock}
    emulator = EmulatorThread(**options)
    twin = EmulatorThread(**options)
    airflow: Airflow | None = None
    try:
        runs = _add_runs(emulator)
        assert _add_runs(twin) == runs
        home = tmp_path_factory.mktemp("airflow")
        (home / "dags").mkdir()
        (home / "dags" / f"{DAG_ID}.py").write_text(
            DAG_FILE.format(runs=runs, dag_id=DAG_ID, options=WAITER_OPTIONS)
        )
        airflow = Airflow(home, emulator.url)
        airflow.migrate()
        airflow.start()
        a = airflow

        def all_deferred() -> bool:
            rows = a.query(
                "select count(*) from task_instance where dag_id = ? and state = 'deferred'",
                DAG_ID,
            )
            assigned = a.query("select count(*) from trigger where triggerer_id is not null")
            return bool(rows and rows[0][0] == RUNS and assigned and assigned[0][0] == RUNS)

        _until(f"all {RUNS} sensors deferred", all_deferred, airflow, deadline)
        # The triggerer picks assigned triggers up on its next loop: two whole sweeps after
        # this moment, every trigger waits on the waiter.
        lists = _requests(emulator, "ListRuns")
        _until(
            "the triggerer's sweeps",
            lambda: _requests(emulator, "ListRuns") >= lists + 8,
            airflow,
            deadline,
        )
        held = _by_op(emulator)
        clock.release()
        answers: list[Any] = []
        yardstick = threading.Thread(target=_wait_many, args=(twin.url, runs, answers))
        yardstick.start()

        def finished() -> bool:
            rows = a.query("select state from dag_run where dag_id = ?", DAG_ID)
            return bool(rows) and rows[0][0] in ("success", "failed")

        _until("the DAG run's end", finished, airflow, deadline)
        yardstick.join(timeout=60)
        assert len(answers) == RUNS, "the yardstick's wait_many did not finish"
        task_states = dict(
            a.query("select task_id, state from task_instance where dag_id = ?", DAG_ID)
        )
        returned = {
            task: json.loads(value)
            for task, value in a.query(
                "select task_id, value from xcom where dag_id = ? and key = 'return_value'",
                DAG_ID,
            )
        }
        yield Outcome(
            dag_run_state=a.query("select state from dag_run where dag_id = ?", DAG_ID)[0][0],
            task_states=task_states,
            returned=returned,
            true_statuses=emulator.call(
                lambda emu: {r: emu.job_state("run", r)["status"] for r in runs}
            ),
            held_requests=held,
            after_release=_minus(_by_op(emulator), held),
            wait_many=_by_op(twin),
            seconds=time.monotonic() - started,
        )
    finally:
        if airflow is not None:
            airflow.stop()
        emulator.close()
        twin.close()


def test_every_sensor_succeeds_with_its_completed_run(outcome: Outcome) -> None:
    print(f"\nDAG run took {outcome.seconds:.1f} s from the start of the fixture")
    assert outcome.dag_run_state == "success", outcome.task_states
    assert set(outcome.task_states.values()) == {"success"}
    assert len(outcome.task_states) == RUNS
    assert set(outcome.true_statuses.values()) == {"COMPLETED"}
    statuses = {task: value["status"] for task, value in outcome.returned.items()}
    assert statuses == {f"run_{i}": "COMPLETED" for i in range(RUNS)}


def test_the_triggers_sweep_their_runs_through_list_as_one_waiter(outcome: Outcome) -> None:
    # Separate waiters of one run each would only ever send GetRun; a waiter sweeps
    # ListRuns once it watches SWEEP_THRESHOLD runs or more.
    print(f"\nwhile held: {outcome.held_requests}")
    assert outcome.held_requests.get("ListRuns", 0) > 0
    assert outcome.after_release.get("ListRuns", 0) > 0


def test_the_triggers_cost_what_one_wait_many_costs(outcome: Outcome) -> None:
    # From the release on, both watch the same 20 runs with the same options; 20 loops of
    # their own would send at least one GetRun per run each min_delay.
    print(f"\ntriggers after release: {outcome.after_release}, wait_many: {outcome.wait_many}")
    triggers = sum(outcome.after_release.values())
    yardstick = sum(outcome.wait_many.values())
    assert outcome.after_release.get("GetRun", 0) <= outcome.wait_many.get("GetRun", 0) + 2
    assert triggers <= 1.5 * yardstick
