"""The client adapter: calls the Omics API through the request budget, parses the
responses into values and translates every failure, in this one place, into
either a transient fault (to retry) or a typed `OmicsWaiterError` (to raise).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import inspect
import logging
import os
import re
import sys
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar, cast

import botocore.config
import botocore.exceptions
import botocore.parsers
import botocore.utils

from ._budget import Budget
from ._errors import (
    AccessDeniedError,
    InvalidInputError,
    OmicsWaiterError,
    ServiceError,
    UnexpectedResponseError,
)
from ._kinds import ACTIVATION_JOB, Kind, Listing, Operation, Summary
from ._metrics import ERROR, NO_METRICS, NOT_FOUND, OK, THROTTLED, TRANSIENT, Recorder
from ._models import ActivationJobStatus, ActivationJobSummary, parse_summary
from ._refs import JobRef
from ._validation import check_url

__all__ = ["NotFound", "OmicsApi", "OmicsClient", "Transient"]

logger = logging.getLogger("omics_waiter")

START_ACTIVATION_JOB = Operation("StartReadSetActivationJob", "start_read_set_activation_job")
JobT = TypeVar("JobT")


class OmicsClient(Protocol):
    """The part of an aiobotocore Omics client omics-waiter uses.

    Any ``session.create_client("omics")`` from aiobotocore fits; so does a fake.
    """

    async def get_read_set_activation_job(self, *, id: str, sequenceStoreId: str) -> Any: ...

    async def list_read_set_activation_jobs(
        self,
        *,
        sequenceStoreId: str,
        maxResults: int = ...,
        nextToken: str = ...,
        filter: Any = ...,
    ) -> Any: ...

    async def start_read_set_activation_job(
        self, *, sequenceStoreId: str, sources: Any, clientToken: str = ...
    ) -> Any: ...


class Transient(Exception):
    """A fault worth retrying: throttling, 5xx, timeouts, dropped connections."""

    def __init__(self, reason: str, operation: str, *, throttling: bool = False) -> None:
        super().__init__(f"{operation}: {reason}")
        self.reason = reason
        self.operation = operation
        self.throttling = throttling


class NotFound(Exception):
    """ResourceNotFoundException: retried for the grace period, then JobNotFoundError."""

    def __init__(self, operation: str, service_message: str | None) -> None:
        super().__init__(f"{operation}: ResourceNotFoundException")
        self.operation = operation
        self.service_message = service_message


class BudgetExhausted(Exception):
    """No request slot was free before the caller's deadline."""


_THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
        "BandwidthLimitExceeded",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
    }
)
_TRANSIENT_CODES = frozenset(
    {
        "RequestTimeoutException",
        "RequestTimeout",
        "InternalServerException",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
_ACCESS_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "InvalidClientTokenId",
        "MissingAuthenticationTokenException",
        "MissingAuthenticationToken",
        "ExpiredTokenException",
        "ExpiredToken",
        "RequestExpired",
        "UnauthorizedOperation",
    }
)


def _is_network_error(error: object) -> bool:
    """Whether an error under an HTTPClientError comes from the network, not the client.

    aiohttp's errors and OS errors, and, for aiobotocore's httpx transport, httpx's
    transport errors (each HTTP library is looked up only if a transport loaded it).
    """
    if isinstance(error, OSError | TimeoutError):
        return True
    return isinstance(error, _loaded_errors(("aiohttp", "ClientError"), *_HTTPX_ERRORS))


_HTTPX_ERRORS = (("httpx2", "TransportError"), ("httpx", "TransportError"))


def _loaded_errors(*names: tuple[str, str]) -> tuple[type[BaseException], ...]:
    """The exception classes `names` (module, class) of the modules already imported.

    An HTTP library that was never imported raised nothing: so importing this module (and
    ``omics_waiter``) never imports aiohttp, which aiobotocore imports when a client is made.
    """
    found = []
    for module_name, class_name in names:
        value = getattr(sys.modules.get(module_name), class_name, None)
        if isinstance(value, type) and issubclass(value, BaseException):
            found.append(value)
    return tuple(found)


