"""Benchmark: 200 deferred Airflow waits on HealthOmics runs in one triggerer's event loop.

Every contender waits on the same 200 runs (a fresh emulator per contender, same seed, so the
same IDs, tasks, durations and outcomes), against a quota of 20 TPS per operation:

1. ``provider-30s``: the Amazon provider's deferrable path. A ``RunCompletedTrigger``
   subclasses the provider's ``AwsBaseWaiterTrigger`` and adds nothing but its arguments, so
   its real ``run()`` does the waiting: each trigger builds its own ``AwsBaseHook(aws_conn_id,
   client_type="omics")`` and aiobotocore client (off the loop, through ``sync_to_async``), and
   ``async_wait`` polls botocore's ``run_completed`` waiter one attempt every ``waiter_delay``
   (30 s, the usual value in the provider's operators), retrying throttling at that same delay.
   The client has the provider's default botocore configuration (its own retries, legacy mode).
2. ``provider-fast``: the same at ``waiter_delay`` = our ``min_delay``.
3. ``ours-triggers``: 200 ``OmicsJobTrigger("run", [run_id])``; they share one waiter.
4. ``ours-wait-many``: one ``OmicsWaiter.wait_many`` over the 200 runs, the yardstick for
   requests.

The triggers run as the triggerer runs them (``airflow/jobs/triggerer_job_runner.py``): one
asyncio task per trigger in one loop, ``async for event in trigger.run()``, then
``trigger.cleanup()``. Both sides read the credentials and the endpoint from the same Airflow
connection, given as ``AIRFLOW_CONN_AWS_DEFAULT`` (login/password, ``region_name``,
``endpoint_url``; the provider's also needs ``config_kwargs: {"inject_host_prefix": false}``,
since its clients would otherwise send to ``workflows-127.0.0.1``; ours turns the prefix off
itself when an endpoint is set). Airflow's loggers are set to WARNING for every contender: the
provider logs each poll of each trigger at INFO.

Measured: failed waits (an event that is neither success nor the run's true failure), throttled
responses (429, from the emulator's counts), requests (total and per run), detection delay
(the run's completion in the emulator -> its trigger's event; for ``wait_many``, -> the final
Get answer, since it tells its caller only at the end), client CPU (the process's CPU time less
the emulator thread's) and memory per trigger (RSS growth in the run, and the tracemalloc peak
in a second pass of its own, since tracemalloc slows every allocation).

The emulator has no time scale of its own: its clock is ``time.monotonic``, the same one the
waits sleep on, so the job durations are real seconds. At 5-30 s runs the whole benchmark takes
5 to 6 minutes (2 cores, the tracemalloc pass included); ``--no-tracemalloc`` halves it. Each
contender runs in a fresh process (``--child``), so that its memory is its own.

Run::

    .venv/bin/python benchmarks/airflow_triggers.py
    .venv/bin/python benchmarks/airflow_triggers.py --only provider-30s --only ours-triggers
    .venv/bin/python benchmarks/airflow_triggers.py --json > out.json

Reuses ``_common`` (emulator thread, RSS sampler, percentiles, table) and ``many_jobs``
(the per-job outcome record and the population fingerprint) rather than copying them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import _common
from _common import EmulatorThread, RssSampler, durations, percentile
from many_jobs import FAILURE_RATE, KEY, REGION, Outcome, _fingerprint

from omics_waiter import JobFailedError, OmicsWaiter, RunRef
from omics_waiter.testing import OmicsEmulator

CONN_ENV = "AIRFLOW_CONN_AWS_DEFAULT"


# -- the Amazon provider's deferrable path --------------------------------------------------


def _provider_trigger_class() -> type[Any]:
    """``RunCompletedTrigger``: the provider's ``AwsBaseWaiterTrigger`` on ``run_completed``.

    Made in a function so that importing this script does not import Airflow.
    """
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger
    from airflow.triggers.base import TriggerEvent

    class RunCompletedTrigger(AwsBaseWaiterTrigger):  # type: ignore[misc]
        """What a HealthOmics trigger in the Amazon provider would look like (it has none)."""

        aws_hook_class = AwsBaseHook

        def __init__(
            self,
            *,
            run_id: str,
            waiter_delay: int = 30,
            waiter_max_attempts: int = 60,
            aws_conn_id: str | None = "aws_default",
            **kwargs: Any,
        ) -> None:
            super().__init__(
                serialized_fields={"run_id": run_id},
                waiter_name="run_completed",
                waiter_args={"id": run_id},
                failure_message="HealthOmics run failed",
                status_message="Status of HealthOmics run is",
                status_queries=["status", "statusMessage"],
                return_key="run_id",
                return_value=run_id,
                waiter_delay=waiter_delay,
                waiter_max_attempts=waiter_max_attempts,
                aws_conn_id=aws_conn_id,
                **kwargs,
            )

        @property
        def _hook_parameters(self) -> dict[str, Any]:
            # The documented seam for a hook that takes more: here the client type.
            return {**super()._hook_parameters, "client_type": "omics"}

        def _event_from_exception(self, error: Exception) -> TriggerEvent:
            # The base event carries only the message; the class name tells a run that
            # failed (WaiterTerminalFailure) from a wait that failed, without parsing text.
            event = super()._event_from_exception(error)
            return TriggerEvent({**event.payload, "error": type(error).__name__})

    return RunCompletedTrigger


def _provider_verdict(payload: dict[str, Any]) -> tuple[str | None, str | None]:
    """(final status, None) for a verdict, (None, reason) for a failed wait."""
    if payload["status"] == "success":
        return "COMPLETED", None
    if payload.get("error") == "WaiterTerminalFailure":  # run_completed's only failure: FAILED
        return "FAILED", None
    return None, str(payload.get("error") or payload["status"])


def _our_verdict(payload: dict[str, Any]) -> tuple[str | None, str | None]:
    job = (payload.get("jobs") or [None])[0]
    if payload["status"] in ("success", "failed") and job is not None:
        return str(job["status"]), None
    return None, str(payload.get("error") or payload["status"])


# -- contenders ---------------------------------------------------------------------------


Runner = Callable[[list[str], argparse.Namespace], Awaitable[Outcome]]


async def _drive(trigger: Any, run_id: str, out: Outcome, judge: Callable[..., Any]) -> None:
    """One trigger as the triggerer runs it: every event of ``run()``, then ``cleanup()``."""
    try:
        async for event in trigger.run():
            status, failure = judge(event.payload)
            out.settle(run_id, status=status, failure=failure)
    except Exception as exc:  # the triggerer would fail the task: a failed wait here
        out.settle(run_id, failure=type(exc).__name__)
    finally:
        await trigger.cleanup()


async def _triggerer(triggers: dict[str, Any], out: Outcome, judge: Callable[..., Any]) -> None:
    tasks = [
        asyncio.create_task(_drive(trigger, run_id, out, judge))
        for run_id, trigger in triggers.items()
    ]
    await asyncio.gather(*tasks)


def _provider(delay: Callable[[argparse.Namespace], float]) -> Runner:
    async def run(runs: list[str], args: argparse.Namespace) -> Outcome:
        trigger_class = _provider_trigger_class()
        waiter_delay = delay(args)
        # "Enough attempts": the longest run three times over (throttles are not counted).
        attempts = math.ceil(3 * args.durations[1] / waiter_delay) + 1
        out = Outcome()
        out.notes.update(waiter_delay=waiter_delay, waiter_max_attempts=attempts)
        triggers = {
            run_id: trigger_class(
                run_id=run_id, waiter_delay=waiter_delay, waiter_max_attempts=attempts
            )
            for run_id in runs
        }
        await _triggerer(triggers, out, _provider_verdict)
        return out

    return run


def _waiter_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"min_delay": args.min_delay, "max_delay": args.max_delay, "max_tps": args.quota}


async def ours_triggers(runs: list[str], args: argparse.Namespace) -> Outcome:
    from omics_waiter.airflow import OmicsJobTrigger

    out = Outcome()
    triggers = {
        run_id: OmicsJobTrigger(
            "run", [run_id], timeout=args.timeout, waiter_options=_waiter_options(args)
        )
        for run_id in runs
    }
    await _triggerer(triggers, out, _our_verdict)
    return out


def _record_answers(waiter: OmicsWaiter, out: Outcome) -> None:
    """Note when each run's first final Get answer reaches the client (read only)."""
    api = waiter._api
    original = api.get

    async def get(kind: Any, ref: Any, **kwargs: Any) -> Any:
        job = await original(kind, ref, **kwargs)
        if kind.is_terminal(str(job.status)):
            out.answered(ref.ids[-1])
        return job

    api.get = get  # type: ignore[method-assign]


