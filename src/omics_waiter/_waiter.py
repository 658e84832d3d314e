"""`OmicsWaiter`: the public face of the engine."""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from ._backoff import RetryBackoff
from ._budget import RequestBudget
from ._client import (
    BudgetExhausted,
    NotFound,
    OmicsApi,
    OmicsClient,
    Transient,
    parse_timestamp,
    running_on_trio,
)
from ._clock import AnyioClock, Clock
from ._engine import JobWatch, Timing
from ._errors import (
    InvalidInputError,
    JobFailedError,
    JobPartiallyFailedError,
    OmicsWaiterError,
    ServiceError,
    WaitTimeoutError,
)
from ._events import JobWatchFailed, PollRetrying, WatchEvent
from ._kinds import ACTIVATION_JOB
from ._many import ManyJobWatch
from ._models import ActivationJob, ActivationJobStatus, ActivationJobSummary
from ._validation import (
    check_id,
    check_ids,
    check_rate,
    check_seconds,
    check_timeout_and_deadline,
    check_url,
)

__all__ = ["EventStream", "OmicsWaiter"]

logger = logging.getLogger("omics_waiter")

T = TypeVar("T")

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


def _timing(
    min_delay: object, max_delay: object, not_found_grace: object, *, blame: str = "min_delay"
) -> Timing:
    low = check_seconds("min_delay", min_delay)
    high = check_seconds("max_delay", max_delay)
    if low > high:
        raise InvalidInputError(
            f"min_delay ({low:g}s) must not exceed max_delay ({high:g}s)", argument=blame
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


def _configured_endpoint(session: Any) -> bool:
    """Whether botocore will take an endpoint from the environment or the profile.

    The same places, in the same order, as botocore: ``AWS_ENDPOINT_URL_OMICS``,
    ``AWS_ENDPOINT_URL``, then ``endpoint_url`` in the profile's ``services`` section or
    in the profile itself; none of them when configured endpoints are ignored.
    """
    if session.get_config_variable("ignore_configured_endpoint_urls"):
        return False
    for name in ("AWS_ENDPOINT_URL_OMICS", "AWS_ENDPOINT_URL"):
        if os.environ.get(name):
            check_url(name, os.environ[name])
            return True
    scoped = session.get_scoped_config()
    services = scoped.get("services")
    if services:
        section = session.full_config.get("services", {}).get(services, {})
        omics = section.get("omics") if isinstance(section, dict) else None
        if isinstance(omics, dict) and omics.get("endpoint_url"):
            return True
    return bool(scoped.get("endpoint_url"))


def _trio_http_session() -> type:
    """aiobotocore's httpx transport, which runs on trio since aiobotocore 3.9."""
    import importlib.metadata
    import importlib.util

    found = re.match(r"(\d+)\.(\d+)", importlib.metadata.version("aiobotocore"))
    recent = found is not None and (int(found[1]), int(found[2])) >= (3, 9)
    httpx = any(importlib.util.find_spec(name) is not None for name in ("httpx2", "httpx"))
    if not (recent and httpx):
        raise OmicsWaiterError(
            "on trio, OmicsWaiter.connect() needs aiobotocore 3.9 or newer and its httpx "
            "transport (aiohttp runs only on asyncio): pip install 'omics-waiter[trio]'"
        )
    from aiobotocore.httpxsession import HttpxSession

    return HttpxSession


def _kept_failing(exc: Transient) -> WaitTimeoutError:
    """The error for a request that failed transiently until the timeout, naming the cause."""
    cause = exc.__cause__
    detail = f"{exc.reason}: {' '.join(str(cause).split())}" if cause is not None else exc.reason
    return WaitTimeoutError(
        f"{exc.operation} kept failing ({detail}) until the timeout", job_id="", job=None
    )


def _check_on_retry(on_retry: object) -> Callable[[PollRetrying], object] | None:
    if on_retry is not None and not callable(on_retry):
        raise InvalidInputError(
            f"on_retry must be a callable or None, not {type(on_retry).__name__}",
            argument="on_retry",
        )
    return on_retry


class OmicsWaiter:
    """Waits on HealthOmics jobs through one aiobotocore Omics client.

    Every wait on one waiter shares its request budget, so a service may run
    hundreds of waits at once without exceeding the API's quota.

    Args:
        client: An aiobotocore Omics client; the caller owns it and closes it.
            Give it ``retries={"total_max_attempts": 1}`` (one attempt: botocore's
            ``max_attempts`` counts retries, so 1 would still allow one) so that
            retries, and their budget, are the waiter's alone (`connect` does this).
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

        With `endpoint_url` (e.g. an `OmicsEmulator`), or an endpoint configured
        the standard way (``AWS_ENDPOINT_URL_OMICS``, ``AWS_ENDPOINT_URL``, or
        ``endpoint_url`` in the profile, unless ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS``
        is true), host-prefix injection is turned off so that requests go to exactly
        that URL. The client's own retries are turned off: the waiter retries, within
        its budget. On trio, the client uses aiobotocore's httpx transport (its
        default, aiohttp, runs only on asyncio): install ``omics-waiter[trio]``.

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

        Raises:
            InvalidInputError: An argument or option is invalid, the profile does not
                exist, or no Region is configured.
            OmicsWaiterError: On trio, without the httpx transport (the ``trio`` extra).
        """
        import aiobotocore.session
        import botocore.exceptions
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
        if endpoint_url is not None:
            check_url("endpoint_url", endpoint_url)
        transport: dict[str, Any] = {}
        if running_on_trio():
            transport["http_session_cls"] = _trio_http_session()
        session = aiobotocore.session.AioSession(profile=profile_name)
        session.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=parse_timestamp
        )
        async with contextlib.AsyncExitStack() as stack:
            try:
                # Host prefixes ("control-storage-") belong to AWS's own endpoints: on any
                # other endpoint they would make every request go to a host that does not exist.
                custom_endpoint = endpoint_url is not None or _configured_endpoint(session)
                config = AioConfig(
                    retries={"mode": "standard", "total_max_attempts": 1},
                    inject_host_prefix=not custom_endpoint,
                    connect_timeout=connect_timeout,
                    read_timeout=read_timeout,
                    **transport,
                )
                client = await stack.enter_async_context(
                    session.create_client(
                        "omics",
                        region_name=region_name,
                        endpoint_url=endpoint_url,
                        aws_access_key_id=aws_access_key_id,
                        aws_secret_access_key=aws_secret_access_key,
                        aws_session_token=aws_session_token,
                        config=config,
                    )
                )
            except botocore.exceptions.ProfileNotFound:
                raise InvalidInputError(
                    f"profile_name: no AWS profile named {profile_name!r}",
                    argument="profile_name",
                ) from None
            except botocore.exceptions.NoRegionError:
                raise InvalidInputError(
                    "no AWS Region: give region_name, or set AWS_DEFAULT_REGION or a profile's "
                    "region",
                    argument="region_name",
                ) from None
            except botocore.exceptions.InvalidRegionError:
                raise InvalidInputError(
                    f"region_name must be an AWS Region such as 'us-east-1', got {region_name!r}",
                    argument="region_name",
                ) from None
            waiter = cls(client, **options)
            try:
                yield waiter
            finally:
                # A call after the client is closed fails at once, and says why.
                waiter._api.closed = True

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
        timing = self._override(min_delay, max_delay)
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

    def _many(
        self,
        jobs: object,
        *,
        timeout: object,
        deadline: object,
        since: object,
        source_progress: object,
        min_delay: object,
        max_delay: object,
        final_only: bool = False,
    ) -> ManyJobWatch:
        if isinstance(jobs, str | bytes) or not isinstance(jobs, Iterable):
            raise InvalidInputError(
                "jobs must be an iterable of (sequence_store_id, job_id) pairs", argument="jobs"
            )
        keys: list[tuple[str, str]] = []
        for pair in jobs:
            if not (isinstance(pair, tuple | list) and len(pair) == 2):
                raise InvalidInputError(
                    f"jobs must hold (sequence_store_id, job_id) pairs, got {pair!r}",
                    argument="jobs",
                )
            keys.append((check_id("sequence_store_id", pair[0]), check_id("job_id", pair[1])))
        if len(set(keys)) != len(keys):
            twice = next(k for k, n in collections.Counter(keys).items() if n > 1)
            raise InvalidInputError(
                f"job {twice[1]} of sequence store {twice[0]} is listed twice", argument="jobs"
            )
        seconds = check_timeout_and_deadline(timeout, deadline, self._timeout)
        timing = self._override(min_delay, max_delay)
        if not isinstance(source_progress, bool):
            raise InvalidInputError(
                "source_progress must be True or False", argument="source_progress"
            )
        if since is None:
            since = ()
        if isinstance(since, ActivationJob) or not isinstance(since, Iterable):
            raise InvalidInputError("since must be an iterable of ActivationJob", argument="since")
        seen: dict[tuple[str, str], ActivationJob] = {}
        wanted = set(keys)
        for job in since:
            if not isinstance(job, ActivationJob):
                raise InvalidInputError(
                    f"since must hold ActivationJob values, not {type(job).__name__}",
                    argument="since",
                )
            if (job.sequence_store_id, job.id) not in wanted:
                raise InvalidInputError(
                    f"since holds job {job.id} of store {job.sequence_store_id}, "
                    "which is not among jobs",
                    argument="since",
                )
            seen[(job.sequence_store_id, job.id)] = job
        return ManyJobWatch(
            self._api,
            self._clock,
            jobs=keys,
            deadline=self._clock.now() + seconds,
            timing=timing,
            since=seen,
            source_progress=source_progress,
            final_only=final_only,
        )

    def watch_activation_jobs(
        self,
        jobs: Iterable[tuple[str, str]],
        *,
        timeout: float | None = None,
        deadline: Any = None,
        since: Iterable[ActivationJob] | None = None,
        source_progress: bool = False,
        final_only: bool = False,
        min_delay: float | None = None,
        max_delay: float | None = None,
    ) -> EventStream:
        """Watch many read set activation jobs: one async iterator of all their events.

        Jobs of a sequence store with several watched jobs are polled together
        through ListReadSetActivationJobs, and fetched one by one only when
        they change; all requests share the waiter's budget. Every job ends
        with exactly one final event: its terminal `JobStatusChanged`, or a
        `JobWatchFailed` with its error (a timeout, a job not found, ...),
        which never stops the others. Iteration ends after the last one.

        Args:
            jobs: ``(sequence_store_id, job_id)`` pairs, without duplicates.
            timeout: Seconds the watch may last (default: the waiter's `timeout`).
            deadline: An aware `datetime` to stop at, instead of `timeout`.
            since: Jobs seen before: only changes after them are yielded (a job
                already terminal in `since` is not polled and yields nothing).
            source_progress: Also poll unfinished jobs for their read sets' progress,
                at the backoff's pace and below change detection in priority
                (costs requests; without it, read set events come when the job's
                status changes).
            final_only: Report each job only when it ends: it is fetched once,
                when List shows it terminal, and yields its read sets' events and
                its terminal event then. The cheapest way to act on each outcome
                as soon as it is known.
            min_delay: Overrides the waiter's `min_delay` for this watch.
            max_delay: Overrides the waiter's `max_delay` for this watch.

        Raises:
            InvalidInputError: An argument is invalid (at once, before any request).
        """
        if not isinstance(final_only, bool):
            raise InvalidInputError("final_only must be True or False", argument="final_only")
        if final_only and source_progress:
            raise InvalidInputError(
                "final_only and source_progress exclude each other", argument="final_only"
            )
        return self._many(
            jobs,
            timeout=timeout,
            deadline=deadline,
            since=since,
            source_progress=source_progress,
            min_delay=min_delay,
            max_delay=max_delay,
            final_only=final_only,
        )

    async def wait_for_activation_jobs(
        self,
        jobs: Iterable[tuple[str, str]],
        *,
        timeout: float | None = None,
        deadline: Any = None,
        accept_partial: bool = False,
        min_delay: float | None = None,
        max_delay: float | None = None,
    ) -> list[ActivationJob | OmicsWaiterError]:
        """Wait until every job is terminal; one job's failure never stops the others.

        Args:
            jobs: ``(sequence_store_id, job_id)`` pairs, without duplicates.
            timeout: Seconds the wait may last (default: the waiter's `timeout`).
            deadline: An aware `datetime` to stop at, instead of `timeout`.
            accept_partial: Count COMPLETED_WITH_FAILURES as success.
            min_delay: Overrides the waiter's `min_delay` for this wait.
            max_delay: Overrides the waiter's `max_delay` for this wait.

        Returns:
            In the order of `jobs`, each job's outcome: its final `ActivationJob`
            on success, else the error `wait_for_activation_job` would have raised
            (`JobFailedError`, `WaitTimeoutError`, `JobNotFoundError`, ...).

        Raises:
            InvalidInputError: An argument is invalid (at once, before any request).
        """
        if not isinstance(accept_partial, bool):
            raise InvalidInputError(
                "accept_partial must be True or False", argument="accept_partial"
            )
        watch = self._many(
            jobs,
            timeout=timeout,
            deadline=deadline,
            since=(),
            source_progress=False,
            min_delay=min_delay,
            max_delay=max_delay,
            # Only outcomes are wanted: a job is fetched once List shows it terminal.
            final_only=True,
        )
        failures: dict[tuple[str, str], OmicsWaiterError] = {}
        async for event in watch:
            if isinstance(event, JobWatchFailed):
                failures[(event.sequence_store_id, event.job_id)] = event.error
        last = watch.last_jobs
        outcomes: list[ActivationJob | OmicsWaiterError] = []
        for key in watch.keys:
            if key in failures:
                outcomes.append(failures[key])
                continue
            job = last[key]
            assert job is not None
            try:
                outcomes.append(verdict(job, accept_partial=accept_partial))
            except JobFailedError as exc:
                outcomes.append(exc)
        return outcomes

    def _override(self, min_delay: object, max_delay: object) -> Timing:
        timing = self._timing
        if min_delay is None and max_delay is None:
            return timing
        return _timing(
            timing.min_delay if min_delay is None else min_delay,
            timing.max_delay if max_delay is None else max_delay,
            timing.not_found_grace,
            # The override that breaks min_delay <= max_delay is the one to name.
            blame="min_delay" if min_delay is not None else "max_delay",
        )

    async def start_activation_job(
        self,
        sequence_store_id: str,
        read_set_ids: Sequence[str],
        *,
        client_token: str | None = None,
        on_retry: Callable[[PollRetrying], object] | None = None,
    ) -> ActivationJobSummary:
        """Start activating 1 to 20 archived read sets (StartReadSetActivationJob).

        Transient errors are retried (within the waiter's default timeout), as
        for polls; a `client_token` makes retries and reruns start no duplicate job.

        Args:
            sequence_store_id: The read sets' sequence store.
            read_set_ids: 1 to 20 read set IDs, without duplicates.
            client_token: An idempotency token of 1 to 127 characters.
            on_retry: Called with a `PollRetrying` (``job_id=None``) before each retry,
                so that a caller can show that, and why, the request is being retried.

        Returns:
            The new job (or, for a token used before, that job), as the service summarises it.

        Raises:
            InvalidInputError: An argument is invalid (before any request), or the service said so.
            AccessDeniedError, ServiceError, UnexpectedResponseError, WaitTimeoutError.
        """
        store = check_id("sequence_store_id", sequence_store_id)
        if isinstance(read_set_ids, str) or not isinstance(read_set_ids, Sequence):
            raise InvalidInputError(
                "read_set_ids must be a sequence of read set IDs", argument="read_set_ids"
            )
        ids = check_ids("read_set_ids", read_set_ids)
        if not 1 <= len(ids) <= 20:
            raise InvalidInputError(
                f"read_set_ids must hold 1 to 20 read sets, got {len(ids)}", argument="read_set_ids"
            )
        if len(set(ids)) != len(ids):
            raise InvalidInputError("read_set_ids holds duplicates", argument="read_set_ids")
        if client_token is not None and not (
            isinstance(client_token, str) and 1 <= len(client_token) <= 127
        ):
            raise InvalidInputError(
                "client_token must be a string of 1 to 127 characters", argument="client_token"
            )
        report = _check_on_retry(on_retry)
        return await self._retrying(
            functools.partial(
                self._api.start_activation_job, store, ids, client_token=client_token
            ),
            store,
            report,
        )

    async def list_activation_jobs(
        self,
        sequence_store_id: str,
        *,
        status: ActivationJobStatus | str | None = None,
        limit: int | None = None,
        on_retry: Callable[[PollRetrying], object] | None = None,
    ) -> list[ActivationJobSummary]:
        """The activation jobs of a sequence store, newest first (ListReadSetActivationJobs).

        Transient errors are retried (within the waiter's default timeout), as for polls.

        Args:
            sequence_store_id: The sequence store.
            status: Only jobs with this status.
            limit: At most this many jobs (default: all).
            on_retry: Called with a `PollRetrying` (``job_id=None``) before each retry,
                so that a caller can show that, and why, a request is being retried.

        Raises:
            InvalidInputError, AccessDeniedError, ServiceError, UnexpectedResponseError,
            WaitTimeoutError.
        """
        store = check_id("sequence_store_id", sequence_store_id)
        wanted: ActivationJobStatus | None = None
        if status is not None:
            try:
                wanted = ActivationJobStatus(status)
            except ValueError:
                wanted = None
            if wanted is None or not wanted.is_known:
                allowed = ", ".join(s.value for s in ActivationJobStatus)
                raise InvalidInputError(
                    f"status must be one of {allowed}, got {status!r}", argument="status"
                )
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise InvalidInputError("limit must be a whole number above zero", argument="limit")
        report = _check_on_retry(on_retry)
        jobs: list[ActivationJobSummary] = []
        token: str | None = None
        while limit is None or len(jobs) < limit:
            page_size = 100 if limit is None else min(100, limit - len(jobs))
            page, token = await self._retrying(
                functools.partial(
                    self._api.list_activation_jobs,
                    store,
                    status=wanted,
                    next_token=token,
                    max_results=page_size,
                ),
                store,
                report,
            )
            jobs.extend(page)
            if token is None:
                break
        return jobs if limit is None else jobs[:limit]

    async def _retrying(
        self,
        call: Callable[..., Awaitable[T]],
        sequence_store_id: str,
        on_retry: Callable[[PollRetrying], object] | None,
    ) -> T:
        """Run one request with the waiter's transient-error retries, within its timeout."""
        deadline = self._clock.now() + self._timeout
        backoff = RetryBackoff(self._timing.retry_initial, self._timing.retry_max)
        attempt = 0
        last: Transient | None = None
        while True:
            try:
                return await call(not_after=deadline)
            except (Transient, NotFound) as exc:
                if isinstance(exc, NotFound):
                    raise ServiceError(
                        f"{exc.operation}: the sequence store was not found",
                        code="ResourceNotFoundException",
                        service_message=exc.service_message,
                        operation=exc.operation,
                    ) from None
                last = exc
                attempt += 1
                delay = backoff.delay(attempt, deadline - self._clock.now())
                if delay is None:
                    raise _kept_failing(exc) from exc
                logger.info("%s retrying in %.2fs after %s", exc.operation, delay, exc.reason)
                if on_retry is not None:
                    on_retry(
                        PollRetrying(
                            sequence_store_id=sequence_store_id,
                            job_id=None,
                            operation=exc.operation,
                            reason=exc.reason,
                            attempt=attempt,
                            delay=delay,
                            throttling=exc.throttling,
                        )
                    )
                await self._clock.sleep(delay)
            except BudgetExhausted:
                # After failed attempts, the budget ran out because the retries used up the
                # time: the failures, not the budget, are what the caller needs to hear about.
                if last is not None:
                    raise _kept_failing(last) from last
                raise WaitTimeoutError(
                    "no request slot was free before the timeout", job_id="", job=None
                ) from None

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