def running_on_trio() -> bool:
    """Whether the running event loop is trio's (trio imports sniffio, which tells)."""
    sniffio = sys.modules.get("sniffio")
    if sniffio is None:
        return False
    try:
        return bool(sniffio.current_async_library() == "trio")
    except sniffio.AsyncLibraryNotFoundError:
        return False


def classify(exc: Exception, operation: str) -> Exception:
    """Translate an exception from the client into what the engine acts on.

    Returns a `Transient`, a `NotFound`, or an `OmicsWaiterError` to raise;
    anything unrecognised is returned as it is (a bug to surface, not to hide).
    """
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "")
        message = error.get("Message")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _THROTTLING_CODES or status == 429:
            return Transient(code or "HTTP 429", operation, throttling=True)
        if code in _TRANSIENT_CODES or status == 408 or (isinstance(status, int) and status >= 500):
            return Transient(code or f"HTTP {status}", operation)
        if code == "ResourceNotFoundException":
            return NotFound(operation, message)
        if code in _ACCESS_CODES or status == 403:
            return AccessDeniedError(
                f"{operation} was refused: {code}: {message}",
                code=code,
                service_message=message,
                operation=operation,
            )
        if code == "ValidationException" or status == 400:
            return InvalidInputError(
                f"{operation} was refused as invalid: {code}: {message}",
                code=code,
                service_message=message,
            )
        return ServiceError(
            f"{operation} failed: {code or f'HTTP {status}'}: {message}",
            code=code or None,
            service_message=message,
            operation=operation,
        )
    if isinstance(exc, botocore.exceptions.ReadTimeoutError):
        return Transient("ReadTimeout", operation)
    if isinstance(exc, botocore.exceptions.ConnectTimeoutError):
        return Transient("ConnectTimeout", operation)
    if isinstance(exc, botocore.exceptions.HTTPClientError) and not isinstance(
        exc, botocore.exceptions.ConnectionClosedError
    ):
        # Also raised for failures inside the HTTP client itself, such as a call on a
        # closed client: only a network error underneath is worth retrying.
        cause = exc.kwargs.get("error")
        if not _is_network_error(cause):
            hint = ""
            if isinstance(cause, RuntimeError) and running_on_trio():
                hint = (
                    " (aiobotocore's default transport, aiohttp, runs only on asyncio: on trio, "
                    "use OmicsWaiter.connect(), or create the client with "
                    "AioConfig(http_session_cls=aiobotocore.httpxsession.HttpxSession))"
                )
            return OmicsWaiterError(f"{operation}: the HTTP client failed: {exc}{hint}")
    if isinstance(
        exc,
        (
            botocore.exceptions.ConnectionError,
            botocore.exceptions.HTTPClientError,
            ConnectionError,
            *_loaded_errors(("aiohttp", "ClientError")),
        ),
    ):
        return Transient("ConnectionError", operation)
    if isinstance(exc, botocore.exceptions.CredentialRetrievalError):
        # Refreshing credentials (IMDS, SSO, a credential process) can fail for a moment.
        return Transient("CredentialRetrievalError", operation)
    if isinstance(
        exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError
    ):
        return AccessDeniedError(
            f"{operation} could not be signed: no usable AWS credentials were found",
            code="NoCredentials",
            operation=operation,
        )
    if isinstance(exc, botocore.exceptions.ParamValidationError):
        return InvalidInputError(f"{operation} was refused by the client: {exc}")
    if isinstance(exc, botocore.parsers.ResponseParserError):
        return UnexpectedResponseError(f"{operation} returned a response that cannot be parsed")
    return exc


def request_outcome(translated: Exception) -> str:
    """A failed request's outcome for the metrics, from what `classify` made of it."""
    if isinstance(translated, Transient):
        return THROTTLED if translated.throttling else TRANSIENT
    return NOT_FOUND if isinstance(translated, NotFound) else ERROR


