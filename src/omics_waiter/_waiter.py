"""`OmicsWaiter`: the public face of the engine.

It validates arguments (before any request), builds views on its one `Scheduler`, and
turns their outcomes into return values and errors. Polling itself is the scheduler's.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import math
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import anyio
import anyio.abc

from ._backoff import RetryBackoff
from ._budget import Budget, RequestBudget
from ._client import (
    BudgetExhausted,
    NotFound,
    OmicsApi,
    OmicsClient,
    Transient,
    check_client_options,
    check_session,
    open_omics_client,
    running_on_trio,
    trio_http_session,
    warn_slow_client,
    watch_client_retries,
)
from ._clock import AnyioClock, Clock
from ._errors import (
    InvalidInputError,
    JobFailedError,
    OmicsWaiterError,
    ServiceError,
    WaitTimeoutError,
)
from ._events import JobWatchFailed, PollRetrying, WatchEvent
from ._kinds import Kind, kind_of
from ._metrics import FOREIGN, USED, check_meter_provider, recorder
from ._models import ActivationJob, ActivationJobStatus, ActivationJobSummary
from ._policy import (
    DEFAULT_MAX_DELAY,
    DEFAULT_MAX_TPS,
    DEFAULT_MIN_DELAY,
    DEFAULT_NOT_FOUND_GRACE,
    DEFAULT_RECONCILE_DELAY,
    DEFAULT_RETRY_INITIAL,
    DEFAULT_RETRY_MAX,
    DEFAULT_TIMEOUT,
    Mode,
    Timing,
    verdict,
)
from ._push import EventSource
from ._refs import JobRef, ReadSetActivationJobRef
from ._scheduler import BURSTS, Scheduler, View
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
JobT = TypeVar("JobT")


def _close_quietly(view: View) -> None:
    """Close a view whose stream was dropped; at interpreter exit its loop may be gone,
    and with it everything there was to stop."""
    with contextlib.suppress(RuntimeError):
        view.close()


class EventStream:
    """What a watch returns: an async iterator of events that can be closed early.

    Leaving an ``async for`` early (or dropping the stream) stops its polling; so does
    `aclose`. Never cancels the jobs themselves.
    """

    def __init__(self, view: View, *, raise_errors: bool) -> None:
        self._view = view
        self._raise = raise_errors
        self._finalizer = weakref.finalize(self, _close_quietly, view)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> WatchEvent:
        event = await self._view.next()
        if event is None:
            self._finalizer()
            raise StopAsyncIteration
        if self._raise and isinstance(event, JobWatchFailed):
            self._finalizer()
            raise event.error
        return event  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """Stop watching; iteration ends. Never cancels the job itself."""
        self._finalizer()

    def last(self, ref: JobRef[JobT]) -> JobT | None:
        """The last observation of `ref` this stream reported (or its `since`)."""
        job: JobT | None = self._view.last(ref)
        return job

    @property
    def last_job(self) -> Any:
        """For a watch of one job: its last observation (or its `since`)."""
        ref = next(iter(self._view.subs))
        return self._view.last(ref)


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


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be True or False", argument=name)
    return value


def _check_kind(ref: JobRef[Any], argument: str) -> None:
    try:
        kind_of(ref)
    except InvalidInputError:
        raise InvalidInputError(
            f"{argument} holds a {type(ref).__name__}, which is no kind this release knows",
            argument=argument,
        ) from None


def _check_ref(ref: object, argument: str = "ref") -> JobRef[Any]:
    if not isinstance(ref, JobRef):
        raise InvalidInputError(
            f"{argument} must be a job reference such as RunRef(...), not {type(ref).__name__}",
            argument=argument,
        )
    return ref


def _kept_failing(exc: Transient) -> WaitTimeoutError:
    """The error for a request that failed transiently until the timeout, naming the cause."""
    cause = exc.__cause__
    detail = f"{exc.reason}: {' '.join(str(cause).split())}" if cause is not None else exc.reason
    return WaitTimeoutError(f"{exc.operation} kept failing ({detail}) until the timeout")


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
        budget: A request budget to use instead of a local one of `max_tps` (e.g. one
            shared by several processes); the caller owns it. Excludes `max_tps`.
        not_found_grace: Seconds a job may be not found before `JobNotFoundError` (default 30).
            A deadline that comes first ends the wait with a `WaitTimeoutError` saying the
            job had not been found so far.
        reconcile_delay: With push events (`connect(events_queue_url=...)`), seconds
            between polls that catch a dropped event (default 60).
        clock: The clock to read and sleep on (default: the event loop's).
        meter_provider: An OpenTelemetry ``MeterProvider`` to record metrics through
            (default: the global one, which an application may set at any time; see
            docs/observability.md). Needs ``omics-waiter[metrics]``; without it, nothing
            is recorded.

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
        max_tps: float | None = None,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        clock: Clock | None = None,
        budget: Budget | None = None,
        reconcile_delay: float = DEFAULT_RECONCILE_DELAY,
        meter_provider: object | None = None,
    ) -> None:
        self._timing = _timing(min_delay, max_delay, not_found_grace)
        self._timeout = check_seconds("timeout", timeout, allow_inf=True)
        self._clock: Clock = clock if clock is not None else AnyioClock()
        if budget is not None:
            if max_tps is not None:
                raise InvalidInputError(
                    "give max_tps to the budget, not to the waiter, when passing budget=",
                    argument="max_tps",
                )
            if not isinstance(budget, Budget):
                raise InvalidInputError(
                    f"budget must be a Budget (acquire, throttled, rate, mode), "
                    f"not {type(budget).__name__}",
                    argument="budget",
                )
            self._budget: Budget = budget
        else:
            rate = DEFAULT_MAX_TPS if max_tps is None else check_rate("max_tps", max_tps)
            self._budget = RequestBudget(rate, clock=self._clock, bursts=BURSTS)
        self._metrics = recorder(meter_provider, self._budget)
        self._api = OmicsApi(client, self._budget, self._metrics)
        watch_client_retries(client, self._budget)
        warn_slow_client(client)
        self._scheduler = Scheduler(self._api, self._budget, self._clock)
        self._scheduler.reconcile_delay = check_seconds("reconcile_delay", reconcile_delay)
        self._events: EventSource | None = None  # set by connect(events_queue_url=...)
        self._task_group: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> OmicsWaiter:
        """Run the scheduler in a task of the waiter's own until exit: no consumer then
        waits for another to hand over. Optional: a waiter also works without it."""
        if self._task_group is not None:
            raise RuntimeError("this waiter is already entered")
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        await task_group.start(self._scheduler.run_forever)
        if self._events is not None:
            self._metrics.push(self._scheduler.push)
            task_group.start_soon(self._receive_events, self._events)
        return self

    async def _receive_events(self, source: EventSource) -> None:
        """Feed push events to the scheduler as hints, for as long as the waiter is entered.

        Receiving failures and a queue quiet for twice `reconcile_delay` while jobs are
        watched hand the watch back to polling at its normal pace (a `PushModeChanged`
        event and a warning); the next message received hands it to push again.
        """
        scheduler = self._scheduler
        backoff = RetryBackoff(1.0, 30.0)
        attempt = 0
        quiet_after = 2 * scheduler.reconcile_delay
        last_message = self._clock.now()
        while True:
            if not scheduler.watching.is_set():
                await scheduler.watching.wait()
                last_message = self._clock.now()
            try:
                hints = await source.receive()
            except (Transient, OmicsWaiterError) as exc:
                reason = exc.reason if isinstance(exc, Transient) else str(exc)
                scheduler.set_push(False, f"receiving events failed: {reason}")
                attempt += 1
                await self._clock.sleep(backoff.delay(attempt, math.inf) or 1.0)
                continue
            attempt = 0
            now = self._clock.now()
            if hints:
                last_message = now
                scheduler.set_push(True, "events arrive")
            elif scheduler.push and now - last_message >= quiet_after:
                scheduler.set_push(False, f"no event for {now - last_message:.0f} s")
            for hint in hints:
                watched = scheduler.hint(hint.kind, hint.ids, hint.status)
                self._metrics.event(USED if watched else FOREIGN, hint.time)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task_group, self._task_group = self._task_group, None
        assert task_group is not None
        task_group.cancel_scope.cancel()
        # The body's own exception goes on as it is (not wrapped in an ExceptionGroup): the
        # task group only ever holds the scheduler, which ends by this cancellation.
        await task_group.__aexit__(None, None, None)

    @property
    def budget(self) -> Budget:
        """The request budget every wait on this waiter shares (read its `mode` and `rate`)."""
        return self._budget

    def __repr__(self) -> str:
        t = self._timing
        return (
            f"OmicsWaiter(min_delay={t.min_delay:g}, max_delay={t.max_delay:g}, "
            f"timeout={self._timeout:g}, budget={self._budget!r})"
        )

    @staticmethod
    @contextlib.asynccontextmanager
    async def open_client(
        *,
        session: object | None = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        profile_name: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        verify: bool | str | None = None,
        client_config: object | None = None,
    ) -> AsyncIterator[Any]:
        """An aiobotocore Omics client made as `connect` makes its own, closed on exit.

        For a waiter you build, ``OmicsWaiter(client, ...)``, or a client you also use for
        other calls: the client's own retries are off (the waiter retries, within its
        budget), timestamps are parsed fast (botocore's dateutil parser takes about half
        the waiter's CPU time with many jobs), host-prefix injection is off for any
        endpoint but AWS's own, and on trio it uses aiobotocore's httpx transport::

            async with OmicsWaiter.open_client(session=session, region_name="us-east-1") as client:
                waiter = OmicsWaiter(client)

        Args:
            session: An aiobotocore ``AioSession`` of yours (e.g. with assume-role or
                refreshable credentials) to make the client from; it is left as it was.
                Not with `profile_name`.
            region_name: The AWS Region (default: from the session, profile or environment).
            endpoint_url: Another endpoint than AWS's (default: one configured the standard
                way, e.g. ``AWS_ENDPOINT_URL_OMICS``).
            profile_name: A profile from the AWS config files.
            aws_access_key_id: Explicit credentials (default: the usual credential chain).
            aws_secret_access_key: See above.
            aws_session_token: See above.
            connect_timeout: Seconds to connect, per request.
            read_timeout: Seconds to wait for a response, per request.
            verify: False not to verify TLS certificates, or the path of a CA bundle
                (default: botocore's, e.g. ``AWS_CA_BUNDLE``).
            client_config: A botocore ``Config`` for the Omics client (proxies,
                ``user_agent_extra``, ...). Its timeouts, if it sets them, win over
                `connect_timeout` and `read_timeout`; the waiter's retries (off) and
                host-prefix injection win over its own.

        Raises:
            InvalidInputError: An argument is invalid, the profile does not exist, or no
                Region is configured.
            OmicsWaiterError: On trio, without the httpx transport (the ``trio`` extra).
        """
        check_seconds("connect_timeout", connect_timeout)
        check_seconds("read_timeout", read_timeout)
        if endpoint_url is not None:
            check_url("endpoint_url", endpoint_url)
        # (open_omics_client checks the session and the client options first thing.)
        async with open_omics_client(
            session=session,
            region_name=region_name,
            endpoint_url=endpoint_url,
            profile_name=profile_name,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            verify=verify,
            config=client_config,
        ) as client:
            yield client

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        profile_name: str | None = None,
        session: object | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        verify: bool | str | None = None,
        client_config: object | None = None,
        budget_url: str | None = None,
        events_queue_url: str | None = None,
        sqs_endpoint_url: str | None = None,
        meter_provider: object | None = None,
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
            session: An aiobotocore ``AioSession`` of the caller's (e.g. with assume-role
                or refreshable credentials) to make the Omics client (and the events
                queue's SQS client) from, instead of a new one; not with `profile_name`.
            aws_access_key_id: Explicit credentials (default: the usual credential chain,
                which refreshes temporary credentials during long waits).
            aws_secret_access_key: See above.
            aws_session_token: See above.
            connect_timeout: Seconds to connect, per request.
            read_timeout: Seconds to wait for a response, per request.
            verify: False not to verify TLS certificates, or the path of a CA bundle
                (default: botocore's, e.g. ``AWS_CA_BUNDLE``), for the Omics client and the
                events queue's SQS client.
            client_config: A botocore ``Config`` for both clients (proxies,
                ``user_agent_extra``, ...). Its timeouts, if it sets them, win over
                `connect_timeout` and `read_timeout` (not over the SQS long poll's read
                timeout); the waiter's retries (off) and host-prefix injection win over
                its own.
            budget_url: ``redis://HOST:PORT/DB``: share the request budget with every
                process given the same URL (a `RedisBudget` of `max_tps`, which this
                waiter owns: it reaches Redis before the first request and leaves on
                exit). Needs ``omics-waiter[redis]`` and asyncio.
            events_queue_url: An SQS queue that an EventBridge rule on ``source:
                aws.omics`` feeds (``omics-waiter events setup``): jobs are fetched as
                soon as an event says they changed, and polled only every
                `reconcile_delay` meanwhile (see docs/push.md). The queue is checked
                before the waiter is handed out. Asyncio only.
            sqs_endpoint_url: Another SQS endpoint than AWS's (default:
                ``AWS_ENDPOINT_URL_SQS``); the client is made for the queue URL's Region.
            meter_provider: An OpenTelemetry ``MeterProvider`` for the waiter's metrics
                (default: the global one); push events are counted too.
            **options: `OmicsWaiter` options (`reconcile_delay` among them).

        Raises:
            InvalidInputError: An option is invalid (`budget_url` malformed, ...).
            AccessDeniedError: Redis refused the credentials in `budget_url`, or the
                events queue may not be read.
            ServiceError: The events queue does not exist.
            InvalidInputError: An argument or option is invalid, the profile does not
                exist, or no Region is configured.
            OmicsWaiterError: On trio, without the httpx transport (the ``trio`` extra).
        """
        from ._push import SqsEventSource, queue_region
        from ._redis_budget import RedisBudget

        check_seconds("connect_timeout", connect_timeout)
        check_seconds("read_timeout", read_timeout)
        check_meter_provider(meter_provider)
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
        check_session(session, profile_name)
        check_client_options(verify, client_config)
        if running_on_trio():
            trio_http_session()  # fails now, naming the extra, if the transport is missing
        shared: RedisBudget | None = None
        if budget_url is not None:
            if options.get("budget") is not None:
                raise InvalidInputError(
                    "give budget_url or budget, not both", argument="budget_url"
                )
            max_tps = options.pop("max_tps", None)
            shared = RedisBudget(
                budget_url,
                max_tps=DEFAULT_MAX_TPS if max_tps is None else max_tps,
                clock=options.get("clock"),
            )
            options["budget"] = shared
        source: SqsEventSource | None = None
        if events_queue_url is not None:
            source = SqsEventSource(
                events_queue_url,
                # The queue's Region, from an AWS queue URL; else the waiter's.
                region_name=queue_region(events_queue_url) or region_name,
                session=session,
                profile_name=profile_name,
                endpoint_url=sqs_endpoint_url,
                verify=verify,
                client_config=client_config,
                aws_access_key_id=aws_access_key_id,
                aws_secret_access_key=aws_secret_access_key,
                aws_session_token=aws_session_token,
            )
        async with contextlib.AsyncExitStack() as stack:
            if shared is not None:
                # Refused credentials fail here, before any Omics request; closed last.
                await stack.enter_async_context(shared)
            if source is not None:
                await stack.enter_async_context(source)
                try:
                    # A queue that does not exist or may not be read fails here, at once.
                    await source.check()
                except Transient as exc:
                    logger.warning("events queue not reachable yet (%s): polling", exc.reason)
            client = await stack.enter_async_context(
                cls.open_client(
                    session=session,
                    region_name=region_name,
                    endpoint_url=endpoint_url,
                    profile_name=profile_name,
                    aws_access_key_id=aws_access_key_id,
                    aws_secret_access_key=aws_secret_access_key,
                    aws_session_token=aws_session_token,
                    connect_timeout=connect_timeout,
                    read_timeout=read_timeout,
                    verify=verify,
                    client_config=client_config,
                )
            )
            waiter = cls(client, meter_provider=meter_provider, **options)
            waiter._events = source
            if source is not None:
                source.metrics = waiter._metrics
            async with waiter:
                try:
                    yield waiter
                finally:
                    # A call after the client is closed fails at once, and says why.
                    waiter._api.closed = True

    # -- the generic API --------------------------------------------------------------------

    def _view(
        self,
        refs: Sequence[JobRef[Any]],
        *,
        timeout: object,
        deadline: object,
        min_delay: object,
        max_delay: object,
        mode: Mode,
        items: bool,
        events: bool,
        until: str | None = None,
        since: dict[JobRef[Any], Any] | None = None,
    ) -> View:
        seconds = check_timeout_and_deadline(timeout, deadline, self._timeout)
        timing = self._override(min_delay, max_delay)
        view = View(
            self._scheduler,
            deadline=self._clock.now() + seconds,
            timing=timing,
            mode=mode,
            items=items,
            events=events,
            until=until,
        )
        self._scheduler.add(view, refs, since or {})
        return view

    def _check_until(self, kind: Kind[Any], until: object) -> str | None:
        if until is None:
            return None
        value = str(until) if isinstance(until, str) else None
        if value is None or value not in kind.progression or kind.is_terminal(value):
            allowed = ", ".join(s for s in kind.progression if not kind.is_terminal(s))
            raise InvalidInputError(
                f"until must be a status a {kind.noun} passes on its way ({allowed}), "
                f"got {until!r}",
                argument="until",
            )
        return value

    async def wait(
        self,
        ref: JobRef[JobT],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the wait's own deadline
        deadline: Any = None,
        accept_partial: bool = False,
        until: str | None = None,
        min_delay: float | None = None,
        max_delay: float | None = None,
    ) -> JobT:
        """Wait until a job is finished (or reaches `until`), and return it.

        Concurrent waits on one waiter are batched: jobs that share a List (a sequence
        store's jobs, the account's runs) are swept together, and two waits on one job
        cost one request.

        Args:
            ref: The job: `ReadSetActivationJobRef`, `RunRef`, `TaskRef` ...
            timeout: Seconds the wait may last (default: the waiter's `timeout`).
            deadline: An aware `datetime` to stop at, instead of `timeout`.
            accept_partial: Return, rather than raise, a job that ended
                COMPLETED_WITH_FAILURES.
            until: Return once the job is seen at this status (e.g. ``"RUNNING"`` for a
                run), or at one it can reach only through it (COMPLETED), instead of
                waiting for the end. A status that does not show it (STOPPING, which a
                run cancelled before it ran reaches too) keeps the wait going; one that
                ends in failure raises `JobFailedError` ("ended CANCELLED without
                reaching RUNNING").
            min_delay: Overrides the waiter's `min_delay` for this wait.
            max_delay: Overrides the waiter's `max_delay` for this wait.

        Returns:
            The job (its model: `ActivationJob`, `Run`, `Task` ...).

        Raises:
            JobFailedError: The job ended without success (FAILED, CANCELLED ...).
            JobPartiallyFailedError: It ended COMPLETED_WITH_FAILURES.
            WaitTimeoutError: The deadline passed; `.job` is the last job seen (None if
                it had not been found so far: the deadline came before the grace ended).
            JobNotFoundError: The job stayed not found for the grace period.
            AccessDeniedError: Access, credentials or signature were refused.
            InvalidInputError: An argument is invalid (before any request), or the service said so.
            UnexpectedResponseError: The service answered in a way this release cannot read.
        """
        ref = _check_ref(ref)
        kind = kind_of(ref)
        accept = _check_bool("accept_partial", accept_partial)
        wanted = self._check_until(kind, until)
        view = self._view(
            [ref],
            timeout=timeout,
            deadline=deadline,
            min_delay=min_delay,
            max_delay=max_delay,
            mode=Mode.FINAL if wanted is None else Mode.CHANGES,
            items=False,
            events=False,
            until=wanted,
        )
        try:
            await view.run()
        finally:
            view.close()
        error = view.failures.get(ref)
        if error is not None:
            raise error
        job = view.last(ref)
        assert job is not None
        result: JobT = verdict(kind, job, accept_partial=accept, until=wanted)
        return result

    def watch(
        self,
        ref: JobRef[Any],
        *,
        timeout: float | None = None,
        deadline: Any = None,
        since: Any = None,
        items: bool = False,
        until: str | None = None,
        min_delay: float | None = None,
        max_delay: float | None = None,
    ) -> EventStream:
        """Watch one job: an async iterator of its status changes.

        The first observation yields a `JobStatusChanged` with ``previous=None`` and an
        `ItemStatusChanged` per item (read set, source, task); each later change yields
        exactly one event; transient errors yield `PollRetrying`. The job's terminal
        `JobStatusChanged` is the last event; iteration then ends without raising,
        whatever the job's outcome. The job is polled on its own, at the backoff's pace,
        so its items' progress is seen between its own status changes.

        Args:
            ref: The job.
            timeout: Seconds the watch may last (default: the waiter's `timeout`).
            deadline: An aware `datetime` to stop at, instead of `timeout`.
            since: The job as seen before (e.g. by a previous process): only changes
                after it are yielded.
            items: For a run: also fetch its tasks (ListRunTasks) and report them.
            until: End once the job is seen at this status, or at one it can reach only
                through it (as `wait`'s `until`): its last event is then that status's;
                a job that ends without it ends with its terminal event.
            min_delay: Overrides the waiter's `min_delay` for this watch.
            max_delay: Overrides the waiter's `max_delay` for this watch.

        Raises:
            InvalidInputError: An argument is invalid (at once, before any request).

        While iterating, raises `WaitTimeoutError`, `JobNotFoundError`,
        `AccessDeniedError`, `InvalidInputError`, `UnexpectedResponseError`
        or `ServiceError`.
        """
        ref = _check_ref(ref)
        _check_bool("items", items)
        wanted = self._check_until(kind_of(ref), until)
        seen = self._since([ref], [] if since is None else [since], single=True)
        view = self._view(
            [ref],
            timeout=timeout,
            deadline=deadline,
            min_delay=min_delay,
            max_delay=max_delay,
            mode=Mode.PROGRESS,
            items=items,
            events=True,
            until=wanted,
            since=seen,
        )
        return EventStream(view, raise_errors=True)

    def _refs(self, refs: object, argument: str = "refs") -> list[JobRef[Any]]:
        if isinstance(refs, str | bytes | JobRef) or not isinstance(refs, Iterable):
            raise InvalidInputError(
                f"{argument} must be an iterable of job references", argument=argument
            )
        checked = [_check_ref(r, argument) for r in refs]
        for ref in checked:
            _check_kind(ref, argument)
        if len(set(checked)) != len(checked):
            twice = next(r for r, n in collections.Counter(checked).items() if n > 1)
            raise InvalidInputError(
                f"{kind_of(twice).noun} {twice} is listed twice", argument=argument
            )
        return checked

    def _since(
        self, refs: Sequence[JobRef[Any]], since: object, *, single: bool = False
    ) -> dict[JobRef[Any], Any]:
        if since is None:
            return {}
        if not isinstance(since, Iterable) or isinstance(since, str | bytes):
            raise InvalidInputError("since must be an iterable of jobs", argument="since")
        wanted = set(refs)
        seen: dict[JobRef[Any], Any] = {}
        for job in since:
            ref = getattr(job, "ref", None)
            if not isinstance(ref, JobRef) or not isinstance(job, kind_of(ref).model):
                raise InvalidInputError(
                    f"since must hold jobs as a watch reported them, not {type(job).__name__}",
                    argument="since",
                )
            if ref not in wanted:
                what = "not the job watched" if single else "not among the jobs watched"
                raise InvalidInputError(
                    f"since is {kind_of(ref).noun} {ref}, {what}", argument="since"
                )
            seen[ref] = job
        return seen

    def watch_many(
        self,
        refs: Iterable[JobRef[Any]],
        *,
        timeout: float | None = None,
        deadline: Any = None,
        since: Iterable[Any] | None = None,
        items: bool = False,
        final_only: bool = False,
        until: str | None = None,
        min_delay: float | None = None,
        max_delay: float | None = None,
    ) -> EventStream:
        """Watch many jobs, of any kinds: one async iterator of all their events.

        Jobs that share a List (a sequence store's jobs, the account's runs, a run's
        tasks) are swept with it once several are watched, and fetched one by one only
        when they change; all requests share the waiter's budget. Every job ends with
        exactly one final event: its terminal `JobStatusChanged`, or a `JobWatchFailed`
        with its error (a timeout, a job not found, ...), which never stops the others.
        Iteration ends after the last one.

        Args:
            refs: The jobs, without duplicates.
            timeout: Seconds the watch may last (default: the waiter's `timeout`).
            deadline: An aware `datetime` to stop at, instead of `timeout`.
            since: Jobs seen before: only changes after them are yielded (a job already
                finished in `since` is not polled and yields nothing).
            items: Also poll unfinished jobs for their items' progress (and fetch runs'
                tasks), at the backoff's pace; costs requests.
            final_only: Report each job only when it ends: it is fetched once, when a
                List shows it finished. The cheapest way to act on each outcome.
            until: End each job once it is seen at this status, or at one it can reach
                only through it (as `wait`'s `until`; a status every job's kind passes).
                With `final_only`, jobs are followed change by change, as `wait` does.
            min_delay: Overrides the waiter's `min_delay` for this watch.
            max_delay: Overrides the waiter's `max_delay` for this watch.

        Raises:
            InvalidInputError: An argument is invalid (at once, before any request).
        """
        checked = self._refs(refs)
        _check_bool("items", items)
        _check_bool("final_only", final_only)
        if final_only and items:
            raise InvalidInputError(
                "final_only and items exclude each other", argument="final_only"
            )
        wanted = None
        for kind in dict.fromkeys(kind_of(ref) for ref in checked):
            wanted = self._check_until(kind, until)
        seen = self._since(checked, since)
        mode = Mode.FINAL if final_only else Mode.PROGRESS if items else Mode.CHANGES
        if wanted is not None and mode is Mode.FINAL:
            mode = Mode.CHANGES  # a status on the way is seen only by following changes
        view = self._view(
            checked,
            timeout=timeout,
            deadline=deadline,
            min_delay=min_delay,
            max_delay=max_delay,
            mode=mode,
            items=items,
            events=True,
            until=wanted,
            since=seen,
        )
        return EventStream(view, raise_errors=False)

    async def wait_many(
        self,
        refs: Iterable[JobRef[Any]],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the wait's own deadline
        deadline: Any = None,
        accept_partial: bool = False,
        min_delay: float | None = None,
        max_delay: float | None = None,
    ) -> list[Any]:
        """Wait until every job is finished; one job's failure never stops the others.

        Args:
            refs: The jobs, of any kinds, without duplicates.
            timeout: Seconds the wait may last (default: the waiter's `timeout`).
            deadline: An aware `datetime` to stop at, instead of `timeout`.
            accept_partial: Count COMPLETED_WITH_FAILURES as success.
            min_delay: Overrides the waiter's `min_delay` for this wait.
            max_delay: Overrides the waiter's `max_delay` for this wait.

        Returns:
            In the order of `refs`, each job's outcome: the job on success, else the
            error `wait` would have raised (`JobFailedError`, `WaitTimeoutError` ...),
            like ``asyncio.gather(..., return_exceptions=True)``.

        Raises:
            InvalidInputError: An argument is invalid (at once, before any request).
        """
        checked = self._refs(refs)
        accept = _check_bool("accept_partial", accept_partial)
        view = self._view(
            checked,
            timeout=timeout,
            deadline=deadline,
            min_delay=min_delay,
            max_delay=max_delay,
            mode=Mode.FINAL,
            items=False,
            events=False,
        )
        try:
            await view.run()
        finally:
            view.close()
        outcomes: list[Any] = []
        for ref in checked:
            error = view.failures.get(ref)
            if error is not None:
                outcomes.append(error)
                continue
            try:
                outcomes.append(verdict(kind_of(ref), view.last(ref), accept_partial=accept))
            except JobFailedError as exc:
                outcomes.append(exc)
        return outcomes

    # -- read set activation jobs (0.1): shortcuts over the generic API ------------------------

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
        """`watch` of ``ReadSetActivationJobRef(sequence_store_id, job_id)``."""
        ref = ReadSetActivationJobRef(sequence_store_id, job_id)
        if since is not None and not isinstance(since, ActivationJob):
            raise InvalidInputError(
                f"since must be an ActivationJob, not {type(since).__name__}", argument="since"
            )
        return self.watch(
            ref,
            timeout=timeout,
            deadline=deadline,
            since=since,
            min_delay=min_delay,
            max_delay=max_delay,
        )

    @staticmethod
    def _pairs(jobs: object) -> list[JobRef[Any]]:
        if isinstance(jobs, str | bytes) or not isinstance(jobs, Iterable):
            raise InvalidInputError(
                "jobs must be an iterable of (sequence_store_id, job_id) pairs", argument="jobs"
            )
        refs: list[ReadSetActivationJobRef] = []
        for pair in jobs:
            if not (isinstance(pair, tuple | list) and len(pair) == 2):
                raise InvalidInputError(
                    f"jobs must hold (sequence_store_id, job_id) pairs, got {pair!r}",
                    argument="jobs",
                )
            refs.append(ReadSetActivationJobRef(pair[0], pair[1]))
        if len(set(refs)) != len(refs):
            twice = next(r for r, n in collections.Counter(refs).items() if n > 1)
            raise InvalidInputError(
                f"job {twice.job_id} of sequence store {twice.sequence_store_id} is listed twice",
                argument="jobs",
            )
        return list(refs)

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
        """`watch_many` of read set activation jobs given as ``(store, job)`` pairs;
        `source_progress` is `watch_many`'s `items`."""
        refs = self._pairs(jobs)
        _check_bool("source_progress", source_progress)
        _check_bool("final_only", final_only)
        if final_only and source_progress:
            raise InvalidInputError(
                "final_only and source_progress exclude each other", argument="final_only"
            )
        if since is not None and (
            isinstance(since, ActivationJob) or not isinstance(since, Iterable)
        ):
            raise InvalidInputError("since must be an iterable of ActivationJob", argument="since")
        return self.watch_many(
            refs,
            timeout=timeout,
            deadline=deadline,
            since=since,
            items=source_progress,
            final_only=final_only,
            min_delay=min_delay,
            max_delay=max_delay,
        )

    async def wait_for_activation_jobs(
        self,
        jobs: Iterable[tuple[str, str]],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the wait's own deadline
        deadline: Any = None,
        accept_partial: bool = False,
        min_delay: float | None = None,
        max_delay: float | None = None,
    ) -> list[ActivationJob | OmicsWaiterError]:
        """`wait_many` of read set activation jobs given as ``(store, job)`` pairs."""
        refs = self._pairs(jobs)
        return await self.wait_many(
            refs,
            timeout=timeout,
            deadline=deadline,
            accept_partial=accept_partial,
            min_delay=min_delay,
            max_delay=max_delay,
        )

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
            (store,),
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
                (store,),
                report,
            )
            jobs.extend(page)
            if token is None:
                break
        return jobs if limit is None else jobs[:limit]

    async def _retrying(
        self,
        call: Callable[..., Awaitable[T]],
        batch: tuple[str, ...],
        on_retry: Callable[[PollRetrying], object] | None,
        *,
        kind: str = "activation",
        scope: str = "sequence store",
        deadline: float | None = None,
    ) -> T:
        """Run one request with the waiter's transient-error retries, within its timeout.

        `batch` is the request's scope (a store, a run, or none: what its `PollRetrying`
        events name), `scope` what to call it when it is not found, `kind`
        the CLI's word for the jobs, and `deadline` a clock time shared by several requests
        (default: the waiter's timeout from now).
        """
        if deadline is None:
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
                        f"{exc.operation}: the {scope} was not found",
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
                            ref=None,
                            batch=batch,
                            kind=kind,
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
                raise WaitTimeoutError("no request slot was free before the timeout") from None

    async def wait_for_activation_job(
        self,
        sequence_store_id: str,
        job_id: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the wait's own deadline
        deadline: Any = None,
        accept_partial: bool = False,
        min_delay: float | None = None,
        max_delay: float | None = None,
    ) -> ActivationJob:
        """`wait` for ``ReadSetActivationJobRef(sequence_store_id, job_id)``."""
        return await self.wait(
            ReadSetActivationJobRef(sequence_store_id, job_id),
            timeout=timeout,
            deadline=deadline,
            accept_partial=accept_partial,
            min_delay=min_delay,
            max_delay=max_delay,
        )
