"""``omics-waiter`` as users run it: a real process talking HTTP to an emulator.

The emulator runs in a background thread with its own event loop, so that tests can script
job timelines (`add_job`) while the command runs as a subprocess with testing credentials.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner

from emulator_thread import EmulatorThread
from omics_waiter._cli import main
from omics_waiter.testing import Step

PYTHON_M = [sys.executable, "-m", "omics_waiter"]
FAST = ["--min-delay", "0.2", "--max-delay", "1"]
# Every line: these keys, the ID fields of its kind, and the keys of its type (docs/cli.md).
COMMON_KEYS = {"type", "time", "kind", "status", "previous", "status_message"}
ID_KEYS = {
    "activation": ("sequence_store_id", "job_id"),
    "read-set-import": ("sequence_store_id", "job_id"),
    "read-set-export": ("sequence_store_id", "job_id"),
    "reference-import": ("reference_store_id", "job_id"),
    "run": ("run_id",),
    "task": ("run_id", "task_id"),
    "variant-import": ("job_id",),
    "annotation-import": ("job_id",),
    "workflow": ("workflow_id",),
    "workflow-version": ("workflow_id", "version_name"),
    None: (),
}
KEYS_BY_TYPE = {
    "job_started": {"read_set_ids"},
    "job_status_changed": {"total_items", "finished_items", "failed_items", "final"},
    "source_status_changed": {"read_set_id", "item"},
    "item_status_changed": {"item"},
    "poll_retrying": {"operation", "reason", "attempt", "delay", "throttling"},
    "job_wait_failed": {"error", "error_code", "message"},
    "budget_mode_changed": {"mode"},
}
# 0.1's counts, kept on activation jobs' lines.
ACTIVATION_COUNTS = {"total_read_sets", "finished_read_sets", "failed_read_sets"}
TERMINAL = {"COMPLETED", "COMPLETED_WITH_FAILURES", "FAILED", "CANCELLED"}
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY-omics-waiter-canary"

R1, R2, R3 = "1000000001", "1000000002", "1000000003"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    emulator = EmulatorThread(seed=5, job_seconds=(0.3, 1.0), failure_rate=0.0)
    try:
        yield emulator
    finally:
        emulator.close()


# Timelines leave the command (a fresh Python process) about a second to start and poll.
def completed(end: float = 2.0) -> list[Step]:
    return [
        Step(at=0.1, status="IN_PROGRESS", sources={R1: "IN_PROGRESS"}),
        Step(at=end - 0.5, sources={R1: "FINISHED", R2: "FINISHED"}),
        Step(at=end, status="COMPLETED", status_message="Activation completed."),
    ]


def partially_failed() -> list[Step]:
    return [
        Step(at=0.1, status="IN_PROGRESS", sources={R1: "IN_PROGRESS"}),
        Step(at=1.5, sources={R1: "FINISHED", R2: ("FAILED", "The read set is not ARCHIVED.")}),
        Step(at=2.0, status="COMPLETED_WITH_FAILURES", status_message="1 read set failed."),
    ]


def failed() -> list[Step]:
    return [
        Step(at=0.1, status="IN_PROGRESS"),
        Step(at=1.5, sources={R1: ("FAILED", "Gone."), R2: ("FAILED", "Gone.")}),
        Step(at=2.0, status="FAILED", status_message="Every read set failed."),
    ]


def never_ends() -> list[Step]:
    return [Step(at=0.1, status="IN_PROGRESS", sources={R1: "IN_PROGRESS"})]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(extra)
    return env


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines()]


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
    done = subprocess.run(
        [sys.executable, "-m", "omics_waiter", *args],
        env=env or cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def cli_together(*commands: Sequence[str], env: dict[str, str] | None = None) -> list[Run]:
    """Run several commands at once (most of their time is spent waiting on jobs)."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "omics_waiter", *command],
            env=env or cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    runs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=60)
        runs.append(Run(process.returncode, stdout, stderr))
    return runs


def assert_one_clean_error_line(run: Run) -> None:
    assert "Traceback" not in run.stderr
    assert run.stderr.count("\n") >= 1
    assert all(line.startswith("omics-waiter: error: ") for line in run.stderr.splitlines())


