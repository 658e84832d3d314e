"""`OmicsJobTrigger`: waits on HealthOmics jobs in Airflow's triggerer, on a shared waiter."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from .._waiter import OmicsWaiter
from ._args import (
    check_bool,
    check_conn_id,
    check_ids,
    check_kind,
    check_region,
    check_timeout,
    check_until_for,
    check_waiter_options,
)
from ._connection import open_waiter
from ._payload import error_payload, wait_payload
from ._shared import shared_waiter

__all__ = ["OmicsJobTrigger"]


def _frozen(value: Any) -> Any:
    """A hashable copy of a JSON-safe value (for the shared waiter's key)."""
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


class OmicsJobTrigger(BaseTrigger):
    """Waits until HealthOmics jobs of one kind end (or reach `until`), then fires one event.

    Every trigger of a triggerer process with the same connection, Region and
    `waiter_options` waits on one shared `OmicsWaiter` (per event loop): their polls are
    coalesced and swept through List, in one request budget. Cancelling a trigger ends only
    its own wait. A restarted trigger simply waits again: a job already finished ends it
    at the first observation.

    The event's payload is a JSON-safe dict: ``status`` (``success``, ``partial``,
    ``failed``, ``timeout`` or ``error``), ``kind``, ``ids``, ``jobs`` (each job's last seen
    model as a dict, in `ids` order, or None), ``message`` (the service's reason: a run's or
    task's failure reason, else its status message; the failed items of a partial success)
    and ``error`` (the error's class name, e.g. ``JobFailedError``, or None).

    Args:
        kind: The command line's kind word: ``run``, ``task``, ``activation``,
            ``read-set-import``, ``read-set-export``, ``reference-import``,
            ``variant-import``, ``annotation-import``, ``workflow``, ``workflow-version``.
        ids: One or more job IDs in the kind's form (``RUN_ID``, ``RUN_ID/TASK_ID``,
            ``STORE_ID/JOB_ID`` ...), without duplicates.
        aws_conn_id: The Airflow AWS connection (credentials, ``region_name`` and
            ``endpoint_url`` extras); None for the default credential chain.
        region_name: The Region, instead of the connection's.
        timeout: Seconds the wait may last (None: no limit of the trigger's own).
        until: A status on the kind's way to success (e.g. ``RUNNING``): end once each job
            is seen at it, or at a status reached only through it (RUNNING: RUNNING or
            COMPLETED), instead of waiting for the end; a job that ends without passing it
            fails.
        accept_partial: Count COMPLETED_WITH_FAILURES as success (status ``partial``, error
            None) rather than as a failure (``JobPartiallyFailedError``).
        waiter_options: JSON-safe `OmicsWaiter` options: ``min_delay``, ``max_delay``,
            ``max_tps``, ``not_found_grace``, ``reconcile_delay``, and `connect`'s
            ``budget_url`` (one budget shared by several triggerers, through Redis) and
            ``events_queue_url`` (push events through SQS).

    Raises:
        InvalidInputError: An argument is invalid (unknown kind, an ID not in the kind's
            form, an `until` outside the kind's life cycle, an unknown option or one out of
            range): when the trigger is made, never in the triggerer.
    """

    def __init__(
        self,
        kind: str,
        ids: list[str],
        *,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        timeout: float | None = None,
        until: str | None = None,
        accept_partial: bool = False,
        waiter_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.kind = check_kind(kind)
        self.ids, self._refs = check_ids(self.kind, ids)
        self.aws_conn_id = check_conn_id(aws_conn_id)
        self.region_name = check_region(region_name)
        self.timeout = check_timeout(timeout)
        self.until = check_until_for(self.kind, until)
        self.accept_partial = check_bool("accept_partial", accept_partial)
        self.waiter_options = check_waiter_options(waiter_options)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and the JSON-safe keyword arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "kind": self.kind,
                "ids": list(self.ids),
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "timeout": self.timeout,
                "until": self.until,
                "accept_partial": self.accept_partial,
                "waiter_options": dict(self.waiter_options),
            },
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OmicsJobTrigger):
            return NotImplemented
        return self.serialize() == other.serialize()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"OmicsJobTrigger({self.kind!r}, {self.ids!r})"

    @property
    def waiter_key(self) -> tuple[Any, ...]:
        """What triggers sharing a waiter have in common (within one event loop)."""
        return (self.aws_conn_id, self.region_name, _frozen(self.waiter_options))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait on the jobs on the shared waiter; yield one `TriggerEvent` with the outcome."""
        payload = await self._payload(shared_waiter(self.waiter_key, self._open))
        yield TriggerEvent(payload)  # type: ignore[no-untyped-call]

    async def wait_here(self) -> dict[str, Any]:
        """Wait as `run` does, on a waiter of its own; return the event's payload.

        For a sensor or operator that does not defer: it waits in the worker, on the same
        engine, and reads the outcome exactly as it would read the trigger's event.
        """
        return await self._payload(self._open())

    async def _payload(
        self, opening: contextlib.AbstractAsyncContextManager[OmicsWaiter]
    ) -> dict[str, Any]:
        try:
            async with opening as waiter:
                return await wait_payload(
                    waiter,
                    self.kind,
                    self.ids,
                    self._refs,
                    timeout=self.timeout,
                    until=self.until,
                    accept_partial=self.accept_partial,
                )
        except Exception as exc:
            # Making the waiter failed (a connection, Redis, the queue) or a bug: the task
            # hears of it through the event, rather than the trigger failing in the triggerer.
            self.log.warning("waiting on %s %s failed: %s", self.kind, self.ids, exc)
            return error_payload(self.kind, self.ids, exc)

    def _open(self) -> contextlib.AbstractAsyncContextManager[OmicsWaiter]:
        return open_waiter(self.aws_conn_id, self.region_name, self.waiter_options)
