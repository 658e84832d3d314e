"""Benchmark: waiting on many jobs at once, against a quota.

Three suites, each contender run one after another in this process on a fresh emulator with the
same seed and therefore an identical population (same IDs, items and life cycles):

Read set activation jobs (``--suite jobs``; 200 jobs in one sequence store):

1. ``ours-many``: this library's many-job watch (``OmicsWaiter.watch_activation_jobs``),
   and ``ours-many-final``: the same with ``final_only=True``;
2. ``aiobotocore``: aiobotocore's own waiter, ``read_set_activation_job_completed``, one
   ``wait()`` per job under ``asyncio.gather``, ``Delay`` = our ``min_delay``, the client's
   default retry configuration;
3. ``ours-single``: this library's single-job waiter, one ``wait_for_activation_job`` per job,
   each in its own task, on one waiter entered with ``async with`` (its background task runs
   the scheduler);
4. ``ours-single-handover``: the same on a waiter *not* entered with ``async with``: the
   waiting consumers run the scheduler in turn (handover);
5. ``ours-wait-many``: one ``wait_many`` over every job.

Runs (``--suite runs``; 200 runs, ListRuns filtered by each active status):
``runs-wait-many``, ``runs-wait`` (one ``wait(RunRef)`` per run, each in its own task, inside
``async with``), ``runs-wait-handover`` (the same without ``async with``) and
``runs-aiobotocore`` (aiobotocore's ``run_completed`` waiter, one per run).

Push (``--suite push``; the activation jobs' population): ``wait_many`` on a waiter that
receives HealthOmics status-change events (``connect(events_queue_url=...)``), polling only to
reconcile: ``push`` with every event delivered, ``push-drop20`` with 20% of events dropped
(``event_drop_rate=0.2``); the table shows them beside ``ours-wait-many`` (polling) and
``aiobotocore``, which run with the jobs suite (or, with ``--suite push`` alone, for it). A
moto server started here stands in for EventBridge and SQS; each push contender gets a fresh
queue and rule from the library's own ``setup_events`` (``omics-waiter events setup``) and an
emulator that publishes every status change ``--event-delay`` (0.2-1.0 s, uniform) late.
``--reconcile-delay`` is 10 s here, not the library's 60 s default: a dropped final event
then costs at most about 10 s, which keeps the run short; the bound checked for each job whose
final event was dropped is ``reconcile_delay`` plus one sweep (the sweep's List pages and the
confirming Get at the quota).

Clients (``--suite clients``, not part of ``all``; the activation jobs' population): the
client CPU of a ``final_only`` many-job watch on a waiter built by hand, ``OmicsWaiter(client)``,
for two clients: ``client-usual``, made the usual way (``session.create_client("omics")``; only
its retries and host prefixes turned off, as the emulator and a fair comparison need), whose
timestamps botocore parses with dateutil; and ``client-open``, made by
``OmicsWaiter.open_client()``, as ``connect()`` makes its own. The targets block gives the
client thread's CPU per job.

Run (about 10 minutes 30 seconds for the jobs and runs suites at the defaults on 2 cores,
tracemalloc pass included; the push suite adds about 2 minutes 15 seconds to that, and takes
about 4 minutes 15 seconds alone, its two companions included)::

    .venv/bin/python benchmarks/many_jobs.py                # tables
    .venv/bin/python benchmarks/many_jobs.py --suite runs   # one suite
    .venv/bin/python benchmarks/many_jobs.py --suite push   # push, beside polling and the SDK
    .venv/bin/python benchmarks/many_jobs.py --suite clients --no-tracemalloc  # client CPU
    .venv/bin/python benchmarks/many_jobs.py --json > out.json
    .venv/bin/python benchmarks/many_jobs.py --metrics --no-tracemalloc   # metrics overhead

Metrics (``--metrics``): after the usual runs, each contender of ours runs again in pairs,
``--metrics-repeats`` times: without the OpenTelemetry SDK (the API alone records nothing),
and with it recording (``meter_provider=`` an SDK ``MeterProvider`` with an in-memory reader,
collected after the run). The halves of a pair run back to back, so that both see the same
load on the machine, and each goes first in every other pair. The table gives the median client
CPU of each half, the median of the pairs' ratios, and the detection-delay histogram's p50 and
p95 (interpolated within buckets, as Prometheus's ``histogram_quantile`` does) beside the
benchmark's own p50 and p95 of the same run. Whole runs on a busy machine differ by more than
the recording costs, so one more run per contender, with the SDK, times the recorder itself:
every call into it adds the client thread's CPU time it took (``time.thread_time_ns``), and
the table gives their sum and its share of the run's client CPU. Without the flag nothing
changes.

The emulator runs in a background thread of this process (own event loop), so the process's
CPU time includes it; the "client CPU" row is the main thread's CPU time alone.

Detection latency is the time the caller learned a job's final status (the watch's terminal
event, or ``wait()`` returning or raising) minus the emulator's true completion time.
``wait_many`` tells its caller only once, when every job is done, so for it the latency is
taken when the job's final Get answer reached the client; for every contender of ours the
table also shows how long the caller waited after that answer arrived ("answer -> caller").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import hashlib
import json
import math
import platform
import random
import statistics
import sys
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import _common
from _common import EmulatorThread, RssSampler, durations, max_rss_bytes, percentile

from omics_waiter import (
    JobFailedError,
    JobRef,
    JobStatusChanged,
    JobWatchFailed,
    OmicsWaiter,
    OmicsWaiterError,
    PollRetrying,
    ReadSetActivationJobRef,
    RunRef,
)
from omics_waiter._events_setup import setup_events, teardown_events
from omics_waiter.testing import Faults, OmicsEmulator

REGION = "us-east-1"
KEY = "testing"
STORE_BASE = 1_000_000_000  # sequence store IDs: 10 digits
FAILURE_RATE = 0.05  # per read set (activation jobs), per task (runs)
TERMINAL_FAILURES = {"FAILED", "COMPLETED_WITH_FAILURES", "CANCELLED"}
PAGE = 100  # items per List page, as the library asks
RUN_ACTIVE_STATUSES = 4  # ListRuns is swept once per active status: PENDING ... STOPPING


# -- the populations ----------------------------------------------------------------------


@dataclass(frozen=True)
class Population:
    """The read sets of every job, drawn from the seed; the emulator draws the durations."""

    jobs: list[tuple[str, list[str]]]  # (store, read set IDs), in creation order

    @classmethod
    def draw(cls, seed: int, count: int, stores: int) -> Population:
        rng = random.Random(f"{seed}:population")
        jobs = []
        for i in range(count):
            store = str(STORE_BASE + i % stores)
            read_sets = [str(rng.randrange(10**11, 10**12)) for _ in range(rng.randint(1, 20))]
            jobs.append((store, read_sets))
        return cls(jobs)

    def create(self, emu: OmicsEmulator) -> list[tuple[str, str]]:
        return [(store, emu.add_job(store, read_sets)) for store, read_sets in self.jobs]

    @staticmethod
    def ref(scope: str, job: str) -> JobRef[Any]:
        return ReadSetActivationJobRef(scope, job)


@dataclass(frozen=True)
class RunPopulation:
    """Runs with 1-3 tasks each; the emulator draws durations, tasks and outcomes."""

    count: int

    def create(self, emu: OmicsEmulator) -> list[tuple[str, str]]:
        return [("run", emu.add_run(name=f"bench-{i}")) for i in range(self.count)]

    @staticmethod
    def ref(scope: str, job: str) -> JobRef[Any]:
        return RunRef(job)


@dataclass(frozen=True)
class Suite:
    name: str
    title: str
    get_op: str
    list_op: str
    sdk_waiter: str  # botocore's waiter name
    population: str = "jobs"  # whose jobs: "jobs" or "runs"
    #: Contenders of other suites shown in this suite's table too (run once, for either).
    companions: tuple[str, ...] = ()
    #: Whether ``--suite all`` (the default) runs it.
    in_all: bool = True

    def pages(self, jobs: int, stores: int) -> int:
        """List pages of one full sweep with every job watched (an upper bound for runs)."""
        if self.population == "runs":
            # One List per active status; 200 runs spread over them fill at most one status
            # past its first page.
            return RUN_ACTIVE_STATUSES + math.ceil(jobs / PAGE) - 1
        per_store = math.ceil(jobs / stores)
        return stores * math.ceil(per_store / PAGE)

    def polling_limit(self, jobs: int, stores: int, quota: float) -> float:
        """Half a List sweep at the quota, plus one Get at the quota (seconds)."""
        return self.pages(jobs, stores) / (2 * quota) + 1 / quota


SUITES = {
    "jobs": Suite(
        "jobs",
        "read set activation jobs",
        "GetReadSetActivationJob",
        "ListReadSetActivationJobs",
        "read_set_activation_job_completed",
    ),
    "runs": Suite("runs", "runs", "GetRun", "ListRuns", "run_completed", population="runs"),
    "push": Suite(
        "push",
        "push events (EventBridge via SQS, moto server), read set activation jobs",
        "GetReadSetActivationJob",
        "ListReadSetActivationJobs",
        "read_set_activation_job_completed",
        companions=("ours-wait-many", "aiobotocore"),
    ),
    "clients": Suite(
        "clients",
        "client CPU of a waiter built by hand, OmicsWaiter(client), read set activation jobs",
        "GetReadSetActivationJob",
        "ListReadSetActivationJobs",
        "read_set_activation_job_completed",
        in_all=False,
    ),
}

#: The push contenders, and the share of status-change events their emulator drops.
PUSH_DROP_RATES = {"push": 0.0, "push-drop20": 0.2}


# -- results ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a contender learned: per job, its verdict (final status) or why the wait failed."""

    verdicts: dict[str, str] = field(default_factory=dict)  # job -> final status
    failures: dict[str, str] = field(default_factory=dict)  # job -> reason
    arrivals: dict[str, float] = field(default_factory=dict)  # job -> clock time
    answers: dict[str, float] = field(default_factory=dict)  # job -> first final Get answer
    notes: dict[str, Any] = field(default_factory=dict)
    stores: dict[str, str] = field(default_factory=dict)  # job -> store ("run" for runs)
    #: "caller": arrivals are when the caller was told; "answer": when the final Get landed.
    measured_at: str = "caller"

    def created(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        self.stores.update((job, store) for store, job in pairs)
        return pairs

    def settle(self, job: str, *, status: str | None = None, failure: str | None = None) -> None:
        self.arrivals[job] = _common.clock()
        if status is not None:
            self.verdicts[job] = status
        else:
            self.failures[job] = failure or "unknown"

    def answered(self, job: str) -> None:
        self.answers.setdefault(job, _common.clock())


@dataclass
class Result:
    name: str
    suite: str
    wall: float
    requests: dict[str, dict[str, int]]
    cpu_process: float
    cpu_client: float
    peak_rss: int
    start_rss: int
    max_rss: int
    tracemalloc_peak: int | None
    outcome: Outcome
    latencies: list[float]
    handoffs: list[float]  # answer -> caller, per job
    wrong_verdicts: int
    population: str
    events: dict[str, int]  # the emulator's status-change events, by outcome (push only)
    #: Push: the detection latency of each job whose final event was dropped; None else.
    dropped_finals: list[float] | None = None
    dropped_final_jobs: int = 0  # jobs whose final event was dropped, detected or not

    def requests_by_op(self, op: str) -> int:
        return sum(self.requests.get(op, {}).values())

    @property
    def total_requests(self) -> int:
        return sum(sum(codes.values()) for codes in self.requests.values())

    @property
    def throttled(self) -> int:
        return sum(codes.get("429", 0) for codes in self.requests.values())

    def to_json(self) -> dict[str, Any]:
        lat = self.latencies
        return {
            "contender": self.name,
            "suite": self.suite,
            "wall_seconds": round(self.wall, 3),
            "requests": self.requests,
            "requests_total": self.total_requests,
            "throttled_responses": self.throttled,
            "verdicts": len(self.outcome.verdicts),
            "verdict_statuses": dict(Counter(self.outcome.verdicts.values())),
            "wrong_verdicts": self.wrong_verdicts,
            "failed_waits": len(self.outcome.failures),
            "failure_reasons": dict(Counter(self.outcome.failures.values())),
            "detection_latency_seconds": {
                "measured_at": self.outcome.measured_at,
                "n": len(lat),
                "p50": percentile(lat, 50),
                "p95": percentile(lat, 95),
                "max": max(lat) if lat else None,
                "mean": sum(lat) / len(lat) if lat else None,
                "p50_all_jobs_failed_as_never": _all_jobs_p50(self),
            },
            "answer_to_caller_seconds": {
                "n": len(self.handoffs),
                "p50": percentile(self.handoffs, 50),
                "p95": percentile(self.handoffs, 95),
                "max": max(self.handoffs) if self.handoffs else None,
            },
            "cpu_seconds_process": round(self.cpu_process, 3),
            "cpu_seconds_client_thread": round(self.cpu_client, 3),
            "peak_rss_bytes_in_run": self.peak_rss,
            "rss_bytes_at_start_of_run": self.start_rss,
            "ru_maxrss_bytes_after_run": self.max_rss,
            "tracemalloc_peak_bytes": self.tracemalloc_peak,
            "population_fingerprint": self.population,
            "events": self.events,
            "jobs_with_final_event_dropped": self.dropped_final_jobs,
            "dropped_final_detection_seconds": self.dropped_finals,
            "notes": self.outcome.notes,
        }


# -- contenders ---------------------------------------------------------------------------

AnyPopulation = Population | RunPopulation
Runner = Callable[[str, AnyPopulation, OmicsEmulator, argparse.Namespace], Awaitable[Outcome]]


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options = {"min_delay": args.min_delay, "max_delay": args.max_delay, "max_tps": args.quota}
    if args.meter_provider is not None:  # the metrics run of --metrics
        options["meter_provider"] = args.meter_provider
    return options


def _connect(url: str, args: argparse.Namespace) -> Any:
    push: dict[str, Any] = {}
    if args.events_queue_url is not None:  # a push contender's (see _push_queue)
        push = {
            "events_queue_url": args.events_queue_url,
            "sqs_endpoint_url": args.moto_url,
            "reconcile_delay": args.reconcile_delay,
        }
    return OmicsWaiter.connect(
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=KEY,
        aws_secret_access_key=KEY,
        **_options(args),
        **push,
    )


@contextlib.asynccontextmanager
async def _unentered(url: str, args: argparse.Namespace) -> AsyncIterator[OmicsWaiter]:
    """A waiter never entered with ``async with``: its consumers run the scheduler in turn.

    Its client is the one `OmicsWaiter.connect` makes (`OmicsWaiter.open_client`), so only
    the handover differs.
    """
    async with OmicsWaiter.open_client(
        region_name=REGION, endpoint_url=url, aws_access_key_id=KEY, aws_secret_access_key=KEY
    ) as client:
        yield OmicsWaiter(client, **_options(args))


class _TimedRecorder:
    """Passes every call on to a waiter's metrics recorder, adding up the CPU time of the
    calling thread (the client's) that each takes (`--metrics`' accounting run)."""

    def __init__(self, inner: Any, totals: dict[str, int]) -> None:
        self._inner = inner
        self._totals = totals

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)
        totals = self._totals

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time_ns()
            try:
                return method(*args, **kwargs)
            finally:
                totals["ns"] += time.thread_time_ns() - started
                totals["calls"] += 1

        return timed