async def ours_wait_many(runs: list[str], args: argparse.Namespace) -> Outcome:
    out = Outcome(measured_at="answer")
    conn = json.loads(os.environ[CONN_ENV])
    async with OmicsWaiter.connect(
        endpoint_url=conn["extra"]["endpoint_url"],
        region_name=REGION,
        aws_access_key_id=KEY,
        aws_secret_access_key=KEY,
        **_waiter_options(args),
    ) as waiter:
        _record_answers(waiter, out)
        outcomes = await waiter.wait_many([RunRef(r) for r in runs], timeout=args.timeout)
        returned = _common.clock()
    for run_id, outcome in zip(runs, outcomes, strict=True):
        if isinstance(outcome, JobFailedError):
            out.settle(run_id, status=str(outcome.job.status))
        elif isinstance(outcome, BaseException):
            out.settle(run_id, failure=type(outcome).__name__)
        else:
            out.settle(run_id, status=str(outcome.status))
        out.arrivals[run_id] = out.answers.get(run_id, returned)
    return out


CONTENDERS: dict[str, tuple[str, Runner]] = {
    "provider-30s": (
        "Amazon provider AwsBaseWaiterTrigger + async_wait, waiter_delay 30 s",
        _provider(lambda args: 30),
    ),
    "provider-fast": (
        "the same at waiter_delay = our min_delay",
        _provider(lambda args: args.min_delay),
    ),
    "ours-triggers": ("OmicsJobTrigger('run', [id]) per run, one shared waiter", ours_triggers),
    "ours-wait-many": ("one OmicsWaiter.wait_many over every run", ours_wait_many),
}


