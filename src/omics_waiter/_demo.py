"""``omics-waiter demo``: the real client and the live display against an embedded emulator.

Everything the demo does goes over HTTP through aiobotocore, signed with SigV4, to an
`OmicsEmulator` listening on a free local port: the same code path as against AWS. It follows
a small pipeline of three kinds at once: activation jobs it starts, a read set import job and
a workflow run with its tasks. The emulator is seeded, fails some read sets and tasks on
purpose and throttles some requests, so every part of the display has something to show.
"""

from __future__ import annotations

import contextlib
import importlib.util
import random
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio

from ._cli_common import (
    Settings,
    board_exit_code,
    chunk_requests,
    follow_until_stopped,
    report_errors,
    start_and_follow,
)
from ._display import JobBoard, LiveDisplay, ProgressLines, Reporter
from ._errors import InvalidInputError, OmicsWaiterError
from ._refs import JobRef, ReadSetImportJobRef, RunRef
from ._waiter import OmicsWaiter
from .testing import Faults, OmicsEmulator

__all__ = ["demo_requests", "run_demo"]

# Close polling suits jobs of seconds; the emulator throttles 10% of requests at random, so that
# retries show in the display.
_MIN_DELAY = 0.5
_MAX_DELAY = 2.0
_THROTTLE_RATE = 0.1
_CREDENTIALS = "testing"
# The pipeline around the activation jobs: a read set import of this many sources, and a
# workflow run of this many tasks.
_IMPORT_SOURCES = 4
_RUN_TASKS = 3
# With --events: a dropped event delays a job's detection by at most this long.
_RECONCILE_DELAY = 10.0


def _digits(rng: random.Random, count: int = 12) -> str:
    return str(rng.randrange(10 ** (count - 1), 10**count))


def demo_requests(seed: int, jobs: int) -> tuple[str, list[list[str]]]:
    """A sequence store and `jobs` lists of 1 to 20 distinct read set IDs, drawn from `seed`."""
    rng = random.Random(f"omics-waiter-demo:{seed}")
    store = _digits(rng, 10)
    seen: set[str] = set()
    requests = []
    for _ in range(jobs):
        read_sets: list[str] = []
        for _ in range(rng.randint(1, 20)):
            read_set = _digits(rng)
            while read_set in seen:
                read_set = _digits(rng)
            seen.add(read_set)
            read_sets.append(read_set)
        requests.append(read_sets)
    return store, requests


def _note(board: JobBoard, failure_rate: float) -> str:
    failed = sum(1 for row in board if row.succeeded is False)
    note = "The demo ran to its end (exit 0)."
    if failed:
        note += (
            f" {failed} of {len(board)} jobs ended with failures: the emulator fails "
            f"{failure_rate:.0%} of read sets and tasks on purpose. Against AWS, "
            "`omics-waiter wait` would exit 1 for such jobs."
        )
    return note