#: Set by `_run_metrics` for its accounting runs: where `_TimedRecorder` adds up.
_RECORDING: dict[str, int] | None = None


def _record_answers(waiter: OmicsWaiter, out: Outcome) -> None:
    """Note when each job's first final Get answer reaches the client.

    Wraps the waiter's request layer for this benchmark only (a private attribute): it
    changes no decision, it only reads the answers on their way in. In `--metrics`'
    accounting runs, also times the waiter's metrics recorder (private attributes as well).
    """
    if _RECORDING is not None:
        timed = _TimedRecorder(waiter._metrics, _RECORDING)
        waiter._api.metrics = timed
        waiter._scheduler._metrics = timed
    api = waiter._api
    original = api.get

    async def get(kind: Any, ref: JobRef[Any], **kwargs: Any) -> Any:
        job = await original(kind, ref, **kwargs)
        if kind.is_terminal(str(job.status)):
            out.answered(ref.ids[-1])
        return job

    api.get = get  # type: ignore[method-assign]


@contextlib.asynccontextmanager
async def _hand_built(
    url: str, args: argparse.Namespace, *, fast: bool
) -> AsyncIterator[OmicsWaiter]:
    """A waiter built by hand, ``OmicsWaiter(client)``, entered with ``async with``: on a client
    from `OmicsWaiter.open_client` (fast), or made the usual way, with botocore's timestamp
    parser (only its retries and host prefixes off, so that the parser alone differs)."""
    import aiobotocore.session
    from aiobotocore.config import AioConfig

    credentials = {"aws_access_key_id": KEY, "aws_secret_access_key": KEY}
    opener: Any
    if fast:
        opener = OmicsWaiter.open_client(region_name=REGION, endpoint_url=url, **credentials)
    else:
        config = AioConfig(
            inject_host_prefix=False, retries={"mode": "standard", "total_max_attempts": 1}
        )
        opener = aiobotocore.session.AioSession().create_client(
            "omics", region_name=REGION, endpoint_url=url, config=config, **credentials
        )
    async with opener as client, OmicsWaiter(client, **_options(args)) as waiter:
        yield waiter