# -- running ------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    wall: float
    requests: dict[str, dict[str, int]]
    cpu_client: float
    rss_growth: int
    tracemalloc_peak: int | None
    outcome: Outcome
    latencies: list[float]
    wrong_verdicts: int
    population: str

    @property
    def total_requests(self) -> int:
        return sum(sum(codes.values()) for codes in self.requests.values())

    @property
    def throttled(self) -> int:
        return sum(codes.get("429", 0) for codes in self.requests.values())

    def by_op(self, op: str) -> int:
        return sum(self.requests.get(op, {}).values())

    def to_json(self, jobs: int) -> dict[str, Any]:
        lat = self.latencies
        return {
            "contender": self.name,
            "wall_seconds": round(self.wall, 3),
            "requests": self.requests,
            "requests_total": self.total_requests,
            "requests_per_run": self.total_requests / jobs,
            "throttled_responses": self.throttled,
            "verdicts": dict(Counter(self.outcome.verdicts.values())),
            "wrong_verdicts": self.wrong_verdicts,
            "failed_waits": dict(Counter(self.outcome.failures.values())),
            "detection_seconds": {
                "measured_at": self.outcome.measured_at,
                "n": len(lat),
                "p50": percentile(lat, 50),
                "p95": percentile(lat, 95),
                "max": max(lat) if lat else None,
            },
            "client_cpu_seconds": round(self.cpu_client, 3),
            "rss_growth_bytes": self.rss_growth,
            "tracemalloc_peak_bytes": self.tracemalloc_peak,
            "population_fingerprint": self.population,
            "notes": self.outcome.notes,
        }


def _thread_cpu(thread: Any) -> float:
    """CPU seconds of one thread of this process (Linux: its per-thread clock)."""
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


@contextlib.contextmanager
def _connection(url: str) -> Any:
    """The Airflow AWS connection to the emulator, as an environment variable."""
    old = os.environ.get(CONN_ENV)
    os.environ[CONN_ENV] = json.dumps(
        {
            "conn_type": "aws",
            "login": KEY,
            "password": KEY,
            "extra": {
                "region_name": REGION,
                "endpoint_url": url,
                "config_kwargs": {"inject_host_prefix": False},
            },
        }
    )
    try:
        yield
    finally:
        if old is None:
            del os.environ[CONN_ENV]
        else:
            os.environ[CONN_ENV] = old


