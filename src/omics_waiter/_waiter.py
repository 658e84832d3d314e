"""`OmicsWaiter`: the public face of the engine."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

from ._budget import RequestBudget
from ._client import OmicsApi, OmicsClient
from ._clock import AnyioClock, Clock
from ._engine import JobWatch, Timing
from ._errors import InvalidInputError, JobFailedError, JobPartiallyFailedError
from ._events import WatchEvent
from ._kinds import ACTIVATION_JOB
from ._models import ActivationJob, ActivationJobStatus
from ._validation import check_id, check_rate, check_seconds, check_timeout_and_deadline

__all__ = ["EventStream", "OmicsWaiter"]

logger = logging.getLogger("omics_waiter")

# Defaults, chosen for jobs that last minutes to hours:
# - a change is followed by a poll 5 s later, so a job that moves is followed closely;
# - a job that sits still is polled at most every 2 minutes, so an hours-long job
#   costs about 30 requests an hour and is seen to finish within 2 minutes;
# - 24 hours bounds every wait, so a stuck job cannot hang a service forever;
# - 5 requests per second per operation is the service's default quota;
# - a job started a moment ago may take a few seconds to become visible: 30 s of grace.
DEFAULT_MIN_DELAY = 5.0
DEFAULT_MAX_DELAY = 120.0
DEFAULT_TIMEOUT = 24 * 3600.0
DEFAULT_MAX_TPS = 5.0
DEFAULT_NOT_FOUND_GRACE = 30.0
DEFAULT_RETRY_INITIAL = 1.0
DEFAULT_RETRY_MAX = 30.0


class EventStream(Protocol):
    """What a watch returns: an async iterator of events that can be closed early."""

    def __aiter__(self) -> AsyncIterator[WatchEvent]: ...

    async def __anext__(self) -> WatchEvent: ...

    async def aclose(self) -> None:
        """Stop watching; iteration ends. Never cancels the job itself."""
        ...


def _timing(min_delay: object, max_delay: object, not_found_grace: object) -> Timing:
    low = check_seconds("min_delay", min_delay)
    high = check_seconds("max_delay", max_delay)
    if low > high:
        raise InvalidInputError(
            f"min_delay ({low:g}s) must not exceed max_delay ({high:g}s)", argument="min_delay"
        )
    return Timing(
        min_delay=low,
        max_delay=high,
        not_found_grace=check_seconds("not_found_grace", not_found_grace, allow_zero=True),
        retry_initial=min(DEFAULT_RETRY_INITIAL, low),
        retry_max=min(DEFAULT_RETRY_MAX, max(high, low)),
    )


def verdict(job: ActivationJob, *, accept_partial: bool) -> ActivationJob:
    """The final job if it counts as success, else the matching `JobFailedError`."""
    if job.status == ActivationJobStatus.COMPLETED:
        return job
    if job.status == ActivationJobStatus.COMPLETED_WITH_FAILURES:
        if accept_partial:
            return job
        failed = ", ".join(s.read_set_id for s in job.failed_sources) or "unknown"
        raise JobPartiallyFailedError(
            f"read set activation job {job.id} completed, but {len(job.failed_sources)} of "
            f"{len(job.sources)} read sets failed: {failed}",
            job=job,
        )
    detail = f": {job.status_message}" if job.status_message else ""
    raise JobFailedError(
        f"read set activation job {job.id} ended {job.status.value}{detail}", job=job
    )


class OmicsWaiter:
    """Waits on HealthOmics jobs through one aiobotocore Omics client.

    Every wait on one waiter shares its request budget, so a service may run
    hundreds of waits at once without exceeding the API's quota.

    Args:
        client: An aiobotocore Omics client; the caller owns it and closes it.
            Give it ``retries={"max_attempts": 1}`` so that retries, and their
            budget, are the waiter's alone (`connect` does this).
        min_delay: Seconds between polls right after a change (default 5).
        max_delay: Seconds between polls, at most, while nothing changes (default 120).
        timeout: Default seconds a wait may last (default 24 hours; ``math.inf`` for none).
        max_tps: Requests per second per operation for all waits together (default 5).
        not_found_grace: Seconds a job may be not found before `JobNotFoundError` (default 30).
        clock: The clock to read and sleep on (default: the event loop's).

    Raises:
        InvalidInputError: An option is out of range.
    """

    def __init__(
        self,
        client: OmicsClient,
        *,
        min_delay: float = DEFAULT_MIN_DELAY,
        max_delay: float = DEFAULT_MAX_DELAY,
        timeout: float = DEFAULT_TIMEOUT,
        max_tps: float = DEFAULT_MAX_TPS,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        clock: Clock | None = None,
    ) -> None:
        self._timing = _timing(min_delay, max_delay, not_found_grace)
        self._timeout = check_seconds("timeout", timeout, allow_inf=True)
        self._clock: Clock = clock if clock is not None else AnyioClock()
        self._budget = RequestBudget(check_rate("max_tps", max_tps), clock=self._clock)
        self._api = OmicsApi(client, self._budget)

    def __repr__(self) -> str:
        t = self._timing
        return (
            f"OmicsWaiter(min_delay={t.min_delay:g}, max_delay={t.max_delay:g}, "
            f"timeout={self._timeout:g}, max_tps={self._budget.max_rate:g})"
        )

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        profile_name: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        **options: Any,
    ) -> AsyncIterator[OmicsWaiter]:
        """Create an Omics client, wrap it in a waiter, and close the client on exit.

        With `endpoint_url` (e.g. an `OmicsEmulator`), host-prefix injection is
        turned off so that requests go to exactly that URL. The client's own
        retries are turned off: the waiter retries, within its budget.

        Args:
            region_name: The AWS Region (default: from the profile or environment).
            endpoint_url: Another endpoint than AWS's.
            profile_name: A profile from the AWS config files.
            aws_access_key_id: Explicit credentials (default: the usual credential chain,
                which refreshes temporary credentials during long waits).
            aws_secret_access_key: See above.
            aws_session_token: See above.
            connect_timeout: Seconds to connect, per request.
            read_timeout: Seconds to wait for a response, per request.
            **options: `OmicsWaiter` options.
        """
        import aiobotocore.session
        from aiobotocore.config import AioConfig

        check_seconds("connect_timeout", connect_timeout)
        check_seconds("read_timeout", read_timeout)
        if options.get("clock") is None:
            options.pop("clock", None)
        # Validate the options before anything is created.
        _timing(
            options.get("min_delay", DEFAULT_MIN_DELAY),
            options.get("max_delay", DEFAULT_MAX_DELAY),
            options.get("not_found_grace", DEFAULT_NOT_FOUND_GRACE),
        )
        session = aiobotocore.session.AioSession(profile=profile_name)
        config = AioConfig(
            retries={"mode": "standard", "total_max_attempts": 1},
            inject_host_prefix=endpoint_url is None,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        async with session.create_client(
            "omics",
            region_name=region_name,
            endpoint_url=endpoint_url,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            config=config,
        ) as client:
            yield cls(client, **options)

    def _watch(
        self,
        sequence_store_id: object,
        job_id: object,
        *,
        timeout: object,
        deadline: object,
        since: object,
        min_delay: object,
        max_delay: object,
    ) -> JobWatch[Any, Any, Any]:
        store = check_id("sequence_store_id", sequence_store_id)
        job = check_id("job_id", job_id)
        seconds = check_timeout_and_deadline(timeout, deadline, self._timeout)
        timing = self._timing
        if min_delay is not None or max_delay is not None:
            timing = _timing(
                timing.min_delay if min_delay is None else min_delay,
                timing.max_delay if max_delay is None else max_delay,
                timing.not_found_grace,
            )
        if since is not None:
            if not isinstance(since, ActivationJob):
                raise InvalidInputError(
                    f"since must be an ActivationJob, not {type(since).__name__}", argument="since"
                )
            if since.id != job or since.sequence_store_id != store:
                raise InvalidInputError(
                    f"since is job {since.id} in store {since.sequence_store_id}, "
                    f"not job {job} in store {store}",
                    argument="since",
                )
        return JobWatch(
            ACTIVATION_JOB,
            self._api,
            self._clock,
            sequence_store_id=store,
            job_id=job,
            deadline=self._clock.now() + seconds,
            timing=timing,
            since=since,
        )

    def watch_activation_job(
        self,
        sequence_store_id: str,
        job_id: str,
        *,
        timeout: float | None = None,
        deadline: Any = None,
        since: ActivationJob | None = None,
        min_delay: float | None = None,
        max_delay: float | None = None,
    ) -> EventStream:
        """Watch a read set activation job: an async iterator of its status changes.

        The first observation yields a `JobStatusChanged` with ``previous=None``
        and a `SourceStatusChanged` per read set; each later change yields
        exactly one event; transient errors yield `PollRetrying`. The job's
        terminal `JobStatusChanged` is the last event; iteration then ends
        without raising, whatever the job's outcome.

        Args:
            sequence_store_id: The job's sequence store.
            job_id: The job.
            timeout: Seconds the watch may last (default: the waiter's `timeout`).
            deadline: An aware `datetime` to stop at, instead of `timeout`.
            since: A job seen before (e.g. by a previous process): only changes
                after it are yielded.
            min_delay: Overrides the waiter's `min_delay` for this watch.
            max_delay: Overrides the waiter's `max_delay` for this watch.

        Raises:
            InvalidInputError: An argument is invalid (at once, before any request).

        While iterating, raises `WaitTimeoutError`, `JobNotFoundError`,
        `AccessDeniedError`, `InvalidInputError`, `UnexpectedResponseError`
        or `ServiceError`.
        """
        return self._watch(
            sequence_store_id,
            job_id,
            timeout=timeout,
            deadline=deadline,
            since=since,
            min_delay=min_delay,
            max_delay=max_delay,
        )

    async def wait_for_activation_job(
        self,
        sequence_store_id: str,
        job_id: str,
        *,
        timeout: float | None = None,
        deadline: Any = None,
        accept_partial: bool = False,
        min_delay: float | None = None,
        max_delay: float | None = None,
    ) -> ActivationJob:
        """Wait until a read set activation job is terminal, and return it.

        Args:
            sequence_store_id: The job's sequence store.
            job_id: The job.
            timeout: Seconds the wait may last (default: the waiter's `timeout`).
            deadline: An aware `datetime` to stop at, instead of `timeout`.
            accept_partial: Return, rather than raise, a job that ended
                COMPLETED_WITH_FAILURES.
            min_delay: Overrides the waiter's `min_delay` for this wait.
            max_delay: Overrides the waiter's `max_delay` for this wait.

        Returns:
            The final job: COMPLETED (or COMPLETED_WITH_FAILURES with `accept_partial`).

        Raises:
            JobFailedError: The job ended FAILED or CANCELLED.
            JobPartiallyFailedError: The job ended COMPLETED_WITH_FAILURES.
            WaitTimeoutError: The deadline passed; `.job` is the last job seen.
            JobNotFoundError: The job stayed not found for the grace period.
            AccessDeniedError: Access, credentials or signature were refused.
            InvalidInputError: An argument is invalid, or the service said so.
            UnexpectedResponseError: The service answered in a way this release cannot read.
        """
        if not isinstance(accept_partial, bool):
            raise InvalidInputError(
                "accept_partial must be True or False", argument="accept_partial"
            )
        watch = self._watch(
            sequence_store_id,
            job_id,
            timeout=timeout,
            deadline=deadline,
            since=None,
            min_delay=min_delay,
            max_delay=max_delay,
        )
        async for _ in watch:
            pass
        job = watch.last_job
        # The watch ends without raising only after a terminal observation.
        assert job is not None
        assert job.is_terminal
        return verdict(job, accept_partial=accept_partial)
