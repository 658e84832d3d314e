"""`OmicsEmulator`: a local HealthOmics endpoint for read set activation jobs.

An aiohttp server speaking the service's rest-json wire protocol. Each API request goes through,
in order: signature check, request quota, injected faults, validation, the operation. Job state
is computed lazily from the emulator clock, so the server runs no background tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import math
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from aiohttp import web

from omics_waiter.testing._errors import ApiError
from omics_waiter.testing._faults import Faults, FaultSchedule, Outcome, Quota, decide
from omics_waiter.testing._jobs import JobSnapshot, Step
from omics_waiter.testing._sigv4 import Credentials, verify
from omics_waiter.testing._stats import EmulatorStats
from omics_waiter.testing._store import IdempotencyMismatchError, InvalidTokenError, JobStore
from omics_waiter.testing._wire import (
    get_body,
    list_item,
    parse_get,
    parse_list,
    parse_start,
    start_body,
    validate_id,
)

__all__ = ["OmicsEmulator"]

_STATS_PATH = "/_emulator/stats"
_UNKNOWN = "Unknown"
_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"/sequencestore/([^/]+)/activationjob"), "StartReadSetActivationJob"),
    ("GET", re.compile(r"/sequencestore/([^/]+)/activationjob/([^/]+)"), "GetReadSetActivationJob"),
    ("POST", re.compile(r"/sequencestore/([^/]+)/activationjobs"), "ListReadSetActivationJobs"),
)
_ERROR_MESSAGES = {
    "InternalServerException": "An internal error occurred. Try the request again.",
    "ServiceQuotaExceededException": "The request exceeds a service quota.",
    "AccessDeniedException": "You do not have sufficient access to perform this action.",
    "RequestTimeoutException": "The request timed out.",
    "ThrottlingException": "Rate exceeded",
}


class _Dropped(Exception):
    """The connection was closed without a response."""


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")


class OmicsEmulator:
    """A local HealthOmics endpoint for the read set activation job operations.

    Use it as an async context manager; ``endpoint_url`` is valid inside the block::

        async with OmicsEmulator(job_seconds=(0.2, 0.5)) as emu:
            client = session.create_client("omics", endpoint_url=emu.endpoint_url, ...)

    Args:
        host: Interface to listen on.
        port: Port to listen on; 0 picks a free one.
        access_key: The only access key accepted.
        secret_key: Its secret key; signatures are verified against it.
        session_token: If set, requests must carry it as ``X-Amz-Security-Token``.
        seed: Seeds every random choice (job IDs, life cycles, faults), so runs repeat.
        job_seconds: Range of durations of randomly scheduled jobs, in seconds.
        failure_rate: Probability that each read set of a random job fails.
        visibility_delay: Seconds after StartReadSetActivationJob during which Get and List do
            not see the new job yet (eventual consistency).
        quota_tps: Requests per second allowed per operation (token bucket holding
            max(1, quota_tps)); excess requests get 429 ThrottlingException. None: no quota.
        faults: The initial fault settings.
        clock: The emulator clock (seconds); job life cycles, fault windows and the quota run on
            it. Wire timestamps are wall-clock times that advance with it.

    Raises:
        ValueError: An option is out of range.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        access_key: str = "testing",
        secret_key: str = "testing",
        session_token: str | None = None,
        seed: int = 0,
        job_seconds: tuple[float, float] = (1.0, 3.0),
        failure_rate: float = 0.0,
        visibility_delay: float = 0.0,
        quota_tps: float | None = None,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {port!r}")
        if not access_key or not secret_key:
            raise ValueError("access_key and secret_key must not be empty")
        low, high = job_seconds
        if not (0.0 <= low <= high and math.isfinite(high)):
            raise ValueError(
                f"job_seconds must be (min, max) with 0 <= min <= max, got {job_seconds!r}"
            )
        _check_rate("failure_rate", failure_rate)
        if not (visibility_delay >= 0.0 and math.isfinite(visibility_delay)):
            raise ValueError(f"visibility_delay must be >= 0 seconds, got {visibility_delay!r}")
        self._host = host
        self._port = port
        self._credentials = Credentials(access_key, secret_key, session_token)
        self._visibility_delay = visibility_delay
        self._clock = clock
        self._clock_zero = clock()
        self._wall_zero = time.time()
        self._quota = None if quota_tps is None else Quota(quota_tps, clock)
        self._faults = FaultSchedule(faults or Faults(), clock)
        # Separate streams, so that faults drawn do not change the jobs drawn and vice versa.
        self._fault_rng = random.Random(f"{seed}:faults")
        self._request_ids = random.Random(f"{seed}:request-ids")
        self._jobs = JobStore(
            rng=random.Random(f"{seed}:jobs"),
            job_seconds=(float(low), float(high)),
            failure_rate=failure_rate,
            epoch_ms=self._epoch_ms,
            token_key=f"omics-emulator:{seed}".encode(),
        )
        self._stats = EmulatorStats()
        self._runner: web.AppRunner | None = None
        self._endpoint_url: str | None = None
        self._closing = asyncio.Event()

    # -- life cycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> OmicsEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start listening. Prefer ``async with``.

        Raises:
            RuntimeError: Already started.
            OSError: The address is not available.
        """
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=1024**2)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port = runner.addresses[0][1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._endpoint_url = f"http://{host}:{port}"

    async def aclose(self) -> None:
        """Stop listening; held-back (slow) responses are released first. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._closing.set()
        await runner.cleanup()

    @property
    def endpoint_url(self) -> str:
        """``http://HOST:PORT`` of the running emulator.

        Raises:
            RuntimeError: The emulator is not running.
        """
        if self._endpoint_url is None or self._runner is None:
            raise RuntimeError("the emulator is not running; use `async with OmicsEmulator()`")
        return self._endpoint_url

    # -- test API -----------------------------------------------------------------------------

    @property
    def stats(self) -> EmulatorStats:
        """Request counters by operation and HTTP status."""
        return self._stats

    def add_job(
        self,
        sequence_store_id: str,
        read_set_ids: Sequence[str],
        *,
        timeline: Sequence[Step] | None = None,
        visible_after: float = 0.0,
    ) -> str:
        """Create a job directly, without a request.

        Args:
            sequence_store_id: The job's sequence store (10-36 digits).
            read_set_ids: Its sources (1-20 IDs of 10-36 digits).
            timeline: A scripted life cycle; None draws a random one, as for jobs started over
                HTTP. A scripted job starts SUBMITTED with every source NOT_STARTED.
            visible_after: Seconds during which Get and List act as if the job did not exist.

        Returns:
            The job ID.

        Raises:
            ValueError: An ID or the number of sources breaks the model's constraints, or the
                timeline names read sets that are not in the job.
            TypeError: ``read_set_ids`` is a single string.
        """
        if isinstance(read_set_ids, str):
            raise TypeError("read_set_ids must be a sequence of IDs, not a single string")
        validate_id(sequence_store_id, "sequence_store_id")
        if not 1 <= len(read_set_ids) <= 20:
            raise ValueError(f"read_set_ids must hold 1 to 20 IDs, got {len(read_set_ids)}")
        for read_set_id in read_set_ids:
            validate_id(read_set_id, "read_set_ids")
        job, _ = self._jobs.create(
            sequence_store_id,
            read_set_ids,
            now=self._clock(),
            timeline=timeline,
            visible_after=visible_after,
        )
        return job.id

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault settings from now on (an open `faults_window` still overrides)."""
        self._faults.set_base(faults)

    @contextlib.contextmanager
    def faults_window(self, faults: Faults, duration: float | None = None) -> Iterator[None]:
        """Apply ``faults`` from entry until exit, or until ``duration`` seconds have passed.

        Args:
            faults: The settings in force inside the window.
            duration: Emulator-clock seconds after which the window closes by itself; None
                keeps it open until exit.
        """
        if duration is not None and not duration >= 0.0:
            raise ValueError(f"duration must be >= 0 seconds, got {duration!r}")
        handle = self._faults.open_window(faults, math.inf if duration is None else duration)
        try:
            yield
        finally:
            self._faults.close_window(handle)

    def completion_time(self, job_id: str) -> float | None:
        """The emulator-clock time at which the job became terminal, or None if not yet.

        Raises:
            KeyError: No such job.
        """
        return self._jobs.by_id(job_id).snapshot(self._clock()).completion_time

    def job_state(self, sequence_store_id: str, job_id: str) -> dict[str, Any]:
        """The GetReadSetActivationJob response body as of now, ignoring faults and visibility.

        Raises:
            KeyError: No such job in this store.
        """
        job = self._jobs.find(sequence_store_id, job_id)
        if job is None:
            raise KeyError(job_id)
        return self._get_body(job.snapshot(self._clock()))

    # -- HTTP ---------------------------------------------------------------------------------

    def _epoch_ms(self, clock_time: float) -> int:
        return math.floor((self._wall_zero + clock_time - self._clock_zero) * 1000)

    def _get_body(self, snapshot: JobSnapshot) -> dict[str, Any]:
        completed = snapshot.completion_time
        return get_body(
            snapshot,
            self._epoch_ms(snapshot.creation_time),
            None if completed is None else self._epoch_ms(completed),
        )

    def _json(self, payload: object, status: int = 200) -> web.Response:
        return web.Response(
            status=status,
            body=json.dumps(payload, separators=(",", ":")).encode(),
            content_type="application/json",
            headers={"x-amzn-RequestId": self._request_id()},
        )

    def _request_id(self) -> str:
        return str(uuid.UUID(int=self._request_ids.getrandbits(128), version=4))

    def _error(self, error: ApiError) -> web.Response:
        response = self._json({"message": error.message}, status=error.status)
        response.headers["x-amzn-ErrorType"] = error.code
        return response

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == _STATS_PATH and request.method == "GET":
            return self._json({"requests": self._stats.requests})
        operation, params = _route(request.method, request.path)
        try:
            response = await self._answer(request, operation, params)
        except _Dropped:
            self._stats.record(operation, "dropped")
            return web.Response()  # never sent: the transport is closed
        self._stats.record(operation, response.status)
        return response

    async def _answer(
        self, request: web.Request, operation: str, params: tuple[str, ...]
    ) -> web.Response:
        try:
            return await self._process(request, operation, params)
        except ApiError as error:
            return self._error(error)

    async def _process(
        self, request: web.Request, operation: str, params: tuple[str, ...]
    ) -> web.Response:
        body = await request.read()
        headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        verify(
            method=request.method,
            target=request.raw_path,
            headers=headers,
            body=body,
            credentials=self._credentials,
            now=datetime.datetime.now(datetime.timezone.utc),
        )
        if operation == _UNKNOWN:
            raise ApiError(
                "UnknownOperationException",
                f"No operation matches {request.method} {request.path}",
            )
        if self._quota is not None and not self._quota.admit(operation):
            raise ApiError("ThrottlingException", _ERROR_MESSAGES["ThrottlingException"])
        faults = self._faults.current()
        decision = decide(faults, self._fault_rng, operation)
        if decision.delay > 0.0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closing.wait(), decision.delay)
        if decision.outcome is Outcome.THROTTLE:
            raise ApiError("ThrottlingException", _ERROR_MESSAGES["ThrottlingException"])
        if decision.outcome is Outcome.ERROR:
            code = faults.error_code
            raise ApiError(code, _ERROR_MESSAGES.get(code, "Injected error."))
        if decision.outcome is Outcome.DROP:
            if request.transport is not None:
                request.transport.close()
            raise _Dropped
        if decision.outcome is Outcome.MALFORMED:
            return self._malformed(operation)
        return self._operate(operation, params, request.query, body)

    def _malformed(self, operation: str) -> web.Response:
        choice = self._fault_rng.randrange(3)
        if choice == 0:
            body = b'{"id": "12345'  # cut short
        elif choice == 1:
            body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        elif operation == "ListReadSetActivationJobs":
            body = b'{"activationJobs": [{"status": "COMPLETED"}]}'
        else:
            body = b'{"message": "OK"}'
        return web.Response(
            status=200,
            body=body,
            content_type="application/json",
            headers={"x-amzn-RequestId": self._request_id()},
        )

    def _operate(
        self, operation: str, params: tuple[str, ...], query: Mapping[str, str], body: bytes
    ) -> web.Response:
        now = self._clock()
        if operation == "StartReadSetActivationJob":
            start = parse_start(params[0], body)
            try:
                job, _ = self._jobs.create(
                    start.sequence_store_id,
                    start.read_set_ids,
                    now=now,
                    visible_after=self._visibility_delay,
                    client_token=start.client_token,
                )
            except IdempotencyMismatchError:
                raise ApiError(
                    "ValidationException",
                    "The client token was already used with a different request.",
                ) from None
            snapshot = job.snapshot(now)
            return self._json(start_body(snapshot, self._epoch_ms(snapshot.creation_time)))
        if operation == "GetReadSetActivationJob":
            get = parse_get(params[0], params[1])
            found = self._jobs.find(get.sequence_store_id, get.job_id)
            if found is None or not found.visible(now):
                raise ApiError(
                    "ResourceNotFoundException",
                    f"Read set activation job {get.job_id} was not found in sequence store "
                    f"{get.sequence_store_id}.",
                )
            return self._json(self._get_body(found.snapshot(now)))
        listing = parse_list(params[0], query, body)
        try:
            page, token = self._jobs.page(
                listing.sequence_store_id,
                now=now,
                flt=listing.filter,
                max_results=listing.max_results,
                next_token=listing.next_token,
            )
        except InvalidTokenError:
            raise ApiError("ValidationException", "The pagination token is invalid.") from None
        items = []
        for snapshot in page:
            completed = snapshot.completion_time
            items.append(
                list_item(
                    snapshot,
                    self._epoch_ms(snapshot.creation_time),
                    None if completed is None else self._epoch_ms(completed),
                )
            )
        payload: dict[str, Any] = {"activationJobs": items}
        if token is not None:
            payload["nextToken"] = token
        return self._json(payload)


def _route(method: str, path: str) -> tuple[str, tuple[str, ...]]:
    for route_method, pattern, operation in _ROUTES:
        match = pattern.fullmatch(path)
        if match and method == route_method:
            return operation, match.groups()
    return _UNKNOWN, ()
