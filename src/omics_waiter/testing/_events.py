"""EventBridge status-change events, published as the service does: best effort.

`EventSchedule` is pure: it turns the status changes in jobs' timelines into events due at some
emulator-clock time, deciding per event, from a generator seeded by the event's own identity,
whether it is dropped, sent twice, and how late each copy is. The decisions do not depend on
when the schedule is asked, so a seed gives the same counts however the publisher is timed.

`EventPublisher` is the thin loop around it: it asks the schedule for due events every tick and
sends them with EventBridge ``PutEvents`` (up to 10 entries a call), retrying failed entries a
few times; it never lets an error out, so the emulator keeps serving.
"""

from __future__ import annotations

import asyncio
import datetime
import heapq
import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from omics_waiter.testing._jobs import Change, Job, JobSnapshot
from omics_waiter.testing._kinds import Kind, spec
from omics_waiter.testing._stats import EmulatorStats

__all__ = ["EventPublisher", "EventSchedule", "EventSettings", "PendingEvent"]

_SOURCE = "aws.omics"
_BATCH = 10
_RETRIES = 3
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

Describe = Callable[[Job, JobSnapshot], "tuple[str, dict[str, Any], str] | None"]
JobKey = tuple[Kind, str, str]


@dataclass(frozen=True, slots=True)
class EventSettings:
    """Where events go and how unreliably.

    Args:
        endpoint_url: EventBridge endpoint (e.g. moto's server).
        region: Region of the EventBridge client (and so of each event).
        delay: (min, max) seconds each event copy is held back, drawn uniformly; unequal
            delays reorder events.
        drop_rate: Probability that an event is never sent.
        duplicate_rate: Probability that an event is sent twice.
        access_key: Access key for EventBridge.
        secret_key: Its secret key.
    """

    endpoint_url: str
    region: str = "us-east-1"
    delay: tuple[float, float] = (0.0, 0.0)
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    access_key: str = "testing"
    secret_key: str = field(default="testing", repr=False)

    def __post_init__(self) -> None:
        low, high = self.delay
        if not (0.0 <= low <= high and math.isfinite(high)):
            raise ValueError(
                f"event_delay must be (min, max) with 0 <= min <= max, got {self.delay!r}"
            )
        for name in ("drop_rate", "duplicate_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"event_{name} must be between 0 and 1, got {value!r}")


@dataclass(frozen=True, slots=True, order=True)
class PendingEvent:
    """One copy of an event, due at an emulator-clock time."""

    due: float
    order: tuple[float, int, int, int]
    detail_type: str = field(compare=False)
    detail: dict[str, Any] = field(compare=False)
    resource: str = field(compare=False)
    time_ms: int = field(compare=False)


class EventSchedule:
    """Which events are due: every status change of every job, after the seeded knobs.

    Args:
        settings: The drop, duplicate and delay knobs.
        seed: Seeds every per-event decision.
        lookup: The current version of a job (timelines change, e.g. on CancelRun).
        describe: The detail-type, detail and resource of a job's state, or None.
        epoch_ms: Emulator-clock time to wire time (epoch milliseconds).
        stats: Counts dropped and duplicated events.
    """

    def __init__(
        self,
        *,
        settings: EventSettings,
        seed: int,
        lookup: Callable[[JobKey], Job | None],
        describe: Describe,
        epoch_ms: Callable[[float], int],
        stats: EmulatorStats,
    ) -> None:
        self._settings = settings
        self._seed = seed
        self._lookup = lookup
        self._describe = describe
        self._epoch_ms = epoch_ms
        self._stats = stats
        self._active: set[JobKey] = set()  # jobs that may still have changes to tell
        self._told: dict[JobKey, int] = {}  # job -> changes already turned into events
        self._order: dict[JobKey, int] = {}  # job -> its creation rank, to break ties
        # The changes of each job's current version (a new version means a new timeline).
        self._changes: dict[JobKey, tuple[Job, list[Change]]] = {}
        self._heap: list[PendingEvent] = []
        self._in_flight = 0

    def watch(self, job: Job) -> None:
        """Follow a new or changed job."""
        key = (job.kind, job.scope, job.id)
        self._order.setdefault(key, len(self._order))
        self._told.setdefault(key, 0)
        self._active.add(key)

    def due(self, now: float) -> list[PendingEvent]:
        """Every event copy due at ``now``, in order of due time."""
        for key in list(self._active):
            self._discover(key, now)
        ready = []
        while self._heap and self._heap[0].due <= now:
            ready.append(heapq.heappop(self._heap))
        self._in_flight += len(ready)
        return ready

    def sent(self, number: int) -> None:
        """``number`` events handed out by `due` were sent, or given up on."""
        self._in_flight -= number

    def waiting(self, now: float) -> bool:
        """Whether an event due by ``now`` has not been sent yet."""
        for key in list(self._active):
            self._discover(key, now)
        return self._in_flight > 0 or bool(self._heap and self._heap[0].due <= now)

    def _discover(self, key: JobKey, now: float) -> None:
        job = self._lookup(key)
        if job is None or math.isinf(job.visible_at):
            self._active.discard(key)  # a task a cancellation kept from ever existing
            return
        cached = self._changes.get(key)
        if cached is None or cached[0] is not job:
            cached = self._changes[key] = (job, job.changes())
        changes = cached[1]
        done = self._told[key]
        if done < len(changes) and changes[done].at > now:
            return  # nothing new yet
        for index in range(done, len(changes)):
            change = changes[index]
            if change.at > now:
                break
            self._decide(job, key, index, change.at, change.snapshot)
            done = index + 1
        self._told[key] = done
        if done == len(changes) and changes[-1].snapshot.status in spec(job.kind).final_statuses:
            self._active.discard(key)  # until a change to its timeline brings it back
            del self._changes[key]

    def _decide(self, job: Job, key: JobKey, index: int, at: float, snapshot: JobSnapshot) -> None:
        described = self._describe(job, snapshot)
        if described is None:
            return
        detail_type, detail, resource = described
        rng = random.Random(f"{self._seed}:event:{key[0].value}:{key[1]}:{key[2]}:{index}")
        settings = self._settings
        if settings.drop_rate > 0.0 and rng.random() < settings.drop_rate:
            self._stats.record_events("dropped")
            return
        copies = 1
        if settings.duplicate_rate > 0.0 and rng.random() < settings.duplicate_rate:
            copies = 2
            self._stats.record_events("duplicated")
        for copy in range(copies):
            delay = rng.uniform(*settings.delay) if settings.delay[1] > 0.0 else 0.0
            heapq.heappush(
                self._heap,
                PendingEvent(
                    due=at + delay,
                    order=(at, self._order[key], index, copy),
                    detail_type=detail_type,
                    detail=detail,
                    resource=resource,
                    time_ms=self._epoch_ms(at),
                ),
            )


def _entry(event: PendingEvent) -> dict[str, Any]:
    return {
        "Source": _SOURCE,
        "DetailType": event.detail_type,
        "Detail": json.dumps(event.detail, separators=(",", ":")),
        "Resources": [event.resource],
        "Time": _EPOCH + datetime.timedelta(milliseconds=event.time_ms),
    }


class EventPublisher:
    """Sends due events to EventBridge until cancelled.

    Args:
        schedule: What is due.
        settings: Where to send.
        clock: The emulator clock.
        stats: Counts published and failed events.
        tick: Seconds between looks at the schedule.
    """

    def __init__(
        self,
        *,
        schedule: EventSchedule,
        settings: EventSettings,
        clock: Callable[[], float],
        stats: EmulatorStats,
        tick: float = 0.02,
    ) -> None:
        self._schedule = schedule
        self._settings = settings
        self._clock = clock
        self._stats = stats
        self._tick = tick

    async def run(self) -> None:
        """Publish forever (until cancelled)."""
        settings = self._settings
        config = AioConfig(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=2,
            read_timeout=5,
        )
        async with get_session().create_client(
            "events",
            region_name=settings.region,
            endpoint_url=settings.endpoint_url,
            aws_access_key_id=settings.access_key,
            aws_secret_access_key=settings.secret_key,
            config=config,
        ) as client:
            while True:
                try:
                    due = self._schedule.due(self._clock())
                    for start in range(0, len(due), _BATCH):
                        batch = due[start : start + _BATCH]
                        try:
                            await self._send(client, batch)
                        finally:
                            self._schedule.sent(len(batch))
                except Exception:  # best effort: nothing here may stop the emulator
                    pass
                await asyncio.sleep(self._tick)

    async def _send(self, client: Any, batch: Sequence[PendingEvent]) -> None:
        entries = [_entry(event) for event in batch]
        for attempt in range(_RETRIES + 1):
            try:
                response = await client.put_events(Entries=entries)
            except Exception:  # any failure: retried, then counted as failed
                failed = entries
            else:
                results = response.get("Entries", [])
                failed = [
                    entry
                    for entry, result in zip(entries, results, strict=False)
                    if result.get("ErrorCode")
                ]
                self._stats.record_events("published", len(entries) - len(failed))
            if not failed:
                return
            entries = failed
            if attempt < _RETRIES:
                await asyncio.sleep(0.05 * 2**attempt)
        self._stats.record_events("failed", len(entries))
