"""``omics-waiter wait KIND ID...`` as users run it: real processes against an emulator thread.

Runs, tasks, imports and workflows, their exit codes and JSON lines; IDs checked before any
request; the shared request budget through a real Redis (``--budget-url``).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner

from emulator_thread import EmulatorThread
from omics_waiter._cli import main
from omics_waiter.testing import OmicsEmulator, Step
from servers import RedisServer, redis_server  # noqa: F401 - the fixture
from test_cli import (
    FAST,
    PYTHON_M,
    assert_one_clean_error_line,
    check_schema,
    cli,
    cli_env,
    cli_together,
    read_json_lines_until,
    run_in_pty,
)

T = TypeVar("T")

STORE = "3000000001"
REFERENCE_STORE = "3000000002"


class KindsEmulator(EmulatorThread):
    """The emulator thread, adding resources of any kind on its loop."""

    def add(self, add: Callable[[OmicsEmulator], T]) -> T:
        async def on_loop() -> T:
            return add(self.emulator)

        return self._call(on_loop())


@pytest.fixture(scope="module")
def emu() -> Iterator[KindsEmulator]:
    emulator = KindsEmulator(seed=11, job_seconds=(0.3, 1.0), failure_rate=0.0)
    try:
        yield emulator
    finally:
        emulator.close()


# Timelines leave the command (a fresh Python process) about a second to start and poll.
def task(end: float, status: str = "COMPLETED", reason: str | None = None) -> list[Step]:
    return [
        Step(at=0.1),
        Step(at=0.3, status="RUNNING"),
        Step(at=end, status=status, failure_reason=reason, status_message=reason),
    ]


def waiting(*args: str) -> list[str]:
    return ["wait", *args, *FAST]


def final_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["type"] == "job_status_changed" and line["final"]]


def test_runs_tasks_imports_and_workflows_exit_by_their_outcomes(emu: KindsEmulator) -> None:
    good = emu.add(lambda e: e.add_run(tasks=[task(1.5), task(2.0)]))
    bad = emu.add(
        lambda e: e.add_run(tasks=[task(1.5, "FAILED", "Task ran out of memory."), task(3.0)])
    )
    with_tasks = emu.add(lambda e: e.add_run(tasks=[task(1.2), task(1.8)]))
    task_of = emu.add(lambda e: e.add_run(tasks=[task(1.5), task(2.5)]))
    [task_id, _] = emu.add(lambda e: e.task_ids(task_of))
    partial = emu.add(
        lambda e: e.add_read_set_import_job(
            STORE,
            ["4000000001", "4000000002"],
            timeline=[
                Step(at=0.1, status="IN_PROGRESS"),
                Step(
                    at=1.5,
                    sources={"4000000001": "FINISHED", "4000000002": ("FAILED", "Not a FASTQ.")},
                ),
                Step(at=2.0, status="COMPLETED_WITH_FAILURES", status_message="1 of 2 failed."),
            ],
        )
    )
    reference = emu.add(lambda e: e.add_reference_import_job(REFERENCE_STORE, sources=2))
    variant = emu.add(lambda e: e.add_variant_import_job("variants", items=2))
    workflow = emu.add(lambda e: e.add_workflow(timeline=[Step(at=1.0, status="ACTIVE")]))
    version = emu.add(
        lambda e: e.add_workflow_version(workflow, "v1", timeline=[Step(at=1.0, status="ACTIVE")])
    )
    url = ["--endpoint-url", emu.url]
    runs = cli_together(
        waiting("run", good, *url),
        waiting("run", bad, *url),
        waiting("run", with_tasks, "--tasks", *url),
        waiting("task", f"{task_of}/{task_id}", *url),
        waiting("read-set-import", f"{STORE}/{partial}", *url),
        waiting("reference-import", f"{REFERENCE_STORE}/{reference}", "--quiet", *url),
        waiting("variant-import", variant, *url),
        waiting("workflow", workflow, *url),
        waiting("workflow-version", f"{workflow}/{version}", *url),
        waiting("run", good, bad, *url),
    )
    codes = [run.code for run in runs]
    assert codes == [0, 1, 0, 0, 1, 0, 0, 0, 0, 1], [run.stderr for run in runs]
    for run in runs:
        check_schema(run.lines)
    good_run, bad_run, tasks_run, task_run, import_run, reference_run, *rest = runs
    variant_run, workflow_run, version_run, both = rest

    # A run: kind and run_id on every line; no items without --tasks.
    [done] = final_lines(good_run.lines)
    assert (done["kind"], done["run_id"], done["status"]) == ("run", good, "COMPLETED")
    assert done["total_items"] is None
    assert all(line["kind"] == "run" and line["run_id"] == good for line in good_run.lines)
    [failed] = final_lines(bad_run.lines)
    assert failed["status"] == "FAILED"
    assert "ran out of memory" in failed["status_message"]
    assert bad_run.stderr == ""  # a failed job is an outcome, not an error

    # --tasks: the run's tasks are its items.
    items = [line for line in tasks_run.lines if line["type"] == "item_status_changed"]
    assert {line["item"] for line in items} == set(emu.add(lambda e: e.task_ids(with_tasks)))
    assert {line["status"] for line in items} >= {"COMPLETED"}
    [done] = final_lines(tasks_run.lines)
    assert (done["total_items"], done["finished_items"], done["failed_items"]) == (2, 2, 0)

    # A task: its run and its own ID.
    [done] = final_lines(task_run.lines)
    assert (done["kind"], done["run_id"], done["task_id"]) == ("task", task_of, task_id)
    assert done["total_items"] is None

    # A partly failed import: exit 1, the failed source named, the counts.
    [done] = final_lines(import_run.lines)
    assert (done["kind"], done["sequence_store_id"], done["job_id"]) == (
        "read-set-import",
        STORE,
        partial,
    )
    assert (done["status"], done["finished_items"], done["failed_items"]) == (
        "COMPLETED_WITH_FAILURES",
        1,
        1,
    )
    assert "total_read_sets" not in done  # 0.1's names are activation's only
    failed_items = [
        line
        for line in import_run.lines
        if line["type"] == "item_status_changed" and line["status"] == "FAILED"
    ]
    # An import's items are its source files (the read set ID exists once imported).
    assert [(line["item"], line["status_message"]) for line in failed_items] == [
        (f"s3://omics-emulator/{STORE}/sample-2.fastq.gz", "Not a FASTQ.")
    ]

    # --quiet: only the final line; other kinds, other ID fields.
    [line] = reference_run.lines
    assert (line["kind"], line["reference_store_id"], line["final"]) == (
        "reference-import",
        REFERENCE_STORE,
        True,
    )
    assert final_lines(variant_run.lines)[0]["job_id"] == variant
    assert final_lines(workflow_run.lines)[0]["status"] == "ACTIVE"
    [done] = final_lines(version_run.lines)
    assert (done["workflow_id"], done["version_name"], done["status"]) == (
        workflow,
        "v1",
        "ACTIVE",
    )
    # Several runs in one command: each its final line; the worst outcome sets the code.
    assert {line["run_id"]: line["status"] for line in final_lines(both.lines)} == {
        good: "COMPLETED",
        bad: "FAILED",
    }


def test_until_ends_the_wait_at_a_status_on_the_way(emu: KindsEmulator) -> None:
    running = emu.add(
        lambda e: e.add_run(
            timeline=[
                Step(at=0.2, status="STARTING"),
                Step(at=1.0, status="RUNNING"),
                Step(at=120, status="COMPLETED"),
            ],
            tasks=[
                [Step(at=0.5), Step(at=1.0, status="RUNNING"), Step(at=120, status="COMPLETED")]
            ],
        )
    )
    failing = emu.add(
        lambda e: e.add_run(
            timeline=[Step(at=0.2, status="STARTING"), Step(at=1.0, status="FAILED")]
        )
    )
    url = ["--endpoint-url", emu.url, "--until", "running", "--timeout", "30"]
    reached, never = cli_together(
        waiting("run", running, "--tasks", *url), waiting("run", failing, *url)
    )
    assert reached.code == 0, reached.stderr
    check_schema(reached.lines)  # the final line is the last, after its tasks' lines
    last = reached.lines[-1]
    assert (last["status"], last["final"]) == ("RUNNING", True)
    assert any(line["type"] == "item_status_changed" for line in reached.lines)
    assert never.code == 1
    assert never.lines[-1]["status"] == "FAILED"


def cancelled_while_pending() -> list[Step]:
    """A run cancelled before it started, as the service (and the emulator) do it: STOPPING,
    then CANCELLED; long enough STOPPING for the command to see it."""
    return [Step(at=0.1, status="STOPPING"), Step(at=3.0, status="CANCELLED")]


def test_until_running_on_a_run_cancelled_while_pending_exits_1_at_cancelled(
    emu: KindsEmulator,
) -> None:
    run_id = emu.add(lambda e: e.add_run(timeline=cancelled_while_pending()))
    url = ["--endpoint-url", emu.url, "--until", "running", "--timeout", "30"]
    result = cli(*waiting("run", run_id, *url))
    assert result.code == 1, result.stderr
    assert [(line["status"], line["final"]) for line in result.lines] == [
        ("STOPPING", False),
        ("CANCELLED", True),
    ]


def test_until_running_on_a_run_cancelled_while_pending_says_cancelled_on_a_terminal(
    emu: KindsEmulator,
) -> None:
    run_id = emu.add(lambda e: e.add_run(timeline=cancelled_while_pending()))
    code, output = run_in_pty(
        [*PYTHON_M, "wait", "run", run_id, "--until", "RUNNING", "--endpoint-url", emu.url, *FAST],
        cli_env(TERM="xterm", COLUMNS="120"),
    )
    assert code == 1, output
    assert "1 run: 1 cancelled" in output
    assert "stopping" not in output.lower().split("summary")[-1]


def test_a_run_with_its_tasks_on_a_terminal(emu: KindsEmulator) -> None:
    run_id = emu.add(
        lambda e: e.add_run(
            tasks=[task(1.2), task(1.6, "FAILED", "Task exited with a non-zero exit code.")]
        )
    )
    code, output = run_in_pty(
        [*PYTHON_M, "wait", "run", run_id, "--tasks", "--endpoint-url", emu.url, *FAST],
        cli_env(TERM="xterm", COLUMNS="120"),
    )
    assert code == 1, output
    assert "Runs" in output  # the live table's title
    assert "tasks" in output  # the items column: the run's tasks
    assert "Failed tasks" in output
    assert "Failed jobs" in output
    assert "1 run: 1 failed" in output
    assert "Traceback" not in output


BAD_IDS = [
    (["wait", "run", "abc"], "run ID 'abc': RUN_ID must be a string of 1 to 18 digits"),
    (["wait", "task", "123"], "task ID '123' must be RUN_ID/TASK_ID"),
    (["wait", "task", "123/x"], "TASK_ID must be"),
    (["wait", "read-set-import", "123/456"], "SEQUENCE_STORE_ID must be a string of 10"),
    (["wait", "variant-import", "1234567890"], "JOB_ID must be a lowercase UUID"),
    (["wait", "workflow-version", "123/-v"], "VERSION_NAME must be"),
    (["wait", "run", "1234", "123x"], "run ID '123x'"),  # every ID is checked, the first bad one
    (["wait", "run", "1234", "--until", "COMPLETED"], "--until must be a status a run passes"),
    (["wait", "workflow", "12", "--until", "RUNNING"], "(CREATING)"),
    (["wait", "run", "1234", "--budget-url", "http://127.0.0.1:6379"], "--budget-url must be"),
    (["wait", "run", "1234", "--budget-url", "redis://"], "--budget-url must be"),
    (["activate", "-s", "3000000009", "-r", "4000000001", "--budget-url", "x"], "--budget-url"),
]


@pytest.mark.parametrize(("args", "said"), BAD_IDS, ids=lambda a: " ".join(a)[:50])
def test_bad_ids_and_options_exit_2_with_one_line_before_any_request(
    emu: KindsEmulator, args: list[str], said: str
) -> None:
    before = emu.requests()
    result = CliRunner().invoke(main, [*args, "--endpoint-url", emu.url], env=cli_env())
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("omics-waiter: error: ")
    assert said in result.stderr
    assert emu.requests() == before


USAGE = [
    ["wait"],  # nothing to wait on
    ["wait", "bogus", "123"],  # an unknown kind
    ["wait", "run"],  # no ID
    ["wait", "run", "123", "-j", "3000000000"],  # both forms
    ["wait", "task", "1/2", "--tasks"],  # --tasks is for runs
    ["wait", "run", "123", "--max-tps", "inf"],  # a range click checks
    ["wait", "run", "123", "--min-delay", "0"],
]


@pytest.mark.parametrize("args", USAGE, ids=lambda args: " ".join(args))
def test_usage_errors_of_wait_are_one_line(args: list[str]) -> None:
    result = CliRunner().invoke(main, args, env=cli_env())
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("omics-waiter: error: ")


# -- the shared request budget -------------------------------------------------------------


@pytest.mark.serial  # a fresh process's start-up must fit a window
def test_a_shared_budget_shows_its_mode_and_its_fallback_when_redis_goes(
    emu: KindsEmulator,
    redis_server: RedisServer,  # noqa: F811 - the fixture
) -> None:
    # The run lasts long enough for requests after Redis is stopped, however long the
    # command (a fresh process) takes to start on a loaded machine.
    run_id = emu.add(lambda e: e.add_run(tasks=[task(1.0), task(6.0)]))
    args = ["wait", "run", run_id, "--tasks", "--endpoint-url", emu.url, *FAST]
    with subprocess.Popen(
        [*PYTHON_M, *args, "--budget-url", redis_server.url],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            before, pending = read_json_lines_until(
                process,
                lambda lines: any(line["type"] == "job_status_changed" for line in lines),
                timeout=20,
            )
            redis_server.stop()  # the next request slot finds it gone: local fallback
            stdout, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, stderr
    lines = before + [json.loads(line) for line in (pending + stdout).splitlines()]
    check_schema(lines)
    modes = [
        (line["previous"], line["mode"]) for line in lines if line["type"] == "budget_mode_changed"
    ]
    assert modes == [(None, "shared"), ("shared", "fallback")]
    assert lines[0]["type"] == "budget_mode_changed"
    assert lines[-1]["status"] == "COMPLETED"


def test_redis_refusing_the_password_exits_4(emu: KindsEmulator) -> None:
    with RedisServer(password="right") as server:
        run = cli(
            *waiting("run", "1234", "--endpoint-url", emu.url),
            "--budget-url",
            server.url_with("wrong"),
        )
    assert run.code == 4
    assert_one_clean_error_line(run)
    assert "wrong" not in run.stderr  # the password is not printed


def test_wait_on_push_events_shows_the_push_mode_and_exits_0(moto_server: str) -> None:
    import uuid

    import anyio

    from omics_waiter._events_setup import setup_events, teardown_events

    name = f"cli-{uuid.uuid4().hex[:8]}"
    options: dict[str, Any] = {
        "region_name": "us-east-1",
        "endpoint_url": moto_server,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    queue_url = anyio.run(lambda: setup_events(name, **options))
    pushing = EmulatorThread(seed=11, events_endpoint_url=moto_server)
    try:
        store = "2000000009"
        # Changes while the command runs (a slow start on a busy machine included).
        job_id = pushing.add_job(
            store,
            ["1111111111"],
            [
                Step(0.2, "IN_PROGRESS"),
                Step(2.5, "IN_PROGRESS", sources={"1111111111": "IN_PROGRESS"}),
                Step(4.0, "COMPLETED"),
            ],
        )
        run = cli(
            "wait",
            "activation",
            f"{store}/{job_id}",
            "--endpoint-url",
            pushing.url,
            "--events-queue-url",
            queue_url,
            "--reconcile-delay",
            "5",
            "--min-delay",
            "0.1",
            "--max-delay",
            "1",
        )
    finally:
        pushing.close()
        anyio.run(lambda: teardown_events(name, **options))
    assert run.code == 0, run.stderr
    kinds = [line["type"] for line in run.lines]
    assert "push_mode_changed" in kinds
    push = next(line for line in run.lines if line["type"] == "push_mode_changed")
    assert (push["mode"], push["previous"]) == ("push", "polling")
    assert run.lines[-1]["status"] == "COMPLETED"


def test_the_demo_with_events_follows_push_events() -> None:
    run = cli("demo", "--events", "--json", "--jobs", "2", "--job-seconds", "1:3", timeout=120)
    assert run.code == 0, run.stderr
    modes = [line["mode"] for line in run.lines if line["type"] == "push_mode_changed"]
    assert modes[:1] == ["push"]