async def ours_many(
    url: str,
    population: AnyPopulation,
    emu: OmicsEmulator,
    args: argparse.Namespace,
    *,
    final_only: bool = False,
    opener: Callable[[str, argparse.Namespace], Any] = _connect,
) -> Outcome:
    out = Outcome()
    events: Counter[str] = Counter()
    async with opener(url, args) as waiter:
        _record_answers(waiter, out)
        pairs = out.created(population.create(emu))
        watch = waiter.watch_activation_jobs(pairs, timeout=args.timeout, final_only=final_only)
        async for event in watch:
            events[type(event).__name__] += 1
            if isinstance(event, JobStatusChanged) and event.is_terminal:
                out.settle(event.job.id, status=event.job.status.value)
            elif isinstance(event, JobWatchFailed):
                out.settle(event.job_id, failure=type(event.error).__name__)
            elif isinstance(event, PollRetrying):
                events[f"PollRetrying:{event.operation}:{event.reason}"] += 1
    out.notes["events"] = dict(events)
    return out


async def _settle(out: Outcome, job: str, wait: Awaitable[Any]) -> None:
    """Await one job's wait and record its outcome: a verdict or the error's name."""
    try:
        final = await wait
    except JobFailedError as exc:  # a verdict: FAILED, COMPLETED_WITH_FAILURES, ...
        out.settle(job, status=str(exc.job.status))
    except OmicsWaiterError as exc:
        out.settle(job, failure=type(exc).__name__)
    else:
        out.settle(job, status=str(final.status))


async def ours_single(
    url: str, population: AnyPopulation, emu: OmicsEmulator, args: argparse.Namespace
) -> Outcome:
    out = Outcome()
    async with _connect(url, args) as waiter:
        _record_answers(waiter, out)
        pairs = out.created(population.create(emu))
        await asyncio.gather(
            *(
                _settle(out, job, waiter.wait_for_activation_job(store, job, timeout=args.timeout))
                for store, job in pairs
            )
        )
    return out


async def _concurrent_waits(
    opener: Callable[[str, argparse.Namespace], Any],
    url: str,
    population: AnyPopulation,
    emu: OmicsEmulator,
    args: argparse.Namespace,
) -> Outcome:
    """One ``wait()`` per job, each in a task of its own, as request handlers would, on the
    waiter `opener` makes (entered with ``async with``, or not)."""
    out = Outcome()
    async with opener(url, args) as waiter:
        _record_answers(waiter, out)
        pairs = out.created(population.create(emu))
        tasks = [
            asyncio.create_task(
                _settle(out, job, waiter.wait(population.ref(scope, job), timeout=args.timeout))
            )
            for scope, job in pairs
        ]
        await asyncio.gather(*tasks)
    return out


async def ours_waits(
    url: str, population: AnyPopulation, emu: OmicsEmulator, args: argparse.Namespace
) -> Outcome:
    return await _concurrent_waits(_connect, url, population, emu, args)


async def ours_waits_handover(
    url: str, population: AnyPopulation, emu: OmicsEmulator, args: argparse.Namespace
) -> Outcome:
    return await _concurrent_waits(_unentered, url, population, emu, args)


async def ours_wait_many(
    url: str, population: AnyPopulation, emu: OmicsEmulator, args: argparse.Namespace
) -> Outcome:
    out = Outcome(measured_at="answer")
    async with _connect(url, args) as waiter:
        _record_answers(waiter, out)
        pairs = out.created(population.create(emu))
        refs = [population.ref(scope, job) for scope, job in pairs]
        outcomes = await waiter.wait_many(refs, timeout=args.timeout)
        returned = _common.clock()
    for (_, job), outcome in zip(pairs, outcomes, strict=True):
        if isinstance(outcome, JobFailedError):
            out.settle(job, status=str(outcome.job.status))
        elif isinstance(outcome, BaseException):
            out.settle(job, failure=type(outcome).__name__)
        else:
            out.settle(job, status=str(outcome.status))
        # The caller is told of every job at once, at the end: take each job's final answer.
        out.arrivals[job] = out.answers.get(job, returned)
    out.notes["returned_at"] = returned
    return out