@contextlib.contextmanager
def setup_errors(profile_name: str | None, region_name: str | None) -> Iterator[None]:
    """Translate botocore's errors in making a client (any service) into `InvalidInputError`
    naming the argument: the one place that knows them."""
    try:
        yield
    except botocore.exceptions.ProfileNotFound:
        raise InvalidInputError(
            f"profile_name: no AWS profile named {profile_name!r}", argument="profile_name"
        ) from None
    except botocore.exceptions.NoRegionError:
        raise InvalidInputError(
            "no AWS Region: give region_name, or set AWS_DEFAULT_REGION or a profile's region",
            argument="region_name",
        ) from None
    except botocore.exceptions.InvalidRegionError:
        raise InvalidInputError(
            f"region_name must be an AWS Region such as 'us-east-1', got {region_name!r}",
            argument="region_name",
        ) from None


def watch_client_retries(client: object, budget: Budget) -> bool:
    """Feed the throttles that a client retries on its own into `budget`; warn once.

    A client made with the SDK's default retries answers a throttled request by retrying
    it before the waiter sees anything: the budget would never learn that the service is
    throttling. botocore tells every retry decision on ``needs-retry.omics``; a handler
    there cuts the budget's rate for each throttled response. Returns whether the client
    retries on its own.
    """
    meta = getattr(client, "meta", None)
    events = getattr(meta, "events", None)
    config = getattr(meta, "config", None)
    if events is None or config is None:
        return False  # not a botocore client (a fake): nothing to watch
    retries = getattr(config, "retries", None) or {}
    total = retries.get("total_max_attempts")
    legacy = retries.get("max_attempts")
    attempts = total if total is not None else None if legacy is None else legacy + 1
    if attempts == 1:
        return False

    def throttled(response: Any = None, operation: Any = None, **_: Any) -> None:
        if response is None or operation is None:
            return
        http, parsed = response
        code = str((parsed or {}).get("Error", {}).get("Code") or "")
        if code in _THROTTLING_CODES or getattr(http, "status_code", None) == 429:
            budget.throttled(operation.name)

    events.register(
        "needs-retry.omics", throttled, unique_id=f"omics-waiter-throttles-{id(budget)}"
    )
    logger.warning(
        "the Omics client retries on its own (retries=%r): its retries are outside the "
        "waiter's budget and are not reported (throttles still cut the budget's rate); give "
        "it AioConfig(retries={'total_max_attempts': 1}) or use OmicsWaiter.connect()",
        retries,
    )
    return True


def parses_timestamps_slowly(client: object) -> bool:
    """Whether a botocore client parses timestamps with botocore's default, dateutil.

    At scale that is about half the waiter's CPU time (a List page of 100 jobs holds 200
    timestamps). botocore offers no public way to ask a client which parser it uses: this
    reads its endpoint's parser factory, and says False for anything else (a fake client).
    """
    endpoint = getattr(client, "_endpoint", None)
    factory = getattr(endpoint, "_response_parser_factory", None)
    defaults = getattr(factory, "_defaults", None)
    if not isinstance(defaults, dict):
        return False
    return defaults.get("timestamp_parser") in (None, botocore.utils.parse_timestamp)


_warned_slow: weakref.WeakSet[Any] = weakref.WeakSet()


def warn_slow_client(client: object) -> bool:
    """Warn, once per client, that a caller's client parses timestamps slowly."""
    if not parses_timestamps_slowly(client):
        return False
    try:
        if client in _warned_slow:
            return True
        _warned_slow.add(client)
    except TypeError:
        pass  # not weakly referenceable: warn each time
    logger.warning(
        "the Omics client parses timestamps with dateutil (botocore's default), which takes "
        "about half the waiter's CPU time with many jobs: make it with "
        "OmicsWaiter.open_client(session=...) or use OmicsWaiter.connect()"
    )
    return True


def check_session(session: object | None, profile_name: str | None) -> None:
    """Refuse a `session` that is not an aiobotocore ``AioSession``, or given with a profile."""
    if session is None:
        return
    import aiobotocore.session

    if not isinstance(session, aiobotocore.session.AioSession):
        raise InvalidInputError(
            f"session must be an aiobotocore AioSession, got {type(session).__name__}",
            argument="session",
        )
    if profile_name is not None:
        raise InvalidInputError("give session or profile_name, not both", argument="session")


