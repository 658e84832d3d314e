"""Run the engine from a task's synchronous `execute`.

A worker runs `execute` with no event loop in its thread, so `anyio.run` starts one; should a
loop already run in the thread (a caller's own), the coroutine runs in a thread of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

__all__ = ["run_blocking"]

T = TypeVar("T")


def run_blocking(function: Callable[[], Awaitable[T]]) -> T:
    """The result of ``await function()``, from synchronous code."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.run(function)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, function).result()