async def sdk_waiter(
    url: str, population: AnyPopulation, emu: OmicsEmulator, args: argparse.Namespace
) -> Outcome:
    import aiobotocore.session
    from aiobotocore.config import AioConfig
    from botocore.exceptions import WaiterError

    out = Outcome()
    high = args.durations[1]
    # "Enough attempts": the longest job's duration, three times over, at Delay apart.
    max_attempts = math.ceil(3 * high / args.min_delay) + 1
    waiter_config = {"Delay": args.min_delay, "MaxAttempts": max_attempts}
    runs = isinstance(population, RunPopulation)
    session = aiobotocore.session.get_session()
    async with session.create_client(
        "omics",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=KEY,
        aws_secret_access_key=KEY,
        config=AioConfig(inject_host_prefix=False),
    ) as client:
        retries = dict(client.meta.config.retries or {})
        out.notes["client_retries"] = retries or "botocore default (legacy mode, 5 attempts)"
        out.notes["client_max_pool_connections"] = client.meta.config.max_pool_connections
        out.notes["waiter_config"] = waiter_config
        waiter = client.get_waiter(SUITES["runs" if runs else "jobs"].sdk_waiter)

        async def one(store: str, job: str) -> None:
            params = {"id": job} if runs else {"sequenceStoreId": store, "id": job}
            try:
                response = await waiter.wait(**params, WaiterConfig=waiter_config)
            except WaiterError as exc:
                last = exc.last_response or {}
                status = last.get("status")
                if "Error" in last:
                    out.settle(job, failure=str(last["Error"].get("Code", "Error")))
                elif "terminal failure state" in str(exc) and status in TERMINAL_FAILURES:
                    out.settle(job, status=status)  # the model's verdict: a legitimate end
                elif "Max attempts exceeded" in str(exc):
                    out.settle(job, failure="MaxAttemptsExceeded")
                else:
                    out.settle(job, failure=f"WaiterError: {exc}")
            except Exception as exc:  # connection errors and the like: the wait failed
                out.settle(job, failure=type(exc).__name__)
            else:
                out.settle(job, status=str((response or {}).get("status", "COMPLETED")))

        pairs = out.created(population.create(emu))
        await asyncio.gather(*(one(store, job) for store, job in pairs), return_exceptions=True)
    return out


async def ours_many_final(
    url: str, population: AnyPopulation, emu: OmicsEmulator, args: argparse.Namespace
) -> Outcome:
    return await ours_many(url, population, emu, args, final_only=True)


async def client_usual(
    url: str, population: AnyPopulation, emu: OmicsEmulator, args: argparse.Namespace
) -> Outcome:
    opener = functools.partial(_hand_built, fast=False)
    return await ours_many(url, population, emu, args, final_only=True, opener=opener)


async def client_open(
    url: str, population: AnyPopulation, emu: OmicsEmulator, args: argparse.Namespace
) -> Outcome:
    opener = functools.partial(_hand_built, fast=True)
    return await ours_many(url, population, emu, args, final_only=True, opener=opener)


CONTENDERS: dict[str, tuple[str, str, Runner]] = {
    "ours-many": ("jobs", "omics-waiter watch_activation_jobs", ours_many),
    "ours-many-final": (
        "jobs",
        "omics-waiter watch_activation_jobs(final_only=True)",
        ours_many_final,
    ),
    "aiobotocore": ("jobs", "aiobotocore waiter, one per job", sdk_waiter),
    "ours-single": (
        "jobs",
        "omics-waiter wait_for_activation_job, one task per job, async with",
        ours_single,
    ),
    "ours-single-handover": (
        "jobs",
        "omics-waiter wait(), one task per job, no async with (handover)",
        ours_waits_handover,
    ),
    "ours-wait-many": ("jobs", "omics-waiter wait_many over every job", ours_wait_many),
    "runs-wait-many": ("runs", "omics-waiter wait_many over every run", ours_wait_many),
    "runs-wait": ("runs", "omics-waiter wait(RunRef), one task per run, async with", ours_waits),
    "runs-wait-handover": (
        "runs",
        "omics-waiter wait(RunRef), one task per run, no async with (handover)",
        ours_waits_handover,
    ),
    "runs-aiobotocore": ("runs", "aiobotocore run_completed waiter, one per run", sdk_waiter),
    # The same wait_many as ours-wait-many; _run_one gives them a queue, events and moto.
    "push": ("push", "omics-waiter wait_many, push events (none dropped)", ours_wait_many),
    "push-drop20": ("push", "omics-waiter wait_many, push events, 20% dropped", ours_wait_many),
    "client-usual": (
        "clients",
        "OmicsWaiter(client), final_only watch; client made the usual way (dateutil)",
        client_usual,
    ),
    "client-open": (
        "clients",
        "OmicsWaiter(client), final_only watch; client from OmicsWaiter.open_client()",
        client_open,
    ),
}


# -- running ------------------------------------------------------------------------------


@dataclass
class PushQueue:
    """A push contender's fresh queue and rule, and the jobs whose final event was dropped."""

    url: str
    drop_rate: float
    dropped_finals: set[str] = field(default_factory=set)

    def emulator_options(self, args: argparse.Namespace) -> dict[str, Any]:
        return {
            "events_endpoint_url": args.moto_url,
            "event_delay": args.event_delay,
            "event_drop_rate": self.drop_rate,
        }


@contextlib.contextmanager
def _push_queue(name: str, args: argparse.Namespace) -> Iterator[PushQueue | None]:
    """For a push contender: a queue and a rule made by `setup_events` (as ``omics-waiter
    events setup`` does) on the moto server, removed after; None for the others."""
    drop_rate = PUSH_DROP_RATES.get(name)
    if drop_rate is None:
        yield None
        return
    queue = f"bench-{name}-{uuid.uuid4().hex[:8]}"
    options = {
        "region_name": REGION,
        "endpoint_url": args.moto_url,
        "aws_access_key_id": KEY,
        "aws_secret_access_key": KEY,
    }
    url = asyncio.run(setup_events(queue, **options))
    try:
        yield PushQueue(url, drop_rate)
    finally:
        asyncio.run(teardown_events(queue, **options))


def _note_dropped_finals(emu: OmicsEmulator, into: set[str]) -> None:
    """Note each job whose final status-change event the emulator drops.

    Wraps the emulator's private event schedule for this benchmark only: it changes no
    decision, it only reads each one (a drop is counted in the emulator's stats).
    """
    schedule = emu._schedule
    assert schedule is not None
    decide = schedule._decide

    def noting(job: Any, key: Any, index: int, at: float, snapshot: Any) -> None:
        dropped = emu.stats.events["dropped"]
        decide(job, key, index, at, snapshot)
        if emu.stats.events["dropped"] > dropped and snapshot.completion_time is not None:
            into.add(job.id)

    schedule._decide = noting  # type: ignore[method-assign]


