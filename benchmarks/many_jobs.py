"""Benchmark: waiting on many read set activation jobs at once, against a quota.

Four contenders, run one after another in this process, each on a fresh emulator with the
same seed and therefore an identical population of jobs (same IDs, read sets and durations):

1. ``ours-many``: this library's many-job watch (``OmicsWaiter.watch_activation_jobs``),
   and ``ours-many-final``: the same with ``final_only=True``;
2. ``aiobotocore``: aiobotocore's own waiter, ``read_set_activation_job_completed``, one
   ``wait()`` per job under ``asyncio.gather``, ``Delay`` = our ``min_delay``, the client's
   default retry configuration;
3. ``ours-single``: this library's single-job waiter, one ``wait_for_activation_job`` per job
   under ``asyncio.gather`` (no batching; all share one waiter and its request budget).

Run (about 2-3 minutes at the defaults)::

    .venv/bin/python benchmarks/many_jobs.py                # table
    .venv/bin/python benchmarks/many_jobs.py --json > out.json

The emulator runs in a background thread of this process (own event loop), so the process's
CPU time includes it; the "client CPU" row is the main thread's CPU time alone.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import math
import platform
import random
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import _common
from _common import EmulatorThread, RssSampler, max_rss_bytes, percentile

from omics_waiter import (
    JobFailedError,
    JobStatusChanged,
    JobWatchFailed,
    OmicsWaiter,
    OmicsWaiterError,
    PollRetrying,
)
from omics_waiter.testing import Faults, OmicsEmulator

REGION = "us-east-1"
KEY = "testing"
STORE_BASE = 1_000_000_000  # sequence store IDs: 10 digits
FAILURE_RATE = 0.05  # per read set
TERMINAL_FAILURES = {"FAILED", "COMPLETED_WITH_FAILURES", "CANCELLED"}


# -- the population -----------------------------------------------------------------------


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


# -- results ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a contender learned: per job, its verdict (final status) or why the wait failed."""

    verdicts: dict[str, str] = field(default_factory=dict)  # job -> final status
    failures: dict[str, str] = field(default_factory=dict)  # job -> reason
    arrivals: dict[str, float] = field(default_factory=dict)  # job -> clock time
    notes: dict[str, Any] = field(default_factory=dict)
    stores: dict[str, str] = field(default_factory=dict)  # job -> store

    def created(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        self.stores.update((job, store) for store, job in pairs)
        return pairs

    def settle(self, job: str, *, status: str | None = None, failure: str | None = None) -> None:
        self.arrivals[job] = _common.clock()
        if status is not None:
            self.verdicts[job] = status
        else:
            self.failures[job] = failure or "unknown"


@dataclass
class Result:
    name: str
    wall: float
    requests: dict[str, dict[str, int]]
    cpu_process: float
    cpu_client: float
    peak_rss: int
    max_rss: int
    tracemalloc_peak: int | None
    outcome: Outcome
    latencies: list[float]
    wrong_verdicts: int
    population: str

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
                "n": len(lat),
                "p50": percentile(lat, 50),
                "p95": percentile(lat, 95),
                "max": max(lat) if lat else None,
                "mean": sum(lat) / len(lat) if lat else None,
                "p50_all_jobs_failed_as_never": _all_jobs_p50(self),
            },
            "cpu_seconds_process": round(self.cpu_process, 3),
            "cpu_seconds_client_thread": round(self.cpu_client, 3),
            "peak_rss_bytes_in_run": self.peak_rss,
            "ru_maxrss_bytes_after_run": self.max_rss,
            "tracemalloc_peak_bytes": self.tracemalloc_peak,
            "population_fingerprint": self.population,
            "notes": self.outcome.notes,
        }


# -- contenders ---------------------------------------------------------------------------

Runner = Callable[[str, Population, OmicsEmulator, argparse.Namespace], Awaitable[Outcome]]


def _connect(url: str, args: argparse.Namespace) -> Any:
    return OmicsWaiter.connect(
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=KEY,
        aws_secret_access_key=KEY,
        min_delay=args.min_delay,
        max_delay=args.max_delay,
        max_tps=args.quota,
    )


async def ours_many(
    url: str,
    population: Population,
    emu: OmicsEmulator,
    args: argparse.Namespace,
    *,
    final_only: bool = False,
) -> Outcome:
    out = Outcome()
    events: Counter[str] = Counter()
    async with _connect(url, args) as waiter:
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


async def ours_single(
    url: str, population: Population, emu: OmicsEmulator, args: argparse.Namespace
) -> Outcome:
    out = Outcome()

    async with _connect(url, args) as waiter:

        async def one(store: str, job: str) -> None:
            try:
                final = await waiter.wait_for_activation_job(store, job, timeout=args.timeout)
            except JobFailedError as exc:  # a verdict: FAILED, COMPLETED_WITH_FAILURES, ...
                out.settle(job, status=exc.job.status.value)
            except OmicsWaiterError as exc:
                out.settle(job, failure=type(exc).__name__)
            else:
                out.settle(job, status=final.status.value)

        pairs = out.created(population.create(emu))
        await asyncio.gather(*(one(store, job) for store, job in pairs))
    return out


