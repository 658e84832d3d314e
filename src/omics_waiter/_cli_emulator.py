"""``omics-waiter emulator``: run the emulator as a server until SIGINT or SIGTERM.

The emulator (aiohttp's server, botocore's model) is imported when the command runs, so that
``omics-waiter --help`` and usage errors load neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from .testing import OmicsEmulator

__all__ = ["emulator"]

_RATE = click.FloatRange(0.0, 1.0)
_SECONDS = click.FloatRange(min=0.0)


def _seconds_range(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[float, float]:
    """Parse ``MIN:MAX`` seconds, 0 <= MIN <= MAX."""
    if value is None:
        return (0.0, 0.0) if param.name == "event_delay" else (1.0, 3.0)
    low_text, sep, high_text = value.partition(":")
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        low = high = math.nan
    if not sep or math.isnan(low) or math.isnan(high):
        raise click.BadParameter(f"{value!r} is not MIN:MAX seconds, e.g. 1:3")
    if not (0.0 <= low <= high and math.isfinite(high)):
        raise click.BadParameter(f"{value!r} needs 0 <= MIN <= MAX")
    return low, high


def _positive(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not (value > 0.0 and math.isfinite(value)):
        raise click.BadParameter(f"{value!r} is not a positive number of requests per second")
    return value


async def _serve(emulator: OmicsEmulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C still raises
            loop.add_signal_handler(signum, stop.set)
    async with emulator:
        click.echo(f"endpoint_url={emulator.endpoint_url}")  # click.echo always flushes
        await stop.wait()


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0: a free port."
)
@click.option("--access-key", default="testing", show_default=True, help="Accepted access key.")
@click.option("--secret-key", default="testing", help="Its secret key (default: testing).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds every random choice.")
@click.option(
    "--job-seconds",
    metavar="MIN:MAX",
    callback=_seconds_range,
    help="Range of job durations in seconds.  [default: 1:3]",
)
@click.option(
    "--failure-rate", type=_RATE, default=0.0, help="Probability an item, task or workflow fails."
)
@click.option(
    "--quota-tps", type=float, default=None, callback=_positive, help="Requests/s per operation."
)
@click.option("--throttle-rate", type=_RATE, default=0.0, help="Probability of a 429.")
@click.option("--error-rate", type=_RATE, default=0.0, help="Probability of a 500.")
@click.option("--drop-rate", type=_RATE, default=0.0, help="Probability of a dropped connection.")
@click.option("--slow-rate", type=_RATE, default=0.0, help="Probability of a slow response.")
@click.option(
    "--slow-seconds", type=_SECONDS, default=5.0, show_default=True, help="Delay of slow responses."
)
@click.option("--latency", type=_SECONDS, default=0.0, help="Seconds added to every response.")
@click.option(
    "--visibility-delay", type=_SECONDS, default=0.0, help="Seconds before a new job is visible."
)
@click.option("--region", default="us-east-1", show_default=True, help="Region in ARNs and events.")
@click.option(
    "--events-endpoint-url",
    metavar="URL",
    default=None,
    help="Publish every status change to this EventBridge endpoint (PutEvents).",
)
@click.option(
    "--event-delay",
    metavar="MIN:MAX",
    callback=_seconds_range,
    help="Hold each event back MIN to MAX seconds (reorders them).  [default: 0:0]",
)
@click.option("--event-drop-rate", type=_RATE, default=0.0, help="Probability an event is lost.")
@click.option(
    "--event-duplicate-rate", type=_RATE, default=0.0, help="Probability an event is sent twice."
)
def emulator(
    *,
    host: str,
    port: int,
    access_key: str,
    secret_key: str,
    seed: int,
    job_seconds: tuple[float, float],
    failure_rate: float,
    quota_tps: float | None,
    throttle_rate: float,
    error_rate: float,
    drop_rate: float,
    slow_rate: float,
    slow_seconds: float,
    latency: float,
    visibility_delay: float,
    region: str,
    events_endpoint_url: str | None,
    event_delay: tuple[float, float],
    event_drop_rate: float,
    event_duplicate_rate: float,
) -> None:
    """Run a local HealthOmics endpoint: read set, reference, variant and annotation jobs, runs,
    tasks and workflows.

    Prints one line, endpoint_url=http://HOST:PORT, once listening; serves until SIGINT or
    SIGTERM.
    """
    if not access_key or not secret_key:
        raise click.UsageError("--access-key and --secret-key must not be empty")
    if not region:
        raise click.UsageError("--region must not be empty")
    knobs = event_delay != (0.0, 0.0) or event_drop_rate or event_duplicate_rate
    if events_endpoint_url is None and knobs:
        raise click.UsageError("--event-delay and --event-*-rate need --events-endpoint-url")
    from .testing import Faults, OmicsEmulator

    faults = Faults(
        throttle_rate=throttle_rate,
        error_rate=error_rate,
        drop_rate=drop_rate,
        slow_rate=slow_rate,
        slow_seconds=slow_seconds,
        latency=latency,
    )
    server = OmicsEmulator(
        host=host,
        port=port,
        access_key=access_key,
        secret_key=secret_key,
        seed=seed,
        job_seconds=job_seconds,
        failure_rate=failure_rate,
        visibility_delay=visibility_delay,
        quota_tps=quota_tps,
        faults=faults,
        region=region,
        events_endpoint_url=events_endpoint_url,
        event_delay=event_delay,
        event_drop_rate=event_drop_rate,
        event_duplicate_rate=event_duplicate_rate,
    )
    try:
        asyncio.run(_serve(server))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