def _run_one(
    name: str, population: AnyPopulation, args: argparse.Namespace, *, trace: bool = False
) -> Result:
    suite, _, runner = CONTENDERS[name]
    low, high = args.durations

    def make(push: PushQueue | None) -> OmicsEmulator:
        emu = OmicsEmulator(
            seed=args.seed,
            job_seconds=(low, high),
            failure_rate=FAILURE_RATE,
            quota_tps=args.quota,
            faults=Faults(latency=args.latency) if args.latency else None,
            **({} if push is None else push.emulator_options(args)),
        )
        if push is not None:
            _note_dropped_finals(emu, push.dropped_finals)
        return emu

    gc.collect()
    with _push_queue(name, args) as push, EmulatorThread(functools.partial(make, push)) as emu:
        if push is not None:
            args = argparse.Namespace(**{**vars(args), "events_queue_url": push.url})
        if trace:
            tracemalloc.start()
        with RssSampler() as rss:
            cpu0, thread0, wall0 = time.process_time(), time.thread_time(), time.perf_counter()
            outcome = asyncio.run(runner(emu.endpoint_url, population, emu, args))
            wall = time.perf_counter() - wall0
            cpu = time.process_time() - cpu0
            cpu_client = time.thread_time() - thread0
        traced_peak = None
        if trace:
            traced_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        requests = emu.stats.requests
        # Ground truth, from the emulator: each job's final status and completion time.
        latencies_by_job = {}
        handoffs = []
        wrong = 0
        for job_id, status in outcome.verdicts.items():
            if emu.job_state(outcome.stores[job_id], job_id)["status"] != status:
                wrong += 1
            done = emu.completion_time(job_id)
            if done is None:
                wrong += 1  # a verdict before the job finished
            else:
                latencies_by_job[job_id] = outcome.arrivals[job_id] - done
            answer = outcome.answers.get(job_id)
            if answer is not None and outcome.measured_at == "caller":
                handoffs.append(outcome.arrivals[job_id] - answer)
        returned = outcome.notes.get("returned_at")
        if returned is not None:
            last = max(
                (t for t in map(emu.completion_time, outcome.stores) if t is not None),
                default=None,
            )
            if last is not None:
                outcome.notes["returned_after_last_completion_s"] = round(returned - last, 3)
            del outcome.notes["returned_at"]
        fingerprint = _fingerprint(emu)
        events = emu.stats.events
    dropped_finals = None
    if push is not None:
        dropped_finals = [
            latencies_by_job[job] for job in push.dropped_finals if job in latencies_by_job
        ]
    return Result(
        name=name,
        suite=suite,
        wall=wall,
        requests=requests,
        cpu_process=cpu,
        cpu_client=cpu_client,
        peak_rss=rss.peak,
        start_rss=rss.start,
        max_rss=max_rss_bytes(),
        tracemalloc_peak=traced_peak,
        outcome=outcome,
        latencies=list(latencies_by_job.values()),
        handoffs=handoffs,
        wrong_verdicts=wrong,
        population=fingerprint,
        events=events,
        dropped_finals=dropped_finals,
        dropped_final_jobs=0 if push is None else len(push.dropped_finals),
    )


def _fingerprint(emu: OmicsEmulator) -> str:
    """A digest of every job's ID, items and scheduled life cycle (to compare contenders)."""
    jobs = emu._jobs._jobs  # the emulator's private job store, read only
    digest = hashlib.sha256()
    for job in jobs.values():
        steps = [(round(s.at, 6), s.status) for s in job.timeline]
        digest.update(json.dumps([job.id, list(job.item_keys), steps]).encode())
    return digest.hexdigest()[:12]


# -- reporting ----------------------------------------------------------------------------


def render_suite(results: list[Result], args: argparse.Namespace, suite: Suite) -> str:
    header = ["", *(r.name for r in results)]
    limit = suite.polling_limit(args.jobs, args.stores, args.quota)
    push = suite.name == "push"

    def row(label: str, fn: Callable[[Result], Any]) -> list[Any]:
        return [label, *(fn(r) for r in results)]

    def p95_ratio(r: Result) -> str:
        p95 = percentile(r.latencies, 95)
        return "-" if p95 is None else f"{p95 / limit:.1f}x"

    rows = [
        row("wall time (s)", lambda r: f"{r.wall:.1f}"),
        row("requests: Get", lambda r: r.requests_by_op(suite.get_op)),
        row("requests: List", lambda r: r.requests_by_op(suite.list_op)),
        row("requests: total", lambda r: r.total_requests),
        *(
            [row("requests per job", lambda r: f"{r.total_requests / args.jobs:.2f}")]
            if push
            else []
        ),
        row("throttled responses (429)", lambda r: r.throttled),
        row("verdicts (true final status)", lambda r: len(r.outcome.verdicts)),
        row("failed waits", lambda r: len(r.outcome.failures)),
        row("wrong verdicts", lambda r: r.wrong_verdicts),
        row("detection latency p50 (s)", lambda r: _common.seconds(percentile(r.latencies, 50))),
        row("p50 over all jobs, failed = never (s)", lambda r: _all_jobs_p50(r)),
        row("detection latency p95 (s)", lambda r: _common.seconds(percentile(r.latencies, 95))),
        row(
            "detection latency max (s)",
            lambda r: _common.seconds(max(r.latencies) if r.latencies else None),
        ),
        *(_dropped_rows(row) if push else []),
        row("p95 / polling limit", p95_ratio),
        row("latency taken when", lambda r: _taken_when(r)),
        row(
            "answer -> caller p95 (s)",
            lambda r: _common.seconds(percentile(r.handoffs, 95)),
        ),
        row("CPU s, process (incl. emulator)", lambda r: f"{r.cpu_process:.1f}"),
        row("CPU s, client thread", lambda r: f"{r.cpu_client:.1f}"),
        row("peak RSS in run (MiB)", lambda r: _common.mib(r.peak_rss)),
        row("RSS growth in run (MiB)", lambda r: _common.mib(r.peak_rss - r.start_rss)),
        row("ru_maxrss after run (MiB)", lambda r: _common.mib(r.max_rss)),
        row("tracemalloc peak (MiB, own pass)", lambda r: _common.mib(r.tracemalloc_peak)),
    ]
    lines = [
        f"{suite.title}: {args.jobs} jobs, quota {args.quota:g} TPS per operation, durations "
        f"{args.durations[0]:g}-{args.durations[1]:g} s, seed {args.seed}, "
        f"min_delay {args.min_delay:g} s (= SDK Delay), max_delay {args.max_delay:g} s, "
        + (f"{args.stores} store(s), " if suite.population == "jobs" else "")
        + f"response latency {args.latency:g} s",
        f"polling limit: {suite.pages(args.jobs, args.stores)} List page(s) a sweep / "
        f"(2 x {args.quota:g} TPS) + 1 Get / {args.quota:g} TPS = {limit:.3f} s",
        *(_push_settings(args) if push else []),
        "",
        _common.table(header, rows),
    ]
    failures = {r.name: dict(Counter(r.outcome.failures.values())) for r in results}
    if any(failures.values()):
        lines += ["", "failed waits by reason: " + json.dumps(failures)]
    returned = {
        r.name: r.outcome.notes["returned_after_last_completion_s"]
        for r in results
        if "returned_after_last_completion_s" in r.outcome.notes
    }
    if returned:
        lines += [
            "",
            "wait_many returned after the last job's completion (s): " + json.dumps(returned),
        ]
    by_name = {r.name: r for r in results}
    lines += _targets(by_name, suite, limit, args)
    populations = {r.population for r in results}
    lines.append("")
    lines.append(
        "identical populations: "
        + ("yes" if len(populations) == 1 else f"NO {sorted(populations)}")
        + f" (fingerprint {next(iter(populations))})"
    )
    return "\n".join(lines)


def _taken_when(result: Result) -> str:
    if result.outcome.measured_at == "answer":
        return "final answer"
    return "caller told"