async def sdk_waiter(
    url: str, population: Population, emu: OmicsEmulator, args: argparse.Namespace
) -> Outcome:
    import aiobotocore.session
    from aiobotocore.config import AioConfig
    from botocore.exceptions import WaiterError

    out = Outcome()
    high = args.durations[1]
    # "Enough attempts": the longest job's duration, three times over, at Delay apart.
    max_attempts = math.ceil(3 * high / args.min_delay) + 1
    waiter_config = {"Delay": args.min_delay, "MaxAttempts": max_attempts}
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
        waiter = client.get_waiter("read_set_activation_job_completed")

        async def one(store: str, job: str) -> None:
            try:
                response = await waiter.wait(
                    sequenceStoreId=store, id=job, WaiterConfig=waiter_config
                )
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
    url: str, population: Population, emu: OmicsEmulator, args: argparse.Namespace
) -> Outcome:
    return await ours_many(url, population, emu, args, final_only=True)


CONTENDERS: dict[str, tuple[str, Runner]] = {
    "ours-many": ("omics-waiter watch_activation_jobs", ours_many),
    "ours-many-final": ("omics-waiter watch_activation_jobs(final_only=True)", ours_many_final),
    "aiobotocore": ("aiobotocore waiter, one per job", sdk_waiter),
    "ours-single": ("omics-waiter wait_for_activation_job, one per job", ours_single),
}


# -- running ------------------------------------------------------------------------------


def _run_one(
    name: str, population: Population, args: argparse.Namespace, *, trace: bool = False
) -> Result:
    _, runner = CONTENDERS[name]
    low, high = args.durations

    def make() -> OmicsEmulator:
        return OmicsEmulator(
            seed=args.seed,
            job_seconds=(low, high),
            failure_rate=FAILURE_RATE,
            quota_tps=args.quota,
            faults=Faults(latency=args.latency) if args.latency else None,
        )

    gc.collect()
    with EmulatorThread(make) as emu:
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
        latencies = []
        wrong = 0
        for job_id, status in outcome.verdicts.items():
            if emu.job_state(outcome.stores[job_id], job_id)["status"] != status:
                wrong += 1
            done = emu.completion_time(job_id)
            if done is None:
                wrong += 1  # a verdict before the job finished
            else:
                latencies.append(outcome.arrivals[job_id] - done)
        fingerprint = _fingerprint(emu)
    return Result(
        name=name,
        wall=wall,
        requests=requests,
        cpu_process=cpu,
        cpu_client=cpu_client,
        peak_rss=rss.peak,
        max_rss=max_rss_bytes(),
        tracemalloc_peak=traced_peak,
        outcome=outcome,
        latencies=latencies,
        wrong_verdicts=wrong,
        population=fingerprint,
    )


def _fingerprint(emu: OmicsEmulator) -> str:
    """A digest of every job's ID, read sets and scheduled life cycle (to compare contenders)."""
    jobs = emu._jobs._jobs  # the emulator's private job store, read only
    digest = hashlib.sha256()
    for job in jobs.values():
        steps = [(round(s.at, 6), s.status) for s in job.timeline]
        digest.update(json.dumps([job.id, job.read_set_ids, steps]).encode())
    return digest.hexdigest()[:12]


# -- reporting ----------------------------------------------------------------------------

OPS = ("GetReadSetActivationJob", "ListReadSetActivationJobs")


