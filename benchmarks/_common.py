"""Helpers shared by the benchmark scripts: memory probes, percentiles and tables.

Not part of the package; the scripts in this directory import it as a sibling module.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """The resident set size of this process now (Linux: /proc/self/statm; else ru_maxrss)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:
        return max_rss_bytes()


def max_rss_bytes() -> int:
    """The peak RSS of this process so far (ru_maxrss; never goes down)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class RssSampler:
    """Samples this process's RSS on a thread, for the peak RSS of one stretch of a run.

    ru_maxrss is monotonic over the whole process, so it cannot tell apart contenders run one
    after another; this gives the peak within a window instead (to within the interval).
    """

    def __init__(self, interval: float = 0.05) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self.peak = 0
        self.start = 0  # the RSS when the window opened
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self.peak = self.start = rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def mib(value: float | None) -> str:
    return "-" if value is None else f"{value / 2**20:.1f}"


def seconds(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table (GitHub-flavoured Markdown), columns padded to width."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        first = row[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "| " + " | ".join([first, *rest]) + " |"

    rule = (
        "|"
        + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths))
        + "|"
    )
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


class EmulatorThread:
    """Runs an `OmicsEmulator` on its own event loop in a background thread.

    The emulator then shares the process (and the GIL) with the code under test but not its
    event loop, so the main thread's CPU time (`time.thread_time`) is the client's alone.
    Jobs must be added (``emu.add_job``) before any request is in flight: the emulator's job
    store is not meant to be changed from two threads at once.
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.emulator: Any = None
        self._thread = threading.Thread(target=self._run, name="emulator", daemon=True)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self.emulator = self._factory()
            loop.run_until_complete(self.emulator.start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.emulator.aclose())
            loop.close()

    def __enter__(self) -> Any:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self.emulator

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)


def durations(text: str) -> tuple[float, float]:
    """An argparse type: ``MIN:MAX`` seconds, 0 <= MIN <= MAX."""
    low, sep, high = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError("expected MIN:MAX, e.g. 5:30")
    pair = float(low), float(high)
    if not 0 <= pair[0] <= pair[1]:
        raise argparse.ArgumentTypeError("expected 0 <= MIN <= MAX")
    return pair


def clock() -> float:
    """The clock the emulator and the waiters share (``time.monotonic``)."""
    return time.monotonic()


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    """moto's standalone server (SQS, EventBridge) on a free port, started with this
    interpreter (the moto of the project's environment): the process and its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                return process, url
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """`start_moto`'s URL, for a ``with`` block; the server stops at its end."""
    process, url = start_moto()
    try:
        yield url
    finally:
        process.terminate()
        process.wait()
