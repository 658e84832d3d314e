"""``omics-waiter list KIND [SCOPE]``: every kind with a List, against an emulator thread.

The command runs in-process (click's runner: stdout is not a terminal, so JSON lines by
default) and, for the table, as a process on a pseudo-terminal.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result

from omics_waiter._cli import main
from omics_waiter._words import parse_ref
from omics_waiter.testing import Step
from test_cli import cli_env, run_in_pty
from test_cli_kinds import KindsEmulator

STORE = "3100000001"
REFERENCE_STORE = "3100000002"
R1 = "1000000001"
DONE = [Step(at=0.0, status="COMPLETED")]
RUNS_ON = [Step(at=0.0, status="RUNNING")]
ACTIVE = [Step(at=0.0, status="ACTIVE")]


@pytest.fixture(scope="module")
def emu() -> Iterator[KindsEmulator]:
    emulator = KindsEmulator(seed=12, job_seconds=(0.3, 1.0), failure_rate=0.0)
    try:
        yield emulator
    finally:
        emulator.close()


def listing(emu: KindsEmulator, *args: str) -> Result:
    return CliRunner().invoke(main, ["list", *args, "--endpoint-url", emu.url], env=cli_env())


def lines_of(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_every_kind_with_a_list_is_listed_with_its_id_fields_and_its_ids_for_wait(
    emu: KindsEmulator,
) -> None:
    run = emu.add(lambda e: e.add_run(tasks=[RUNS_ON, RUNS_ON]))
    task = emu.add(lambda e: e.task_ids(run)[0])
    added: dict[str, tuple[list[str], str]] = {
        "activation": ([STORE], emu.add(lambda e: e.add_job(STORE, [R1], timeline=DONE))),
        "read-set-import": (
            [STORE],
            emu.add(lambda e: e.add_read_set_import_job(STORE, 1, timeline=DONE)),
        ),
        "read-set-export": (
            [STORE],
            emu.add(lambda e: e.add_read_set_export_job(STORE, [R1], timeline=DONE)),
        ),
        "reference-import": (
            [REFERENCE_STORE],
            emu.add(lambda e: e.add_reference_import_job(REFERENCE_STORE, 1, timeline=DONE)),
        ),
        "run": ([], run),
        "task": ([run], task),
        "variant-import": ([], emu.add(lambda e: e.add_variant_import_job("store", 1))),
        "annotation-import": ([], emu.add(lambda e: e.add_annotation_import_job("store", 1))),
        "workflow": ([], emu.add(lambda e: e.add_workflow(timeline=ACTIVE))),
    }
    for word, (scope, job_id) in added.items():
        wanted = parse_ref(word, "/".join([*scope, job_id]))
        lines = lines_of(listing(emu, word, *scope))
        mine = [line for line in lines if line["status"] and line.get(_last(line)) == job_id]
        assert len(mine) == 1, (word, lines)
        assert set(mine[0]) == {"type", "kind", *_id_fields(wanted), "status", "creation_time"}
        assert (mine[0]["type"], mine[0]["kind"]) == ("job_listed", word)
        assert tuple(mine[0][name] for name in _id_fields(wanted)) == wanted.ids
        ids = listing(emu, word, *scope, "--quiet").stdout.split()
        assert str(wanted) in ids, (word, ids)
        assert [parse_ref(word, text).kind for text in ids] == [word] * len(ids)


def _id_fields(ref: Any) -> list[str]:
    return [f.name for f in dataclasses.fields(ref)]


def _last(line: dict[str, Any]) -> str:
    return {"run": "run_id", "task": "task_id", "workflow": "workflow_id"}.get(
        line["kind"], "job_id"
    )


def test_status_and_limit_filter_what_is_listed(emu: KindsEmulator) -> None:
    running = emu.add(lambda e: e.add_run(timeline=RUNS_ON))
    done = emu.add(lambda e: e.add_run(timeline=DONE))
    ids = listing(emu, "run", "--status", "running", "-q").stdout.split()
    assert running in ids
    assert done not in ids
    assert len(listing(emu, "run", "--limit", "1", "-q").stdout.split()) == 1


def test_workflows_are_filtered_by_status_here_across_full_pages(emu: KindsEmulator) -> None:
    # ListWorkflows has no status filter: the one failed workflow sits behind a full page of
    # newer active ones, and --limit 1 must not stop at the first page.
    failed = emu.add(lambda e: e.add_workflow(timeline=[Step(at=0.0, status="FAILED")]))
    emu.add(lambda e: [e.add_workflow(timeline=ACTIVE) for _ in range(100)])
    before = emu.stats().get("ListWorkflows", {}).get("200", 0)
    ids = listing(emu, "workflow", "--status", "failed", "--limit", "1", "-q").stdout.split()
    assert ids == [failed]
    assert emu.stats()["ListWorkflows"]["200"] - before >= 2


def test_a_scope_that_does_not_exist_exits_4_with_one_line(emu: KindsEmulator) -> None:
    result = listing(emu, "task", "999999")
    assert result.exit_code == 4
    assert result.stderr == "omics-waiter: error: ListRunTasks: the run 999999 was not found\n"


BAD = [
    (["workflow-version"], "workflow versions cannot be listed"),
    (["workflow", "1234"], "list workflow takes no scope"),
    (["workflow", "--status", "RUNNING"], "--status for workflows must be one of CREATING"),
    (["run", "1234"], "list run takes no scope"),
    (["task"], "list task needs RUN_ID"),
    (["task", "12x"], "RUN_ID must be a string of 1 to 18 digits, got '12x'"),
    (["read-set-import", "123"], "SEQUENCE_STORE_ID must be a string of 10 to 36 digits"),
    (["run", "--status", "SUBMITTED"], "--status for runs must be one of PENDING"),
    (["variant-import", "--status", "CANCELLING"], "--status for variant import jobs"),
    (["activation", STORE, "-s", STORE], "not both"),
    (["run", "--limit", "0"], "--limit"),
    ([], "Missing KIND"),
    (["bogus"], "Invalid value for '[KIND]'"),
]


@pytest.mark.parametrize(("args", "said"), BAD, ids=lambda a: " ".join(a)[:40])
def test_bad_input_exits_2_with_one_line_before_any_request(
    emu: KindsEmulator, args: list[str], said: str
) -> None:
    before = emu.requests()
    result = listing(emu, *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert said in result.stderr
    assert emu.requests() == before


def test_a_kinds_jobs_show_as_a_table_on_a_terminal(emu: KindsEmulator) -> None:
    job_id = emu.add(lambda e: e.add_read_set_import_job(STORE, 1, timeline=DONE))
    args = ["list", "read-set-import", STORE, "--endpoint-url", emu.url]
    code, output = run_in_pty(
        [sys.executable, "-m", "omics_waiter", *args], cli_env(TERM="xterm", COLUMNS="120")
    )
    assert code == 0, output
    assert f"Read set import jobs in sequence store {STORE}" in output
    assert f"{STORE}/{job_id}" in output
    assert "{" not in output


def test_list_help_gives_lists_own_exit_codes() -> None:
    flat = " ".join(CliRunner().invoke(main, ["list", "--help"]).output.split())
    assert "0 listed" in flat
    assert "a job ended" not in flat  # wait's, not list's
    for word in ("run", "task", "variant-import", "workflow", "REFERENCE_STORE_ID"):
        assert word in flat
