"""The scheduler: one per waiter, it owns all polling for every wait and watch on it.

Waits and watches are views: each registers its job references, and the scheduler keeps
one entry per job, whoever asked for it. So two waits on one job cost one request, and
jobs that share a batch (a sequence store, a run's tasks, the account's runs) are swept
with their List operation once enough of them are watched, however many waits asked.

Requests run in lanes, one per operation (each operation has its own budget). A lane
first acquires a slot from the budget, then spends it on the most urgent request due at
that moment, so nothing queues behind slots reserved for less urgent work. What to ask
for next, and what an answer means, is decided by the pure functions of `_policy`; this
module does the bookkeeping and the I/O.

Who runs the lanes: inside ``async with waiter`` (``OmicsWaiter.connect()`` does this)
a task owned by the waiter runs them, and cancels them on exit. A waiter used without
``async with`` has no background task: the consumer of a view runs them within its own
``__anext__`` (or ``wait``) until that view has something to hand out, then hands over
to the next consumer waiting. Either way nothing runs when nobody waits, and a request
in flight when its last waiter leaves is not followed by another.
"""

from __future__ import annotations

import collections
import datetime as dt
import heapq
import itertools
import logging
import math
import random
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc

from ._backoff import RetryBackoff, poll_delay
from ._budget import Budget
from ._client import NotFound, OmicsApi, Transient
from ._clock import Clock
from ._errors import OmicsWaiterError, UnexpectedResponseError
from ._events import BudgetModeChanged, JobWatchFailed, PollRetrying, PushModeChanged
from ._kinds import KINDS, Kind, Listing, kind_of
from ._policy import (
    Mode,
    Priority,
    Timing,
    deadline_error,
    listed_priority,
    not_found_error,
    not_found_retry,
    reached,
)
from ._refs import JobRef
from ._tracker import JobTracker

__all__ = ["BATCH_THRESHOLD", "BURSTS", "Scheduler", "View"]

logger = logging.getLogger("omics_waiter")

#: A batch with at least this many watched jobs per List call of a sweep starts being
#: swept; it is swept until it has no more jobs than a sweep has pages (then a request
#: per job costs no more, and needs no final Get). Between the two, sweeping goes on:
#: the last jobs of a batch are not left to per-job polls at `min_delay` and beyond.
BATCH_THRESHOLD = 3
# createdAfter is set this far before the oldest unfinished job: both times are the
# service's own, so this covers only rounding of the filter and inclusive bounds.
_CREATED_AFTER_MARGIN = dt.timedelta(seconds=1)
# Requests in flight per lane, at most: enough to use the budget when each response
# takes a while, few enough that results come back in the order they were asked for.
_MAX_IN_FLIGHT = 16
# A sweep reports on up to 100 jobs a request, so it may run this many times as often
# as a single wait polls (min_delay / 10 after a change), while using no more than
# _SWEEP_SHARE of the List budget.
_SWEEP_SPEEDUP = 10.0
_SWEEP_SHARE = 0.5
# Float rounding of the clock: a request at the deadline plus this is still at the deadline.
_ROUNDING = 1e-9
# Seconds of its rate each Get operation may spend at once (see `_budget`): a sweep shows
# several jobs finished at once, and their Gets should not queue 1 / rate apart.
GET_BURST = 0.5
#: The bursts a waiter's own `RequestBudget` allows: Gets only (Lists are paced by sweeps).
BURSTS: Mapping[str, float] = {kind.get.name: GET_BURST for kind in KINDS.values()}


@dataclass(slots=True, eq=False)
class _Sub:
    """One job in one view."""

    view: View
    entry: _Entry
    tracker: JobTracker[Any]
    done: bool = False


@dataclass(slots=True, eq=False)
class _Entry:
    """One watched job, shared by every view that watches it."""

    ref: JobRef[Any]
    kind: Kind[Any]
    batch: _Batch | None
    subs: list[_Sub] = field(default_factory=list)
    last: Any = None
    creation_time: dt.datetime | None = None
    listed: str | None = None  # the status a List showed last
    poll_attempt: int = 0
    retry_attempt: int = 0
    not_found_since: float | None = None
    hold_until: float = -math.inf  # retry pacing: no Get of it before this
    version: int = 0  # bumped whenever it is (re)scheduled: older heap entries are stale
    scheduled: Priority | None = None
    due: float = math.inf  # when its scheduled Get is due
    in_flight: bool = False
    rerun: Priority | None = None  # a Get asked for while one was in flight
    open_listed: bool = False  # a List showed it unfinished (for the detection delay)
    pushed: bool = False  # an event asked for its next Get (the detection delay's source)

    @property
    def mode(self) -> Mode:
        return max((s.view.mode for s in self.subs), default=Mode.FINAL)

    @property
    def items(self) -> bool:
        return any(s.view.items for s in self.subs)


