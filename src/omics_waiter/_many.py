"""Watching many jobs at once: batch polling through ListReadSetActivationJobs.

One List page tells the status of up to 100 jobs of a sequence store, so a store
with many watched jobs is swept with List, and GetReadSetActivationJob is only
called for a job when List shows it changed (to report its read sets and its
final state). A store with few watched jobs is polled job by job with Get, as
a single wait would. Every request goes through the waiter's shared budget.

Like the single-job watch, this is a class-based async iterator run by the
consumer's task: one request per step, chosen by a small scheduler. Actions are
kept in one heap per priority class, each ordered by due time; the next action
is the due one of the most urgent class, so List sweeps are never starved by a
burst of Gets and every job is served in turn (FIFO within a class).
"""

from __future__ import annotations

import collections
import datetime as dt
import heapq
import itertools
import logging
import math
import random
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field

import anyio

from ._backoff import RetryBackoff, poll_delay
from ._client import (
    GET_ACTIVATION_JOB,
    LIST_ACTIVATION_JOBS,
    BudgetExhausted,
    NotFound,
    OmicsApi,
    Transient,
)
from ._clock import Clock
from ._engine import Timing, deadline_error, not_found_error
from ._errors import (
    JobNotFoundError,
    OmicsWaiterError,
    UnexpectedResponseError,
)
from ._events import (
    JobStatusChanged,
    JobWatchFailed,
    PollRetrying,
    SourceStatusChanged,
    WatchEvent,
)
from ._kinds import ACTIVATION_JOB
from ._models import ActivationJob, ActivationJobStatus, ActivationJobSummary, ActivationSource
from ._tracker import JobTracker

__all__ = ["BATCH_THRESHOLD", "ManyJobWatch"]

logger = logging.getLogger("omics_waiter")

#: A store with at least this many unfinished watched jobs is swept with List.
BATCH_THRESHOLD = 3
# createdAfter is set this far before the oldest unfinished job: both times are the
# service's own, so this covers only rounding of the filter and inclusive bounds.
_CREATED_AFTER_MARGIN = dt.timedelta(seconds=1)

# Workers: one for List (sweeps are sequential per store anyway), and enough for Get
# that the Get budget is used even when each response takes _EXPECTED_RTT to come back
# (more would only hold reserved budget slots, delaying the delivery of events).
_EXPECTED_RTT = 0.1
_MAX_GET_WORKERS = 16
# Events wait at most this long for the lanes to go idle before they are handed out.
_FLUSH_AFTER = 0.05

# Priority classes, most urgent first: List sweeps; Gets of jobs List shows finished;
# Gets of jobs List shows otherwise changed; first Gets of jobs List shows unchanged;
# per-job polls of small stores; read set progress polls. Finishing is what waits are
# for, and at scale the first sight of thousands of jobs must not delay it.
_SWEEP, _FINAL, _CHANGED, _FIRST, _POLL, _PROGRESS = range(6)
_LIST_LANE = range(_SWEEP, _SWEEP + 1)
_GET_LANE = range(_FINAL, _PROGRESS + 1)

# A sweep reports on up to 100 jobs a request, so it may run this many times as often
# as a single wait polls (min_delay / 10 after a change), while using no more than
# _SWEEP_SHARE of the List budget.
_SWEEP_SPEEDUP = 10.0
_SWEEP_SHARE = 0.5

Key = tuple[str, str]


@dataclass(slots=True, eq=False)
class _Job:
    store: str
    id: str
    tracker: JobTracker[ActivationJob, ActivationSource, JobStatusChanged | SourceStatusChanged]
    creation_time: dt.datetime | None = None
    listed: ActivationJobStatus | None = None  # the status List showed before the first Get
    poll_attempt: int = 0
    retry_attempt: int = 0
    not_found_since: float | None = None
    version: int = 0  # bumped whenever the job is (re)scheduled: older heap entries are stale
    scheduled: int | None = None  # the priority class of its pending Get, if any
    in_flight: bool = False  # a Get of it is under way: another must wait (order of results)
    rerun: int | None = None  # the priority class of a Get asked for while one was in flight
    done: bool = False


