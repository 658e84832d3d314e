"""Benchmark: memory and CPU of one many-job watch over 10,000 jobs, sustained.

Each measurement runs in a fresh child process (so its RSS is its own), and the emulator runs in
yet another process (so neither its memory nor its CPU is counted). The child watches every job
with ``watch_activation_jobs`` for ``--seconds`` and samples, every ``--interval`` seconds: RSS
(/proc/self/statm), tracemalloc's current size, CPU seconds used in the interval, asyncio tasks,
and how many jobs have been seen and have finished. It then reports the growth after the first
third of the run (first sample after one third of the time -> last sample).

Jobs last long (``--durations``, default 60-1800 s), so most are still running at the end and
the watch keeps all 10,000 in play: List sweeps every 1-5 s, a Get for each job on first sight
and on each status change.

The watch is measured twice, each time in a fresh child: with tracemalloc on (``ours``: RSS,
traced memory, and where the memory goes: tracemalloc's top allocations by line and by file,
from the idle baseline to the end), and without it (``ours-untraced``: RSS alone, since tracing
itself costs memory for every block it tracks). The idle baseline is the first sample: imports
done, the waiter connected and entered, garbage collected, no job watched yet. The target is RSS
over that baseline, untraced, at most 50 MiB.

Optionally (``--naive``), the same population watched the naive way: one aiobotocore waiter per
job under ``asyncio.gather``, for a shorter window (``--naive-seconds``), to compare memory.

Run::

    .venv/bin/python benchmarks/memory.py               # 2 x 180 s, plus the naive comparison
    .venv/bin/python benchmarks/memory.py --quick       # 2 x 20 s + 10 s, about 80 s in all
    .venv/bin/python benchmarks/memory.py --json > memory.json
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import multiprocessing
import os
import random
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from typing import Any

import _common
from _common import max_rss_bytes, rss_bytes

HERE = os.path.dirname(os.path.abspath(__file__))
REGION = "us-east-1"
KEY = "testing"
STORE_BASE = 2_000_000_000


# -- the emulator, in its own process ------------------------------------------------------


def _population(seed: int, count: int, stores: int) -> list[tuple[str, list[str]]]:
    rng = random.Random(f"{seed}:population")
    return [
        (
            str(STORE_BASE + i % stores),
            [str(rng.randrange(10**11, 10**12)) for _ in range(rng.randint(1, 20))],
        )
        for i in range(count)
    ]


def serve_emulator(conn: Any, settings: dict[str, Any]) -> None:
    """Run an emulator with the population; send (url, pairs); on any message, send the stats."""
    from omics_waiter.testing import OmicsEmulator

    async def main() -> None:
        async with OmicsEmulator(
            seed=settings["seed"],
            job_seconds=tuple(settings["durations"]),
            failure_rate=0.05,
            quota_tps=settings["quota"],
        ) as emu:
            population = _population(settings["seed"], settings["jobs"], settings["stores"])
            pairs = [(store, emu.add_job(store, reads)) for store, reads in population]
            conn.send((emu.endpoint_url, pairs))
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, conn.recv)
            conn.send(emu.stats.requests)

    asyncio.run(main())


class EmulatorProcess:
    def __init__(self, settings: dict[str, Any]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=serve_emulator, args=(child, settings), daemon=True)
        self.stats: dict[str, dict[str, int]] = {}

    def __enter__(self) -> tuple[str, list[tuple[str, str]]]:
        self._process.start()
        url, pairs = self._conn.recv()
        return url, [tuple(p) for p in pairs]

    def __exit__(self, *exc: object) -> None:
        try:
            self._conn.send("stop")
            if self._conn.poll(30):
                self.stats = self._conn.recv()
        finally:
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.terminate()


# -- the measured child --------------------------------------------------------------------


class Sampler:
    def __init__(self, counters: Counter[str]) -> None:
        self.counters = counters
        self.samples: list[dict[str, Any]] = []
        self._start = time.perf_counter()
        self._cpu = time.process_time()

    def sample(self) -> dict[str, Any]:
        now, cpu = time.perf_counter(), time.process_time()
        current, _ = tracemalloc.get_traced_memory()
        row = {
            "t": round(now - self._start, 1),
            "rss": rss_bytes(),
            "traced": current,
            "cpu": round(cpu - self._cpu, 3),
            "tasks": len(asyncio.all_tasks()),
            **{k: self.counters[k] for k in ("seen", "finished", "events", "retries")},
        }
        self._cpu = cpu
        self.samples.append(row)
        print(
            f"  t={row['t']:6.1f}s rss={_common.mib(row['rss'])} MiB "
            f"traced={_common.mib(row['traced'])} MiB cpu={row['cpu']:.2f}s "
            f"tasks={row['tasks']} seen={row['seen']} finished={row['finished']}",
            file=sys.stderr,
            flush=True,
        )
        return row


async def _ours(url: str, pairs: list[tuple[str, str]], args: argparse.Namespace) -> Any:
    from omics_waiter import JobStatusChanged, JobWatchFailed, OmicsWaiter, PollRetrying

    counters: Counter[str] = Counter()
    async with OmicsWaiter.connect(
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=KEY,
        aws_secret_access_key=KEY,
        min_delay=args.min_delay,
        max_delay=args.max_delay,
        max_tps=args.quota,
    ) as waiter:
        gc.collect()
        sampler = Sampler(counters)
        sampler.sample()
        baseline = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
        watch = waiter.watch_activation_jobs(pairs, timeout=args.seconds * 10)

        async def consume() -> None:
            async for event in watch:
                counters["events"] += 1
                if isinstance(event, JobStatusChanged):
                    if event.previous is None:
                        counters["seen"] += 1
                    if event.is_terminal:
                        counters["finished"] += 1
                elif isinstance(event, JobWatchFailed):
                    counters["failed"] += 1
                    counters["finished"] += 1
                elif isinstance(event, PollRetrying):
                    counters["retries"] += 1

        task = asyncio.create_task(consume())
        await _sample_for(sampler, args)
        if baseline is not None:
            gc.collect()
            for key, rows in _top_allocations(baseline, tracemalloc.take_snapshot()).items():
                counters[key] = rows  # type: ignore[assignment]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await watch.aclose()
    return sampler.samples, dict(counters)


def _top_allocations(baseline: Any, end: Any, limit: int = 20) -> dict[str, Any]:
    """What the watch holds that the idle process did not: tracemalloc's top lines and files."""
    ignore = (tracemalloc.Filter(False, tracemalloc.__file__),)
    baseline, end = baseline.filter_traces(ignore), end.filter_traces(ignore)

    def top(key: str) -> list[list[Any]]:
        rows = []
        for stat in end.compare_to(baseline, key)[:limit]:
            frame = stat.traceback[0]
            where = (
                f"{_short(frame.filename)}:{frame.lineno}"
                if key == "lineno"
                else (_short(frame.filename))
            )
            rows.append([where, stat.size_diff, stat.count_diff])
        return rows

    return {"top_lines": top("lineno"), "top_files": top("filename")}


