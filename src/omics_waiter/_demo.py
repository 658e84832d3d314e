"""``omics-waiter demo``: the real client and the live display against an embedded emulator.

Everything the demo does goes over HTTP through aiobotocore, signed with SigV4, to an
`OmicsEmulator` listening on a free local port: the same code path as against AWS. It follows
a small pipeline of three kinds at once: activation jobs it starts, a read set import job and
a workflow run with its tasks. The emulator is seeded, fails some read sets and tasks on
purpose and throttles some requests, so every part of the display has something to show.
"""

from __future__ import annotations

import random
import sys
from typing import TYPE_CHECKING, Any

from ._display import JobBoard
from ._refs import JobRef, ReadSetImportJobRef, RunRef
from ._waiter import OmicsWaiter
from .testing import Faults, OmicsEmulator

if TYPE_CHECKING:
    from ._cli import Settings

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


async def run_demo(
    settings: Settings,
    *,
    jobs: int,
    seed: int,
    job_seconds: tuple[float, float],
    failure_rate: float,
) -> int:
    """Run the demo; return its exit code (0 when every job reached a terminal status)."""
    # Imported here: _cli imports this module lazily, and this needs its helpers.
    from ._cli import (
        board_exit_code,
        chunk_requests,
        follow_until_stopped,
        report_errors,
        start_and_follow,
    )

    store, requests = demo_requests(seed, jobs)
    emulator = OmicsEmulator(
        access_key=_CREDENTIALS,
        secret_key=_CREDENTIALS,
        seed=seed,
        job_seconds=job_seconds,
        failure_rate=failure_rate,
        faults=Faults(throttle_rate=_THROTTLE_RATE),
    )
    async with emulator:
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
        if not settings.json_output and not settings.quiet:
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
        )
        async with connection as waiter:
            board.budget = waiter.budget
            with settings.reporter(board) as reporter:
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