@dataclass(slots=True, eq=False)
class _Batch:
    """Jobs of one kind that one List call covers: a store, a run's tasks, the account."""

    kind: Kind[Any]
    listing: Listing
    key: tuple[str, ...]
    entries: dict[JobRef[Any], _Entry] = field(default_factory=dict)
    active: bool = False
    sweep_attempt: int = 0
    retry_attempt: int = 0
    hold_until: float = -math.inf
    token: str | None = None
    status_index: int = 0  # for active-status sweeps: which status this page lists
    seen: set[JobRef[Any]] = field(default_factory=set)
    created_after: dt.datetime | None = None
    changed: bool = False
    pages: int = 0
    version: int = 0
    due: float = math.inf
    in_flight: bool = False

    @property
    def threshold(self) -> int:
        """Watched jobs it takes to start sweeping: `BATCH_THRESHOLD` per List call of a
        sweep, and more than the pages the last sweep took."""
        return max(BATCH_THRESHOLD * max(1, len(self.listing.active_statuses)), self.pages + 1)


class View:
    """The scheduler's side of one wait or watch: its jobs, its events, its deadline."""

    __slots__ = (
        "__weakref__",
        "closed",
        "deadline",
        "events",
        "expiring",
        "failures",
        "items",
        "mode",
        "open",
        "queue",
        "scheduler",
        "signal",
        "subs",
        "timing",
        "until",
    )

    def __init__(
        self,
        scheduler: Scheduler,
        *,
        deadline: float,
        timing: Timing,
        mode: Mode,
        items: bool,
        events: bool,
        until: str | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.deadline = deadline
        self.timing = timing
        self.mode = mode
        self.items = items
        self.events = events  # False: a wait, which wants outcomes only
        self.until = until
        self.subs: dict[JobRef[Any], _Sub] = {}
        self.queue: collections.deque[Any] = collections.deque()
        self.failures: dict[JobRef[Any], OmicsWaiterError] = {}
        self.open = 0
        self.closed = False
        self.signal: anyio.Event | None = None
        self.expiring = False

    @property
    def finished(self) -> bool:
        return self.closed or self.open == 0

    def ready(self) -> bool:
        """Whether the consumer has something to take: events, or the end."""
        return bool(self.queue) or self.finished

    def last(self, ref: JobRef[Any]) -> Any:
        """The last observation of `ref` this view was told of (or its `since`)."""
        return self.subs[ref].tracker.last

    def deliver(self, events: Iterable[Any]) -> None:
        if self.events:
            self.queue.extend(events)
        self.notify()

    def notify(self) -> None:
        if self.signal is not None:
            self.signal.set()
            self.signal = None
        self.scheduler.poke()

    async def next(self) -> Any:
        """The next event; None once the view is finished and its events are taken."""
        while not self.queue:
            if self.finished:
                return None
            await self.scheduler.pump(self)
        return self.queue.popleft()

    async def run(self) -> None:
        """Run until every job of the view is finished (for waits)."""
        while not self.finished:
            await self.scheduler.pump(self)
            self.queue.clear()

    def close(self) -> None:
        """Stop watching: leave the scheduler; requests for this view's jobs alone stop."""
        if self.closed:
            return
        self.closed = True
        self.queue.clear()
        self.scheduler.remove(self)


class Scheduler:
    """Polls every job watched on one waiter; see the module docstring."""

    def __init__(
        self,
        api: OmicsApi,
        budget: Budget,
        clock: Clock,
        *,
        uniform: random.Random | None = None,
    ) -> None:
        self._api = api
        self._budget = budget
        self._clock = clock
        self._metrics = api.metrics
        self._uniform = (uniform or random.Random()).uniform
        self._entries: dict[JobRef[Any], _Entry] = {}
        self._batches: dict[tuple[str, tuple[str, ...]], _Batch] = {}
        # operation -> per-priority heaps of (due, seq, version, target)
        self._lanes: dict[str, list[list[tuple[float, int, int, Any]]]] = {}
        self._in_flight: collections.Counter[str] = collections.Counter()
        self._seq = itertools.count()
        self._views: weakref.WeakSet[View] = weakref.WeakSet()
        self._deadlines: list[tuple[float, int, weakref.ref[View]]] = []
        self._sleepers: set[anyio.CancelScope] = set()
        self._driving = False
        self._handed_over = anyio.Event()  # set when a drive ends
        self._background = False
        self._stop: Callable[[], bool] = lambda: False
        self._tg: anyio.abc.TaskGroup | None = None
        self._lane_tasks: set[str] = set()
        self._budget_mode = budget.mode
        # Push: while events flow, jobs are polled only every reconcile_delay.
        self._push_active = False
        self.reconcile_delay = math.inf
        self.watching = anyio.Event()  # set while any job is watched (for the event receiver)
        self._latest = -math.inf  # the latest deadline of any view so far

    # -- registration -------------------------------------------------------------------

    def add(
        self, view: View, refs: Iterable[JobRef[Any]], since: Mapping[JobRef[Any], Any]
    ) -> None:
        """Register a view's jobs (validated by the caller)."""
        refs = list(refs)
        kinds = [kind_of(ref) for ref in refs]  # all checked before any is registered
        now = self._clock.now()
        self._views.add(view)
        heapq.heappush(self._deadlines, (view.deadline, next(self._seq), weakref.ref(view)))
        self._latest = max(self._latest, view.deadline)
        activated: set[int] = set()
        for ref, kind in zip(refs, kinds, strict=True):
            seen = since.get(ref)
            tracker: JobTracker[Any] = JobTracker(kind, seen)
            if seen is not None and tracker.is_terminal:
                # Its final event was reported before `since` was taken: nothing to poll.
                view.subs[ref] = _Sub(view, _Entry(ref, kind, None), tracker, done=True)
                continue
            entry = self._entries.get(ref)
            if entry is None:
                entry = self._entries[ref] = _Entry(ref, kind, self._batch_of(kind, ref))
                self._metrics.watched(kind, 1)
                if entry.batch is not None:
                    entry.batch.entries[ref] = entry
            if entry.last is None and seen is not None:
                entry.last = seen  # an observation made before, as good as one of ours
                entry.listed = str(seen.status)
            sub = view.subs[ref] = _Sub(view, entry, tracker)
            entry.subs.append(sub)
            view.open += 1
            if entry.last is not None:
                # Known already: tell this view what it has not been told.
                self._observe_sub(sub, entry.last, now)
                if sub.done:
                    continue
            batch = entry.batch
            if batch is not None and (batch.active or len(batch.entries) >= batch.threshold):
                if not batch.active:
                    self._activate(batch, now)
                    activated.add(id(batch))
                elif id(batch) not in activated:
                    self._pull_sweep(batch, now)
                    activated.add(id(batch))
                if entry.mode is Mode.PROGRESS and entry.scheduled is None:
                    self._schedule_get(entry, Priority.PROGRESS, now)
            elif entry.scheduled is None and not entry.in_flight:
                self._schedule_get(entry, Priority.POLL, now)
        if view.finished:
            view.notify()
        if self._entries:
            self.watching.set()
        self._wake()

    def remove(self, view: View) -> None:
        """Unregister a view: its jobs stop being polled unless another view watches them."""
        for sub in view.subs.values():
            self._unsubscribe(sub)
        self._views.discard(view)
        view.notify()
        self._wake()

    def _unsubscribe(self, sub: _Sub) -> None:
        entry = sub.entry
        if sub in entry.subs:
            entry.subs.remove(sub)
            if not sub.done:
                sub.done = True
                sub.view.open -= 1
                self._metrics.cancelled(entry.kind)
        if not entry.subs and self._entries.get(entry.ref) is entry:
            del self._entries[entry.ref]
            self._metrics.watched(entry.kind, -1)
            if not self._entries and self.watching.is_set():
                self.watching = anyio.Event()
            entry.version += 1  # its scheduled requests are stale now
            batch = entry.batch
            if batch is not None:
                batch.entries.pop(entry.ref, None)
                if not batch.entries:
                    batch.active = False
                    batch.version += 1
                    self._batches.pop((batch.kind.word, batch.key), None)

    def _batch_of(self, kind: Kind[Any], ref: JobRef[Any]) -> _Batch | None:
        listing = kind.listing
        if listing is None:
            return None
        key = listing.batch(ref)
        batch = self._batches.get((kind.word, key))
        if batch is None:
            batch = self._batches[(kind.word, key)] = _Batch(kind, listing, key)
        return batch

    # -- push ---------------------------------------------------------------------------

    @property
    def push(self) -> bool:
        """Whether push events currently carry the watch (polling only reconciles)."""
        return self._push_active

    def set_push(self, active: bool, reason: str) -> None:
        """Switch between push (events flow) and polling at the normal pace; tell every view."""
        if active == self._push_active:
            return
        previous = "push" if self._push_active else "polling"
        self._push_active = active
        self._metrics.push(active)
        event = PushModeChanged(
            mode="push" if active else "polling", previous=previous, reason=reason
        )
        log = logger.info if active else logger.warning
        log("push events: %s (%s)", event.mode, reason)
        for view in list(self._views):
            if not view.finished:
                view.deliver([event])
        if not active:
            # Polling takes over at its normal pace: pull every slow reconciliation in.
            now = self._clock.now()
            for batch in self._batches.values():
                if batch.active:
                    batch.sweep_attempt = 0
                    if not batch.in_flight and batch.token is None and batch.due > now:
                        self._schedule_sweep(batch, now)
            for entry in self._entries.values():
                priority = entry.scheduled
                if priority is not None and not entry.in_flight:
                    entry.poll_attempt = 0
                    entry.scheduled = None
                    self._schedule_get(entry, priority, now)

    def hint(self, kind_word: str, ids: tuple[str, ...], status: str) -> bool:
        """An event says a job changed: fetch it now if it is watched (a Get confirms it).

        Returns whether the job is watched. Duplicate, late or out-of-order hints cost at
        most one Get: what a Get shows was either reported already or is new.
        """
        kind = KINDS.get(kind_word)
        if kind is None:
            return False
        try:
            ref = kind.ref_type(*ids)
        except (OmicsWaiterError, TypeError):
            return False
        entry = self._entries.get(ref)
        if entry is None:
            return False
        last = None if entry.last is None else str(entry.last.status)
        if last is not None and last == status:
            return True  # nothing new (a duplicate, or a late event of a status seen)
        if kind.is_terminal(status):
            priority = Priority.FINAL
        elif entry.mode is Mode.FINAL:
            return True
        else:
            priority = Priority.CHANGED
        entry.pushed = True
        self._schedule_get(entry, priority, self._clock.now())
        return True

    def _slow(self, delay: float | None, remaining: float, fastest: float) -> float | None:
        """While push carries the watch, polls only reconcile, every `reconcile_delay`
        (never sooner than `fastest`, polling's own shortest delay): however far polling's
        backoff has grown, so that a dropped event costs at most `reconcile_delay`."""
        if delay is None or not self._push_active:
            return delay
        return min(max(fastest, self.reconcile_delay), remaining)

    # -- scheduling ---------------------------------------------------------------------

    def _push(
        self, operation: str, priority: Priority, due: float, target: Any, version: int
    ) -> None:
        lane = self._lanes.get(operation)
        if lane is None:
            lane = self._lanes[operation] = [[] for _ in Priority]
        heapq.heappush(lane[priority], (due, next(self._seq), version, target))
        if self._tg is not None and operation not in self._lane_tasks:
            self._lane_tasks.add(operation)
            self._tg.start_soon(self._lane, operation)
        self._wake()

    def _schedule_get(self, entry: _Entry, priority: Priority, due: float) -> None:
        if entry.in_flight:
            # Two Gets of one job in flight could answer out of order: run it after.
            entry.rerun = priority if entry.rerun is None else min(entry.rerun, priority)
            return
        if entry.scheduled is not None and entry.scheduled <= priority:
            return  # as urgent a Get is already scheduled
        entry.version += 1
        entry.scheduled = priority
        entry.due = max(due, entry.hold_until)
        self._push(entry.kind.get.name, priority, entry.due, entry, entry.version)

    def _schedule_sweep(self, batch: _Batch, due: float) -> None:
        batch.version += 1
        batch.due = max(due, batch.hold_until)
        self._push(batch.listing.operation.name, Priority.SWEEP, batch.due, batch, batch.version)

    def _activate(self, batch: _Batch, now: float) -> None:
        batch.active = True
        batch.sweep_attempt = 0
        for entry in batch.entries.values():
            if entry.scheduled is Priority.POLL and entry.mode is not Mode.PROGRESS:
                entry.version += 1  # the sweep covers it now
                entry.scheduled = None
        self._schedule_sweep(batch, now)

    def _pull_sweep(self, batch: _Batch, now: float) -> None:
        """New jobs joined a swept batch: sweep soon, so they are seen at once."""
        batch.sweep_attempt = 0
        if not batch.in_flight and batch.token is None and batch.due > now:
            self._schedule_sweep(batch, now)

    def _is_current(self, target: Any, version: int) -> bool:
        if isinstance(target, _Entry):
            return target.version == version and self._entries.get(target.ref) is target
        assert isinstance(target, _Batch)
        return target.version == version and target.active

    def _peek(self, operation: str) -> tuple[float, Priority] | None:
        """A lane's next action: its most urgent class with a due one, else the soonest."""
        now = self._clock.now()
        soonest: tuple[float, Priority] | None = None
        for priority, heap in zip(Priority, self._lanes[operation], strict=True):
            while heap and not self._is_current(heap[0][3], heap[0][2]):
                heapq.heappop(heap)
            if not heap:
                continue
            due = heap[0][0]
            if due <= now:
                return due, priority
            if soonest is None or due < soonest[0]:
                soonest = (due, priority)
        return soonest

    def _pop_due(self, operation: str) -> tuple[Priority, Any] | None:
        action = self._peek(operation)
        if action is None or action[0] > self._clock.now():
            return None
        priority = action[1]
        _, _, _, target = heapq.heappop(self._lanes[operation][priority])
        return priority, target

    def _wake(self) -> None:
        """Wake idle lanes to look again at what is due."""
        for scope in self._sleepers:
            scope.cancel()
        self._sleepers.clear()

    async def _idle(self, until: float | None) -> None:
        with anyio.CancelScope() as scope:
            self._sleepers.add(scope)
            if until is None:
                await anyio.sleep_forever()
            else:
                # (The clock moved on since `until` was chosen: never a negative sleep.)
                await self._clock.sleep(max(0.0, until - self._clock.now()))
        self._sleepers.discard(scope)

    # -- running ------------------------------------------------------------------------

    async def pump(self, view: View) -> None:
        """Make progress for `view`: run the lanes, or wait while someone else runs them."""
        if view.ready():
            return
        if self._background or self._driving:
            view.signal = anyio.Event()
            await view.signal.wait()
            return
        await self._drive(view.ready)

    async def run_forever(
        self, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the lanes until cancelled (the waiter's own task, inside ``async with``)."""
        if self._driving:
            # A consumer is running the lanes: let it hand over first.
            await self._handed_over.wait()
        self._background = True
        try:
            await self._drive(lambda: False, task_status)
        finally:
            self._background = False

    async def _drive(
        self,
        stop: Callable[[], bool],
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        self._driving = True
        self._handed_over = anyio.Event()
        self._stop = stop
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                self._lane_tasks = set(self._lanes)
                for operation in self._lanes:
                    tg.start_soon(self._lane, operation)
                tg.start_soon(self._timekeeper)
                task_status.started()
        finally:
            self._tg = None
            self._lane_tasks = set()
            self._driving = False
            self._handed_over.set()
            for view in list(self._views):
                view.notify()  # someone else may take over

    def _stopping(self) -> bool:
        return self._stop()

    def poke(self) -> None:
        """A view has something to hand out: if that ends the drive, wake the lanes."""
        if self._driving and self._stop():
            self._wake()

    async def _lane(self, operation: str) -> None:
        while not self._stopping():
            action = self._peek(operation)
            if action is None:
                await self._idle(None)
                continue
            if action[0] > self._clock.now():
                await self._idle(action[0])
                continue
            if self._in_flight[operation] >= _MAX_IN_FLIGHT:
                await self._idle(None)
                continue
            # Acquire first, then choose: what is most urgent when the slot comes.
            if self._stopping():
                break
            if not await self._budget.acquire(operation, self._not_after()):
                # No slot before the last deadline: nothing more can be asked in time.
                # Every wait ends at the last deadline (not before: one may register later).
                if self._clock.now() >= self._latest:
                    self._expire_all()
                else:
                    await self._idle(self._latest)
                continue
            self._check_budget_mode()
            # (Even if the drive is ending, the slot is spent: the drive waits for it.)
            chosen = self._pop_due(operation)
            if chosen is None:
                continue
            priority, target = chosen
            if not isinstance(target, _Batch):
                target.scheduled = None
                if self._late(target):
                    continue
            self._in_flight[operation] += 1
            assert self._tg is not None
            if isinstance(target, _Batch):
                target.in_flight = True
                self._tg.start_soon(self._run_sweep, operation, target)
            else:
                target.in_flight = True
                self._tg.start_soon(self._run_get, operation, target, priority)
        self._wake()

    def _not_after(self) -> float:
        """A request slot is of use until the last deadline (and not after it: the last
        poll lands at the deadline, never later)."""
        return self._latest + _ROUNDING

    def _late(self, entry: _Entry) -> bool:
        """Whether a Get's slot came after the deadline of every view of its job (the
        budget queued it): then those waits time out now, and the Get is not sent."""
        now = self._clock.now()
        subs = list(entry.subs)
        if not subs or any(now <= sub.view.deadline + _ROUNDING for sub in subs):
            return False
        for sub in subs:
            self._fail_timeout(sub)
        return True

    def _check_budget_mode(self) -> None:
        mode = self._budget.mode
        if mode != self._budget_mode:
            event = BudgetModeChanged(mode=mode, previous=self._budget_mode)
            self._budget_mode = mode
            logger.info("request budget: %s (was %s)", mode, event.previous)
            for view in list(self._views):
                if not view.finished:
                    view.deliver([event])

    async def _timekeeper(self) -> None:
        """Ends the views whose deadline passed."""
        while not self._stopping():
            while self._deadlines:
                deadline, _, ref = self._deadlines[0]
                view = ref()
                if view is None or view.finished:
                    heapq.heappop(self._deadlines)
                    continue
                now = self._clock.now()
                if now < deadline:
                    break
                if not view.expiring:
                    view.expiring = True
                    self._expire(view, hard=False)
                if now >= deadline + view.timing.min_delay:
                    heapq.heappop(self._deadlines)
                    self._expire(view, hard=True)
                    continue
                break
            if not self._deadlines:
                await self._idle(None)
                continue
            deadline, _, ref = self._deadlines[0]
            view = ref()
            wake = (
                deadline if view is None or not view.expiring else deadline + view.timing.min_delay
            )
            await self._idle(wake)

    def _expire(self, view: View, *, hard: bool) -> None:
        """At the deadline, fail the jobs no request will still tell about; after a
        request's grace (`min_delay`), fail every job still open."""
        for sub in list(view.subs.values()):
            if sub.done:
                continue
            entry = sub.entry
            if not hard and self._covered(entry, view.deadline):
                continue  # a request at the deadline is under way or due: its answer decides
            self._fail_timeout(sub)

    def _expire_all(self) -> None:
        for view in list(self._views):
            if not view.finished:
                self._expire(view, hard=True)

    def _covered(self, entry: _Entry, deadline: float) -> bool:
        if entry.in_flight or (entry.scheduled is not None and entry.due <= deadline):
            return True
        batch = entry.batch
        return batch is not None and batch.active and (batch.in_flight or batch.due <= deadline)

    def _fail_timeout(self, sub: _Sub) -> None:
        entry = sub.entry
        error = deadline_error(
            entry.kind,
            entry.ref,
            last=sub.tracker.last,
            never_found=entry.not_found_since is not None and entry.last is None,
        )
        self._fail(sub, error)

    # -- outcomes -----------------------------------------------------------------------

    def _fail(self, sub: _Sub, error: OmicsWaiterError) -> None:
        if sub.done:
            return
        view = sub.view
        view.failures[sub.entry.ref] = error
        self._metrics.failed(sub.entry.kind, error)
        view.deliver([JobWatchFailed(ref=sub.entry.ref, error=error, job=sub.tracker.last)])
        self._finish(sub)

    def _finish(self, sub: _Sub) -> None:
        if sub.done:
            return
        sub.done = True
        sub.view.open -= 1
        self._unsubscribe(sub)
        sub.done = True
        sub.view.notify()

    def _fail_entry(self, entry: _Entry, error: OmicsWaiterError) -> None:
        for sub in list(entry.subs):
            self._fail(sub, error)

    def _observe_sub(self, sub: _Sub, job: Any, now: float) -> bool:
        """Tell one view of an observation; True if it changed anything for it."""
        view = sub.view
        events = sub.tracker.observe(job)
        for event in events:
            logger.debug("%s %s: %r", sub.entry.kind.noun, sub.entry.ref, event)
        view.deliver(events)
        kind = sub.entry.kind
        unknown = kind.unknown_status(job)
        if unknown is not None:
            self._fail(
                sub,
                UnexpectedResponseError(
                    f"the service reported {unknown} for {kind.noun} {sub.entry.ref}, "
                    "which this release of omics-waiter does not know",
                    job=job,
                ),
            )
            return bool(events)
        if reached(kind, str(job.status), view.until):
            self._metrics.reached(kind, job, view.until)
            self._finish(sub)
        elif now >= view.deadline:
            self._fail_timeout(sub)  # the last poll, at the deadline, did not see it finish
        return bool(events)

    def _observed(self, entry: _Entry, job: Any, pushed: bool = False) -> None:
        now = self._clock.now()
        seen_open = entry.open_listed or entry.last is not None  # (a last job is unfinished)
        entry.last = job
        entry.retry_attempt = 0
        entry.not_found_since = None
        entry.hold_until = -math.inf
        creation = getattr(job, "creation_time", None)
        if creation is not None:
            entry.creation_time = creation
        entry.listed = str(job.status)
        changed = False
        for sub in list(entry.subs):
            changed = self._observe_sub(sub, job, now) or changed
        self._metrics.observed(entry.kind, job, seen_open=seen_open, pushed=pushed)
        if self._entries.get(entry.ref) is not entry:
            return  # no view watches it any more
        batch = entry.batch
        swept = batch is not None and batch.active
        if swept and entry.mode is not Mode.PROGRESS:
            return  # the batch's sweeps watch it
        entry.poll_attempt = 1 if changed else entry.poll_attempt + 1
        delay = self._poll_delay(entry, now)
        if delay is not None:
            self._schedule_get(entry, Priority.PROGRESS if swept else Priority.POLL, now + delay)

    def _timing(self, entry: _Entry) -> tuple[float, float, float]:
        """The closest pacing its views ask for, and the nearest deadline still ahead."""
        return self._pacing({s.view for s in entry.subs})

    def _pacing(self, views: set[View]) -> tuple[float, float, float]:
        """The closest pacing `views` ask for (min_delay, max_delay), and the nearest
        deadline still ahead."""
        now = self._clock.now()
        low = min((v.timing.min_delay for v in views), default=1.0)
        high = min((v.timing.max_delay for v in views), default=1.0)
        deadline = min((v.deadline for v in views if v.deadline > now), default=math.inf)
        return low, max(low, high), deadline

    def _poll_delay(self, entry: _Entry, now: float) -> float | None:
        low, high, deadline = self._timing(entry)
        delay = poll_delay(entry.poll_attempt, deadline - now, low, high, self._uniform)
        return self._slow(delay, deadline - now, low)

    def _retry_delay(self, attempt: int, views: Iterable[View]) -> float | None:
        """Seconds until a failed request is retried (full jitter), or None at the deadline."""
        views = list(views)
        low = min((v.timing.retry_initial for v in views), default=1.0)
        high = min((v.timing.retry_max for v in views), default=30.0)
        now = self._clock.now()
        deadline = min((v.deadline for v in views if v.deadline > now), default=now)
        return RetryBackoff(low, high).delay(attempt, deadline - now)

    def _tell_retry(self, views: Iterable[View], event: PollRetrying) -> None:
        logger.info(
            "%s for %s retrying in %.2fs after %s (attempt %d)",
            event.operation,
            event.ref
            if event.ref is not None
            else f"{event.kind} batch {'/'.join(event.batch) or 'account'}",
            event.delay,
            event.reason,
            event.attempt,
        )
        for view in views:
            if not view.finished:
                view.deliver([event])

    # -- Get ----------------------------------------------------------------------------

    async def _run_get(self, operation: str, entry: _Entry, priority: Priority) -> None:
        try:
            await self._get(entry, priority)
        finally:
            self._in_flight[operation] -= 1
            if entry.in_flight:  # cancelled in flight: ask again as soon as someone drives
                entry.in_flight = False
                self._rerun(entry, priority)
            self._wake()

    def _rerun(self, entry: _Entry, priority: Priority) -> None:
        """Schedule the Get that was asked for while one was in flight (after its answer)."""
        rerun, entry.rerun = entry.rerun, None
        rerun = priority if rerun is None else min(rerun, priority)
        if self._entries.get(entry.ref) is entry:
            self._schedule_get(entry, rerun, self._clock.now())

    def _landed(self, entry: _Entry) -> None:
        """The answer of a Get arrived: Gets asked for meanwhile may now be scheduled."""
        entry.in_flight = False
        rerun, entry.rerun = entry.rerun, None
        if rerun is not None and self._entries.get(entry.ref) is entry:
            self._schedule_get(entry, rerun, self._clock.now())

    async def _get(self, entry: _Entry, priority: Priority) -> None:
        kind = entry.kind
        pushed, entry.pushed = entry.pushed, False
        try:
            if entry.items and kind.item_listing is not None:
                job = await self._api.get_with_items(
                    kind, entry.ref, not_after=self._not_after(), acquire=False
                )
            else:
                job = await self._api.get(kind, entry.ref, not_after=math.inf, acquire=False)
        except (Transient, NotFound) as exc:
            entry.in_flight = False
            entry.pushed = entry.pushed or pushed  # the retry still answers the event
            if self._entries.get(entry.ref) is not entry:
                return  # nobody waits on it any more
            now = self._clock.now()
            entry.retry_attempt += 1
            views = [s.view for s in entry.subs]
            delay = self._retry_delay(entry.retry_attempt, views)
            if isinstance(exc, NotFound) and delay is not None:
                if entry.not_found_since is None:
                    entry.not_found_since = now
                grace = min((v.timing.not_found_grace for v in views), default=0.0)
                delay = not_found_retry(now, entry.not_found_since, grace, delay)
                if delay is None:
                    error = not_found_error(
                        kind,
                        entry.ref,
                        operation=kind.get.name,
                        service_message=exc.service_message,
                    )
                    self._fail_entry(entry, error)
                    return
            if delay is None:
                for sub in list(entry.subs):
                    self._fail_timeout(sub)
                return
            entry.hold_until = now + delay
            reason = exc.reason if isinstance(exc, Transient) else "ResourceNotFoundException"
            self._tell_retry(
                [v for v in views if v.events],
                PollRetrying(
                    ref=entry.ref,
                    operation=exc.operation,
                    reason=reason,
                    attempt=entry.retry_attempt,
                    delay=delay,
                    throttling=isinstance(exc, Transient) and exc.throttling,
                    kind=kind.word,
                ),
            )
            self._expire_covered(entry, now)
            self._rerun(entry, priority)  # at the end of the hold
            return
        except OmicsWaiterError as exc:
            entry.in_flight = False
            if self._entries.get(entry.ref) is entry:
                self._fail_entry(entry, exc)
            return
        entry.in_flight = False
        if self._entries.get(entry.ref) is not entry:
            return
        self._observed(entry, job, pushed)
        self._landed(entry)

    def _expire_covered(self, entry: _Entry, now: float) -> None:
        """A failed request at or past a view's deadline was its last: time those out."""
        for sub in list(entry.subs):
            if now >= sub.view.deadline:
                self._fail_timeout(sub)

    # -- List ---------------------------------------------------------------------------

    async def _run_sweep(self, operation: str, batch: _Batch) -> None:
        completed = False
        try:
            await self._sweep(batch)
            completed = True
        finally:
            self._in_flight[operation] -= 1
            batch.in_flight = False
            if not completed and batch.active:
                self._schedule_sweep(batch, self._clock.now())
            self._wake()

    async def _sweep(self, batch: _Batch) -> None:
        listing = batch.listing
        statuses = listing.active_statuses
        if batch.token is None and batch.status_index == 0:
            batch.seen.clear()
            batch.changed = False
            batch.pages = 0
            batch.created_after = None
            if listing.created_after:
                created = [e.creation_time for e in batch.entries.values()]
                if created and all(c is not None for c in created):
                    batch.created_after = (
                        min(c for c in created if c is not None) - _CREATED_AFTER_MARGIN
                    )
        status = statuses[batch.status_index] if statuses else None
        try:
            page, token = await self._api.list_page(
                listing,
                batch.key,
                token=batch.token,
                status=status,
                created_after=batch.created_after,
                acquire=False,
            )
        except (Transient, NotFound) as exc:
            if not batch.entries:
                return
            views = {s.view for e in batch.entries.values() for s in e.subs}
            if isinstance(exc, NotFound):
                # The batch itself (a store, a run) is not found (yet: a run started a moment
                # ago may not be visible). Its jobs are asked for one by one, which applies
                # the one not-found policy, grace period included, to each.
                batch.active = False
                batch.version += 1
                now = self._clock.now()
                for entry in batch.entries.values():
                    self._schedule_get(entry, Priority.POLL, now)
                return
            batch.retry_attempt += 1
            delay = self._retry_delay(batch.retry_attempt, views)
            now = self._clock.now()
            if delay is None:
                for entry in list(batch.entries.values()):
                    for sub in list(entry.subs):
                        self._fail_timeout(sub)
                return
            batch.hold_until = now + delay
            self._tell_retry(
                [v for v in views if v.events],
                PollRetrying(
                    ref=None,
                    operation=exc.operation,
                    reason=exc.reason,
                    attempt=batch.retry_attempt,
                    delay=delay,
                    throttling=exc.throttling,
                    batch=batch.key,
                    kind=batch.kind.word,
                ),
            )
            for entry in list(batch.entries.values()):
                self._expire_covered(entry, now)
            if batch.active:
                self._schedule_sweep(batch, now + delay)
            return
        except OmicsWaiterError as exc:
            for entry in list(batch.entries.values()):
                self._fail_entry(entry, exc)
            return
        batch.retry_attempt = 0
        batch.hold_until = -math.inf
        batch.pages += 1
        self._listed(batch, page)
        batch.token = token
        now = self._clock.now()
        if token is not None and (statuses or len(batch.seen) < len(batch.entries)):
            self._schedule_sweep(batch, now)  # the next page, at once
            return
        batch.token = None
        if statuses and batch.status_index + 1 < len(statuses):
            batch.status_index += 1
            self._schedule_sweep(batch, now)  # the next status
            return
        batch.status_index = 0
        self._swept(batch, now)

    def _listed(self, batch: _Batch, page: Iterable[Any]) -> None:
        now = self._clock.now()
        for summary in page:
            entry = batch.entries.get(summary.ref)
            if entry is None:
                continue
            batch.seen.add(entry.ref)
            if summary.creation_time is not None:
                entry.creation_time = summary.creation_time
            if not entry.open_listed and not entry.kind.is_terminal(summary.status):
                entry.open_listed = True
            listed_before, entry.listed = entry.listed, summary.status
            if listed_before is not None and listed_before != summary.status:
                batch.changed = True  # the sweep backoff returns to its floor on any change
            last = None if entry.last is None else str(entry.last.status)
            priority = listed_priority(entry.kind, summary.status, last, listed_before, entry.mode)
            if priority is not None:
                batch.changed = True
                self._schedule_get(entry, priority, now)

    def _swept(self, batch: _Batch, now: float) -> None:
        absent = Priority.FINAL if batch.listing.active_statuses else Priority.FIRST
        for entry in list(batch.entries.values()):
            if entry.ref not in batch.seen:
                # Not listed: not visible yet, gone, or (for active-status sweeps) no longer
                # active. Ask for it by ID, which applies the not-found grace period.
                if entry.scheduled is None and not entry.in_flight:
                    batch.changed = True
                    self._schedule_get(entry, absent, now)
            elif entry.scheduled is None and not entry.in_flight:
                for sub in list(entry.subs):
                    if now >= sub.view.deadline:
                        self._fail_timeout(sub)  # the sweep at the deadline was its last look
        if len(batch.entries) <= batch.pages:
            # As few jobs as pages: polling them one by one costs no more than sweeping.
            batch.active = False
            batch.version += 1
            for entry in batch.entries.values():
                if entry.scheduled is None:
                    low, _, _ = self._timing(entry)
                    self._schedule_get(entry, Priority.POLL, now + low)
            return
        if not batch.entries:
            return
        batch.sweep_attempt = 1 if batch.changed else batch.sweep_attempt + 1
        # (Over the batch's views, once: not per job, which is the hot path at scale.)
        low, high, deadline = self._pacing({s.view for e in batch.entries.values() for s in e.subs})
        share = self._budget.rate(batch.listing.operation.name) * _SWEEP_SHARE
        floor = max(low / _SWEEP_SPEEDUP, batch.pages / share)
        remaining = deadline - now
        delay = self._slow(
            poll_delay(
                batch.sweep_attempt,
                remaining,
                min(floor, high),
                max(high, min(floor, high)),
                self._uniform,
            ),
            remaining,
            min(floor, high),
        )
        if delay is not None:
            self._schedule_sweep(batch, now + delay)
