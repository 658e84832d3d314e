"""Bad input to every public entry point is refused before any request, naming the argument.

One table: each row is an entry point, the arguments that differ from a valid call, and the
argument the `InvalidInputError` must name. Every row runs against the emulator through a real
aiobotocore client, and its counters prove that no request was sent. Watches must refuse when
they are created, before the first iteration. (The CLI's bad input is in test_cli.py.)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from kinds_table import job as kind_job
from kinds_table import response_ref
from omics_waiter import (
    ActivationJob,
    ActivationJobStatus,
    ActivationSource,
    AnnotationImportJobRef,
    InvalidInputError,
    OmicsWaiter,
    ReadSetActivationJobRef,
    ReadSetExportJobRef,
    ReadSetImportJobRef,
    ReferenceImportJobRef,
    Run,
    RunRef,
    RunStatus,
    SourceStatus,
    TaskRef,
    VariantImportJobRef,
    WorkflowRef,
    WorkflowVersionRef,
)
from omics_waiter._budget import RequestBudget
from omics_waiter._clock import AnyioClock
from omics_waiter.testing import OmicsEmulator

STORE, JOB, R1, R2 = "1234567890", "2345678901", "1111111111", "2222222222"
OTHER_STORE, OTHER_JOB = "3456789012", "4567890123"

MakeClient = Callable[..., Awaitable[Any]]

# A valid call of each entry point; a row replaces some of these arguments.
VALID: dict[str, dict[str, Any]] = {
    "OmicsWaiter": {},
    "OmicsWaiter.connect": {},
    "wait_for_activation_job": {"sequence_store_id": STORE, "job_id": JOB, "timeout": 5},
    "watch_activation_job": {"sequence_store_id": STORE, "job_id": JOB, "timeout": 5},
    "wait_for_activation_jobs": {"jobs": [(STORE, JOB)], "timeout": 5},
    "watch_activation_jobs": {"jobs": [(STORE, JOB)], "timeout": 5},
    "start_activation_job": {"sequence_store_id": STORE, "read_set_ids": [R1]},
    "list_activation_jobs": {"sequence_store_id": STORE},
    # The generic API, over jobs of any kind.
    "wait": {"ref": RunRef("1234567"), "timeout": 5},
    "watch": {"ref": RunRef("1234567"), "timeout": 5},
    "wait_many": {"refs": [RunRef("1234567"), TaskRef("1234567", "7654321")], "timeout": 5},
    "watch_many": {"refs": [RunRef("1234567"), TaskRef("1234567", "7654321")], "timeout": 5},
}
# Each reference type, with valid IDs.
REFS = {
    ReadSetActivationJobRef: {"sequence_store_id": STORE, "job_id": JOB},
    ReadSetImportJobRef: {"sequence_store_id": STORE, "job_id": JOB},
    ReadSetExportJobRef: {"sequence_store_id": STORE, "job_id": JOB},
    ReferenceImportJobRef: {"reference_store_id": STORE, "job_id": JOB},
    RunRef: {"run_id": "1234567"},
    TaskRef: {"run_id": "1234567", "task_id": "7654321"},
    VariantImportJobRef: {"job_id": "0123abcd-0123-4567-89ab-0123456789ab"},
    AnnotationImportJobRef: {"job_id": "0123abcd-0123-4567-89ab-0123456789ab"},
    WorkflowRef: {"workflow_id": "1234567"},
    WorkflowVersionRef: {"workflow_id": "1234567", "version_name": "v1.0"},
}
VALID |= {ref_type.__name__: ids for ref_type, ids in REFS.items()}

NOW = dt.datetime.now(dt.timezone.utc)
BAD_IDS = ["123", "1" * 37, "12345abcde", " 1234567890", "", 1234567890, None]
NOT_SECONDS = [0, -1, math.nan, math.inf, "5", True, None]  # for min_delay and max_delay
BAD_TIMEOUTS = [0, -5, math.nan, "60", True]
BAD_DEADLINES = [NOW - dt.timedelta(seconds=1), dt.datetime.now() + dt.timedelta(hours=1), 1e9]
NOT_BOOLS = ["yes", 1, None]


def job(store: str = STORE, job_id: str = JOB) -> ActivationJob:
    return ActivationJob(
        id=job_id,
        sequence_store_id=store,
        status=ActivationJobStatus.IN_PROGRESS,
        creation_time=NOW,
        sources=(ActivationSource(R1, SourceStatus.IN_PROGRESS),),
    )


def label(value: object) -> str:
    text = type(value).__name__ if hasattr(value, "__next__") else repr(value)
    return text if len(text) <= 24 else f"{text[:21]}..."


def _local_budget() -> RequestBudget:
    return RequestBudget(5.0, clock=AnyioClock())


def rows(entry: str, argument: str, values: list[Any]) -> list[Any]:
    return [
        pytest.param(entry, {argument: value}, argument, id=f"{entry}-{argument}={label(value)}")
        for value in values
    ]


def row(entry: str, args: dict[str, Any], argument: str, name: str, **marks: Any) -> Any:
    return pytest.param(entry, args, argument, id=f"{entry}-{argument}-{name}", **marks)


WAIT_OPTIONS = {
    "OmicsWaiter": [
        *rows("OmicsWaiter", "min_delay", NOT_SECONDS),
        *rows("OmicsWaiter", "max_delay", NOT_SECONDS),
        row("OmicsWaiter", {"min_delay": 10, "max_delay": 5}, "min_delay", "above-max_delay"),
        *rows("OmicsWaiter", "timeout", BAD_TIMEOUTS),
        *rows("OmicsWaiter", "max_tps", [0, -1, math.nan, math.inf, "5", True]),
        row("OmicsWaiter", {"budget": object()}, "budget", "not-a-budget"),
        row("OmicsWaiter", {"budget": _local_budget(), "max_tps": 5}, "max_tps", "with-budget"),
        *rows("OmicsWaiter", "not_found_grace", [-1, math.nan, math.inf, "30", None]),
        row("OmicsWaiter", {"max_tps": 10**400}, "max_tps", "huge-int"),
        row("OmicsWaiter", {"timeout": 10**400}, "timeout", "huge-int"),
    ],
    "OmicsWaiter.connect": [
        *rows("OmicsWaiter.connect", "connect_timeout", [0, -1, math.inf, "10", None]),
        *rows("OmicsWaiter.connect", "read_timeout", [0, math.nan, True]),
        *rows("OmicsWaiter.connect", "min_delay", [0, "1"]),
        *rows("OmicsWaiter.connect", "max_delay", [-1, math.inf]),
        row(
            "OmicsWaiter.connect",
            {"min_delay": 10, "max_delay": 5},
            "min_delay",
            "above-max_delay",
        ),
        *rows("OmicsWaiter.connect", "timeout", [0, "60"]),
        *rows("OmicsWaiter.connect", "max_tps", [0, math.inf]),
        *rows("OmicsWaiter.connect", "not_found_grace", [-1]),
        row(
            "OmicsWaiter.connect",
            {"read_timeout": 10**400},
            "read_timeout",
            "huge-int",
        ),
        row(
            "OmicsWaiter.connect",
            {"region_name": "not a region!"},
            "region_name",
            "malformed",
        ),
        row(
            "OmicsWaiter.connect",
            {"endpoint_url": "not a url"},
            "endpoint_url",
            "malformed",
        ),
        row(
            "OmicsWaiter.connect",
            {"profile_name": "no-such-profile-omics-waiter"},
            "profile_name",
            "unknown",
        ),
    ],
}


def single_job_rows(entry: str) -> list[Any]:
    return [
        *rows(entry, "sequence_store_id", BAD_IDS),
        *rows(entry, "job_id", BAD_IDS),
        *rows(entry, "timeout", BAD_TIMEOUTS),
        *[
            row(entry, {"timeout": None, "deadline": d}, "deadline", f"{i}")
            for i, d in enumerate(BAD_DEADLINES)
        ],
        row(entry, {"deadline": NOW + dt.timedelta(hours=1)}, "timeout", "and-deadline"),
        *rows(entry, "min_delay", [0, -1, math.inf, "1"]),
        *rows(entry, "max_delay", [0, math.inf, "1"]),
        row(entry, {"min_delay": 1.0}, "min_delay", "above-the-waiters-max_delay"),
        row(
            entry,
            {"max_delay": 0.01},
            "max_delay",
            "below-the-waiters-min_delay",
        ),
        row(entry, {"timeout": 10**400}, "timeout", "huge-int"),
    ]


def many_job_rows(entry: str) -> list[Any]:
    return [
        *rows(entry, "jobs", [STORE, 5, None, [STORE], [(STORE,)], [(STORE, JOB, JOB)]]),
        row(entry, {"jobs": [(STORE, "job")]}, "job_id", "malformed-id"),
        row(entry, {"jobs": [(5, JOB)]}, "sequence_store_id", "int-id"),
        row(entry, {"jobs": [(STORE, JOB), [STORE, JOB]]}, "jobs", "listed-twice"),
        *rows(entry, "timeout", BAD_TIMEOUTS),
        *[
            row(entry, {"timeout": None, "deadline": d}, "deadline", f"{i}")
            for i, d in enumerate(BAD_DEADLINES)
        ],
        row(entry, {"deadline": NOW + dt.timedelta(hours=1)}, "timeout", "and-deadline"),
        *rows(entry, "min_delay", [0, math.nan, "1"]),
        *rows(entry, "max_delay", [-1, math.inf]),
    ]


TABLE = [
    *WAIT_OPTIONS["OmicsWaiter"],
    *WAIT_OPTIONS["OmicsWaiter.connect"],
    *single_job_rows("wait_for_activation_job"),
    *rows("wait_for_activation_job", "accept_partial", NOT_BOOLS),
    *single_job_rows("watch_activation_job"),
    *rows("watch_activation_job", "since", [{"id": JOB}, [job()]]),
    row("watch_activation_job", {"since": job(job_id=OTHER_JOB)}, "since", "another-job"),
    row("watch_activation_job", {"since": job(store=OTHER_STORE)}, "since", "another-store"),
    *many_job_rows("wait_for_activation_jobs"),
    *rows("wait_for_activation_jobs", "accept_partial", NOT_BOOLS),
    *many_job_rows("watch_activation_jobs"),
    *rows("watch_activation_jobs", "source_progress", NOT_BOOLS),
    *rows("watch_activation_jobs", "since", [job(), 5, [{"id": JOB}]]),
    row("watch_activation_jobs", {"since": [job(job_id=OTHER_JOB)]}, "since", "a-job-not-watched"),
    *rows("start_activation_job", "sequence_store_id", BAD_IDS),
    *rows(
        "start_activation_job",
        "read_set_ids",
        [R1, [], [R1, R1], ["read-set"], [1111111111], {R1}, None, iter([R1])],
    ),
    row(
        "start_activation_job",
        {"read_set_ids": [str(10**9 + i) for i in range(21)]},
        "read_set_ids",
        "21-read-sets",
    ),
    *rows("start_activation_job", "client_token", ["", "x" * 128, 5]),
    *rows("list_activation_jobs", "sequence_store_id", BAD_IDS),
    *rows("list_activation_jobs", "status", ["PAUSED", "completed", 5]),
    *rows("list_activation_jobs", "limit", [0, -1, 1.5, True, "10"]),
    *rows("start_activation_job", "on_retry", ["print", 5]),
    *rows("list_activation_jobs", "on_retry", ["print", 5]),
]


# -- the generic API and the references ---------------------------------------------------

RUN = RunRef("1234567")
TASK = TaskRef("1234567", "7654321")
# Bad IDs per rule: store and job IDs (BAD_IDS), workflow-service IDs, version names, UUIDs.
BAD_WORKFLOWS_IDS = ["", "1" * 19, "12a", " 123", 1234567, None]
BAD_VERSION_NAMES = ["", "-v1", "v" * 65, "v 1", "v/1", 1, None]
BAD_UUIDS = [
    "0123ABCD-0123-4567-89AB-0123456789AB",
    "0123abcd0123456789ab0123456789ab",
    "0123abcd-0123-4567-89ab-0123456789a",
    "",
    5,
    None,
]
BAD_FIELD_VALUES = {
    "sequence_store_id": BAD_IDS,
    "reference_store_id": BAD_IDS,
    "job_id": BAD_IDS,
    "run_id": BAD_WORKFLOWS_IDS,
    "task_id": BAD_WORKFLOWS_IDS,
    "workflow_id": BAD_WORKFLOWS_IDS,
    "version_name": BAD_VERSION_NAMES,
}


def reference_rows() -> list[Any]:
    out = []
    for ref_type, ids in REFS.items():
        for name in ids:
            uuid = ref_type in (VariantImportJobRef, AnnotationImportJobRef)
            out += rows(ref_type.__name__, name, BAD_UUIDS if uuid else BAD_FIELD_VALUES[name])
    return out


def other_run() -> Run:
    return Run(id="7654321", status=RunStatus.RUNNING)


NOT_REFS = [
    "1234567",
    ("1234567890", "2345678901"),
    None,
    RunRef,
    Run("1234567", RunStatus.RUNNING),
]
BAD_UNTILS = [5, "running", "COMPLETED", "FAILED", "ACTIVE", "IN_PROGRESS", ""]


def generic_rows() -> list[Any]:
    out = []
    for entry in ("wait", "watch"):
        out += [
            *rows(entry, "ref", NOT_REFS),
            *rows(entry, "timeout", [0, "60"]),
            row(entry, {"timeout": None, "deadline": BAD_DEADLINES[0]}, "deadline", "past"),
            *rows(entry, "min_delay", [0, "1"]),
            row(entry, {"max_delay": 0.01}, "max_delay", "below-the-waiters-min_delay"),
        ]
    for entry in ("wait_many", "watch_many"):
        out += [
            *rows(entry, "refs", ["1234567", RUN, 5, None, [RUN, "1234567"], [RUN, None]]),
            row(entry, {"refs": [RUN, TASK, RunRef("1234567")]}, "refs", "listed-twice"),
            row(
                entry,
                {"refs": [ReadSetActivationJobRef(STORE, JOB)] * 2},
                "refs",
                "activation-listed-twice",
            ),
            *rows(entry, "timeout", [-5, True]),
            *rows(entry, "max_delay", [math.inf]),
        ]
    out += [
        *rows("wait", "until", BAD_UNTILS),
        row("wait", {"ref": TASK, "until": "DELETED"}, "until", "a-task-is-never-deleted"),
        row(
            "wait",
            {"ref": ReadSetActivationJobRef(STORE, JOB), "until": "RUNNING"},
            "until",
            "a-runs-status-for-a-job",
        ),
        row("wait", {"ref": WorkflowRef("1234567"), "until": "ACTIVE"}, "until", "terminal"),
        *rows("wait", "accept_partial", NOT_BOOLS),
        *rows("wait_many", "accept_partial", NOT_BOOLS),
        # since: not a job, a job of another kind (even with the same IDs), another job.
        *rows("watch", "since", [{"id": "1234567"}, "1234567", [other_run()]]),
        row("watch", {"since": kind_job("task", "RUNNING")}, "since", "a-task-for-a-run"),
        row("watch", {"since": other_run()}, "since", "another-run"),
        row(
            "watch",
            {"ref": ReadSetImportJobRef(STORE, JOB), "since": job()},
            "since",
            "an-activation-job-for-an-import-job",
        ),
        row(
            "watch",
            {"ref": WorkflowRef("4242424"), "since": kind_job("workflow-version", "CREATING")},
            "since",
            "a-version-for-its-workflow",
        ),
        *rows("watch_many", "since", [other_run(), 5, "1234567", [{"id": "1234567"}]]),
        row("watch_many", {"since": [other_run()]}, "since", "a-job-not-watched"),
        row(
            "watch_many",
            {"refs": [response_ref("task")], "since": [kind_job("run", "RUNNING")]},
            "since",
            "the-run-of-a-task-watched",
        ),
        *rows("watch", "items", NOT_BOOLS),
        *rows("watch_many", "items", NOT_BOOLS),
        *rows("watch_many", "final_only", NOT_BOOLS),
        row("watch_many", {"final_only": True, "items": True}, "final_only", "with-items"),
    ]
    return out


TABLE += [*generic_rows(), *reference_rows()]


async def call(entry: str, args: dict[str, Any], emu: OmicsEmulator, client: Any) -> None:
    """Call `entry` with `args`; watches are created, not iterated."""
    ref_types = {ref_type.__name__: ref_type for ref_type in REFS}
    if entry in ref_types:
        ref_types[entry](**args)
        return
    if entry == "OmicsWaiter":
        OmicsWaiter(client, **args)
        return
    if entry == "OmicsWaiter.connect":
        endpoint = {
            "endpoint_url": emu.endpoint_url,
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        async with OmicsWaiter.connect(**(endpoint | args)):
            return
    waiter = OmicsWaiter(client, min_delay=0.05, max_delay=0.2, max_tps=50)
    method = getattr(waiter, entry)
    if entry.startswith("watch"):
        method(**args)
    else:
        await method(**args)


@pytest.mark.asyncio
@pytest.mark.parametrize(("entry", "args", "argument"), TABLE)
async def test_bad_input_is_refused_before_any_request_naming_the_argument(
    emulator: OmicsEmulator,
    make_client: MakeClient,
    entry: str,
    args: dict[str, Any],
    argument: str,
) -> None:
    client = await make_client(emulator)
    with anyio.fail_after(5), pytest.raises(InvalidInputError) as info:
        await call(entry, VALID[entry] | args, emulator, client)
    assert (info.value.argument, isinstance(info.value, ValueError)) == (argument, True)
    assert emulator.stats.requests == {}