def check_client_options(verify: object, client_config: object) -> None:
    """Refuse a `verify` that is not a bool or an existing CA bundle path, and a
    `client_config` that is not a botocore ``Config``: before any request, where botocore
    would fail only at the first one (a missing CA bundle as a connection error)."""
    if isinstance(verify, str):
        if not verify or not os.path.exists(verify):
            raise InvalidInputError(
                f"verify: no CA bundle at {verify!r}: give an existing file, True or False",
                argument="verify",
            )
    elif verify is not None and not isinstance(verify, bool):
        raise InvalidInputError(
            f"verify must be True, False or a CA bundle path, got {verify!r}", argument="verify"
        )
    if client_config is not None and not isinstance(client_config, botocore.config.Config):
        raise InvalidInputError(
            "client_config must be a botocore Config (or an aiobotocore AioConfig), "
            f"got {type(client_config).__name__}",
            argument="client_config",
        )


def layered_config(defaults: dict[str, Any], config: object | None, ours: dict[str, Any]) -> Any:
    """The client config: `defaults`, then every option a caller's `config` sets, then
    `ours` and retries off (the caller retries, within its budget), which always win.

    ``Config.merge``: the options the other config sets win; a plain botocore ``Config``
    merges as well (merge reads only the options it sets).
    """
    from aiobotocore.config import AioConfig

    merged = AioConfig(**defaults)
    if config is not None:
        merged = merged.merge(cast(AioConfig, config))
    retries_off: dict[str, Any] = {"retries": {"mode": "standard", "total_max_attempts": 1}}
    return merged.merge(AioConfig(**retries_off, **ours))


def parse_timestamp(value: str) -> dt.datetime:
    """botocore's timestamp parser, made fast for the ISO-8601 strings HealthOmics sends.

    botocore parses every timestamp with dateutil, which is most of the CPU time of reading
    a List page of 100 jobs; `datetime.fromisoformat` does the same work about 50 times
    faster. Anything it cannot read goes to botocore's own parser.
    """
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, TypeError, ValueError):
        return botocore.utils.parse_timestamp(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.timezone.utc)


