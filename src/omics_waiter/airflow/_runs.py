"""Starting a workflow run at most once per Airflow task instance.

StartRun's ``requestId`` makes a repeated request return the run it started, but only for
the same ``requestId``; the task instance's try number is part of it (a try that finds its
earlier run failed must be able to start a new one), so a retry cannot count on it alone.
Airflow also clears a task's XCom when a retry starts, so the run ID an earlier try pushed is
gone. What stays: each run this layer starts carries a tag naming its task instance without
the try (`TAG`), and a name that, unless the caller gives one, is derived from the same
identity. A retry lists the runs of that name (ListRuns filters by name), reads the newest
first (GetRun, which has the tags) and, finding the task instance's run still active or
completed, waits on it instead of starting another; only a failed, cancelled or deleted one
is started again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from .._backoff import RetryBackoff
from .._client import NotFound, Transient
from .._errors import WaitTimeoutError
from .._kinds import Operation
from .._waiter import OmicsWaiter

__all__ = ["TAG", "TaskInstanceKey", "start_or_find_run"]

logger = logging.getLogger("omics_waiter.airflow")

#: The tag that names, on each run started, the task instance that started it.
TAG = "omics-waiter:task-instance"
#: Runs that a retry starts again; any other status is waited on.
_ENDED_BADLY = frozenset({"FAILED", "CANCELLED", "DELETED"})
#: How long starting (and the look-up before it) may keep retrying transient errors.
_START_SECONDS = 300.0
#: At most this many runs of the name are read (GetRun) in looking for an earlier try's.
_MAX_CANDIDATES = 50

_START_RUN = Operation("StartRun", "start_run")
_GET_RUN = Operation("GetRun", "get_run")
_LIST_RUNS = Operation("ListRuns", "list_runs")


@dataclass(frozen=True, slots=True)
class TaskInstanceKey:
    """Which task instance is starting a run (Airflow's identity of it, and its try)."""

    dag_id: str
    task_id: str
    run_id: str
    map_index: int
    try_number: int

    def _digest(self, *, with_try: bool) -> str:
        parts: list[Any] = [self.dag_id, self.task_id, self.run_id, self.map_index]
        if with_try:
            parts.append(self.try_number)
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    @property
    def tag(self) -> str:
        """The value of `TAG`: the task instance, without the try."""
        return self._digest(with_try=False)

    @property
    def request_id(self) -> str:
        """StartRun's ``requestId``: the task instance and its try (1-128 characters)."""
        return f"airflow-{self._digest(with_try=True)[:48]}"

    @property
    def default_name(self) -> str:
        """A run name for this task instance (stable across its tries; at most 128 characters)."""
        return f"{self.dag_id}.{self.task_id}"[:100] + f"-{self.tag[:16]}"


async def _call(waiter: OmicsWaiter, operation: Operation, params: Mapping[str, Any]) -> Any:
    """One request in the waiter's budget, retrying transient errors for a while."""
    api = waiter._api
    backoff = RetryBackoff(1.0, 30.0)
    deadline = anyio.current_time() + _START_SECONDS
    attempt = 0
    while True:
        try:
            return await api.call(operation, params)
        except Transient as exc:
            attempt += 1
            delay = backoff.delay(attempt, deadline - anyio.current_time())
            if delay is None:
                raise WaitTimeoutError(
                    f"{operation.name} kept failing ({exc.reason}) for {_START_SECONDS:g} s"
                ) from exc
            logger.info("%s retrying in %.2fs after %s", operation.name, delay, exc.reason)
            await anyio.sleep(delay)


async def _earlier_run(waiter: OmicsWaiter, name: str, tag: str) -> dict[str, Any] | None:
    """The newest run of `name` tagged with `tag` (GetRun's body), if there is one."""
    listed: list[Mapping[str, Any]] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"name": name, "maxResults": 100}
        if token is not None:
            params["startingToken"] = token
        page = await _call(waiter, _LIST_RUNS, params)
        listed.extend(page.get("items") or [])
        token = page.get("nextToken")
        if not token:
            break
    listed.sort(key=lambda item: str(item.get("creationTime") or ""), reverse=True)
    for item in listed[:_MAX_CANDIDATES]:
        try:
            run: dict[str, Any] = dict(await _call(waiter, _GET_RUN, {"id": item["id"]}))
        except NotFound:
            continue  # deleted since it was listed
        if (run.get("tags") or {}).get(TAG) == tag:
            return run
    return None


async def start_or_find_run(
    waiter: OmicsWaiter, request: Mapping[str, Any], key: TaskInstanceKey
) -> tuple[str, bool]:
    """Start the run `request` describes for task instance `key`, or find the one an earlier
    try of it started. Returns the run ID and whether it was started now.

    `request` holds StartRun's fields with its ``name`` and ``tags`` (holding `TAG`) set.

    Raises:
        OmicsWaiterError: The service refused (InvalidInputError, AccessDeniedError ...), or
            kept failing transiently (WaitTimeoutError).
    """
    if key.try_number > 1:
        earlier = await _earlier_run(waiter, request["name"], key.tag)
        if earlier is not None and str(earlier.get("status")) not in _ENDED_BADLY:
            logger.info(
                "run %s was started by an earlier try and is %s: waiting on it",
                earlier["id"],
                earlier.get("status"),
            )
            return str(earlier["id"]), False
        if earlier is not None:
            logger.info(
                "run %s of an earlier try ended %s: starting a new one",
                earlier["id"],
                earlier.get("status"),
            )
    started = await _call(waiter, _START_RUN, {**request, "requestId": key.request_id})
    return str(started["id"]), True
