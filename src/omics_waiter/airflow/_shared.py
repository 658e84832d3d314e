"""One `OmicsWaiter` per triggerer: the per-process registry the triggers share.

Airflow's triggerer runs every trigger of a process as one asyncio task in one event loop,
and imports trigger classes once, so module-level state here is shared by all of them. A
trigger asks `shared_waiter` for the waiter of its key (the running loop, the connection ID,
the Region and the waiter options; the connection gives the endpoint) and waits on it in its
own task: waits of one key are coalesced and swept through List as `wait_many` does, under
one request budget.

Who owns the waiter. Not a trigger: cancelling a trigger (Airflow does when a task is cleared
or its trigger moves to another triggerer) must end only that trigger's wait. And not a task
group: Airflow gives a trigger no place to put one (no hook around the loop, no per-process
start or stop; ``cleanup()`` is per trigger and ``dag.test()`` does not call it). So each key
has one asyncio task of its own, created by the registry: it enters `OmicsWaiter.connect`,
hands the waiter out, and stays while triggers use it and `LINGER` seconds after the last
one leaves; then it removes itself from the registry and closes the waiter. That is the one
task here without an owner waiting for it, and the reason is above; it never outlives its
loop: when the loop shuts down (``asyncio.run`` cancels the tasks left), it is cancelled and
closes the client on the way out.

The key holds the loop because ``dag.test()`` runs each trigger in a new loop
(``asyncio.run``): a waiter is bound to the loop it was made in. Entries are held per loop
in a `weakref.WeakKeyDictionary`, so a closed loop's entries go with it.

A failure to make the waiter (a missing connection, refused Redis credentials, an SQS queue
that does not exist) reaches every trigger waiting for it as that exception; the key is then
forgotten, so the next trigger tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio

from .._errors import OmicsWaiterError
from .._waiter import OmicsWaiter

__all__ = ["LINGER", "shared_waiter", "waiter_count"]

logger = logging.getLogger("omics_waiter.airflow")

#: Seconds a shared waiter stays open after its last trigger leaves: a DAG's triggers
#: arrive one after another, and should find the waiter (and its budget) of the ones before.
LINGER = 5.0

Opener = Callable[[], AbstractAsyncContextManager[OmicsWaiter]]

_REGISTRY: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, _Holder]] = (
    weakref.WeakKeyDictionary()
)


class _Holder:
    """The task that holds one key's waiter open, and the count of triggers using it."""

    def __init__(
        self, key: Hashable, entries: dict[Hashable, _Holder], open_: Opener, linger: float
    ) -> None:
        self.key = key
        self.users = 0
        self.waiter: OmicsWaiter | None = None
        self.error: BaseException | None = None
        self._entries = entries
        self._open = open_
        self._linger = linger
        self._ready = asyncio.Event()
        self._changed = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(
            self._run(), name=f"omics-waiter shared waiter {key!r}"
        )

    def enter(self) -> None:
        self.users += 1
        self._changed.set()

    def leave(self) -> None:
        self.users -= 1
        self._changed.set()

    async def ready(self) -> OmicsWaiter:
        await self._ready.wait()
        if self.waiter is None:
            assert self.error is not None
            raise self.error
        return self.waiter

    def _forget(self) -> None:
        if self._entries.get(self.key) is self:
            del self._entries[self.key]

    async def _run(self) -> None:
        try:
            async with self._open() as waiter:
                self.waiter = waiter
                self._ready.set()
                await self._serve()
                # Forgotten before closing: a trigger arriving now makes a new waiter
                # rather than being handed one that is closing.
                self._forget()
        except Exception as exc:
            if self.waiter is None:
                logger.warning("could not make the shared waiter for %r: %s", self.key, exc)
                self.error = exc
            else:
                logger.exception("the shared waiter for %r failed", self.key)
        finally:
            self._forget()
            if self.error is None:
                when = "" if self._ready.is_set() else " before it was ready"
                self.error = OmicsWaiterError(f"the shared waiter was closed{when}")
            self.waiter = None
            self._ready.set()

    async def _serve(self) -> None:
        """Return once no trigger has used the waiter for `linger` seconds."""
        while True:
            self._changed.clear()
            if self.users > 0:
                await self._changed.wait()
                continue
            with anyio.move_on_after(self._linger):
                await self._changed.wait()
            if self.users == 0 and not self._changed.is_set():
                return


@contextlib.asynccontextmanager
async def shared_waiter(
    key: Hashable, open_: Opener, *, linger: float | None = None
) -> AsyncIterator[OmicsWaiter]:
    """The running loop's waiter for `key`, opened with `open_` by the first trigger to ask.

    It stays open `linger` seconds (default `LINGER`) after its last user leaves.

    Raises:
        Whatever `open_` raised in making the waiter (for every trigger waiting on it).
    """
    entries = _REGISTRY.setdefault(asyncio.get_running_loop(), {})
    holder = entries.get(key)
    if holder is None:
        holder = entries[key] = _Holder(key, entries, open_, LINGER if linger is None else linger)
    holder.enter()
    try:
        yield await holder.ready()
    finally:
        holder.leave()


def waiter_count(loop: asyncio.AbstractEventLoop | None = None) -> int:
    """How many shared waiters are open (or opening) on a loop (default: the running one)."""
    return len(_REGISTRY.get(loop or asyncio.get_running_loop(), {}))


def _holders(loop: asyncio.AbstractEventLoop) -> list[Any]:
    """The holders of a loop (for tests)."""
    return list(_REGISTRY.get(loop, {}).values())