def _run_one(name: str, args: argparse.Namespace, *, trace: bool = False) -> Result:
    _, runner = CONTENDERS[name]
    low, high = args.durations

    def make() -> OmicsEmulator:
        return OmicsEmulator(
            seed=args.seed,
            job_seconds=(low, high),
            failure_rate=FAILURE_RATE,
            quota_tps=args.quota,
        )

    gc.collect()
    holder = EmulatorThread(make)
    with holder as emu:
        # The emulator's thread, read to take its CPU time out of the process's.
        emulator_thread = holder._thread
        with _connection(emu.endpoint_url):
            runs = [emu.add_run(name=f"bench-{i}") for i in range(args.jobs)]
            if trace:
                tracemalloc.start()
            with RssSampler() as rss:
                cpu0, emu0 = time.process_time(), _thread_cpu(emulator_thread)
                wall0 = time.perf_counter()
                outcome = asyncio.run(runner(runs, args))
                wall = time.perf_counter() - wall0
                cpu = (time.process_time() - cpu0) - (_thread_cpu(emulator_thread) - emu0)
            traced = None
            if trace:
                traced = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
        latencies = []
        wrong = 0
        for run_id, status in outcome.verdicts.items():
            done = emu.completion_time(run_id)
            if done is None or emu.job_state("run", run_id)["status"] != status:
                wrong += 1
            else:
                latencies.append(outcome.arrivals[run_id] - done)
        return Result(
            name=name,
            wall=wall,
            requests=emu.stats.requests,
            cpu_client=cpu,
            rss_growth=rss.peak - rss.start,
            tracemalloc_peak=traced,
            outcome=outcome,
            latencies=latencies,
            wrong_verdicts=wrong,
            population=_fingerprint(emu),
        )


# -- reporting ----------------------------------------------------------------------------


