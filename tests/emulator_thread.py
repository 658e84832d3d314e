"""An `OmicsEmulator` served from a thread with its own asyncio loop.

For tests whose client is not on that loop: the command line run as a subprocess, or a
waiter on trio (the emulator's server, aiohttp, runs only on asyncio).
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from omics_waiter.testing import Faults, OmicsEmulator, Step

T = TypeVar("T")


class EmulatorThread:
    """An `OmicsEmulator` served from a thread of its own; jobs are added on its loop."""

    def __init__(self, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.emulator: OmicsEmulator = self._call(self._start(options))

    @staticmethod
    async def _start(options: dict[str, Any]) -> OmicsEmulator:
        emulator = OmicsEmulator(**options)
        await emulator.start()
        return emulator

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    @property
    def url(self) -> str:
        return self.emulator.endpoint_url

    def add_job(self, store: str, read_sets: Sequence[str], timeline: list[Step] | None) -> str:
        async def add() -> str:
            return self.emulator.add_job(store, read_sets, timeline=timeline)

        return self._call(add())

    def set_faults(self, faults: Faults) -> None:
        async def set_() -> None:
            self.emulator.set_faults(faults)

        self._call(set_())

    def stats(self) -> dict[str, dict[str, int]]:
        """Requests counted by operation and HTTP status, read from the stats endpoint."""
        with urllib.request.urlopen(f"{self.url}/_emulator/stats", timeout=5) as response:
            stats: dict[str, dict[str, int]] = json.load(response)["requests"]
        return stats

    def call(self, action: Callable[[OmicsEmulator], T]) -> T:
        """`action(emulator)` on the emulator's loop (e.g. adding a run), and its result."""

        async def call() -> T:
            return action(self.emulator)

        return self._call(call())

    def requests(self) -> int:
        """Every request the emulator has counted."""
        return sum(sum(by_status.values()) for by_status in self.stats().values())

    def starts(self) -> int:
        return sum(self.stats().get("StartReadSetActivationJob", {}).values())

    def close(self) -> None:
        self._call(self.emulator.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