class OmicsApi:
    """Calls Omics operations: budget, error translation and parsing, for every kind.

    This is the only code that calls the client. A request normally acquires its slot
    from the budget first; the scheduler, which acquires before it chooses what to
    spend a slot on, passes ``acquire=False``.
    """

    def __init__(self, client: OmicsClient, budget: Budget, metrics: Recorder = NO_METRICS) -> None:
        self.client = client
        self.budget = budget
        self.metrics = metrics
        #: Set when `OmicsWaiter.connect()` has closed the client.
        self.closed = False

    async def call(
        self,
        operation: Operation,
        params: Mapping[str, Any],
        *,
        not_after: float = float("inf"),
        acquire: bool = True,
    ) -> Mapping[str, Any]:
        """One request; returns the response body.

        Raises:
            Transient, NotFound, BudgetExhausted, OmicsWaiterError.
        """
        if self.closed:
            raise OmicsWaiterError(
                f"{operation.name}: the waiter's client is closed: OmicsWaiter.connect() has exited"
            )
        if acquire and not await self.budget.acquire(operation.name, not_after):
            raise BudgetExhausted(operation.name)
        try:
            method = getattr(self.client, operation.method)
        except AttributeError:
            raise OmicsWaiterError(
                f"the client has no {operation.method}(): is it an Omics client?"
            ) from None
        started = time.perf_counter()
        try:
            raw = await method(**params)
        except Exception as exc:
            translated = classify(exc, operation.name)
            if isinstance(translated, Transient) and translated.throttling:
                self.budget.throttled(operation.name)
            self.metrics.request(
                operation.name, request_outcome(translated), time.perf_counter() - started
            )
            if translated is exc:
                raise
            raise translated from exc
        self.metrics.request(operation.name, OK, time.perf_counter() - started)
        if not isinstance(raw, Mapping):
            raise UnexpectedResponseError(f"{operation.name} returned {type(raw).__name__}")
        return raw

    async def get(
        self, kind: Kind[JobT], ref: JobRef[JobT], *, not_after: float, acquire: bool = True
    ) -> JobT:
        """Fetch one job (and its items from their own List, if the kind has one).

        Raises:
            Transient, NotFound, BudgetExhausted, OmicsWaiterError.
        """
        raw = await self.call(kind.get, kind.get_params(ref), not_after=not_after, acquire=acquire)
        job = kind.parse(raw, ref)
        kind.check_identity(ref, job)
        return job

    async def get_with_items(
        self, kind: Kind[JobT], ref: JobRef[JobT], *, not_after: float, acquire: bool = True
    ) -> JobT:
        """`get`, then the job's items from their own List (a run's tasks), all pages."""
        job = await self.get(kind, ref, not_after=not_after, acquire=acquire)
        listing = kind.item_listing
        if listing is None:
            return job
        items: list[Any] = []
        token: str | None = None
        while True:
            params = listing.params(ref) | {"maxResults": 100}
            if token is not None:
                params[listing.token_param] = token
            raw = await self.call(listing.operation, params, not_after=not_after)
            items.extend(
                listing.parse(item, ref)
                for item in _page(raw, listing.page_field, listing.operation.name)
            )
            token = _token(raw, listing.operation.name)
            if token is None:
                break
        return dataclasses.replace(job, tasks=tuple(items))  # type: ignore[type-var]

    async def list_page(
        self,
        listing: Listing,
        batch: tuple[str, ...],
        *,
        token: str | None = None,
        status: str | None = None,
        created_after: dt.datetime | None = None,
        max_results: int = 100,
        not_after: float = float("inf"),
        acquire: bool = True,
    ) -> tuple[list[Summary], str | None]:
        """One page of a kind's List, read; returns (summaries, next token)."""
        raw = await self._list(
            listing, batch, token, status, created_after, max_results, not_after, acquire
        )
        page = _page(raw, listing.page_field, listing.operation.name)
        return [listing.summary(item, batch) for item in page], _token(raw, listing.operation.name)

    async def _list(
        self,
        listing: Listing,
        batch: tuple[str, ...],
        token: str | None,
        status: str | None,
        created_after: dt.datetime | None,
        max_results: int,
        not_after: float,
        acquire: bool,
    ) -> Mapping[str, Any]:
        """One List request: the batch's parameters, the page token and the filters."""
        params: dict[str, Any] = listing.params(batch) | {"maxResults": max_results}
        if token is not None:
            params[listing.token_param] = token
        filter_: dict[str, Any] = {}
        if status is not None:
            if listing.status_param == "filter.status":
                filter_["status"] = status
            else:
                params["status"] = status
        if created_after is not None:
            filter_["createdAfter"] = created_after
        if filter_:
            params["filter"] = filter_
        return await self.call(listing.operation, params, not_after=not_after, acquire=acquire)

    async def list_activation_jobs(
        self,
        sequence_store_id: str,
        *,
        status: ActivationJobStatus | None = None,
        created_after: dt.datetime | None = None,
        next_token: str | None = None,
        max_results: int = 100,
        not_after: float = float("inf"),
    ) -> tuple[list[ActivationJobSummary], str | None]:
        """One page of ListReadSetActivationJobs, parsed; returns (jobs, next token)."""
        listing = ACTIVATION_JOB.listing
        assert listing is not None
        raw = await self._list(
            listing,
            (sequence_store_id,),
            next_token,
            None if status is None else status.value,
            created_after,
            max_results,
            not_after,
            True,
        )
        items = _page(raw, listing.page_field, listing.operation.name)
        return [parse_summary(item) for item in items], _token(raw, listing.operation.name)

    async def start_activation_job(
        self,
        sequence_store_id: str,
        read_set_ids: Sequence[str],
        *,
        client_token: str | None = None,
        not_after: float = float("inf"),
    ) -> ActivationJobSummary:
        """StartReadSetActivationJob; returns the new (or, for a reused token, existing) job."""
        params: dict[str, Any] = {
            "sequenceStoreId": sequence_store_id,
            "sources": [{"readSetId": r} for r in read_set_ids],
        }
        if client_token is not None:
            params["clientToken"] = client_token
        raw = await self.call(START_ACTIVATION_JOB, params, not_after=not_after)
        return parse_summary(raw)