def render(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """The side-by-side table of the contenders' JSON results, and the targets."""
    n = args.jobs

    def row(label: str, fn: Callable[[dict[str, Any]], Any]) -> list[Any]:
        return [label, *(fn(r) for r in results)]

    def by_op(op: str) -> Callable[[dict[str, Any]], int]:
        return lambda r: sum(r["requests"].get(op, {}).values())

    def delay(q: str) -> Callable[[dict[str, Any]], str]:
        return lambda r: _common.seconds(r["detection_seconds"][q])

    def per_trigger_kib(key: str) -> Callable[[dict[str, Any]], str]:
        return lambda r: "-" if r[key] is None else f"{r[key] / n / 1024:.1f}"

    rows = [
        row("wall time (s)", lambda r: f"{r['wall_seconds']:.1f}"),
        row("requests: GetRun", by_op("GetRun")),
        row("requests: ListRuns", by_op("ListRuns")),
        row("requests: total", lambda r: r["requests_total"]),
        row("requests per run", lambda r: f"{r['requests_total'] / n:.2f}"),
        row("throttled responses (429)", lambda r: r["throttled_responses"]),
        row("verdicts (true final status)", lambda r: sum(r["verdicts"].values())),
        row("failed waits", lambda r: sum(r["failed_waits"].values())),
        row("wrong verdicts", lambda r: r["wrong_verdicts"]),
        row("detection delay p50 (s)", delay("p50")),
        row("detection delay p95 (s)", delay("p95")),
        row("detection delay max (s)", delay("max")),
        row(
            "detection taken at",
            lambda r: (
                "event" if r["detection_seconds"]["measured_at"] == "caller" else "final answer"
            ),
        ),
        row("client CPU (s)", lambda r: f"{r['client_cpu_seconds']:.1f}"),
        row("client CPU per trigger (ms)", lambda r: f"{1000 * r['client_cpu_seconds'] / n:.1f}"),
        row("RSS growth per trigger (KiB)", per_trigger_kib("rss_growth_bytes")),
        row("tracemalloc peak per trigger (KiB)", per_trigger_kib("tracemalloc_peak_bytes")),
    ]
    lines = [
        f"{n} runs, quota {args.quota:g} TPS per operation, durations "
        f"{args.durations[0]:g}-{args.durations[1]:g} s, {FAILURE_RATE:.0%} of tasks fail, "
        f"seed {args.seed}; ours: min_delay {args.min_delay:g} s, max_delay "
        f"{args.max_delay:g} s, max_tps {args.quota:g}; provider-fast: waiter_delay "
        f"{args.min_delay:g} s; each contender in a fresh process",
        "",
        _common.table(["", *(r["contender"] for r in results)], rows),
    ]
    failures = {r["contender"]: r["failed_waits"] for r in results}
    if any(failures.values()):
        lines += ["", "failed waits by reason: " + json.dumps(failures)]
    lines += _targets({r["contender"]: r for r in results})
    populations = {r["population_fingerprint"] for r in results}
    lines += [
        "",
        "identical populations: "
        + ("yes" if len(populations) == 1 else f"NO {sorted(populations)}"),
    ]
    return "\n".join(lines)


def _targets(by_name: dict[str, dict[str, Any]]) -> list[str]:
    ours = by_name.get("ours-triggers")
    if ours is None:
        return []
    failed = sum(ours["failed_waits"].values())
    lines = [
        "",
        "targets (ours-triggers):",
        f"  zero failed waits: {failed == 0} ({failed})",
        f"  zero throttled responses: {ours['throttled_responses'] == 0} "
        f"({ours['throttled_responses']})",
    ]
    many = by_name.get("ours-wait-many")
    if many is not None and many["requests_total"]:
        ratio = ours["requests_total"] / many["requests_total"]
        lines.append(
            f"  requests <= 1.2x wait_many's: {ratio <= 1.2} "
            f"({ratio:.2f}x: {ours['requests_total']} vs {many['requests_total']})"
        )
    slow = by_name.get("provider-30s")
    ours_p50 = ours["detection_seconds"]["p50"]
    slow_p50 = None if slow is None else slow["detection_seconds"]["p50"]
    if ours_p50 and slow_p50:
        ratio = slow_p50 / ours_p50
        lines.append(
            f"  p50 detection >= 10x lower than provider-30s: {ratio >= 10} "
            f"({ratio:.1f}x: {ours_p50:.2f} vs {slow_p50:.2f} s)"
        )
    return lines


def _child(name: str, args: argparse.Namespace, argv: list[str], *, trace: bool) -> Any:
    """One contender's pass in a fresh interpreter, so that its RSS is its own: its JSON."""
    command = [sys.executable, __file__, *argv, "--child", name, *(["--trace"] if trace else [])]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])  # its last line: anything else is not ours


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200, help="runs (and triggers) (200)")
    parser.add_argument("--quota", type=float, default=20.0, help="TPS per operation (20)")
    parser.add_argument(
        "--durations", type=durations, default=(5.0, 30.0), help="run seconds MIN:MAX (5:30)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the population (1)")
    parser.add_argument(
        "--min-delay",
        type=float,
        default=2.0,
        help="our min_delay, and provider-fast's waiter_delay, seconds (2)",
    )
    parser.add_argument("--max-delay", type=float, default=10.0, help="our max_delay (10)")
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
    # Internal: run one contender in this process and print its JSON result.
    parser.add_argument("--child", choices=list(CONTENDERS), help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.timeout = 4 * args.durations[1] + 60
    if args.child:
        # Airflow logs each poll of each provider trigger at INFO: quiet for every contender.
        # Its logging is configured when it is first imported, from this setting.
        os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
        import airflow.triggers.base  # noqa: F401 - imported up front, not in the timed run

        result = _run_one(args.child, args, trace=args.trace).to_json(args.jobs)
        print("\n" + json.dumps(result))
        return 0
    names = [n for n in CONTENDERS if not args.only or n in args.only]
    results = []
    started = time.perf_counter()
    for name in names:
        print(f"running {name}: {CONTENDERS[name][0]} ...", file=sys.stderr, flush=True)
        result = _child(name, args, argv, trace=False)
        print(
            f"  {name}: {result['wall_seconds']:.1f} s, {result['requests_total']} requests, "
            f"{sum(result['failed_waits'].values())} failed waits",
            file=sys.stderr,
            flush=True,
        )
        results.append(result)
    if args.tracemalloc:
        # tracemalloc slows every allocation: a pass of its own, of which only the peak is kept.
        for result in results:
            name = result["contender"]
            print(f"tracemalloc pass: {name} ...", file=sys.stderr, flush=True)
            traced = _child(name, args, argv, trace=True)
            result["tracemalloc_peak_bytes"] = traced["tracemalloc_peak_bytes"]
    total = time.perf_counter() - started
    text = render(results, args) + f"\n\ntotal run time: {total:.0f} s"
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
                "timeout": args.timeout,
                "failure_rate_per_task": FAILURE_RATE,
            },
            "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
            "total_seconds": round(total, 1),
            "results": results,
        }
        json.dump(payload, sys.stdout, indent=2)
        print()
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