@contextlib.asynccontextmanager
async def _moto_server() -> AsyncIterator[str]:
    """moto's standalone server (EventBridge and SQS) on a free port, for ``demo --events``.

    moto is a test dependency (``omics-waiter[test]``), so the demo starts it only when asked.
    """
    if importlib.util.find_spec("moto") is None:
        raise InvalidInputError(
            "demo --events needs moto's server: pip install 'moto[server]' "
            "(it is in omics-waiter[test])",
            argument="events",
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(  # noqa: ASYNC220 - starts at once; waited for below, async
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with anyio.fail_after(30):
            while True:
                try:
                    stream = await anyio.connect_tcp("127.0.0.1", port)
                except OSError:
                    if process.poll() is not None:
                        raise OmicsWaiterError("moto's server did not start") from None
                    await anyio.sleep(0.1)
                    continue
                await stream.aclose()
                break
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def run_demo(
    settings: Settings,
    *,
    jobs: int,
    seed: int,
    job_seconds: tuple[float, float],
    failure_rate: float,
    events: bool = False,
) -> int:
    """Run the demo; return its exit code (0 when every job reached a terminal status).

    With `events`, moto's server stands in for EventBridge and SQS: the emulator publishes
    each status change (0.2-1 s late, in any order), and the waiter follows them.
    """
    store, requests = demo_requests(seed, jobs)
    async with contextlib.AsyncExitStack() as stack:
        push: dict[str, Any] = {}
        emulator_push: dict[str, Any] = {}
        if events:
            moto = await stack.enter_async_context(_moto_server())
            from ._events_setup import setup_events

            queue_url = await setup_events(
                "omics-waiter-demo",
                region_name="us-east-1",
                endpoint_url=moto,
                aws_access_key_id=_CREDENTIALS,
                aws_secret_access_key=_CREDENTIALS,
            )
            push = {"events_queue_url": queue_url, "reconcile_delay": _RECONCILE_DELAY}
            # Best effort, as the service: events come 0.2-1 s late, in any order.
            emulator_push = {"events_endpoint_url": moto, "event_delay": (0.2, 1.0)}
        emulator = OmicsEmulator(
            access_key=_CREDENTIALS,
            secret_key=_CREDENTIALS,
            seed=seed,
            job_seconds=job_seconds,
            failure_rate=failure_rate,
            faults=Faults(throttle_rate=_THROTTLE_RATE),
            **emulator_push,
        )
        await stack.enter_async_context(emulator)
        return await _show(
            settings, emulator, store, requests, jobs, job_seconds, failure_rate, push
        )


def _reporter(settings: Settings, board: JobBoard) -> Reporter:
    """The live display on a terminal; readable progress lines off one (a pipe, a CI log);
    JSON lines only with --json (and with --quiet off a terminal, as for every command)."""
    if settings.json or settings.quiet:
        return settings.reporter(board)
    if sys.stdout.isatty():
        from rich.console import Console

        return LiveDisplay(Console(), board)
    return ProgressLines(sys.stdout, board)


async def _show(
    settings: Settings,
    emulator: OmicsEmulator,
    store: str,
    requests: list[list[str]],
    jobs: int,
    job_seconds: tuple[float, float],
    failure_rate: float,
    push: dict[str, Any],
) -> int:
    """Follow the demo's pipeline on `emulator`; return the exit code."""
    # The rest of the pipeline, put straight into the emulator (the service starts these
    # from S3 files and workflow definitions the demo does not have): an import into the
    # same store, and a workflow run whose tasks are its items.
    others: list[JobRef[Any]] = [
        ReadSetImportJobRef(
            store, emulator.add_read_set_import_job(store, sources=_IMPORT_SOURCES)
        ),
        RunRef(emulator.add_run(tasks=_RUN_TASKS, name="demo-germline")),
    ]
    board = JobBoard(others, tasks=not settings.quiet)
    if not settings.json and not settings.quiet:
        total = sum(len(r) for r in requests)
        sys.stdout.write(
            f"Embedded HealthOmics emulator at {emulator.endpoint_url}: starting {jobs} "
            f"activation job{'s' if jobs != 1 else ''} ({total} read sets) in sequence "
            f"store {store}, alongside a read set import job ({_IMPORT_SOURCES} sources) "
            f"and a workflow run ({_RUN_TASKS} tasks).\n"
        )
        sys.stdout.flush()
    connection = OmicsWaiter.connect(
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=_CREDENTIALS,
        aws_secret_access_key=_CREDENTIALS,
        min_delay=_MIN_DELAY,
        max_delay=_MAX_DELAY,
        timeout=job_seconds[1] + 60.0,
        **push,
    )
    async with connection as waiter:
        board.budget = waiter.budget
        with _reporter(settings, board) as reporter:
            await follow_until_stopped(
                board,
                reporter,
                lambda: start_and_follow(
                    waiter,
                    store,
                    [
                        (read_sets, token)
                        for read_sets in requests
                        for _, token in chunk_requests(store, read_sets, None)
                    ],
                    board,
                    reporter,
                    timeout=None,
                    quiet=settings.quiet,
                    others=others,
                ),
            )
            code = board_exit_code(board)
            reporter.finish(board, note=_note(board, failure_rate) if code in (0, 1) else None)

    report_errors(board)
    # Failures are part of the show: exit 1 only means "a job failed", which the demo
    # arranges on purpose. Anything else (a timeout, a service error) is a real failure.
    return 0 if code == 1 else code