def expected_keys(line: dict[str, Any]) -> set[str]:
    keys = COMMON_KEYS | set(ID_KEYS[line["kind"]]) | KEYS_BY_TYPE[line["type"]]
    if line["type"] == "job_status_changed" and line["kind"] == "activation":
        keys |= ACTIVATION_COUNTS
    return keys


def job_of(line: dict[str, Any]) -> tuple[str, ...] | None:
    """The job a line is about: its kind and IDs (None for a line of no single job)."""
    ids = tuple(line[key] for key in ID_KEYS[line["kind"]])
    return (line["kind"], *ids) if ids and None not in ids else None


def check_schema(lines: list[dict[str, Any]]) -> None:
    """Every line has exactly the keys of its type and kind; per job, the final event comes
    last, and a terminal status is final."""
    for line in lines:
        assert set(line) == expected_keys(line), line
        if line["type"] == "job_status_changed":
            assert line["final"] or line["status"] not in TERMINAL, line
    for job in {job_of(line) for line in lines} - {None}:
        own = [line for line in lines if job_of(line) == job]
        final = [
            i
            for i, line in enumerate(own)
            if line["type"] == "job_wait_failed"
            or (line["type"] == "job_status_changed" and line["final"])
        ]
        assert final == [len(own) - 1], own


def run_in_pty(
    args: Sequence[str],
    env: dict[str, str],
    timeout: float = 60,
    *,
    signal_after: tuple[str, signal.Signals] | None = None,
) -> tuple[int, str]:
    """Run a command on a pseudo-terminal (so rich sees a terminal); return code and output.

    With `signal_after` (text, signal), send the signal once the output shows the text.
    """
    main_fd, child_fd = pty.openpty()
    process = subprocess.Popen(
        list(args), stdin=child_fd, stdout=child_fd, stderr=child_fd, env=env, close_fds=True
    )
    os.close(child_fd)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main_fd], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(main_fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            output += data
            if signal_after is not None and signal_after[0].encode() in output:
                process.send_signal(signal_after[1])
                signal_after = None
        code = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main_fd)
    return code, output.decode(errors="replace")


def read_json_lines_until(
    process: subprocess.Popen[str], done: Callable[[list[dict[str, Any]]], bool], timeout: float
) -> tuple[list[dict[str, Any]], str]:
    """Read JSON lines from the process's stdout until `done(lines)`, for at most `timeout` s.

    Reads the pipe itself (no buffered reader, which would hide lines from `select`); returns
    the lines and the start of a line not yet complete.
    """
    assert process.stdout is not None
    fd = process.stdout.fileno()
    lines: list[dict[str, Any]] = []
    pending = b""
    deadline = time.monotonic() + timeout
    while not done(lines):
        assert time.monotonic() < deadline, f"no such output within {timeout} s: {lines}"
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            data = os.read(fd, 65536)
            assert data, f"the command ended early: {lines}"
            *complete, pending = (pending + data).split(b"\n")
            lines += [json.loads(line) for line in complete]
    return lines, pending.decode()


# -- wait ------------------------------------------------------------------------------------


@pytest.mark.serial  # a fresh process's start-up must fit a window
def test_wait_for_a_completed_job_exits_0_with_json_lines(emu: EmulatorThread) -> None:
    store = "2000000001"
    # Seen IN_PROGRESS first: the command (a fresh process) has 6 s to start, even on a loaded
    # machine (with 3 s, it sometimes first saw the job COMPLETED under pytest-xdist).
    job_id = emu.add_job(store, [R1, R2], completed(end=6.0))
    run = cli("wait", "-s", store, "-j", job_id, "--endpoint-url", emu.url, *FAST)
    assert run.code == 0, run.stderr
    lines = run.lines
    check_schema(lines)
    job_events = [line for line in lines if line["type"] == "job_status_changed"]
    assert job_events[0]["previous"] is None
    assert [line["status"] for line in job_events] == ["IN_PROGRESS", "COMPLETED"]
    assert job_events[1]["previous"] == "IN_PROGRESS"
    assert lines[-1]["status"] == "COMPLETED"
    assert lines[-1]["finished_read_sets"] == 2
    sources = [line for line in lines if line["type"] == "source_status_changed"]
    assert {line["read_set_id"] for line in sources} == {R1, R2}
    assert run.stderr == ""