def _page(raw: Mapping[str, Any], field: str, operation: str) -> list[Any]:
    items = raw.get(field, [])
    if items is None:
        return []
    if not isinstance(items, list):
        raise UnexpectedResponseError(f"{operation} returned a malformed page")
    return items


def _token(raw: Mapping[str, Any], operation: str) -> str | None:
    token = raw.get("nextToken")
    if token is not None and not isinstance(token, str):
        raise UnexpectedResponseError(f"{operation} returned a malformed nextToken")
    return token or None


# -- Making clients ----------------------------------------------------------------------


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


def trio_http_session() -> type:
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


@functools.cache
def _warms_up_loader() -> bool:
    """Whether aiobotocore's ``AioConfig`` can warm the loader caches off the loop (3.7+)."""
    from aiobotocore.config import AioConfig

    return "warm_up_loader_caches" in inspect.signature(AioConfig).parameters


@contextlib.asynccontextmanager
async def open_omics_client(
    *,
    session: object | None = None,
    region_name: str | None,
    endpoint_url: str | None,
    profile_name: str | None,
    aws_access_key_id: str | None,
    aws_secret_access_key: str | None,
    aws_session_token: str | None,
    connect_timeout: float,
    read_timeout: float,
    verify: bool | str | None = None,
    config: object | None = None,
) -> AsyncIterator[Any]:
    """An aiobotocore Omics client as the waiter wants it, closed on exit.

    The client's own retries are off (the waiter retries, within its budget); host-prefix
    injection is off for any endpoint but AWS's own; timestamps are parsed by
    `parse_timestamp`; on trio, the httpx transport is used. `session` is a caller's
    aiobotocore ``AioSession`` (e.g. with assume-role credentials): its credentials, Region and
    configured endpoint are used; ``profile_name`` must then be None. The session's other
    clients keep botocore's timestamp parser.

    `verify` goes to botocore as it is. `config`, a caller's botocore ``Config`` (proxies,
    ``user_agent_extra``, pool size ...), is layered: `connect_timeout` and `read_timeout`
    first, then every option `config` sets (its timeouts too), then what the waiter depends
    on, which always wins: retries off, host-prefix injection, the trio transport, and the
    loader caches warmed in a worker thread (aiobotocore 3.7 and later): reading the service
    model's JSON would otherwise block the event loop for about 0.1-0.2 s per client.
    """
    import aiobotocore.session
    from aiobotocore.parsers import AioResponseParserFactory

    ours: dict[str, Any] = {}
    if running_on_trio():
        ours["http_session_cls"] = trio_http_session()
    check_session(session, profile_name)
    check_client_options(verify, config)
    if _warms_up_loader():
        ours["warm_up_loader_caches"] = True
    with setup_errors(profile_name, region_name):
        if session is None:
            session = aiobotocore.session.AioSession(profile=profile_name)
        assert isinstance(session, aiobotocore.session.AioSession)
        # Host prefixes ("control-storage-") belong to AWS's own endpoints: on any other
        # endpoint they would make every request go to a host that does not exist.
        custom_endpoint = endpoint_url is not None or _configured_endpoint(session)
        merged = layered_config(
            {"connect_timeout": connect_timeout, "read_timeout": read_timeout},
            config,
            {"inject_host_prefix": not custom_endpoint, **ours},
        )
        maker = session.create_client(
            "omics",
            region_name=region_name,
            endpoint_url=endpoint_url,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            verify=verify,
            config=merged,
        )
        # The parsers are a component of the session, which the client takes when it is
        # made: lend the session fast ones for that moment only, so that the caller's
        # session (and its other clients) are left as they were.
        fast = AioResponseParserFactory()
        fast.set_parser_defaults(timestamp_parser=parse_timestamp)
        parsers = session.get_component("response_parser_factory")
        session.register_component("response_parser_factory", fast)
        try:
            client = await maker.__aenter__()
        finally:
            session.register_component("response_parser_factory", parsers)
    try:
        yield client
    finally:
        await maker.__aexit__(None, None, None)