def render(results: list[Result], args: argparse.Namespace) -> str:
    header = ["", *(r.name for r in results)]

    def row(label: str, fn: Callable[[Result], Any]) -> list[Any]:
        return [label, *(fn(r) for r in results)]

    rows = [
        row("wall time (s)", lambda r: f"{r.wall:.1f}"),
        row("requests: Get", lambda r: r.requests_by_op(OPS[0])),
        row("requests: List", lambda r: r.requests_by_op(OPS[1])),
        row("requests: total", lambda r: r.total_requests),
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
        row("CPU s, process (incl. emulator)", lambda r: f"{r.cpu_process:.1f}"),
        row("CPU s, client thread", lambda r: f"{r.cpu_client:.1f}"),
        row("peak RSS in run (MiB)", lambda r: _common.mib(r.peak_rss)),
        row("ru_maxrss after run (MiB)", lambda r: _common.mib(r.max_rss)),
        row("tracemalloc peak (MiB, own pass)", lambda r: _common.mib(r.tracemalloc_peak)),
    ]
    lines = [
        f"{args.jobs} jobs, quota {args.quota:g} TPS per operation, durations "
        f"{args.durations[0]:g}-{args.durations[1]:g} s, seed {args.seed}, "
        f"min_delay {args.min_delay:g} s (= SDK Delay), max_delay {args.max_delay:g} s, "
        f"{args.stores} store(s), response latency {args.latency:g} s",
        "",
        _common.table(header, rows),
    ]
    failures = {r.name: dict(Counter(r.outcome.failures.values())) for r in results}
    if any(failures.values()):
        lines += ["", "failed waits by reason: " + json.dumps(failures)]
    by_name = {r.name: r for r in results}
    ours, sdk = by_name.get("ours-many"), by_name.get("aiobotocore")
    if ours and sdk:
        lines.append("")
        lines.append("targets (ours-many vs aiobotocore):")
        ours_p50, sdk_p50 = percentile(ours.latencies, 50), percentile(sdk.latencies, 50)
        ratio = sdk_p50 / ours_p50 if ours_p50 and sdk_p50 else None
        fewer = sdk.total_requests / ours.total_requests if ours.total_requests else None
        lines.append(
            f"  zero failed waits: {len(ours.outcome.failures) == 0} ({len(ours.outcome.failures)})"
        )
        lines.append(f"  zero throttled responses: {ours.throttled == 0} ({ours.throttled})")
        lines.append(
            f"  median latency >= 10x lower: {ratio is not None and ratio >= 10} "
            f"({'-' if ratio is None else f'{ratio:.1f}x'}; aiobotocore's p50 counts only the "
            f"{len(sdk.latencies)} waits that reached a verdict)"
        )
        lines.append(
            f"  >= 5x fewer requests: {fewer is not None and fewer >= 5} "
            f"({'-' if fewer is None else f'{fewer:.1f}x'})"
        )
    populations = {r.population for r in results}
    lines.append("")
    lines.append(
        "identical populations: "
        + ("yes" if len(populations) == 1 else f"NO {sorted(populations)}")
        + f" (fingerprint {next(iter(populations))})"
    )
    return "\n".join(lines)


def _all_jobs_p50(result: Result) -> str:
    """The nearest-rank median over every job, counting a failed wait as never detecting it."""
    values = sorted(result.latencies) + [math.inf] * len(result.outcome.failures)
    if not values:
        return "-"
    value = values[math.ceil(len(values) / 2) - 1]
    return "never" if math.isinf(value) else f"{value:.2f}"


def _durations(text: str) -> tuple[float, float]:
    low, sep, high = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError("expected MIN:MAX, e.g. 5:30")
    pair = float(low), float(high)
    if not 0 <= pair[0] <= pair[1]:
        raise argparse.ArgumentTypeError("expected 0 <= MIN <= MAX")
    return pair


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs per contender (200)")
    parser.add_argument(
        "--quota", type=float, default=20.0, help="emulator quota, TPS per operation (20)"
    )
    parser.add_argument(
        "--durations", type=_durations, default=(5.0, 30.0), help="job seconds MIN:MAX (5:30)"
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
        "--only", action="append", choices=sorted(CONTENDERS), help="run only these contenders"
    )
    parser.add_argument(
        "--no-tracemalloc",
        dest="tracemalloc",
        action="store_false",
        help="skip the second pass that measures each contender's tracemalloc peak",
    )
    parser.add_argument("--json", action="store_true", help="JSON on stdout (table on stderr)")
    args = parser.parse_args(argv)
    if args.timeout is None:
        args.timeout = 4 * args.durations[1] + 60
    population = Population.draw(args.seed, args.jobs, args.stores)
    names = [n for n in CONTENDERS if not args.only or n in args.only]
    results = []
    started = time.perf_counter()
    for name in names:
        print(f"running {name}: {CONTENDERS[name][0]} ...", file=sys.stderr, flush=True)
        result = _run_one(name, population, args)
        print(
            f"  {name}: {result.wall:.1f}s, {result.total_requests} requests, "
            f"{len(result.outcome.failures)} failed waits",
            file=sys.stderr,
            flush=True,
        )
        results.append(result)
    if args.tracemalloc:
        # tracemalloc slows every allocation (the client's CPU time and latencies rise
        # markedly), so it gets a pass of its own on the same population; only its peak is kept.
        for result in results:
            print(f"tracemalloc pass: {result.name} ...", file=sys.stderr, flush=True)
            traced = _run_one(result.name, population, args, trace=True)
            result.tracemalloc_peak = traced.tracemalloc_peak
    total = time.perf_counter() - started
    text = render(results, args) + f"\ntotal run time: {total:.0f} s"
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
                "failure_rate_per_read_set": FAILURE_RATE,
                "tracemalloc": args.tracemalloc,
            },
            "machine": {
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "cpus": _cpus(),
            },
            "total_seconds": round(total, 1),
            "results": [r.to_json() for r in results],
        }
        json.dump(payload, sys.stdout, indent=2)
        print()
    else:
        print(text)
    return 0


def _cpus() -> int | None:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    sys.exit(main())