def test_wait_for_a_failed_or_partially_failed_job_exits_1(emu: EmulatorThread) -> None:
    store = "2000000002"
    jobs = [emu.add_job(store, [R1, R2], timeline()) for timeline in (failed, partially_failed)]
    quiet = emu.add_job(store, [R1, R2], partially_failed())
    *runs, quiet_run = cli_together(
        *(["wait", "-s", store, "-j", job_id, "--endpoint-url", emu.url, *FAST] for job_id in jobs),
        ["wait", "-s", store, "-j", quiet, "--endpoint-url", emu.url, "--quiet", *FAST],
    )
    for run, status in zip(runs, ["FAILED", "COMPLETED_WITH_FAILURES"], strict=True):
        assert run.code == 1, run.stderr
        check_schema(run.lines)
        assert run.lines[-1]["status"] == status
    # --quiet: only the final event.
    assert quiet_run.code == 1
    [line] = quiet_run.lines
    assert line["type"] == "job_status_changed"
    assert line["status"] == "COMPLETED_WITH_FAILURES"
    assert line["failed_read_sets"] == 1


def test_wait_for_many_jobs_gives_each_job_its_final_event_last(emu: EmulatorThread) -> None:
    store = "2000000004"
    ok = emu.add_job(store, [R1, R2], completed())
    partial = emu.add_job(store, [R1, R2], partially_failed())
    bad = emu.add_job(store, [R1, R2], failed())
    run = cli(
        "wait", "-s", store, "-j", ok, "-j", partial, "-j", bad, "--endpoint-url", emu.url, *FAST
    )
    assert run.code == 1, run.stderr
    lines = run.lines
    check_schema(lines)
    finals = {
        line["job_id"]: line["status"]
        for line in lines
        if line["type"] == "job_status_changed" and line["status"] in TERMINAL
    }
    assert finals == {ok: "COMPLETED", partial: "COMPLETED_WITH_FAILURES", bad: "FAILED"}


def test_wait_past_the_timeout_exits_3_even_when_another_job_failed(emu: EmulatorThread) -> None:
    store = "2000000005"
    stuck = emu.add_job(store, [R1], never_ends())
    bad = emu.add_job(store, [R1, R2], failed())
    base = ["wait", "-s", store, "--endpoint-url", emu.url, *FAST]
    alone, mixed = cli_together(
        [*base, "-j", stuck, "--timeout", "1"], [*base, "-j", bad, "-j", stuck, "--timeout", "2.5"]
    )
    assert alone.code == 3
    check_schema(alone.lines)
    last = alone.lines[-1]
    assert last["type"] == "job_wait_failed"
    assert last["error"] == "WaitTimeoutError"
    assert last["status"] == "IN_PROGRESS"  # the last job seen
    assert_one_clean_error_line(alone)
    assert mixed.code == 3  # an unknown outcome outranks a known failure
    check_schema(mixed.lines)
    assert {line["status"] for line in mixed.lines if line["job_id"] == bad} >= {"FAILED"}


def test_a_timeout_before_the_not_found_grace_exits_3_saying_it_was_not_found_so_far(
    emu: EmulatorThread,
) -> None:
    missing = "2000000099"
    args = ["-s", "2000000005", "-j", missing, "--endpoint-url", emu.url, "--timeout", "1"]
    result = cli("wait", *args, *FAST)
    assert result.code == 3, result.stderr
    last = result.lines[-1]
    assert (last["type"], last["error"]) == ("job_wait_failed", "WaitTimeoutError")
    assert "had not been found so far" in last["message"]
    assert_one_clean_error_line(result)
    assert "had not been found so far" in result.stderr


# -- errors, secrets, interruption -------------------------------------------------------