def _dropped_rows(row: Callable[[str, Callable[[Result], Any]], list[Any]]) -> list[list[Any]]:
    """The push table's rows on events, and on the jobs whose final event was dropped."""

    def push_only(fn: Callable[[Result], Any]) -> Callable[[Result], Any]:
        return lambda r: "-" if r.dropped_finals is None else fn(r)

    return [
        row(
            "events published / dropped",
            push_only(lambda r: f"{r.events['published']} / {r.events['dropped']}"),
        ),
        row("jobs whose final event was dropped", push_only(lambda r: r.dropped_final_jobs)),
        row(
            "  their detection latency max (s)",
            push_only(lambda r: _common.seconds(max(r.dropped_finals or [], default=None))),
        ),
    ]


def _sweep_seconds(args: argparse.Namespace) -> float:
    """One reconciliation sweep at the quota: its List pages, and the Get that confirms."""
    return float((SUITES["push"].pages(args.jobs, args.stores) + 1) / args.quota)


def _moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


def _push_settings(args: argparse.Namespace) -> list[str]:
    low, high = args.event_delay
    return [
        f"push: events {low:g}-{high:g} s late (uniform), reconcile_delay "
        f"{args.reconcile_delay:g} s, moto {_moto_version()} server, a fresh queue and rule "
        "(setup_events) per contender",
    ]


def _push_targets(by_name: dict[str, Result], args: argparse.Namespace) -> list[str]:
    low, high = args.event_delay
    p50_target = (low + high) / 2 + 0.3
    bound = args.reconcile_delay + _sweep_seconds(args)
    lines: list[str] = []
    for name, result in by_name.items():
        if result.dropped_finals is None:
            continue
        per_job = result.total_requests / args.jobs
        p50 = percentile(result.latencies, 50)
        failed = len(result.outcome.failures)
        lines += [
            "",
            f"push targets ({name}):",
            f"  Omics requests per job <= 1.2: {per_job <= 1.2} ({per_job:.2f})",
            f"  p50 detection <= {p50_target:.2f} s (median event delay + 0.3 s): "
            f"{p50 is not None and p50 <= p50_target} ({_common.seconds(p50)} s)",
            f"  zero failed waits: {failed == 0} ({failed})",
            f"  zero throttled responses: {result.throttled == 0} ({result.throttled})",
        ]
        if result.dropped_final_jobs:
            late = [t for t in result.dropped_finals if t > bound]
            lost = result.dropped_final_jobs - len(result.dropped_finals)
            worst = max(result.dropped_finals, default=None)
            lines.append(
                f"  every job whose final event was dropped detected within reconcile_delay + "
                f"one sweep ({bound:.2f} s): {not late and not lost} ({result.dropped_final_jobs} "
                f"jobs, {lost} not detected, {len(late)} later, max {_common.seconds(worst)} s)"
            )
    return lines


def _targets(
    by_name: dict[str, Result], suite: Suite, limit: float, args: argparse.Namespace
) -> list[str]:
    lines: list[str] = []
    if suite.name == "push":
        return _push_targets(by_name, args)
    if suite.name == "clients":
        return _client_targets(by_name, args)
    if suite.name == "jobs":
        ours, sdk = by_name.get("ours-many"), by_name.get("aiobotocore")
        if ours and sdk:
            lines += ["", "targets against the SDK waiter (ours-many vs aiobotocore):"]
            ours_p50, sdk_p50 = percentile(ours.latencies, 50), percentile(sdk.latencies, 50)
            ratio = sdk_p50 / ours_p50 if ours_p50 and sdk_p50 else None
            fewer = sdk.total_requests / ours.total_requests if ours.total_requests else None
            lines.append(
                f"  zero failed waits: {len(ours.outcome.failures) == 0} "
                f"({len(ours.outcome.failures)})"
            )
            lines.append(f"  zero throttled responses: {ours.throttled == 0} ({ours.throttled})")
            lines.append(
                f"  median latency >= 10x lower: {ratio is not None and ratio >= 10} "
                f"({'-' if ratio is None else f'{ratio:.1f}x'}; aiobotocore's p50 counts only "
                f"the {len(sdk.latencies)} waits that reached a verdict)"
            )
            lines.append(
                f"  >= 5x fewer requests: {fewer is not None and fewer >= 5} "
                f"({'-' if fewer is None else f'{fewer:.1f}x'})"
            )
        many = by_name.get("ours-wait-many")
        singles = [by_name.get("ours-single"), by_name.get("ours-single-handover")]
    else:
        many = by_name.get("runs-wait-many")
        singles = [by_name.get("runs-wait"), by_name.get("runs-wait-handover")]
    present = [r for r in singles if r is not None]
    if many is None and not present:
        return lines
    lines += ["", "engine targets:"]
    for single in present:
        if many is not None and many.total_requests:
            ratio = single.total_requests / many.total_requests
            p50s = percentile(single.latencies, 50), percentile(many.latencies, 50)
            p95s = percentile(single.latencies, 95), percentile(many.latencies, 95)
            lines.append(
                f"  {single.name} requests <= 1.2x {many.name}'s: {ratio <= 1.2} "
                f"({ratio:.2f}x: {single.total_requests} vs {many.total_requests}; "
                f"p50 {_common.seconds(p50s[0])} vs {_common.seconds(p50s[1])} s, "
                f"p95 {_common.seconds(p95s[0])} vs {_common.seconds(p95s[1])} s)"
            )
    for result in [*present, *([many] if many is not None else [])]:
        p95 = percentile(result.latencies, 95)
        ok = p95 is not None and p95 <= 5 * limit
        lines.append(
            f"  {result.name} p95 <= 5x the polling limit ({5 * limit:.3f} s): {ok} "
            f"({_common.seconds(p95)} s = "
            f"{'-' if p95 is None else f'{p95 / limit:.1f}x'})"
        )
    return lines


def _client_targets(by_name: dict[str, Result], args: argparse.Namespace) -> list[str]:
    lines = ["", "client CPU per job (client thread; the emulator runs in another):"]
    per_job = {}
    for name in ("client-usual", "client-open"):
        result = by_name.get(name)
        if result is not None:
            per_job[name] = result.cpu_client / args.jobs
            lines.append(
                f"  {name}: {1000 * per_job[name]:.1f} ms per job "
                f"({result.cpu_client:.2f} s for {args.jobs} jobs, "
                f"{result.total_requests} requests)"
            )
    if len(per_job) == 2 and per_job["client-open"]:
        ratio = per_job["client-usual"] / per_job["client-open"]
        lines.append(f"  usual / open_client: {ratio:.2f}x")
    return lines


def render(results: list[Result], args: argparse.Namespace) -> str:
    parts = []
    for suite in SUITES.values():
        mine = [r for r in results if r.suite == suite.name]
        if mine and args.suite in ("all", suite.name):
            by_name = {r.name: r for r in results}
            mine += [by_name[name] for name in suite.companions if name in by_name]
            parts.append(render_suite(mine, args, suite))
    return "\n\n".join(parts)


