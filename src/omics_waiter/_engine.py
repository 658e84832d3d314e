"""The engine: poll one job until it is terminal, as an async iterator of events.

The iterator is a plain class, not an async generator: each `__anext__` either
hands out a queued event or does one step of I/O (sleep until the next poll,
then poll once), so no cancel scope ever spans a `yield`, cancelling a consumer
stops polling at once, and nothing runs in the background. What to do after
each poll is decided by the pure functions in `_backoff`.
"""

from __future__ import annotations

import collections
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import anyio

from ._backoff import RetryBackoff, poll_delay
from ._client import BudgetExhausted, NotFound, OmicsApi, Transient
from ._clock import Clock
from ._errors import JobNotFoundError, UnexpectedResponseError, WaitTimeoutError
from ._events import PollRetrying
from ._kinds import JobKind
from ._tracker import JobTracker

__all__ = ["Timing", "JobWatch"]

logger = logging.getLogger("omics_waiter")

JobT = TypeVar("JobT")
ItemT = TypeVar("ItemT")
EventT = TypeVar("EventT")


@dataclass(frozen=True, slots=True)
class Timing:
    """The validated timing options of one wait."""

    min_delay: float
    max_delay: float
    not_found_grace: float
    retry_initial: float
    retry_max: float


def not_found_error(
    noun: str,
    store: str,
    job_id: str,
    *,
    operation: str,
    service_message: str | None = None,
    before_deadline: bool = False,
) -> JobNotFoundError:
    """The error for a job that stayed not found (for the grace period, or until the deadline)."""
    when = " before the deadline" if before_deadline else ""
    return JobNotFoundError(
        f"{noun} {job_id} was not found in sequence store {store}{when}",
        job_id=job_id,
        sequence_store_id=store,
        service_message=service_message,
        operation=operation,
    )


def deadline_error(
    noun: str,
    store: str,
    job_id: str,
    *,
    last: Any,
    never_found: bool,
    operation: str,
) -> WaitTimeoutError | JobNotFoundError:
    """The error for a job still unfinished at the deadline; one never found says so."""
    if never_found:
        return not_found_error(noun, store, job_id, operation=operation, before_deadline=True)
    return WaitTimeoutError(
        f"gave up waiting for {noun} {job_id} in sequence store {store}: the deadline passed",
        job_id=job_id,
        job=last,
    )


class JobWatch(Generic[JobT, ItemT, EventT]):
    """Polls one job; iterating yields its events, then stops after the terminal one.

    Raises (from iteration): WaitTimeoutError, JobNotFoundError, AccessDeniedError,
    InvalidInputError, UnexpectedResponseError, ServiceError.
    """

    def __init__(
        self,
        kind: JobKind[JobT, ItemT, EventT],
        api: OmicsApi,
        clock: Clock,
        *,
        sequence_store_id: str,
        job_id: str,
        deadline: float,
        timing: Timing,
        since: JobT | None = None,
        uniform: random.Random | None = None,
    ) -> None:
        self._kind = kind
        self._api = api
        self._clock = clock
        self.sequence_store_id = sequence_store_id
        self.job_id = job_id
        self.deadline = deadline
        self._timing = timing
        self._tracker = JobTracker(kind, since)
        self._uniform = (uniform or random.Random()).uniform
        self._retry = RetryBackoff(timing.retry_initial, timing.retry_max)
        self._pending: collections.deque[EventT | PollRetrying] = collections.deque()
        self._next_poll = clock.now()
        self._poll_attempt = 0
        self._retry_attempt = 0
        self._not_found_since: float | None = None
        self._finished = False
        self._error: BaseException | None = None

    @property
    def last_job(self) -> JobT | None:
        """The last job observed (or the `since` job before the first poll)."""
        return self._tracker.last

    def __aiter__(self) -> AsyncIterator[EventT | PollRetrying]:
        return self

    async def __anext__(self) -> EventT | PollRetrying:
        while not self._pending:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if self._finished:
                raise StopAsyncIteration
            await self._step()
        return self._pending.popleft()

    async def aclose(self) -> None:
        """Stop polling; further iteration ends at once."""
        self._finished = True
        self._pending.clear()
        self._error = None

    def _fail(self, error: BaseException) -> None:
        self._finished = True
        self._error = error

    def _timeout(self) -> WaitTimeoutError | JobNotFoundError:
        return deadline_error(
            self._kind.noun,
            self.sequence_store_id,
            self.job_id,
            last=self.last_job,
            never_found=self._not_found_since is not None and self.last_job is None,
            operation=self._kind.get_operation,
        )

    async def _step(self) -> None:
        wait = self._next_poll - self._clock.now()
        if wait > 0:
            await self._clock.sleep(wait)
        # A request in flight at the deadline may finish within one min_delay of it.
        not_after = self.deadline + self._timing.min_delay
        job: JobT | None = None
        with anyio.move_on_after(not_after - self._clock.now()):
            try:
                job = await self._kind.fetch(
                    self._api, self.sequence_store_id, self.job_id, not_after
                )
            except Transient as exc:
                self._retry_after(exc.operation, exc.reason, throttling=exc.throttling)
                return
            except NotFound as exc:
                self._not_found(exc)
                return
            except BudgetExhausted:
                self._fail(self._timeout())
                return
            except Exception as exc:
                self._fail(exc)
                return
        if job is None:
            self._fail(self._timeout())
            return
        self._observed(job)

    def _retry_after(self, operation: str, reason: str, *, throttling: bool = False) -> None:
        now = self._clock.now()
        self._retry_attempt += 1
        delay = self._retry.delay(self._retry_attempt, self.deadline - now)
        if delay is None:
            self._fail(self._timeout())
            return
        self._next_poll = now + delay
        logger.info(
            "poll of %s %s retrying in %.2fs after %s (attempt %d)",
            self._kind.noun,
            self.job_id,
            delay,
            reason,
            self._retry_attempt,
        )
        self._pending.append(
            PollRetrying(
                sequence_store_id=self.sequence_store_id,
                job_id=self.job_id,
                operation=operation,
                reason=reason,
                attempt=self._retry_attempt,
                delay=delay,
                throttling=throttling,
            )
        )

    def _not_found(self, exc: NotFound) -> None:
        now = self._clock.now()
        if self._not_found_since is None:
            self._not_found_since = now
        if now - self._not_found_since >= self._timing.not_found_grace:
            self._fail(
                not_found_error(
                    self._kind.noun,
                    self.sequence_store_id,
                    self.job_id,
                    service_message=exc.service_message,
                    operation=exc.operation,
                )
            )
            return
        self._retry_after(exc.operation, "ResourceNotFoundException")

    def _observed(self, job: JobT) -> None:
        self._retry_attempt = 0
        self._not_found_since = None
        events = self._tracker.observe(job)
        self._pending.extend(events)
        for event in events:
            logger.debug("%s %s: %r", self._kind.noun, self.job_id, event)
        unknown = self._kind.unknown_status(job)
        if unknown is not None:
            self._fail(
                UnexpectedResponseError(
                    f"the service reported {unknown} for {self._kind.noun} {self.job_id}, "
                    "which this release of omics-waiter does not know",
                    job=job,  # type: ignore[arg-type]
                )
            )
            return
        if self._tracker.is_terminal:
            self._finished = True
            return
        self._poll_attempt = 1 if events else self._poll_attempt + 1
        now = self._clock.now()
        delay = poll_delay(
            self._poll_attempt,
            self.deadline - now,
            self._timing.min_delay,
            self._timing.max_delay,
            self._uniform,
        )
        if delay is None:
            self._fail(self._timeout())
            return
        self._next_poll = now + delay