def test_refused_credentials_exit_4_and_the_secret_is_never_printed(emu: EmulatorThread) -> None:
    commands = [
        ["wait", "-s", "2000000007", "-j", "3000000000"],
        ["wait", "-s", "2000000007", "-j", "3000000000", "-j", "3000000001"],
        ["list", "-s", "2000000007"],
        ["activate", "-s", "2000000007", "-r", R1],
    ]
    env = cli_env(AWS_SECRET_ACCESS_KEY=SECRET)
    runs = cli_together(
        *([*c, "--endpoint-url", emu.url, *([] if c[0] == "list" else FAST)] for c in commands),
        env=env,
    )
    for command, run in zip(commands, runs, strict=True):
        assert run.code == 4, command
        assert_one_clean_error_line(run)
        assert "InvalidSignatureException" in run.stderr
        assert SECRET not in run.stdout + run.stderr
        assert SECRET.split("/")[-1] not in run.stdout + run.stderr


def test_secret_stays_hidden_on_a_terminal_and_with_bad_input(emu: EmulatorThread) -> None:
    env = cli_env(AWS_SECRET_ACCESS_KEY=SECRET, TERM="xterm", COLUMNS="100")
    args = [sys.executable, "-m", "omics_waiter"]
    code, output = run_in_pty(
        [*args, "wait", "-s", "2000000007", "-j", "3000000000", "--endpoint-url", emu.url], env
    )
    assert code == 4
    bad = CliRunner().invoke(main, ["wait", "-s", "nope", "-j", "3000000000"], env=env)
    assert bad.exit_code == 2
    assert SECRET not in output + bad.stdout + bad.stderr