def _all_jobs_p50(result: Result) -> str:
    """The nearest-rank median over every job, counting a failed wait as never detecting it."""
    values = sorted(result.latencies) + [math.inf] * len(result.outcome.failures)
    if not values:
        return "-"
    value = values[math.ceil(len(values) / 2) - 1]
    return "never" if math.isinf(value) else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs (or runs) per contender (200)")
    parser.add_argument(
        "--quota", type=float, default=20.0, help="emulator quota, TPS per operation (20)"
    )
    parser.add_argument(
        "--durations", type=durations, default=(5.0, 30.0), help="job seconds MIN:MAX (5:30)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the population (1)")
    parser.add_argument(
        "--min-delay",
        type=float,
        default=2.0,
        help="our min_delay and the SDK waiter's Delay, seconds (2)",
    )
    parser.add_argument("--max-delay", type=float, default=10.0, help="our max_delay (10)")
    parser.add_argument("--stores", type=int, default=1, help="sequence stores (1)")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="seconds the emulator adds to every response, like a real network (0)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="our wait timeout (default: 4x max duration + 60)",
    )
    parser.add_argument(
        "--suite",
        choices=["all", *SUITES],
        default="all",
        help="activation jobs, runs, push (on the activation jobs), or every one (all)",
    )
    parser.add_argument(
        "--event-delay",
        type=durations,
        default=(0.2, 1.0),
        help="push: seconds each event is late, MIN:MAX, uniform (0.2:1)",
    )
    parser.add_argument(
        "--reconcile-delay",
        type=float,
        default=10.0,
        help="push: the waiter's reconcile_delay, seconds (10)",
    )
    parser.add_argument(
        "--only", action="append", choices=list(CONTENDERS), help="run only these contenders"
    )
    parser.add_argument(
        "--no-tracemalloc",
        dest="tracemalloc",
        action="store_false",
        help="skip the second pass that measures each contender's tracemalloc peak",
    )
    parser.add_argument("--json", action="store_true", help="JSON on stdout (table on stderr)")
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="run each contender of ours again with the OpenTelemetry SDK recording, and "
        "report the client CPU overhead and the detection-delay histogram's p50/p95",
    )
    parser.add_argument(
        "--metrics-repeats",
        type=int,
        default=3,
        help="--metrics: pairs of runs (without, with the SDK) per contender (3)",
    )
    # Set per run: the moto server's URL, a push contender's queue (see _push_queue), and
    # the meter provider of a metrics run.
    parser.set_defaults(moto_url=None, events_queue_url=None, meter_provider=None)
    args = parser.parse_args(argv)
    if args.timeout is None:
        args.timeout = 4 * args.durations[1] + 60
    populations: dict[str, AnyPopulation] = {
        "jobs": Population.draw(args.seed, args.jobs, args.stores),
        "runs": RunPopulation(args.jobs),
    }
    suites = (
        [SUITES[args.suite]] if args.suite != "all" else [s for s in SUITES.values() if s.in_all]
    )
    names = [
        n
        for n, (suite, _, _) in CONTENDERS.items()
        if (not args.only or n in args.only)
        and any(s.name == suite or n in s.companions for s in suites)
    ]
    moto = contextlib.ExitStack()
    if any(n in PUSH_DROP_RATES for n in names):
        args.moto_url = moto.enter_context(_common.moto_server())
    with moto:
        results, total = _run_all(names, populations, args)
        overheads = _run_metrics(results, populations, args) if args.metrics else []
    text = render(results, args) + f"\n\ntotal run time: {total:.0f} s"
    if overheads:
        text += "\n\n" + render_metrics(overheads, args)
    if args.json:
        print(text, file=sys.stderr)
        payload = {
            "settings": {
                "jobs": args.jobs,
                "quota_tps": args.quota,
                "durations": list(args.durations),
                "seed": args.seed,
                "min_delay": args.min_delay,
                "max_delay": args.max_delay,
                "stores": args.stores,
                "latency": args.latency,
                "timeout": args.timeout,
                "failure_rate_per_item": FAILURE_RATE,
                "event_delay": list(args.event_delay),
                "reconcile_delay": args.reconcile_delay,
                "moto": _moto_version() if args.moto_url else None,
                "tracemalloc": args.tracemalloc,
                "polling_limit_seconds": {
                    name: suite.polling_limit(args.jobs, args.stores, args.quota)
                    for name, suite in SUITES.items()
                },
            },
            "machine": {
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "cpus": _cpus(),
            },
            "total_seconds": round(total, 1),
            "results": [r.to_json() for r in results],
            "metrics": [o.to_json() for o in overheads],
        }
        json.dump(payload, sys.stdout, indent=2)
        print()
    else:
        print(text)
    return 0


def _run_all(
    names: list[str], populations: dict[str, AnyPopulation], args: argparse.Namespace
) -> tuple[list[Result], float]:
    """Run each contender (and its tracemalloc pass); the results and the seconds it took."""
    results = []
    started = time.perf_counter()
    for name in names:
        suite, title, _ = CONTENDERS[name]
        print(f"running {name}: {title} ...", file=sys.stderr, flush=True)
        result = _run_one(name, populations[SUITES[suite].population], args)
        print(
            f"  {name}: {result.wall:.1f}s, {result.total_requests} requests, "
            f"{len(result.outcome.failures)} failed waits, p95 "
            f"{_common.seconds(percentile(result.latencies, 95))} s",
            file=sys.stderr,
            flush=True,
        )
        results.append(result)
    if args.tracemalloc:
        # tracemalloc slows every allocation (the client's CPU time and latencies rise
        # markedly), so it gets a pass of its own on the same population; only its peak is kept.
        for result in results:
            print(f"tracemalloc pass: {result.name} ...", file=sys.stderr, flush=True)
            traced = _run_one(
                result.name, populations[SUITES[result.suite].population], args, trace=True
            )
            result.tracemalloc_peak = traced.tracemalloc_peak
    return results, time.perf_counter() - started


# -- metrics overhead (--metrics) -------------------------------------------------------------


@dataclass
class MetricsRun:
    """One contender's pairs of runs without the SDK and with it, and what the SDK recorded
    in the last run with it."""

    plain_cpu: list[float]
    recorded_cpu: list[float]
    recorded: Result
    accounted_cpu: float  # the client thread's CPU in the accounting run
    recording_ns: int  # of which inside the recorder
    recording_calls: int
    delay_count: int
    delay_p50: float | None
    delay_p95: float | None
    width_p50: float | None  # the width of the bucket each quantile falls in
    width_p95: float | None
    requests: int  # omics_waiter.requests, all outcomes

    @property
    def name(self) -> str:
        return self.recorded.name

    @property
    def recording_share(self) -> float:
        """The recorder's share of the client thread's CPU in the accounting run."""
        return self.recording_ns / 1e9 / self.accounted_cpu

    @property
    def overhead(self) -> float:
        """The median of the pairs' client CPU ratios, less 1."""
        ratios = [r / p for p, r in zip(self.plain_cpu, self.recorded_cpu, strict=True)]
        return statistics.median(ratios) - 1

    def agrees(self, q: int) -> bool | None:
        ours = self.delay_p50 if q == 50 else self.delay_p95
        width = self.width_p50 if q == 50 else self.width_p95
        theirs = percentile(self.recorded.latencies, q)
        if ours is None or width is None or theirs is None:
            return None
        return abs(ours - theirs) <= width

    def to_json(self) -> dict[str, Any]:
        return {
            "contender": self.name,
            "cpu_seconds_client_thread": {
                "without_sdk": [round(c, 3) for c in self.plain_cpu],
                "with_sdk": [round(c, 3) for c in self.recorded_cpu],
                "median_pair_overhead": round(self.overhead, 4),
            },
            "detection_delay_histogram": {
                "count": self.delay_count,
                "p50": self.delay_p50,
                "p95": self.delay_p95,
                "bucket_width_p50": self.width_p50,
                "bucket_width_p95": self.width_p95,
            },
            "detection_latency_benchmark": {
                "n": len(self.recorded.latencies),
                "p50": percentile(self.recorded.latencies, 50),
                "p95": percentile(self.recorded.latencies, 95),
            },
            "accounting_run": {
                "cpu_seconds_client_thread": round(self.accounted_cpu, 3),
                "recording_cpu_seconds": round(self.recording_ns / 1e9, 4),
                "recording_calls": self.recording_calls,
                "recording_share": round(self.recording_share, 4),
            },
            "requests_recorded": self.requests,
            "requests_emulator": self.recorded.total_requests,
        }


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}"