def _short(filename: str) -> str:
    """A path from its package on (site-packages/, src/ and the standard library cut off)."""
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in filename:
            rest = filename.split(marker, 1)[1]
            return rest.split("/", 1)[1] if marker == "/lib/python3" else rest
    return filename


async def _naive(url: str, pairs: list[tuple[str, str]], args: argparse.Namespace) -> Any:
    import aiobotocore.session
    from aiobotocore.config import AioConfig

    counters: Counter[str] = Counter()
    session = aiobotocore.session.get_session()
    async with session.create_client(
        "omics",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=KEY,
        aws_secret_access_key=KEY,
        config=AioConfig(inject_host_prefix=False),
    ) as client:
        waiter = client.get_waiter("read_set_activation_job_completed")
        gc.collect()
        sampler = Sampler(counters)
        sampler.sample()
        config = {"Delay": args.max_delay, "MaxAttempts": 10**6}

        async def one(store: str, job: str) -> None:
            try:
                await waiter.wait(sequenceStoreId=store, id=job, WaiterConfig=config)
            except Exception as exc:  # counted, not raised
                counters[f"ended:{type(exc).__name__}"] += 1
            finally:
                counters["finished"] += 1

        task = asyncio.gather(*(one(s, j) for s, j in pairs), return_exceptions=True)
        await _sample_for(sampler, args)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return sampler.samples, dict(counters)