def test_no_region_is_invalid_input(emu: EmulatorThread) -> None:
    env: dict[str, str | None] = {**cli_env(), "AWS_DEFAULT_REGION": None, "AWS_REGION": None}
    args = ["list", "-s", "2000000007", "--endpoint-url", emu.url]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 2
    assert "--region" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("signum", "jobs", "quiet"),
    [
        (signal.SIGINT, 1, False),
        (signal.SIGTERM, 1, False),
        (signal.SIGTERM, 3, False),
        (signal.SIGTERM, 3, True),
    ],
    ids=["sigint-one-job", "sigterm-one-job", "sigterm-many-jobs", "sigterm-quiet"],
)
def test_a_signal_ends_every_unfinished_job_with_one_final_event_and_exits_128_plus_it(
    emu: EmulatorThread, signum: signal.Signals, jobs: int, quiet: bool
) -> None:
    store = f"200000002{jobs + 2 * quiet + (signum == signal.SIGINT)}"
    job_ids = [emu.add_job(store, [R1], never_ends()) for _ in range(jobs)]
    args = ["wait", "-s", store, "--endpoint-url", emu.url, *FAST]
    for job_id in job_ids:
        args += ["-j", job_id]
    requests_before = emu.requests()
    with subprocess.Popen(
        [*PYTHON_M, *args, *(["--quiet"] if quiet else [])],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            if quiet:  # nothing is printed before the end: wait until the command has polled
                deadline = time.monotonic() + 30
                while emu.requests() == requests_before:
                    assert time.monotonic() < deadline, "the command sent no request"
                    time.sleep(0.05)
                before: list[dict[str, Any]] = []
                partial = ""
            else:
                before, partial = read_json_lines_until(
                    process,
                    lambda lines: (
                        {x["job_id"] for x in lines if x["type"] == "job_status_changed"}
                        == set(job_ids)
                    ),
                    timeout=30,
                )
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 128 + signum
    assert stderr == f"omics-waiter: error: interrupted by {signum.name}; the jobs keep running\n"
    lines = before + [json.loads(line) for line in (partial + stdout).splitlines()]
    check_schema(lines)  # every job's final event comes last, and only once
    finals = [line for line in lines if line["type"] == "job_wait_failed"]
    assert sorted(line["job_id"] for line in finals) == sorted(job_ids)
    for line in finals:
        assert (line["error"], line["error_code"]) == ("Interrupted", None)
        assert "keeps running" in line["message"]
    if quiet:
        assert lines == finals


def test_sigterm_on_a_terminal_restores_the_cursor_and_says_so(emu: EmulatorThread) -> None:
    store = "2000000030"
    job_id = emu.add_job(store, [R1], never_ends())
    code, output = run_in_pty(
        [*PYTHON_M, "wait", "-s", store, "-j", job_id, "--endpoint-url", emu.url, *FAST],
        cli_env(TERM="xterm", COLUMNS="120"),
        signal_after=("IN_PROGRESS", signal.SIGTERM),
    )
    assert code == 143, output
    hide, show = "\x1b[?25l", "\x1b[?25h"
    assert hide in output
    assert output.rindex(show) > output.rindex(hide)
    assert "interrupted by SIGTERM; the jobs keep running" in output
    assert "Traceback" not in output


BAD_INPUT = [
    ["wait", "-s", "12345", "-j", "3000000000"],
    ["wait", "-s", "2000000009", "-j", "not-a-job"],
    ["wait", "-s", "2000000009", "-j", "3000000000", "--min-delay", "5", "--max-delay", "1"],
    ["wait", "-s", "2000000009", "-j", "3000000000", "--timeout", "-1"],
    ["wait", "-s", "2000000009", "-j", "3000000000", "--timeout", "nan"],
    ["wait", "-s", "2000000009", "-j", "3000000000", "--max-tps", "0"],
    ["wait", "-s", "2000000009"],
    ["activate", "-s", "2000000009", "-r", R1, "-r", R1],
    ["activate", "-s", "2000000009", "-r", R1, "--client-token", "x" * 128],
    ["activate", "-s", "2000000009", "-r", "1"],
    ["list", "-s", "2000000009", "--status", "BOGUS"],
    ["list", "-s", "2000000009", "--limit", "0"],
    ["demo", "--jobs", "0"],
    ["demo", "--job-seconds", "3"],
]


@pytest.mark.parametrize("args", BAD_INPUT, ids=lambda args: " ".join(args)[:60])
def test_bad_input_exits_2_before_any_request(emu: EmulatorThread, args: list[str]) -> None:
    before = emu.requests()
    # In-process: the command validates before it connects, so no event loop is shared.
    endpoint = [] if args[0] == "demo" else ["--endpoint-url", emu.url]
    result = CliRunner().invoke(main, [*args, *endpoint], env=cli_env())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert emu.requests() == before


USAGE_ERRORS = [
    ["wait", "-s", "2000000009"],  # a missing option
    ["wait", "-s", "2000000009", "-j", "3000000000", "--bogus"],  # an unknown option
    ["list", "-s", "2000000009", "--min-delay", "1"],  # an option list does not have
    ["list", "-s", "2000000009", "--limit", "many"],  # a value of the wrong type
    ["bogus"],  # an unknown command
    [],  # no command
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=lambda args: " ".join(args) or "nothing")
def test_a_usage_error_is_one_line_on_stderr_and_exits_2(args: list[str]) -> None:
    result = CliRunner().invoke(main, args, env=cli_env())
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("omics-waiter: error: ")


def test_a_bad_endpoint_url_names_the_option() -> None:
    args = ["list", "-s", "2000000009", "--endpoint-url", "not-a-url"]
    result = CliRunner().invoke(main, args, env=cli_env())
    assert result.exit_code == 2
    assert result.stderr == (
        "omics-waiter: error: --endpoint-url must be an http:// or https:// URL, got 'not-a-url'\n"
    )


def test_the_emulator_on_a_port_in_use_exits_2_with_one_line(emu: EmulatorThread) -> None:
    port = emu.url.rsplit(":", 1)[1]
    result = CliRunner().invoke(main, ["emulator", "--port", port])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"omics-waiter: error: cannot listen on 127.0.0.1:{port}")
    assert result.stderr.count("\n") == 1


# -- an endpoint that cannot be reached -------------------------------------------------------

UNREACHABLE = "http://127.0.0.1:1"  # nothing listens there: every connection is refused


def test_an_unreachable_endpoint_shows_each_retry_and_names_the_cause() -> None:
    store = "2000000040"
    commands = [
        ["list", "-s", store],
        ["activate", "-s", store, "-r", R1, *FAST],
        ["wait", "-s", store, "-j", "3000000000", *FAST],
    ]
    runs = cli_together(
        *([*c, "--endpoint-url", UNREACHABLE, "--timeout", "1.5"] for c in commands)
    )
    operations = [
        "ListReadSetActivationJobs",
        "StartReadSetActivationJob",
        "GetReadSetActivationJob",
    ]
    for command, run, operation in zip(commands, runs, operations, strict=True):
        assert run.code == 3, command
        assert_one_clean_error_line(run)
        retries = [line for line in run.lines if line["type"] == "poll_retrying"]
        assert retries, command
        assert {(line["operation"], line["reason"]) for line in retries} == {
            (operation, "ConnectionError")
        }
        assert "ConnectionError" in run.stderr
        assert "no request slot" not in run.stderr
    list_run, activate_run, _ = runs
    assert "ListReadSetActivationJobs kept failing (ConnectionError: " in list_run.stderr
    assert "StartReadSetActivationJob kept failing (ConnectionError: " in activate_run.stderr
    assert all(line["type"] == "poll_retrying" for line in list_run.lines)
    check_schema(list_run.lines)
    assert {
        (line["kind"], line["sequence_store_id"], line["job_id"]) for line in list_run.lines
    } == {("activation", store, None)}