def histogram_quantile(
    q: float, bounds: list[float], counts: list[int]
) -> tuple[float | None, float | None]:
    """Prometheus's ``histogram_quantile``: the q-quantile (0-1), interpolated linearly within
    its bucket (the first bucket starts at 0), and that bucket's width."""
    total = sum(counts)
    if not total:
        return None, None
    rank = q * total
    below = 0
    for index, count in enumerate(counts):
        if count and below + count >= rank:
            low = 0.0 if index == 0 else bounds[index - 1]
            if index == len(bounds):
                return low, math.inf  # beyond the last bound: Prometheus answers that bound
            high = bounds[index]
            return low + (high - low) * (rank - below) / count, high - low
        below += count
    return None, None


def _collected(reader: Any) -> dict[str, list[Any]]:
    """The reader's data points by instrument name."""
    points: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points.setdefault(metric.name, []).extend(metric.data.data_points)
    return points


def _run_metrics(
    results: list[Result], populations: dict[str, AnyPopulation], args: argparse.Namespace
) -> list[MetricsRun]:
    """Run each contender of ours again with the SDK recording (see the module docstring)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    runs = []
    for result in results:
        if result.name in ("aiobotocore", "runs-aiobotocore"):
            continue
        population = populations[SUITES[result.suite].population]
        plain_cpu: list[float] = []
        recorded_cpu: list[float] = []
        for repeat in range(args.metrics_repeats):
            print(
                f"metrics pair {repeat + 1}/{args.metrics_repeats}: {result.name} ...",
                file=sys.stderr,
                flush=True,
            )
            reader = InMemoryMetricReader()
            provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
            recorded_args = argparse.Namespace(**{**vars(args), "meter_provider": provider})
            # Each half goes first in every other pair, so that neither gains from the order.
            if repeat % 2 == 0:
                plain_cpu.append(_run_one(result.name, population, args).cpu_client)
            recorded = _run_one(result.name, population, recorded_args)
            recorded_cpu.append(recorded.cpu_client)
            if repeat % 2 == 1:
                plain_cpu.append(_run_one(result.name, population, args).cpu_client)
            # Collected after the run, outside the timed window: in a service an exporter
            # collects on its own thread, not the waiter's.
            points = _collected(reader)
            provider.shutdown()
        # The accounting run: the recorder's own CPU time, inside the client thread's.
        global _RECORDING
        _RECORDING = {"ns": 0, "calls": 0}
        provider = MeterProvider(metric_readers=[InMemoryMetricReader()], shutdown_on_exit=False)
        try:
            accounted = _run_one(
                result.name,
                population,
                argparse.Namespace(**{**vars(args), "meter_provider": provider}),
            )
            recording = _RECORDING
        finally:
            _RECORDING = None
            provider.shutdown()
        delays = points.get("omics_waiter.detection.delay", [])
        bounds = list(delays[0].explicit_bounds) if delays else []
        counts = [sum(c) for c in zip(*(p.bucket_counts for p in delays), strict=True)]
        p50, width50 = histogram_quantile(0.5, bounds, counts)
        p95, width95 = histogram_quantile(0.95, bounds, counts)
        runs.append(
            MetricsRun(
                plain_cpu=plain_cpu,
                recorded_cpu=recorded_cpu,
                recorded=recorded,
                accounted_cpu=accounted.cpu_client,
                recording_ns=recording["ns"],
                recording_calls=recording["calls"],
                delay_count=sum(counts),
                delay_p50=p50,
                delay_p95=p95,
                width_p50=width50,
                width_p95=width95,
                requests=int(sum(p.value for p in points.get("omics_waiter.requests", []))),
            )
        )
    return runs


def render_metrics(runs: list[MetricsRun], args: argparse.Namespace) -> str:
    header = ["", *(r.name for r in runs)]

    def row(label: str, fn: Callable[[MetricsRun], Any]) -> list[Any]:
        return [label, *(fn(r) for r in runs)]

    def quantile(r: MetricsRun, q: int) -> str:
        ours = r.delay_p50 if q == 50 else r.delay_p95
        width = r.width_p50 if q == 50 else r.width_p95
        return f"{_common.seconds(ours)} (bucket {_common.seconds(width)})"

    rows = [
        row("pairs", lambda r: len(r.plain_cpu)),
        row("CPU s, client thread, no SDK (median)", lambda r: _median(r.plain_cpu)),
        row("CPU s, client thread, SDK recording (median)", lambda r: _median(r.recorded_cpu)),
        row("overhead (median of the pairs)", lambda r: f"{100 * r.overhead:+.1f}%"),
        row(
            "  each pair",
            lambda r: " ".join(
                f"{100 * (b / a - 1):+.0f}%"
                for a, b in zip(r.plain_cpu, r.recorded_cpu, strict=True)
            ),
        ),
        row(
            "accounting run: recorder's CPU (ms)",
            lambda r: f"{r.recording_ns / 1e6:.1f} in {r.recording_calls} calls",
        ),
        row(
            "  share of the client thread's CPU",
            lambda r: f"{100 * r.recording_share:.2f}% of {r.accounted_cpu:.2f} s",
        ),
        row(
            "requests: recorded / emulator", lambda r: f"{r.requests} / {r.recorded.total_requests}"
        ),
        row("detection delays recorded / jobs", lambda r: f"{r.delay_count} / {args.jobs}"),
        row("benchmark p50 (s)", lambda r: _common.seconds(percentile(r.recorded.latencies, 50))),
        row("histogram p50 (s)", lambda r: quantile(r, 50)),
        row("benchmark p95 (s)", lambda r: _common.seconds(percentile(r.recorded.latencies, 95))),
        row("histogram p95 (s)", lambda r: quantile(r, 95)),
        row("p50, p95 within a bucket", lambda r: f"{r.agrees(50)}, {r.agrees(95)}"),
    ]
    worst = max((r.recording_share for r in runs), default=0.0)
    return "\n".join(
        [
            "metrics: each contender of ours in pairs of runs, without the OpenTelemetry SDK and "
            "with it recording (an SDK MeterProvider and an in-memory reader, meter_provider=); "
            "the detection delays and requests are the last recording run's",
            "",
            _common.table(header, rows),
            "",
            f"target: client CPU at most 5% more with the SDK: {worst <= 0.05} (the recorder's "
            f"share, worst {100 * worst:.2f}%; the pairs' ratios vary with the machine's load)",
        ]
    )


def _cpus() -> int | None:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    sys.exit(main())