@dataclass(slots=True, eq=False)
class _Store:
    id: str
    jobs: dict[str, _Job] = field(default_factory=dict)
    batch: bool = False
    sweep_attempt: int = 0
    retry_attempt: int = 0
    token: str | None = None
    seen: set[str] = field(default_factory=set)  # unfinished jobs listed in this round
    created_after: dt.datetime | None = None  # this round's createdAfter filter
    changed: bool = False
    pages: int = 0  # pages in the current sweep round
    version: int = 0
    open: int = 0  # how many of its jobs are unfinished

    def unfinished(self) -> list[_Job]:
        return [job for job in self.jobs.values() if not job.done]


class ManyJobWatch:
    """Watches many read set activation jobs; iterating yields all their events.

    Every job ends with exactly one final event: its terminal `JobStatusChanged`,
    or a `JobWatchFailed` carrying its error. Iteration ends after the last one.
    A job whose `since` is already terminal had its final event before; it is
    not polled and yields nothing.
    """

    def __init__(
        self,
        api: OmicsApi,
        clock: Clock,
        *,
        jobs: Iterable[Key],
        deadline: float,
        timing: Timing,
        since: Mapping[Key, ActivationJob] | None = None,
        source_progress: bool = False,
        final_only: bool = False,
        batch_threshold: int = BATCH_THRESHOLD,
        uniform: random.Random | None = None,
    ) -> None:
        self._api = api
        self._clock = clock
        self.deadline = deadline
        self._timing = timing
        self._source_progress = source_progress
        self._final_only = final_only
        self._batch_threshold = batch_threshold
        self._uniform = (uniform or random.Random()).uniform
        self._retry = RetryBackoff(timing.retry_initial, timing.retry_max)
        self._pending: collections.deque[WatchEvent] = collections.deque()
        self._heaps: list[list[tuple[float, int, int, object]]] = [[] for _ in range(6)]
        self._seq = itertools.count()
        self._stores: dict[str, _Store] = {}
        self._unfinished = 0
        self._in_flight = 0
        self._sleepers: set[anyio.CancelScope] = set()
        self._pending_since: float | None = None
        rate = api.budget.rate(GET_ACTIVATION_JOB)
        self._get_workers = min(_MAX_GET_WORKERS, 1 + math.ceil(rate * _EXPECTED_RTT))
        since = since or {}
        #: The watched jobs, in the order given.
        self.keys = list(jobs)
        for store_id, job_id in self.keys:
            store = self._stores.setdefault(store_id, _Store(store_id))
            seen = since.get((store_id, job_id))
            job = store.jobs[job_id] = _Job(store_id, job_id, JobTracker(ACTIVATION_JOB, seen))
            if job.tracker.is_terminal:
                # Its final event was reported before `since` was taken; it cannot change.
                job.done = True
            else:
                self._unfinished += 1
                store.open += 1
        now = clock.now()
        for store in self._stores.values():
            if not store.open:
                continue
            if store.open >= batch_threshold:
                store.batch = True
                self._push(_SWEEP, now, store, store.version)
            else:
                for job in store.unfinished():
                    self._schedule_get(job, _POLL, now)

    # -- the iterator -------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self

    async def __anext__(self) -> WatchEvent:
        while not self._pending:
            if self._unfinished == 0:
                raise StopAsyncIteration
            await self._step()
        return self._pending.popleft()

    async def aclose(self) -> None:
        """Stop watching; iteration ends at once."""
        self._pending.clear()
        self._unfinished = 0
        for heap in self._heaps:
            heap.clear()

    @property
    def last_jobs(self) -> dict[Key, ActivationJob | None]:
        """The last observation of every job (None if never seen)."""
        return {
            (store.id, job.id): job.tracker.last
            for store in self._stores.values()
            for job in store.jobs.values()
        }

    # -- scheduling -----------------------------------------------------------

    def _push(self, priority: int, due: float, target: _Job | _Store, version: int) -> None:
        heapq.heappush(self._heaps[priority], (due, next(self._seq), version, target))
        self._wake()

    def _wake(self) -> None:
        """Wake the idle workers, to look again at what is due (or to return events)."""
        for scope in self._sleepers:
            scope.cancel()
        self._sleepers.clear()

    def _schedule_get(self, job: _Job, priority: int, due: float) -> None:
        if job.in_flight:
            # Two Gets of one job in flight could answer out of order; run it after.
            job.rerun = priority if job.rerun is None else min(job.rerun, priority)
            return
        job.version += 1
        job.scheduled = priority
        self._push(priority, due, job, job.version)

    def _schedule_sweep(self, store: _Store, due: float) -> None:
        store.version += 1
        self._push(_SWEEP, due, store, store.version)

    def _is_current(self, target: object, version: int) -> bool:
        if isinstance(target, _Job):
            return not target.done and target.version == version
        assert isinstance(target, _Store)
        return target.batch and target.version == version and target.open > 0

    def _next_action(self, classes: range) -> tuple[float, int, _Job | _Store] | None:
        """A lane's next action: its most urgent class with a due action, else the soonest."""
        now = self._clock.now()
        soonest: tuple[float, int, _Job | _Store] | None = None
        for priority in classes:
            heap = self._heaps[priority]
            while heap and not self._is_current(heap[0][3], heap[0][2]):
                heapq.heappop(heap)
            if not heap:
                continue
            due, _, _, target = heap[0]
            assert isinstance(target, _Job | _Store)
            if due <= now:
                return due, priority, target
            if soonest is None or due < soonest[0]:
                soonest = (due, priority, target)
        return soonest

    async def _step(self) -> None:
        """Run the lanes until some events are ready: List and Get have separate budgets,
        so one List worker and several Get workers run side by side. The task group
        lives within this call; results of requests in flight are never dropped."""
        self._pending_since = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._worker, _LIST_LANE)
            for _ in range(self._get_workers):
                tg.start_soon(self._worker, _GET_LANE)

    async def _worker(self, lane: range) -> None:
        # A request in flight at the deadline may finish within one min_delay of it.
        not_after = self.deadline + self._timing.min_delay
        while self._unfinished:
            now = self._clock.now()
            if self._pending:
                # Events are ready: hand them out once the lanes go idle, or after
                # _FLUSH_AFTER at most, so a steady stream of work cannot hold them back.
                if self._pending_since is None:
                    self._pending_since = now
                if now - self._pending_since >= _FLUSH_AFTER:
                    break
            action = self._next_action(lane)
            if action is None or action[0] > not_after:
                if self._in_flight == 0 and self._nothing_due_before(not_after):
                    self._time_out_all()
                    break
                if self._pending:
                    break
                await self._sleep_until(None)  # until another worker schedules something
                continue
            due, priority, target = action
            if due > now:
                if self._pending:
                    break
                await self._sleep_until(due)
                continue  # look again: something more urgent may have come
            heapq.heappop(self._heaps[priority])
            self._in_flight += 1
            try:
                with anyio.move_on_after(not_after - self._clock.now()) as scope:
                    if isinstance(target, _Store):
                        await self._sweep(target, not_after)
                    else:
                        await self._get(target, priority, not_after)
            finally:
                self._in_flight -= 1
            if scope.cancelled_caught:
                self._time_out_all()
            if self._pending:
                self._wake()  # idle workers: stop waiting, the step can end
        self._wake()

    def _nothing_due_before(self, not_after: float) -> bool:
        action = self._next_action(range(len(self._heaps)))
        return action is None or action[0] > not_after

    async def _sleep_until(self, due: float | None) -> None:
        with anyio.CancelScope() as scope:
            self._sleepers.add(scope)
            if due is None:
                await anyio.sleep_forever()
            else:
                await self._clock.sleep(due - self._clock.now())
        self._sleepers.discard(scope)

    # -- outcomes -------------------------------------------------------------

    def _finish(self, job: _Job, error: OmicsWaiterError | None = None) -> None:
        if job.done:
            return
        job.done = True
        job.version += 1
        self._unfinished -= 1
        self._stores[job.store].open -= 1
        if error is not None:
            self._pending.append(
                JobWatchFailed(
                    sequence_store_id=job.store, job_id=job.id, error=error, job=job.tracker.last
                )
            )

    def _time_out_all(self) -> None:
        for store in self._stores.values():
            for job in store.unfinished():
                error = deadline_error(
                    ACTIVATION_JOB.noun,
                    job.store,
                    job.id,
                    last=job.tracker.last,
                    never_found=job.not_found_since is not None and job.tracker.last is None,
                    operation=GET_ACTIVATION_JOB,
                )
                self._finish(job, error)

    def _retry_event(
        self, store: str, job_id: str | None, exc: Transient | NotFound, attempt: int
    ) -> float | None:
        now = self._clock.now()
        delay = self._retry.delay(attempt, self.deadline - now)
        if delay is None:
            return None
        reason = exc.reason if isinstance(exc, Transient) else "ResourceNotFoundException"
        logger.info(
            "%s for %s retrying in %.2fs after %s (attempt %d)",
            exc.operation,
            f"job {job_id}" if job_id else f"store {store}",
            delay,
            reason,
            attempt,
        )
        self._pending.append(
            PollRetrying(
                sequence_store_id=store,
                job_id=job_id,
                operation=exc.operation,
                reason=reason,
                attempt=attempt,
                delay=delay,
                throttling=isinstance(exc, Transient) and exc.throttling,
            )
        )
        return delay

    # -- Get ------------------------------------------------------------------

    async def _get(self, job: _Job, priority: int, not_after: float) -> None:
        job.scheduled = None
        job.in_flight = True
        try:
            await self._get_once(job, priority, not_after)
        finally:
            job.in_flight = False
            rerun, job.rerun = job.rerun, None
            if rerun is not None and not job.done and job.scheduled is None:
                self._schedule_get(job, rerun, self._clock.now())

    async def _get_once(self, job: _Job, priority: int, not_after: float) -> None:
        try:
            observed = await self._api.get_activation_job(job.store, job.id, not_after=not_after)
        except (Transient, NotFound) as exc:
            if job.done:
                return  # ended while this Get was in flight: nothing more to report
            now = self._clock.now()
            if isinstance(exc, NotFound):
                if job.not_found_since is None:
                    job.not_found_since = now
                if now - job.not_found_since >= self._timing.not_found_grace:
                    self._finish(
                        job,
                        not_found_error(
                            ACTIVATION_JOB.noun,
                            job.store,
                            job.id,
                            service_message=exc.service_message,
                            operation=GET_ACTIVATION_JOB,
                        ),
                    )
                    return
            job.retry_attempt += 1
            delay = self._retry_event(job.store, job.id, exc, job.retry_attempt)
            if delay is not None:
                self._schedule_get(job, priority, now + delay)
            return
        except BudgetExhausted:
            return  # no slot before the deadline: the scheduler times everything out
        except OmicsWaiterError as exc:
            self._finish(job, exc)
            return
        self._observed(job, observed)

    def _observed(self, job: _Job, observed: ActivationJob) -> None:
        if job.done:
            return  # ended (e.g. by its store's failure) while this Get was in flight
        job.retry_attempt = 0
        job.not_found_since = None
        job.creation_time = observed.creation_time
        events = job.tracker.observe(observed)
        self._pending.extend(events)
        for event in events:
            logger.debug("read set activation job %s: %r", job.id, event)
        unknown = ACTIVATION_JOB.unknown_status(observed)
        if unknown is not None:
            self._finish(
                job,
                UnexpectedResponseError(
                    f"the service reported {unknown} for read set activation job {job.id}, "
                    "which this release of omics-waiter does not know",
                    job=observed,
                ),
            )
            return
        if job.tracker.is_terminal:
            self._finish(job)
            return
        store = self._stores[job.store]
        if store.batch and not self._source_progress:
            return  # the store's sweeps watch it
        job.poll_attempt = 1 if events else job.poll_attempt + 1
        now = self._clock.now()
        delay = poll_delay(
            job.poll_attempt,
            self.deadline - now,
            self._timing.min_delay,
            self._timing.max_delay,
            self._uniform,
        )
        if delay is not None:
            self._schedule_get(job, _PROGRESS if store.batch else _POLL, now + delay)

    # -- List -----------------------------------------------------------------

    async def _sweep(self, store: _Store, not_after: float) -> None:
        if store.token is None:
            store.seen.clear()
            store.changed = False
            store.pages = 0
            unfinished = store.unfinished()
            created = [j.creation_time for j in unfinished if j.creation_time is not None]
            store.created_after = None
            if unfinished and len(created) == len(unfinished):
                # Once every job's creation time is known, older jobs need not be paged through.
                store.created_after = min(created) - _CREATED_AFTER_MARGIN
        try:
            page, token = await self._api.list_activation_jobs(
                store.id,
                created_after=store.created_after,
                next_token=store.token,
                not_after=not_after,
            )
        except (Transient, NotFound) as exc:
            if isinstance(exc, NotFound):
                # The store itself is not found: every job in it is.
                for job in store.unfinished():
                    self._finish(
                        job,
                        JobNotFoundError(
                            f"sequence store {store.id} of job {job.id} was not found",
                            job_id=job.id,
                            sequence_store_id=store.id,
                            service_message=exc.service_message,
                            operation=LIST_ACTIVATION_JOBS,
                        ),
                    )
                return
            store.retry_attempt += 1
            delay = self._retry_event(store.id, None, exc, store.retry_attempt)
            if delay is not None:
                self._schedule_sweep(store, self._clock.now() + delay)
            return
        except BudgetExhausted:
            return
        except OmicsWaiterError as exc:
            for job in store.unfinished():
                self._finish(job, exc)
            return
        store.retry_attempt = 0
        store.pages += 1
        self._listed(store, page)
        store.token = token
        if token is not None and len(store.seen) < store.open:
            self._schedule_sweep(store, self._clock.now())  # the next page, at once
            return
        store.token = None
        self._swept(store)

    def _listed(self, store: _Store, page: Iterable[ActivationJobSummary]) -> None:
        now = self._clock.now()
        for summary in page:
            job = store.jobs.get(summary.id)
            if job is None or job.done:
                continue
            store.seen.add(job.id)  # (a job finishing later this round stays counted: harmless)
            job.creation_time = summary.creation_time
            listed, job.listed = job.listed, summary.status
            if listed is not None and listed != summary.status:
                store.changed = True  # the sweep backoff returns to its floor on any change
            last = job.tracker.last
            if last is not None and summary.status == last.status:
                continue
            if summary.status.is_terminal:
                priority = _FINAL
            elif last is not None:
                priority = _CHANGED
            elif self._final_only:
                continue  # only the final state is wanted: no Get until it is terminal
            elif listed not in (None, summary.status):
                priority = _CHANGED
            else:
                priority = _FIRST
            if job.scheduled is None or priority < job.scheduled:
                store.changed = True
                self._schedule_get(job, priority, now)

    def _swept(self, store: _Store) -> None:
        now = self._clock.now()
        unfinished = store.unfinished()
        for job in unfinished:
            # Not listed (not visible yet, or not there at all): ask for it by ID,
            # which applies the not-found grace period.
            if job.id not in store.seen and job.scheduled is None:
                store.changed = True
                self._schedule_get(job, _FIRST, now)
        if store.open < self._batch_threshold:
            # Few jobs left: polling them one by one is now cheaper than sweeping.
            store.batch = False
            for job in unfinished:
                if job.scheduled is None:
                    self._schedule_get(job, _POLL, now + self._timing.min_delay)
            return
        store.sweep_attempt = 1 if store.changed else store.sweep_attempt + 1
        share = self._api.budget.rate(LIST_ACTIVATION_JOBS) * _SWEEP_SHARE
        floor = max(self._timing.min_delay / _SWEEP_SPEEDUP, store.pages / share)
        delay = poll_delay(
            store.sweep_attempt,
            self.deadline - now,
            min(floor, self._timing.max_delay),
            self._timing.max_delay,
            self._uniform,
        )
        if delay is not None:
            self._schedule_sweep(store, now + delay)