def test_list_on_a_terminal_shows_retries_while_they_happen() -> None:
    code, output = run_in_pty(
        [*PYTHON_M, "list", "-s", "2000000041", "--endpoint-url", UNREACHABLE, "--timeout", "1"],
        cli_env(TERM="xterm", COLUMNS="160"),
    )
    assert code == 3
    assert "retrying: ListReadSetActivationJobs failed (ConnectionError)" in output
    assert output.rindex("\x1b[?25h") > output.rindex("\x1b[?25l")  # the cursor is back


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_OMICS"])
def test_the_endpoint_can_come_from_the_environment(emu: EmulatorThread, variable: str) -> None:
    store = "2000000042" if variable == "AWS_ENDPOINT_URL" else "2000000043"
    job_id = emu.add_job(store, [R1], [Step(at=0.0, status="COMPLETED")])
    listed = cli(
        "list", "-s", store, "--quiet", "--timeout", "10", env=cli_env(**{variable: emu.url})
    )
    assert (listed.code, listed.stdout.split()) == (0, [job_id])


# -- activate ----------------------------------------------------------------------------


def test_activate_splits_read_sets_into_jobs_of_20_and_a_rerun_starts_no_more(
    emu: EmulatorThread,
) -> None:
    store = "2000000010"
    read_sets = [str(4000000000 + i) for i in range(45)]
    args = ["activate", "-s", store, "--endpoint-url", emu.url, *FAST]
    for read_set in read_sets:
        args += ["-r", read_set]
    starts = emu.starts()
    first = cli(*args)
    assert first.code == 0, first.stderr
    check_schema(first.lines)
    started = [line for line in first.lines if line["type"] == "job_started"]
    assert [line["read_set_ids"] for line in started] == [
        read_sets[:20],
        read_sets[20:40],
        read_sets[40:],
    ]
    assert emu.starts() - starts == 3
    again = cli(*args, "--quiet")
    assert again.code == 0
    assert [line["job_id"] for line in again.lines] == [line["job_id"] for line in started]


def test_activate_with_a_client_token_reuses_its_job_and_refuses_other_read_sets(
    emu: EmulatorThread,
) -> None:
    store = "2000000011"
    base = ["activate", "-s", store, "--client-token", "batch-7", "--endpoint-url", emu.url]
    first = cli(*base, "-r", R1, "-r", R2, "--quiet", *FAST)
    again, other = cli_together(
        [*base, "-r", R1, "-r", R2, "--quiet", *FAST], [*base, "-r", R3, "--quiet", *FAST]
    )
    assert first.code == again.code == 0
    assert first.lines[0]["job_id"] == again.lines[0]["job_id"]
    assert other.code == 2  # the service's ValidationException: the token names another job
    assert_one_clean_error_line(other)


# -- list --------------------------------------------------------------------------------


def test_list_prints_one_json_object_per_job_and_filters_by_status(emu: EmulatorThread) -> None:
    store = "2000000013"
    done = emu.add_job(store, [R1, R2], [Step(at=0.0, status="COMPLETED")])
    stuck = emu.add_job(store, [R1], never_ends())
    run = cli("list", "-s", store, "--endpoint-url", emu.url, "--json")
    assert run.code == 0
    assert [line["job_id"] for line in run.lines] == [stuck, done]  # newest first
    assert set(run.lines[0]) == {
        "type",
        "sequence_store_id",
        "job_id",
        "status",
        "creation_time",
        "completion_time",
    }
    for line in run.lines:  # the same time format as the events' "time"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["creation_time"])
    assert re.fullmatch(r".*T.*\.\d{3}\+00:00", run.lines[1]["completion_time"])
    only = cli("list", "-s", store, "--endpoint-url", emu.url, "--status", "completed", "--quiet")
    assert only.code == 0
    assert only.stdout.split() == [done]