async def _sample_for(sampler: Sampler, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    for i in range(1, math.ceil(args.seconds / args.interval) + 1):
        await asyncio.sleep(max(0.0, started + i * args.interval - time.perf_counter()))
        sampler.sample()


def child(args: argparse.Namespace) -> dict[str, Any]:
    settings = {
        "seed": args.seed,
        "jobs": args.jobs,
        "stores": args.stores,
        "durations": list(args.durations),
        "quota": None if args.mode == "naive" and args.naive_unlimited else args.quota,
    }
    emulator = EmulatorProcess(settings)
    with emulator as (url, pairs):
        if args.mode != "ours-untraced":
            tracemalloc.start()
        base_rss = rss_bytes()
        run = _naive if args.mode == "naive" else _ours
        samples, counters = asyncio.run(run(url, pairs, args))
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {
        "mode": args.mode,
        "seconds": args.seconds,
        "rss_before_client": base_rss,
        "traced": args.mode != "ours-untraced",
        "samples": samples,
        "counters": counters,
        "tracemalloc_peak": traced_peak,
        "ru_maxrss": max_rss_bytes(),
        "requests": emulator.stats,
        "quota": settings["quota"],
    }


# -- the parent: runs the children, summarises --------------------------------------------


def growth(samples: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """From the first sample at or after one third of the run to the last sample."""
    end = samples[-1]["t"]
    start = next(s for s in samples if s["t"] >= end / 3)
    last = samples[-1]
    span = max(1e-9, last["t"] - start["t"])
    # Least-squares slope over the last two thirds, in bytes per minute.
    tail = [s for s in samples if s["t"] >= start["t"]]
    n = len(tail)
    mean_t = sum(s["t"] for s in tail) / n
    mean_v = sum(s[key] for s in tail) / n
    var = sum((s["t"] - mean_t) ** 2 for s in tail)
    slope = sum((s["t"] - mean_t) * (s[key] - mean_v) for s in tail) / var * 60 if var else 0.0
    return {
        "from_t": start["t"],
        "to_t": last["t"],
        "from": start[key],
        "to": last[key],
        "growth": last[key] - start[key],
        "growth_per_minute_endpoints": (last[key] - start[key]) / span * 60,
        "slope_per_minute": slope,
        "max": max(s[key] for s in samples),
    }


def _run_child(mode: str, args: argparse.Namespace, seconds: float) -> dict[str, Any]:
    cmd = [
        sys.executable,
        os.path.join(HERE, "memory.py"),
        "--child",
        mode,
        "--seconds",
        str(seconds),
        "--interval",
        str(args.interval),
        "--jobs",
        str(args.jobs),
        "--stores",
        str(args.stores),
        "--quota",
        str(args.quota),
        "--durations",
        f"{args.durations[0]}:{args.durations[1]}",
        "--seed",
        str(args.seed),
        "--min-delay",
        str(args.min_delay),
        "--max-delay",
        str(args.max_delay),
    ]
    print(f"running {mode} for {seconds:g} s ...", file=sys.stderr, flush=True)
    done = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, text=True)
    return json.loads(done.stdout)


def render(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"{args.jobs} jobs in {args.stores} store(s), durations {args.durations[0]:g}-"
        f"{args.durations[1]:g} s, quota {args.quota:g} TPS per operation, "
        f"min_delay {args.min_delay:g} s, max_delay {args.max_delay:g} s",
    ]
    for result in results:
        samples = result["samples"]
        lines += [
            "",
            f"## {result['mode']} ({result['seconds']:g} s"
            + (", emulator without quota" if result["quota"] is None else "")
            + ")",
            "",
            _common.table(
                ["t (s)", "RSS MiB", "traced MiB", "CPU s", "tasks", "seen", "finished"],
                [
                    [
                        f"{s['t']:.0f}",
                        _common.mib(s["rss"]),
                        _common.mib(s["traced"]),
                        f"{s['cpu']:.2f}",
                        s["tasks"],
                        s["seen"],
                        s["finished"],
                    ]
                    for s in samples
                ],
            ),
        ]
        rss, traced = growth(samples, "rss"), growth(samples, "traced")
        tail = [s for s in samples if s["t"] >= rss["from_t"]][1:]
        cpu = [s["cpu"] / args.interval for s in tail]
        requests = result["requests"]
        per_op = {op: sum(codes.values()) for op, codes in requests.items()}
        throttled = sum(codes.get("429", 0) for codes in requests.values())
        lines += [
            "",
            f"growth after the first third (t={rss['from_t']:.0f}s -> {rss['to_t']:.0f}s): "
            f"RSS {rss['growth'] / 2**20:+.2f} MiB "
            f"(slope {rss['slope_per_minute'] / 2**20:+.2f} MiB/min), "
            f"tracemalloc {traced['growth'] / 2**20:+.2f} MiB "
            f"(slope {traced['slope_per_minute'] / 2**20:+.2f} MiB/min)",
            f"peak: RSS {_common.mib(rss['max'])} MiB, tracemalloc "
            f"{_common.mib(result['tracemalloc_peak'])} MiB; RSS before the client: "
            f"{_common.mib(result['rss_before_client'])} MiB",
            "CPU over the last two thirds: "
            + (
                f"mean {sum(cpu) / len(cpu):.2f}, min {min(cpu):.2f}, max {max(cpu):.2f} "
                "CPU-s per second"
                if cpu
                else "-"
            ),
            f"requests: {json.dumps(per_op)}, throttled {throttled}; counters: "
            f"{json.dumps(_plain(result['counters']))}",
        ]
        first = samples[0]
        over_rss = rss["max"] - first["rss"]
        line = (
            f"over the idle baseline (t=0: {_common.mib(first['rss'])} MiB RSS): "
            f"peak RSS +{_common.mib(over_rss)} MiB"
        )
        if result.get("traced", True):
            over_traced = result["tracemalloc_peak"] - first["traced"]
            line += f", peak traced +{_common.mib(over_traced)} MiB (tracemalloc on)"
        else:
            line += " (tracemalloc off); target <= 50 MiB: " + (
                "met" if over_rss <= 50 * 2**20 else "NOT met"
            )
        lines.append(line)
        counters = result["counters"]
        for key, title in (("top_files", "file"), ("top_lines", "line")):
            if counters.get(key):
                lines += [
                    "",
                    f"top allocations by {title}, end minus idle baseline (tracemalloc):",
                    "",
                    _common.table(
                        [title, "MiB", "blocks"],
                        [
                            [w, f"{size / 2**20:+.2f}", f"{count:+d}"]
                            for w, size, count in counters[key]
                        ],
                    ),
                ]
    return "\n".join(lines)


def _plain(counters: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in counters.items() if not k.startswith("top_")}


def _durations(text: str) -> tuple[float, float]:
    low, sep, high = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError("expected MIN:MAX")
    return float(low), float(high)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the run (180)")
    parser.add_argument("--quick", action="store_true", help="a 20 s run, samples every 2 s")
    parser.add_argument("--interval", type=float, default=None, help="seconds between samples")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--stores", type=int, default=4, help="sequence stores (4)")
    parser.add_argument("--quota", type=float, default=200.0, help="TPS per operation (200)")
    parser.add_argument("--durations", type=_durations, default=(60.0, 1800.0))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-delay", type=float, default=1.0)
    parser.add_argument("--max-delay", type=float, default=5.0)
    parser.add_argument(
        "--naive",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure 10,000 aiobotocore waiters under gather (default: yes)",
    )
    parser.add_argument("--naive-seconds", type=float, default=30.0)
    parser.add_argument("--json", action="store_true", help="JSON on stdout (tables on stderr)")
    parser.add_argument(
        "--child", choices=["ours", "ours-untraced", "naive"], help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = 20.0
        args.naive_seconds = min(args.naive_seconds, 10.0)
    if args.interval is None:
        args.interval = 2.0 if args.seconds <= 40 else 5.0
    if args.child:
        args.mode = args.child
        args.naive_unlimited = True
        json.dump(child(args), sys.stdout)
        return 0
    started = time.perf_counter()
    results = [
        _run_child("ours", args, args.seconds),
        _run_child("ours-untraced", args, args.seconds),
    ]
    if args.naive:
        results.append(_run_child("naive", args, args.naive_seconds))
    total = time.perf_counter() - started
    text = render(results, args) + f"\n\ntotal run time: {total:.0f} s"
    if args.json:
        print(text, file=sys.stderr)
        json.dump({"results": results, "total_seconds": round(total, 1)}, sys.stdout, indent=1)
        print()
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