def test_list_shows_a_table_on_a_terminal(emu: EmulatorThread) -> None:
    store = "2000000014"
    job_id = emu.add_job(store, [R1], [Step(at=0.0, status="COMPLETED")])
    code, output = run_in_pty(
        [sys.executable, "-m", "omics_waiter", "list", "-s", store, "--endpoint-url", emu.url],
        cli_env(TERM="xterm", COLUMNS="120"),
    )
    assert code == 0
    assert f"sequence store {store}" in output
    assert job_id in output
    assert "{" not in output


# -- demo --------------------------------------------------------------------------------


def test_demo_runs_to_the_end_with_the_live_display_and_a_summary() -> None:
    code, output = run_in_pty(
        [*PYTHON_M, "demo", "--jobs", "3", "--job-seconds", "0.3:1", "--failure-rate", "0.5"],
        cli_env(TERM="xterm", COLUMNS="120"),
    )
    assert code == 0, output  # failed read sets are part of the show
    assert "Embedded HealthOmics emulator at http://127.0.0.1:" in output
    assert "Jobs" in output  # the live table, of several kinds
    for kind in ("read-set-import", "run", "activation"):
        assert kind in output
    assert "Summary" in output
    assert "Failed " in output  # read sets or tasks
    assert "3 read set activation jobs:" in output
    assert "1 run:" in output
    assert "would exit 1" in output
    assert "Traceback" not in output


def test_demo_off_a_terminal_prints_progress_lines_and_the_summary() -> None:
    run = cli("demo", "--jobs", "3", "--job-seconds", "0.3:1", "--seed", "1")
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert not any(line.lstrip().startswith("{") for line in lines)
    assert lines[0].startswith("Embedded HealthOmics emulator at http://127.0.0.1:")
    assert sum("started read set activation job" in line for line in lines) == 3
    finals = [line for line in lines if line.endswith("(final)")]
    assert len(finals) == 5  # three activation jobs, the import and the run
    assert any(re.match(r" *[0-9.]+s  run [0-9]+: COMPLETED", line) for line in finals)
    assert "Summary" in lines
    assert "3 read set activation jobs:" in run.stdout
    # A few lines per job, not one per event.
    assert len(lines) < 80, run.stdout


def test_demo_with_json_prints_json_lines() -> None:
    run = cli("demo", "--jobs", "3", "--job-seconds", "0.3:1", "--seed", "1", "--json")
    assert run.code == 0, run.stderr
    lines = run.lines
    check_schema(lines)
    assert sum(line["type"] == "job_started" for line in lines) == 3
    finals = [line for line in lines if line["type"] == "job_status_changed" and line["final"]]
    assert sorted(line["kind"] for line in finals) == [
        "activation",
        "activation",
        "activation",
        "read-set-import",
        "run",
    ]
    run_final = next(line for line in finals if line["kind"] == "run")
    assert run_final["total_items"] == 3  # the run's tasks


# -- help ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["wait", "activate", "list", "demo", "emulator"])
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage: main " + command in result.output or "Usage: " in result.output
    if command in ("wait", "activate", "list"):
        for option in ("--region", "--profile", "--endpoint-url", "--timeout", "--json"):
            assert option in result.output
        flat = " ".join(result.output.split())
        assert "inf for no limit" in flat
        for code in ("130", "141", "143"):
            assert code in flat


def test_list_offers_only_the_options_that_apply_to_it() -> None:
    flat = " ".join(CliRunner().invoke(main, ["list", "--help"]).output.split())
    for option in ("--min-delay", "--max-delay", "--max-tps"):
        assert option not in flat
    assert "-q, --quiet Only the jobs' IDs, one per line, as 'wait KIND' takes them" in flat
    assert "Give up retrying failed requests" in flat


def test_top_level_help_lists_commands_and_exit_codes() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for word in ("wait", "activate", "list", "demo", "emulator", "130", "141", "143"):
        assert word in result.output
